/* Internal structures of the runtime semantics (tasks, regions, cancellation, obligations) and
 * the driver seam. Not public API: only runtime/src/ sources and the runtime's own tests include it. */
#ifndef ASX_RT_INTERNAL_H
#define ASX_RT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/runtime.h"
#include "ll/ctx.h"
#include "ll/injectq.h"
#include "ll/stack.h"
#include "ll/timerheap.h"

/* ASan: memory parked in a per-worker cache is poisoned so a stale use is still reported. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ASAN 1
#endif
#endif
#if !defined(RT_ASAN) && defined(__SANITIZE_ADDRESS__)
#define RT_ASAN 1
#endif
#ifdef RT_ASAN
#include <sanitizer/asan_interface.h>
#define RT_POISON(p, n) __asan_poison_memory_region((p), (n))
#define RT_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define RT_POISON(p, n) ((void)(p), (void)(n))
#define RT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define RT_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- Intrusive circular doubly-linked list (head is a sentinel) ---- */
typedef struct rt_link {
  struct rt_link *prev, *next;
} rt_link;

static inline void rt_list_init(rt_link *h) { h->prev = h->next = h; }
static inline bool rt_list_empty(const rt_link *h) { return h->next == h; }
static inline void rt_list_push_back(rt_link *h, rt_link *n) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}
static inline void rt_list_push_front(rt_link *h, rt_link *n) {
  n->next = h->next;
  n->prev = h;
  h->next->prev = n;
  h->next = n;
}
static inline void rt_list_remove(rt_link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}
static inline bool rt_linked(const rt_link *n) { return n->next != n; }

/* ---- Task state machine (see docs/runtime.md, "No lost wakeups") ----
 * IDLE -> SCHEDULED  by a waker (it alone then queues the task)
 * SCHEDULED -> RUNNING by the worker that dequeued it
 * RUNNING -> NOTIFIED  by a waker while the task runs (the worker re-queues it after it blocks)
 * RUNNING/NOTIFIED -> IDLE|SCHEDULED by the worker, AFTER the task's stack is switched out
 * -> DONE by the worker once the task's body has ended. */
enum { TS_IDLE = 0, TS_SCHEDULED, TS_RUNNING, TS_NOTIFIED, TS_DONE };

/* Why a task switched back to its worker. */
enum {
  SW_YIELD = 1,
  SW_BLOCK,
  SW_DONE,
  SW_QUEUED,        /* already requeued by its yield fast path */
  SW_DONE_COMPLETED /* ended, and already did rt_task_complete's locked part on its own stack */
};

/* What the driver is asked to queue. */
typedef enum { RT_READY_SPAWN, RT_READY_WAKE, RT_READY_YIELD } rt_ready_kind;

/* The scheduler side of one worker; drivers embed it first in their own worker struct. */
typedef struct rt_worker {
  asx_runtime *rt;
  asx_ctx sched_ctx;       /* the worker thread's own stack */
  struct asx_task *current;
  unsigned index;
  uint64_t switches;       /* owner-only counter, folded into stats at the end of a run */
  /* Default-size stacks of finished tasks, reused by tasks spawned on this worker without the
   * pool's lock (owner-only); given back to the pool when the worker stops. */
  asx_stack stacks[8];
  unsigned nstacks;
  /* Task structs whose last reference was dropped on this worker, reused by spawns on it without
   * the allocator (owner-only, bounded); freed when the worker stops. */
  struct asx_task *tasks[32];
  unsigned ntasks;
  /* A task that blocked by switching straight to another task (rt_switch_out's fast path): its
   * RUNNING -> IDLE step is still due, and the task that now runs does it first (rt_after_switch),
   * once the blocked task's stack is no longer in use. Owner-only. */
  struct asx_task *pending_block;
  /* A task that ended by switching straight to another task (rt_task_exit_switch): its stack and
   * its last runtime reference are released by the task that now runs (rt_after_switch). */
  struct asx_task *pending_done;
} rt_worker;

/* Worker side: gives the worker's cached stacks back to the pool and frees its cached task
 * structs (end of a run). */
void rt_worker_flush_stacks(rt_worker *w);

/* A timer armed in the driver. fire() runs with the driver's timer lock held, so once
 * timer_disarm returns no fire is in progress and the timer's memory may go away. */
typedef struct rt_timer {
  asx_timer_node node;     /* node.deadline = absolute runtime time */
  void (*fire)(struct rt_timer *tm, rt_worker *w);
  struct asx_task *task;
  bool armed;
  bool fired;
} rt_timer;

/* The driver seam: the scheduler reaches the clock, timers, idle wait/wake, randomness and the
 * next-task choice only through these. The driver owns the run loop and calls rt_run_task. */
typedef struct rt_driver_ops {
  const char *name;
  int (*init)(asx_runtime *rt, void **state);
  void (*destroy)(void *state);
  /* Runs the workers (the calling thread is worker 0) until rt_driver_stop. 0 or ASX_ESTATE. */
  int (*run)(void *state);
  /* A task is about to be spawned: reserve what ready() will need (0 or ASX_ENOMEM). May be NULL. */
  int (*admit)(void *state);
  /* Queue a SCHEDULED task. w = the calling worker, NULL from a foreign thread. Never fails. */
  void (*ready)(void *state, rt_worker *w, struct asx_task *t, rt_ready_kind kind);
  uint64_t (*now)(void *state);
  uint64_t (*random)(void *state, rt_worker *w);
  int (*timer_arm)(void *state, rt_timer *tm); /* 0 or ASX_ENOMEM */
  void (*timer_disarm)(void *state, rt_timer *tm);
  /* Every task has ended: make run() return. */
  void (*stop)(void *state);
  /* Task side, may be NULL: t (RUNNING on w) yields. Returns false if the driver leaves it to the
   * ordinary switch through the scheduler context. Returns true once t is queued (SCHEDULED) where
   * only w's own thread can take it; *next is then the task w runs next, already dequeued
   * (possibly t itself), or NULL (switch out with SW_QUEUED). Lets a yield switch task-to-task. */
  bool (*yield_next)(void *state, rt_worker *w, struct asx_task *t, struct asx_task **next);
  /* Task side, may be NULL: a task RUNNING on w is about to block. Returns the task w runs next,
   * already dequeued (SCHEDULED), or NULL to leave it to the ordinary switch (nothing local to
   * run, or not a safe moment). Lets a blocking task switch task-to-task. */
  struct asx_task *(*block_next)(void *state, rt_worker *w);
  /* Reserved for net/: I/O readiness registration and polling (NULL until epoll lands). */
  void *io_register;
  void *io_poll;
} rt_driver_ops;

extern const rt_driver_ops rt_driver_threads;
extern const rt_driver_ops rt_driver_det;

struct asx_cx {
  struct asx_task *task;
};

struct asx_task {
  asx_cx cx;
  _Atomic int state;
  int switch_reason;
  rt_worker *worker;         /* re-read after every switch: tasks migrate */
  asx_ctx ctx;
  asx_stack stack;
  asx_qnode qnode;           /* for the driver's queues */
  rt_link lane_link;         /* threads driver: the timed (earliest-deadline-first) lane */
  asx_runtime *rt;
  asx_region *region;
  uint64_t id;
  const char *name;
  asx_task_fn fn;
  void *arg;
  /* End state (written by the task before its last switch, read after DONE under tree_lock). */
  int rc;
  asx_outcome outcome;
  bool panicked;
  bool done_last;            /* SW_DONE_COMPLETED: it was the last live task (stop the driver) */
  /* Cancellation: written under tree_lock, read lock-free by the task. */
  _Atomic int cancel_kind;
  _Atomic uint64_t cancel_deadline;
  int mask;
  /* Budget: the task's own copy, touched only by the task. */
  asx_budget budget;
  uint32_t polls;
  /* Cleanup watchdog: armed at the cleanup deadline when cancellation is requested, so a task
   * still draining at its deadline is reported while it runs (not only when it ends). */
  rt_timer cleanup_timer;    /* armed/re-armed under tree_lock while !done */
  bool watch_armed;          /* tree_lock: cleanup_timer was armed at least once */
  _Atomic bool overrun_reported;
  rt_link obligations;       /* touched only by the task */
  struct asx_obligation *ob_cache[4]; /* freed tokens kept for reuse (owner-only, no lock) */
  unsigned nob_cache;
  rt_link owned_regions;     /* regions this task opened and has not closed (tree_lock) */
  rt_link region_link;       /* in region->tasks (tree_lock) */
  bool done;                 /* tree_lock */
  struct asx_task *joiner;   /* tree_lock */
  _Atomic int refs;          /* 1 while live in its region + 1 per handle */
};

typedef struct rt_finalizer {
  void (*fn)(void *arg);
  void *arg;
} rt_finalizer;

struct asx_region {
  asx_runtime *rt;
  asx_region *parent;
  uint64_t id;
  const char *name;
  /* Everything below is protected by rt->tree_lock. */
  asx_region_state state;
  asx_region_policy policy;
  bool propagate;
  asx_budget budget;
  asx_cancel_kind cancel_kind;
  uint64_t cancel_deadline;
  rt_link tasks;             /* live tasks */
  rt_link children;          /* open child regions */
  rt_link sibling;           /* in parent->children */
  rt_link owner_link;        /* in owner->owned_regions */
  size_t ntasks, nchildren;
  asx_outcome outcome;
  struct asx_task *owner;    /* NULL for the root region */
  struct asx_task *closer;   /* the owner while it waits in close */
  rt_finalizer *fin;
  size_t nfin, capfin;
  struct rt_region_block *blocks; /* asx_region_alloc memory, freed after the finalizers */
};

typedef struct rt_region_block {
  struct rt_region_block *next;
  max_align_t data[];
} rt_region_block;

struct asx_obligation {
  rt_link link;              /* in owner->obligations */
  struct asx_task *owner;
  const char *kind;
  const char *file;
  int line;
  void (*abort_fn)(void *arg);
  void *abort_arg;
};

struct asx_runtime {
  asx_runtime_config cfg;
  const asx_allocator *alloc;
  const rt_driver_ops *drv;
  void *drv_state;
  asx_stack_pool *stacks;
  pthread_mutex_t tree_lock; /* the region tree, task membership, cancellation marks */
  asx_region *root;
  _Atomic uint64_t next_id; /* tree_lock */
  bool running;
  /* deterministic driver choices */
  asx_choice *choices;
  size_t nchoices, capchoices;
  /* counters */
  _Atomic uint64_t live_tasks, live_regions, unresolved; /* live_*: changed under tree_lock */
  _Atomic uint64_t spawned, regions_opened, obligation_leaks, region_leaks, overruns, panics;
  _Atomic uint64_t cancels, deadlocks, switches, steals, parks, sched_violations;
};

/* Counters that only change under tree_lock: a relaxed load + store (no locked RMW on the spawn
 * path); readers outside the lock see a consistent, possibly stale value. */
static inline uint64_t rt_counter_add(_Atomic uint64_t *c, int64_t delta) {
  uint64_t v = atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)delta;
  atomic_store_explicit(c, v, memory_order_relaxed);
  return v;
}

/* asx_budget_combine, inline for the spawn path: the out-of-line call returns the struct through
 * memory with narrower stores than the caller's wide reload (a store-forwarding stall that perf
 * put at ~5% of a spawn+join). */
static inline asx_budget rt_budget_combine(asx_budget p, asx_budget c) {
  asx_budget b;
  b.deadline_ns = c.deadline_ns < p.deadline_ns ? c.deadline_ns : p.deadline_ns;
  b.poll_quota = c.poll_quota < p.poll_quota ? c.poll_quota : p.poll_quota;
  b.cost_quota = c.cost_quota < p.cost_quota ? c.cost_quota : p.cost_quota;
  b.priority = c.priority > p.priority ? c.priority : p.priority;
  return b;
}

/* ---- runtime.c ---- */
void rt_trace(asx_runtime *rt, const asx_trace_event *ev);
/* Fills the common fields of an event (time, ids). */
asx_trace_event rt_event(asx_runtime *rt, asx_trace_type type, const struct asx_task *t,
                         const asx_region *r);
uint64_t rt_now(asx_runtime *rt);
uint64_t rt_cleanup_budget(asx_runtime *rt, asx_cancel_kind k);
/* Deterministic driver: append one choice to the record (drops it silently on ENOMEM). */
void rt_record_choice(asx_runtime *rt, uint32_t ready, uint32_t index, uint64_t task_id);

/* ---- sched.c ---- */
/* Wakes t (no-op unless it is idle or running); w = calling worker or NULL. */
void rt_wake(struct asx_task *t, rt_worker *w);
/* Worker side: runs t until it yields, blocks or ends, then applies the state transition. */
void rt_run_task(rt_worker *w, struct asx_task *t);
/* Task side: switch to the worker; returns when resumed (maybe on another worker). */
void rt_switch_out(struct asx_task *t, int reason);
/* Worker side: the RUNNING -> IDLE (or re-queue if NOTIFIED) step of a task that blocked. */
void rt_block_finish(rt_worker *w, struct asx_task *t);
/* Worker side: finishes a direct block or a direct exit that handed w over (see rt_worker). */
void rt_after_switch_pending(rt_worker *w);
/* Runs first wherever a task resumes after a switch. */
static inline void rt_after_switch(rt_worker *w) {
  if (w->pending_block || w->pending_done) rt_after_switch_pending(w);
}
/* Task side, the end of task_exit: completes t and switches away for good, straight to the next
 * local task when the driver allows it. */
_Noreturn void rt_task_exit_switch(struct asx_task *t);
/* Task side: a yield (requeue t, run others, come back); switches straight to the next task when
 * the driver allows it. */
void rt_yield(struct asx_task *t);
/* Task side: parks until woken, the absolute time `until` (ASX_UNLIMITED = none) or the budget
 * deadline. Returns 0 (woken; may be spurious: re-check the condition), ASX_ETIMEDOUT (until
 * reached), ASX_ECANCELED (cancellation observable, before or after parking), ASX_ENOMEM. */
int rt_wait(struct asx_task *t, uint64_t until);
/* Task side: parks until woken, ignoring cancellation (region close). */
void rt_wait_uninterruptible(struct asx_task *t);
/* True when the task must observe a cancellation now (requested and not masked). */
static inline bool rt_cancel_observable(struct asx_task *t) {
  return t->mask == 0 && atomic_load_explicit(&t->cancel_kind, memory_order_acquire) != 0;
}
/* rt_wait(t, ASX_UNLIMITED), with its common case (no budget deadline to arm a timer for) inline:
 * one call frame less, i.e. one return less for the CPU to mispredict after the switch back. */
static inline int rt_wait_unlimited(struct asx_task *t);
/* Called by the driver when a task ended on worker w (its stack is already switched out). */
void rt_task_complete(struct asx_task *t, rt_worker *w);
/* Every task has ended. */
void rt_driver_stop(asx_runtime *rt);

/* ---- task.c ---- */
int rt_spawn(asx_runtime *rt, asx_task *parent_task, asx_region *r, asx_task_fn fn, void *arg,
             const asx_spawn_opts *opts, asx_task **handle, rt_worker *w);
/* Drops one reference; the last one frees t, into w's cache when w is the calling thread's own
 * worker of t's runtime (NULL: straight to the allocator). */
void rt_task_unref(struct asx_task *t, rt_worker *w);
/* Task side: one checkpoint (poll quota, deadline, forced yield every poll_budget, cancellation).
 * Every blocking call starts with one, so even calls that never block keep the task cooperative. */
int rt_checkpoint(struct asx_task *t, bool force_yield);
/* Task side: budget deadline / quota exhausted: request cancellation of the task itself. */
void rt_budget_exhausted(struct asx_task *t, asx_cancel_kind k);

/* ---- region.c ---- */
int rt_region_new(asx_runtime *rt, asx_region *parent, struct asx_task *owner,
                  const asx_region_opts *opts, asx_region **out);
/* Runs finalizers, folds the outcome into the parent, frees r. Caller: not holding tree_lock. */
void rt_region_finalize(asx_region *r, rt_worker *w);
/* tree_lock held. */
void rt_cancel_region_locked(asx_region *r, asx_cancel_kind k, uint64_t deadline, rt_worker *w);
void rt_cancel_task_locked(struct asx_task *t, asx_cancel_kind k, uint64_t deadline, bool owned,
                           rt_worker *w);

/* tree_lock held: (re)arms t's cleanup watchdog at `deadline`. */
void rt_cleanup_watch(struct asx_task *t, uint64_t deadline);

/* ---- oblig.c ---- */
/* Task end: reports, counts and aborts every obligation the task still holds. */
void rt_obligations_leaked(struct asx_task *t);
/* Task end: frees the task's cache of resolved tokens. */
void rt_obligation_cache_free(struct asx_task *t);

/* A task waiting in a primitive's queue (lives on the waiting task's stack; protected by the
 * primitive's lock). `granted` = the waker handed the resource over before waking it. */
typedef struct rt_waiter {
  rt_link link;
  struct asx_task *task;
  bool granted;
} rt_waiter;

/* w = the calling worker (NULL from a foreign thread). */
/* Under the primitive's lock: dequeues the first waiter, marks it granted and wakes it. */
static inline bool rt_waiters_grant_one(rt_link *q, rt_worker *w) {
  if (rt_list_empty(q)) return false;
  rt_waiter *wt = RT_CONTAINER_OF(q->next, rt_waiter, link);
  rt_list_remove(&wt->link);
  wt->granted = true;
  rt_wake(wt->task, w);
  return true;
}

/* Under the primitive's lock: wakes every waiter without granting anything. */
static inline void rt_waiters_wake_all(rt_link *q, rt_worker *w) {
  while (!rt_list_empty(q)) {
    rt_waiter *wt = RT_CONTAINER_OF(q->next, rt_waiter, link);
    rt_list_remove(&wt->link);
    rt_wake(wt->task, w);
  }
}

static inline rt_worker *rt_cur_worker(asx_cx *cx) { return cx->task->worker; }

/* The block fast path: hand the worker straight to the next local task, which finishes t's
 * RUNNING -> IDLE step once it runs (t's stack is then no longer in use, as the protocol needs).
 * Inline, with rt_block below, into every blocking call: no call frame between the blocking call
 * and the switch, so fewer returns for the CPU to mispredict after the switch back. */
static inline bool rt_block_direct(struct asx_task *t) {
  rt_worker *w = t->worker;
  asx_runtime *rt = t->rt;
  if (!rt->drv->block_next) return false;
  struct asx_task *n = rt->drv->block_next(rt->drv_state, w);
  if (!n) return false;
  if (atomic_load_explicit(&n->state, memory_order_relaxed) != TS_SCHEDULED) {
    atomic_fetch_add(&rt->sched_violations, 1); /* queued twice: never run it (see rt_run_task) */
    return false;
  }
  atomic_store_explicit(&n->state, TS_RUNNING, memory_order_release);
  n->worker = w;
  w->current = n;
  w->switches++;
  w->pending_block = t;
  asx_overflow_set_current(&n->stack, n->name ? n->name : "task");
  asx_ctx_switch_same_site(&t->ctx, &n->ctx); /* n most often blocked at this same call site */
  rt_after_switch(t->worker);
  return true;
}

/* Task side: rt_switch_out(t, SW_BLOCK). */
static inline void rt_block(struct asx_task *t) {
  t->switch_reason = SW_BLOCK;
  t->polls = 0; /* it yields the worker anyway */
  if (rt_block_direct(t)) return;
  asx_ctx_switch(&t->ctx, &t->worker->sched_ctx);
  rt_after_switch(t->worker);
}

static inline int rt_wait_unlimited(struct asx_task *t) {
  if (t->mask == 0 && t->budget.deadline_ns != ASX_UNLIMITED) return rt_wait(t, ASX_UNLIMITED);
  if (rt_cancel_observable(t)) return ASX_ECANCELED;
  rt_block(t);
  return rt_cancel_observable(t) ? ASX_ECANCELED : 0;
}

#endif

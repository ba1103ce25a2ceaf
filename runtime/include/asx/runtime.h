/* asx runtime: stackful tasks on a work-stealing scheduler, structured into regions, with
 * cancellation as a protocol (request -> drain -> finalize), obligations, budgets, and
 * cancel-correct primitives (sleep, join, race, timeout, channel, oneshot, mutex, semaphore).
 *
 * There is no ambient runtime: every task receives an `asx_cx *` (its capability context) and
 * passes it to every runtime call. A cx belongs to its task: never share it with another task or
 * thread. Functions documented "thread-safe" may be called from any thread. */
#ifndef ASX_RUNTIME_H
#define ASX_RUNTIME_H

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__cplusplus)
#define ASX_NORETURN [[noreturn]]
#else
#define ASX_NORETURN _Noreturn
#endif

typedef struct asx_runtime asx_runtime;
typedef struct asx_cx asx_cx;
typedef struct asx_region asx_region;
typedef struct asx_task asx_task;
typedef struct asx_obligation asx_obligation;

/* The body of a task. Return >= 0 (Ok; the value is kept for join), ASX_ECANCELED (Cancelled)
 * or another negative code (Err). */
typedef int (*asx_task_fn)(asx_cx *cx, void *arg);

/* ---- Outcomes: the lattice Ok < Err < Cancelled < Panicked ---- */
typedef enum asx_outcome {
  ASX_OUTCOME_OK = 0,
  ASX_OUTCOME_ERR = 1,
  ASX_OUTCOME_CANCELLED = 2,
  ASX_OUTCOME_PANICKED = 3
} asx_outcome;

/* Thread-safe, pure: the worse of two outcomes (lattice join). */
static inline asx_outcome asx_outcome_join(asx_outcome a, asx_outcome b) { return a > b ? a : b; }
/* Thread-safe, pure: "ok", "err", "cancelled", "panicked". */
const char *asx_outcome_name(asx_outcome o);

/* ---- Cancellation kinds, ordered by severity (higher value = more severe) ---- */
typedef enum asx_cancel_kind {
  ASX_CANCEL_NONE = 0,
  ASX_CANCEL_USER,
  ASX_CANCEL_TIMEOUT,
  ASX_CANCEL_DEADLINE,
  ASX_CANCEL_POLL_QUOTA,
  ASX_CANCEL_COST_BUDGET,
  ASX_CANCEL_FAIL_FAST,
  ASX_CANCEL_RACE_LOST,
  ASX_CANCEL_PARENT,               /* parent_cancelled: what descendants of a target receive */
  ASX_CANCEL_RESOURCE_UNAVAILABLE,
  ASX_CANCEL_SHUTDOWN,
  ASX_CANCEL_KIND_COUNT
} asx_cancel_kind;

/* Thread-safe, pure: severity rank (user 1, timeout/deadline 2, quotas 3, fail-fast/race-lost 4,
 * parent/resource 5, shutdown 6; none 0). A request only ever strengthens to a higher rank. */
int asx_cancel_severity(asx_cancel_kind k);
/* Thread-safe, pure: "user", "timeout", ..., "shutdown". */
const char *asx_cancel_kind_name(asx_cancel_kind k);

/* ---- Budgets ---- */
#define ASX_UNLIMITED UINT64_MAX
/* A value type. deadline is absolute in the runtime clock's nanoseconds (asx_now); ASX_UNLIMITED
 * means none. Quotas count down; ASX_UNLIMITED means no quota. */
typedef struct asx_budget {
  uint64_t deadline_ns;
  uint64_t poll_quota;  /* checkpoints the task may pass */
  uint64_t cost_quota;  /* units charged with asx_charge */
  int priority;         /* recorded and inherited (max); not yet used to order ready tasks */
} asx_budget;

/* Thread-safe, pure: the budget that imposes nothing (all unlimited, priority 0). */
asx_budget asx_budget_unlimited(void);
/* Thread-safe, pure: child combined with parent: min of deadline and quotas, max of priority. */
asx_budget asx_budget_combine(asx_budget parent, asx_budget child);

/* ---- Trace events (structured; the runtime itself never prints) ---- */
typedef enum asx_trace_type {
  ASX_TRACE_TASK_SPAWN,
  ASX_TRACE_TASK_END,        /* outcome in `outcome`, return code in `code` */
  ASX_TRACE_REGION_OPEN,
  ASX_TRACE_REGION_CLOSE,    /* outcome in `outcome` */
  ASX_TRACE_CANCEL,          /* a task or region received (or strengthened) a request: `kind` */
  ASX_TRACE_CLEANUP_OVERRUN, /* a cancelled task finished after its cleanup budget: `value` = ns over */
  ASX_TRACE_OBLIGATION_LEAK, /* task ended holding an obligation: `name` = kind, `file`:`line` = site */
  ASX_TRACE_PANIC,           /* `message` = panic message */
  ASX_TRACE_REGION_LEAK,     /* a task ended without closing a region it opened (auto-closed) */
  ASX_TRACE_DEADLOCK,        /* deterministic driver: nothing runnable, no timer, tasks blocked */
  ASX_TRACE_SCHED_CHOICE,    /* deterministic driver: `value` = index chosen, `code` = ready count */
  ASX_TRACE_USER,            /* asx_trace_user: `message`, `value` */
  ASX_TRACE_TIMER_FIRED,     /* a task's timer fired: `value` = its deadline */
  ASX_TRACE_RANDOM,          /* asx_random: `value` = the number drawn */
  ASX_TRACE_WAIT_SITE        /* cfg.wait_sites: a task is entering a call that may block: `name` =
                              * what ("chan_recv", "mutex_lock", ...), `file`:`line` = call site */
} asx_trace_type;

typedef struct asx_trace_event {
  asx_trace_type type;
  uint64_t time_ns;     /* runtime clock */
  uint64_t task_id;     /* 0 when not about a task */
  uint64_t region_id;   /* 0 when not about a region */
  const char *name;     /* task/region name or obligation kind; may be NULL */
  const char *file;     /* obligation reserve site */
  int line;
  asx_cancel_kind kind;
  asx_outcome outcome;
  int code;
  uint64_t value;
  const char *message;
} asx_trace_event;

/* Called from worker threads, possibly concurrently: must be thread-safe and must not call back
 * into the runtime. The event and its strings are valid only during the call. */
typedef void (*asx_trace_fn)(void *ud, const asx_trace_event *ev);
/* Thread-safe, pure: "task_spawn", "obligation_leak", ... */
const char *asx_trace_type_name(asx_trace_type t);

/* ---- Runtime ---- */
typedef enum asx_driver_kind {
  ASX_DRIVER_THREADS = 0,     /* production: N worker threads, CLOCK_MONOTONIC, futex parking */
  ASX_DRIVER_DETERMINISTIC    /* one thread, seeded choice among all ready tasks, virtual time */
} asx_driver_kind;

/* Deterministic driver: picks the next task among `nready` ready tasks (ids in the driver's
 * order) and returns its index (taken modulo nready). Lets lab/ replay a recorded schedule or
 * explore others. Called on the run's thread; must not call into the runtime. */
typedef uint32_t (*asx_choose_fn)(void *ud, uint32_t nready, const uint64_t *ready_ids);

/* I/O readiness integration (net/): with these hooks, an idle worker of the THREADS driver waits
 * for I/O instead of sleeping on its futex, at most one worker at a time; a busy worker polls
 * (timeout 0) every 61 picks so I/O is not starved. wait() wakes ready tasks with
 * asx_task_wake and returns after at most timeout_ns (< 0: no limit) or soon after interrupt().
 * interrupt() is thread-safe and must also make a wait() that starts later return at once (an
 * eventfd write does both). Neither may call into the runtime except asx_task_wake. */
typedef struct asx_io_hooks {
  void (*wait)(void *ud, int64_t timeout_ns);
  void (*interrupt)(void *ud);
  void *ud;
} asx_io_hooks;

/* A value type; fill with asx_runtime_config_default and adjust. */
typedef struct asx_runtime_config {
  unsigned workers;            /* 0 = number of online cores (THREADS driver); DETERMINISTIC uses 1 */
  size_t stack_size;           /* default task stack; 0 = 256 KiB */
  asx_driver_kind driver;
  uint64_t seed;               /* PRNG seed (scheduling choices in DETERMINISTIC, asx_random) */
  asx_trace_fn trace;          /* NULL = events are only counted */
  void *trace_ud;
  /* DETERMINISTIC (lab): when *shutdown_request becomes nonzero (e.g. set by `choose`), the
   * driver requests a shutdown cancel of the root region once, before its next choice. */
  const int *shutdown_request;
  /* DETERMINISTIC (lab): task switches after which the run is abandoned: asx_runtime_run returns
   * ASX_ETIMEDOUT and tasks still live are leaked (only asx_runtime_free may follow). 0 = none. */
  uint64_t max_steps;
  /* Any driver with `trace` set: emit ASX_TRACE_WAIT_SITE before each call that may block (lab:
   * the deadlock and futurelock oracles name what every blocked task waits on). 0 = off. */
  int wait_sites;
  const asx_allocator *alloc;  /* NULL = libc */
  uint32_t poll_budget;        /* checkpoints before a forced yield; 0 = 61 */
  uint64_t cleanup_budget_ns[ASX_CANCEL_KIND_COUNT]; /* per kind; 0 = built-in default */
  size_t deque_capacity;       /* per-worker run queue slots, power of two; 0 = 256 */
  int record_choices;          /* DETERMINISTIC: keep the choice sequence (asx_runtime_choices) */
  int disable_lifo_slot;       /* THREADS: woken tasks go to the stealable deque, never the LIFO
                                * slot (more cross-worker wakeups; used by stress tests) */
  asx_choose_fn choose;        /* DETERMINISTIC: replaces the seeded choice when set */
  void *choose_ud;
  asx_io_hooks io;             /* THREADS: I/O readiness hooks; all NULL = none */
  uint64_t wall_epoch_ns;      /* DETERMINISTIC: asx_wall_now at virtual time 0 (ns since the Unix
                                * epoch); 0 = 2026-01-01T00:00:00Z */
} asx_runtime_config;

/* Teardown accounting: after asx_runtime_run returns, live_* and unresolved_obligations are 0
 * unless something leaked. */
typedef struct asx_runtime_stats {
  uint64_t live_tasks;
  uint64_t live_regions;
  uint64_t unresolved_obligations;
  uint64_t tasks_spawned;
  uint64_t regions_opened;
  uint64_t obligation_leaks;
  uint64_t region_leaks;
  uint64_t cleanup_overruns;
  uint64_t panics;
  uint64_t cancel_requests;
  uint64_t deadlocks;
  uint64_t sched_violations;   /* a task dequeued while not SCHEDULED (duplicate scheduling): a bug */
  uint64_t switches;
  uint64_t steals;
  uint64_t parks;
} asx_runtime_stats;

/* Thread-safe; fills defaults (workers 0, THREADS driver, 256 KiB stacks, seed 0x5eed). */
void asx_runtime_config_default(asx_runtime_config *cfg);
/* Caller owns *out (free with asx_runtime_free); cfg NULL = defaults. 0/ASX_EINVAL/ASX_ENOMEM. */
int asx_runtime_new(const asx_runtime_config *cfg, asx_runtime **out);
/* Not thread-safe; only when no run is in progress. NULL ignored. */
void asx_runtime_free(asx_runtime *rt);
/* Not reentrant; blocks the calling thread (it becomes worker 0). Spawns fn as the main task in a
 * fresh root region and returns once that region is quiescent and finalized; *outcome (may be
 * NULL) is the root region's outcome, *rc (may be NULL) the main task's return code.
 * Returns 0, ASX_ENOMEM, or ASX_ESTATE (deterministic driver: deadlock that shutdown could not break). */
int asx_runtime_run(asx_runtime *rt, asx_task_fn fn, void *arg, int *rc, asx_outcome *outcome);
/* Thread-safe with the THREADS driver (task-only with DETERMINISTIC); not async-signal-safe: call
 * it from a signal-handling thread, e.g. after sigwait/signalfd. Requests cancellation of the current run's root region (typically
 * ASX_CANCEL_SHUTDOWN for a graceful stop); a no-op when no run is in progress. */
void asx_runtime_cancel(asx_runtime *rt, asx_cancel_kind kind);
/* Thread-safe: a snapshot of the counters. */
void asx_runtime_stats_get(const asx_runtime *rt, asx_runtime_stats *out);

/* One scheduling decision of the deterministic driver. */
typedef struct asx_choice {
  uint32_t ready;    /* how many tasks were ready */
  uint32_t index;    /* which one was picked */
  uint64_t task_id;
} asx_choice;
/* Not thread-safe (call between runs): the recorded choices of the deterministic driver (valid
 * until the next run or free); *n = 0 for the THREADS driver or without record_choices. */
const asx_choice *asx_runtime_choices(const asx_runtime *rt, size_t *n);

/* ---- Context accessors (task-only: cx must be the calling task's own) ---- */
/* Task-only: the runtime running the task (borrowed). */
asx_runtime *asx_cx_runtime(asx_cx *cx);
/* Task-only: the region the task was spawned into (borrowed). */
asx_region *asx_cx_region(asx_cx *cx);
/* Task-only: the calling task (for asx_task_wake / asx_task_cancel); owned by the runtime. */
asx_task *asx_cx_task(asx_cx *cx);
/* Task-only: the I/O hooks this runtime was configured with (all NULL when none, or when the
 * driver does not call them: DETERMINISTIC); lets a reactor (net/) find its own state from a
 * task. Borrowed, valid while the runtime lives. */
const asx_io_hooks *asx_cx_io(asx_cx *cx);
/* Task-only: runtime clock in ns (monotonic, or virtual time with the deterministic driver). */
uint64_t asx_now(asx_cx *cx);
/* Task-only: calendar time in ns since 1970-01-01 UTC (for dates shown to people, e.g. an HTTP
 * Date header; never for timeouts): CLOCK_REALTIME, or with the deterministic driver
 * cfg.wall_epoch_ns + virtual time, so a replayed run shows the same dates. */
uint64_t asx_wall_now(asx_cx *cx);
/* Any thread while rt runs (e.g. code holding a lock on behalf of several tasks): the same clock. */
uint64_t asx_runtime_wall_now(asx_runtime *rt);
/* Task-only: randomness through the driver (seeded, reproducible with the deterministic driver). */
uint64_t asx_random(asx_cx *cx);
/* Task-only: emits an ASX_TRACE_USER event through the runtime's sink; `msg` borrowed for the call. */
void asx_trace_user(asx_cx *cx, const char *msg, uint64_t value);
/* Thread-safe on a live handle: the task's id (unique per runtime; reproducible when deterministic). */
uint64_t asx_task_id(const asx_task *t);
/* Thread-safe while r is open: the region's id (unique within the runtime). */
uint64_t asx_region_id(const asx_region *r);

/* ---- Tasks ---- */
/* A value type; NULL options = defaults (unnamed, default stack, unlimited budget). */
typedef struct asx_spawn_opts {
  const char *name;     /* borrowed: must outlive the task (a string literal is typical) */
  size_t stack_size;    /* 0 = runtime default */
  asx_budget budget;    /* combined with the region's budget */
} asx_spawn_opts;
/* Thread-safe, pure. */
asx_spawn_opts asx_spawn_opts_default(void);

/* Task-only. Spawns fn(arg) into region r (NULL = the caller's own region). If handle is not NULL
 * the caller owns a handle that must be released by asx_task_join or asx_task_release. A task
 * spawned into a cancelled region starts with that cancellation already requested.
 * 0, ASX_ENOMEM, ASX_ESTATE (r finalizing/closed), ASX_EINVAL. */
int asx_spawn(asx_cx *cx, asx_region *r, asx_task_fn fn, void *arg, const asx_spawn_opts *opts,
              asx_task **handle);
/* Task-only. Waits for t to end; then *rc / *outcome (may be NULL) and the handle is released.
 * 0, or ASX_ECANCELED (the caller was cancelled: the handle stays valid and owned). */
int asx_task_join(asx_cx *cx, asx_task *t, int *rc, asx_outcome *outcome);
/* Thread-safe; drops a handle without waiting (the task keeps running inside its region). */
void asx_task_release(asx_task *t);

/* Task-only: a checkpoint. Returns ASX_ECANCELED if cancellation is requested and not masked;
 * spends one unit of poll quota and checks the deadline; yields after poll_budget checkpoints. */
int asx_checkpoint(asx_cx *cx);
/* Task-only: lets other ready tasks run; same cancellation result as asx_checkpoint. */
int asx_yield(asx_cx *cx);
/* Task-only: charges cost units against the cost quota (exhaustion requests cancellation). */
int asx_charge(asx_cx *cx, uint64_t cost);
/* Task-only: the task's effective budget (quotas as currently remaining). */
asx_budget asx_cx_budget(asx_cx *cx);
/* Task-only: ends the task as Panicked: open regions it owns are cancelled and closed, its
 * obligations aborted, the panic reported through the region. Never returns. */
ASX_NORETURN void asx_panic(asx_cx *cx, const char *msg);

/* ---- Low-level parking (for I/O reactors and custom primitives, e.g. net/'s epoll thread) ---- */
/* Task-only: blocks the calling task until asx_task_wake(its task), the absolute runtime time
 * `until` (ASX_UNLIMITED = none) or a cancellation request. May return 0 spuriously: re-check
 * the condition in a loop. 0, ASX_ETIMEDOUT, ASX_ECANCELED, ASX_ENOMEM (timer). A checkpoint. */
int asx_park(asx_cx *cx, uint64_t until);
/* Thread-safe: wakes t if it is parked (otherwise its next park returns at once or the wakeup is
 * absorbed as spurious). The caller must know t is still alive: publish "waiting" and the task
 * pointer under a lock the task also takes before it returns, as every asx primitive does. */
void asx_task_wake(asx_task *t);

/* ---- Cancellation ---- */
/* Thread-safe (THREADS driver; task-only with DETERMINISTIC) while r is not yet closed (the
 * caller must know its owner has not closed it; asx_runtime_cancel is always safe). Requests
 * cancellation of the region, its tasks (with `kind`) and every descendant region and task (with
 * ASX_CANCEL_PARENT). Idempotent; a repeat only strengthens the kind and tightens the cleanup
 * deadline. */
void asx_region_cancel(asx_region *r, asx_cancel_kind kind);
/* As above for one task (and the regions it opened, which get ASX_CANCEL_PARENT). t must be a
 * live handle or the caller's own task. */
void asx_task_cancel(asx_task *t, asx_cancel_kind kind);
/* Task-only: the strongest cancel kind requested for the calling task (NONE if none). */
asx_cancel_kind asx_cancel_reason(asx_cx *cx);
/* Task-only: true when cancellation is requested (masked or not). */
bool asx_cancel_requested(asx_cx *cx);
/* Task-only: enters a (nestable) mask: checkpoints and blocking calls do not observe
 * cancellation (use it for cleanup that must block, e.g. sending a close frame). */
void asx_mask_push(asx_cx *cx);
/* Task-only: leaves the innermost mask (no-op when not masked). */
void asx_mask_pop(asx_cx *cx);
/* Task-only: absolute runtime time by which cleanup must finish (ASX_UNLIMITED if not cancelled). */
uint64_t asx_cleanup_deadline(asx_cx *cx);

/* ---- Regions ---- */
typedef enum asx_region_policy {
  ASX_REGION_COLLECT_ALL = 0,  /* every child runs to its end */
  ASX_REGION_FAIL_FAST = 1     /* the first Err/Panicked child cancels its siblings (fail_fast) */
} asx_region_policy;

typedef enum asx_region_state {
  ASX_REGION_OPEN = 0,
  ASX_REGION_CLOSING,     /* close called, children finishing on their own */
  ASX_REGION_DRAINING,    /* close called and cancellation requested: children draining */
  ASX_REGION_FINALIZING,  /* children gone, finalizers running */
  ASX_REGION_CLOSED
} asx_region_state;

/* A value type; NULL options = defaults (unnamed, collect-all, unlimited, propagates). */
typedef struct asx_region_opts {
  const char *name;          /* borrowed: must outlive the region */
  asx_region_policy policy;
  asx_budget budget;         /* combined with the opening task's budget */
  bool propagate_outcome;    /* fold this region's outcome into its parent's (default true) */
} asx_region_opts;
/* Thread-safe, pure. */
asx_region_opts asx_region_opts_default(void);

/* Task-only. Opens a child region of the caller's region, owned by the calling task: only that
 * task may close it, and it is closed automatically (reported as a leak) if the task ends first.
 * 0, ASX_ENOMEM, ASX_ECANCELED (the caller's region is cancelled). */
int asx_region_open(asx_cx *cx, const asx_region_opts *opts, asx_region **out);
/* Task-only, owner only. Waits until every child task and region has finished (close implies
 * quiescence), runs finalizers in reverse registration order, frees r. Not interrupted by
 * cancellation (a cancelled owner's region is already cancelled with it). *outcome may be NULL.
 * 0 or ASX_ESTATE (not the owner). */
int asx_region_close(asx_cx *cx, asx_region *r, asx_outcome *outcome);
/* Thread-safe: registers fn(arg) to run when r finalizes. 0, ASX_ENOMEM, ASX_ESTATE. */
int asx_region_defer(asx_region *r, void (*fn)(void *arg), void *arg);
/* Thread-safe: `size` bytes owned by region r, freed (all at once) after r's finalizers ran;
 * NULL on allocation failure or when r is already finalizing. For per-request memory. */
void *asx_region_alloc(asx_region *r, size_t size);
/* Thread-safe: current state and outcome so far. */
asx_region_state asx_region_state_get(asx_region *r);
/* Thread-safe while r is open: the lattice join of the children that ended so far. */
asx_outcome asx_region_outcome(asx_region *r);

/* ---- Obligations ---- */
/* Task-only. Reserves a token owned by the calling task that must be committed or aborted.
 * `kind` is a borrowed static string. If the task ends holding it, it is reported with its
 * reserve site, counted and aborted (abort_fn runs). 0 or ASX_ENOMEM. */
int asx_obligation_reserve_at(asx_cx *cx, const char *kind, void (*abort_fn)(void *arg),
                              void *abort_arg, asx_obligation **out, const char *file, int line);
#define asx_obligation_reserve(cx, kind, out) \
  asx_obligation_reserve_at((cx), (kind), NULL, NULL, (out), __FILE__, __LINE__)
#define asx_obligation_reserve_fn(cx, kind, abort_fn, abort_arg, out) \
  asx_obligation_reserve_at((cx), (kind), (abort_fn), (abort_arg), (out), __FILE__, __LINE__)
/* Owning task only: the effect happened; frees the token (abort_fn does not run). */
void asx_obligation_commit(asx_obligation *ob);
/* Owning task only: the effect did not happen; runs abort_fn, frees the token. */
void asx_obligation_abort(asx_obligation *ob);

/* ---- Time ---- */
/* Task-only: sleeps ns (0 = a checkpoint). 0 or ASX_ECANCELED. */
int asx_sleep(asx_cx *cx, uint64_t ns);
/* Task-only: sleeps until the absolute runtime time `when`. 0 or ASX_ECANCELED. */
int asx_sleep_until(asx_cx *cx, uint64_t when);

/* ---- Combinators ---- */
/* Task-only. Runs fns[i](cx_i, args[i]) concurrently in a private region; the first to return
 * wins. Losers are cancelled (race_lost) and drained before asx_race returns. *winner and
 * *winner_rc (may be NULL) describe the winner. 0, ASX_EINVAL (n == 0), ASX_ENOMEM,
 * ASX_ECANCELED, ASX_EPANIC (every child panicked: no winner). */
int asx_race(asx_cx *cx, size_t n, const asx_task_fn *fns, void *const *args, size_t *winner,
             int *winner_rc);
/* Task-only. Runs fn(arg) with a time limit. Returns fn's result if fn finished first, else
 * ASX_ETIMEDOUT after cancelling (timeout) and draining it, whatever fn then returned;
 * ASX_ECANCELED if the caller was cancelled first; ASX_EPANIC if fn panicked. */
int asx_timeout(asx_cx *cx, uint64_t ns, asx_task_fn fn, void *arg);

/* ---- Bounded MPSC channel with two-phase send ---- */
typedef struct asx_chan asx_chan;
/* The reserved slot of a two-phase send; a value type holding an obligation. */
typedef struct asx_chan_permit {
  asx_chan *chan;
  asx_obligation *ob;
} asx_chan_permit;

/* Thread-safe; caller owns *out. elem_size and capacity > 0. 0/ASX_EINVAL/ASX_ENOMEM. */
int asx_chan_new(const asx_allocator *a, size_t elem_size, size_t capacity, asx_chan **out);
/* No task may be using it any more. NULL ignored. */
void asx_chan_free(asx_chan *ch);
/* Task-only: waits for a free slot and reserves it (an obligation "chan.permit").
 * 0, ASX_ECANCELED (nothing reserved), ASX_ECLOSED, ASX_ENOMEM. */
int asx_chan_reserve_at(asx_cx *cx, asx_chan *ch, asx_chan_permit *p, const char *file, int line);
#define asx_chan_reserve(cx, ch, p) asx_chan_reserve_at((cx), (ch), (p), __FILE__, __LINE__)
/* Owning task only; never blocks, never fails: the message is enqueued even if the sender is
 * cancelled or the channel was closed after the reservation (the receiver will see it). */
void asx_chan_commit(asx_chan_permit *p, const void *elem);
/* Owning task only: gives the slot back. */
void asx_chan_abort(asx_chan_permit *p);
/* Task-only: reserve + commit. 0, ASX_ECANCELED (not sent), ASX_ECLOSED, ASX_ENOMEM. */
int asx_chan_send_at(asx_cx *cx, asx_chan *ch, const void *elem, const char *file, int line);
#define asx_chan_send(cx, ch, elem) asx_chan_send_at((cx), (ch), (elem), __FILE__, __LINE__)
/* Task-only: waits for a message. 0, ASX_ECANCELED (nothing taken), ASX_ECLOSED (closed and empty). */
int asx_chan_recv(asx_cx *cx, asx_chan *ch, void *elem);
/* Task-only: select over n <= ASX_SELECT_MAX channels: waits until one has a message and takes
 * exactly one (from chans[*index] into outs[*index]); channels earlier in the array win ties.
 * 0, ASX_ECLOSED (all closed and drained), ASX_ECANCELED (nothing taken), ASX_EINVAL. */
#define ASX_SELECT_MAX 32
int asx_chan_select_recv(asx_cx *cx, size_t n, asx_chan *const *chans, void *const *outs,
                         size_t *index);
/* Thread-safe: non-blocking receive. 0, ASX_EAGAIN, ASX_ECLOSED. */
int asx_chan_try_recv(asx_chan *ch, void *elem);
/* Thread-safe: no new reservations; queued and reserved messages are still delivered. */
void asx_chan_close(asx_chan *ch);
/* Thread-safe: messages queued now. */
size_t asx_chan_len(asx_chan *ch);

/* ---- Oneshot: one value, sent once, received once ---- */
typedef struct asx_oneshot asx_oneshot;
/* Thread-safe; caller owns *out. */
int asx_oneshot_new(const asx_allocator *a, size_t size, asx_oneshot **out);
/* No task may be using it any more. NULL ignored. */
void asx_oneshot_free(asx_oneshot *o);
/* Thread-safe; never blocks. 0, ASX_ESTATE (already sent), ASX_ECLOSED (receiver closed it). */
int asx_oneshot_send(asx_oneshot *o, const void *value);
/* Task-only: waits for the value. 0, ASX_ECANCELED, ASX_ECLOSED (sender side closed, no value). */
int asx_oneshot_recv(asx_cx *cx, asx_oneshot *o, void *value);
/* Thread-safe: no value will come (wakes the receiver with ASX_ECLOSED). */
void asx_oneshot_close(asx_oneshot *o);

/* ---- Mutex (FIFO hand-off) ---- */
typedef struct asx_mutex asx_mutex;
/* Thread-safe; caller owns *out. */
int asx_mutex_new(const asx_allocator *a, asx_mutex **out);
/* No task may be using it any more. NULL ignored. */
void asx_mutex_free(asx_mutex *m);
/* Task-only. Holding the lock is an obligation ("mutex.lock", reserve site = the caller): a task
 * that ends holding it is reported and the lock is released. 0, ASX_ECANCELED (not acquired),
 * ASX_ENOMEM. */
int asx_mutex_lock_at(asx_cx *cx, asx_mutex *m, const char *file, int line);
#define asx_mutex_lock(cx, m) asx_mutex_lock_at((cx), (m), __FILE__, __LINE__)
/* Thread-safe: 0 or ASX_EBUSY. */
int asx_mutex_trylock(asx_mutex *m);
/* Holder only (the task that locked it, or the thread that trylocked it): hands the lock to the
 * first waiter, if any. */
void asx_mutex_unlock(asx_mutex *m);

/* ---- Counting semaphore; an acquired permit is an obligation ---- */
typedef struct asx_sem asx_sem;
typedef struct asx_sem_permit {
  asx_sem *sem;
  asx_obligation *ob;
} asx_sem_permit;
/* Thread-safe; caller owns *out. */
int asx_sem_new(const asx_allocator *a, uint64_t permits, asx_sem **out);
/* No task may be using it any more (permits included). NULL ignored. */
void asx_sem_free(asx_sem *s);
/* Task-only: 0, ASX_ECANCELED (nothing acquired), ASX_ENOMEM. */
int asx_sem_acquire_at(asx_cx *cx, asx_sem *s, asx_sem_permit *p, const char *file, int line);
#define asx_sem_acquire(cx, s, p) asx_sem_acquire_at((cx), (s), (p), __FILE__, __LINE__)
/* Owning task only: returns the permit (commits the obligation). */
void asx_sem_release(asx_sem_permit *p);
/* Thread-safe: permits available now. */
uint64_t asx_sem_available(asx_sem *s);

/* ---- Wait sites and introspection (lab/, debugging) ---- */
/* Task-only: notes that the calling task is about to enter a call that may block (`what`, a
 * static string, at file:line; emitted as ASX_TRACE_WAIT_SITE when cfg.wait_sites is on) and
 * returns cx. The blocking calls below are wrapped by macros that call it with the caller's
 * __FILE__/__LINE__; define ASX_NO_WAIT_SITES before including this header to get the plain
 * functions (the runtime's own sources do). Each macro evaluates its arguments once. */
asx_cx *asx_wait_site_note(asx_cx *cx, const char *what, const char *file, int line);

/* One obligation a task holds (strings borrowed: static kind, reserve site). */
typedef struct asx_obligation_info {
  const char *kind;
  const char *file;
  int line;
} asx_obligation_info;
/* Deterministic driver only, on the run's thread while no task runs (e.g. from cfg.choose): the
 * obligations task `task_id` holds, oldest first, into out[0..max). Returns how many it holds
 * (0 when the task is unknown or ended). O(live tasks): for occasional checks. */
size_t asx_runtime_task_obligations(asx_runtime *rt, uint64_t task_id, asx_obligation_info *out,
                                    size_t max);

#ifndef ASX_NO_WAIT_SITES
#define ASX_WAIT_NOTE_(cx, what) asx_wait_site_note((cx), (what), __FILE__, __LINE__)
#define asx_chan_recv(cx, ch, elem) (asx_chan_recv)(ASX_WAIT_NOTE_(cx, "chan_recv"), (ch), (elem))
#define asx_chan_select_recv(cx, n, chans, outs, index) \
  (asx_chan_select_recv)(ASX_WAIT_NOTE_(cx, "chan_select_recv"), (n), (chans), (outs), (index))
#define asx_oneshot_recv(cx, o, value) (asx_oneshot_recv)(ASX_WAIT_NOTE_(cx, "oneshot_recv"), (o), (value))
#define asx_sleep(cx, ns) (asx_sleep)(ASX_WAIT_NOTE_(cx, "sleep"), (ns))
#define asx_sleep_until(cx, when) (asx_sleep_until)(ASX_WAIT_NOTE_(cx, "sleep_until"), (when))
#define asx_task_join(cx, t, rc, outcome) (asx_task_join)(ASX_WAIT_NOTE_(cx, "task_join"), (t), (rc), (outcome))
#define asx_region_close(cx, r, outcome) (asx_region_close)(ASX_WAIT_NOTE_(cx, "region_close"), (r), (outcome))
#define asx_park(cx, until) (asx_park)(ASX_WAIT_NOTE_(cx, "park"), (until))
#define asx_race(cx, n, fns, args, winner, winner_rc) \
  (asx_race)(ASX_WAIT_NOTE_(cx, "race"), (n), (fns), (args), (winner), (winner_rc))
#define asx_timeout(cx, ns, fn, arg) (asx_timeout)(ASX_WAIT_NOTE_(cx, "timeout"), (ns), (fn), (arg))
#undef asx_chan_reserve
#define asx_chan_reserve(cx, ch, p) asx_chan_reserve_at(ASX_WAIT_NOTE_(cx, "chan_reserve"), (ch), (p), __FILE__, __LINE__)
#undef asx_chan_send
#define asx_chan_send(cx, ch, elem) asx_chan_send_at(ASX_WAIT_NOTE_(cx, "chan_send"), (ch), (elem), __FILE__, __LINE__)
#undef asx_mutex_lock
#define asx_mutex_lock(cx, m) asx_mutex_lock_at(ASX_WAIT_NOTE_(cx, "mutex_lock"), (m), __FILE__, __LINE__)
#undef asx_sem_acquire
#define asx_sem_acquire(cx, s, p) asx_sem_acquire_at(ASX_WAIT_NOTE_(cx, "sem_acquire"), (s), (p), __FILE__, __LINE__)
#endif

#ifdef __cplusplus
}
#endif
#endif /* ASX_RUNTIME_H */

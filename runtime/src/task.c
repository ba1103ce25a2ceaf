/* Tasks: spawn, the body trampoline, the end-of-task protocol (leaked regions and obligations,
 * outcome, cleanup-budget check), join, checkpoints, yield, budgets and panic. */
#include <time.h>
#include <string.h>

#include "rt_internal.h"

static asx_task *task_of(asx_cx *cx) { return cx->task; }

/* libc's memset through a pointer: the compiler would otherwise inline the 400-odd bytes as
 * `rep stos`, whose start-up cost perf put at ~10% of a spawn+join; libc uses vector stores. */
static void *(*volatile const task_memset)(void *, int, size_t) = memset;

void rt_task_unref(asx_task *t, rt_worker *w) {
  /* A count of 1 seen here is ours alone (nobody else holds a reference to add or drop): skip
   * the locked RMW, as the last unref of a joined task always does. */
  if (atomic_load_explicit(&t->refs, memory_order_acquire) != 1 &&
      atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (w && w->rt == t->rt && w->ntasks < sizeof(w->tasks) / sizeof(w->tasks[0])) {
    RT_POISON(t, sizeof(*t)); /* ASan: a use after the last unref still reports */
    w->tasks[w->ntasks++] = t;
  } else {
    asx_free(t->rt->alloc, t);
  }
}

/* A zeroed task struct: from the calling worker's cache when it has one, else the allocator. */
static asx_task *task_alloc(asx_runtime *rt, rt_worker *w) {
  if (w && w->rt == rt && w->ntasks > 0) {
    asx_task *t = w->tasks[--w->ntasks];
    RT_UNPOISON(t, sizeof(*t));
    task_memset(t, 0, sizeof(*t));
    return t;
  }
  return asx_calloc(rt->alloc, 1, sizeof(asx_task));
}

static _Noreturn void task_exit(asx_task *t, int rc);

/* Counts a cleanup overrun once per task and reports it. `still_running`: from the watchdog. */
static void report_overrun(asx_task *t, uint64_t over, bool still_running) {
  asx_runtime *rt = t->rt;
  if (!atomic_exchange(&t->overrun_reported, true)) atomic_fetch_add(&rt->overruns, 1);
  asx_trace_event ev = rt_event(rt, ASX_TRACE_CLEANUP_OVERRUN, t, NULL);
  ev.kind = (asx_cancel_kind)atomic_load(&t->cancel_kind);
  ev.value = over;
  ev.code = still_running;
  ev.message = still_running ? "still draining at its cleanup deadline" : "ended after its cleanup deadline";
  rt_trace(rt, &ev);
}

/* Timer callback (driver's timer lock held, any worker): the task is alive, see rt_cleanup_watch. */
static void cleanup_overdue(rt_timer *tm, rt_worker *w) {
  (void)w;
  report_overrun(tm->task, 0, true);
}

void rt_cleanup_watch(asx_task *t, uint64_t deadline) {
  if (t->done) return;
  asx_runtime *rt = t->rt;
  t->watch_armed = true;
  rt->drv->timer_disarm(rt->drv_state, &t->cleanup_timer);
  t->cleanup_timer.node.deadline = deadline;
  rt->drv->timer_arm(rt->drv_state, &t->cleanup_timer); /* ENOMEM: the end-of-task check remains */
}

static void task_entry(void *arg) {
  asx_task *t = arg;
  rt_after_switch(t->worker);
  int rc = t->fn(&t->cx, t->arg);
  task_exit(t, rc);
}

int rt_spawn(asx_runtime *rt, asx_task *parent, asx_region *r, asx_task_fn fn, void *arg,
             const asx_spawn_opts *opts, asx_task **handle, rt_worker *w) {
  (void)parent;
  asx_spawn_opts o;
  if (opts) {
    o = *opts;
  } else { /* asx_spawn_opts_default(), inline: this is the common spawn */
    memset(&o, 0, sizeof(o));
    o.budget = (asx_budget){ASX_UNLIMITED, ASX_UNLIMITED, ASX_UNLIMITED, 0};
  }
  if (rt->drv->admit) {
    int err = rt->drv->admit(rt->drv_state);
    if (err) return err;
  }
  asx_task *t = task_alloc(rt, w);
  if (!t) return ASX_ENOMEM;
  int err = 0;
  if (w && w->nstacks > 0 && w->rt == rt && o.stack_size == 0)
    t->stack = w->stacks[--w->nstacks]; /* w is the calling thread's own worker */
  else
    err = asx_stack_get(rt->stacks, o.stack_size, &t->stack);
  if (err) {
    asx_free(rt->alloc, t);
    return err;
  }
  t->cx.task = t;
  t->rt = rt;
  t->name = o.name;
  t->fn = fn;
  t->arg = arg;
  rt_list_init(&t->obligations);
  rt_list_init(&t->owned_regions);
  rt_list_init(&t->region_link);
  atomic_init(&t->state, TS_SCHEDULED);
  atomic_init(&t->cancel_kind, ASX_CANCEL_NONE);
  atomic_init(&t->cancel_deadline, ASX_UNLIMITED);
  atomic_init(&t->refs, handle ? 2 : 1);
  asx_ctx_init(&t->ctx, t->stack.lo, t->stack.size, task_entry, t);
  asx_timer_node_init(&t->cleanup_timer.node);
  t->cleanup_timer.fire = cleanup_overdue;
  t->cleanup_timer.task = t;
  atomic_init(&t->overrun_reported, false);

  pthread_mutex_lock(&rt->tree_lock);
  if (r->state >= ASX_REGION_FINALIZING) {
    pthread_mutex_unlock(&rt->tree_lock);
    asx_stack_put(rt->stacks, &t->stack);
    asx_free(rt->alloc, t);
    return ASX_ESTATE;
  }
  t->id = rt_counter_add(&rt->next_id, 1) - 1;
  t->region = r;
  t->budget = rt_budget_combine(r->budget, o.budget);
  rt_list_push_back(&r->tasks, &t->region_link);
  r->ntasks++;
  rt_counter_add(&rt->live_tasks, 1);
  rt_counter_add(&rt->spawned, 1);
  if (r->cancel_kind != ASX_CANCEL_NONE) {
    /* A task spawned into a cancelled region starts with the request already made. */
    atomic_store(&t->cancel_kind, r->cancel_kind);
    atomic_store(&t->cancel_deadline, r->cancel_deadline);
    rt_cleanup_watch(t, r->cancel_deadline);
  }
  asx_trace_event ev;
  bool tracing = rt->cfg.trace != NULL;
  if (tracing) ev = rt_event(rt, ASX_TRACE_TASK_SPAWN, t, r);
  pthread_mutex_unlock(&rt->tree_lock);
  if (tracing) rt_trace(rt, &ev);
  if (handle) *handle = t;
  rt->drv->ready(rt->drv_state, w, t, RT_READY_SPAWN);
  return 0;
}

int asx_spawn(asx_cx *cx, asx_region *r, asx_task_fn fn, void *arg, const asx_spawn_opts *opts,
              asx_task **handle) {
  if (!cx || !fn) return ASX_EINVAL;
  asx_task *self = task_of(cx);
  if (!r) r = self->region;
  if (r->rt != self->rt) return ASX_EINVAL;
  return rt_spawn(self->rt, self, r, fn, arg, opts, handle, self->worker);
}

/* Runs on the task's own stack; the last act is the final switch to the worker. */
static _Noreturn void task_exit(asx_task *t, int rc) {
  asx_runtime *rt = t->rt;
  t->mask = 0;
  /* Regions the task opened but did not close: a contract violation. Cancel and drain them so
   * that nothing outlives the stack they may point into. */
  /* Only t itself links and unlinks its owned regions (open, close, this loop): it may look at
   * the list without the lock, which the common case (nothing leaked) then never takes. */
  while (!rt_list_empty(&t->owned_regions)) {
    pthread_mutex_lock(&rt->tree_lock);
    asx_region *r = RT_CONTAINER_OF(t->owned_regions.next, asx_region, owner_link);
    rt_cancel_region_locked(r, ASX_CANCEL_PARENT,
                            rt_now(rt) + rt_cleanup_budget(rt, ASX_CANCEL_PARENT), t->worker);
    asx_trace_event ev = rt_event(rt, ASX_TRACE_REGION_LEAK, t, r);
    ev.name = r->name;
    pthread_mutex_unlock(&rt->tree_lock);
    atomic_fetch_add(&rt->region_leaks, 1);
    rt_trace(rt, &ev);
    asx_region_close(&t->cx, r, NULL);
  }
  if (!rt_list_empty(&t->obligations)) rt_obligations_leaked(t);
  if (t->nob_cache) rt_obligation_cache_free(t);

  t->rc = rc;
  if (t->panicked)
    t->outcome = ASX_OUTCOME_PANICKED;
  else if (rc >= 0)
    t->outcome = ASX_OUTCOME_OK;
  else if (rc == ASX_ECANCELED)
    t->outcome = ASX_OUTCOME_CANCELLED;
  else
    t->outcome = ASX_OUTCOME_ERR;

  /* The watchdog is disarmed by rt_task_complete, under tree_lock, once the task is done. */
  if (atomic_load(&t->cancel_kind) != ASX_CANCEL_NONE) {
    uint64_t now = rt_now(rt);
    uint64_t dl = atomic_load(&t->cancel_deadline);
    if (now > dl) report_overrun(t, now - dl, false);
  }
  if (rt->cfg.trace) {
    asx_trace_event ev = rt_event(rt, ASX_TRACE_TASK_END, t, NULL);
    ev.outcome = t->outcome;
    ev.code = rc;
    ev.kind = (asx_cancel_kind)atomic_load(&t->cancel_kind);
    rt_trace(rt, &ev);
  }

  rt_task_exit_switch(t);
}

_Noreturn void asx_panic(asx_cx *cx, const char *msg) {
  asx_task *t = task_of(cx);
  t->panicked = true;
  atomic_fetch_add(&t->rt->panics, 1);
  asx_trace_event ev = rt_event(t->rt, ASX_TRACE_PANIC, t, NULL);
  ev.message = msg;
  rt_trace(t->rt, &ev);
  task_exit(t, ASX_EPANIC);
}

int asx_task_join(asx_cx *cx, asx_task *t, int *rc, asx_outcome *outcome) {
  asx_task *self = task_of(cx);
  asx_runtime *rt = self->rt;
  if (t == self) return ASX_EINVAL;
  if (rt_checkpoint(self, false)) return ASX_ECANCELED;
  /* TS_DONE is stored (release) under tree_lock after the task's last write of rc/outcome, and
   * t cannot go away while we hold the handle: seeing it lock-free is enough. The completer wakes
   * the registered joiner under tree_lock, which the joiner's own completion needs too, so a
   * joiner that leaves on seeing DONE gets at most a spurious wakeup later, never a stale one. */
  if (atomic_load_explicit(&t->state, memory_order_acquire) != TS_DONE) {
    pthread_mutex_lock(&rt->tree_lock);
    while (!t->done) {
      t->joiner = self;
      pthread_mutex_unlock(&rt->tree_lock);
      int err = rt_wait_unlimited(self);
      if (atomic_load_explicit(&t->state, memory_order_acquire) == TS_DONE) goto done;
      pthread_mutex_lock(&rt->tree_lock);
      if (t->joiner == self) t->joiner = NULL;
      if (err && !t->done) {
        pthread_mutex_unlock(&rt->tree_lock);
        return err;
      }
    }
    pthread_mutex_unlock(&rt->tree_lock);
  }
done:
  if (rc) *rc = t->rc;
  if (outcome) *outcome = t->outcome;
  rt_task_unref(t, self->worker);
  return 0;
}

int asx_park(asx_cx *cx, uint64_t until) {
  asx_task *t = task_of(cx);
  /* No rt_checkpoint here: its forced yield would put the task in a run queue (SCHEDULED) after
   * the caller published itself as a waiter, and a wake landing then is absorbed and lost; the
   * task would park with nobody left to wake it. rt_wait still observes cancellation and the
   * budget deadline, and parking gives the worker away anyway. */
  return rt_wait(t, until);
}

void asx_task_wake(asx_task *t) {
  if (t) rt_wake(t, NULL);
}

void asx_task_release(asx_task *t) {
  if (t) rt_task_unref(t, NULL);
}

void rt_budget_exhausted(asx_task *t, asx_cancel_kind k) {
  asx_runtime *rt = t->rt;
  pthread_mutex_lock(&rt->tree_lock);
  rt_cancel_task_locked(t, k, rt_now(rt) + rt_cleanup_budget(rt, k), true, t->worker);
  pthread_mutex_unlock(&rt->tree_lock);
}

int rt_checkpoint(asx_task *t, bool force_yield) {
  if (t->budget.poll_quota != ASX_UNLIMITED) {
    if (t->budget.poll_quota == 0)
      rt_budget_exhausted(t, ASX_CANCEL_POLL_QUOTA);
    else
      t->budget.poll_quota--;
  }
  if (t->budget.deadline_ns != ASX_UNLIMITED && rt_now(t->rt) >= t->budget.deadline_ns)
    rt_budget_exhausted(t, ASX_CANCEL_DEADLINE);
  if (force_yield || ++t->polls >= t->rt->cfg.poll_budget) {
    t->polls = 0;
    rt_yield(t);
  }
  return rt_cancel_observable(t) ? ASX_ECANCELED : 0;
}

int asx_checkpoint(asx_cx *cx) { return rt_checkpoint(task_of(cx), false); }
int asx_yield(asx_cx *cx) { return rt_checkpoint(task_of(cx), true); }

int asx_charge(asx_cx *cx, uint64_t cost) {
  asx_task *t = task_of(cx);
  if (t->budget.cost_quota != ASX_UNLIMITED) {
    if (cost >= t->budget.cost_quota) {
      t->budget.cost_quota = 0;
      rt_budget_exhausted(t, ASX_CANCEL_COST_BUDGET);
    } else {
      t->budget.cost_quota -= cost;
    }
  }
  return rt_cancel_observable(t) ? ASX_ECANCELED : 0;
}

asx_budget asx_cx_budget(asx_cx *cx) { return task_of(cx)->budget; }
asx_runtime *asx_cx_runtime(asx_cx *cx) { return task_of(cx)->rt; }
asx_region *asx_cx_region(asx_cx *cx) { return task_of(cx)->region; }
asx_task *asx_cx_task(asx_cx *cx) { return task_of(cx); }
const asx_io_hooks *asx_cx_io(asx_cx *cx) {
  static const asx_io_hooks none = {NULL, NULL, NULL};
  asx_runtime *rt = task_of(cx)->rt;
  /* Only the threads driver ever calls the hooks: report none elsewhere, or a task would wait
   * for readiness that no one polls. */
  return rt->cfg.driver == ASX_DRIVER_THREADS ? &rt->cfg.io : &none;
}
uint64_t asx_task_id(const asx_task *t) { return t->id; }
uint64_t asx_now(asx_cx *cx) { return rt_now(task_of(cx)->rt); }

#define DEFAULT_WALL_EPOCH_NS (1767225600ull * 1000000000ull) /* 2026-01-01T00:00:00Z */

uint64_t asx_wall_now(asx_cx *cx) { return asx_runtime_wall_now(task_of(cx)->rt); }

uint64_t asx_runtime_wall_now(asx_runtime *rt) {
  if (rt->cfg.driver == ASX_DRIVER_DETERMINISTIC)
    return (rt->cfg.wall_epoch_ns ? rt->cfg.wall_epoch_ns : DEFAULT_WALL_EPOCH_NS) + rt_now(rt);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t asx_random(asx_cx *cx) {
  asx_task *t = task_of(cx);
  uint64_t v = t->rt->drv->random(t->rt->drv_state, t->worker);
  if (t->rt->cfg.trace) {
    asx_trace_event ev = rt_event(t->rt, ASX_TRACE_RANDOM, t, NULL);
    ev.value = v;
    rt_trace(t->rt, &ev);
  }
  return v;
}

void asx_trace_user(asx_cx *cx, const char *msg, uint64_t value) {
  asx_task *t = task_of(cx);
  asx_trace_event ev = rt_event(t->rt, ASX_TRACE_USER, t, NULL);
  ev.message = msg;
  ev.value = value;
  rt_trace(t->rt, &ev);
}

asx_cancel_kind asx_cancel_reason(asx_cx *cx) {
  return (asx_cancel_kind)atomic_load_explicit(&task_of(cx)->cancel_kind, memory_order_acquire);
}
bool asx_cancel_requested(asx_cx *cx) { return asx_cancel_reason(cx) != ASX_CANCEL_NONE; }
void asx_mask_push(asx_cx *cx) { task_of(cx)->mask++; }
void asx_mask_pop(asx_cx *cx) {
  asx_task *t = task_of(cx);
  if (t->mask > 0) t->mask--;
}
uint64_t asx_cleanup_deadline(asx_cx *cx) { return atomic_load(&task_of(cx)->cancel_deadline); }

void asx_task_cancel(asx_task *t, asx_cancel_kind k) {
  asx_runtime *rt = t->rt;
  pthread_mutex_lock(&rt->tree_lock);
  rt_cancel_task_locked(t, k, rt_now(rt) + rt_cleanup_budget(rt, k), true, NULL);
  pthread_mutex_unlock(&rt->tree_lock);
}

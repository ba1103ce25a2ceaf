/* The scheduler core shared by every driver: the task state machine (no lost wakeups, no
 * duplicate scheduling), running a task on a worker, parking a task, and task completion.
 *
 * The window between "a task decides to block" and "a waker on another worker wakes it" is closed
 * like this: the task registers itself where the waker will find it (under that primitive's
 * lock) and switches out with SW_BLOCK while still RUNNING. Only after its stack is no longer in
 * use does its worker try RUNNING -> IDLE. A waker that came in between found RUNNING and moved
 * it to NOTIFIED, so that CAS fails and the worker re-queues the task itself. A waker that comes
 * after finds IDLE, wins IDLE -> SCHEDULED and is the only one to queue it. The CAS chain
 * (acq_rel) plus the queue's release/acquire hand the saved context to whichever worker resumes
 * the task. */
#include "rt_internal.h"

void rt_wake(asx_task *t, rt_worker *w) {
  asx_runtime *rt = t->rt;
  int s = atomic_load_explicit(&t->state, memory_order_acquire);
  for (;;) {
    if (s == TS_IDLE) {
      if (atomic_compare_exchange_weak_explicit(&t->state, &s, TS_SCHEDULED, memory_order_acq_rel,
                                                memory_order_acquire)) {
        if (w && w->rt != rt) w = NULL;
        rt->drv->ready(rt->drv_state, w, t, RT_READY_WAKE);
        return;
      }
    } else if (s == TS_RUNNING) {
      if (atomic_compare_exchange_weak_explicit(&t->state, &s, TS_NOTIFIED, memory_order_acq_rel,
                                                memory_order_acquire))
        return;
    } else {
      return; /* already scheduled, already notified, or done */
    }
  }
}

/* An ended task's stack, once switched away from: into w's cache, or back to the pool. */
static void stack_release(rt_worker *w, asx_task *t) {
  asx_runtime *rt = w->rt;
  if (t->stack.size == asx_stack_pool_default_size(rt->stacks) &&
      w->nstacks < sizeof(w->stacks) / sizeof(w->stacks[0]))
    w->stacks[w->nstacks++] = t->stack;
  else
    asx_stack_put(rt->stacks, &t->stack);
}

void rt_after_switch_pending(rt_worker *w) {
  asx_task *p = w->pending_block;
  if (p) {
    w->pending_block = NULL;
    rt_block_finish(w, p);
  }
  p = w->pending_done;
  if (p) {
    w->pending_done = NULL;
    stack_release(w, p);
    rt_task_unref(p, w); /* never the last task: that one always ends through the worker */
  }
}

void rt_run_task(rt_worker *w, asx_task *t) {
  asx_runtime *rt = w->rt;
  /* Only the queue's owner of a SCHEDULED task gets here, and wakers never change SCHEDULED, so
   * this plain load is exact: anything else means the task was queued twice. */
  if (atomic_load_explicit(&t->state, memory_order_relaxed) != TS_SCHEDULED) {
    atomic_fetch_add(&rt->sched_violations, 1);
    return; /* never run a task that may be running elsewhere */
  }
  atomic_store_explicit(&t->state, TS_RUNNING, memory_order_release);
  t->worker = w;
  w->current = t;
  w->switches++;
  asx_overflow_set_current(&t->stack, t->name ? t->name : "task");
  asx_ctx_switch(&w->sched_ctx, &t->ctx);
  /* With task-to-task yields (rt_yield) the task that switched back may not be the one started. */
  t = w->current;
  asx_overflow_set_current(NULL, NULL);
  w->current = NULL;
  switch (t->switch_reason) {
  case SW_YIELD:
    atomic_store_explicit(&t->state, TS_SCHEDULED, memory_order_release);
    rt->drv->ready(rt->drv_state, w, t, RT_READY_YIELD);
    break;
  case SW_BLOCK:
    rt_block_finish(w, t);
    break;
  case SW_QUEUED:
    break; /* its yield fast path already queued it */
  case SW_DONE:
    stack_release(w, t);
    rt_task_complete(t, w);
    break;
  case SW_DONE_COMPLETED: {
    bool last = t->done_last;
    stack_release(w, t);
    rt_task_unref(t, w);
    if (last) rt_driver_stop(rt); /* the last task: nothing can spawn any more */
    break;
  }
  default:
    break;
  }
}

void rt_block_finish(rt_worker *w, asx_task *t) {
  int expected = TS_RUNNING;
  if (!atomic_compare_exchange_strong_explicit(&t->state, &expected, TS_IDLE, memory_order_acq_rel,
                                               memory_order_acquire)) {
    /* NOTIFIED while it was going to sleep: nobody else will queue it, so we do. */
    atomic_store_explicit(&t->state, TS_SCHEDULED, memory_order_release);
    t->rt->drv->ready(t->rt->drv_state, w, t, RT_READY_WAKE);
  }
}

void rt_worker_flush_stacks(rt_worker *w) {
  while (w->nstacks) asx_stack_put(w->rt->stacks, &w->stacks[--w->nstacks]);
  while (w->ntasks) {
    asx_task *t = w->tasks[--w->ntasks];
    RT_UNPOISON(t, sizeof(*t));
    asx_free(w->rt->alloc, t);
  }
}

void rt_switch_out(asx_task *t, int reason) {
  t->switch_reason = reason;
  if (reason == SW_BLOCK) {
    rt_block(t);
    return;
  }
  asx_ctx_switch(&t->ctx, &t->worker->sched_ctx);
  rt_after_switch(t->worker);
}

void rt_yield(asx_task *t) {
  rt_worker *w = t->worker;
  asx_runtime *rt = t->rt;
  asx_task *n;
  if (!rt->drv->yield_next || !rt->drv->yield_next(rt->drv_state, w, t, &n)) {
    rt_switch_out(t, SW_YIELD);
    return;
  }
  /* t is queued where only this thread can take it: until the switch below saves its context,
   * nobody else can resume it. Claim n exactly as rt_run_task does. */
  if (n && atomic_load_explicit(&n->state, memory_order_relaxed) != TS_SCHEDULED) {
    atomic_fetch_add(&rt->sched_violations, 1); /* queued twice: never run it (see rt_run_task) */
    n = NULL;
  }
  if (!n) {
    rt_switch_out(t, SW_QUEUED);
    return;
  }
  atomic_store_explicit(&n->state, TS_RUNNING, memory_order_release);
  n->worker = w;
  w->switches++;
  if (n == t) return; /* nothing else to run: keep going */
  w->current = n;
  asx_overflow_set_current(&n->stack, n->name ? n->name : "task");
  asx_ctx_switch_same_site(&t->ctx, &n->ctx); /* n is most often suspended right here too */
  /* Resumed (by a worker or by another task), possibly on another worker. */
  rt_after_switch(t->worker);
}

static void timer_wake(rt_timer *tm, rt_worker *w) {
  asx_runtime *rt = tm->task->rt;
  if (rt->cfg.trace) {
    asx_trace_event ev = rt_event(rt, ASX_TRACE_TIMER_FIRED, tm->task, NULL);
    ev.value = tm->node.deadline;
    rt_trace(rt, &ev);
  }
  rt_wake(tm->task, w);
}

int rt_wait(asx_task *t, uint64_t until) {
  if (rt_cancel_observable(t)) return ASX_ECANCELED;
  asx_runtime *rt = t->rt;
  uint64_t budget_deadline = t->mask == 0 ? t->budget.deadline_ns : ASX_UNLIMITED;
  uint64_t wake_at = until < budget_deadline ? until : budget_deadline;
  if (wake_at == ASX_UNLIMITED) {
    rt_switch_out(t, SW_BLOCK);
    return rt_cancel_observable(t) ? ASX_ECANCELED : 0;
  }
  uint64_t now = rt_now(rt);
  if (now < wake_at) {
    rt_timer tm = {.fire = timer_wake, .task = t};
    asx_timer_node_init(&tm.node);
    tm.node.deadline = wake_at;
    int err = rt->drv->timer_arm(rt->drv_state, &tm);
    if (err) return err;
    rt_switch_out(t, SW_BLOCK);
    rt->drv->timer_disarm(rt->drv_state, &tm);
    now = rt_now(rt);
  }
  if (now >= budget_deadline) rt_budget_exhausted(t, ASX_CANCEL_DEADLINE);
  if (rt_cancel_observable(t)) return ASX_ECANCELED;
  if (now >= until) return ASX_ETIMEDOUT;
  return 0;
}

void rt_wait_uninterruptible(asx_task *t) { rt_switch_out(t, SW_BLOCK); }

/* The locked part of completion: DONE, out of its region, outcome, joiner/closer woken. Returns
 * the number of live tasks left. t keeps its live reference (dropped by the caller). */
static uint64_t complete_locked(asx_task *t, rt_worker *w) {
  asx_runtime *rt = t->rt;
  asx_region *r = t->region;
  pthread_mutex_lock(&rt->tree_lock);
  atomic_store_explicit(&t->state, TS_DONE, memory_order_release);
  t->done = true; /* from now on no cancellation touches t, so no one re-arms its watchdog */
  if (t->watch_armed) rt->drv->timer_disarm(rt->drv_state, &t->cleanup_timer);
  rt_list_remove(&t->region_link);
  r->ntasks--;
  r->outcome = asx_outcome_join(r->outcome, t->outcome);
  if (r->policy == ASX_REGION_FAIL_FAST &&
      (t->outcome == ASX_OUTCOME_ERR || t->outcome == ASX_OUTCOME_PANICKED))
    rt_cancel_region_locked(r, ASX_CANCEL_FAIL_FAST,
                            rt_now(rt) + rt_cleanup_budget(rt, ASX_CANCEL_FAIL_FAST), w);
  if (t->joiner) {
    rt_wake(t->joiner, w);
    t->joiner = NULL; /* the joiner may already have left on seeing TS_DONE */
  }
  if (r->ntasks == 0 && r->nchildren == 0 && r->closer) rt_wake(r->closer, w);
  uint64_t live = rt_counter_add(&rt->live_tasks, -1);
  pthread_mutex_unlock(&rt->tree_lock);
  return live;
}

void rt_task_complete(asx_task *t, rt_worker *w) {
  asx_runtime *rt = t->rt;
  uint64_t live = complete_locked(t, w);
  rt_task_unref(t, w);
  if (live == 0) rt_driver_stop(rt); /* the last task: nothing can spawn any more */
}

/* The exit fast path: complete on the ending task's own stack (it keeps its live reference, so
 * its struct, where the final switch saves, stays valid; DONE makes wakers and cancellation
 * leave it alone), then switch straight to the next local task, e.g. the joiner just woken,
 * which releases the stack and the reference (rt_after_switch). The last task, or no local
 * pick, goes through the worker as before. */
_Noreturn void rt_task_exit_switch(asx_task *t) {
  rt_worker *w = t->worker;
  asx_runtime *rt = t->rt;
  t->switch_reason = SW_DONE;
  if (rt->drv->block_next) {
    t->done_last = complete_locked(t, w) == 0;
    t->switch_reason = SW_DONE_COMPLETED;
    asx_task *n = t->done_last ? NULL : rt->drv->block_next(rt->drv_state, w);
    if (n && atomic_load_explicit(&n->state, memory_order_relaxed) != TS_SCHEDULED) {
      atomic_fetch_add(&rt->sched_violations, 1); /* queued twice: never run it (see rt_run_task) */
      n = NULL;
    }
    if (n) {
      atomic_store_explicit(&n->state, TS_RUNNING, memory_order_release);
      n->worker = w;
      w->current = n;
      w->switches++;
      w->pending_done = t;
      asx_overflow_set_current(&n->stack, n->name ? n->name : "task");
      asx_ctx_switch_final(&t->ctx, &n->ctx);
      __builtin_unreachable();
    }
  }
  asx_ctx_switch_final(&t->ctx, &w->sched_ctx);
  __builtin_unreachable();
}

void rt_driver_stop(asx_runtime *rt) { rt->drv->stop(rt->drv_state); }

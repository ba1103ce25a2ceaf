/* The production driver: N worker threads (the caller of asx_runtime_run is worker 0), each with
 * a work-stealing deque and a LIFO slot, a shared injection queue, steal-half, futex parking,
 * CLOCK_MONOTONIC and a mutex-protected timer heap.
 *
 * Parking without lost wakeups (a Dekker pair of SC fences):
 *   waker:  publish work (deque/inject push); fence(seq_cst); if nsleeping > 0: claim a worker
 *           whose `sleeping` flag is 1 (CAS 1 -> 0) and unpark it.
 *   idler:  sleeping = 1; nsleeping++; fence(seq_cst); re-check every source of work; park.
 * Either the waker sees the sleeper or the sleeper sees the work. The parker keeps a permit, so
 * an unpark that lands before park makes park return at once. */
#include <pthread.h>
#include <stdlib.h>

#include "ll/clock.h"
#include "ll/injectq.h"
#include "ll/parker.h"
#include "ll/rng.h"
#include "ll/wsdeque.h"
#include "rt_internal.h"

#define LIFO_STREAK_MAX 8   /* LIFO runs in a row before the deque gets a turn (fairness) */
#define GLOBAL_INTERVAL 61  /* every N picks look at the injection queue first (fairness) */
#define CANCEL_STREAK_MAX 16 /* cancel-lane picks in a row before ready work gets a turn */
#define TIMED_STREAK_MAX 32  /* timed-lane picks in a row before ready work gets a turn */

typedef struct thr_driver thr_driver;

typedef struct thr_worker {
  rt_worker base;
  thr_driver *d;
  asx_wsdeque dq;
  asx_task *lifo;
  unsigned lifo_streak;
  asx_qnode *yq_head, *yq_tail; /* owner-only FIFO of yielded tasks (not stealable) */
  unsigned cancel_streak, timed_streak;
  unsigned tick;
  asx_parker parker;
  _Atomic int sleeping;
  _Atomic int in_io; /* sleeping inside cfg.io.wait rather than on the parker */
  asx_rng rng;
  pthread_t thread;
  pthread_t self_thread; /* set by the worker itself: pthread_create does not start w[0] */
  uint64_t steals, parks;
} thr_worker;

struct thr_driver {
  asx_runtime *rt;
  unsigned n;
  thr_worker *w;
  asx_injectq inject;
  asx_injectq cancel_lane; /* woken tasks that must drain: served first, streak-capped */
  /* The timed lane: ready tasks whose budget has a deadline, earliest first (ties: FIFO). An
   * intrusive sorted list scanned from the tail: later deadlines are the common case. */
  pthread_mutex_t timed_lock;
  rt_link timed;
  _Atomic size_t ntimed;
  _Atomic unsigned nsleeping;
  _Atomic int io_owner; /* one worker at a time waits for / polls I/O readiness */
  _Atomic(thr_worker *) poller; /* the worker blocked in cfg.io.wait (idle), else NULL */
  _Atomic int stop;
  pthread_mutex_t timer_lock;
  asx_timer_heap timers;
  _Atomic uint64_t next_deadline;
  asx_rng rng; /* asx_random from foreign threads (under timer_lock) */
};

static int thr_init(asx_runtime *rt, void **state) {
  thr_driver *d = asx_calloc(rt->alloc, 1, sizeof(*d));
  if (!d) return ASX_ENOMEM;
  d->rt = rt;
  d->n = rt->cfg.workers;
  d->w = asx_calloc(rt->alloc, d->n, sizeof(*d->w));
  if (!d->w) goto fail_d;
  unsigned i;
  for (i = 0; i < d->n; i++) {
    thr_worker *w = &d->w[i];
    w->base.rt = rt;
    w->base.index = i;
    w->d = d;
    asx_parker_init(&w->parker);
    if (asx_wsdeque_init(&w->dq, rt->cfg.deque_capacity) != 0) goto fail_w;
  }
  asx_injectq_init(&d->inject);
  asx_injectq_init(&d->cancel_lane);
  if (asx_timer_heap_init(&d->timers, rt->alloc) != 0) goto fail_q;
  pthread_mutex_init(&d->timer_lock, NULL);
  pthread_mutex_init(&d->timed_lock, NULL);
  rt_list_init(&d->timed);
  atomic_init(&d->next_deadline, ASX_UNLIMITED);
  *state = d;
  return 0;
fail_q:
  asx_injectq_destroy(&d->cancel_lane);
  asx_injectq_destroy(&d->inject);
fail_w:
  while (i-- > 0) asx_wsdeque_destroy(&d->w[i].dq);
  asx_free(rt->alloc, d->w);
fail_d:
  asx_free(rt->alloc, d);
  return ASX_ENOMEM;
}

static void thr_destroy(void *state) {
  thr_driver *d = state;
  for (unsigned i = 0; i < d->n; i++) asx_wsdeque_destroy(&d->w[i].dq);
  asx_injectq_destroy(&d->inject);
  asx_injectq_destroy(&d->cancel_lane);
  asx_timer_heap_destroy(&d->timers);
  pthread_mutex_destroy(&d->timer_lock);
  pthread_mutex_destroy(&d->timed_lock);
  asx_free(d->rt->alloc, d->w);
  asx_free(d->rt->alloc, d);
}

static void notify_one(thr_driver *d, thr_worker *self) {
  /* One worker and the caller is it: it is running, so nobody is asleep (nor in cfg.io.wait)
   * to tell, and the Dekker fence below would be pure cost on every spawn and wake. */
  if (self && d->n == 1) return;
  /* Called by the poller itself (wakes from cfg.io.wait arrive with no worker): the task is
   * already queued where this thread looks first when io.wait returns (inject, cancel or timed
   * lane), so for the first such wake nobody needs telling. Taking our own `sleeping` flag marks
   * that; later wakes of the same poll see it taken and notify another worker as usual. Only
   * the polling thread can pass the pthread_equal test, so a foreign wake is never skipped. */
  if (!self) {
    thr_worker *p = atomic_load_explicit(&d->poller, memory_order_relaxed);
    if (p && pthread_equal(p->self_thread, pthread_self()) &&
        atomic_exchange(&p->sleeping, 0) == 1)
      return;
  }
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&d->nsleeping, memory_order_relaxed) == 0) return;
  for (unsigned i = 0; i < d->n; i++) {
    int one = 1;
    if (atomic_compare_exchange_strong(&d->w[i].sleeping, &one, 0)) {
      if (atomic_load(&d->w[i].in_io))
        d->rt->cfg.io.interrupt(d->rt->cfg.io.ud);
      else
        asx_parker_unpark(&d->w[i].parker);
      return;
    }
  }
}

static void yq_push(thr_worker *w, asx_task *t) {
  t->qnode.next = NULL;
  if (w->yq_tail)
    w->yq_tail->next = &t->qnode;
  else
    w->yq_head = &t->qnode;
  w->yq_tail = &t->qnode;
}

static asx_task *yq_pop(thr_worker *w) {
  asx_qnode *n = w->yq_head;
  if (!n) return NULL;
  w->yq_head = n->next;
  if (!w->yq_head) w->yq_tail = NULL;
  return RT_CONTAINER_OF(n, asx_task, qnode);
}

static void timed_push(thr_driver *d, asx_task *t) {
  uint64_t dl = t->budget.deadline_ns; /* fixed at spawn: safe to read from any thread */
  pthread_mutex_lock(&d->timed_lock);
  rt_link *pos = d->timed.prev;
  while (pos != &d->timed && RT_CONTAINER_OF(pos, asx_task, lane_link)->budget.deadline_ns > dl)
    pos = pos->prev;
  rt_list_push_front(pos, &t->lane_link); /* insert after pos */
  atomic_fetch_add(&d->ntimed, 1);
  pthread_mutex_unlock(&d->timed_lock);
}

static asx_task *timed_pop(thr_driver *d) {
  if (atomic_load_explicit(&d->ntimed, memory_order_acquire) == 0) return NULL;
  asx_task *t = NULL;
  pthread_mutex_lock(&d->timed_lock);
  if (!rt_list_empty(&d->timed)) {
    t = RT_CONTAINER_OF(d->timed.next, asx_task, lane_link);
    rt_list_remove(&t->lane_link);
    atomic_fetch_sub(&d->ntimed, 1);
  }
  pthread_mutex_unlock(&d->timed_lock);
  return t;
}

static void thr_ready(void *state, rt_worker *bw, asx_task *t, rt_ready_kind kind) {
  thr_driver *d = state;
  thr_worker *w = (thr_worker *)bw;
  if (t->budget.deadline_ns != ASX_UNLIMITED &&
      atomic_load_explicit(&t->cancel_kind, memory_order_relaxed) == 0) {
    timed_push(d, t);
    notify_one(d, w);
    return;
  }
  if (kind == RT_READY_WAKE && atomic_load_explicit(&t->cancel_kind, memory_order_relaxed) != 0) {
    /* The cancel lane: a task that must drain runs before ordinary ready work. */
    asx_injectq_push(&d->cancel_lane, &t->qnode);
    notify_one(d, w);
    return;
  }
  if (w && kind == RT_READY_YIELD &&
      atomic_load_explicit(&d->nsleeping, memory_order_relaxed) == 0) {
    /* Everyone is busy: keep the yielder local (FIFO, so it runs after the others). */
    yq_push(w, t);
    return;
  }
  if (!w || kind == RT_READY_YIELD) {
    /* Foreign threads, and yields while some worker idles, go through the FIFO injection queue:
     * a yielding task must not be popped straight back from the LIFO end of its own deque. */
    asx_injectq_push(&d->inject, &t->qnode);
  } else if (kind == RT_READY_WAKE && !d->rt->cfg.disable_lifo_slot) {
    asx_task *prev = w->lifo;
    w->lifo = t;
    if (prev && !asx_wsdeque_push(&w->dq, prev)) asx_injectq_push(&d->inject, &prev->qnode);
    if (!prev) return; /* the LIFO slot is only ours to run: no one else to wake for it */
  } else if (!asx_wsdeque_push(&w->dq, t)) {
    asx_injectq_push(&d->inject, &t->qnode);
  }
  notify_one(d, w);
}

static asx_task *inject_pop(thr_driver *d) {
  if (asx_injectq_len(&d->inject) == 0) return NULL;
  asx_qnode *n = asx_injectq_pop(&d->inject);
  return n ? RT_CONTAINER_OF(n, asx_task, qnode) : NULL;
}

static asx_task *find_task(thr_worker *w) {
  thr_driver *d = w->d;
  asx_task *t;
  if (asx_injectq_len(&d->cancel_lane) > 0) {
    if (w->cancel_streak < CANCEL_STREAK_MAX) {
      asx_qnode *n = asx_injectq_pop(&d->cancel_lane);
      if (n) {
        w->cancel_streak++;
        return RT_CONTAINER_OF(n, asx_task, qnode);
      }
    }
    w->cancel_streak = 0; /* one turn for the other lanes, then the cancel lane again */
  }
  if (atomic_load_explicit(&d->ntimed, memory_order_relaxed) > 0) {
    if (w->timed_streak < TIMED_STREAK_MAX) {
      if ((t = timed_pop(d))) {
        w->timed_streak++;
        return t;
      }
    }
    w->timed_streak = 0;
  }
  if (--w->tick == 0) { /* a countdown: no division on the hot path */
    w->tick = GLOBAL_INTERVAL;
    const asx_io_hooks *io = &d->rt->cfg.io;
    if (io->wait && !atomic_exchange(&d->io_owner, 1)) {
      io->wait(io->ud, 0); /* busy workers still poll I/O now and then */
      atomic_store(&d->io_owner, 0);
    }
    /* The deque pops newest-first: also take its OLDEST item now and then, so work buried under
     * a stream of fresh pushes (e.g. a ping-pong pair) cannot starve. */
    if ((t = inject_pop(d)) || (t = yq_pop(w)) || (t = asx_wsdeque_steal(&w->dq))) return t;
  }
  if (w->lifo) {
    t = w->lifo;
    w->lifo = NULL;
    if (w->lifo_streak < LIFO_STREAK_MAX) {
      w->lifo_streak++;
      return t;
    }
    /* Streak exhausted: queue it behind the others (FIFO: a deque push would pop it right back). */
    if (atomic_load_explicit(&d->nsleeping, memory_order_relaxed) == 0)
      yq_push(w, t);
    else
      asx_injectq_push(&d->inject, &t->qnode);
  }
  w->lifo_streak = 0;
  /* With one worker nobody steals (the only other reader of the deque is this thread's own
   * fairness steal above): the fence-free pop is exact. */
  if ((t = d->n == 1 ? asx_wsdeque_pop_unshared(&w->dq) : asx_wsdeque_pop(&w->dq))) return t;
  if ((t = yq_pop(w))) return t;
  if ((t = inject_pop(d))) return t;
  if (asx_injectq_len(&d->cancel_lane) > 0) {
    asx_qnode *n = asx_injectq_pop(&d->cancel_lane);
    if (n) return RT_CONTAINER_OF(n, asx_task, qnode);
  }
  if ((t = timed_pop(d))) return t;
  if (d->n > 1) {
    unsigned start = (unsigned)asx_rng_below(&w->rng, d->n);
    for (unsigned k = 0; k < d->n; k++) {
      thr_worker *v = &d->w[(start + k) % d->n];
      if (v == w) continue;
      if (asx_wsdeque_len(&v->dq) == 0) continue;
      if ((t = asx_wsdeque_steal_into(&v->dq, &w->dq))) {
        w->steals++;
        /* More was moved into our deque: let a sleeper help with it. */
        if (asx_wsdeque_len(&w->dq) > 0) notify_one(d, w);
        return t;
      }
    }
  }
  return NULL;
}

static inline void fire_due(thr_driver *d, thr_worker *w);

/* The yield fast path (rt_driver_ops.yield_next), run on the yielding task's stack. Taken only
 * when thr_ready would put t in w's private yield FIFO anyway (no deadline lane, no idle worker)
 * and this pick is not the periodic one that polls I/O (cfg.io.wait must not run on a task
 * stack): then t is queued where no other thread can see it, and the next task is chosen by
 * exactly the loop the worker would run (fire_due + find_task). */
static bool thr_yield_next(void *state, rt_worker *bw, asx_task *t, asx_task **next) {
  thr_driver *d = state;
  thr_worker *w = (thr_worker *)bw;
  if (t->budget.deadline_ns != ASX_UNLIMITED || w->tick <= 1 ||
      atomic_load_explicit(&d->nsleeping, memory_order_relaxed) != 0)
    return false;
  atomic_store_explicit(&t->state, TS_SCHEDULED, memory_order_release);
  yq_push(w, t);
  fire_due(d, w);
  *next = find_task(w); /* never NULL in practice: t itself is in the yield FIFO */
  return true;
}

/* The block fast path (rt_driver_ops.block_next), run on the blocking task's stack: the next
 * task by exactly the loop the worker would run (fire_due + find_task), unless this is the
 * I/O-poll pick (cfg.io.wait must not run on a task stack). */
static asx_task *thr_block_next(void *state, rt_worker *bw) {
  thr_driver *d = state;
  thr_worker *w = (thr_worker *)bw;
  if (w->tick <= 1) return NULL;
  fire_due(d, w);
  return find_task(w);
}

static void fire_due_slow(thr_driver *d, thr_worker *w);

/* Inline fast check (no timer armed is the common case on the hot paths), the rest out of line. */
static inline void fire_due(thr_driver *d, thr_worker *w) {
  uint64_t next = atomic_load_explicit(&d->next_deadline, memory_order_acquire);
  if (next != ASX_UNLIMITED) fire_due_slow(d, w);
}

static void fire_due_slow(thr_driver *d, thr_worker *w) {
  uint64_t next = atomic_load_explicit(&d->next_deadline, memory_order_acquire);
  if (next == ASX_UNLIMITED || asx_clock_mono_ns() < next) return;
  pthread_mutex_lock(&d->timer_lock);
  uint64_t now = asx_clock_mono_ns();
  asx_timer_node *n;
  while ((n = asx_timer_heap_peek(&d->timers)) && n->deadline <= now) {
    asx_timer_heap_pop(&d->timers);
    rt_timer *tm = RT_CONTAINER_OF(n, rt_timer, node);
    tm->armed = false;
    tm->fired = true;
    tm->fire(tm, &w->base); /* under the lock: the timer's owner cannot be gone */
  }
  n = asx_timer_heap_peek(&d->timers);
  atomic_store_explicit(&d->next_deadline, n ? n->deadline : ASX_UNLIMITED, memory_order_release);
  pthread_mutex_unlock(&d->timer_lock);
}

static bool work_visible(thr_driver *d, thr_worker *self) {
  if (atomic_load(&d->stop)) return true;
  if (asx_injectq_len(&d->inject) > 0 || asx_injectq_len(&d->cancel_lane) > 0 ||
      atomic_load(&d->ntimed) > 0)
    return true;
  for (unsigned i = 0; i < d->n; i++)
    if (&d->w[i] != self && asx_wsdeque_len(&d->w[i].dq) > 0) return true;
  return asx_wsdeque_len(&self->dq) > 0;
}

static void idle(thr_driver *d, thr_worker *w) {
  const asx_io_hooks *io = &d->rt->cfg.io;
  /* Claim the I/O role first so that in_io is visible before `sleeping` is. */
  bool io_role = io->wait && !atomic_exchange(&d->io_owner, 1);
  if (io_role) atomic_store(&w->in_io, 1);
  atomic_store(&w->sleeping, 1);
  atomic_fetch_add(&d->nsleeping, 1);
  atomic_thread_fence(memory_order_seq_cst);
  uint64_t next = atomic_load(&d->next_deadline);
  uint64_t now = next == ASX_UNLIMITED ? 0 : asx_clock_mono_ns();
  if (!work_visible(d, w) && (next == ASX_UNLIMITED || next > now)) {
    w->parks++;
    int64_t timeout = next == ASX_UNLIMITED ? -1 : (int64_t)(next - now);
    if (io_role) {
      atomic_store_explicit(&d->poller, w, memory_order_relaxed);
      io->wait(io->ud, timeout);
      atomic_store_explicit(&d->poller, NULL, memory_order_relaxed);
    } else
      asx_parker_park(&w->parker, timeout);
  }
  atomic_store(&w->sleeping, 0);
  atomic_fetch_sub(&d->nsleeping, 1);
  if (io_role) {
    atomic_store(&w->in_io, 0);
    atomic_store(&d->io_owner, 0);
  }
}

static void worker_loop(thr_worker *w) {
  thr_driver *d = w->d;
  w->self_thread = pthread_self();
  asx_ctx_init_thread(&w->base.sched_ctx);
  asx_overflow_thread_init();
  while (!atomic_load_explicit(&d->stop, memory_order_acquire)) {
    fire_due(d, w);
    asx_task *t = find_task(w);
    if (t)
      rt_run_task(&w->base, t);
    else
      idle(d, w);
  }
  rt_worker_flush_stacks(&w->base);
  asx_overflow_thread_fini();
}

static void *worker_thread(void *arg) {
  worker_loop(arg);
  return NULL;
}

static int thr_run(void *state) {
  thr_driver *d = state;
  atomic_store(&d->stop, 0);
  for (unsigned i = 0; i < d->n; i++) {
    thr_worker *w = &d->w[i];
    w->lifo = NULL;
    w->yq_head = w->yq_tail = NULL;
    w->cancel_streak = w->timed_streak = 0;
    w->lifo_streak = 0;
    w->tick = GLOBAL_INTERVAL;
    w->steals = w->parks = w->base.switches = 0;
    asx_rng_seed(&w->rng, d->rt->cfg.seed + i * 0x9e3779b97f4a7c15ull);
  }
  asx_rng_seed(&d->rng, d->rt->cfg.seed ^ 0xa5a5a5a5ull);
  unsigned started = 1;
  for (; started < d->n; started++)
    if (pthread_create(&d->w[started].thread, NULL, worker_thread, &d->w[started]) != 0) break;
  worker_loop(&d->w[0]);
  for (unsigned i = 1; i < started; i++) pthread_join(d->w[i].thread, NULL);
  asx_runtime *rt = d->rt;
  for (unsigned i = 0; i < d->n; i++) {
    atomic_fetch_add(&rt->switches, d->w[i].base.switches);
    atomic_fetch_add(&rt->steals, d->w[i].steals);
    atomic_fetch_add(&rt->parks, d->w[i].parks);
  }
  return 0;
}

static uint64_t thr_now(void *state) {
  (void)state;
  return asx_clock_mono_ns();
}

static uint64_t thr_random(void *state, rt_worker *bw) {
  thr_driver *d = state;
  if (bw) return asx_rng_next(&((thr_worker *)bw)->rng);
  pthread_mutex_lock(&d->timer_lock);
  uint64_t v = asx_rng_next(&d->rng);
  pthread_mutex_unlock(&d->timer_lock);
  return v;
}

static int thr_timer_arm(void *state, rt_timer *tm) {
  thr_driver *d = state;
  pthread_mutex_lock(&d->timer_lock);
  int err = asx_timer_heap_push(&d->timers, &tm->node);
  if (err == 0) {
    tm->armed = true;
    if (tm->node.deadline < atomic_load(&d->next_deadline))
      atomic_store_explicit(&d->next_deadline, tm->node.deadline, memory_order_release);
  }
  pthread_mutex_unlock(&d->timer_lock);
  /* A sleeping worker may be parked with a later timeout: let one recompute it. */
  if (err == 0) notify_one(d, NULL);
  return err;
}

static void thr_timer_disarm(void *state, rt_timer *tm) {
  thr_driver *d = state;
  pthread_mutex_lock(&d->timer_lock);
  if (tm->armed) {
    asx_timer_heap_remove(&d->timers, &tm->node);
    tm->armed = false;
    asx_timer_node *n = asx_timer_heap_peek(&d->timers);
    atomic_store_explicit(&d->next_deadline, n ? n->deadline : ASX_UNLIMITED, memory_order_release);
  }
  pthread_mutex_unlock(&d->timer_lock);
}

static void thr_stop(void *state) {
  thr_driver *d = state;
  atomic_store_explicit(&d->stop, 1, memory_order_release);
  for (unsigned i = 0; i < d->n; i++) asx_parker_unpark(&d->w[i].parker);
  if (d->rt->cfg.io.interrupt) d->rt->cfg.io.interrupt(d->rt->cfg.io.ud);
}

const rt_driver_ops rt_driver_threads = {
    .name = "threads",
    .init = thr_init,
    .destroy = thr_destroy,
    .run = thr_run,
    .admit = NULL,
    .ready = thr_ready,
    .now = thr_now,
    .random = thr_random,
    .timer_arm = thr_timer_arm,
    .timer_disarm = thr_timer_disarm,
    .stop = thr_stop,
    .yield_next = thr_yield_next,
    .block_next = thr_block_next,
};

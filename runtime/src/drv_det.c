/* The deterministic driver: one thread, a seeded PRNG chooses among ALL ready tasks, virtual time
 * jumps to the next timer when nothing is runnable, and every choice is recorded so that two runs
 * can be compared step by step. A deadlock (nothing ready, no timer, tasks still blocked) is
 * reported; the driver then requests a shutdown cancel of the root region once, and gives up with
 * ASX_ESTATE if that does not unblock everything. */
#include "ll/rng.h"
#include "rt_internal.h"

typedef struct det_driver {
  rt_worker w;
  asx_runtime *rt;
  asx_task **ready;
  uint64_t *ready_ids; /* scratch for cfg.choose, same capacity as ready */
  size_t nready, cap;
  asx_timer_heap timers;
  uint64_t now;
  asx_rng sched_rng; /* scheduling choices */
  asx_rng user_rng;  /* asx_random: separate so user draws do not perturb the schedule */
  bool stop;
} det_driver;

static int det_init(asx_runtime *rt, void **state) {
  det_driver *d = asx_calloc(rt->alloc, 1, sizeof(*d));
  if (!d) return ASX_ENOMEM;
  d->rt = rt;
  d->w.rt = rt;
  int err = asx_timer_heap_init(&d->timers, rt->alloc);
  if (err) {
    asx_free(rt->alloc, d);
    return err;
  }
  *state = d;
  return 0;
}

static void det_destroy(void *state) {
  det_driver *d = state;
  asx_timer_heap_destroy(&d->timers);
  asx_free(d->rt->alloc, d->ready);
  asx_free(d->rt->alloc, d->ready_ids);
  asx_free(d->rt->alloc, d);
}

/* Every live task may be ready at once: keep room for all of them so ready() never fails. */
static int det_admit(void *state) {
  det_driver *d = state;
  size_t need = (size_t)atomic_load(&d->rt->live_tasks) + 1;
  if (need <= d->cap) return 0;
  size_t cap = d->cap ? d->cap * 2 : 64;
  while (cap < need) cap *= 2;
  asx_task **r = asx_realloc(d->rt->alloc, d->ready, cap * sizeof(*r));
  if (!r) return ASX_ENOMEM;
  d->ready = r;
  if (d->rt->cfg.choose) {
    uint64_t *ids = asx_realloc(d->rt->alloc, d->ready_ids, cap * sizeof(*ids));
    if (!ids) return ASX_ENOMEM; /* ready grew, cap did not: the next admit retries */
    d->ready_ids = ids;
  }
  d->cap = cap;
  return 0;
}

static void det_ready(void *state, rt_worker *w, asx_task *t, rt_ready_kind kind) {
  (void)w;
  (void)kind;
  det_driver *d = state;
  d->ready[d->nready++] = t;
}

static uint64_t det_now(void *state) { return ((det_driver *)state)->now; }

static uint64_t det_random(void *state, rt_worker *w) {
  (void)w;
  return asx_rng_next(&((det_driver *)state)->user_rng);
}

static int det_timer_arm(void *state, rt_timer *tm) {
  det_driver *d = state;
  int err = asx_timer_heap_push(&d->timers, &tm->node);
  if (err == 0) tm->armed = true;
  return err;
}

static void det_timer_disarm(void *state, rt_timer *tm) {
  det_driver *d = state;
  if (tm->armed) asx_timer_heap_remove(&d->timers, &tm->node);
  tm->armed = false;
}

static void det_stop(void *state) { ((det_driver *)state)->stop = true; }

static void fire_due(det_driver *d) {
  asx_timer_node *n;
  while ((n = asx_timer_heap_peek(&d->timers)) && n->deadline <= d->now) {
    asx_timer_heap_pop(&d->timers);
    rt_timer *tm = RT_CONTAINER_OF(n, rt_timer, node);
    tm->armed = false;
    tm->fired = true;
    tm->fire(tm, &d->w);
  }
}

static int det_run(void *state) {
  det_driver *d = state;
  asx_runtime *rt = d->rt;
  asx_rng_seed(&d->sched_rng, rt->cfg.seed);
  asx_rng_seed(&d->user_rng, rt->cfg.seed ^ 0x9e3779b97f4a7c15ull);
  d->stop = false;
  d->now = 0;
  d->w.switches = 0;
  asx_ctx_init_thread(&d->w.sched_ctx);
  asx_overflow_thread_init();
  bool shutdown_tried = false;
  int result = 0;
  while (!d->stop) {
    fire_due(d);
    if (d->nready > 0) {
      uint32_t n = (uint32_t)d->nready;
      uint32_t i;
      if (rt->cfg.choose) {
        for (uint32_t k = 0; k < n; k++) d->ready_ids[k] = d->ready[k]->id;
        i = rt->cfg.choose(rt->cfg.choose_ud, n, d->ready_ids) % n;
      } else {
        i = (uint32_t)asx_rng_below(&d->sched_rng, n);
      }
      asx_task *t = d->ready[i];
      d->ready[i] = d->ready[n - 1];
      d->nready--;
      if (rt->cfg.record_choices) {
        rt_record_choice(rt, n, i, t->id);
        asx_trace_event ev = rt_event(rt, ASX_TRACE_SCHED_CHOICE, t, NULL);
        ev.value = i;
        ev.code = (int)n;
        rt_trace(rt, &ev);
      }
      rt_run_task(&d->w, t);
      continue;
    }
    asx_timer_node *next = asx_timer_heap_peek(&d->timers);
    if (next) {
      if (next->deadline > d->now) d->now = next->deadline; /* virtual time jumps */
      continue;
    }
    /* Nothing ready, no timer, tasks still alive: a deadlock. */
    atomic_fetch_add(&rt->deadlocks, 1);
    asx_trace_event ev = rt_event(rt, ASX_TRACE_DEADLOCK, NULL, rt->root);
    ev.value = atomic_load(&rt->live_tasks);
    rt_trace(rt, &ev);
    if (shutdown_tried) {
      result = ASX_ESTATE;
      break;
    }
    shutdown_tried = true;
    asx_region_cancel(rt->root, ASX_CANCEL_SHUTDOWN);
  }
  rt_worker_flush_stacks(&d->w);
  asx_overflow_thread_fini();
  atomic_fetch_add(&rt->switches, d->w.switches);
  return result;
}

const rt_driver_ops rt_driver_det = {
    .name = "deterministic",
    .init = det_init,
    .destroy = det_destroy,
    .run = det_run,
    .admit = det_admit,
    .ready = det_ready,
    .now = det_now,
    .random = det_random,
    .timer_arm = det_timer_arm,
    .timer_disarm = det_timer_disarm,
    .stop = det_stop,
};

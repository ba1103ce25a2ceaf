/* Runtime lifecycle: configuration, creation, running a main task to quiescence, statistics,
 * trace emission and the names of enums. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

#define DEFAULT_STACK (256u * 1024u)
#define DEFAULT_POLL_BUDGET 61u
#define MS 1000000ull

void asx_runtime_config_default(asx_runtime_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->workers = 0;
  cfg->stack_size = DEFAULT_STACK;
  cfg->driver = ASX_DRIVER_THREADS;
  cfg->seed = 0x5eed;
  cfg->poll_budget = DEFAULT_POLL_BUDGET;
  cfg->deque_capacity = 256;
}

/* Generous for a user's cancel, tight for shutdown (DESIGN.md, "Drain"). */
static uint64_t default_cleanup_budget(asx_cancel_kind k) {
  switch (k) {
  case ASX_CANCEL_USER: return 5000 * MS;
  case ASX_CANCEL_SHUTDOWN: return 250 * MS;
  default: return 1000 * MS;
  }
}

uint64_t rt_cleanup_budget(asx_runtime *rt, asx_cancel_kind k) {
  if ((int)k <= 0 || k >= ASX_CANCEL_KIND_COUNT) return default_cleanup_budget(ASX_CANCEL_USER);
  uint64_t b = rt->cfg.cleanup_budget_ns[k];
  return b ? b : default_cleanup_budget(k);
}

int asx_runtime_new(const asx_runtime_config *cfg, asx_runtime **out) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_runtime_config c;
  if (cfg)
    c = *cfg;
  else
    asx_runtime_config_default(&c);
  if (c.driver != ASX_DRIVER_THREADS && c.driver != ASX_DRIVER_DETERMINISTIC) return ASX_EINVAL;
  if (c.workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c.workers = n > 0 ? (unsigned)n : 1u;
  }
  if (c.workers > 1024) return ASX_EINVAL;
  if (c.driver == ASX_DRIVER_DETERMINISTIC) c.workers = 1;
  if (c.stack_size == 0) c.stack_size = DEFAULT_STACK;
  if (c.poll_budget == 0) c.poll_budget = DEFAULT_POLL_BUDGET;
  if (c.deque_capacity == 0) c.deque_capacity = 256;
  if (c.deque_capacity & (c.deque_capacity - 1)) return ASX_EINVAL;
  if ((c.io.wait == NULL) != (c.io.interrupt == NULL)) return ASX_EINVAL;

  asx_runtime *rt = asx_calloc(c.alloc, 1, sizeof(*rt));
  if (!rt) return ASX_ENOMEM;
  rt->cfg = c;
  rt->alloc = c.alloc;
  rt->drv = c.driver == ASX_DRIVER_DETERMINISTIC ? &rt_driver_det : &rt_driver_threads;
  atomic_init(&rt->next_id, 1);
  if (pthread_mutex_init(&rt->tree_lock, NULL) != 0) {
    asx_free(c.alloc, rt);
    return ASX_ENOMEM;
  }
  int err = asx_stack_pool_new(c.stack_size, 64, &rt->stacks);
  if (err == 0) {
    err = rt->drv->init(rt, &rt->drv_state);
    if (err != 0) asx_stack_pool_free(rt->stacks);
  }
  if (err != 0) {
    pthread_mutex_destroy(&rt->tree_lock);
    asx_free(c.alloc, rt);
    return err;
  }
  asx_overflow_handler_install();
  *out = rt;
  return 0;
}

void asx_runtime_free(asx_runtime *rt) {
  if (!rt) return;
  rt->drv->destroy(rt->drv_state);
  asx_stack_pool_free(rt->stacks);
  pthread_mutex_destroy(&rt->tree_lock);
  asx_free(rt->alloc, rt->choices);
  asx_free(rt->alloc, rt);
}

int asx_runtime_run(asx_runtime *rt, asx_task_fn fn, void *arg, int *rc, asx_outcome *outcome) {
  if (!rt || !fn || rt->running) return ASX_EINVAL;
  rt->nchoices = 0;
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "root";
  asx_region *root;
  int err = rt_region_new(rt, NULL, NULL, &ro, &root);
  if (err) return err;
  pthread_mutex_lock(&rt->tree_lock);
  rt->root = root;
  pthread_mutex_unlock(&rt->tree_lock);
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = "main";
  asx_task *main_task;
  err = rt_spawn(rt, NULL, root, fn, arg, &so, &main_task, NULL);
  if (err) {
    pthread_mutex_lock(&rt->tree_lock);
    rt->root = NULL;
    pthread_mutex_unlock(&rt->tree_lock);
    rt_region_finalize(root, NULL);
    return err;
  }
  rt->running = true;
  int run_err = rt->drv->run(rt->drv_state);
  rt->running = false;
  if (run_err == 0) {
    if (rc) *rc = main_task->rc;
    asx_task_release(main_task);
    pthread_mutex_lock(&rt->tree_lock);
    asx_outcome o = root->outcome;
    rt->root = NULL;
    pthread_mutex_unlock(&rt->tree_lock);
    rt_region_finalize(root, NULL);
    if (outcome) *outcome = o;
  } else {
    /* Tasks are still blocked (deterministic deadlock): they and the root region are leaked on
     * purpose, visible in the stats; their stacks may still be referenced. */
    pthread_mutex_lock(&rt->tree_lock);
    rt->root = NULL;
    pthread_mutex_unlock(&rt->tree_lock);
  }
  return run_err;
}

void asx_runtime_cancel(asx_runtime *rt, asx_cancel_kind kind) {
  if (!rt || kind == ASX_CANCEL_NONE) return;
  pthread_mutex_lock(&rt->tree_lock);
  if (rt->root) rt_cancel_region_locked(rt->root, kind, rt_now(rt) + rt_cleanup_budget(rt, kind), NULL);
  pthread_mutex_unlock(&rt->tree_lock);
}

void asx_runtime_stats_get(const asx_runtime *crt, asx_runtime_stats *s) {
  asx_runtime *rt = (asx_runtime *)crt;
  memset(s, 0, sizeof(*s));
  s->live_tasks = atomic_load(&rt->live_tasks);
  s->live_regions = atomic_load(&rt->live_regions);
  s->unresolved_obligations = atomic_load(&rt->unresolved);
  s->tasks_spawned = atomic_load(&rt->spawned);
  s->regions_opened = atomic_load(&rt->regions_opened);
  s->obligation_leaks = atomic_load(&rt->obligation_leaks);
  s->region_leaks = atomic_load(&rt->region_leaks);
  s->cleanup_overruns = atomic_load(&rt->overruns);
  s->panics = atomic_load(&rt->panics);
  s->cancel_requests = atomic_load(&rt->cancels);
  s->deadlocks = atomic_load(&rt->deadlocks);
  s->sched_violations = atomic_load(&rt->sched_violations);
  s->switches = atomic_load(&rt->switches);
  s->steals = atomic_load(&rt->steals);
  s->parks = atomic_load(&rt->parks);
}

const asx_choice *asx_runtime_choices(const asx_runtime *rt, size_t *n) {
  *n = rt->nchoices;
  return rt->choices;
}

void rt_record_choice(asx_runtime *rt, uint32_t ready, uint32_t index, uint64_t task_id) {
  if (rt->nchoices == rt->capchoices) {
    size_t cap = rt->capchoices ? rt->capchoices * 2 : 1024;
    asx_choice *c = asx_realloc(rt->alloc, rt->choices, cap * sizeof(*c));
    if (!c) return;
    rt->choices = c;
    rt->capchoices = cap;
  }
  rt->choices[rt->nchoices++] = (asx_choice){ready, index, task_id};
}

uint64_t rt_now(asx_runtime *rt) { return rt->drv->now(rt->drv_state); }

asx_trace_event rt_event(asx_runtime *rt, asx_trace_type type, const asx_task *t, const asx_region *r) {
  asx_trace_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = type;
  ev.time_ns = rt_now(rt);
  if (t) {
    ev.task_id = t->id;
    ev.name = t->name;
    if (!r) r = t->region;
  }
  if (r) {
    ev.region_id = r->id;
    if (!t) ev.name = r->name;
  }
  return ev;
}

void rt_trace(asx_runtime *rt, const asx_trace_event *ev) {
  if (rt->cfg.trace) rt->cfg.trace(rt->cfg.trace_ud, ev);
}

const char *asx_outcome_name(asx_outcome o) {
  switch (o) {
  case ASX_OUTCOME_OK: return "ok";
  case ASX_OUTCOME_ERR: return "err";
  case ASX_OUTCOME_CANCELLED: return "cancelled";
  case ASX_OUTCOME_PANICKED: return "panicked";
  }
  return "?";
}

int asx_cancel_severity(asx_cancel_kind k) {
  switch (k) {
  case ASX_CANCEL_NONE: return 0;
  case ASX_CANCEL_USER: return 1;
  case ASX_CANCEL_TIMEOUT:
  case ASX_CANCEL_DEADLINE: return 2;
  case ASX_CANCEL_POLL_QUOTA:
  case ASX_CANCEL_COST_BUDGET: return 3;
  case ASX_CANCEL_FAIL_FAST:
  case ASX_CANCEL_RACE_LOST: return 4;
  case ASX_CANCEL_PARENT:
  case ASX_CANCEL_RESOURCE_UNAVAILABLE: return 5;
  case ASX_CANCEL_SHUTDOWN: return 6;
  default: return 0;
  }
}

const char *asx_cancel_kind_name(asx_cancel_kind k) {
  static const char *const names[ASX_CANCEL_KIND_COUNT] = {
      "none",     "user",      "timeout",  "deadline",         "poll_quota",          "cost_budget",
      "fail_fast", "race_lost", "parent_cancelled", "resource_unavailable", "shutdown"};
  return (int)k >= 0 && k < ASX_CANCEL_KIND_COUNT ? names[k] : "?";
}

const char *asx_trace_type_name(asx_trace_type t) {
  static const char *const names[] = {"task_spawn",      "task_end",      "region_open",
                                      "region_close",    "cancel",        "cleanup_overrun",
                                      "obligation_leak", "panic",         "region_leak",
                                      "deadlock",        "sched_choice",  "user",
                                      "timer_fired",     "random",
                                      "wait_site"};
  return (int)t >= 0 && (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

asx_budget asx_budget_unlimited(void) {
  return (asx_budget){ASX_UNLIMITED, ASX_UNLIMITED, ASX_UNLIMITED, 0};
}

asx_budget asx_budget_combine(asx_budget p, asx_budget c) {
  asx_budget b;
  b.deadline_ns = c.deadline_ns < p.deadline_ns ? c.deadline_ns : p.deadline_ns;
  b.poll_quota = c.poll_quota < p.poll_quota ? c.poll_quota : p.poll_quota;
  b.cost_quota = c.cost_quota < p.cost_quota ? c.cost_quota : p.cost_quota;
  b.priority = c.priority > p.priority ? c.priority : p.priority;
  return b;
}

asx_spawn_opts asx_spawn_opts_default(void) {
  asx_spawn_opts o;
  memset(&o, 0, sizeof(o));
  o.budget = asx_budget_unlimited();
  return o;
}

asx_region_opts asx_region_opts_default(void) {
  asx_region_opts o;
  memset(&o, 0, sizeof(o));
  o.policy = ASX_REGION_COLLECT_ALL;
  o.budget = asx_budget_unlimited();
  o.propagate_outcome = true;
  return o;
}

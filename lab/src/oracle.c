/* Oracles: invariants checked from the runtime's trace events as they happen and from its
 * counters when the run ends. The first violation decides the verdict (and its key, which the
 * minimizer must keep failing); later ones are counted. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lab_state.h"

const char *asx_lab_oracle_name(asx_lab_oracle o) {
  static const char *const names[] = {"none",       "quiescence",   "outlived_region",
                                      "obligation_leak", "cleanup_budget", "deadlock",
                                      "panic",      "region_leak",  "step_limit",
                                      "scenario",   "run_error"};
  return (size_t)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

lab_obj *lab_obj_get(lab_state *st, uint64_t id) {
  if (id >= st->nobjs) {
    if (id > ((uint64_t)1 << 32)) return NULL;
    size_t cap = st->nobjs ? st->nobjs : 64;
    while (cap <= id) cap *= 2;
    lab_obj *o = asx_realloc(st->alloc, st->objs, cap * sizeof(*o));
    if (!o) {
      st->oom = true;
      return NULL;
    }
    memset(o + st->nobjs, 0, (cap - st->nobjs) * sizeof(*o));
    st->objs = o;
    st->nobjs = cap;
  }
  return &st->objs[id];
}

static void copy_name(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src ? src : "");
}

void lab_violation(lab_state *st, asx_lab_oracle o, const char *key, const uint64_t *tasks,
                   size_t ntasks, const char *fmt, ...) {
  asx_lab_verdict *v = st->v;
  v->violations++;
  if (v->oracle != ASX_LAB_ORACLE_NONE) return;
  v->oracle = o;
  snprintf(v->key, sizeof v->key, "%s", key);
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(v->detail, sizeof v->detail, fmt, ap);
  va_end(ap);
  size_t used = len < 0 ? 0 : (size_t)len < sizeof v->detail ? (size_t)len : sizeof v->detail - 1;
  v->ntasks = 0;
  for (size_t i = 0; i < ntasks && i < ASX_LAB_MAX_TASKS_REPORTED; i++) {
    v->tasks[v->ntasks++] = tasks[i];
    lab_obj *ob = tasks[i] < st->nobjs ? &st->objs[tasks[i]] : NULL;
    int k = snprintf(v->detail + used, sizeof v->detail - used, "\n  task %" PRIu64 " \"%s\"%s%s",
                     tasks[i], ob ? ob->name : "", ob && ob->last[0] ? " last event: " : "",
                     ob && ob->last[0] ? ob->last : "");
    if (k < 0 || (size_t)k >= sizeof v->detail - used) break;
    used += (size_t)k;
  }
}

/* Every task alive now (at most ASX_LAB_MAX_TASKS_REPORTED), optionally only those in `region`. */
static size_t alive_tasks(lab_state *st, uint64_t region, uint64_t *out) {
  size_t n = 0;
  for (size_t id = 0; id < st->nobjs && n < ASX_LAB_MAX_TASKS_REPORTED; id++) {
    lab_obj *o = &st->objs[id];
    if (o->kind == 1 && o->alive && (!region || o->region == region)) out[n++] = id;
  }
  return n;
}

void lab_oracle_event(lab_state *st, const asx_trace_event *ev) {
  uint64_t tasks[ASX_LAB_MAX_TASKS_REPORTED];
  char key[128];
  lab_obj *o;
  switch (ev->type) {
  case ASX_TRACE_TASK_SPAWN:
    if ((o = lab_obj_get(st, ev->task_id))) {
      o->kind = 1;
      o->alive = true;
      o->region = ev->region_id;
      copy_name(o->name, sizeof o->name, ev->name);
    }
    if ((o = lab_obj_get(st, ev->region_id))) o->live_tasks++;
    break;
  case ASX_TRACE_TASK_END:
    if ((o = lab_obj_get(st, ev->task_id))) {
      o->alive = false;
      lab_obj *r = lab_obj_get(st, o->region);
      if (r && r->live_tasks) r->live_tasks--;
    }
    break;
  case ASX_TRACE_REGION_OPEN:
    if ((o = lab_obj_get(st, ev->region_id))) {
      o->kind = 2;
      o->alive = true;
      copy_name(o->name, sizeof o->name, ev->name);
    }
    break;
  case ASX_TRACE_REGION_CLOSE:
    if ((o = lab_obj_get(st, ev->region_id))) {
      if (o->live_tasks) {
        size_t n = alive_tasks(st, ev->region_id, tasks);
        lab_violation(st, ASX_LAB_ORACLE_OUTLIVED_REGION, "outlived_region", tasks, n,
                      "region %" PRIu64 " closed with %u task(s) still alive (losers not drained?)",
                      ev->region_id, o->live_tasks);
      }
      o->alive = false;
    }
    break;
  case ASX_TRACE_OBLIGATION_LEAK:
    snprintf(key, sizeof key, "obligation_leak:%s@%s:%d", ev->name ? ev->name : "",
             ev->file ? ev->file : "", ev->line);
    lab_violation(st, ASX_LAB_ORACLE_OBLIGATION_LEAK, key, &ev->task_id, 1,
                  "task %" PRIu64 " ended holding obligation \"%s\" reserved at %s:%d", ev->task_id,
                  ev->name ? ev->name : "", ev->file ? ev->file : "?", ev->line);
    break;
  case ASX_TRACE_CLEANUP_OVERRUN:
    lab_violation(st, ASX_LAB_ORACLE_CLEANUP_BUDGET, "cleanup_budget", &ev->task_id, 1,
                  "task %" PRIu64 " finished %" PRIu64 " ns after its cleanup budget (cancel %s)",
                  ev->task_id, ev->value, asx_cancel_kind_name(ev->kind));
    break;
  case ASX_TRACE_PANIC:
    lab_violation(st, ASX_LAB_ORACLE_PANIC, "panic", &ev->task_id, 1, "task %" PRIu64 " panicked: %s",
                  ev->task_id, ev->message ? ev->message : "");
    break;
  case ASX_TRACE_REGION_LEAK:
    lab_violation(st, ASX_LAB_ORACLE_REGION_LEAK, "region_leak", &ev->task_id, 1,
                  "task %" PRIu64 " ended without closing region %" PRIu64, ev->task_id, ev->region_id);
    break;
  case ASX_TRACE_DEADLOCK: {
    size_t n = alive_tasks(st, 0, tasks);
    lab_violation(st, ASX_LAB_ORACLE_DEADLOCK, "deadlock", tasks, n,
                  "deadlock at t=%" PRIu64 " ns: nothing runnable, no timer, %" PRIu64
                  " task(s) blocked (the runtime does not expose wait sites; last user event shown)",
                  ev->time_ns, ev->value);
    break;
  }
  case ASX_TRACE_USER:
    if ((o = lab_obj_get(st, ev->task_id)))
      snprintf(o->last, sizeof o->last, "%.30s=%" PRIu64, ev->message ? ev->message : "", ev->value);
    break;
  default:
    break;
  }
}

void lab_oracle_finish(lab_state *st, int run_err) {
  asx_lab_verdict *v = st->v;
  asx_runtime_stats *s = &v->stats;
  if (run_err && v->oracle == ASX_LAB_ORACLE_NONE)
    lab_violation(st, ASX_LAB_ORACLE_RUN_ERROR, "run_error", NULL, 0, "asx_runtime_run failed: %s",
                  asx_strerror(run_err));
  if (st->oom) lab_violation(st, ASX_LAB_ORACLE_RUN_ERROR, "run_error", NULL, 0, "lab out of memory");
  if (!run_err && (s->live_tasks || s->live_regions || s->unresolved_obligations))
    lab_violation(st, ASX_LAB_ORACLE_QUIESCENCE, "quiescence", NULL, 0,
                  "after the run: %" PRIu64 " live tasks, %" PRIu64 " live regions, %" PRIu64
                  " unresolved obligations",
                  s->live_tasks, s->live_regions, s->unresolved_obligations);
}

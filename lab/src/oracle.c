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
                                      "scenario",   "run_error",    "lost_wakeup",
                                      "futurelock"};
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
    char site[160] = "";
    if (ob && ob->wait_what && (o == ASX_LAB_ORACLE_DEADLOCK || o == ASX_LAB_ORACLE_FUTURELOCK))
      snprintf(site, sizeof site, " waits in %s at %s:%d", ob->wait_what,
               lab_short_file(ob->wait_file), ob->wait_line);
    int k = snprintf(v->detail + used, sizeof v->detail - used, "\n  task %" PRIu64 " \"%s\"%s%s%s",
                     tasks[i], ob ? ob->name : "", site, ob && ob->last[0] ? ", last event: " : "",
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

const char *lab_short_file(const char *file) {
  if (!file) return "?";
  const char *last = NULL, *prev = NULL;
  for (const char *p = file; *p; p++)
    if (*p == '/') {
      prev = last;
      last = p;
    }
  return prev ? prev + 1 : file;
}

static void lab_wait_site_record(lab_state *st, uint64_t id, const lab_obj *b) {
  asx_lab_record r = {.type = ASX_LAB_REC_WAIT_SITE, .task = id};
  if (b->wait_what) {
    const char *f = lab_short_file(b->wait_file);
    r.text = (asx_slice){(const uint8_t *)b->wait_what, strlen(b->wait_what)};
    r.text2 = (asx_slice){(const uint8_t *)f, strlen(f)};
    r.b = (uint64_t)(b->wait_line < 0 ? 0 : b->wait_line);
  }
  lab_emit(st, &r);
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
      o->last_run = st->steps;
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
    /* Every live task is blocked: write where each one waits (its last call that may block). */
    for (size_t id = 0; id < st->nobjs; id++) {
      lab_obj *b = &st->objs[id];
      if (b->kind == 1 && b->alive) lab_wait_site_record(st, id, b);
    }
    size_t n = alive_tasks(st, 0, tasks);
    lab_violation(st, ASX_LAB_ORACLE_DEADLOCK, "deadlock", tasks, n,
                  "deadlock at t=%" PRIu64 " ns: nothing runnable, no timer, %" PRIu64
                  " task(s) blocked, each shown with the call it blocks in",
                  ev->time_ns, ev->value);
    break;
  }
  case ASX_TRACE_WAIT_SITE:
    if ((o = lab_obj_get(st, ev->task_id))) {
      o->wait_what = ev->name;
      o->wait_file = ev->file;
      o->wait_line = ev->line;
    }
    break;
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
  if (s->sched_violations && !st->sched_violation_seen)
    lab_violation(st, ASX_LAB_ORACLE_RUN_ERROR, "sched_violation", NULL, 0,
                  "the runtime dequeued a task that was not SCHEDULED %" PRIu64 " times", s->sched_violations);
  if (!run_err && (s->live_tasks || s->live_regions || s->unresolved_obligations))
    lab_violation(st, ASX_LAB_ORACLE_QUIESCENCE, "quiescence", NULL, 0,
                  "after the run: %" PRIu64 " live tasks, %" PRIu64 " live regions, %" PRIu64
                  " unresolved obligations",
                  s->live_tasks, s->live_regions, s->unresolved_obligations);
}

/* ---- Per-step oracles (called from lab_choose) ---- */

/* lost_wakeup: at every step, each ready task that was also ready and not chosen at the previous
 * step extends its streak; a streak above lost_wakeup_steps is a violation. */
static void check_lost_wakeup(lab_state *st, uint32_t n, const uint64_t *ids) {
  uint64_t limit = st->cfg.lost_wakeup_steps;
  for (uint32_t i = 0; i < n; i++) {
    lab_obj *o = ids[i] < st->nobjs ? &st->objs[ids[i]] : NULL;
    if (!o) continue;
    o->ready_streak = o->ready_seen == st->steps ? o->ready_streak + 1 : 1; /* seen = step + 1 */
    o->ready_seen = st->steps + 1;
    if (o->ready_streak > limit && !st->oracle_stopped) {
      uint64_t id = ids[i];
      asx_lab_record r = {.type = ASX_LAB_REC_LOST_WAKEUP, .task = id, .a = o->ready_streak};
      lab_emit(st, &r);
      lab_violation(st, ASX_LAB_ORACLE_LOST_WAKEUP, "lost_wakeup", &id, 1,
                    "task %" PRIu64 " was ready for %" PRIu64 " consecutive steps (limit %" PRIu64
                    ") without being chosen: starved (e.g. busy-waiting tasks outrank it)",
                    id, o->ready_streak, limit);
      st->oracle_stopped = true;
      st->shutdown = 1;
    }
  }
}

static bool is_ready(uint32_t n, const uint64_t *ids, uint64_t id) {
  for (uint32_t i = 0; i < n; i++)
    if (ids[i] == id) return true;
  return false;
}

static bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* futurelock: a task holding an obligation that has not run for futurelock_steps steps while
 * others ran. An acquisition the task is blocked in (mutex_lock, chan_send/reserve,
 * sem_acquire reserve their obligation before waiting) is not yet held; a task blocked closing
 * its own region (region_close, race, timeout) waits for its children, which is progress. */
static void check_futurelock(lab_state *st, uint32_t n, const uint64_t *ids) {
  uint64_t limit = st->cfg.futurelock_steps;
  for (size_t id = 0; id < st->nobjs && !st->oracle_stopped; id++) {
    lab_obj *o = &st->objs[id];
    if (o->kind != 1 || !o->alive || o->futurelocked || st->steps - o->last_run < limit) continue;
    bool blocked = !is_ready(n, ids, id);
    if (blocked && (streq(o->wait_what, "region_close") || streq(o->wait_what, "race") ||
                    streq(o->wait_what, "timeout")))
      continue;
    asx_obligation_info ob[8];
    size_t held = asx_runtime_task_obligations(st->rt, id, ob, 8);
    if (held && blocked && held <= 8) {
      const char *pending = streq(o->wait_what, "mutex_lock")     ? "mutex.lock"
                            : streq(o->wait_what, "chan_send")    ? "chan.permit"
                            : streq(o->wait_what, "chan_reserve") ? "chan.permit"
                            : streq(o->wait_what, "sem_acquire")  ? "sem.permit"
                                                                  : NULL;
      if (pending && streq(ob[held - 1].kind, pending)) held--;
    }
    if (!held) continue;
    o->futurelocked = true;
    const asx_obligation_info *h = &ob[0];
    const char *file = lab_short_file(h->file);
    asx_lab_record r = {.type = ASX_LAB_REC_FUTURELOCK, .task = id, .a = st->steps - o->last_run,
                        .b = (uint64_t)(h->line < 0 ? 0 : h->line)};
    r.text = (asx_slice){(const uint8_t *)(h->kind ? h->kind : ""), h->kind ? strlen(h->kind) : 0};
    r.text2 = (asx_slice){(const uint8_t *)file, strlen(file)};
    lab_emit(st, &r);
    if (blocked) lab_wait_site_record(st, id, o);
    char key[128];
    snprintf(key, sizeof key, "futurelock:%s@%s:%d", h->kind ? h->kind : "", file, h->line);
    uint64_t tid = id;
    lab_violation(st, ASX_LAB_ORACLE_FUTURELOCK, key, &tid, 1,
                  "task %zu holds obligation \"%s\" (reserved at %s:%d) and has not run for %" PRIu64
                  " steps while other tasks ran (%s)",
                  id, h->kind ? h->kind : "", file, h->line, st->steps - o->last_run,
                  blocked ? "blocked" : "ready, not chosen");
    st->oracle_stopped = true;
    st->shutdown = 1;
  }
}

/* The runtime counts a task dequeued while not SCHEDULED (scheduled twice): catch it at the step. */
static void check_sched_invariant(lab_state *st) {
  asx_runtime_stats s;
  asx_runtime_stats_get(st->rt, &s);
  if (s.sched_violations && !st->sched_violation_seen) {
    st->sched_violation_seen = true;
    lab_violation(st, ASX_LAB_ORACLE_RUN_ERROR, "sched_violation", NULL, 0,
                  "step %" PRIu64 ": the runtime dequeued a task that was not SCHEDULED (%" PRIu64
                  " times so far): duplicate scheduling", st->steps, s.sched_violations);
  }
}

void lab_oracle_step(lab_state *st, uint32_t n, const uint64_t *ids) {
  if (st->cfg.check_every_step && st->rt) check_sched_invariant(st);
  if (st->cfg.lost_wakeup_steps) check_lost_wakeup(st, n, ids);
  if (st->cfg.futurelock_steps && st->rt && st->steps >= st->next_check) {
    uint64_t every = st->cfg.check_every_step ? 1 : st->cfg.futurelock_steps / 8;
    st->next_check = st->steps + (every ? every : 1);
    check_futurelock(st, n, ids);
  }
}

void lab_oracle_chosen(lab_state *st, uint64_t id) {
  if (id >= st->nobjs) return;
  lab_obj *o = &st->objs[id];
  o->last_run = st->steps;
  o->ready_streak = 0;
  o->ready_seen = 0;
}

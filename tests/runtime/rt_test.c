#include "rt_test.h"

#include <criterion/criterion.h>
#include <string.h>

trace_rec g_rec = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void copy_str(char *dst, size_t cap, const char *src) {
  if (!src) {
    dst[0] = 0;
    return;
  }
  strncpy(dst, src, cap - 1);
  dst[cap - 1] = 0;
}

static void rec_sink(void *ud, const asx_trace_event *ev) {
  trace_rec *r = ud;
  if (ev->type == ASX_TRACE_SCHED_CHOICE) return;
  pthread_mutex_lock(&r->mu);
  if (r->n < REC_MAX) {
    rec_event *e = &r->ev[r->n++];
    e->type = ev->type;
    e->task_id = ev->task_id;
    e->region_id = ev->region_id;
    e->value = ev->value;
    e->kind = ev->kind;
    e->outcome = ev->outcome;
    e->code = ev->code;
    e->line = ev->line;
    copy_str(e->name, sizeof(e->name), ev->name);
    copy_str(e->file, sizeof(e->file), ev->file);
    copy_str(e->message, sizeof(e->message), ev->message);
  }
  pthread_mutex_unlock(&r->mu);
}

asx_runtime_config rt_test_config(asx_driver_kind drv, unsigned workers) {
  asx_runtime_config c;
  asx_runtime_config_default(&c);
  c.driver = drv;
  c.workers = workers;
  c.stack_size = 64 * 1024;
  c.trace = rec_sink;
  c.trace_ud = &g_rec;
  pthread_mutex_lock(&g_rec.mu);
  g_rec.n = 0;
  pthread_mutex_unlock(&g_rec.mu);
  return c;
}

asx_outcome rt_test_run(const asx_runtime_config *cfg, asx_task_fn fn, void *arg, int *rc,
                        asx_runtime_stats *stats) {
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(cfg, &rt), 0);
  asx_outcome o = ASX_OUTCOME_OK;
  int main_rc = 0;
  cr_assert_eq(asx_runtime_run(rt, fn, arg, &main_rc, &o), 0);
  asx_runtime_stats s;
  asx_runtime_stats_get(rt, &s);
  asx_runtime_free(rt);
  cr_assert_eq(s.live_tasks, 0, "live tasks after run: %llu", (unsigned long long)s.live_tasks);
  cr_assert_eq(s.live_regions, 0, "live regions after run: %llu", (unsigned long long)s.live_regions);
  cr_assert_eq(s.unresolved_obligations, 0, "unresolved obligations: %llu",
               (unsigned long long)s.unresolved_obligations);
  cr_assert_eq(s.sched_violations, 0, "a task was scheduled twice");
  if (rc) *rc = main_rc;
  if (stats) *stats = s;
  return o;
}

size_t rec_count(asx_trace_type t) {
  size_t k = 0;
  pthread_mutex_lock(&g_rec.mu);
  for (size_t i = 0; i < g_rec.n; i++) k += g_rec.ev[i].type == t;
  pthread_mutex_unlock(&g_rec.mu);
  return k;
}

const rec_event *rec_find(asx_trace_type t) {
  const rec_event *e = NULL;
  pthread_mutex_lock(&g_rec.mu);
  for (size_t i = 0; i < g_rec.n && !e; i++)
    if (g_rec.ev[i].type == t) e = &g_rec.ev[i];
  pthread_mutex_unlock(&g_rec.mu);
  return e;
}

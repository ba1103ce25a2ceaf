/* The deterministic driver: the same seed gives the identical sequence of scheduling choices,
 * a different seed a different one; virtual time; deadlock detection. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "rt_test.h"

TestSuite(rt_det, .timeout = 60);

/* A small task program with real interleaving: workers yield, sleep and send on a channel. */
static asx_chan *g_ch;
static uint32_t g_order[512];
static size_t g_norder;

static int det_worker(asx_cx *cx, void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  for (uint32_t i = 0; i < 8; i++) {
    uint32_t msg = id * 100 + i;
    asx_chan_send(cx, g_ch, &msg);
    if ((asx_random(cx) & 3) == 0) asx_sleep(cx, (id + 1) * 1000);
    asx_yield(cx);
  }
  return 0;
}

static int det_collector(asx_cx *cx, void *arg) {
  (void)arg;
  uint32_t msg;
  while (asx_chan_recv(cx, g_ch, &msg) == 0)
    if (g_norder < 512) g_order[g_norder++] = msg;
  return 0;
}

static int det_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *rx, *w;
  asx_region_open(cx, NULL, &rx);
  asx_spawn(cx, rx, det_collector, NULL, NULL, NULL);
  asx_region_open(cx, NULL, &w);
  for (uintptr_t i = 0; i < 6; i++) asx_spawn(cx, w, det_worker, (void *)i, NULL, NULL);
  asx_region_close(cx, w, NULL);
  asx_chan_close(g_ch);
  asx_region_close(cx, rx, NULL);
  return 0;
}

typedef struct run_result {
  asx_choice *choices;
  size_t n;
  uint32_t order[512];
  size_t norder;
  uint64_t trace_hash; /* FNV-1a over every recorded event (type, ids, values) */
  size_t ntimer, nrandom;
} run_result;

static void digest_trace(run_result *out) {
  uint64_t h = 1469598103934665603ull;
  out->ntimer = out->nrandom = 0;
  pthread_mutex_lock(&g_rec.mu);
  for (size_t i = 0; i < g_rec.n; i++) {
    const rec_event *e = &g_rec.ev[i];
    uint64_t f[6] = {e->type, e->task_id, e->region_id, e->value, (uint64_t)e->kind, (uint64_t)e->code};
    for (int k = 0; k < 6; k++) {
      h ^= f[k];
      h *= 1099511628211ull;
    }
    out->ntimer += e->type == ASX_TRACE_TIMER_FIRED;
    out->nrandom += e->type == ASX_TRACE_RANDOM;
  }
  pthread_mutex_unlock(&g_rec.mu);
  out->trace_hash = h;
}

static void run_with_seed(uint64_t seed, run_result *out) {
  g_norder = 0;
  cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 2, &g_ch), 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  c.seed = seed;
  c.record_choices = 1;
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&c, &rt), 0);
  cr_assert_eq(asx_runtime_run(rt, det_main, NULL, NULL, NULL), 0);
  size_t n;
  const asx_choice *ch = asx_runtime_choices(rt, &n);
  cr_assert_gt(n, 50);
  out->choices = malloc(n * sizeof(*ch));
  memcpy(out->choices, ch, n * sizeof(*ch));
  out->n = n;
  memcpy(out->order, g_order, sizeof(g_order));
  out->norder = g_norder;
  digest_trace(out);
  asx_runtime_stats s;
  asx_runtime_stats_get(rt, &s);
  cr_assert_eq(s.live_tasks, 0);
  cr_assert_eq(s.live_regions, 0);
  cr_assert_eq(s.unresolved_obligations, 0);
  asx_runtime_free(rt);
  asx_chan_free(g_ch);
}

static bool same_choices(const run_result *a, const run_result *b) {
  if (a->n != b->n) return false;
  for (size_t i = 0; i < a->n; i++)
    if (a->choices[i].ready != b->choices[i].ready || a->choices[i].index != b->choices[i].index ||
        a->choices[i].task_id != b->choices[i].task_id)
      return false;
  return true;
}

Test(rt_det, same_seed_same_choices_different_seed_differs) {
  run_result a, b, c;
  run_with_seed(42, &a);
  run_with_seed(42, &b);
  run_with_seed(43, &c);
  cr_assert(same_choices(&a, &b), "same seed, different schedule");
  cr_assert_eq(a.norder, 48);
  cr_assert_eq(memcmp(a.order, b.order, sizeof(a.order)), 0, "same seed, different message order");
  cr_assert_not(same_choices(&a, &c), "different seeds gave the identical schedule");
  /* The whole event stream (timers fired, random draws, spawns, ends...) is reproduced too. */
  cr_assert_eq(a.trace_hash, b.trace_hash);
  cr_assert_gt(a.ntimer, 0);
  cr_assert_eq(a.nrandom, 48, "one asx_random draw per message");
  cr_assert_neq(a.trace_hash, c.trace_hash);
  free(a.choices);
  free(b.choices);
  free(c.choices);
}

/* Virtual time: an hour of sleeping costs no wall time and advances the clock exactly. */
static int hour_main(asx_cx *cx, void *arg) {
  (void)arg;
  uint64_t t0 = asx_now(cx);
  cr_assert_eq(asx_sleep(cx, 3600000 * MS_NS), 0);
  cr_assert_eq(asx_now(cx) - t0, 3600000 * MS_NS);
  return 0;
}

Test(rt_det, virtual_time_jumps_to_next_timer) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  rt_test_run(&c, hour_main, NULL, NULL, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  cr_assert_lt(b.tv_sec - a.tv_sec, 60);
}

/* The wall clock follows virtual time from a configured epoch (default 2026-01-01T00:00:00Z). */
static int wall_main(asx_cx *cx, void *arg) {
  uint64_t epoch = *(uint64_t *)arg;
  cr_assert_eq(asx_wall_now(cx), epoch + asx_now(cx));
  cr_assert_eq(asx_sleep(cx, 86400000 * MS_NS), 0);
  cr_assert_eq(asx_wall_now(cx), epoch + asx_now(cx));
  char d[ASX_IMF_FIXDATE_LEN + 1];
  asx_imf_fixdate(asx_wall_now(cx) / 1000000000ull, d);
  cr_assert_eq(strncmp(d, epoch == 1767225600ull * 1000000000ull ? "Fri, 02 Jan 2026 00:00:" : "Sat, 02 Jan 2010", 16), 0, "%s", d);
  return 0;
}

Test(rt_det, wall_clock_is_epoch_plus_virtual_time) {
  asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  uint64_t def = 1767225600ull * 1000000000ull;
  rt_test_run(&c, wall_main, &def, NULL, NULL);
  c.wall_epoch_ns = 1262304000ull * 1000000000ull; /* 2010-01-01 */
  rt_test_run(&c, wall_main, &c.wall_epoch_ns, NULL, NULL);
}

/* THREADS: CLOCK_REALTIME (compared loosely: the machine may be slow, never a tight bound). */
static int real_wall_main(asx_cx *cx, void *arg) {
  (void)arg;
  time_t before = time(NULL);
  uint64_t w = asx_wall_now(cx) / 1000000000ull;
  time_t after = time(NULL);
  cr_assert(w + 1 >= (uint64_t)before && w <= (uint64_t)after + 1, "%llu not in [%lld, %lld]",
            (unsigned long long)w, (long long)before, (long long)after);
  return 0;
}

Test(rt_det, wall_clock_threads_driver_is_realtime) {
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 1);
  rt_test_run(&c, real_wall_main, NULL, NULL, NULL);
}

/* Deadlock: nobody will ever send; the driver reports it and a shutdown cancel breaks it. */
static int waits_forever(asx_cx *cx, void *arg) {
  (void)arg;
  asx_oneshot *o;
  asx_oneshot_new(NULL, sizeof(int), &o);
  int v;
  int err = asx_oneshot_recv(cx, o, &v);
  asx_oneshot_free(o);
  cr_assert_eq(err, ASX_ECANCELED);
  cr_assert_eq(asx_cancel_reason(cx), ASX_CANCEL_PARENT);
  return err;
}

static int deadlock_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  asx_spawn(cx, r, waits_forever, NULL, NULL, NULL);
  asx_region_close(cx, r, NULL);
  return 0;
}

Test(rt_det, deadlock_reported_and_broken_by_shutdown) {
  asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  asx_runtime_stats s;
  rt_test_run(&c, deadlock_main, NULL, NULL, &s);
  cr_assert_eq(s.deadlocks, 1);
  cr_assert_eq(rec_count(ASX_TRACE_DEADLOCK), 1);
}

/* Replay through the choose hook: feeding back the recorded indices reproduces the schedule and
 * the program's output exactly; a different chooser gives a different schedule. */
typedef struct replay {
  const asx_choice *rec;
  size_t n, pos;
  bool diverged;
} replay;

static uint32_t replay_choose(void *ud, uint32_t nready, const uint64_t *ids) {
  replay *r = ud;
  if (r->pos >= r->n) {
    r->diverged = true;
    return 0;
  }
  const asx_choice *c = &r->rec[r->pos++];
  if (c->ready != nready || ids[c->index] != c->task_id) r->diverged = true;
  return c->index;
}

static uint32_t first_choose(void *ud, uint32_t nready, const uint64_t *ids) {
  (void)ud;
  (void)nready;
  (void)ids;
  return 0;
}

static void run_with_chooser(asx_choose_fn fn, void *ud, run_result *out) {
  g_norder = 0;
  cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 2, &g_ch), 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  c.seed = 999; /* ignored for scheduling when a chooser is set */
  c.record_choices = 1;
  c.choose = fn;
  c.choose_ud = ud;
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&c, &rt), 0);
  cr_assert_eq(asx_runtime_run(rt, det_main, NULL, NULL, NULL), 0);
  size_t n;
  const asx_choice *ch = asx_runtime_choices(rt, &n);
  out->choices = malloc(n * sizeof(*ch));
  memcpy(out->choices, ch, n * sizeof(*ch));
  out->n = n;
  memcpy(out->order, g_order, sizeof(g_order));
  out->norder = g_norder;
  asx_runtime_free(rt);
  asx_chan_free(g_ch);
}

Test(rt_det, replay_through_choose_hook) {
  run_result a, b, c;
  run_with_seed(42, &a);
  replay r = {a.choices, a.n, 0, false};
  /* asx_random draws come from the seed: use the same one as the recording. */
  g_norder = 0;
  cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 2, &g_ch), 0);
  asx_runtime_config cfg = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  cfg.seed = 42;
  cfg.record_choices = 1;
  cfg.choose = replay_choose;
  cfg.choose_ud = &r;
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  cr_assert_eq(asx_runtime_run(rt, det_main, NULL, NULL, NULL), 0);
  size_t n;
  const asx_choice *ch = asx_runtime_choices(rt, &n);
  b.choices = malloc(n * sizeof(*ch));
  memcpy(b.choices, ch, n * sizeof(*ch));
  b.n = n;
  memcpy(b.order, g_order, sizeof(g_order));
  b.norder = g_norder;
  asx_runtime_free(rt);
  asx_chan_free(g_ch);
  cr_assert_not(r.diverged, "replay diverged at step %zu", r.pos);
  cr_assert_eq(r.pos, a.n, "every recorded choice was consumed");
  cr_assert(same_choices(&a, &b));
  cr_assert_eq(memcmp(a.order, b.order, sizeof(a.order)), 0);
  run_with_chooser(first_choose, NULL, &c);
  cr_assert_not(same_choices(&a, &c));
  free(a.choices);
  free(b.choices);
  free(c.choices);
}

/* Lab runs: determinism (same seed => same bytes), replay (same records, same final digest,
 * divergence reported at the right step), exploration finds each planted bug within a bounded
 * number of seeds with both strategies, minimization shrinks while keeping the same failure,
 * every oracle fires on a scenario built to trip it, and a clean program passes many seeds. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "asx/lab.h"

#define MS 1000000ull

static int spinner(asx_cx *cx, void *arg) {
  (void)arg;
  while (asx_yield(cx) == 0) {
  }
  return 0;
}

static int with_child(asx_cx *cx, asx_task_fn fn, void *arg, asx_region **out) {
  asx_region *r = NULL;
  int err = asx_region_open(cx, NULL, &r);
  if (err) return err;
  if (out) *out = r;
  err = asx_spawn(cx, r, fn, arg, NULL, NULL);
  return err;
}

static int t_spin(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  asx_region *r = NULL;
  int err = with_child(cx, spinner, NULL, &r);
  if (!err) err = asx_spawn(cx, r, spinner, NULL, NULL, NULL);
  if (r) asx_region_close(cx, r, NULL);
  return err;
}

static int panicker(asx_cx *cx, void *arg) {
  (void)arg;
  asx_yield(cx);
  asx_panic(cx, "planted panic");
}

static int t_panic(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  asx_region *r = NULL;
  int err = with_child(cx, panicker, NULL, &r);
  if (r) asx_region_close(cx, r, NULL);
  return err;
}

static int slow_cleanup(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, 1000 * MS * 100);
  asx_mask_push(cx); /* cleanup that blocks far beyond the user-cancel budget (5 s) */
  asx_sleep(cx, 10000 * MS);
  asx_mask_pop(cx);
  return err;
}

static int t_overrun(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  asx_region *r = NULL;
  int err = with_child(cx, slow_cleanup, NULL, &r);
  if (!r) return err;
  asx_sleep(cx, MS);
  asx_region_cancel(r, ASX_CANCEL_USER);
  if (r) asx_region_close(cx, r, NULL);
  return err;
}

static int div_toggle;
static int t_divergent(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  for (int i = 0; i < 5; i++) {
    asx_trace_user(cx, "tick", (uint64_t)i);
    asx_yield(cx);
  }
  asx_trace_user(cx, div_toggle ? "changed" : "tick", 5);
  return 0;
}

static int sleeper(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < 5; i++) {
    uint64_t r = asx_random(cx);
    asx_trace_user(cx, "draw", r & 0xffff);
    int err = asx_sleep(cx, (r % 7) * MS);
    if (err) return err;
  }
  return 0;
}

static int t_net(asx_cx *cx, asx_lab_ctx *lab) {
  asx_lab_net_event(lab, ASX_LAB_REC_NET_DELIVER, 7, 512, 0);
  asx_lab_net_event(lab, ASX_LAB_REC_NET_FAULT, 7, 2, -104);
  asx_lab_net_event(lab, ASX_LAB_REC_USER, 7, 2, 0); /* ignored: not a net type */
  asx_region *r = NULL;
  int err = with_child(cx, sleeper, NULL, &r);
  if (!err) err = asx_spawn(cx, r, sleeper, NULL, NULL, NULL);
  if (r) asx_region_close(cx, r, NULL);
  return err;
}

static void setup(void) {
  cr_assert_eq(asx_lab_register_demos(), 0);
  cr_assert_eq(asx_lab_register_demos(), 0); /* idempotent */
  asx_lab_register("t_spin", t_spin, "spins until cancelled");
  asx_lab_register("t_panic", t_panic, "a child panics");
  asx_lab_register("t_overrun", t_overrun, "cleanup beyond its budget");
  asx_lab_register("t_divergent", t_divergent, "behaviour depends on a global");
  asx_lab_register("t_net", t_net, "net hook, random draws, timers");
}

TestSuite(lab_run, .init = setup, .timeout = 200);

static asx_lab_config cfg_for(const char *name, uint64_t seed, asx_lab_strategy s) {
  asx_lab_config c;
  asx_lab_config_default(&c);
  c.scenario = name;
  c.seed = seed;
  c.strategy = s;
  return c;
}

static const char *const demos[] = {"clean", "pingpong", "lost_update", "oblig_leak", "deadlock", "t_net"};

Test(lab_run, registry) {
  cr_assert_eq(asx_lab_register("clean", t_spin, ""), ASX_EEXIST);
  cr_assert_eq(asx_lab_register("", t_spin, ""), ASX_EINVAL);
  char longname[80];
  memset(longname, 'a', 64);
  longname[64] = 0;
  cr_assert_eq(asx_lab_register(longname, t_spin, ""), ASX_EINVAL);
  longname[63] = 0; /* 63 bytes: the limit */
  cr_assert_eq(asx_lab_register(strdup(longname), t_spin, ""), 0);
  cr_assert_not_null(asx_lab_find("lost_update", NULL));
  cr_assert_null(asx_lab_find("nope", NULL));
  asx_lab_verdict v;
  asx_lab_config c = cfg_for("nope", 1, ASX_LAB_RANDOM);
  cr_assert_eq(asx_lab_run(&c, &v, NULL, NULL), ASX_ENOTFOUND);
}

Test(lab_run, same_seed_same_bytes_and_replay_same_digest) {
  for (size_t d = 0; d < sizeof demos / sizeof demos[0]; d++)
    for (int s = 0; s < 2; s++)
      for (uint64_t seed = 1; seed <= 5; seed++) {
        asx_lab_config c = cfg_for(demos[d], seed, s ? ASX_LAB_PCT : ASX_LAB_RANDOM);
        asx_lab_verdict v1, v2, v3;
        uint8_t *t1, *t2;
        size_t l1, l2;
        cr_assert_eq(asx_lab_run(&c, &v1, &t1, &l1), 0);
        cr_assert_eq(asx_lab_run(&c, &v2, &t2, &l2), 0);
        cr_assert_eq(l1, l2, "%s seed %llu", demos[d], (unsigned long long)seed);
        cr_assert_eq(memcmp(t1, t2, l1), 0, "%s seed %llu", demos[d], (unsigned long long)seed);
        asx_lab_divergence div;
        asx_lab_trace_error e;
        cr_assert_eq(asx_lab_replay(NULL, t1, l1, &v3, &div, &e), 0, "%s: %s / %s", demos[d],
                     div.expected, div.got);
        cr_assert_not(div.diverged);
        cr_assert_eq(memcmp(v1.digest, v3.digest, 32), 0);
        cr_assert_eq(v1.oracle, v3.oracle);
        cr_assert_str_eq(v1.key, v3.key);
        cr_assert_eq(v1.steps, v3.steps);
        free(t1);
        free(t2);
      }
}

Test(lab_run, different_seeds_differ) {
  asx_lab_config a = cfg_for("clean", 1, ASX_LAB_RANDOM), b = cfg_for("clean", 2, ASX_LAB_RANDOM);
  asx_lab_verdict va, vb;
  cr_assert_eq(asx_lab_run(&a, &va, NULL, NULL), 0);
  cr_assert_eq(asx_lab_run(&b, &vb, NULL, NULL), 0);
  cr_assert_neq(memcmp(va.digest, vb.digest, 32), 0);
}

Test(lab_run, replay_reports_the_first_divergence) {
  div_toggle = 0;
  asx_lab_config c = cfg_for("t_divergent", 3, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_run(&c, &v, &t, &l), 0);
  asx_lab_divergence div;
  cr_assert_eq(asx_lab_replay(NULL, t, l, &v, &div, NULL), 0);
  div_toggle = 1;
  cr_assert_eq(asx_lab_replay(NULL, t, l, &v, &div, NULL), ASX_ESTATE);
  div_toggle = 0;
  cr_assert(div.diverged);
  cr_assert_eq(div.step, 6, "step %llu", (unsigned long long)div.step);
  cr_assert(strstr(div.expected, "\"tick\"") != NULL, "%s", div.expected);
  cr_assert(strstr(div.got, "\"changed\"") != NULL, "%s", div.got);
  free(t);
}

static void explore_finds(const char *name, asx_lab_strategy s, asx_lab_oracle want, const char *key_prefix) {
  asx_lab_config c = cfg_for(name, 1, s);
  asx_lab_verdict v;
  uint64_t seed = 0, done = 0;
  uint8_t *t = NULL;
  size_t l = 0;
  int r = asx_lab_explore(&c, 200, &v, &seed, &done, &t, &l);
  cr_assert_eq(r, 1, "%s (%s) not found in 200 seeds", name, asx_lab_strategy_name(s));
  cr_assert_eq(v.oracle, want, "%s: got %s", name, asx_lab_oracle_name(v.oracle));
  cr_assert(strncmp(v.key, key_prefix, strlen(key_prefix)) == 0, "%s", v.key);
  cr_assert_leq(done, 200);
  /* the saved trace reproduces it */
  asx_lab_verdict rv;
  cr_assert_eq(asx_lab_replay(NULL, t, l, &rv, NULL, NULL), 0);
  cr_assert_str_eq(rv.key, v.key);
  /* minimize: not bigger, same failure, and it replays */
  asx_lab_verdict mv;
  asx_lab_min_stats st;
  uint8_t *m;
  size_t ml;
  cr_assert_eq(asx_lab_minimize(NULL, t, l, 0, &mv, &st, &m, &ml), 0);
  cr_assert_str_eq(mv.key, v.key);
  cr_assert_eq(st.steps_before, v.steps);
  cr_assert_leq(st.steps_after, st.steps_before);
  cr_assert_eq(mv.steps, st.steps_after);
  cr_assert_eq(asx_lab_replay(NULL, m, ml, &rv, NULL, NULL), 0);
  cr_assert_str_eq(rv.key, v.key);
  cr_log_info("%s %s: seed %llu after %llu runs; minimized %llu -> %llu steps, %llu -> %llu preemptions "
              "in %llu runs", name, asx_lab_strategy_name(s), (unsigned long long)seed,
              (unsigned long long)done, (unsigned long long)st.steps_before,
              (unsigned long long)st.steps_after, (unsigned long long)st.preemptions_before,
              (unsigned long long)st.preemptions_after, (unsigned long long)st.runs);
  free(m);
  free(t);
}

Test(lab_run, explore_finds_planted_bugs_and_minimize_keeps_them) {
  for (int s = 0; s < 2; s++) {
    asx_lab_strategy st = s ? ASX_LAB_PCT : ASX_LAB_RANDOM;
    explore_finds("lost_update", st, ASX_LAB_ORACLE_SCENARIO, "scenario:lost_update");
    explore_finds("oblig_leak", st, ASX_LAB_ORACLE_OBLIGATION_LEAK, "obligation_leak:reply@");
    explore_finds("deadlock", st, ASX_LAB_ORACLE_DEADLOCK, "deadlock");
  }
}

/* A bug that needs one task starved for 20 steps: PCT finds it in a few runs, uniform random
 * choice (probability 2^-20 per run) does not in 300. Both are deterministic given the seeds. */
Test(lab_run, pct_finds_what_random_misses) {
  asx_lab_config c = cfg_for("order_violation", 1, ASX_LAB_PCT);
  asx_lab_verdict v;
  uint64_t seed, done;
  cr_assert_eq(asx_lab_explore(&c, 20, &v, &seed, &done, NULL, NULL), 1);
  cr_assert_str_eq(v.key, "scenario:use_before_init");
  c = cfg_for("order_violation", 1, ASX_LAB_RANDOM);
  cr_assert_eq(asx_lab_explore(&c, 300, &v, &seed, &done, NULL, NULL), 0);
}

/* Minimization strictly shrinks when the failing run did schedule-dependent extra work. */
Test(lab_run, minimize_shrinks_steps) {
  const char *names[] = {"lost_update", "oblig_leak"};
  for (int i = 0; i < 2; i++) {
    int shrunk = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
      asx_lab_config c = cfg_for(names[i], seed, seed % 2 ? ASX_LAB_PCT : ASX_LAB_RANDOM);
      c.pct_steps = 40; /* about the length of these runs */
      asx_lab_verdict v, mv;
      uint8_t *t, *m;
      size_t l, ml;
      cr_assert_eq(asx_lab_run(&c, &v, &t, &l), 0);
      if (v.oracle == ASX_LAB_ORACLE_NONE) {
        free(t);
        continue;
      }
      asx_lab_min_stats st;
      cr_assert_eq(asx_lab_minimize(NULL, t, l, 0, &mv, &st, &m, &ml), 0);
      cr_assert_str_eq(mv.key, v.key);
      cr_assert_leq(mv.steps, v.steps);
      if (mv.steps < v.steps) shrunk++;
      free(m);
      free(t);
    }
    cr_assert_gt(shrunk, 0, "%s: never shrunk", names[i]);
  }
}

Test(lab_run, minimize_rejects_a_passing_trace) {
  asx_lab_config c = cfg_for("clean", 1, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  uint8_t *t, *m = NULL;
  size_t l, ml;
  cr_assert_eq(asx_lab_run(&c, &v, &t, &l), 0);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_NONE);
  cr_assert_eq(asx_lab_minimize(NULL, t, l, 0, &v, NULL, &m, &ml), ASX_ESTATE);
  cr_assert_null(m);
  free(t);
}

Test(lab_run, clean_passes_many_seeds) {
  for (int s = 0; s < 2; s++) {
    asx_lab_config c = cfg_for("clean", 1000, s ? ASX_LAB_PCT : ASX_LAB_RANDOM);
    asx_lab_verdict v;
    uint64_t seed, done;
    int r = asx_lab_explore(&c, 300, &v, &seed, &done, NULL, NULL);
    cr_assert_eq(r, 0, "seed %llu: %s", (unsigned long long)seed, v.detail);
    cr_assert_eq(done, 300);
    cr_assert_eq(v.stats.live_tasks, 0);
    cr_assert_eq(v.stats.unresolved_obligations, 0);
  }
}

Test(lab_run, oracle_step_limit_then_clean_shutdown) {
  asx_lab_config c = cfg_for("t_spin", 1, ASX_LAB_RANDOM);
  c.max_steps = 500;
  asx_lab_verdict v;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_run(&c, &v, &t, &l), 0);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_STEP_LIMIT);
  cr_assert_eq(v.run_error, 0); /* the shutdown drained it: nothing abandoned */
  cr_assert_eq(v.stats.live_tasks, 0);
  cr_assert_lt(v.steps, 520);
  cr_assert_eq(asx_lab_replay(NULL, t, l, NULL, NULL, NULL), 0);
  free(t);
}

Test(lab_run, oracle_panic_and_cleanup_budget) {
  asx_lab_config c = cfg_for("t_panic", 1, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  cr_assert_eq(asx_lab_run(&c, &v, NULL, NULL), 0);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_PANIC);
  cr_assert(strstr(v.detail, "planted panic") != NULL);
  c = cfg_for("t_overrun", 1, ASX_LAB_RANDOM);
  cr_assert_eq(asx_lab_run(&c, &v, NULL, NULL), 0);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_CLEANUP_BUDGET, "%s", v.detail);
  cr_assert_eq(v.ntasks, 1);
}

Test(lab_run, deadlock_names_the_blocked_tasks) {
  asx_lab_config c = cfg_for("deadlock", 1, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  uint64_t seed, done;
  cr_assert_eq(asx_lab_explore(&c, 200, &v, &seed, &done, NULL, NULL), 1);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_DEADLOCK);
  cr_assert_eq(v.ntasks, 3); /* main (closing the region) and both lockers */
  cr_assert(strstr(v.detail, "locker-a\" waits in mutex_lock at src/demos.c:") != NULL, "%s", v.detail);
  cr_assert(strstr(v.detail, "last event: lock m2") != NULL, "%s", v.detail);
  cr_assert(strstr(v.detail, "locker-b\" waits in mutex_lock at src/demos.c:") != NULL, "%s", v.detail);
  cr_assert(strstr(v.detail, "\"main\" waits in region_close at src/demos.c:") != NULL, "%s", v.detail);
}

Test(lab_run, records_cover_driver_and_net_events) {
  asx_lab_config c = cfg_for("t_net", 9, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_run(&c, &v, &t, &l), 0);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_NONE, "%s", v.detail);
  asx_lab_trace *tr;
  cr_assert_eq(asx_lab_trace_parse(NULL, t, l, NULL, &tr, NULL), 0);
  int seen[ASX_LAB_REC_TYPE_MAX + 1] = {0};
  for (size_t i = 0; i < asx_lab_trace_count(tr); i++) {
    asx_lab_record r;
    cr_assert_eq(asx_lab_trace_get(tr, i, &r), 0);
    seen[r.type]++;
  }
  cr_assert_eq(seen[ASX_LAB_REC_NET_DELIVER], 1);
  cr_assert_eq(seen[ASX_LAB_REC_NET_FAULT], 1);
  cr_assert_eq(seen[ASX_LAB_REC_RANDOM], 10);
  cr_assert_gt(seen[ASX_LAB_REC_TIME_JUMP], 0);
  cr_assert_gt(seen[ASX_LAB_REC_TIMER_FIRE], 0);
  cr_assert_eq(seen[ASX_LAB_REC_RUN_END], 1);
  cr_assert_eq(seen[ASX_LAB_REC_SCHED], (int)v.steps);
  asx_lab_record last;
  asx_lab_trace_get(tr, asx_lab_trace_count(tr) - 1, &last);
  cr_assert_eq(last.type, ASX_LAB_REC_RUN_END);
  asx_lab_trace_free(tr);
  free(t);
}

#include "test_alloc.h"

/* Every allocation index failing in turn: the lab reports ENOMEM (or a run_error verdict when the
 * runtime absorbed it) and frees everything it allocated. */
Test(lab_run, allocation_failures) {
  for (long n = 0;; n++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, n);
    asx_lab_config c = cfg_for("lost_update", 2, ASX_LAB_PCT);
    c.alloc = &ta.base;
    asx_lab_verdict v;
    uint8_t *t = NULL;
    size_t l = 0;
    int err = asx_lab_run(&c, &v, &t, &l);
    if (t) asx_free(&ta.base, t);
    cr_assert(err == 0 || err == ASX_ENOMEM, "n=%ld err=%d", n, err);
    cr_assert_eq(ta.live, 0, "n=%ld: %ld blocks leaked (err %d)", n, ta.live, err);
    if (err == 0 && ta.failures == 0) break;
    cr_assert_lt(n, 100000);
  }
}

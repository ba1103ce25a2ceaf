/* Regression test for a lab PCT bug found by the codec lab tests: the liveness guard in
 * lab/src/choose.c pct() demoted a task that had run LAB_SPIN_LIMIT times in a row to priority 1
 * and re-ran the choice; when every other ready task already sat at priority 1 with a higher id,
 * the id tie-break picked the same task again and the choice looped for ever (no step taken, so
 * no step limit could end it). Two tasks that just yield 100 times each reached it within a few
 * hundred steps. Fixed by choosing among the other tasks directly. */
#include <criterion/criterion.h>

#include "asx/lab.h"

static int yielder(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) {
    int rc = asx_yield(cx);
    if (rc) return rc;
  }
  return 0;
}

static int two_yielders(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  asx_region *r = NULL;
  int rc = asx_region_open(cx, NULL, &r);
  if (rc) return rc;
  asx_spawn(cx, r, yielder, NULL, NULL, NULL);
  asx_spawn(cx, r, yielder, NULL, NULL, NULL);
  return asx_region_close(cx, r, NULL);
}

static void setup(void) { asx_lab_register("pct_two_yielders", two_yielders, "PCT spin-guard loop"); }

TestSuite(lab_pct_bug, .init = setup, .timeout = 20);

/* Expected once fixed: every seed finishes with every oracle passing (about 200 steps). */
Test(lab_pct_bug, two_yielding_tasks_finish_under_pct) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    asx_lab_config cfg;
    asx_lab_config_default(&cfg);
    cfg.scenario = "pct_two_yielders";
    cfg.seed = seed;
    cfg.strategy = ASX_LAB_PCT;
    cfg.max_steps = 10000;
    asx_lab_verdict v;
    cr_assert_eq(asx_lab_run(&cfg, &v, NULL, NULL), 0);
    cr_assert_eq(v.oracle, ASX_LAB_ORACLE_NONE, "seed %llu: %s", (unsigned long long)seed, v.detail);
  }
}

/* The same program under the random strategy: fine (shows the bug is PCT's). */
Test(lab_pct_bug, two_yielding_tasks_finish_under_random) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    asx_lab_config cfg;
    asx_lab_config_default(&cfg);
    cfg.scenario = "pct_two_yielders";
    cfg.seed = seed;
    cfg.strategy = ASX_LAB_RANDOM;
    cfg.max_steps = 10000;
    asx_lab_verdict v;
    cr_assert_eq(asx_lab_run(&cfg, &v, NULL, NULL), 0);
    cr_assert_eq(v.oracle, ASX_LAB_ORACLE_NONE, "seed %llu: %s", (unsigned long long)seed, v.detail);
  }
}

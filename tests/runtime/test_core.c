/* Core semantics on both drivers: spawn/join, close implies quiescence (grandchildren included),
 * outcome lattice aggregation, panic containment, fail-fast, finalizer order, the poll budget. */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "rt_test.h"

TestSuite(rt_core, .timeout = 60);

static const asx_driver_kind DRIVERS[] = {ASX_DRIVER_THREADS, ASX_DRIVER_DETERMINISTIC};

/* ---- spawn / join ---- */
static _Atomic int g_count;

static int add_one(asx_cx *cx, void *arg) {
  (void)arg;
  asx_yield(cx);
  atomic_fetch_add(&g_count, 1);
  return 7;
}

static int spawn_join_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *h[50];
  for (int i = 0; i < 100; i++) {
    int err = asx_spawn(cx, NULL, add_one, NULL, NULL, i < 50 ? &h[i] : NULL);
    cr_assert_eq(err, 0);
  }
  for (int i = 0; i < 50; i++) {
    int rc = 0;
    asx_outcome o;
    cr_assert_eq(asx_task_join(cx, h[i], &rc, &o), 0);
    cr_assert_eq(rc, 7);
    cr_assert_eq(o, ASX_OUTCOME_OK);
  }
  return 3;
}

Test(rt_core, spawn_join_and_teardown) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_count, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    int rc = 0;
    asx_runtime_stats s;
    asx_outcome o = rt_test_run(&c, spawn_join_main, NULL, &rc, &s);
    cr_assert_eq(o, ASX_OUTCOME_OK);
    cr_assert_eq(rc, 3);
    cr_assert_eq(atomic_load(&g_count), 100, "all tasks ran before run returned");
    cr_assert_eq(s.tasks_spawned, 101);
  }
}

/* ---- close waits for grandchildren ---- */
static _Atomic int g_grand_done;

static int grandchild(asx_cx *cx, void *arg) {
  uintptr_t i = (uintptr_t)arg;
  asx_sleep(cx, (i % 4 + 1) * MS_NS);
  for (int k = 0; k < 5; k++) asx_yield(cx);
  atomic_fetch_add(&g_grand_done, 1);
  return 0;
}

/* Opens a sub-region, fills it, and deliberately returns WITHOUT closing it when arg is 1:
 * the runtime must still wait for it (reported as a region leak). */
static int child_with_grandchildren(asx_cx *cx, void *arg) {
  asx_region *s;
  cr_assert_eq(asx_region_open(cx, NULL, &s), 0);
  for (uintptr_t i = 0; i < 5; i++) cr_assert_eq(asx_spawn(cx, s, grandchild, (void *)i, NULL, NULL), 0);
  if ((uintptr_t)arg == 1) return 0;
  return asx_region_close(cx, s, NULL);
}

static int grand_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  for (uintptr_t i = 0; i < 4; i++)
    cr_assert_eq(asx_spawn(cx, r, child_with_grandchildren, (void *)(i & 1), NULL, NULL), 0);
  asx_outcome o;
  cr_assert_eq(asx_region_close(cx, r, &o), 0);
  cr_assert_eq(atomic_load(&g_grand_done), 20, "close returned before every grandchild ended");
  cr_assert_eq(o, ASX_OUTCOME_OK);
  return 0;
}

Test(rt_core, region_close_waits_for_grandchildren) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_grand_done, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, grand_main, NULL, NULL, &s);
    cr_assert_eq(s.region_leaks, 2, "two children returned without closing their region");
    cr_assert_eq(rec_count(ASX_TRACE_REGION_LEAK), 2);
  }
}

/* ---- outcome lattice ---- */
static int ret_ok(asx_cx *cx, void *arg) { (void)cx; (void)arg; return 0; }
static int ret_err(asx_cx *cx, void *arg) { (void)cx; (void)arg; return ASX_EIO; }
static int ret_cancelled(asx_cx *cx, void *arg) { (void)cx; (void)arg; return ASX_ECANCELED; }
static int do_panic(asx_cx *cx, void *arg) { (void)arg; asx_panic(cx, "boom"); }

typedef struct lattice_case {
  int ok, err, cancelled, panicked;
  asx_outcome expect;
} lattice_case;

static int lattice_main(asx_cx *cx, void *arg) {
  const lattice_case *lc = arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  for (int i = 0; i < lc->ok; i++) asx_spawn(cx, r, ret_ok, NULL, NULL, NULL);
  for (int i = 0; i < lc->err; i++) asx_spawn(cx, r, ret_err, NULL, NULL, NULL);
  for (int i = 0; i < lc->cancelled; i++) asx_spawn(cx, r, ret_cancelled, NULL, NULL, NULL);
  for (int i = 0; i < lc->panicked; i++) asx_spawn(cx, r, do_panic, NULL, NULL, NULL);
  asx_outcome o;
  asx_region_close(cx, r, &o);
  cr_assert_eq(o, lc->expect, "case ok%d err%d c%d p%d: got %s", lc->ok, lc->err, lc->cancelled,
               lc->panicked, asx_outcome_name(o));
  return 0;
}

Test(rt_core, outcome_lattice_aggregation) {
  cr_assert_eq(asx_outcome_join(ASX_OUTCOME_OK, ASX_OUTCOME_ERR), ASX_OUTCOME_ERR);
  cr_assert_eq(asx_outcome_join(ASX_OUTCOME_CANCELLED, ASX_OUTCOME_ERR), ASX_OUTCOME_CANCELLED);
  cr_assert_eq(asx_outcome_join(ASX_OUTCOME_CANCELLED, ASX_OUTCOME_PANICKED), ASX_OUTCOME_PANICKED);
  const lattice_case cases[] = {
      {3, 0, 0, 0, ASX_OUTCOME_OK},        {2, 1, 0, 0, ASX_OUTCOME_ERR},
      {1, 2, 1, 0, ASX_OUTCOME_CANCELLED}, {0, 1, 1, 1, ASX_OUTCOME_PANICKED},
      {1, 0, 0, 1, ASX_OUTCOME_PANICKED},  {0, 0, 2, 0, ASX_OUTCOME_CANCELLED},
      {0, 0, 0, 0, ASX_OUTCOME_OK},
  };
  for (size_t d = 0; d < 2; d++)
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
      asx_outcome root = rt_test_run(&c, lattice_main, (void *)&cases[i], NULL, NULL);
      /* The child region's outcome folds into the root region. */
      cr_assert_eq(root, cases[i].expect);
    }
}

/* ---- panic containment ---- */
static _Atomic int g_sibling_done;
static _Atomic int g_orphan_cancelled;

static int sibling(asx_cx *cx, void *arg) {
  (void)arg;
  asx_sleep(cx, 5 * MS_NS);
  atomic_store(&g_sibling_done, 1);
  return 0;
}

static int orphan(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, 3600000 * MS_NS);
  if (err == ASX_ECANCELED) atomic_store(&g_orphan_cancelled, 1);
  return err;
}

static int panicker(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *mine;
  asx_region_open(cx, NULL, &mine);
  asx_spawn(cx, mine, orphan, NULL, NULL, NULL);
  asx_yield(cx);
  asx_panic(cx, "contract violated");
}

static int panic_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  asx_task *h;
  asx_spawn(cx, r, sibling, NULL, NULL, NULL);
  asx_spawn(cx, r, panicker, NULL, NULL, &h);
  int rc;
  asx_outcome to;
  cr_assert_eq(asx_task_join(cx, h, &rc, &to), 0);
  cr_assert_eq(to, ASX_OUTCOME_PANICKED);
  cr_assert_eq(rc, ASX_EPANIC);
  asx_outcome o;
  asx_region_close(cx, r, &o);
  cr_assert_eq(o, ASX_OUTCOME_PANICKED);
  cr_assert_eq(atomic_load(&g_sibling_done), 1, "a panic must not take its siblings down");
  cr_assert_eq(atomic_load(&g_orphan_cancelled), 1, "the panicking task's region was drained");
  return 0;
}

Test(rt_core, panic_is_contained_and_reported) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_sibling_done, 0);
    atomic_store(&g_orphan_cancelled, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    cr_assert_eq(rt_test_run(&c, panic_main, NULL, NULL, &s), ASX_OUTCOME_PANICKED);
    cr_assert_eq(s.panics, 1);
    const rec_event *e = rec_find(ASX_TRACE_PANIC);
    cr_assert_not_null(e);
    cr_assert_str_eq(e->message, "contract violated");
  }
}

/* ---- fail-fast ---- */
static _Atomic int g_ff_reason;

static int failer(asx_cx *cx, void *arg) {
  (void)arg;
  asx_sleep(cx, 2 * MS_NS);
  return ASX_EPROTO;
}

static int long_runner(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, 3600000 * MS_NS);
  atomic_store(&g_ff_reason, asx_cancel_reason(cx));
  return err;
}

static int failfast_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region_opts ro = asx_region_opts_default();
  ro.policy = ASX_REGION_FAIL_FAST;
  asx_region *r;
  asx_region_open(cx, &ro, &r);
  asx_spawn(cx, r, long_runner, NULL, NULL, NULL);
  asx_spawn(cx, r, failer, NULL, NULL, NULL);
  asx_outcome o;
  asx_region_close(cx, r, &o);
  cr_assert_eq(o, ASX_OUTCOME_CANCELLED, "Err joined with the cancelled sibling: %s", asx_outcome_name(o));
  cr_assert_eq(atomic_load(&g_ff_reason), ASX_CANCEL_FAIL_FAST);
  return 0;
}

Test(rt_core, fail_fast_cancels_siblings) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, failfast_main, NULL, NULL, NULL);
  }
}

/* ---- finalizers ---- */
static int g_fin_order[4];
static int g_fin_n;

static void fin(void *arg) { g_fin_order[g_fin_n++] = (int)(uintptr_t)arg; }

static int fin_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (uintptr_t i = 1; i <= 3; i++) cr_assert_eq(asx_region_defer(r, fin, (void *)i), 0);
  asx_spawn(cx, r, ret_ok, NULL, NULL, NULL);
  cr_assert_eq(asx_region_state_get(r), ASX_REGION_OPEN);
  asx_region_close(cx, r, NULL);
  cr_assert_eq(g_fin_n, 3);
  return 0;
}

Test(rt_core, finalizers_run_in_reverse_order) {
  g_fin_n = 0;
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, fin_main, NULL, NULL, NULL);
  cr_assert_eq(g_fin_order[0], 3);
  cr_assert_eq(g_fin_order[1], 2);
  cr_assert_eq(g_fin_order[2], 1);
}

/* ---- poll budget: a spinning task cannot starve another on one worker ---- */
static _Atomic int g_flag;

static int spinner(asx_cx *cx, void *arg) {
  (void)arg;
  while (!atomic_load(&g_flag)) asx_checkpoint(cx); /* never blocks, never yields explicitly */
  return 0;
}

static int setter(asx_cx *cx, void *arg) {
  (void)cx;
  (void)arg;
  atomic_store(&g_flag, 1);
  return 0;
}

static int spin_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_spawn(cx, NULL, spinner, NULL, NULL, NULL);
  asx_yield(cx);
  asx_spawn(cx, NULL, setter, NULL, NULL, NULL);
  return 0;
}

Test(rt_core, poll_budget_forces_yield) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_flag, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 1);
    rt_test_run(&c, spin_main, NULL, NULL, NULL);
    cr_assert_eq(atomic_load(&g_flag), 1);
  }
}

/* ---- bad arguments ---- */
Test(rt_core, config_validation) {
  asx_runtime_config c;
  asx_runtime_config_default(&c);
  c.deque_capacity = 100; /* not a power of two */
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&c, &rt), ASX_EINVAL);
  cr_assert_null(rt);
  asx_runtime_config_default(&c);
  c.driver = (asx_driver_kind)9;
  cr_assert_eq(asx_runtime_new(&c, &rt), ASX_EINVAL);
  cr_assert_eq(asx_runtime_new(NULL, NULL), ASX_EINVAL);
  cr_assert_eq(asx_cancel_severity(ASX_CANCEL_USER), 1);
  cr_assert_eq(asx_cancel_severity(ASX_CANCEL_SHUTDOWN), 6);
  cr_assert_str_eq(asx_cancel_kind_name(ASX_CANCEL_PARENT), "parent_cancelled");
}

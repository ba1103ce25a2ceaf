/* Core semantics on both drivers: spawn/join, close implies quiescence (grandchildren included),
 * outcome lattice aggregation, panic containment, fail-fast, finalizer order, the poll budget. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

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

/* ---- graceful shutdown requested from a foreign thread ---- */
static asx_runtime *g_rt;
static _Atomic int g_shutdown_seen;

static int server_loop(asx_cx *cx, void *arg) {
  (void)arg;
  while (asx_sleep(cx, 1 * MS_NS) == 0) {
  }
  if (asx_cancel_reason(cx) == ASX_CANCEL_PARENT || asx_cancel_reason(cx) == ASX_CANCEL_SHUTDOWN)
    atomic_fetch_add(&g_shutdown_seen, 1);
  return ASX_ECANCELED;
}

static int server_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (int i = 0; i < 4; i++) asx_spawn(cx, r, server_loop, NULL, NULL, NULL);
  while (asx_sleep(cx, 1 * MS_NS) == 0) {
  }
  cr_assert_eq(asx_cancel_reason(cx), ASX_CANCEL_SHUTDOWN);
  asx_region_close(cx, r, NULL);
  return 0;
}

static void *shutdown_later(void *arg) {
  (void)arg;
  struct timespec ts = {0, 5 * 1000000};
  nanosleep(&ts, NULL);
  asx_runtime_cancel(g_rt, ASX_CANCEL_SHUTDOWN);
  return NULL;
}

Test(rt_core, shutdown_from_foreign_thread) {
  atomic_store(&g_shutdown_seen, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  cr_assert_eq(asx_runtime_new(&c, &g_rt), 0);
  asx_runtime_cancel(g_rt, ASX_CANCEL_SHUTDOWN); /* no run in progress: a no-op */
  pthread_t th;
  pthread_create(&th, NULL, shutdown_later, NULL);
  int rc = -1;
  cr_assert_eq(asx_runtime_run(g_rt, server_main, NULL, &rc, NULL), 0);
  pthread_join(th, NULL);
  cr_assert_eq(rc, 0);
  cr_assert_eq(atomic_load(&g_shutdown_seen), 4);
  asx_runtime_stats s;
  asx_runtime_stats_get(g_rt, &s);
  asx_runtime_free(g_rt);
  cr_assert_eq(s.live_tasks + s.live_regions + s.unresolved_obligations, 0);
}

/* ---- region-owned memory lives until after the finalizers ---- */
static char *g_region_mem;
static int g_region_mem_ok;

static void check_mem(void *arg) {
  (void)arg;
  g_region_mem_ok = strcmp(g_region_mem, "per-request") == 0;
}

static int region_mem_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  g_region_mem = asx_region_alloc(r, 64);
  cr_assert_not_null(g_region_mem);
  strcpy(g_region_mem, "per-request");
  for (int i = 0; i < 10; i++) cr_assert_not_null(asx_region_alloc(r, 1000));
  asx_region_defer(r, check_mem, NULL);
  asx_region_close(cx, r, NULL); /* ASan: the blocks are freed here, no leak */
  return 0;
}

Test(rt_core, region_alloc_freed_after_finalizers) {
  g_region_mem_ok = 0;
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, region_mem_main, NULL, NULL, NULL);
  cr_assert_eq(g_region_mem_ok, 1);
}

/* ---- threads driver lanes: tasks with a deadline run earliest-deadline-first, before plain
 * ready tasks (one worker, everything made ready while main holds the worker) ---- */
static int g_order[16];
static _Atomic int g_norder;

static int record_order(asx_cx *cx, void *arg) {
  (void)cx;
  g_order[atomic_fetch_add(&g_norder, 1)] = (int)(uintptr_t)arg;
  return 0;
}

static int edf_main(asx_cx *cx, void *arg) {
  (void)arg;
  uint64_t now = asx_now(cx);
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  static const int deadlines_s[5] = {50, 10, 40, 20, 30}; /* ids 1..5 */
  for (int i = 0; i < 5; i++) {
    asx_spawn(cx, r, record_order, (void *)(uintptr_t)(100 + i), NULL, NULL); /* no deadline */
    asx_spawn_opts so = asx_spawn_opts_default();
    so.budget.deadline_ns = now + (uint64_t)deadlines_s[i] * 1000 * MS_NS;
    asx_spawn(cx, r, record_order, (void *)(uintptr_t)(i + 1), &so, NULL);
  }
  asx_region_close(cx, r, NULL);
  return 0;
}

Test(rt_core, timed_lane_is_earliest_deadline_first) {
  atomic_store(&g_norder, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 1);
  rt_test_run(&c, edf_main, NULL, NULL, NULL);
  cr_assert_eq(atomic_load(&g_norder), 10);
  static const int expect[5] = {2, 4, 5, 3, 1}; /* 10 s, 20 s, 30 s, 40 s, 50 s */
  for (int i = 0; i < 5; i++) cr_assert_eq(g_order[i], expect[i], "position %d: got %d", i, g_order[i]);
  for (int i = 5; i < 10; i++) cr_assert_geq(g_order[i], 100, "plain ready tasks run after the timed lane");
}

static int blocked_then_record(asx_cx *cx, void *arg) {
  asx_sleep(cx, 3600000 * MS_NS); /* only a cancellation ends this */
  return record_order(cx, arg);
}

static int cancel_lane_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *blocked, *plain;
  asx_region_open(cx, NULL, &blocked);
  asx_region_open(cx, NULL, &plain);
  for (uintptr_t i = 0; i < 5; i++) asx_spawn(cx, blocked, blocked_then_record, (void *)(i + 1), NULL, NULL);
  asx_sleep(cx, 1 * MS_NS); /* they all run and block */
  for (uintptr_t i = 0; i < 5; i++) asx_spawn(cx, plain, record_order, (void *)(100 + i), NULL, NULL);
  asx_region_cancel(blocked, ASX_CANCEL_USER);
  asx_region_close(cx, blocked, NULL);
  asx_region_close(cx, plain, NULL);
  return 0;
}

Test(rt_core, cancel_lane_runs_draining_tasks_first) {
  atomic_store(&g_norder, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 1);
  rt_test_run(&c, cancel_lane_main, NULL, NULL, NULL);
  cr_assert_eq(atomic_load(&g_norder), 10);
  for (int i = 0; i < 5; i++) cr_assert_lt(g_order[i], 100, "a draining task was queued behind ready work");
}

/* ---- fairness: a ping-pong pair hammering the LIFO slot and the deque cannot starve a task
 * queued behind it on the same (single) worker ---- */
static asx_chan *g_fa, *g_fb;
static _Atomic int g_fair_flag;
static _Atomic uint32_t g_fair_rounds;

static int fair_ping(asx_cx *cx, void *arg) {
  (void)arg;
  uint32_t v = 0;
  for (uint32_t i = 0; i < 2000000 && !atomic_load(&g_fair_flag); i++) {
    asx_chan_send(cx, g_fa, &v);
    asx_chan_recv(cx, g_fb, &v);
    atomic_store(&g_fair_rounds, i + 1);
  }
  asx_chan_close(g_fa);
  return 0;
}

static int fair_pong(asx_cx *cx, void *arg) {
  (void)arg;
  uint32_t v;
  while (asx_chan_recv(cx, g_fa, &v) == 0) asx_chan_send(cx, g_fb, &v);
  return 0;
}

static int fair_setter(asx_cx *cx, void *arg) {
  (void)cx;
  (void)arg;
  atomic_store(&g_fair_flag, 1);
  return 0;
}

static int fair_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_spawn(cx, NULL, fair_ping, NULL, NULL, NULL);
  asx_spawn(cx, NULL, fair_pong, NULL, NULL, NULL);
  asx_sleep(cx, 1 * MS_NS); /* the pair is in full swing */
  asx_spawn(cx, NULL, fair_setter, NULL, NULL, NULL);
  return 0;
}

Test(rt_core, busy_pair_cannot_starve_queued_task) {
  atomic_store(&g_fair_flag, 0);
  atomic_store(&g_fair_rounds, 0);
  asx_chan_new(NULL, sizeof(uint32_t), 1, &g_fa);
  asx_chan_new(NULL, sizeof(uint32_t), 1, &g_fb);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 1);
  rt_test_run(&c, fair_main, NULL, NULL, NULL);
  asx_chan_free(g_fa);
  asx_chan_free(g_fb);
  cr_assert_eq(atomic_load(&g_fair_flag), 1);
  cr_assert_lt(atomic_load(&g_fair_rounds), 2000000, "the setter only ran after the pair gave up");
}

/* ---- contract violations are errors, not crashes ---- */
static asx_region *g_foreign_region;

static int not_the_owner(asx_cx *cx, void *arg) {
  (void)arg;
  cr_assert_eq(asx_region_close(cx, g_foreign_region, NULL), ASX_ESTATE, "only the owner closes");
  cr_assert_eq(asx_task_join(cx, asx_cx_task(cx), NULL, NULL), ASX_EINVAL, "a task cannot join itself");
  cr_assert_eq(asx_spawn(cx, NULL, NULL, NULL, NULL, NULL), ASX_EINVAL);
  cr_assert_eq(asx_region_defer(g_foreign_region, NULL, NULL), ASX_EINVAL);
  return 0;
}

static int violations_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region_open(cx, NULL, &g_foreign_region);
  asx_task *h;
  asx_spawn(cx, NULL, not_the_owner, NULL, NULL, &h);
  asx_task_join(cx, h, NULL, NULL);
  cr_assert_eq(asx_region_close(cx, g_foreign_region, NULL), 0);
  return 0;
}

Test(rt_core, contract_violations_return_errors) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    cr_assert_eq(rt_test_run(&c, violations_main, NULL, NULL, NULL), ASX_OUTCOME_OK);
  }
}

/* ---- a runtime can run several times; ids and stats carry on, nothing leaks ---- */
static int tiny_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++) asx_spawn(cx, NULL, ret_ok, NULL, NULL, NULL);
  return asx_sleep(cx, 100000);
}

Test(rt_core, runtime_runs_repeatedly) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime *rt;
    cr_assert_eq(asx_runtime_new(&c, &rt), 0);
    for (int run = 0; run < 3; run++) {
      asx_outcome o = ASX_OUTCOME_PANICKED;
      cr_assert_eq(asx_runtime_run(rt, tiny_main, NULL, NULL, &o), 0);
      cr_assert_eq(o, ASX_OUTCOME_OK);
    }
    asx_runtime_stats s;
    asx_runtime_stats_get(rt, &s);
    cr_assert_eq(s.tasks_spawned, 33);
    cr_assert_eq(s.live_tasks + s.live_regions + s.unresolved_obligations, 0);
    asx_runtime_free(rt);
  }
}

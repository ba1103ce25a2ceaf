/* Cancellation (request -> drain -> finalize), masks, cleanup budgets, race, timeout, budgets. */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "rt_test.h"

TestSuite(rt_cancel, .timeout = 60);

static const asx_driver_kind DRIVERS[] = {ASX_DRIVER_THREADS, ASX_DRIVER_DETERMINISTIC};

/* ---- parent cancel reaches every descendant; each drains within its cleanup budget ---- */
#define FANOUT 3
#define DEPTH 3

typedef struct tree_stats {
  _Atomic int drained;        /* tasks that observed ECANCELED and ended */
  _Atomic int direct_user;    /* tasks of the target region that saw kind=user */
  _Atomic int parent_kind;    /* deeper tasks that saw parent_cancelled */
  _Atomic int within_budget;  /* ended before asx_cleanup_deadline */
} tree_stats;

static tree_stats g_tree;

static int tree_node(asx_cx *cx, void *arg) {
  uintptr_t depth = (uintptr_t)arg;
  asx_region *sub = NULL;
  if (depth < DEPTH) {
    cr_assert_eq(asx_region_open(cx, NULL, &sub), 0);
    for (int i = 0; i < FANOUT; i++) asx_spawn(cx, sub, tree_node, (void *)(depth + 1), NULL, NULL);
  }
  int err = asx_sleep(cx, 3600000 * MS_NS); /* an hour: only cancellation ends this */
  cr_assert_eq(err, ASX_ECANCELED);
  asx_cancel_kind k = asx_cancel_reason(cx);
  if (depth == 1 && k == ASX_CANCEL_USER) atomic_fetch_add(&g_tree.direct_user, 1);
  if (depth > 1 && k == ASX_CANCEL_PARENT) atomic_fetch_add(&g_tree.parent_kind, 1);
  /* Cleanup that must block runs masked; it is short and fits the budget. */
  asx_mask_push(cx);
  asx_sleep(cx, 1 * MS_NS);
  asx_mask_pop(cx);
  if (sub) asx_region_close(cx, sub, NULL);
  if (asx_now(cx) <= asx_cleanup_deadline(cx)) atomic_fetch_add(&g_tree.within_budget, 1);
  atomic_fetch_add(&g_tree.drained, 1);
  return ASX_ECANCELED;
}

static int tree_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *top;
  asx_region_open(cx, NULL, &top);
  for (int i = 0; i < FANOUT; i++) asx_spawn(cx, top, tree_node, (void *)1, NULL, NULL);
  asx_sleep(cx, 5 * MS_NS); /* let the tree grow and block */
  asx_region_cancel(top, ASX_CANCEL_USER);
  asx_region_cancel(top, ASX_CANCEL_USER); /* idempotent */
  asx_outcome o;
  asx_region_close(cx, top, &o);
  cr_assert_eq(o, ASX_OUTCOME_CANCELLED);
  return 0;
}

Test(rt_cancel, parent_cancel_reaches_every_descendant) {
  const int total = FANOUT + FANOUT * FANOUT + FANOUT * FANOUT * FANOUT;
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_tree.drained, 0);
    atomic_store(&g_tree.direct_user, 0);
    atomic_store(&g_tree.parent_kind, 0);
    atomic_store(&g_tree.within_budget, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, tree_main, NULL, NULL, &s);
    cr_assert_eq(atomic_load(&g_tree.drained), total);
    cr_assert_eq(atomic_load(&g_tree.direct_user), FANOUT);
    cr_assert_eq(atomic_load(&g_tree.parent_kind), total - FANOUT);
    cr_assert_eq(atomic_load(&g_tree.within_budget), total);
    cr_assert_eq(s.cleanup_overruns, 0);
  }
}

/* ---- severity only strengthens, cleanup deadline only tightens (virtual time: exact) ---- */
static int victim_wait(asx_cx *cx, void *arg) {
  (void)arg;
  asx_mask_push(cx); /* stays alive so its marks can be inspected */
  asx_sleep(cx, 1000 * MS_NS);
  asx_mask_pop(cx);
  return asx_checkpoint(cx);
}

static int severity_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *v;
  asx_spawn(cx, NULL, victim_wait, NULL, NULL, &v);
  asx_yield(cx);
  uint64_t t0 = asx_now(cx);
  asx_task_cancel(v, ASX_CANCEL_USER);
  asx_task_cancel(v, ASX_CANCEL_SHUTDOWN);
  asx_task_cancel(v, ASX_CANCEL_USER); /* weaker: must not downgrade */
  int rc;
  asx_task_join(cx, v, &rc, NULL);
  cr_assert_eq(rc, ASX_ECANCELED);
  /* The recorded cancel events: user (deadline t0+5s), shutdown (t0+250ms), nothing for the
   * repeated weaker user request. */
  size_t n = rec_count(ASX_TRACE_CANCEL);
  cr_assert_eq(n, 2, "a weaker repeat must be a no-op, saw %zu cancel events", n);
  pthread_mutex_lock(&g_rec.mu);
  int seen = 0;
  for (size_t i = 0; i < g_rec.n; i++) {
    rec_event *e = &g_rec.ev[i];
    if (e->type != ASX_TRACE_CANCEL) continue;
    if (seen == 0) {
      cr_assert_eq(e->kind, ASX_CANCEL_USER);
      cr_assert_eq(e->value, t0 + 5000 * MS_NS);
    } else {
      cr_assert_eq(e->kind, ASX_CANCEL_SHUTDOWN);
      cr_assert_eq(e->value, t0 + 250 * MS_NS);
    }
    seen++;
  }
  pthread_mutex_unlock(&g_rec.mu);
  return 0;
}

Test(rt_cancel, repeated_request_only_strengthens) {
  asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
  asx_runtime_stats s;
  rt_test_run(&c, severity_main, NULL, NULL, &s);
  /* The victim slept 1 s masked, past its 250 ms shutdown budget: reported while still draining
   * (the watchdog, at 250 ms) and again when it ended 750 ms late; counted once; not killed. */
  cr_assert_eq(s.cleanup_overruns, 1);
  cr_assert_eq(rec_count(ASX_TRACE_CLEANUP_OVERRUN), 2);
  int seen = 0;
  for (size_t i = 0; i < g_rec.n; i++) {
    const rec_event *e = &g_rec.ev[i];
    if (e->type != ASX_TRACE_CLEANUP_OVERRUN) continue;
    cr_assert_eq(e->kind, ASX_CANCEL_SHUTDOWN);
    if (seen++ == 0) {
      cr_assert_eq(e->code, 1, "first report comes from the watchdog while the task runs");
      cr_assert_eq(e->value, 0);
    } else {
      cr_assert_eq(e->code, 0);
      cr_assert_eq(e->value, 750 * MS_NS);
    }
  }
}

/* ---- masks: checkpoints and blocking calls do not observe cancellation while masked ---- */
static int masked(asx_cx *cx, void *arg) {
  (void)arg;
  asx_mask_push(cx);
  asx_mask_push(cx);
  asx_task_cancel(asx_cx_task(cx), ASX_CANCEL_USER);
  cr_assert(asx_cancel_requested(cx));
  cr_assert_eq(asx_checkpoint(cx), 0);
  cr_assert_eq(asx_sleep(cx, 2 * MS_NS), 0, "a masked sleep completes");
  asx_mask_pop(cx);
  cr_assert_eq(asx_checkpoint(cx), 0, "still masked once");
  asx_mask_pop(cx);
  cr_assert_eq(asx_checkpoint(cx), ASX_ECANCELED);
  cr_assert_eq(asx_sleep(cx, 2 * MS_NS), ASX_ECANCELED);
  return ASX_ECANCELED;
}

Test(rt_cancel, nested_masks) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    cr_assert_eq(rt_test_run(&c, masked, NULL, NULL, NULL), ASX_OUTCOME_CANCELLED);
  }
}

/* ---- race: losers are cancelled AND drained before race returns ---- */
static _Atomic int g_loser_cleaned;
static _Atomic int g_loser_reason_ok;

static int fast(asx_cx *cx, void *arg) {
  (void)arg;
  asx_sleep(cx, 1 * MS_NS);
  return 42;
}

static int slow(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, 3600000 * MS_NS);
  if (err == ASX_ECANCELED && asx_cancel_reason(cx) == ASX_CANCEL_RACE_LOST)
    atomic_fetch_add(&g_loser_reason_ok, 1);
  asx_mask_push(cx);
  asx_sleep(cx, 3 * MS_NS); /* slow cleanup: race must still wait for it */
  asx_mask_pop(cx);
  atomic_fetch_add(&g_loser_cleaned, 1);
  return err;
}

static int race_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task_fn fns[3] = {slow, fast, slow};
  size_t winner = 99;
  int wrc = 0;
  cr_assert_eq(asx_race(cx, 3, fns, NULL, &winner, &wrc), 0);
  cr_assert_eq(atomic_load(&g_loser_cleaned), 2, "race returned before its losers drained");
  cr_assert_eq(atomic_load(&g_loser_reason_ok), 2);
  cr_assert_eq(winner, 1);
  cr_assert_eq(wrc, 42);
  return 0;
}

Test(rt_cancel, race_drains_losers) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_loser_cleaned, 0);
    atomic_store(&g_loser_reason_ok, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    /* The race region's Cancelled losers do not taint the caller's region. */
    cr_assert_eq(rt_test_run(&c, race_main, NULL, NULL, NULL), ASX_OUTCOME_OK);
  }
}

/* ---- timeout ---- */
static _Atomic int g_body_saw_timeout;

static int sleepy_body(asx_cx *cx, void *arg) {
  uint64_t ns = (uint64_t)(uintptr_t)arg * MS_NS;
  int err = asx_sleep(cx, ns);
  if (err == ASX_ECANCELED && asx_cancel_reason(cx) == ASX_CANCEL_TIMEOUT)
    atomic_store(&g_body_saw_timeout, 1);
  return err ? err : 5;
}

static int timeout_main(asx_cx *cx, void *arg) {
  (void)arg;
  cr_assert_eq(asx_timeout(cx, 5 * MS_NS, sleepy_body, (void *)(uintptr_t)3600000), ASX_ETIMEDOUT);
  cr_assert_eq(atomic_load(&g_body_saw_timeout), 1, "body drained with reason timeout before return");
  cr_assert_eq(asx_timeout(cx, 3600000 * MS_NS, sleepy_body, (void *)(uintptr_t)1), 5);
  return 0;
}

Test(rt_cancel, timeout_cancels_and_drains) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_body_saw_timeout, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, timeout_main, NULL, NULL, NULL);
  }
}

/* ---- budgets ---- */
Test(rt_cancel, budget_combine_is_min_and_max_priority) {
  asx_budget p = {100, 10, 1000, 2};
  asx_budget c = {200, 5, ASX_UNLIMITED, 1};
  asx_budget b = asx_budget_combine(p, c);
  cr_assert_eq(b.deadline_ns, 100);
  cr_assert_eq(b.poll_quota, 5);
  cr_assert_eq(b.cost_quota, 1000);
  cr_assert_eq(b.priority, 2);
  asx_budget u = asx_budget_unlimited();
  b = asx_budget_combine(u, u);
  cr_assert_eq(b.deadline_ns, ASX_UNLIMITED);
  cr_assert_eq(b.poll_quota, ASX_UNLIMITED);
}

static asx_budget g_seen_child, g_seen_grandchild;

static int budget_grandchild(asx_cx *cx, void *arg) {
  (void)arg;
  g_seen_grandchild = asx_cx_budget(cx);
  return 0;
}

static int budget_child(asx_cx *cx, void *arg) {
  (void)arg;
  g_seen_child = asx_cx_budget(cx);
  asx_region_opts ro = asx_region_opts_default();
  ro.budget.deadline_ns = ASX_UNLIMITED; /* a looser request cannot widen the inherited one */
  ro.budget.cost_quota = 7;
  asx_region *r;
  asx_region_open(cx, &ro, &r);
  asx_spawn_opts so = asx_spawn_opts_default();
  so.budget.priority = 9;
  asx_spawn(cx, r, budget_grandchild, NULL, &so, NULL);
  return asx_region_close(cx, r, NULL);
}

static int budget_main(asx_cx *cx, void *arg) {
  (void)arg;
  uint64_t now = asx_now(cx);
  asx_region_opts ro = asx_region_opts_default();
  ro.budget.deadline_ns = now + 3600000 * MS_NS;
  ro.budget.poll_quota = 1000;
  ro.budget.priority = 3;
  asx_region *r;
  asx_region_open(cx, &ro, &r);
  asx_spawn_opts so = asx_spawn_opts_default();
  so.budget.deadline_ns = now + 7200000 * MS_NS;
  so.budget.poll_quota = 500;
  so.budget.priority = 1;
  asx_spawn(cx, r, budget_child, NULL, &so, NULL);
  asx_region_close(cx, r, NULL);
  cr_assert_eq(g_seen_child.deadline_ns, now + 3600000 * MS_NS, "min deadline");
  cr_assert_eq(g_seen_child.poll_quota, 500, "min poll quota");
  cr_assert_eq(g_seen_child.priority, 3, "max priority");
  cr_assert_eq(g_seen_grandchild.deadline_ns, now + 3600000 * MS_NS);
  cr_assert_leq(g_seen_grandchild.poll_quota, 500);
  cr_assert_eq(g_seen_grandchild.cost_quota, 7);
  cr_assert_eq(g_seen_grandchild.priority, 9);
  return 0;
}

Test(rt_cancel, budget_inheritance) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, budget_main, NULL, NULL, NULL);
  }
}

static _Atomic int g_exhaust_reason[3];

static int deadline_task(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, 3600000 * MS_NS);
  atomic_store(&g_exhaust_reason[0], err == ASX_ECANCELED ? (int)asx_cancel_reason(cx) : -1);
  return err;
}

static int poll_task(asx_cx *cx, void *arg) {
  (void)arg;
  int passed = 0;
  while (asx_checkpoint(cx) == 0) passed++;
  cr_assert_eq(passed, 10, "poll quota 10 lets exactly 10 checkpoints pass");
  atomic_store(&g_exhaust_reason[1], asx_cancel_reason(cx));
  return ASX_ECANCELED;
}

static int cost_task(asx_cx *cx, void *arg) {
  (void)arg;
  cr_assert_eq(asx_charge(cx, 60), 0);
  cr_assert_eq(asx_charge(cx, 60), ASX_ECANCELED);
  atomic_store(&g_exhaust_reason[2], asx_cancel_reason(cx));
  return ASX_ECANCELED;
}

static int exhaust_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_spawn_opts so = asx_spawn_opts_default();
  so.budget.deadline_ns = asx_now(cx) + 5 * MS_NS;
  asx_spawn(cx, NULL, deadline_task, NULL, &so, NULL);
  so = asx_spawn_opts_default();
  so.budget.poll_quota = 10;
  asx_spawn(cx, NULL, poll_task, NULL, &so, NULL);
  so = asx_spawn_opts_default();
  so.budget.cost_quota = 100;
  asx_spawn(cx, NULL, cost_task, NULL, &so, NULL);
  return 0;
}

Test(rt_cancel, budget_exhaustion_requests_cancellation) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    cr_assert_eq(rt_test_run(&c, exhaust_main, NULL, NULL, NULL), ASX_OUTCOME_CANCELLED);
    cr_assert_eq(atomic_load(&g_exhaust_reason[0]), ASX_CANCEL_DEADLINE);
    cr_assert_eq(atomic_load(&g_exhaust_reason[1]), ASX_CANCEL_POLL_QUOTA);
    cr_assert_eq(atomic_load(&g_exhaust_reason[2]), ASX_CANCEL_COST_BUDGET);
  }
}

/* ---- a task spawned into a cancelled region starts cancelled ---- */
static int observe(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_checkpoint(cx);
}

static int spawn_cancelled_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  asx_region_cancel(r, ASX_CANCEL_USER);
  asx_task *h;
  cr_assert_eq(asx_spawn(cx, r, observe, NULL, NULL, &h), 0);
  int rc;
  asx_task_join(cx, h, &rc, NULL);
  cr_assert_eq(rc, ASX_ECANCELED);
  asx_outcome o;
  asx_region_close(cx, r, &o);
  cr_assert_eq(o, ASX_OUTCOME_CANCELLED);
  /* Nested: the child region of a cancelled task's region is born cancelled. */
  return 0;
}

Test(rt_cancel, spawn_into_cancelled_region) {
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  cr_assert_eq(rt_test_run(&c, spawn_cancelled_main, NULL, NULL, NULL), ASX_OUTCOME_CANCELLED);
}

/* ---- race and timeout whose children all panic end promptly with ASX_EPANIC ---- */
static int panics_now(asx_cx *cx, void *arg) {
  (void)arg;
  asx_panic(cx, "no winner");
}

static int all_panic_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task_fn fns[2] = {panics_now, panics_now};
  size_t w;
  cr_assert_eq(asx_race(cx, 2, fns, NULL, &w, NULL), ASX_EPANIC);
  uint64_t t0 = asx_now(cx);
  cr_assert_eq(asx_timeout(cx, 3600000 * MS_NS, panics_now, NULL), ASX_EPANIC);
  cr_assert_lt(asx_now(cx) - t0, 3600000 * MS_NS, "timeout waited for its timer instead");
  return 0;
}

Test(rt_cancel, race_and_timeout_with_panicking_children) {
  for (size_t d = 0; d < 2; d++) {
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, all_panic_main, NULL, NULL, &s);
    cr_assert_eq(s.panics, 3);
    cr_assert_eq(s.deadlocks, 0);
  }
}

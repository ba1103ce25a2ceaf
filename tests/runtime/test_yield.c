/* Yields on the threads driver, which switches straight from the yielding task to the next one
 * when it can (rt_yield / thr_yield_next): yielders still take turns in FIFO order, timers still
 * fire and wake tasks while every runnable task only yields, cancellation reaches a yield loop,
 * yields mixed with blocking and wakeups across workers never schedule a task twice, and the
 * struct/stack caches survive many spawn+join rounds with every kind of exit. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "rt_test.h"

TestSuite(rt_yield, .timeout = 120);

/* ---- FIFO turns among yielders on one worker ---- */
enum { YIELDERS = 4, TURNS = 300 };

static int g_order[YIELDERS * TURNS];
static int g_norder;

static int turn_taker(asx_cx *cx, void *arg) {
  int me = (int)(intptr_t)arg;
  for (int i = 0; i < TURNS; i++) {
    g_order[g_norder++] = me; /* one worker: no data race */
    cr_assert_eq(asx_yield(cx), 0);
  }
  return 0;
}

static int turns_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *h[YIELDERS];
  for (int i = 0; i < YIELDERS; i++)
    cr_assert_eq(asx_spawn(cx, NULL, turn_taker, (void *)(intptr_t)i, NULL, &h[i]), 0);
  for (int i = 0; i < YIELDERS; i++) cr_assert_eq(asx_task_join(cx, h[i], NULL, NULL), 0);
  return 0;
}

Test(rt_yield, yielders_take_turns_in_fifo_order) {
  g_norder = 0;
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 1);
  asx_runtime_stats s;
  rt_test_run(&c, turns_main, NULL, NULL, &s);
  cr_assert_eq(g_norder, YIELDERS * TURNS);
  int seen = 0;
  for (int i = 0; i < YIELDERS; i++) seen |= 1 << g_order[i];
  cr_assert_eq(seen, (1 << YIELDERS) - 1, "every yielder ran once before any ran twice");
  for (int i = YIELDERS; i < g_norder; i++)
    cr_assert_eq(g_order[i], g_order[i - YIELDERS], "turn %d broke the round-robin", i);
  cr_assert_geq(s.switches, (uint64_t)(YIELDERS * TURNS), "every turn is counted as a run");
}

/* ---- timers fire while every runnable task only yields ---- */
static _Atomic int g_woke;

static int sleeper(asx_cx *cx, void *arg) {
  (void)arg;
  cr_assert_eq(asx_sleep(cx, 2 * MS_NS), 0);
  atomic_store(&g_woke, 1);
  return 0;
}

static int spinner(asx_cx *cx, void *arg) {
  (void)arg;
  /* Bounded so a timer that never fires fails the test instead of hanging it. */
  for (uint64_t i = 0; i < 200000000ull && !atomic_load(&g_woke); i++) asx_yield(cx);
  return atomic_load(&g_woke) ? 0 : -1;
}

static int timers_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *a, *b, *z;
  cr_assert_eq(asx_spawn(cx, NULL, sleeper, NULL, NULL, &z), 0);
  cr_assert_eq(asx_spawn(cx, NULL, spinner, NULL, NULL, &a), 0);
  cr_assert_eq(asx_spawn(cx, NULL, spinner, NULL, NULL, &b), 0);
  int ra = -2, rb = -2;
  cr_assert_eq(asx_task_join(cx, a, &ra, NULL), 0);
  cr_assert_eq(asx_task_join(cx, b, &rb, NULL), 0);
  cr_assert_eq(asx_task_join(cx, z, NULL, NULL), 0);
  cr_assert_eq(ra, 0, "the sleeper's timer never fired while the others yielded");
  cr_assert_eq(rb, 0);
  return 0;
}

Test(rt_yield, timers_fire_while_tasks_only_yield) {
  atomic_store(&g_woke, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 1);
  rt_test_run(&c, timers_main, NULL, NULL, NULL);
  cr_assert_eq(atomic_load(&g_woke), 1);
}

/* ---- cancellation reaches a yield loop (one and two workers) ---- */
static int yield_until_cancelled(asx_cx *cx, void *arg) {
  (void)arg;
  for (uint64_t i = 0; i < 200000000ull; i++)
    if (asx_yield(cx) == ASX_ECANCELED) return ASX_ECANCELED;
  return -1;
}

static int cancel_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  asx_task *h[3];
  for (int i = 0; i < 3; i++) cr_assert_eq(asx_spawn(cx, r, yield_until_cancelled, NULL, NULL, &h[i]), 0);
  for (int i = 0; i < 50; i++) asx_yield(cx);
  asx_region_cancel(r, ASX_CANCEL_USER);
  for (int i = 0; i < 3; i++) {
    int rc = 0;
    asx_outcome o;
    cr_assert_eq(asx_task_join(cx, h[i], &rc, &o), 0);
    cr_assert_eq(rc, ASX_ECANCELED);
    cr_assert_eq(o, ASX_OUTCOME_CANCELLED);
  }
  asx_outcome ro;
  cr_assert_eq(asx_region_close(cx, r, &ro), 0);
  cr_assert_eq(ro, ASX_OUTCOME_CANCELLED);
  return 0;
}

Test(rt_yield, cancellation_reaches_yield_loops) {
  for (unsigned w = 1; w <= 2; w++) {
    asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, w);
    c.cleanup_budget_ns[ASX_CANCEL_USER] = 60000 * MS_NS; /* no overrun report on a loaded machine */
    rt_test_run(&c, cancel_main, NULL, NULL, NULL);
  }
}

/* ---- yields mixed with blocking and cross-worker wakeups ---- */
enum { MIX_PAIRS = 4, MIX_MSGS = 3000 };

typedef struct mix_pair {
  asx_chan *ch;
  uint64_t received;
} mix_pair;

static int mix_producer(asx_cx *cx, void *arg) {
  mix_pair *p = arg;
  for (uint64_t i = 1; i <= MIX_MSGS; i++) {
    cr_assert_eq(asx_chan_send(cx, p->ch, &i), 0);
    if (i % 3 == 0) asx_yield(cx);
  }
  return 0;
}

static int mix_consumer(asx_cx *cx, void *arg) {
  mix_pair *p = arg;
  for (uint64_t i = 1; i <= MIX_MSGS; i++) {
    uint64_t v = 0;
    cr_assert_eq(asx_chan_recv(cx, p->ch, &v), 0);
    cr_assert_eq(v, i, "message %llu arrived as %llu", (unsigned long long)i, (unsigned long long)v);
    p->received++;
    if (i % 2 == 0) asx_yield(cx);
  }
  return 0;
}

static int mix_main(asx_cx *cx, void *arg) {
  mix_pair *pairs = arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  for (int i = 0; i < MIX_PAIRS; i++) {
    cr_assert_eq(asx_spawn(cx, r, mix_consumer, &pairs[i], NULL, NULL), 0);
    cr_assert_eq(asx_spawn(cx, r, mix_producer, &pairs[i], NULL, NULL), 0);
  }
  asx_outcome o;
  cr_assert_eq(asx_region_close(cx, r, &o), 0);
  cr_assert_eq(o, ASX_OUTCOME_OK);
  return 0;
}

Test(rt_yield, yields_mixed_with_wakeups_across_workers) {
  for (unsigned w = 1; w <= 2; w++) {
    mix_pair pairs[MIX_PAIRS];
    memset(pairs, 0, sizeof pairs);
    for (int i = 0; i < MIX_PAIRS; i++) cr_assert_eq(asx_chan_new(NULL, sizeof(uint64_t), 2, &pairs[i].ch), 0);
    asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, w);
    rt_test_run(&c, mix_main, pairs, NULL, NULL);
    for (int i = 0; i < MIX_PAIRS; i++) {
      cr_assert_eq(pairs[i].received, MIX_MSGS);
      asx_chan_free(pairs[i].ch);
    }
  }
}

/* ---- spawn+join rounds through the per-worker task cache ---- */
static int ends_ok(asx_cx *cx, void *arg) {
  (void)cx;
  return (int)(intptr_t)arg;
}

static int ends_err(asx_cx *cx, void *arg) {
  (void)cx;
  (void)arg;
  return ASX_EIO;
}

static int ends_yielding(asx_cx *cx, void *arg) {
  (void)arg;
  asx_yield(cx);
  return 5;
}

static int cache_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < 2000; i++) {
    asx_task *h;
    int rc = -1;
    asx_outcome o;
    switch (i % 3) {
    case 0:
      cr_assert_eq(asx_spawn(cx, NULL, ends_ok, (void *)(intptr_t)i, NULL, &h), 0);
      cr_assert_eq(asx_task_join(cx, h, &rc, &o), 0);
      cr_assert_eq(rc, i, "a reused task struct returned a stale result");
      cr_assert_eq(o, ASX_OUTCOME_OK);
      break;
    case 1:
      cr_assert_eq(asx_spawn(cx, NULL, ends_err, NULL, NULL, &h), 0);
      asx_yield(cx); /* usually done before the join: the lock-free join path */
      cr_assert_eq(asx_task_join(cx, h, &rc, &o), 0);
      cr_assert_eq(rc, ASX_EIO);
      cr_assert_eq(o, ASX_OUTCOME_ERR);
      break;
    default:
      cr_assert_eq(asx_spawn(cx, NULL, ends_yielding, NULL, NULL, NULL), 0); /* no handle */
      break;
    }
  }
  return 0;
}

Test(rt_yield, task_struct_reuse_keeps_results_apart) {
  for (unsigned w = 1; w <= 2; w++) {
    asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, w);
    asx_outcome o = rt_test_run(&c, cache_main, NULL, NULL, NULL);
    cr_assert_eq(o, ASX_OUTCOME_ERR, "the Err children fold into the root");
  }
}

/* Randomized programs over many seeds (a small explorer): trees of tasks and regions that sleep,
 * yield, send through a shared channel with two-phase sends, lock a mutex, race, time out,
 * cancel, fail, panic and leak obligations, all chosen by asx_random. After every run the
 * runtime-wide invariants must hold: quiescence, no live task/region/obligation, no task
 * scheduled twice, no deadlock, and the leak/panic counters equal what the program did. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "rt_test.h"

TestSuite(rt_explore, .timeout = 180);

typedef struct world {
  asx_chan *ch;
  asx_mutex *mu;
  _Atomic int leaks, panics, sent, received;
  int in_mutex;
} world;

static world g_w;
static uint64_t g_tot_tasks, g_tot_leaks, g_tot_panics, g_tot_sent, g_tot_cancels, g_tot_region_leaks;

static int leafy(asx_cx *cx, void *arg) {
  (void)arg;
  uint64_t r = asx_random(cx);
  if (r % 32 == 0) {
    atomic_fetch_add(&g_w.panics, 1);
    asx_panic(cx, "leafy");
  }
  return asx_sleep(cx, ((r >> 8) % 4) * 250000);
}

static int node(asx_cx *cx, void *arg);

static int do_action(asx_cx *cx, unsigned depth, asx_region *sub) {
  uint64_t r = asx_random(cx);
  switch (r % 11) {
  case 0:
    return asx_sleep(cx, (r >> 8) % 2000000);
  case 1:
    return asx_yield(cx);
  case 2: { /* two-phase send: commit or abort */
    asx_chan_permit p;
    int err = asx_chan_reserve(cx, g_w.ch, &p);
    if (err) return err;
    if ((r >> 8) & 1) {
      int v = 1;
      asx_chan_commit(&p, &v);
      atomic_fetch_add(&g_w.sent, 1);
    } else {
      asx_chan_abort(&p);
    }
    return 0;
  }
  case 3: { /* mutual exclusion across a yield */
    int err = asx_mutex_lock(cx, g_w.mu);
    if (err) return err;
    cr_assert_eq(g_w.in_mutex, 0);
    g_w.in_mutex = 1;
    asx_yield(cx);
    g_w.in_mutex = 0;
    asx_mutex_unlock(g_w.mu);
    return 0;
  }
  case 4: { /* obligation: resolved, or (rarely) leaked */
    asx_obligation *ob;
    if (asx_obligation_reserve(cx, "explore", &ob) != 0) return 0;
    if ((r >> 8) % 16 == 0) {
      atomic_fetch_add(&g_w.leaks, 1);
      return ASX_EIO; /* ends the task holding it */
    }
    if ((r >> 12) & 1)
      asx_obligation_commit(ob);
    else
      asx_obligation_abort(ob);
    return 0;
  }
  case 5:
    if (sub) asx_region_cancel(sub, (asx_cancel_kind)(1 + (r >> 8) % (ASX_CANCEL_KIND_COUNT - 1)));
    return 0;
  case 6: {
    asx_task_fn fns[2] = {leafy, leafy};
    size_t w;
    return asx_race(cx, 2, fns, NULL, &w, NULL);
  }
  case 7: {
    int err = asx_timeout(cx, (r >> 8) % 1000000, leafy, NULL);
    return err == ASX_ETIMEDOUT ? 0 : err;
  }
  case 8:
    if (sub && depth < 4) return asx_spawn(cx, sub, node, (void *)(uintptr_t)(depth + 1), NULL, NULL);
    return 0;
  case 9:
    if (depth > 0 && (r >> 8) % 24 == 0) {
      atomic_fetch_add(&g_w.panics, 1);
      asx_panic(cx, "explore");
    }
    return 0;
  default: { /* a masked cleanup-style section */
    asx_mask_push(cx);
    int err = asx_sleep(cx, (r >> 8) % 300000);
    asx_mask_pop(cx);
    return err;
  }
  }
}

static int node(asx_cx *cx, void *arg) {
  unsigned depth = (unsigned)(uintptr_t)arg;
  asx_region *sub = NULL;
  asx_region_opts ro = asx_region_opts_default();
  ro.policy = asx_random(cx) & 1 ? ASX_REGION_FAIL_FAST : ASX_REGION_COLLECT_ALL;
  if (depth < 4 && asx_region_open(cx, &ro, &sub) != 0) sub = NULL;
  unsigned n = 4 + (unsigned)(asx_random(cx) % 10);
  int err = 0;
  for (unsigned i = 0; i < n && !err; i++) err = do_action(cx, depth, sub);
  /* Roughly one node in eight "forgets" to close its region: the runtime closes it. */
  if (sub && asx_random(cx) % 8 != 0) asx_region_close(cx, sub, NULL);
  return err;
}

static int receiver(asx_cx *cx, void *arg) {
  (void)arg;
  int v;
  while (asx_chan_recv(cx, g_w.ch, &v) == 0) atomic_fetch_add(&g_w.received, 1);
  return 0;
}

static int explore_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *rx, *work;
  asx_region_open(cx, NULL, &rx);
  asx_spawn(cx, rx, receiver, NULL, NULL, NULL);
  asx_region_open(cx, NULL, &work);
  for (int i = 0; i < 6; i++) asx_spawn(cx, work, node, (void *)(uintptr_t)0, NULL, NULL);
  if (asx_random(cx) % 3 == 0) {
    asx_sleep(cx, asx_random(cx) % 3000000);
    asx_region_cancel(work, ASX_CANCEL_USER);
  }
  asx_region_close(cx, work, NULL);
  asx_chan_close(g_w.ch);
  asx_region_close(cx, rx, NULL);
  cr_assert_eq(atomic_load(&g_w.received), atomic_load(&g_w.sent), "a committed message was lost");
  return 0;
}

static void explore_one(asx_driver_kind drv, uint64_t seed) {
  cr_assert_eq(asx_chan_new(NULL, sizeof(int), 3, &g_w.ch), 0);
  cr_assert_eq(asx_mutex_new(NULL, &g_w.mu), 0);
  atomic_store(&g_w.leaks, 0);
  atomic_store(&g_w.panics, 0);
  atomic_store(&g_w.sent, 0);
  atomic_store(&g_w.received, 0);
  g_w.in_mutex = 0;
  const char *ew = getenv("ASX_EXPLORE_WORKERS"); /* e.g. 4 on 2 cores: more preemption */
  asx_runtime_config c = rt_test_config(drv, ew && atoi(ew) > 0 ? (unsigned)atoi(ew) : 2u);
  c.seed = seed;
  c.trace = NULL; /* thousands of runs: counters only */
  asx_runtime_stats s;
  rt_test_run(&c, explore_main, NULL, NULL, &s);
  cr_assert_eq(s.deadlocks, 0, "seed %llu deadlocked", (unsigned long long)seed);
  cr_assert_eq(s.obligation_leaks, (uint64_t)atomic_load(&g_w.leaks), "seed %llu", (unsigned long long)seed);
  cr_assert_eq(s.panics, (uint64_t)atomic_load(&g_w.panics), "seed %llu", (unsigned long long)seed);
  g_tot_tasks += s.tasks_spawned;
  g_tot_leaks += s.obligation_leaks;
  g_tot_panics += s.panics;
  g_tot_sent += (uint64_t)atomic_load(&g_w.sent);
  g_tot_cancels += s.cancel_requests;
  g_tot_region_leaks += s.region_leaks;
  asx_chan_free(g_w.ch);
  asx_mutex_free(g_w.mu);
}

/* ASX_EXPLORE_SCALE=n multiplies the number of seeds (long local runs). */
static uint64_t seeds(uint64_t base) {
  const char *e = getenv("ASX_EXPLORE_SCALE");
  long v = e ? atol(e) : 1;
  return base * (uint64_t)(v > 0 ? v : 1);
}

static void report(const char *what, uint64_t nseeds) {
  cr_log_info("%s, %llu seeds: %llu tasks, %llu messages, %llu cancel marks, %llu obligation leaks, %llu panics, "
              "%llu region leaks", what, (unsigned long long)nseeds, (unsigned long long)g_tot_tasks, (unsigned long long)g_tot_sent,
              (unsigned long long)g_tot_cancels, (unsigned long long)g_tot_leaks,
              (unsigned long long)g_tot_panics, (unsigned long long)g_tot_region_leaks);
  /* The programs must actually exercise the interesting paths. */
  cr_assert_gt(g_tot_leaks, 0);
  cr_assert_gt(g_tot_panics, 0);
  cr_assert_gt(g_tot_region_leaks, 0);
  cr_assert_gt(g_tot_cancels, 0);
}

Test(rt_explore, deterministic_driver_many_seeds) {
  for (uint64_t seed = 1; seed <= seeds(1000); seed++) explore_one(ASX_DRIVER_DETERMINISTIC, seed);
  report("deterministic", seeds(1000));
}

Test(rt_explore, threads_driver_some_seeds) {
  for (uint64_t seed = 1; seed <= seeds(100); seed++) explore_one(ASX_DRIVER_THREADS, seed);
  report("threads", seeds(100));
}

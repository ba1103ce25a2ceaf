/* Allocation failure at every allocation index in turn (deterministic driver: single thread, so
 * the counting allocator needs no lock). Every call reports ASX_ENOMEM or succeeds, the runtime
 * stays consistent (teardown accounting is clean) and nothing leaks. */
#include <criterion/criterion.h>

#include "rt_test.h"
#include "test_alloc.h"

TestSuite(rt_failalloc, .timeout = 120);

static int ok_or_nomem(int err) { return err == 0 || err == ASX_ENOMEM; }

static int leaf(asx_cx *cx, void *arg) {
  asx_chan *ch = arg;
  asx_obligation *ob;
  int err = asx_obligation_reserve(cx, "t", &ob);
  cr_assert(ok_or_nomem(err));
  if (!err) asx_obligation_commit(ob);
  err = asx_sleep(cx, 1000);
  cr_assert(ok_or_nomem(err), "sleep: %d", err);
  int v = 1;
  err = asx_chan_send(cx, ch, &v);
  cr_assert(ok_or_nomem(err) || err == ASX_ECLOSED, "send: %d", err);
  return 0;
}

static int g_fins;
static void count_fin(void *arg) {
  (void)arg;
  g_fins++;
}

static int quick(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_yield(cx);
}

static int fa_main(asx_cx *cx, void *arg) {
  const asx_allocator *a = arg;
  asx_chan *ch;
  int err = asx_chan_new(a, sizeof(int), 8, &ch);
  if (err) {
    cr_assert_eq(err, ASX_ENOMEM);
    return err;
  }
  asx_region *r;
  err = asx_region_open(cx, NULL, &r);
  if (err) {
    cr_assert_eq(err, ASX_ENOMEM);
    asx_chan_free(ch);
    return err;
  }
  cr_assert(ok_or_nomem(asx_region_defer(r, count_fin, NULL)));
  for (int i = 0; i < 3; i++) cr_assert(ok_or_nomem(asx_spawn(cx, r, leaf, ch, NULL, NULL)));
  asx_task_fn fns[2] = {quick, quick};
  size_t w;
  err = asx_race(cx, 2, fns, NULL, &w, NULL);
  cr_assert(ok_or_nomem(err), "race: %d", err);
  asx_region_close(cx, r, NULL);
  asx_chan_close(ch);
  int v;
  while (asx_chan_try_recv(ch, &v) == 0) {
  }
  asx_chan_free(ch);
  return 0;
}

Test(rt_failalloc, every_allocation_index) {
  long completed_clean = -1;
  for (long n = 0; n < 400 && completed_clean < 0; n++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, n);
    asx_runtime_config c;
    asx_runtime_config_default(&c);
    c.driver = ASX_DRIVER_DETERMINISTIC;
    c.alloc = &ta.base;
    c.stack_size = 64 * 1024;
    asx_runtime *rt = NULL;
    int err = asx_runtime_new(&c, &rt);
    cr_assert(ok_or_nomem(err));
    if (err) {
      cr_assert_null(rt);
      cr_assert_eq(ta.live, 0, "n=%ld: runtime_new leaked", n);
      continue;
    }
    err = asx_runtime_run(rt, fa_main, &ta.base, NULL, NULL);
    cr_assert(ok_or_nomem(err), "n=%ld: run returned %d", n, err);
    asx_runtime_stats s;
    asx_runtime_stats_get(rt, &s);
    asx_runtime_free(rt);
    cr_assert_eq(s.live_tasks, 0, "n=%ld", n);
    cr_assert_eq(s.live_regions, 0, "n=%ld", n);
    cr_assert_eq(s.unresolved_obligations, 0, "n=%ld", n);
    cr_assert_eq(ta.live, 0, "n=%ld: %ld blocks leaked", n, ta.live);
    if (ta.failures == 0) completed_clean = n;
  }
  cr_assert_geq(completed_clean, 10, "the program should need a few allocations");
}

/* Obligations: commit/abort, and leak detection with the reserve site (file:line). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "rt_test.h"

TestSuite(rt_oblig, .timeout = 60);

static const asx_driver_kind DRIVERS[] = {ASX_DRIVER_THREADS, ASX_DRIVER_DETERMINISTIC};

static _Atomic int g_aborts;
static int g_leak_line;

static void count_abort(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_aborts, 1);
}

static int resolves(asx_cx *cx, void *arg) {
  (void)arg;
  asx_obligation *a, *b;
  cr_assert_eq(asx_obligation_reserve_fn(cx, "test.commit", count_abort, NULL, &a), 0);
  cr_assert_eq(asx_obligation_reserve_fn(cx, "test.abort", count_abort, NULL, &b), 0);
  asx_obligation_commit(a); /* committed: the abort action must not run */
  asx_obligation_abort(b);  /* aborted: it runs once */
  return 0;
}

static int leaks(asx_cx *cx, void *arg) {
  (void)arg;
  asx_obligation *ob;
  g_leak_line = __LINE__ + 1;
  cr_assert_eq(asx_obligation_reserve_fn(cx, "test.leak", count_abort, NULL, &ob), 0);
  asx_yield(cx);
  return 0; /* ends holding it */
}

static int oblig_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *h;
  asx_spawn(cx, NULL, resolves, NULL, NULL, &h);
  asx_task_join(cx, h, NULL, NULL);
  cr_assert_eq(atomic_load(&g_aborts), 1);
  asx_spawn(cx, NULL, leaks, NULL, NULL, &h);
  asx_task_join(cx, h, NULL, NULL);
  cr_assert_eq(atomic_load(&g_aborts), 2, "a leaked obligation is aborted automatically");
  return 0;
}

Test(rt_oblig, leak_reported_with_reserve_site) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_aborts, 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, oblig_main, NULL, NULL, &s);
    cr_assert_eq(s.obligation_leaks, 1);
    cr_assert_eq(rec_count(ASX_TRACE_OBLIGATION_LEAK), 1);
    const rec_event *e = rec_find(ASX_TRACE_OBLIGATION_LEAK);
    cr_assert_str_eq(e->name, "test.leak");
    cr_assert_str_eq(e->file, __FILE__);
    cr_assert_eq(e->line, g_leak_line);
  }
}

/* A leaked channel permit: reported at the caller's line, and its slot comes back. */
static asx_chan *g_ch;
static int g_permit_line;

static int leak_permit(asx_cx *cx, void *arg) {
  (void)arg;
  asx_chan_permit p;
  g_permit_line = __LINE__ + 1;
  cr_assert_eq(asx_chan_reserve(cx, g_ch, &p), 0);
  return 0;
}

static int permit_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *h;
  asx_spawn(cx, NULL, leak_permit, NULL, NULL, &h);
  asx_task_join(cx, h, NULL, NULL);
  /* Capacity 1: the slot must have been returned, or this send would block forever. */
  int v = 9, out = 0;
  cr_assert_eq(asx_chan_send(cx, g_ch, &v), 0);
  cr_assert_eq(asx_chan_recv(cx, g_ch, &out), 0);
  cr_assert_eq(out, 9);
  return 0;
}

Test(rt_oblig, leaked_channel_permit) {
  for (size_t d = 0; d < 2; d++) {
    cr_assert_eq(asx_chan_new(NULL, sizeof(int), 1, &g_ch), 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, permit_main, NULL, NULL, &s);
    asx_chan_free(g_ch);
    cr_assert_eq(s.obligation_leaks, 1);
    const rec_event *e = rec_find(ASX_TRACE_OBLIGATION_LEAK);
    cr_assert_not_null(e);
    cr_assert_str_eq(e->name, "chan.permit");
    cr_assert_str_eq(e->file, __FILE__);
    cr_assert_eq(e->line, g_permit_line);
  }
}

static int panic_holding(asx_cx *cx, void *arg) {
  (void)arg;
  asx_obligation *ob;
  asx_obligation_reserve_fn(cx, "test.panic", count_abort, NULL, &ob);
  asx_panic(cx, "with an obligation");
}

Test(rt_oblig, panic_aborts_held_obligations) {
  atomic_store(&g_aborts, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  asx_runtime_stats s;
  cr_assert_eq(rt_test_run(&c, panic_holding, NULL, NULL, &s), ASX_OUTCOME_PANICKED);
  cr_assert_eq(s.obligation_leaks, 1);
  cr_assert_eq(atomic_load(&g_aborts), 1);
}

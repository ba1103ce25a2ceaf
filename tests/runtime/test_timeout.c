/* asx_timeout's result rule, on both drivers (many seeds on the deterministic one):
 * - the timer fired first: ASX_ETIMEDOUT, however the body reacted to its cancellation
 *   (returned the ASX_ECANCELED it got, swallowed it and returned 0, mapped it to its own error);
 * - the body finished first: the body's own return code, whatever it is;
 * - the caller of asx_timeout was itself cancelled: ASX_ECANCELED.
 * In every case the body has been drained before asx_timeout returns. */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "rt_test.h"

TestSuite(rt_timeout, .timeout = 120);

#define HOUR_NS (3600000ull * MS_NS)
#define DET_SEEDS 16
#define THREAD_ROUNDS 8

/* What the body does. BLOCK_* bodies block until cancelled (only the timer or the caller's
 * cancellation ends them); QUICK_* bodies end on their own well before the timer. */
typedef enum body_mode {
  BLOCK_SLEEP_PASS_ERR, /* asx_sleep, returns the ASX_ECANCELED it got */
  BLOCK_RECV_PASS_ERR,  /* asx_chan_recv on an empty channel, returns its ASX_ECANCELED */
  BLOCK_SLEEP_SWALLOW,  /* asx_sleep, then pretends all went well: returns 0 */
  BLOCK_RECV_MAP_EIO,   /* asx_chan_recv, maps the cancellation to its own ASX_EIO */
  QUICK_VALUE,          /* sleeps 1 ms, returns 7 */
  QUICK_OWN_CANCELED,   /* returns ASX_ECANCELED on its own, without any cancellation */
  QUICK_EIO,            /* returns ASX_EIO at once */
} body_mode;

typedef struct body_ctl {
  body_mode mode;
  asx_chan *never;   /* nobody ever sends here */
  asx_chan *started; /* the body reports here (if set) before it blocks */
  _Atomic int cancel_seen; /* asx_cancel_reason observed by a blocked body, + 1 (0 = none) */
  _Atomic int ended;
  int caller_rc;
} body_ctl;

static int body(asx_cx *cx, void *arg) {
  body_ctl *b = arg;
  if (b->started) {
    int one = 1;
    cr_assert_eq(asx_chan_send(cx, b->started, &one), 0);
  }
  int err = 0, v = 0, rc = 0;
  switch (b->mode) {
    case BLOCK_SLEEP_PASS_ERR:
    case BLOCK_SLEEP_SWALLOW:
      err = asx_sleep(cx, HOUR_NS);
      break;
    case BLOCK_RECV_PASS_ERR:
    case BLOCK_RECV_MAP_EIO:
      err = asx_chan_recv(cx, b->never, &v);
      break;
    case QUICK_VALUE:
      rc = asx_sleep(cx, 1 * MS_NS);
      atomic_store(&b->ended, 1);
      return rc ? rc : 7;
    case QUICK_OWN_CANCELED:
      atomic_store(&b->ended, 1);
      return ASX_ECANCELED;
    case QUICK_EIO:
      atomic_store(&b->ended, 1);
      return ASX_EIO;
  }
  /* Only cancellation ends a blocked body. */
  cr_assert_eq(err, ASX_ECANCELED, "blocked body ended with %d", err);
  atomic_store(&b->cancel_seen, (int)asx_cancel_reason(cx) + 1);
  atomic_store(&b->ended, 1);
  if (b->mode == BLOCK_SLEEP_SWALLOW) return 0;
  if (b->mode == BLOCK_RECV_MAP_EIO) return ASX_EIO;
  return err;
}

static void body_init(body_ctl *b, body_mode m) {
  b->mode = m;
  b->never = NULL;
  b->started = NULL;
  atomic_init(&b->cancel_seen, 0);
  atomic_init(&b->ended, 0);
  b->caller_rc = 0;
  cr_assert_eq(asx_chan_new(NULL, sizeof(int), 1, &b->never), 0);
}

static bool g_virtual_time; /* deterministic driver: asx_now is virtual, exact assertions hold */

/* ---- 1. the timer fires first ---- */
static int timer_first_main(asx_cx *cx, void *arg) {
  (void)arg;
  const body_mode modes[] = {BLOCK_SLEEP_PASS_ERR, BLOCK_RECV_PASS_ERR, BLOCK_SLEEP_SWALLOW,
                             BLOCK_RECV_MAP_EIO};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    body_ctl b;
    body_init(&b, modes[i]);
    uint64_t t0 = asx_now(cx);
    int rc = asx_timeout(cx, 5 * MS_NS, body, &b);
    cr_assert_eq(rc, ASX_ETIMEDOUT, "mode %d: asx_timeout returned %d", (int)modes[i], rc);
    cr_assert_eq(atomic_load(&b.ended), 1, "mode %d: body drained before return", (int)modes[i]);
    cr_assert_eq(atomic_load(&b.cancel_seen), (int)ASX_CANCEL_TIMEOUT + 1,
                 "mode %d: the body was cancelled with reason timeout", (int)modes[i]);
    if (g_virtual_time) cr_assert_geq(asx_now(cx) - t0, 5 * MS_NS);
    asx_chan_free(b.never);
  }
  return 0;
}

/* ---- 2. the body finishes first ---- */
static int body_first_main(asx_cx *cx, void *arg) {
  (void)arg;
  const body_mode modes[] = {QUICK_VALUE, QUICK_OWN_CANCELED, QUICK_EIO};
  const int want[] = {7, ASX_ECANCELED, ASX_EIO};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    body_ctl b;
    body_init(&b, modes[i]);
    uint64_t t0 = asx_now(cx);
    int rc = asx_timeout(cx, HOUR_NS, body, &b);
    cr_assert_eq(rc, want[i], "mode %d: asx_timeout returned %d", (int)modes[i], rc);
    cr_assert_eq(atomic_load(&b.ended), 1);
    cr_assert_eq(atomic_load(&b.cancel_seen), 0, "a body that finished first was not cancelled");
    if (g_virtual_time) cr_assert_lt(asx_now(cx) - t0, HOUR_NS);
    asx_chan_free(b.never);
  }
  /* Our own caller was not cancelled by any of this. */
  cr_assert_eq(asx_checkpoint(cx), 0);
  return 0;
}

/* ---- 3. the caller of asx_timeout is itself cancelled ---- */
static int timeout_caller(asx_cx *cx, void *arg) {
  body_ctl *b = arg;
  b->caller_rc = asx_timeout(cx, HOUR_NS, body, b);
  return b->caller_rc;
}

/* The caller's region is cancelled by its owner once the body is known to be blocked. */
static int caller_cancelled_main(asx_cx *cx, void *arg) {
  (void)arg;
  const body_mode modes[] = {BLOCK_SLEEP_PASS_ERR, BLOCK_RECV_PASS_ERR};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    body_ctl b;
    body_init(&b, modes[i]);
    cr_assert_eq(asx_chan_new(NULL, sizeof(int), 1, &b.started), 0);
    asx_region_opts ro = asx_region_opts_default();
    ro.name = "caller";
    ro.propagate_outcome = false;
    asx_region *r;
    cr_assert_eq(asx_region_open(cx, &ro, &r), 0);
    cr_assert_eq(asx_spawn(cx, r, timeout_caller, &b, NULL, NULL), 0);
    int one = 0;
    cr_assert_eq(asx_chan_recv(cx, b.started, &one), 0);
    asx_region_cancel(r, ASX_CANCEL_USER);
    asx_outcome o;
    cr_assert_eq(asx_region_close(cx, r, &o), 0);
    cr_assert_eq(b.caller_rc, ASX_ECANCELED, "mode %d: asx_timeout returned %d", (int)modes[i],
                 b.caller_rc);
    cr_assert_eq(atomic_load(&b.ended), 1);
    cr_assert_eq(atomic_load(&b.cancel_seen), (int)ASX_CANCEL_PARENT + 1,
                 "the body saw its caller's cancellation, not a timeout");
    asx_chan_free(b.never);
    asx_chan_free(b.started);
  }
  return 0;
}

/* The caller is the body of an outer, shorter asx_timeout: the inner one is cancelled (and
 * says so), the outer one timed out. */
static int nested_outer_body(asx_cx *cx, void *arg) { return timeout_caller(cx, arg); }

static int nested_main(asx_cx *cx, void *arg) {
  (void)arg;
  body_ctl b;
  body_init(&b, BLOCK_RECV_PASS_ERR);
  int rc = asx_timeout(cx, 5 * MS_NS, nested_outer_body, &b);
  cr_assert_eq(rc, ASX_ETIMEDOUT, "outer asx_timeout returned %d", rc);
  cr_assert_eq(b.caller_rc, ASX_ECANCELED, "inner asx_timeout returned %d", b.caller_rc);
  cr_assert_eq(atomic_load(&b.ended), 1);
  cr_assert_eq(atomic_load(&b.cancel_seen), (int)ASX_CANCEL_PARENT + 1);
  asx_chan_free(b.never);
  return 0;
}

static void on_both_drivers(asx_task_fn fn) {
  for (uint64_t seed = 1; seed <= DET_SEEDS; seed++) {
    asx_runtime_config c = rt_test_config(ASX_DRIVER_DETERMINISTIC, 1);
    c.seed = seed;
    g_virtual_time = true;
    int rc = -1;
    rt_test_run(&c, fn, NULL, &rc, NULL);
    cr_assert_eq(rc, 0, "deterministic seed %llu", (unsigned long long)seed);
  }
  for (int round = 0; round < THREAD_ROUNDS; round++) {
    asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
    g_virtual_time = false;
    int rc = -1;
    rt_test_run(&c, fn, NULL, &rc, NULL);
    cr_assert_eq(rc, 0, "threads round %d", round);
  }
}

Test(rt_timeout, timer_first_is_etimedout_whatever_the_body_returns) {
  on_both_drivers(timer_first_main);
}

Test(rt_timeout, body_first_returns_its_own_code) { on_both_drivers(body_first_main); }

Test(rt_timeout, cancelled_caller_gets_ecanceled) { on_both_drivers(caller_cancelled_main); }

Test(rt_timeout, nested_inner_cancelled_outer_timed_out) { on_both_drivers(nested_main); }

/* The Redis connection pool against a real redis-server: reuse, exhaustion (a waiting checkout
 * honours its task's deadline), a server killed in the middle of a request (error reported,
 * broken connection discarded, not returned) and recovery after the server comes back.
 * Every test ends with no live task, region or obligation (rcl_run). */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "rcl_util.h"

TestSuite(redis_pool, .timeout = 60, .fini = rcl_cleanup);

typedef struct env {
  rcl_server srv;
  asx_redis_pool *pool;
  int rc;
} env;

static asx_redis_pool *pool_new(asx_cx *cx, env *e, size_t max) {
  asx_redis_pool_opts o;
  asx_redis_pool_opts_default(&o);
  o.client = rcl_opts(&e->srv, 2);
  o.max_conns = max;
  asx_redis_pool *p = NULL;
  cr_assert_eq(asx_redis_pool_new(cx, &o, &p), 0);
  return p;
}

static int reuse_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_pool *p = pool_new(cx, e, 2);
  for (int i = 0; i < 20; i++) {
    asx_redis_reply *r = NULL;
    const char *argv[2] = {"INCR", "n"};
    cr_assert_eq(asx_redis_pool_command(cx, p, 2, argv, NULL, &r), 0);
    cr_expect_eq(r->integer, i + 1);
    asx_redis_reply_free(r);
  }
  asx_redis_pool_stats st;
  asx_redis_pool_stats_get(p, &st);
  cr_expect_eq(st.connects, 1); /* sequential use needs one connection, reused */
  cr_expect_eq(st.open, 1);
  cr_expect_eq(st.idle, 1);
  asx_redis_pool_close(cx, p);
  return 0;
}

Test(redis_pool, sequential_commands_reuse_one_connection) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, reuse_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* ---- exhaustion ---- */

static int late_checkout(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_lease l;
  return asx_redis_pool_checkout(cx, e->pool, &l); /* must time out: nothing to check in */
}

static int patient_checkout(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_lease l;
  int rc = asx_redis_pool_checkout(cx, e->pool, &l);
  if (rc) return rc;
  asx_redis_reply *r = NULL;
  const char *argv[1] = {"PING"};
  rc = asx_redis_client_command(cx, l.client, 1, argv, NULL, &r);
  asx_redis_reply_free(r);
  asx_redis_pool_checkin(cx, &l);
  return rc;
}

static int exhaust_main(asx_cx *cx, void *arg) {
  env *e = arg;
  e->pool = pool_new(cx, e, 1);
  asx_redis_lease held;
  cr_assert_eq(asx_redis_pool_checkout(cx, e->pool, &held), 0);
  asx_spawn_opts so = asx_spawn_opts_default();
  uint64_t t0 = asx_now(cx);
  so.budget.deadline_ns = t0 + 100 * MS;
  asx_task *t1, *t2;
  cr_assert_eq(asx_spawn(cx, NULL, late_checkout, e, &so, &t1), 0);
  int rc = 0;
  cr_assert_eq(asx_task_join(cx, t1, &rc, NULL), 0);
  cr_expect_eq(rc, ASX_ETIMEDOUT, "%s", asx_strerror(rc));
  cr_expect_geq(asx_now(cx) - t0, 100 * MS);
  /* A patient waiter gets the connection as soon as it is returned. */
  cr_assert_eq(asx_spawn(cx, NULL, patient_checkout, e, NULL, &t2), 0);
  asx_sleep(cx, 20 * MS);
  asx_redis_pool_checkin(cx, &held);
  cr_assert_eq(asx_task_join(cx, t2, &rc, NULL), 0);
  cr_expect_eq(rc, 0);
  asx_redis_pool_stats st;
  asx_redis_pool_stats_get(e->pool, &st);
  cr_expect_eq(st.connects, 1);
  cr_expect_geq(st.waits, 1); /* the patient one may have come after the checkin */
  cr_expect_eq(st.open, 1);
  asx_redis_pool_close(cx, e->pool);
  return 0;
}

Test(redis_pool, exhaustion_waits_and_honours_deadline) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, exhaust_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* ---- server killed mid-request ---- */

static int blocked_request(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_reply *r = NULL;
  const char *argv[3] = {"BLPOP", "never", "10"};
  int rc = asx_redis_pool_command(cx, e->pool, 3, argv, NULL, &r);
  asx_redis_reply_free(r);
  return rc;
}

static int kill_main(asx_cx *cx, void *arg) {
  env *e = arg;
  e->pool = pool_new(cx, e, 2);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blocked_request, e, NULL, &t), 0);
  asx_redis_pool_stats st;
  for (int i = 0; i < 500; i++) { /* until the request's connection is open and leased */
    asx_redis_pool_stats_get(e->pool, &st);
    if (st.connects == 1 && st.idle == 0) break;
    asx_sleep(cx, 10 * MS);
  }
  asx_sleep(cx, 50 * MS); /* the BLPOP is on the wire */
  kill(e->srv.pid, SIGKILL);
  rcl_server_stop(&e->srv); /* reaps it */
  int rc = 0;
  cr_assert_eq(asx_task_join(cx, t, &rc, NULL), 0);
  cr_expect(rc == ASX_ECLOSED || rc == ASX_ECONNRESET, "mid-request error: %s", asx_strerror(rc));
  asx_redis_pool_stats_get(e->pool, &st);
  cr_expect_eq(st.discarded, 1); /* the broken connection was not returned */
  cr_expect_eq(st.open, 0);
  /* While the server is down: a connect error, and the backoff grows. */
  asx_redis_reply *r = NULL;
  const char *ping[1] = {"PING"};
  rc = asx_redis_pool_command(cx, e->pool, 1, ping, NULL, &r);
  cr_expect_eq(rc, ASX_ECONNRESET, "%s", asx_strerror(rc));
  rc = asx_redis_pool_command(cx, e->pool, 1, ping, NULL, &r);
  cr_expect_eq(rc, ASX_ECONNRESET, "%s", asx_strerror(rc));
  cr_assert_eq(rcl_server_restart(&e->srv, NULL), 0);
  rc = asx_redis_pool_command(cx, e->pool, 1, ping, NULL, &r);
  cr_expect_eq(rc, 0, "after restart: %s", asx_strerror(rc));
  if (r) cr_expect_str_eq(r->str, "PONG");
  asx_redis_reply_free(r);
  asx_redis_pool_stats_get(e->pool, &st);
  cr_expect_eq(st.connect_failures, 2);
  cr_expect_eq(st.connects, 2);
  cr_expect_eq(st.open, 1);
  asx_redis_pool_close(cx, e->pool);
  return 0;
}

Test(redis_pool, server_killed_mid_request_then_recovers) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, kill_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* Many tasks through a pool of 3: the counter is exact, never more than 3 connections. */
static int pool_worker(asx_cx *cx, void *arg) {
  env *e = arg;
  for (int i = 0; i < 20; i++) {
    asx_redis_reply *r = NULL;
    const char *argv[2] = {"INCR", "c"};
    int rc = asx_redis_pool_command(cx, e->pool, 2, argv, NULL, &r);
    asx_redis_reply_free(r);
    if (rc) return rc;
  }
  return 0;
}

static int many_main(asx_cx *cx, void *arg) {
  env *e = arg;
  e->pool = pool_new(cx, e, 3);
  asx_task *h[30];
  for (int i = 0; i < 30; i++) cr_assert_eq(asx_spawn(cx, NULL, pool_worker, e, NULL, &h[i]), 0);
  for (int i = 0; i < 30; i++) {
    int rc = -1;
    asx_task_join(cx, h[i], &rc, NULL);
    cr_expect_eq(rc, 0);
  }
  asx_redis_reply *r = NULL;
  const char *argv[2] = {"GET", "c"};
  cr_assert_eq(asx_redis_pool_command(cx, e->pool, 2, argv, NULL, &r), 0);
  cr_expect_str_eq(r->str, "600");
  asx_redis_reply_free(r);
  asx_redis_pool_stats st;
  asx_redis_pool_stats_get(e->pool, &st);
  cr_expect_leq(st.connects, 3);
  asx_redis_pool_close(cx, e->pool);
  return 0;
}

Test(redis_pool, thirty_tasks_share_three_connections) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, many_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* Cancelled waiters leave the queue cleanly and never swallow the connection meant for the next
 * waiter; a waiter granted the connection as it is cancelled keeps it (the grant wins) and must
 * return it. */
static int cancel_wait_main(asx_cx *cx, void *arg) {
  env *e = arg;
  e->pool = pool_new(cx, e, 1);
  asx_redis_lease held;
  cr_assert_eq(asx_redis_pool_checkout(cx, e->pool, &held), 0);
  /* 1. cancelled before anything is returned */
  asx_task *a, *b;
  cr_assert_eq(asx_spawn(cx, NULL, patient_checkout, e, NULL, &a), 0);
  asx_sleep(cx, 10 * MS);
  cr_assert_eq(asx_spawn(cx, NULL, patient_checkout, e, NULL, &b), 0);
  asx_sleep(cx, 10 * MS);
  asx_task_cancel(a, ASX_CANCEL_USER);
  int rc = 0;
  asx_task_join(cx, a, &rc, NULL);
  cr_expect_eq(rc, ASX_ECANCELED);
  asx_redis_pool_checkin(cx, &held);
  cr_assert_eq(asx_task_join(cx, b, &rc, NULL), 0);
  cr_expect_eq(rc, 0, "second waiter: %s", asx_strerror(rc));
  /* 2. cancelled in the same instant as the checkin wakes it */
  cr_assert_eq(asx_redis_pool_checkout(cx, e->pool, &held), 0);
  cr_assert_eq(asx_spawn(cx, NULL, patient_checkout, e, NULL, &a), 0);
  asx_sleep(cx, 10 * MS);
  cr_assert_eq(asx_spawn(cx, NULL, patient_checkout, e, NULL, &b), 0);
  asx_sleep(cx, 10 * MS);
  asx_redis_pool_checkin(cx, &held);
  asx_task_cancel(a, ASX_CANCEL_USER);
  asx_task_join(cx, a, &rc, NULL);
  cr_expect(rc == ASX_ECANCELED || rc == 0, "%s", asx_strerror(rc));
  cr_assert_eq(asx_task_join(cx, b, &rc, NULL), 0);
  cr_expect_eq(rc, 0, "second waiter: %s", asx_strerror(rc));
  asx_redis_pool_stats st;
  asx_redis_pool_stats_get(e->pool, &st);
  cr_expect_eq(st.open, 1);
  cr_expect_eq(st.idle, 1);
  asx_redis_pool_close(cx, e->pool);
  return 0;
}

Test(redis_pool, cancelled_waiters_pass_the_connection_on) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, cancel_wait_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* A dial hook makes the streams (here plain TCP; TLS would wrap it with asx_tls_connect). */
typedef struct dial_env {
  env base;
  _Atomic int dials;
} dial_env;

static int dial_tcp(asx_cx *cx, void *ud, asx_stream **out) {
  dial_env *d = ud;
  d->dials++;
  return asx_tcp_connect(cx, "127.0.0.1", (uint16_t)d->base.srv.port, NULL, out);
}

static int dial_main(asx_cx *cx, void *arg) {
  dial_env *d = arg;
  asx_redis_pool_opts o;
  asx_redis_pool_opts_default(&o);
  o.client = rcl_opts(&d->base.srv, 3);
  o.client.port = 1; /* unused: the dial hook decides where to connect */
  o.max_conns = 2;
  o.dial = dial_tcp;
  o.dial_ud = d;
  cr_assert_eq(asx_redis_pool_new(cx, &o, &d->base.pool), 0);
  asx_task *h[6];
  for (int i = 0; i < 6; i++) cr_assert_eq(asx_spawn(cx, NULL, pool_worker, &d->base, NULL, &h[i]), 0);
  for (int i = 0; i < 6; i++) {
    int rc = -1;
    asx_task_join(cx, h[i], &rc, NULL);
    cr_expect_eq(rc, 0, "%s", asx_strerror(rc));
  }
  cr_expect_geq(d->dials, 1);
  cr_expect_leq(d->dials, 2);
  asx_redis_pool_close(cx, d->base.pool);
  return 0;
}

Test(redis_pool, dial_hook_makes_the_streams) {
  dial_env d = {0};
  rcl_server_start(&d.base.srv, NULL);
  cr_expect_eq(rcl_run(2, dial_main, &d), 0);
  rcl_server_stop(&d.base.srv);
}

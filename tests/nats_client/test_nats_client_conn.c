/* NATS client connection behaviour against a real nats-server: flush, server PINGs answered,
 * our keepalive, the server's max_payload honoured, authentication errors, refused connects and
 * a cancelled consumer. Every test ends with no live task, region or obligation (ncl_run). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ncl_util.h"
#include "peer_process.h"

TestSuite(nats_client_conn, .timeout = 60, .fini = ncl_cleanup);

typedef struct env {
  nt_peer srv;
  asx_nats_sub *sub;
} env;

/* One nats-server (plain, or with the configuration text `conf`) for fn as the main task of a
 * 2-worker runtime; stopped afterwards (also if fn already stopped it). */
static void run_against(const char *conf, asx_task_fn fn) {
  env e = {0};
  if (conf) ncl_start_conf(&e.srv, conf);
  else ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, fn, &e), 0);
  ncl_stop(&e.srv);
}

static int ping_main(asx_cx *cx, void *arg) {
  env *e = arg;
  /* The server skips its PING while the client is active: first a quiet client. */
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.ping_interval_ns = 0;
  asx_nats_client *c = NULL;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  asx_nats_client_stats st;
  for (int i = 0; i < 200; i++) { /* the server pings every 100 ms, drops us after 2 misses */
    asx_sleep(cx, 50 * MS);
    asx_nats_client_stats_get(c, &st);
    if (st.pings_answered >= 3) break;
  }
  cr_expect_geq(st.pings_answered, 3, "server PINGs answered: %llu", (unsigned long long)st.pings_answered);
  cr_expect_eq(asx_nats_client_status(c), 0);
  cr_expect_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  asx_nats_client_close(cx, c);
  /* Our own keepalive: a PING every 50 ms, each answered. */
  o.ping_interval_ns = 50 * MS;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  for (int i = 0; i < 200; i++) {
    asx_sleep(cx, 50 * MS);
    asx_nats_client_stats_get(c, &st);
    if (st.pongs >= 3) break;
  }
  cr_expect_geq(st.pongs, 3, "keepalive PONGs: %llu", (unsigned long long)st.pongs);
  cr_expect_eq(asx_nats_client_status(c), 0);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client_conn, server_pings_answered_and_keepalive) {
  run_against("ping_interval: \"100ms\"\nping_max: 2\n", ping_main);
}

static int payload_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  cr_expect_eq(asx_nats_client_max_payload(c), 1024);
  static char big[2048];
  memset(big, 'x', sizeof(big));
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "p", NULL, NULL, &s), 0);
  cr_expect_eq(asx_nats_publish(cx, c, "p", NULL, NULL, big, 1025), ASX_ELIMIT);
  cr_expect_eq(asx_nats_publish(cx, c, "p", NULL, NULL, big, 1024), 0);
  asx_nats_msg *m;
  cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
  cr_expect_eq(m->len, 1024);
  asx_nats_msg_free(m);
  cr_expect_eq(asx_nats_client_status(c), 0);
  asx_nats_sub_free(s);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client_conn, server_max_payload_honoured) {
  run_against("max_payload: 1024\n", payload_main);
}

static int auth_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client_opts o = ncl_opts(&e->srv);
  asx_nats_client *c = NULL;
  char err[256];
  cr_expect_eq(asx_nats_client_connect(cx, &o, &c, err, sizeof(err)), ASX_EPROTO);
  cr_expect(strstr(err, "Authorization Violation") != NULL, "%s", err);
  o.user = "alice";
  o.pass = "wonder";
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, err, sizeof(err)), 0, "%s", err);
  cr_expect_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  asx_nats_client_close(cx, c);
  o.port = 1; /* nothing listens there */
  c = NULL;
  cr_expect_eq(asx_nats_client_connect(cx, &o, &c, err, sizeof(err)), ASX_ECONNRESET);
  cr_expect_null(c);
  return 0;
}

Test(nats_client_conn, auth_error_and_refused) {
  run_against("authorization {\n user: alice\n password: wonder\n}\n", auth_main);
}

static int waiter(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_msg *m = NULL;
  return asx_nats_sub_next(cx, e->sub, &m);
}

static int cancel_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  cr_assert_eq(asx_nats_subscribe(cx, c, "never", NULL, NULL, &e->sub), 0);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, waiter, e, NULL, &t), 0);
  asx_sleep(cx, 30 * MS);
  asx_task_cancel(t, ASX_CANCEL_USER);
  int rc = 0;
  asx_task_join(cx, t, &rc, NULL);
  cr_expect_eq(rc, ASX_ECANCELED);
  /* The subscription still works for the next consumer. */
  cr_assert_eq(asx_nats_publish(cx, c, "never", NULL, NULL, "now", 3), 0);
  asx_nats_msg *m;
  cr_assert_eq(asx_nats_sub_next(cx, e->sub, &m), 0);
  cr_expect_str_eq((const char *)m->data, "now");
  asx_nats_msg_free(m);
  /* A consumer blocked when the client closes sees ASX_ECLOSED. */
  cr_assert_eq(asx_spawn(cx, NULL, waiter, e, NULL, &t), 0);
  asx_sleep(cx, 30 * MS);
  asx_nats_client_close(cx, c);
  asx_task_join(cx, t, &rc, NULL);
  cr_expect_eq(rc, ASX_ECLOSED);
  asx_nats_sub_free(e->sub);
  return 0;
}

Test(nats_client_conn, cancelled_consumer_and_close) {
  run_against(NULL, cancel_main);
}

/* Server killed: waiting flushes and requests fail with the connection error. */
static int killed_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.max_reconnects = 0; /* this test is about the end of a client that does not reconnect */
  asx_nats_client *c = NULL;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  cr_assert_eq(asx_nats_subscribe(cx, c, "svc", NULL, NULL, &e->sub), 0); /* never answers */
  ncl_stop(&e->srv);
  asx_nats_msg *r = NULL;
  int rc = asx_nats_request(cx, c, "svc", NULL, "x", 1, 5000 * MS, &r);
  cr_expect(rc == ASX_ECLOSED || rc == ASX_ECONNRESET || rc == ASX_EPIPE, "%s", asx_strerror(rc));
  cr_expect_neq(asx_nats_client_status(c), 0);
  cr_expect_neq(asx_nats_flush(cx, c, 1000 * MS), 0);
  asx_nats_msg *m;
  cr_expect_eq(asx_nats_sub_next(cx, e->sub, &m), ASX_ECLOSED);
  asx_nats_client_close(cx, c);
  asx_nats_sub_free(e->sub);
  return 0;
}

Test(nats_client_conn, server_killed_fails_waiters) {
  run_against(NULL, killed_main);
}

/* ---- reconnect ---- */

static atomic_int ev_count[8];
static atomic_int ev_last_err;

static void on_conn_event(void *ud, asx_nats_conn_event ev, int err) {
  (void)ud;
  atomic_fetch_add(&ev_count[ev], 1);
  if (err) atomic_store(&ev_last_err, err);
}

static bool wait_state(asx_cx *cx, asx_nats_client *c, asx_nats_conn_state want) {
  for (int i = 0; i < 1000; i++) { /* 10 s at most */
    if (asx_nats_client_state(c) == want) return true;
    asx_sleep(cx, 10 * MS);
  }
  return false;
}

/* Polls the client's counters (10 s at most) until the uint64_t field at `off` reaches want. */
static asx_nats_client_stats wait_stat(asx_cx *cx, asx_nats_client *c, size_t off, uint64_t want) {
  asx_nats_client_stats st;
  for (int i = 0; i < 1000; i++) {
    asx_nats_client_stats_get(c, &st);
    uint64_t v;
    memcpy(&v, (const char *)&st + off, sizeof v);
    if (v >= want) break;
    asx_sleep(cx, 10 * MS);
  }
  return st;
}

static void expect_msg(asx_cx *cx, asx_nats_sub *s, const char *want) {
  asx_nats_msg *m = NULL;
  int rc = asx_nats_sub_next(cx, s, &m);
  cr_assert_eq(rc, 0, "waiting for %s: %s", want, asx_strerror(rc));
  cr_expect_str_eq((const char *)m->data, want);
  asx_nats_msg_free(m);
}

static int echo_responder(asx_cx *cx, asx_nats_msg *m, void *ud) {
  asx_nats_client *c = ud;
  if (m->reply) asx_nats_publish(cx, c, m->reply, NULL, NULL, m->data, m->len);
  asx_nats_msg_free(m);
  return 0;
}

static int reconnect_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.reconnect_wait_ns = 50 * MS;
  o.reconnect_jitter_ns = 10 * MS;
  o.max_reconnects = 200;
  o.on_event = on_conn_event;
  asx_nats_client *c = NULL;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  asx_nats_sub *a, *b, *cs, *svc;
  cr_assert_eq(asx_nats_subscribe(cx, c, "a", NULL, NULL, &a), 0);
  cr_assert_eq(asx_nats_subscribe(cx, c, "b", NULL, NULL, &b), 0);
  cr_assert_eq(asx_nats_subscribe_handler(cx, c, "svc", NULL, NULL, echo_responder, c, &svc), 0);
  cr_assert_eq(asx_nats_publish(cx, c, "a", NULL, NULL, "a1", 2), 0);
  cr_assert_eq(asx_nats_publish(cx, c, "b", NULL, NULL, "b1", 2), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 5000 * MS), 0);
  expect_msg(cx, a, "a1");
  expect_msg(cx, b, "b1");
  cr_assert_eq(asx_nats_unsubscribe(cx, b, 3), 0); /* two more, after one */
  asx_nats_msg *r = NULL;
  cr_assert_eq(asx_nats_request(cx, c, "svc", NULL, "q1", 2, 5000 * MS, &r), 0);
  asx_nats_msg_free(r);

  ncl_stop(&e->srv);
  cr_assert(wait_state(cx, c, ASX_NATS_STATE_RECONNECTING), "the client did not notice");
  cr_expect_eq(asx_nats_client_status(c), 0); /* reconnecting is not an end */
  /* While it is down: a publish is kept for the next connection, a subscription is recorded. */
  cr_assert_eq(asx_nats_publish(cx, c, "a", NULL, NULL, "a2", 2), 0);
  cr_assert_eq(asx_nats_subscribe(cx, c, "c", NULL, NULL, &cs), 0);
  asx_sleep(cx, 200 * MS); /* a few failed attempts */
  cr_assert(ncl_restart(&e->srv), "could not restart nats-server on port %d", e->srv.port);
  cr_assert(wait_state(cx, c, ASX_NATS_STATE_CONNECTED), "no reconnect");
  cr_assert_eq(asx_nats_flush(cx, c, 5000 * MS), 0);
  expect_msg(cx, a, "a2"); /* re-subscribed before the publish went out */
  cr_assert_eq(asx_nats_publish(cx, c, "c", NULL, NULL, "c1", 2), 0);
  expect_msg(cx, cs, "c1");
  /* The auto-unsubscribe carried over: the server sends two more, then the sub ends. */
  for (int i = 2; i <= 4; i++) {
    char v[4];
    snprintf(v, sizeof v, "b%d", i);
    cr_assert_eq(asx_nats_publish(cx, c, "b", NULL, NULL, v, 2), 0);
  }
  cr_assert_eq(asx_nats_flush(cx, c, 5000 * MS), 0);
  expect_msg(cx, b, "b2");
  expect_msg(cx, b, "b3");
  asx_nats_msg *m = NULL;
  cr_expect_eq(asx_nats_sub_next(cx, b, &m), ASX_ECLOSED);
  /* Request/reply over the re-subscribed inbox and responder. */
  cr_assert_eq(asx_nats_request(cx, c, "svc", NULL, "q2", 2, 5000 * MS, &r), 0);
  cr_expect_str_eq((const char *)r->data, "q2");
  asx_nats_msg_free(r);
  asx_nats_client_stats st;
  asx_nats_client_stats_get(c, &st);
  cr_expect_eq(st.reconnects, 1);
  cr_expect_eq(atomic_load(&ev_count[ASX_NATS_DISCONNECTED]), 1);
  cr_expect_eq(atomic_load(&ev_count[ASX_NATS_RECONNECTED]), 1);
  asx_nats_client_close(cx, c);
  cr_expect_eq(atomic_load(&ev_count[ASX_NATS_CLOSED]), 1);
  asx_nats_sub_free(a);
  asx_nats_sub_free(b);
  asx_nats_sub_free(cs);
  asx_nats_sub_free(svc);
  return 0;
}

Test(nats_client_conn, reconnects_and_resubscribes) {
  run_against(NULL, reconnect_main);
}

/* The attempts run out: the client ends with the last dial error, waiters are released. */
static int give_up_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.reconnect_wait_ns = 20 * MS;
  o.reconnect_jitter_ns = 0;
  o.max_reconnects = 3;
  asx_nats_client *c = NULL;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  ncl_stop(&e->srv);
  cr_assert(wait_state(cx, c, ASX_NATS_STATE_CLOSED), "the client kept trying");
  cr_expect_eq(asx_nats_client_status(c), ASX_ECONNRESET, "%s", asx_strerror(asx_nats_client_status(c)));
  cr_expect_eq(asx_nats_flush(cx, c, 1000 * MS), ASX_ECONNRESET);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client_conn, gives_up_after_max_reconnects) {
  run_against(NULL, give_up_main);
}

/* A list of two servers: connect takes the first that answers (the first entry is a closed
 * port); when it goes away the client fails over to the other at once, subscriptions and all. */
typedef struct two_env {
  nt_peer a, b;
} two_env;

static int failover_main(asx_cx *cx, void *arg) {
  two_env *e = arg;
  char s0[32], s1[32], s2[32], cur[64];
  snprintf(s0, sizeof s0, "127.0.0.1:%d", peer_free_port()); /* nobody listens there */
  snprintf(s1, sizeof s1, "127.0.0.1:%d", e->a.port);
  snprintf(s2, sizeof s2, "localhost:%d", e->b.port);
  const char *list[] = {s0, s1, s2};
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.servers = list;
  o.nservers = 3;
  o.reconnect_wait_ns = 10000 * MS; /* failing over must not wait for it */
  asx_nats_client *c = NULL;
  char err[200] = "";
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, err, sizeof err), 0, "%s", err);
  asx_nats_client_server(c, cur, sizeof cur);
  cr_expect_str_eq(cur, s1);
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "f", NULL, NULL, &s), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 5000 * MS), 0);
  ncl_stop(&e->a);
  uint64_t t0 = asx_now(cx);
  asx_nats_client_stats st = wait_stat(cx, c, offsetof(asx_nats_client_stats, reconnects), 1);
  cr_assert_eq(st.reconnects, 1, "no failover"); /* too quick to watch for RECONNECTING */
  cr_assert(wait_state(cx, c, ASX_NATS_STATE_CONNECTED));
  cr_expect_lt(asx_now(cx) - t0, 8000 * MS, "failover waited for reconnect_wait");
  asx_nats_client_server(c, cur, sizeof cur);
  cr_expect_str_eq(cur, s2);
  cr_assert_eq(asx_nats_publish(cx, c, "f", NULL, NULL, "on b", 4), 0);
  expect_msg(cx, s, "on b");
  asx_nats_client_close(cx, c);
  asx_nats_sub_free(s);
  /* Bad entries are refused by connect. */
  const char *bad[] = {"127.0.0.1:0", "::1:4222", "[::1", "host:99999", ":4222"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o.servers = &bad[i];
    o.nservers = 1;
    c = NULL;
    cr_expect_eq(asx_nats_client_connect(cx, &o, &c, err, sizeof err), ASX_EINVAL, "%s", bad[i]);
  }
  return 0;
}

Test(nats_client_conn, server_list_failover) {
  two_env e = {0};
  ncl_start(&e.a);
  ncl_start(&e.b);
  cr_expect_eq(ncl_run(2, failover_main, &e), 0);
  ncl_stop(&e.b);
}

/* Cluster discovery: the client is given one server of a two-server cluster, learns the other
 * from INFO's connect_urls, and fails over to it when the first goes away. */
static int discovery_main(asx_cx *cx, void *arg) {
  two_env *e = arg;
  char s1[32], want[32], cur[64];
  snprintf(s1, sizeof s1, "127.0.0.1:%d", e->a.port);
  snprintf(want, sizeof want, "127.0.0.1:%d", e->b.port);
  const char *list[] = {s1};
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.servers = list;
  o.nservers = 1;
  o.reconnect_wait_ns = 10000 * MS;
  asx_nats_client *c = NULL;
  char err[200] = "";
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, err, sizeof err), 0, "%s", err);
  /* The route forms, then an async INFO announces the other member. */
  asx_nats_client_stats st = wait_stat(cx, c, offsetof(asx_nats_client_stats, known_servers), 2);
  cr_assert_eq(st.known_servers, 2, "the cluster's other member was not learned");
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "k", NULL, NULL, &s), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 5000 * MS), 0);
  ncl_stop(&e->a);
  st = wait_stat(cx, c, offsetof(asx_nats_client_stats, reconnects), 1);
  cr_assert_eq(st.reconnects, 1, "no failover to the discovered server");
  cr_assert(wait_state(cx, c, ASX_NATS_STATE_CONNECTED));
  asx_nats_client_server(c, cur, sizeof cur);
  cr_expect_str_eq(cur, want);
  cr_assert_eq(asx_nats_publish(cx, c, "k", NULL, NULL, "on b", 4), 0);
  expect_msg(cx, s, "on b");
  asx_nats_client_close(cx, c);
  asx_nats_sub_free(s);
  return 0;
}

Test(nats_client_conn, cluster_discovery_failover) {
  two_env e = {0};
  int ca = peer_free_port(), cb = peer_free_port();
  char conf[256];
  snprintf(conf, sizeof conf, "cluster {\n  name: asx\n  listen: 127.0.0.1:%d\n}\n", ca);
  ncl_start_conf(&e.a, conf);
  snprintf(conf, sizeof conf, "cluster {\n  name: asx\n  listen: 127.0.0.1:%d\n  routes: [\"nats://127.0.0.1:%d\"]\n}\n", cb, ca);
  ncl_start_conf(&e.b, conf);
  cr_expect_eq(ncl_run(2, discovery_main, &e), 0);
  ncl_stop(&e.b);
}

/* Lame duck mode (SIGUSR2 to nats-server): the announcement reaches on_event and the counters
 * while the connection still works. */
static int lame_duck_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.on_event = on_conn_event;
  o.max_reconnects = 0;
  asx_nats_client *c = NULL;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  atomic_store(&ev_count[ASX_NATS_LAME_DUCK], 0);
  cr_assert_eq(kill(e->srv.pid, SIGUSR2), 0);
  asx_nats_client_stats st = wait_stat(cx, c, offsetof(asx_nats_client_stats, lame_ducks), 1);
  cr_assert_eq(st.lame_ducks, 1, "no lame duck announcement");
  cr_expect_eq(atomic_load(&ev_count[ASX_NATS_LAME_DUCK]), 1);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client_conn, lame_duck_is_announced) {
  run_against("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n", lame_duck_main);
}

/* ---- allocation failure at every index ---- */

#include "test_alloc.h"

typedef struct alloc_env {
  nt_peer srv;
  test_alloc ta;
  long failing_runs;
} alloc_env;

static bool ok_or(int rc, int alt) { return rc == 0 || rc == ASX_ENOMEM || rc == alt; }

static void alloc_life(asx_cx *cx, alloc_env *e) {
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.alloc = &e->ta.base;
  asx_nats_client *c = NULL;
  int rc = asx_nats_client_connect(cx, &o, &c, NULL, 0);
  cr_assert(ok_or(rc, 0), "connect: %s", asx_strerror(rc));
  if (rc) return;
  asx_nats_sub *s = NULL;
  rc = asx_nats_subscribe(cx, c, "a", NULL, NULL, &s);
  cr_assert(ok_or(rc, 0), "subscribe: %s", asx_strerror(rc));
  rc = asx_nats_publish(cx, c, "a", NULL, NULL, "x", 1);
  cr_assert(ok_or(rc, 0), "publish: %s", asx_strerror(rc));
  if (s) {
    asx_nats_msg *m = NULL;
    /* Either the message, or the connection ended (ENOMEM in the reader closes the channel). */
    rc = asx_nats_sub_next(cx, s, &m);
    cr_assert(ok_or(rc, ASX_ECLOSED), "next: %s", asx_strerror(rc));
    asx_nats_msg_free(m);
  }
  asx_nats_msg *r = NULL;
  rc = asx_nats_request(cx, c, "nobody", NULL, "q", 1, 2000 * MS, &r);
  cr_assert(ok_or(rc, ASX_ENOTFOUND), "request: %s", asx_strerror(rc));
  cr_assert_neq(rc, 0);
  rc = asx_nats_flush(cx, c, 2000 * MS);
  cr_assert(ok_or(rc, 0), "flush: %s", asx_strerror(rc));
  asx_nats_client_close(cx, c);
  asx_nats_sub_free(s);
}

static int alloc_main(asx_cx *cx, void *arg) {
  alloc_env *e = arg;
  for (long n = 0;; n++) {
    test_alloc_init(&e->ta);
    test_alloc_fail_after(&e->ta, n);
    alloc_life(cx, e);
    cr_assert_eq(e->ta.live, 0, "fail_after %ld: %ld blocks leaked", n, e->ta.live);
    if (e->ta.failures == 0) break;
    e->failing_runs++;
  }
  return 0;
}

Test(nats_client_conn, failing_allocator_every_index) {
  alloc_env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(1, alloc_main, &e), 0); /* one worker: test_alloc is not thread-safe */
  cr_expect_gt(e.failing_runs, 10);
  ncl_stop(&e.srv);
}

/* ---- a server that stops answering PINGs: the keepalive declares the connection stale ---- */

typedef struct fake_env {
  asx_listener *l;
  int server_rc;
} fake_env;

/* Sends INFO, answers the handshake PING, then reads and ignores everything until EOF. */
static int mute_server(asx_cx *cx, void *arg) {
  fake_env *f = arg;
  asx_stream *s = NULL;
  int rc = asx_listener_accept(cx, f->l, &s);
  if (rc) return rc;
  const char *info = "INFO {\"server_id\":\"fake\",\"version\":\"2.9.0\",\"proto\":1,"
                     "\"headers\":true,\"max_payload\":1048576}\r\n";
  rc = asx_stream_write_all(cx, s, info, strlen(info), NULL);
  char buf[512];
  size_t have = 0;
  while (rc == 0) { /* until the handshake's PING */
    size_t n = 0;
    rc = asx_stream_read(cx, s, buf + have, sizeof(buf) - 1 - have, &n);
    have += n;
    buf[have] = 0;
    if (strstr(buf, "PING\r\n")) break;
    if (have == sizeof(buf) - 1) rc = ASX_ELIMIT;
  }
  if (rc == 0) rc = asx_stream_write_all(cx, s, "PONG\r\n", 6, NULL);
  while (rc == 0) { /* mute from now on */
    size_t n = 0;
    rc = asx_stream_read(cx, s, buf, sizeof(buf), &n);
  }
  asx_stream_close(s);
  return rc == ASX_ECLOSED || rc == ASX_ECONNRESET ? 0 : rc;
}

static int stale_main(asx_cx *cx, void *arg) {
  fake_env *f = arg;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &f->l), 0);
  asx_task *srv;
  cr_assert_eq(asx_spawn(cx, NULL, mute_server, f, NULL, &srv), 0);
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.port = asx_listener_port(f->l);
  o.ping_interval_ns = 30 * MS;
  o.max_pings_out = 2;
  o.max_reconnects = 0; /* the mute server accepts one connection only */
  asx_nats_client *c = NULL;
  cr_assert_eq(asx_nats_client_connect(cx, &o, &c, NULL, 0), 0);
  uint64_t t0 = asx_now(cx);
  /* A flush can never complete: it ends when the keepalive gives up on the connection. */
  cr_expect_eq(asx_nats_flush(cx, c, 0), ASX_ETIMEDOUT);
  cr_expect_geq(asx_now(cx) - t0, 60 * MS);
  cr_expect_eq(asx_nats_client_status(c), ASX_ETIMEDOUT);
  cr_expect_eq(asx_nats_publish(cx, c, "x", NULL, NULL, "y", 1), ASX_ETIMEDOUT);
  asx_nats_client_close(cx, c);
  asx_task_join(cx, srv, &f->server_rc, NULL);
  asx_listener_close(f->l);
  return 0;
}

Test(nats_client_conn, keepalive_detects_stale_connection) {
  fake_env f = {0};
  cr_expect_eq(ncl_run(2, stale_main, &f), 0);
  cr_expect_eq(f.server_rc, 0);
}

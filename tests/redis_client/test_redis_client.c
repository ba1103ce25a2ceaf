/* The pipelined Redis client against a real redis-server: round trips, 100 tasks pipelining 1000
 * INCRs on one connection, cancelled callers that must not desynchronise the connection, RESP3
 * pub/sub pushes (callback-less queue with its drop policy), authentication, SELECT, timeouts.
 * Every test ends with no live task, region or obligation (rcl_run). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rcl_util.h"

TestSuite(redis_client, .timeout = 60, .fini = rcl_cleanup);

typedef struct env {
  rcl_server srv;
  int resp;
  asx_redis_client *c;
  int n;
  int rc[128];
} env;

static asx_redis_client *connect_or_die(asx_cx *cx, const asx_redis_client_opts *o) {
  asx_redis_client *c = NULL;
  char err[256];
  int rc = asx_redis_client_connect(cx, o, &c, err, sizeof(err));
  cr_assert_eq(rc, 0, "connect: %s (%s)", asx_strerror(rc), err);
  return c;
}

/* ---- round trips ---- */

static int roundtrip_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, e->resp);
  asx_redis_client *c = connect_or_die(cx, &o);
  asx_redis_reply *r = rcl_cmd(cx, c, "SET", "k", "hello", NULL);
  cr_expect_eq(r->type, ASX_REDIS_STRING);
  cr_expect_str_eq(r->str, "OK");
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, c, "GET", "k", NULL);
  cr_expect_eq(r->type, ASX_REDIS_BULK);
  cr_expect_str_eq(r->str, "hello");
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, c, "GET", "missing", NULL);
  cr_expect_eq(r->type, ASX_REDIS_NULL);
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, c, "INCR", "n", NULL);
  cr_expect_eq(r->type, ASX_REDIS_INTEGER);
  cr_expect_eq(r->integer, 1);
  asx_redis_reply_free(r);
  /* A Redis error is a reply, and the connection goes on. */
  r = rcl_cmd(cx, c, "INCR", "k", NULL);
  cr_expect_eq(r->type, ASX_REDIS_ERROR);
  cr_expect(strstr(r->str, "not an integer") != NULL, "%s", r->str);
  asx_redis_reply_free(r);
  /* Binary-safe arguments and values. */
  const char *argv[3] = {"SET", "bin", "a\0b\r\nc"};
  size_t lens[3] = {3, 3, 6};
  cr_assert_eq(asx_redis_client_command(cx, c, 3, argv, lens, &r), 0);
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, c, "GET", "bin", NULL);
  cr_expect_eq(r->len, 6);
  cr_expect(memcmp(r->str, "a\0b\r\nc", 6) == 0);
  asx_redis_reply_free(r);
  if (e->resp == 3) { /* RESP3 types come through */
    r = rcl_cmd(cx, c, "HSET", "h", "f", "v", NULL);
    asx_redis_reply_free(r);
    r = rcl_cmd(cx, c, "HGETALL", "h", NULL);
    cr_expect_eq(r->type, ASX_REDIS_MAP);
    asx_redis_reply_free(r);
  }
  /* Commands that stop the one-reply-per-command rule are refused before anything is sent. */
  const char *mon[1] = {"monitor"}, *off[3] = {"CLIENT", "reply", "OFF"};
  cr_expect_eq(asx_redis_client_command(cx, c, 1, mon, NULL, &r), ASX_EUNSUPPORTED);
  cr_expect_eq(asx_redis_client_command(cx, c, 3, off, NULL, &r), ASX_EUNSUPPORTED);
  r = rcl_cmd(cx, c, "PING", NULL);
  cr_expect_str_eq(r->str, "PONG");
  asx_redis_reply_free(r);
  cr_expect_eq(asx_redis_client_status(c), 0);
  asx_redis_client_close(cx, c);
  return 0;
}

Test(redis_client, set_get_incr_resp2) {
  env e = {.resp = 2};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, roundtrip_main, &e), 0);
  rcl_server_stop(&e.srv);
}

Test(redis_client, set_get_incr_resp3) {
  env e = {.resp = 3};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, roundtrip_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* ---- 100 tasks x 10 INCR on one connection ---- */

static int incr_worker(asx_cx *cx, void *arg) {
  env *e = arg;
  for (int i = 0; i < 10; i++) {
    asx_redis_reply *r = NULL;
    const char *argv[2] = {"INCR", "counter"};
    int rc = asx_redis_client_command(cx, e->c, 2, argv, NULL, &r);
    if (rc) return rc;
    bool ok = r->type == ASX_REDIS_INTEGER && r->integer >= 1 && r->integer <= 1000;
    asx_redis_reply_free(r);
    if (!ok) return ASX_EPROTO;
  }
  return 0;
}

static int pipeline_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, 2);
  o.max_inflight = 64; /* fewer slots than tasks: callers must also wait for space */
  e->c = connect_or_die(cx, &o);
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  asx_task *h[100];
  for (int i = 0; i < 100; i++) cr_assert_eq(asx_spawn(cx, r, incr_worker, e, NULL, &h[i]), 0);
  for (int i = 0; i < 100; i++) {
    int rc = -1;
    cr_assert_eq(asx_task_join(cx, h[i], &rc, NULL), 0);
    cr_expect_eq(rc, 0, "worker %d: %s", i, asx_strerror(rc));
  }
  asx_region_close(cx, r, NULL);
  asx_redis_reply *g = rcl_cmd(cx, e->c, "GET", "counter", NULL);
  cr_expect_str_eq(g->str, "1000");
  asx_redis_reply_free(g);
  asx_redis_client_stats st;
  asx_redis_client_stats_get(e->c, &st);
  cr_expect_eq(st.commands, 1001);
  cr_expect_eq(st.replies, 1001);
  cr_expect_leq(st.batches, st.commands);
  asx_redis_client_close(cx, e->c);
  return 0;
}

Test(redis_client, hundred_tasks_pipeline_thousand_incr) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, pipeline_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* ---- a cancelled caller does not desynchronise the connection ---- */

static int blpop_caller(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_reply *r = NULL;
  const char *argv[3] = {"BLPOP", "nothing-here", "1"};
  int rc = asx_redis_client_command(cx, e->c, 3, argv, NULL, &r);
  asx_redis_reply_free(r);
  return rc;
}

static int cancel_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, e->resp);
  e->c = connect_or_die(cx, &o);
  asx_redis_reply_free(rcl_cmd(cx, e->c, "SET", "mine", "my-value", NULL));
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blpop_caller, e, NULL, &t), 0);
  asx_sleep(cx, 50 * MS); /* the BLPOP is (most likely) on the wire, its reply ~950 ms away */
  asx_task_cancel(t, ASX_CANCEL_USER);
  int rc = 0;
  cr_assert_eq(asx_task_join(cx, t, &rc, NULL), 0);
  cr_expect_eq(rc, ASX_ECANCELED);
  /* The next command is queued behind the abandoned BLPOP: it must get its own reply, not the
   * BLPOP's null. */
  asx_redis_reply *r = rcl_cmd(cx, e->c, "GET", "mine", NULL);
  cr_expect_eq(r->type, ASX_REDIS_BULK);
  cr_expect_str_eq(r->str, "my-value");
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, e->c, "ECHO", "after", NULL);
  cr_expect_str_eq(r->str, "after");
  asx_redis_reply_free(r);
  asx_redis_client_stats st;
  asx_redis_client_stats_get(e->c, &st);
  cr_expect_eq(st.abandoned, 1);
  cr_expect_eq(asx_redis_client_status(e->c), 0);
  asx_redis_client_close(cx, e->c);
  return 0;
}

Test(redis_client, cancelled_caller_does_not_desync) {
  env e = {.resp = 2};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, cancel_main, &e), 0);
  rcl_server_stop(&e.srv);
}

Test(redis_client, cancelled_caller_does_not_desync_resp3) {
  env e = {.resp = 3};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(1, cancel_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* Budget deadline and per-command timeout. */
static int timeout_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, 2);
  o.command_timeout_ns = 60 * MS;
  e->c = connect_or_die(cx, &o);
  uint64_t t0 = asx_now(cx);
  asx_redis_reply *r = NULL;
  const char *argv[3] = {"BLPOP", "nothing-here", "0.3"};
  cr_expect_eq(asx_redis_client_command(cx, e->c, 3, argv, NULL, &r), ASX_ETIMEDOUT);
  cr_expect_geq(asx_now(cx) - t0, 60 * MS);
  /* Replies come in order: a PING sent now would wait behind the BLPOP's reply (~240 ms away)
   * and time out too. Once that reply was read (and discarded), the connection is as before. */
  asx_redis_client_stats st;
  for (int i = 0; i < 1000; i++) { /* wait for that reply without guessing how long it takes */
    asx_redis_client_stats_get(e->c, &st);
    if (st.abandoned >= 1) break;
    asx_sleep(cx, 10 * MS);
  }
  cr_expect_eq(st.abandoned, 1);
  r = rcl_cmd(cx, e->c, "PING", NULL);
  cr_expect_str_eq(r->str, "PONG");
  asx_redis_reply_free(r);
  asx_redis_client_close(cx, e->c);
  return 0;
}

Test(redis_client, command_timeout_keeps_connection) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, timeout_main, &e), 0);
  rcl_server_stop(&e.srv);
}

static int deadline_caller(asx_cx *cx, void *arg) {
  int rc = blpop_caller(cx, arg);
  return rc == ASX_ETIMEDOUT ? 0 : (rc == 0 ? ASX_EPROTO : rc);
}

static int deadline_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, 2);
  e->c = connect_or_die(cx, &o);
  asx_spawn_opts so = asx_spawn_opts_default();
  so.budget.deadline_ns = asx_now(cx) + 80 * MS;
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, deadline_caller, e, &so, &t), 0);
  int rc = -1;
  asx_task_join(cx, t, &rc, NULL);
  cr_expect_eq(rc, 0, "budget deadline should give ASX_ETIMEDOUT: %s", asx_strerror(rc));
  asx_redis_reply *r = rcl_cmd(cx, e->c, "PING", NULL);
  cr_expect_str_eq(r->str, "PONG");
  asx_redis_reply_free(r);
  asx_redis_client_close(cx, e->c);
  return 0;
}

Test(redis_client, budget_deadline_is_a_timeout) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, deadline_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* ---- RESP3 pub/sub ---- */

static int pubsub_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, 3);
  o.push_queue = 4;
  asx_redis_client *sub = connect_or_die(cx, &o);
  asx_redis_client *pub = connect_or_die(cx, &o);
  asx_redis_reply *r = rcl_cmd(cx, sub, "SUBSCRIBE", "news", "sport", NULL);
  cr_expect_eq(r->type, ASX_REDIS_PUSH); /* the first confirmation is the reply */
  cr_expect_str_eq(r->elements[0]->str, "subscribe");
  cr_expect_str_eq(r->elements[1]->str, "news");
  asx_redis_reply_free(r);
  /* The second confirmation was swallowed: the next reply is PING's. */
  r = rcl_cmd(cx, sub, "PING", NULL);
  cr_expect_str_eq(r->str, "PONG");
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, pub, "PUBLISH", "news", "hello", NULL);
  cr_expect_eq(r->integer, 1);
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, pub, "PUBLISH", "sport", "goal", NULL);
  asx_redis_reply_free(r);
  asx_redis_reply *p = NULL;
  cr_assert_eq(asx_redis_client_next_push(cx, sub, &p), 0);
  cr_expect_eq(p->type, ASX_REDIS_PUSH);
  cr_assert_eq(p->n, 3);
  cr_expect_str_eq(p->elements[0]->str, "message");
  cr_expect_str_eq(p->elements[1]->str, "news");
  cr_expect_str_eq(p->elements[2]->str, "hello");
  asx_redis_reply_free(p);
  cr_assert_eq(asx_redis_client_next_push(cx, sub, &p), 0);
  cr_expect_str_eq(p->elements[2]->str, "goal");
  asx_redis_reply_free(p);
  /* Slow consumer: 10 messages into a queue of 4: 6 dropped and counted, never more held. */
  for (int i = 0; i < 10; i++) asx_redis_reply_free(rcl_cmd(cx, pub, "PUBLISH", "news", "x", NULL));
  r = rcl_cmd(cx, sub, "PING", NULL); /* after PING's reply every message was read */
  asx_redis_reply_free(r);
  asx_redis_client_stats st;
  asx_redis_client_stats_get(sub, &st);
  cr_expect_eq(st.pushes, 12);
  cr_expect_eq(st.pushes_dropped, 6);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(asx_redis_client_next_push(cx, sub, &p), 0);
    asx_redis_reply_free(p);
  }
  r = rcl_cmd(cx, sub, "UNSUBSCRIBE", "news", NULL);
  cr_expect_str_eq(r->elements[0]->str, "unsubscribe");
  asx_redis_reply_free(r);
  /* RESP2 connections refuse pub/sub commands: the reply would not match a FIFO slot. */
  asx_redis_client_opts o2 = rcl_opts(&e->srv, 2);
  asx_redis_client *c2 = connect_or_die(cx, &o2);
  const char *argv[2] = {"SUBSCRIBE", "x"};
  cr_expect_eq(asx_redis_client_command(cx, c2, 2, argv, NULL, &r), ASX_EUNSUPPORTED);
  asx_redis_client_close(cx, c2);
  asx_redis_client_close(cx, pub);
  asx_redis_client_close(cx, sub);
  return 0;
}

Test(redis_client, resp3_pubsub_push_delivery) {
  env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, pubsub_main, &e), 0);
  rcl_server_stop(&e.srv);
}

/* ---- authentication and SELECT ---- */

static int auth_main(asx_cx *cx, void *arg) {
  env *e = arg;
  char err[256];
  asx_redis_client *c = NULL;
  for (int resp = 2; resp <= 3; resp++) {
    asx_redis_client_opts o = rcl_opts(&e->srv, resp);
    o.password = "wrong";
    cr_expect_eq(asx_redis_client_connect(cx, &o, &c, err, sizeof(err)), ASX_EPROTO);
    cr_expect(strstr(err, "WRONGPASS") != NULL, "%s", err);
    o.password = "s3cret";
    o.db = 3;
    c = connect_or_die(cx, &o);
    asx_redis_reply_free(rcl_cmd(cx, c, "SET", "in3", "yes", NULL));
    asx_redis_client_close(cx, c);
    o.username = "default";
    o.db = 0;
    c = connect_or_die(cx, &o);
    asx_redis_reply *r = rcl_cmd(cx, c, "GET", "in3", NULL);
    cr_expect_eq(r->type, ASX_REDIS_NULL); /* it is in db 3, not 0 */
    asx_redis_reply_free(r);
    asx_redis_client_close(cx, c);
  }
  /* Without a password the connection works but commands get NOAUTH error replies. */
  asx_redis_client_opts o = rcl_opts(&e->srv, 2);
  c = connect_or_die(cx, &o);
  asx_redis_reply *r = rcl_cmd(cx, c, "GET", "x", NULL);
  cr_expect_eq(r->type, ASX_REDIS_ERROR);
  cr_expect(strncmp(r->str, "NOAUTH", 6) == 0, "%s", r->str);
  asx_redis_reply_free(r);
  asx_redis_client_close(cx, c);
  return 0;
}

Test(redis_client, auth_and_select) {
  env e = {0};
  const char *extra[] = {"--requirepass", "s3cret", NULL};
  rcl_server_start(&e.srv, extra);
  cr_expect_eq(rcl_run(2, auth_main, &e), 0);
  rcl_server_stop(&e.srv);
}

static int refused_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, 2);
  asx_redis_client *c = NULL;
  char err[128];
  cr_expect_eq(asx_redis_client_connect(cx, &o, &c, err, sizeof(err)), ASX_ECONNRESET);
  cr_expect_null(c);
  o.resp = 4;
  cr_expect_eq(asx_redis_client_connect(cx, &o, &c, err, sizeof(err)), ASX_EINVAL);
  return 0;
}

Test(redis_client, connect_refused_and_bad_options) {
  env e = {0};
  e.srv.port = 1; /* nothing listens on port 1 of loopback */
  cr_expect_eq(rcl_run(1, refused_main, &e), 0);
}

/* ---- allocation failure at every index ---- */

#include "test_alloc.h"

typedef struct alloc_env {
  rcl_server srv;
  test_alloc ta;
  long failing_runs;
} alloc_env;

static bool ok_or_nomem(int rc) { return rc == 0 || rc == ASX_ENOMEM; }

/* One client life under the allocator; every step either works or reports ASX_ENOMEM. */
static void alloc_life(asx_cx *cx, alloc_env *e) {
  asx_redis_client_opts o = rcl_opts(&e->srv, 3);
  o.alloc = &e->ta.base;
  o.push_queue = 2;
  asx_redis_client *c = NULL;
  int rc = asx_redis_client_connect(cx, &o, &c, NULL, 0);
  cr_assert(ok_or_nomem(rc), "connect: %s", asx_strerror(rc));
  if (rc) return;
  const char *set[3] = {"SET", "a", "1"}, *get[2] = {"GET", "a"}, *sub[2] = {"SUBSCRIBE", "ch"};
  const char *pub[3] = {"PUBLISH", "ch", "m"};
  const char *const *cmds[4] = {set, get, sub, pub};
  size_t argcs[4] = {3, 2, 2, 3};
  for (int i = 0; i < 4; i++) {
    asx_redis_reply *r = NULL;
    rc = asx_redis_client_command(cx, c, argcs[i], cmds[i], NULL, &r);
    cr_assert(ok_or_nomem(rc), "command %d: %s", i, asx_strerror(rc));
    asx_redis_reply_free(r);
  }
  asx_redis_client_close(cx, c);
}

static int alloc_main(asx_cx *cx, void *arg) {
  alloc_env *e = arg;
  for (long n = 0;; n++) {
    test_alloc_init(&e->ta);
    test_alloc_fail_after(&e->ta, n);
    alloc_life(cx, e);
    cr_assert_eq(e->ta.live, 0, "fail_after %ld: %ld blocks leaked", n, e->ta.live);
    if (e->ta.failures == 0) break; /* a run without failure: every index was tried */
    e->failing_runs++;
  }
  return 0;
}

Test(redis_client, failing_allocator_every_index) {
  alloc_env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(1, alloc_main, &e), 0); /* one worker: test_alloc is not thread-safe */
  cr_expect_gt(e.failing_runs, 10);
  rcl_server_stop(&e.srv);
}

/* ---- fake servers: a silent one (connect timeout) and one that answers too much ---- */

typedef struct fake_env {
  asx_listener *l;
  const char *answer; /* sent after the first command arrives; NULL = never answer */
  int server_rc;
} fake_env;

static int fake_server(asx_cx *cx, void *arg) {
  fake_env *f = arg;
  asx_stream *s = NULL;
  int rc = asx_listener_accept(cx, f->l, &s);
  if (rc) return rc;
  char buf[512];
  bool answered = false;
  while (rc == 0) {
    size_t n = 0;
    rc = asx_stream_read(cx, s, buf, sizeof(buf), &n);
    if (rc == 0 && f->answer && !answered) {
      rc = asx_stream_write_all(cx, s, f->answer, strlen(f->answer), NULL);
      answered = true;
    }
  }
  asx_stream_close(s);
  return rc == ASX_ECLOSED || rc == ASX_ECONNRESET ? 0 : rc;
}

static int fake_main(asx_cx *cx, void *arg) {
  fake_env *f = arg;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &f->l), 0);
  asx_task *srv;
  cr_assert_eq(asx_spawn(cx, NULL, fake_server, f, NULL, &srv), 0);
  asx_redis_client_opts o;
  asx_redis_client_opts_default(&o);
  o.port = asx_listener_port(f->l);
  asx_redis_client *c = NULL;
  char err[128];
  if (!f->answer) { /* HELLO 3 is never answered: the connect timeout */
    o.resp = 3;
    o.connect_timeout_ns = 80 * MS;
    uint64_t t0 = asx_now(cx);
    cr_expect_eq(asx_redis_client_connect(cx, &o, &c, err, sizeof(err)), ASX_ETIMEDOUT);
    cr_expect_geq(asx_now(cx) - t0, 80 * MS);
    cr_expect_null(c);
  } else { /* two replies for one command: the connection cannot be trusted any more */
    c = connect_or_die(cx, &o);
    asx_redis_reply *r = rcl_cmd(cx, c, "GET", "k", NULL);
    cr_expect_str_eq(r->str, "first");
    asx_redis_reply_free(r);
    while (asx_redis_client_status(c) == 0) asx_sleep(cx, 1 * MS);
    cr_expect_eq(asx_redis_client_status(c), ASX_EPROTO);
    const char *argv[1] = {"PING"};
    cr_expect_eq(asx_redis_client_command(cx, c, 1, argv, NULL, &r), ASX_EPROTO);
    asx_redis_client_close(cx, c);
  }
  asx_task_join(cx, srv, &f->server_rc, NULL);
  asx_listener_close(f->l);
  return 0;
}

Test(redis_client, silent_server_connect_timeout) {
  fake_env f = {.answer = NULL};
  cr_expect_eq(rcl_run(2, fake_main, &f), 0);
  cr_expect_eq(f.server_rc, 0);
}

Test(redis_client, unsolicited_reply_breaks_connection) {
  fake_env f = {.answer = "$5\r\nfirst\r\n+EXTRA\r\n"};
  cr_expect_eq(rcl_run(2, fake_main, &f), 0);
  cr_expect_eq(f.server_rc, 0);
}

/* ---- pushes through a callback ---- */

typedef struct push_env {
  rcl_server srv;
  _Atomic int pushes; /* written on the reader task */
  _Atomic int good;
} push_env;

static void on_push(void *ud, asx_redis_reply *p) {
  push_env *e = ud;
  e->pushes++;
  if (p->type == ASX_REDIS_PUSH && p->n == 3 && strcmp(p->elements[0]->str, "message") == 0 &&
      strcmp(p->elements[2]->str, "payload") == 0)
    e->good++;
  asx_redis_reply_free(p); /* the callback owns it */
}

static int push_cb_main(asx_cx *cx, void *arg) {
  push_env *e = arg;
  asx_redis_client_opts o = rcl_opts(&e->srv, 3);
  o.on_push = on_push;
  o.push_ud = e;
  asx_redis_client *sub = connect_or_die(cx, &o);
  asx_redis_client *pub = connect_or_die(cx, &o);
  asx_redis_reply_free(rcl_cmd(cx, sub, "SUBSCRIBE", "cb", NULL));
  for (int i = 0; i < 3; i++) asx_redis_reply_free(rcl_cmd(cx, pub, "PUBLISH", "cb", "payload", NULL));
  asx_redis_reply_free(rcl_cmd(cx, sub, "PING", NULL)); /* read after the three messages */
  cr_expect_eq(e->pushes, 3);
  cr_expect_eq(e->good, 3);
  asx_redis_reply *p = NULL;
  cr_expect_eq(asx_redis_client_next_push(cx, sub, &p), ASX_ESTATE); /* no queue with a callback */
  asx_redis_client_close(cx, pub);
  asx_redis_client_close(cx, sub);
  return 0;
}

Test(redis_client, resp3_push_callback) {
  push_env e = {0};
  rcl_server_start(&e.srv, NULL);
  cr_expect_eq(rcl_run(2, push_cb_main, &e), 0);
  rcl_server_stop(&e.srv);
}

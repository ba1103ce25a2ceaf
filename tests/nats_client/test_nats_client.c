/* The NATS client against a real nats-server: pub/sub round trip, queue groups, request/reply
 * (concurrent requesters, no responders, timeout), headers, slow-consumer policies, UNSUB with a
 * message limit, drain. Every test ends with no live task, region or obligation (ncl_run). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ncl_util.h"

TestSuite(nats_client, .timeout = 60, .fini = ncl_cleanup);

typedef struct env {
  nt_peer srv;
  asx_nats_client *c;
  asx_nats_sub *sub;
  int count;
  int rc;
} env;

static int pubsub_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "foo.*", NULL, NULL, &s), 0);
  for (int i = 0; i < 10; i++) {
    char b[16];
    snprintf(b, sizeof(b), "msg-%d", i);
    cr_assert_eq(asx_nats_publish(cx, c, i % 2 ? "foo.odd" : "foo.even", i == 3 ? "back.here" : NULL,
                                  NULL, b, strlen(b)), 0);
  }
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  for (int i = 0; i < 10; i++) {
    asx_nats_msg *m = NULL;
    cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
    char b[16];
    snprintf(b, sizeof(b), "msg-%d", i);
    cr_expect_eq(m->len, strlen(b));
    cr_expect_str_eq((const char *)m->data, b);
    cr_expect_str_eq(m->subject, i % 2 ? "foo.odd" : "foo.even");
    if (i == 3)
      cr_expect_str_eq(m->reply, "back.here");
    else
      cr_expect_null(m->reply);
    cr_expect_eq(m->headers.len, 0);
    asx_nats_msg_free(m);
  }
  asx_nats_sub_stats st;
  asx_nats_sub_stats_get(s, &st);
  cr_expect_eq(st.received, 10);
  cr_expect_eq(st.delivered, 10);
  cr_expect_eq(st.dropped, 0);
  /* An empty payload is a message too. */
  cr_assert_eq(asx_nats_publish(cx, c, "foo.empty", NULL, NULL, NULL, 0), 0);
  asx_nats_msg *m = NULL;
  cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
  cr_expect_eq(m->len, 0);
  asx_nats_msg_free(m);
  cr_expect_eq(asx_nats_publish(cx, c, "bad subject", NULL, NULL, "x", 1), ASX_EINVAL);
  cr_expect_eq(asx_nats_publish(cx, c, "foo.*", NULL, NULL, "x", 1), ASX_EINVAL);
  cr_assert_eq(asx_nats_unsubscribe(cx, s, 0), 0);
  cr_expect_eq(asx_nats_sub_next(cx, s, &m), ASX_ECLOSED);
  asx_nats_sub_free(s);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client, pubsub_round_trip) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, pubsub_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- queue groups ---- */

static int queue_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *a = ncl_connect(cx, &e->srv), *b = ncl_connect(cx, &e->srv);
  asx_nats_client *p = ncl_connect(cx, &e->srv);
  asx_nats_sub *sa, *sb, *all;
  cr_assert_eq(asx_nats_subscribe(cx, a, "work", "workers", NULL, &sa), 0);
  cr_assert_eq(asx_nats_subscribe(cx, b, "work", "workers", NULL, &sb), 0);
  cr_assert_eq(asx_nats_subscribe(cx, p, "work", NULL, NULL, &all), 0); /* not in the group */
  cr_assert_eq(asx_nats_flush(cx, a, 2000 * MS), 0);
  cr_assert_eq(asx_nats_flush(cx, b, 2000 * MS), 0);
  for (int i = 0; i < 200; i++) cr_assert_eq(asx_nats_publish(cx, p, "work", NULL, NULL, "j", 1), 0);
  cr_assert_eq(asx_nats_flush(cx, p, 2000 * MS), 0);
  cr_assert_eq(asx_nats_flush(cx, a, 2000 * MS), 0);
  cr_assert_eq(asx_nats_flush(cx, b, 2000 * MS), 0);
  asx_nats_sub_stats x, y, z;
  asx_nats_sub_stats_get(sa, &x);
  asx_nats_sub_stats_get(sb, &y);
  asx_nats_sub_stats_get(all, &z);
  cr_expect_eq(x.received + y.received, 200, "%llu + %llu", (unsigned long long)x.received,
               (unsigned long long)y.received);
  cr_expect_gt(x.received, 0);
  cr_expect_gt(y.received, 0);
  cr_expect_eq(z.received, 200); /* a plain subscriber sees every message */
  asx_nats_sub_free(sa);
  asx_nats_sub_free(sb);
  asx_nats_sub_free(all);
  asx_nats_client_close(cx, p);
  asx_nats_client_close(cx, b);
  asx_nats_client_close(cx, a);
  return 0;
}

Test(nats_client, queue_group_load_shares) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, queue_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- request/reply ---- */

static int responder(asx_cx *cx, void *arg) {
  env *e = arg;
  for (;;) {
    asx_nats_msg *m = NULL;
    int rc = asx_nats_sub_next(cx, e->sub, &m);
    if (rc) return rc == ASX_ECLOSED ? 0 : rc;
    char out[128];
    int n = snprintf(out, sizeof(out), "re:%.*s", (int)m->len, (const char *)m->data);
    if (m->reply) {
      asx_nats_hdr h;
      asx_nats_hdr_init(&h, NULL, 0);
      asx_slice v;
      if (asx_nats_hdr_get(m->headers, "Trace", 0, &v) == 0) {
        char tv[64];
        snprintf(tv, sizeof(tv), "%.*s", (int)v.len, (const char *)v.ptr);
        asx_nats_hdr_add(&h, "Trace", tv);
      }
      asx_nats_publish(cx, e->c, m->reply, NULL, &h, out, (size_t)n);
      asx_nats_hdr_free(&h);
    }
    asx_nats_msg_free(m);
  }
}

static int requester(asx_cx *cx, void *arg) {
  env *e = arg;
  char q[32], want[40];
  uint64_t id = asx_task_id(asx_cx_task(cx));
  snprintf(q, sizeof(q), "q%llu", (unsigned long long)id);
  snprintf(want, sizeof(want), "re:%s", q);
  for (int i = 0; i < 5; i++) {
    asx_nats_msg *r = NULL;
    int rc = asx_nats_request(cx, e->c, "svc.echo", NULL, q, strlen(q), 2000 * MS, &r);
    if (rc) return rc;
    bool ok = strcmp((const char *)r->data, want) == 0;
    asx_nats_msg_free(r);
    if (!ok) return ASX_EPROTO; /* someone else's reply */
  }
  return 0;
}

static int request_main(asx_cx *cx, void *arg) {
  env *e = arg;
  e->c = ncl_connect(cx, &e->srv);
  cr_assert_eq(asx_nats_subscribe(cx, e->c, "svc.echo", NULL, NULL, &e->sub), 0);
  asx_task *resp;
  cr_assert_eq(asx_spawn(cx, NULL, responder, e, NULL, &resp), 0);
  cr_assert_eq(asx_nats_flush(cx, e->c, 2000 * MS), 0);
  asx_nats_msg *r = NULL;
  cr_assert_eq(asx_nats_request(cx, e->c, "svc.echo", NULL, "hi", 2, 2000 * MS, &r), 0);
  cr_expect_str_eq((const char *)r->data, "re:hi");
  asx_nats_msg_free(r);
  /* 20 concurrent requesters on one connection: each gets its own replies. */
  asx_task *h[20];
  for (int i = 0; i < 20; i++) cr_assert_eq(asx_spawn(cx, NULL, requester, e, NULL, &h[i]), 0);
  for (int i = 0; i < 20; i++) {
    int rc = -1;
    asx_task_join(cx, h[i], &rc, NULL);
    cr_expect_eq(rc, 0, "requester %d: %s", i, asx_strerror(rc));
  }
  /* Headers go both ways. */
  asx_nats_hdr h2;
  asx_nats_hdr_init(&h2, NULL, 0);
  asx_nats_hdr_add(&h2, "Trace", "abc-123");
  cr_assert_eq(asx_nats_request(cx, e->c, "svc.echo", &h2, "h", 1, 2000 * MS, &r), 0);
  asx_slice v;
  cr_assert_eq(asx_nats_hdr_get(r->headers, "Trace", 0, &v), 0);
  cr_expect(v.len == 7 && memcmp(v.ptr, "abc-123", 7) == 0);
  asx_nats_msg_free(r);
  asx_nats_hdr_free(&h2);
  /* No responders: the server's 503 is a specific error, not a timeout. */
  uint64_t t0 = asx_now(cx);
  cr_expect_eq(asx_nats_request(cx, e->c, "nobody.home", NULL, "x", 1, 5000 * MS, &r), ASX_ENOTFOUND);
  cr_expect_lt(asx_now(cx) - t0, 5000 * MS);
  /* A subscriber that never answers: the timeout. */
  asx_nats_sub *silent;
  cr_assert_eq(asx_nats_subscribe(cx, e->c, "silent", NULL, NULL, &silent), 0);
  t0 = asx_now(cx);
  cr_expect_eq(asx_nats_request(cx, e->c, "silent", NULL, "x", 1, 100 * MS, &r), ASX_ETIMEDOUT);
  cr_expect_geq(asx_now(cx) - t0, 100 * MS);
  asx_nats_sub_free(silent);
  cr_expect_eq(asx_nats_client_status(e->c), 0);
  asx_nats_client_close(cx, e->c); /* ends the responder: its channel closes */
  int rc = -1;
  asx_task_join(cx, resp, &rc, NULL);
  cr_expect_eq(rc, 0);
  asx_nats_sub_free(e->sub);
  return 0;
}

Test(nats_client, request_reply_no_responders_timeout_headers) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, request_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- headers on plain pub/sub ---- */

static int headers_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "h", NULL, NULL, &s), 0);
  asx_nats_hdr h;
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "X-Multi", "one"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "X-Multi", "two"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "Content-Type", "text/plain"), 0);
  cr_assert_eq(asx_nats_publish(cx, c, "h", NULL, &h, "body", 4), 0);
  asx_nats_hdr_free(&h);
  asx_nats_msg *m = NULL;
  cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
  cr_expect_str_eq((const char *)m->data, "body");
  cr_expect_eq(asx_nats_hdr_count(m->headers, "X-Multi"), 2);
  asx_slice v;
  cr_assert_eq(asx_nats_hdr_get(m->headers, "X-Multi", 1, &v), 0);
  cr_expect(v.len == 3 && memcmp(v.ptr, "two", 3) == 0);
  cr_assert_eq(asx_nats_hdr_get(m->headers, "Content-Type", 0, &v), 0);
  cr_expect(v.len == 10 && memcmp(v.ptr, "text/plain", 10) == 0);
  cr_expect_eq(m->status, 0);
  asx_nats_msg_free(m);
  asx_nats_sub_free(s);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client, headers_round_trip) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, headers_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- slow consumers ---- */

static int slow_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  asx_nats_sub_opts newest = {.capacity = 4, .policy = ASX_NATS_DROP_NEWEST};
  asx_nats_sub_opts oldest = {.capacity = 4, .policy = ASX_NATS_DROP_OLDEST};
  asx_nats_sub *sn, *so;
  cr_assert_eq(asx_nats_subscribe(cx, c, "firehose", NULL, &newest, &sn), 0);
  cr_assert_eq(asx_nats_subscribe(cx, c, "firehose", NULL, &oldest, &so), 0);
  for (int i = 0; i < 10; i++) {
    char b[4];
    snprintf(b, sizeof(b), "%d", i);
    cr_assert_eq(asx_nats_publish(cx, c, "firehose", NULL, NULL, b, strlen(b)), 0);
  }
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0); /* every message was read by now */
  asx_nats_sub_stats st;
  asx_nats_sub_stats_get(sn, &st);
  cr_expect_eq(st.received, 10);
  cr_expect_eq(st.dropped, 6);
  cr_expect_eq(st.pending, 4);
  asx_nats_sub_stats_get(so, &st);
  cr_expect_eq(st.dropped, 6);
  cr_expect_eq(st.pending, 4);
  for (int i = 0; i < 4; i++) {
    asx_nats_msg *m;
    char want[4];
    cr_assert_eq(asx_nats_sub_next(cx, sn, &m), 0);
    snprintf(want, sizeof(want), "%d", i); /* newest dropped: the first four stay */
    cr_expect_str_eq((const char *)m->data, want);
    asx_nats_msg_free(m);
    cr_assert_eq(asx_nats_sub_next(cx, so, &m), 0);
    snprintf(want, sizeof(want), "%d", 6 + i); /* oldest dropped: the last four stay */
    cr_expect_str_eq((const char *)m->data, want);
    asx_nats_msg_free(m);
  }
  asx_nats_client_stats cs;
  asx_nats_client_stats_get(c, &cs);
  cr_expect_eq(cs.dropped, 12);
  asx_nats_sub_free(sn);
  asx_nats_sub_free(so);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client, slow_consumer_policies) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, slow_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- UNSUB with a limit ---- */

static int unsub_max_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "lim", NULL, NULL, &s), 0);
  cr_assert_eq(asx_nats_unsubscribe(cx, s, 3), 0);
  for (int i = 0; i < 6; i++) cr_assert_eq(asx_nats_publish(cx, c, "lim", NULL, NULL, "x", 1), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  for (int i = 0; i < 3; i++) {
    asx_nats_msg *m;
    cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
    asx_nats_msg_free(m);
  }
  asx_nats_msg *m;
  cr_expect_eq(asx_nats_sub_next(cx, s, &m), ASX_ECLOSED);
  asx_nats_sub_stats st;
  asx_nats_sub_stats_get(s, &st);
  cr_expect_eq(st.received, 3); /* the server stopped at 3 */
  asx_nats_sub_free(s);
  asx_nats_client_close(cx, c);
  return 0;
}

Test(nats_client, unsubscribe_after_max_msgs) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, unsub_max_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- drain ---- */

static int consumer(asx_cx *cx, void *arg) {
  env *e = arg;
  for (;;) {
    asx_nats_msg *m;
    int rc = asx_nats_sub_next(cx, e->sub, &m);
    if (rc == ASX_ECLOSED) return 0;
    if (rc) return rc;
    e->count++;
    asx_nats_msg_free(m);
    asx_yield(cx); /* a slowish consumer: messages pile up in the channel */
  }
}

static int drain_main(asx_cx *cx, void *arg) {
  env *e = arg;
  asx_nats_client *c = ncl_connect(cx, &e->srv);
  asx_nats_client *pub = ncl_connect(cx, &e->srv);
  cr_assert_eq(asx_nats_subscribe(cx, c, "d", NULL, NULL, &e->sub), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, consumer, e, NULL, &t), 0);
  for (int i = 0; i < 300; i++) cr_assert_eq(asx_nats_publish(cx, pub, "d", NULL, NULL, "m", 1), 0);
  cr_assert_eq(asx_nats_flush(cx, pub, 2000 * MS), 0); /* the server has routed all 300 */
  cr_expect_eq(asx_nats_client_drain(cx, c, 2000 * MS), 0);
  int rc = -1;
  cr_assert_eq(asx_task_join(cx, t, &rc, NULL), 0);
  cr_expect_eq(rc, 0);
  cr_expect_eq(e->count, 300); /* nothing lost by draining */
  asx_nats_sub_free(e->sub);
  asx_nats_client_close(cx, pub);
  return 0;
}

Test(nats_client, drain_delivers_everything_then_ends_consumers) {
  env e = {0};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, drain_main, &e), 0);
  ncl_stop(&e.srv);
}

/* ---- handler tasks: drain lets them finish, close cancels them ---- */

typedef struct handler_env {
  nt_peer srv;
  _Atomic int seen; /* written by the handler task, read by main */
  _Atomic int cancelled;
  bool block;
} handler_env;

static int count_msg(asx_cx *cx, asx_nats_msg *m, void *ud) {
  handler_env *h = ud;
  bool stop = m->len == 4 && memcmp(m->data, "stop", 4) == 0;
  asx_nats_msg_free(m);
  h->seen++;
  if (h->block && asx_sleep(cx, 10000 * MS) == ASX_ECANCELED) h->cancelled++;
  asx_yield(cx); /* slower than the reader: messages queue up */
  return stop ? -1 : 0;
}

static int handler_main(asx_cx *cx, void *arg) {
  handler_env *h = arg;
  asx_nats_client *pub = ncl_connect(cx, &h->srv);
  /* 1. drain: the handler finishes all 100 queued messages, then ends */
  asx_nats_client *c = ncl_connect(cx, &h->srv);
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe_handler(cx, c, "h", NULL, NULL, count_msg, h, &s), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  for (int i = 0; i < 100; i++) cr_assert_eq(asx_nats_publish(cx, pub, "h", NULL, NULL, "m", 1), 0);
  cr_assert_eq(asx_nats_flush(cx, pub, 2000 * MS), 0);
  cr_expect_eq(asx_nats_client_drain(cx, c, 2000 * MS), 0);
  cr_expect_eq(h->seen, 100);
  asx_nats_sub_free(s);
  /* 2. a negative return unsubscribes: later messages are not handled */
  h->seen = 0;
  c = ncl_connect(cx, &h->srv);
  cr_assert_eq(asx_nats_subscribe_handler(cx, c, "h", NULL, NULL, count_msg, h, &s), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  cr_assert_eq(asx_nats_publish(cx, pub, "h", NULL, NULL, "stop", 4), 0);
  cr_assert_eq(asx_nats_flush(cx, pub, 2000 * MS), 0);
  while (h->seen < 1) asx_sleep(cx, 1 * MS);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0); /* the UNSUB reached the server */
  for (int i = 0; i < 5; i++) cr_assert_eq(asx_nats_publish(cx, pub, "h", NULL, NULL, "m", 1), 0);
  cr_assert_eq(asx_nats_flush(cx, pub, 2000 * MS), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  cr_expect_eq(h->seen, 1);
  asx_nats_client_close(cx, c);
  asx_nats_sub_free(s);
  /* 3. close cancels a handler stuck in a long call */
  h->seen = 0;
  h->block = true;
  c = ncl_connect(cx, &h->srv);
  cr_assert_eq(asx_nats_subscribe_handler(cx, c, "h", NULL, NULL, count_msg, h, &s), 0);
  cr_assert_eq(asx_nats_flush(cx, c, 2000 * MS), 0);
  cr_assert_eq(asx_nats_publish(cx, pub, "h", NULL, NULL, "m", 1), 0);
  while (h->seen < 1) asx_sleep(cx, 1 * MS);
  uint64_t t0 = asx_now(cx);
  asx_nats_client_close(cx, c);
  cr_expect_lt(asx_now(cx) - t0, 5000 * MS); /* not the handler's 10 s */
  cr_expect_eq(h->cancelled, 1);
  asx_nats_sub_free(s);
  asx_nats_client_close(cx, pub);
  return 0;
}

Test(nats_client, handler_tasks_drain_and_close) {
  handler_env h = {0};
  ncl_start(&h.srv);
  cr_expect_eq(ncl_run(2, handler_main, &h), 0);
  ncl_stop(&h.srv);
}

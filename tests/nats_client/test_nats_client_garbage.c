/* Robustness: the NATS client against a simulated server that answers with generated streams
 * (INFO, PING/PONG, +OK/-ERR, MSG/HMSG for our sid, random bytes, truncation), on the
 * deterministic driver. Every call must end with a result or an error (no hang, no crash), and
 * every run must end with no live task or obligation and no leaked memory. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ncl_util.h"
#include "test_alloc.h"

TestSuite(nats_client_garbage, .timeout = 120);

typedef struct g_env {
  uint64_t seed;
  asx_stream *srv;
  asx_buf script;
  test_alloc ta;
  int msgs, errors;
} g_env;

static const char *const pieces[] = {
    "PING\r\n", "PONG\r\n", "+OK\r\n", "-ERR 'Unknown Protocol Operation'\r\n",
    "MSG a 1 3\r\nabc\r\n", "MSG a 1 r.x 1\r\nx\r\n", "MSG a 9 1\r\nx\r\n",
    "HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "HMSG a 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
    "INFO {\"server_id\":\"y\"}\r\n", "MSG a 1 99999999\r\n", "MSG\r\n", "PING", "\r\n",
    "HMSG a 1 5 3\r\n", "\xff\x00"};

static uint64_t next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void make_script(g_env *e) {
  uint64_t s = e->seed * 0x9E3779B97F4A7C15ull + 7;
  asx_buf_init(&e->script, NULL, 0);
  if (next(&s) % 10 != 0) /* usually a proper greeting: INFO, and the PONG for CONNECT's PING */
    asx_buf_append_str(&e->script, "INFO {\"server_id\":\"g\",\"headers\":true,\"max_payload\":1024}\r\n"
                                   "PONG\r\n");
  int n = (int)(next(&s) % 12);
  for (int i = 0; i < n; i++) {
    if (next(&s) % 8 == 0) {
      uint8_t b = (uint8_t)next(&s);
      asx_buf_append(&e->script, &b, 1);
    } else {
      asx_buf_append_str(&e->script, pieces[next(&s) % (sizeof(pieces) / sizeof(pieces[0]))]);
    }
  }
  if (next(&s) % 3 == 0 && e->script.len) e->script.len -= next(&s) % e->script.len;
}

static int server(asx_cx *cx, void *arg) {
  g_env *e = arg;
  asx_stream_write_all(cx, e->srv, e->script.data, e->script.len, NULL);
  asx_stream_shutdown(cx, e->srv);
  uint8_t buf[256];
  size_t n;
  while (asx_stream_read(cx, e->srv, buf, sizeof(buf), &n) == 0) {
  }
  return 0;
}

static bool allowed(int rc) {
  return rc == 0 || rc == ASX_EPROTO || rc == ASX_ELIMIT || rc == ASX_ECLOSED ||
         rc == ASX_ECONNRESET || rc == ASX_EPIPE || rc == ASX_ENOMEM || rc == ASX_EUNSUPPORTED ||
         rc == ASX_ENOTFOUND;
}

static int g_main(asx_cx *cx, void *arg) {
  g_env *e = arg;
  asx_sim_opts so;
  asx_sim_opts_default(&so);
  so.max_segment = 5;
  so.partial_permille = 200;
  asx_stream *a = NULL;
  cr_assert_eq(asx_sim_pair(cx, &so, &a, &e->srv), 0);
  asx_task *st;
  cr_assert_eq(asx_spawn(cx, NULL, server, e, NULL, &st), 0);
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.ping_interval_ns = 0;
  o.alloc = &e->ta.base;
  asx_nats_client *c = NULL;
  int rc = asx_nats_client_attach(cx, a, &o, &c, NULL, 0);
  cr_assert(allowed(rc), "seed %llu attach: %s", (unsigned long long)e->seed, asx_strerror(rc));
  if (rc == 0) {
    asx_nats_sub *s = NULL;
    rc = asx_nats_subscribe(cx, c, "a", NULL, NULL, &s);
    cr_expect(allowed(rc), "subscribe: %s", asx_strerror(rc));
    rc = asx_nats_publish(cx, c, "a", NULL, NULL, "p", 1);
    cr_expect(allowed(rc), "publish: %s", asx_strerror(rc));
    asx_nats_msg *m = NULL;
    rc = asx_nats_request(cx, c, "svc", NULL, "q", 1, 0, &m);
    cr_expect(allowed(rc), "request: %s", asx_strerror(rc));
    asx_nats_msg_free(m);
    rc = asx_nats_flush(cx, c, 0);
    cr_expect(allowed(rc), "flush: %s", asx_strerror(rc));
    while (s && (rc = asx_nats_sub_next(cx, s, &m)) == 0) {
      e->msgs++;
      asx_nats_msg_free(m);
      if (e->msgs > 100) break;
    }
    if (rc == ASX_EPROTO) e->errors++;
    asx_nats_client_close(cx, c);
    asx_nats_sub_free(s);
  }
  asx_task_join(cx, st, NULL, NULL);
  asx_stream_close(e->srv);
  return 0;
}

Test(nats_client_garbage, generated_server_streams) {
  int msgs = 0;
  for (uint64_t seed = 1; seed <= 400; seed++) {
    g_env e = {.seed = seed};
    test_alloc_init(&e.ta);
    if (seed % 5 == 0) test_alloc_fail_after(&e.ta, (long)(seed % 31));
    make_script(&e);
    asx_runtime_config cfg;
    asx_runtime_config_default(&cfg);
    cfg.driver = ASX_DRIVER_DETERMINISTIC;
    cfg.seed = seed;
    asx_runtime *rt = NULL;
    cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
    int rc = -1;
    cr_assert_eq(asx_runtime_run(rt, g_main, &e, &rc, NULL), 0, "seed %llu", (unsigned long long)seed);
    asx_runtime_stats st;
    asx_runtime_stats_get(rt, &st);
    cr_assert_eq(st.live_tasks, 0, "seed %llu", (unsigned long long)seed);
    cr_assert_eq(st.unresolved_obligations, 0, "seed %llu", (unsigned long long)seed);
    cr_assert_eq(st.obligation_leaks, 0, "seed %llu", (unsigned long long)seed);
    cr_assert_eq(st.deadlocks, 0, "seed %llu: a caller was never released", (unsigned long long)seed);
    asx_runtime_free(rt);
    cr_assert_eq(e.ta.live, 0, "seed %llu: %ld blocks leaked", (unsigned long long)seed, e.ta.live);
    msgs += e.msgs;
    asx_buf_free(&e.script);
  }
  cr_expect_gt(msgs, 50, "messages delivered: %d", msgs); /* the generator reaches delivery */
}

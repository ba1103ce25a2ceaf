/* Robustness: the Redis client against a simulated server that answers with generated streams
 * (valid RESP2/RESP3 pieces, pushes, pub/sub confirmations, random bytes, truncation), on the
 * deterministic driver. Every command must end with a reply or an error (no hang, no crash),
 * and every run must end with no live task, region or obligation and no leaked memory. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rcl_util.h"
#include "test_alloc.h"

TestSuite(redis_client_garbage, .timeout = 120);

typedef struct g_env {
  uint64_t seed;
  asx_stream *srv;
  asx_buf script;
  int outcomes[5];
  test_alloc ta;
} g_env;

static const char *const pieces[] = {
    "+OK\r\n", ":1\r\n", "$3\r\nabc\r\n", "-ERR x\r\n", "_\r\n", "*2\r\n:1\r\n:2\r\n",
    "%1\r\n+a\r\n+b\r\n", ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
    ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n", ">1\r\n:5\r\n", ">0\r\n", "|1\r\n+k\r\n+v\r\n",
    "$-1\r\n", "*-1\r\n", "!3\r\nbad\r\n", "=7\r\ntxt:abc\r\n", "#t\r\n", ",1.5\r\n",
    "$999999999999\r\n", "*3\r\n", "+\r", "\r\n", "\x00\xff", "(123\r\n", ">2\r\n*1\r\n"};

static uint64_t next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void make_script(g_env *e) {
  uint64_t s = e->seed * 0x9E3779B97F4A7C15ull + 1;
  asx_buf_init(&e->script, NULL, 0);
  int n = (int)(next(&s) % 12);
  for (int i = 0; i < n; i++) {
    if (next(&s) % 8 == 0) {
      uint8_t b = (uint8_t)next(&s);
      asx_buf_append(&e->script, &b, 1);
    } else {
      asx_buf_append_str(&e->script, pieces[next(&s) % (sizeof(pieces) / sizeof(pieces[0]))]);
    }
  }
  if (next(&s) % 3 == 0 && e->script.len) e->script.len -= next(&s) % e->script.len; /* cut */
}

static int server(asx_cx *cx, void *arg) {
  g_env *e = arg;
  asx_stream_write_all(cx, e->srv, e->script.data, e->script.len, NULL);
  asx_stream_shutdown(cx, e->srv); /* EOF after the script: every waiter must be released */
  uint8_t buf[256];
  size_t n;
  while (asx_stream_read(cx, e->srv, buf, sizeof(buf), &n) == 0) {
  }
  return 0;
}

typedef struct caller_arg {
  g_env *e;
  asx_redis_client *c;
  int i;
} caller_arg;

static int caller(asx_cx *cx, void *arg) {
  caller_arg *a = arg;
  const char *argv[2] = {a->i == 2 ? "SUBSCRIBE" : "GET", "c"};
  asx_redis_reply *r = NULL;
  int rc = asx_redis_client_command(cx, a->c, 2, argv, NULL, &r);
  if (rc == 0 && !r) rc = ASX_ECORRUPT;
  asx_redis_reply_free(r);
  a->e->outcomes[a->i] = rc;
  return 0;
}

static bool allowed(int rc) {
  return rc == 0 || rc == ASX_EPROTO || rc == ASX_ELIMIT || rc == ASX_ECLOSED ||
         rc == ASX_ECONNRESET || rc == ASX_EPIPE || rc == ASX_EUNSUPPORTED || rc == ASX_ENOMEM;
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
  asx_redis_client_opts o;
  asx_redis_client_opts_default(&o);
  o.resp = e->seed % 2 ? 3 : 2;
  o.push_queue = 2;
  o.alloc = &e->ta.base;
  asx_redis_client *c = NULL;
  int rc = asx_redis_client_attach(cx, a, &o, &c, NULL, 0);
  cr_assert(allowed(rc) || rc == ASX_ETIMEDOUT, "seed %llu attach: %s", (unsigned long long)e->seed,
            asx_strerror(rc));
  if (rc == 0) {
    caller_arg args[5];
    asx_task *h[5];
    for (int i = 0; i < 5; i++) {
      args[i] = (caller_arg){e, c, i};
      cr_assert_eq(asx_spawn(cx, NULL, caller, &args[i], NULL, &h[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
      asx_task_join(cx, h[i], NULL, NULL);
      cr_expect(allowed(e->outcomes[i]), "seed %llu caller %d: %s", (unsigned long long)e->seed, i,
                asx_strerror(e->outcomes[i]));
    }
    asx_redis_client_close(cx, c);
  }
  asx_task_join(cx, st, NULL, NULL);
  asx_stream_close(e->srv);
  return 0;
}

Test(redis_client_garbage, generated_server_streams) {
  int replies = 0, protos = 0;
  for (uint64_t seed = 1; seed <= 400; seed++) {
    g_env e = {.seed = seed};
    test_alloc_init(&e.ta);
    if (seed % 5 == 0) test_alloc_fail_after(&e.ta, (long)(seed % 37)); /* and allocation failure */
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
    for (int i = 0; i < 5; i++) {
      if (e.outcomes[i] == 0) replies++;
      else if (e.outcomes[i] == ASX_EPROTO) protos++;
    }
    asx_buf_free(&e.script);
  }
  /* The generator must exercise both sides: commands answered and streams rejected. */
  cr_expect_gt(replies, 50, "replies %d", replies);
  cr_expect_gt(protos, 50, "protocol errors %d", protos);
}

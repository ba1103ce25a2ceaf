/* The Redis client on the deterministic driver over simulated streams (delays, partial reads and
 * writes drawn from the seeded PRNG) against a tiny in-process server built from the codec's
 * command decoder: 20 tasks x 10 INCR give exactly 200, a cancelled caller does not desync, and
 * the same seed replays the same schedule. No socket is used. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rcl_util.h"

TestSuite(redis_client_sim, .timeout = 60);

typedef struct sim_env {
  asx_stream *server_side;
  asx_redis_client *c;
  int64_t counter;
  int server_rc;
  asx_task *server;
} sim_env;

/* INCR key, GET key, PING, BLOCK (replies after 5 ms of virtual time); anything else: -ERR. */
static int sim_server(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  asx_redis_cmd_decoder *d = NULL;
  int rc = asx_redis_cmd_decoder_new(&d, NULL, NULL);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  uint8_t buf[256];
  while (rc == 0) {
    size_t n = 0;
    rc = asx_stream_read(cx, e->server_side, buf, sizeof(buf), &n);
    const uint8_t *p = buf;
    while (rc == 0 && n > 0) {
      size_t used = 0;
      const asx_redis_command *cmd = NULL;
      int f = asx_redis_cmd_decoder_feed(d, p, n, &used, &cmd);
      p += used;
      n -= used;
      if (f == ASX_EAGAIN) break;
      if (f) {
        rc = f;
        break;
      }
      if (asx_slice_eq_nocase(cmd->argv[0], "INCR"))
        asx_redis_write_integer(&out, ++e->counter);
      else if (asx_slice_eq_nocase(cmd->argv[0], "GET"))
        asx_redis_write_integer(&out, e->counter);
      else if (asx_slice_eq_nocase(cmd->argv[0], "PING"))
        asx_redis_write_simple(&out, "PONG", 4);
      else if (asx_slice_eq_nocase(cmd->argv[0], "BLOCK")) {
        asx_sleep(cx, 5 * MS);
        asx_redis_write_null(&out);
      } else
        asx_redis_write_error(&out, "ERR unknown", 11);
    }
    if (rc == 0 && out.len) {
      rc = asx_stream_write_all(cx, e->server_side, out.data, out.len, NULL);
      asx_buf_reset(&out);
    }
  }
  asx_buf_free(&out);
  asx_redis_cmd_decoder_free(d);
  return rc == ASX_ECLOSED || rc == ASX_ECONNRESET || rc == ASX_EPIPE ? 0 : rc;
}

static int incr_task(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  for (int i = 0; i < 10; i++) {
    const char *argv[2] = {"INCR", "k"};
    asx_redis_reply *r = NULL;
    int rc = asx_redis_client_command(cx, e->c, 2, argv, NULL, &r);
    if (rc) return rc;
    bool ok = r->type == ASX_REDIS_INTEGER;
    asx_redis_reply_free(r);
    if (!ok) return ASX_EPROTO;
  }
  return 0;
}

static int block_task(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  const char *argv[1] = {"BLOCK"};
  asx_redis_reply *r = NULL;
  int rc = asx_redis_client_command(cx, e->c, 1, argv, NULL, &r);
  asx_redis_reply_free(r);
  return rc;
}

static int sim_main(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  asx_sim_opts so;
  asx_sim_opts_default(&so);
  so.max_segment = 7;            /* replies and commands cut into small pieces */
  so.max_delay_ns = 200 * 1000;  /* up to 200 us per piece (virtual time) */
  so.partial_permille = 300;
  asx_stream *a = NULL;
  cr_assert_eq(asx_sim_pair(cx, &so, &a, &e->server_side), 0);
  cr_assert_eq(asx_spawn(cx, NULL, sim_server, e, NULL, &e->server), 0);
  asx_redis_client_opts o;
  asx_redis_client_opts_default(&o);
  o.max_inflight = 8;
  char err[128];
  cr_assert_eq(asx_redis_client_attach(cx, a, &o, &e->c, err, sizeof(err)), 0, "%s", err);
  asx_task *h[20];
  for (int i = 0; i < 20; i++) cr_assert_eq(asx_spawn(cx, NULL, incr_task, e, NULL, &h[i]), 0);
  /* A caller cancelled while its BLOCK is in flight: the others must still get their replies. */
  asx_task *b;
  cr_assert_eq(asx_spawn(cx, NULL, block_task, e, NULL, &b), 0);
  asx_sleep(cx, 1 * MS);
  asx_task_cancel(b, ASX_CANCEL_USER);
  int rc = 0;
  asx_task_join(cx, b, &rc, NULL);
  cr_expect(rc == ASX_ECANCELED || rc == 0, "%s", asx_strerror(rc));
  for (int i = 0; i < 20; i++) {
    asx_task_join(cx, h[i], &rc, NULL);
    cr_expect_eq(rc, 0, "task %d: %s", i, asx_strerror(rc));
  }
  const char *get[2] = {"GET", "k"};
  asx_redis_reply *r = NULL;
  cr_assert_eq(asx_redis_client_command(cx, e->c, 2, get, NULL, &r), 0);
  cr_expect_eq(r->integer, 200);
  asx_redis_reply_free(r);
  asx_redis_client_close(cx, e->c);
  asx_task_join(cx, e->server, &e->server_rc, NULL);
  asx_stream_close(e->server_side);
  return 0;
}

/* Runs the scenario with `seed`; returns the recorded choices (caller frees) and their count. */
static asx_choice *run_seed(uint64_t seed, size_t *n) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.driver = ASX_DRIVER_DETERMINISTIC;
  cfg.seed = seed;
  cfg.record_choices = 1;
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  sim_env e = {0};
  int rc = -1;
  cr_assert_eq(asx_runtime_run(rt, sim_main, &e, &rc, NULL), 0);
  cr_expect_eq(rc, 0);
  cr_expect_eq(e.server_rc, 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_expect_eq(st.live_tasks, 0);
  cr_expect_eq(st.live_regions, 0);
  cr_expect_eq(st.unresolved_obligations, 0);
  cr_expect_eq(st.obligation_leaks, 0);
  cr_expect_eq(st.deadlocks, 0);
  const asx_choice *ch = asx_runtime_choices(rt, n);
  asx_choice *copy = malloc((*n ? *n : 1) * sizeof(*copy));
  if (*n) memcpy(copy, ch, *n * sizeof(*copy));
  asx_runtime_free(rt);
  return copy;
}

Test(redis_client_sim, deterministic_pipelining_over_simulated_stream) {
  size_t n1 = 0, n2 = 0, n3 = 0;
  asx_choice *a = run_seed(7, &n1);
  asx_choice *b = run_seed(7, &n2);
  asx_choice *c = run_seed(8, &n3);
  cr_expect_gt(n1, 100);
  cr_expect_eq(n1, n2);
  cr_expect(n1 == n2 && memcmp(a, b, n1 * sizeof(*a)) == 0, "same seed, same schedule");
  cr_expect(n1 != n3 || memcmp(a, c, n1 * sizeof(*a)) != 0, "another seed, another schedule");
  free(a);
  free(b);
  free(c);
}

/* The WebSocket client glue against the server glue on a simulated stream pair under the
 * deterministic driver (small segments, delays, partial I/O): for every seed the handshake
 * completes and three messages (text, a 20 KB binary, an empty text) come back intact, with
 * nothing left alive; the same seed twice gives the same schedule, another seed a different one. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "asx/websocket_client.h"
#include "ws_testsrv.h"

#define MS 1000000ull

static asx_ws_server_config ws_cfg;
static asx_http1_server_config h1_cfg;

typedef struct run {
  uint64_t seed;
  asx_stream *a, *b;
  int client_rc, echoes;
} run;

static int route(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest, size_t n, void *ud) {
  return asx_ws_server_hook(cx, s, req, rest, n, ud);
}

static int srv(asx_cx *cx, void *arg) {
  run *r = arg;
  asx_http1_serve(cx, r->b, &h1_cfg, NULL, 0);
  asx_stream_close(r->b);
  return 0;
}

static int talk(asx_cx *cx, asx_ws_conn *ws, void *ud) {
  run *r = ud;
  static uint8_t big[20000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 31);
  const struct { asx_ws_msg_type t; const void *p; size_t n; } m[] = {
      {ASX_WS_TEXT, "hi", 2}, {ASX_WS_BINARY, big, sizeof big}, {ASX_WS_TEXT, "", 0}};
  for (int i = 0; i < 3; i++) {
    int rc = asx_ws_conn_send(cx, ws, m[i].t, m[i].p, m[i].n);
    asx_ws_msg_type t;
    const uint8_t *d;
    size_t n;
    if (rc == 0) rc = asx_ws_conn_recv(cx, ws, &t, &d, &n);
    if (rc) return rc;
    if (t == m[i].t && n == m[i].n && (n == 0 || memcmp(d, m[i].p, n) == 0)) r->echoes++;
  }
  return 0; /* the glue closes with 1000 and waits for the server's close */
}

static int cli(asx_cx *cx, void *arg) {
  run *r = arg;
  asx_ws_client_opts o;
  asx_ws_client_opts_default(&o);
  o.host = "sim";
  o.path = "/chat";
  r->client_rc = asx_ws_client_run(cx, r->a, &o, talk, r, NULL, 0);
  asx_stream_close(r->a);
  return 0;
}

static int sim_main(asx_cx *cx, void *arg) {
  run *r = arg;
  ws_sim_pair(cx, 13, 4096, &r->a, &r->b);
  asx_region *g = NULL;
  cr_assert_eq(asx_region_open(cx, NULL, &g), 0);
  asx_spawn(cx, g, srv, r, NULL, NULL);
  asx_spawn(cx, g, cli, r, NULL, NULL);
  asx_region_close(cx, g, NULL);
  return 0;
}

static asx_choice *run_one(run *r, size_t *n) { return ws_sim_run(r->seed, sim_main, r, true, n); }

static void setup(void) {
  asx_ws_server_config_default(&ws_cfg);
  ws_cfg.handler = asx_ws_echo_handler;
  ws_cfg.limits.close_timeout_ns = 200 * MS;
  asx_http1_server_config_default(&h1_cfg);
  h1_cfg.upgrade = route;
  h1_cfg.upgrade_ud = &ws_cfg;
}

TestSuite(websocket_client_sim, .init = setup, .timeout = 120);

Test(websocket_client_sim, every_seed_completes_and_replays) {
  for (uint64_t seed = 1; seed <= 25; seed++) {
    run r = {.seed = seed};
    size_t n;
    free(run_one(&r, &n));
    cr_assert_eq(r.client_rc, 0, "seed %llu: %s", (unsigned long long)seed, asx_strerror(r.client_rc));
    cr_assert_eq(r.echoes, 3, "seed %llu", (unsigned long long)seed);
  }
  run a = {.seed = 7}, b = {.seed = 7}, c = {.seed = 8};
  size_t na, nb, nc;
  asx_choice *ca = run_one(&a, &na), *cb = run_one(&b, &nb), *cc = run_one(&c, &nc);
  cr_assert_eq(na, nb);
  cr_assert_eq(memcmp(ca, cb, na * sizeof(*ca)), 0, "seed 7 twice: different schedules");
  cr_assert(na != nc || memcmp(ca, cc, na * sizeof(*ca)) != 0, "seeds 7 and 8: the same schedule");
  free(ca);
  free(cb);
  free(cc);
}

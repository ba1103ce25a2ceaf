#include "ws_testsrv.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

int ws_testsrv_http_handler(asx_cx *cx, asx_http1_req *req, asx_http1_resp *resp, void *ud) {
  (void)req, (void)ud;
  return asx_http1_resp_send(cx, resp, "plain\n", 6);
}

int ws_testsrv_route(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                         size_t rest_len, void *ud) {
  if (!req || !asx_slice_eq(asx_http1_req_path(req), "/ws")) return ASX_HTTP1_DECLINE;
  return asx_ws_server_hook(cx, s, req, rest, rest_len, ud);
}

void ws_testsrv_start(ws_testsrv *w, bool deflate, size_t max_message, asx_ws_handler_fn handler,
                      uint64_t close_timeout) {
  if (w->ts.running) testsrv_stop(&w->ts);
  memset(&w->ts, 0, sizeof w->ts);
  asx_ws_server_config_default(&w->ws);
  w->ws.handler = handler ? handler : asx_ws_echo_handler;
  if (close_timeout) w->ws.limits.close_timeout_ns = close_timeout;
  memset(&w->deflate_policy, 0, sizeof w->deflate_policy);
  if (deflate) w->ws.policy.deflate = &w->deflate_policy;
  if (max_message) w->ws.limits.max_message = max_message;
  asx_http1_server_config_default(&w->http);
  w->http.handler = ws_testsrv_http_handler;
  w->http.upgrade = ws_testsrv_route;
  w->http.upgrade_ud = &w->ws;
  testsrv_start(&w->ts, asx_http1_conn_fn, &w->http);
}

void ws_sim_pair(asx_cx *cx, size_t max_segment, size_t capacity, asx_stream **a, asx_stream **b) {
  asx_sim_opts o;
  asx_sim_opts_default(&o);
  o.max_segment = max_segment;
  o.max_delay_ns = 3000000ull;
  o.partial_permille = 250;
  o.capacity = capacity;
  cr_assert_eq(asx_sim_pair(cx, &o, a, b), 0);
}

asx_choice *ws_sim_run(uint64_t seed, asx_task_fn fn, void *arg, bool record, size_t *n) {
  asx_runtime_config rc;
  asx_runtime_config_default(&rc);
  rc.driver = ASX_DRIVER_DETERMINISTIC;
  rc.seed = seed;
  rc.record_choices = record;
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&rc, &rt), 0);
  cr_assert_eq(asx_runtime_run(rt, fn, arg, NULL, NULL), 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_assert_eq(st.deadlocks, 0, "seed %llu deadlocked", (unsigned long long)seed);
  cr_assert_eq(st.live_tasks, 0);
  cr_assert_eq(st.live_regions, 0);
  cr_assert_eq(st.unresolved_obligations, 0);
  asx_choice *copy = NULL;
  *n = 0;
  if (record) {
    const asx_choice *ch = asx_runtime_choices(rt, n);
    copy = malloc(*n * sizeof(*ch) + 1);
    if (*n) memcpy(copy, ch, *n * sizeof(*ch));
  }
  asx_runtime_free(rt);
  return copy;
}

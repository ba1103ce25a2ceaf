#include "ws_testsrv.h"

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

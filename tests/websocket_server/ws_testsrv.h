/* The WebSocket test server shared by the server and client suites: the asx HTTP/1.1 server with
 * the WebSocket hook on /ws (everything else gets a plain "plain\n" 200). */
#ifndef ASX_WS_TESTSRV_H
#define ASX_WS_TESTSRV_H

#include "asx/websocket_server.h"
#include "srv_util.h"

/* Everything one running server needs; must outlive it. */
typedef struct ws_testsrv {
  testsrv ts;
  asx_ws_server_config ws;
  asx_http1_server_config http;
  asx_ws_deflate_offer deflate_policy;
} ws_testsrv;

/* The HTTP handler ("plain\n") and the upgrade hook (WebSocket on /ws, ud = the ws config). */
int ws_testsrv_http_handler(asx_cx *cx, asx_http1_req *req, asx_http1_resp *resp, void *ud);
int ws_testsrv_route(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                     size_t rest_len, void *ud);

/* Starts it (stopping it first when running): permessage-deflate accepted when `deflate`;
 * max_message / close_timeout 0 = defaults; handler NULL = the echo handler. */
void ws_testsrv_start(ws_testsrv *w, bool deflate, size_t max_message, asx_ws_handler_fn handler,
                      uint64_t close_timeout);

/* Lab helpers for the sim suites. A simulated pair with small segments (max_segment), random
 * delays up to 3 ms and 25 % partial reads/writes. */
void ws_sim_pair(asx_cx *cx, size_t max_segment, size_t capacity, asx_stream **a, asx_stream **b);
/* Runs fn(arg) on a DETERMINISTIC runtime with `seed`; asserts no deadlock and nothing left
 * alive. With `record`, returns the choice sequence (malloc'd; *n entries), else NULL. */
asx_choice *ws_sim_run(uint64_t seed, asx_task_fn fn, void *arg, bool record, size_t *n);

#endif

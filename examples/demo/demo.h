/* asx-demo: one listener serving HTTP/1.1, HTTP/2 (h2c Upgrade, prior knowledge, TLS ALPN h2),
 * a WebSocket echo at /ws and a gRPC echo service, with graceful shutdown on SIGINT/SIGTERM. */
#ifndef ASX_DEMO_H
#define ASX_DEMO_H

#include "asx/grpc_server.h"
#include "asx/http1_server.h"
#include "asx/http2_server.h"
#include "asx/websocket_server.h"

/* Everything a connection needs; built once in main and read by every connection task. */
typedef struct demo_ctx {
  asx_http1_server_config h1;
  asx_ws_server_config ws;
  asx_http2_server_config h2;
  asx_grpc_server *grpc;  /* the echo service at /asx.demo.Echo/ */
  asx_grpc_health *health; /* grpc.health.v1.Health ("" = SERVING) */
  bool tls;
} demo_ctx;

/* Fills the server configs with the demo's handlers and creates the gRPC server (ctx must outlive
 * the server). 0 or ASX_ENOMEM. */
int demo_ctx_init(demo_ctx *ctx);
/* Frees what demo_ctx_init created. */
void demo_ctx_free(demo_ctx *ctx);
/* The net asx_conn_fn: TLS with ALPN h2 goes to HTTP/2, everything else starts as HTTP/1.1
 * (which hands the prior-knowledge preface, h2c and WebSocket upgrades on). arg = demo_ctx. */
int demo_conn_fn(asx_cx *cx, asx_stream *s, void *arg);

/* demo_h2c.c: answers an `Upgrade: h2c` request with 101 and continues as HTTP/2. Declines
 * (ASX_HTTP1_DECLINE) a request without exactly one HTTP2-Settings field. */
int demo_h2c_upgrade(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                     size_t rest_len, const asx_http2_server_config *h2);

#endif

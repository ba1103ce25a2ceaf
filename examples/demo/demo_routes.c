/* The demo's endpoints, once per protocol: GET / (a page listing the endpoints), /echo (the
 * request body back), /ws (WebSocket echo, HTTP/1.1 only), gRPC echo (HTTP/2 only); and the
 * per-connection protocol choice. */
#include <string.h>

#include "demo.h"

static const char index_page[] =
    "asx-demo: one port, several protocols\n"
    "\n"
    "  GET  /        this page (HTTP/1.1, h2c upgrade, HTTP/2 prior knowledge, h2 over TLS)\n"
    "  ANY  /echo    the request body back\n"
    "  WS   /ws      WebSocket echo (RFC 6455, permessage-deflate)\n"
    "  gRPC /asx.demo.Echo/Unary, /ServerStream, /ClientStream, /Bidi   echo (HTTP/2)\n";

#define ECHO_MAX (16u << 20)

static int h1_handler(asx_cx *cx, asx_http1_req *req, asx_http1_resp *resp, void *ud) {
  (void)ud;
  asx_slice path = asx_http1_req_path(req);
  asx_http1_resp_header(resp, "Content-Type", "text/plain; charset=utf-8");
  if (asx_slice_eq(path, "/")) return asx_http1_resp_send(cx, resp, index_page, sizeof index_page - 1);
  if (asx_slice_eq(path, "/echo")) {
    /* Stream the body back as it arrives: a chunked response of the same bytes. */
    uint8_t buf[16384];
    bool started = false;
    for (;;) {
      size_t n = 0;
      int rc = asx_http1_req_read(cx, req, buf, sizeof buf, &n);
      if (rc) return rc; /* unstarted: the server answers body errors (413, 400) itself */
      if (n == 0) break;
      if (!started) {
        rc = asx_http1_resp_start(cx, resp, -1);
        if (rc) return rc;
        started = true;
      }
      rc = asx_http1_resp_write(cx, resp, buf, n);
      if (rc) return rc;
    }
    if (!started) return asx_http1_resp_send(cx, resp, "", 0);
    return asx_http1_resp_finish(cx, resp, NULL, 0);
  }
  asx_http1_resp_status(resp, 404);
  return asx_http1_resp_send(cx, resp, "not found\n", 10);
}

static int upgrade_router(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                          size_t rest_len, void *ud) {
  demo_ctx *ctx = ud;
  if (!req) return asx_http2_serve(cx, s, &ctx->h2, rest, rest_len); /* prior knowledge */
  asx_http1_upgrade_proto proto = asx_http1_req_upgrade(req);
  if (proto == ASX_HTTP1_PROTO_WEBSOCKET && asx_slice_eq(asx_http1_req_path(req), "/ws"))
    return asx_ws_server_upgrade(cx, s, req, rest, rest_len, &ctx->ws);
  if (proto == ASX_HTTP1_PROTO_H2C && !ctx->tls)
    return demo_h2c_upgrade(cx, s, req, rest, rest_len, &ctx->h2);
  return ASX_HTTP1_DECLINE;
}

static int h2_text(asx_cx *cx, asx_http2_exchange *ex, int status, const char *body, size_t len) {
  static const asx_http2_header ct = {{(const uint8_t *)"content-type", 12},
                                      {(const uint8_t *)"text/plain; charset=utf-8", 25}};
  int rc = asx_http2_res_headers(ex, status, &ct, 1, false);
  return rc ? rc : asx_http2_res_write(cx, ex, body, len, true);
}

static int h2_route(asx_cx *cx, asx_http2_exchange *ex, demo_ctx *ctx) {
  if (asx_grpc_is_request(ex)) return asx_grpc_server_handle(cx, ex, ctx->grpc);
  asx_slice path = asx_http2_req_path(ex);
  const uint8_t *q = path.len ? memchr(path.ptr, '?', path.len) : NULL;
  if (q) path.len = (size_t)(q - path.ptr);
  if (asx_slice_eq(path, "/")) return h2_text(cx, ex, 200, index_page, sizeof index_page - 1);
  if (asx_slice_eq(path, "/echo")) {
    asx_buf body;
    asx_buf_init(&body, NULL, ECHO_MAX);
    int rc = asx_http2_req_read_all(cx, ex, &body);
    if (rc == ASX_ELIMIT) {
      asx_buf_free(&body);
      return h2_text(cx, ex, 413, "body too large\n", 15);
    }
    if (rc == 0) rc = h2_text(cx, ex, 200, body.data ? (const char *)body.data : "", body.len);
    asx_buf_free(&body);
    return rc;
  }
  return h2_text(cx, ex, 404, "not found\n", 10);
}

/* As on HTTP/1.1, a request in flight is drained on shutdown rather than cut: the handler runs
 * masked (the demo's handlers are short; the connection's grace period still bounds the I/O). */
static int h2_handler(asx_cx *cx, asx_http2_exchange *ex, void *ud) {
  asx_mask_push(cx);
  int rc = h2_route(cx, ex, ud);
  asx_mask_pop(cx);
  return rc;
}

/* grpc-timeout becomes the call task's deadline; other requests have none. */
static uint64_t h2_timeout(void *ud, const asx_http2_exchange *ex) {
  demo_ctx *ctx = ud;
  return asx_grpc_server_timeout(ctx->grpc, ex);
}

int demo_ctx_init(demo_ctx *ctx) {
  asx_http1_server_config_default(&ctx->h1);
  ctx->h1.handler = h1_handler;
  ctx->h1.upgrade = upgrade_router;
  ctx->h1.upgrade_ud = ctx;
  ctx->h1.server_header = "asx-demo";
  asx_ws_server_config_default(&ctx->ws);
  ctx->ws.handler = asx_ws_echo_handler;
  static asx_ws_deflate_offer deflate; /* accept permessage-deflate as the client offers it */
  ctx->ws.policy.deflate = &deflate;
  asx_http2_server_config_default(&ctx->h2);
  ctx->h2.handler = h2_handler;
  ctx->h2.user_data = ctx;
  ctx->h2.request_timeout = h2_timeout;
  asx_grpc_server_config gc;
  asx_grpc_server_config_default(&gc);
  int rc = asx_grpc_server_new(&ctx->grpc, &gc);
  if (rc == 0) rc = asx_grpc_register_echo(ctx->grpc, "/asx.demo.Echo");
  if (rc == 0) rc = asx_grpc_health_register(ctx->grpc, &ctx->health);
  if (rc == 0) rc = asx_grpc_health_set(ctx->health, "asx.demo.Echo", ASX_GRPC_HEALTH_SERVING);
  return rc;
}

void demo_ctx_free(demo_ctx *ctx) {
  asx_grpc_server_free(ctx->grpc);
  ctx->grpc = NULL;
  asx_grpc_health_free(ctx->health);
  ctx->health = NULL;
}

int demo_conn_fn(asx_cx *cx, asx_stream *s, void *arg) {
  demo_ctx *ctx = arg;
  const char *alpn = asx_stream_alpn(s);
  int rc = alpn && strcmp(alpn, "h2") == 0 ? asx_http2_serve(cx, s, &ctx->h2, NULL, 0)
                                           : asx_http1_serve(cx, s, &ctx->h1, NULL, 0);
  /* A connection that wound down because the server is shutting down ended as asked. */
  if (rc == ASX_ECANCELED && asx_cancel_reason(cx) == ASX_CANCEL_SHUTDOWN) rc = 0;
  return rc;
}

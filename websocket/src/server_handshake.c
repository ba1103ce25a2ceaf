/* The HTTP side of the WebSocket upgrade: collect the handshake header values from the parsed
 * request (repeated fields joined with ", "), let the websocket helpers decide, and write either
 * the 101 or the refusal (400/403/426) through the http1 encoder. */
#include <string.h>

#include "server_internal.h"

#define LIT(s) ((asx_slice){(const uint8_t *)(s), sizeof(s) - 1})

static asx_slice cstr(const char *s) { return (asx_slice){(const uint8_t *)s, strlen(s)}; }

enum { F_UPGRADE, F_CONNECTION, F_KEY, F_VERSION, F_PROTOCOL, F_EXTENSIONS, F_ORIGIN, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
    "sec-websocket-protocol", "sec-websocket-extensions", "origin"};

static int write_head(asx_cx *cx, asx_stream *s, const asx_allocator *alloc,
                      const asx_http1_response_head *h, const char *body, size_t body_len) {
  asx_buf out;
  asx_buf_init(&out, alloc, 64 * 1024);
  int rc = asx_http1_encode_response_head(&out, h);
  if (rc == 0 && body_len) rc = asx_buf_append(&out, body, body_len);
  if (rc == 0) rc = asx_stream_write_all(cx, s, out.data, out.len, NULL);
  asx_buf_free(&out);
  return rc;
}

static int refuse(asx_cx *cx, asx_stream *s, const asx_allocator *alloc,
                  const asx_ws_server_handshake *hs) {
  asx_http1_header hdrs[3];
  size_t n = 0;
  hdrs[n++] = (asx_http1_header){LIT("Content-Type"), LIT("text/plain")};
  hdrs[n++] = (asx_http1_header){LIT("Connection"), LIT("close")};
  if (hs->http_status == 426) hdrs[n++] = (asx_http1_header){LIT("Sec-WebSocket-Version"), LIT("13")};
  char body[160];
  size_t blen = 0;
  const char *why = hs->error ? hs->error : "websocket handshake refused";
  blen = strlen(why) < sizeof body - 2 ? strlen(why) : sizeof body - 2;
  memcpy(body, why, blen);
  body[blen++] = '\n';
  asx_http1_response_head h = {.code = hs->http_status, .minor = 1, .headers = hdrs,
                               .header_count = n, .framing = ASX_HTTP1_FRAMING_LENGTH,
                               .content_length = blen};
  return write_head(cx, s, alloc, &h, body, blen);
}

int ws_srv_handshake(asx_cx *cx, asx_stream *s, asx_http1_req *req,
                     const asx_ws_server_config *cfg, asx_ws_server_handshake *hs) {
  asx_buf vals[F_COUNT];
  asx_slice got[F_COUNT];
  int rc = 0;
  for (int i = 0; i < F_COUNT; i++) {
    asx_buf_init(&vals[i], cfg->alloc, 16 * 1024);
    int jr = asx_http1_req_header_join(req, field_names[i], &vals[i]);
    if (jr != 0 && jr != ASX_ENOTFOUND) rc = jr;
    got[i] = (asx_slice){vals[i].data, vals[i].len};
  }
  if (rc == 0) {
    asx_ws_request wr = {.method = asx_http1_req_method_name(req), .upgrade = got[F_UPGRADE],
                         .connection = got[F_CONNECTION], .key = got[F_KEY],
                         .version = got[F_VERSION], .protocol = got[F_PROTOCOL],
                         .extensions = got[F_EXTENSIONS], .origin = got[F_ORIGIN]};
    memset(hs, 0, sizeof *hs);
    if (asx_ws_server_accept(&wr, &cfg->policy, hs) != 0) {
      if (hs->http_status < 400) hs->http_status = 400;
      rc = refuse(cx, s, cfg->alloc, hs);
      rc = rc ? rc : 1;
    } else {
      asx_ws_header wh[8];
      size_t n = 0;
      rc = asx_ws_server_response_headers(hs, wh, 8, &n);
      asx_http1_header hdrs[8];
      for (size_t i = 0; i < n; i++) hdrs[i] = (asx_http1_header){cstr(wh[i].name), cstr(wh[i].value)};
      asx_http1_response_head h = {.code = 101, .minor = 1, .headers = hdrs, .header_count = n,
                                   .framing = ASX_HTTP1_FRAMING_NONE};
      if (rc == 0) rc = write_head(cx, s, cfg->alloc, &h, NULL, 0);
    }
  } else {
    asx_ws_server_handshake bad = {.http_status = 431, .error = "handshake header too large"};
    rc = refuse(cx, s, cfg->alloc, &bad);
    rc = rc ? rc : 1;
  }
  for (int i = 0; i < F_COUNT; i++) asx_buf_free(&vals[i]);
  return rc;
}

void asx_ws_server_config_default(asx_ws_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->limits = asx_ws_limits_default();
  cfg->write_timeout_ns = 30ull * 1000000000ull;
  cfg->read_chunk = 16 * 1024;
}

int asx_ws_server_upgrade(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                          size_t rest_len, const asx_ws_server_config *cfg) {
  if (!cx || !s || !req || !cfg || (rest_len && !rest)) return ASX_EINVAL;
  asx_ws_server_handshake hs;
  int rc = ws_srv_handshake(cx, s, req, cfg, &hs);
  if (rc) return rc > 0 ? 0 : rc;
  return ws_srv_run(cx, s, &hs, rest, rest_len, cfg);
}

int asx_ws_server_hook(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                       size_t rest_len, void *ud) {
  if (!req || asx_http1_req_upgrade(req) != ASX_HTTP1_PROTO_WEBSOCKET) return ASX_HTTP1_DECLINE;
  return asx_ws_server_upgrade(cx, s, req, rest, rest_len, (const asx_ws_server_config *)ud);
}

/* asx WebSocket client glue: the opening handshake over any connected asx stream (TCP, TLS,
 * simulated) with the websocket module's helpers and the HTTP/1.1 response decoder, then the same
 * message API as the server side (asx_ws_conn_recv / _send / _ping / _close) in a handler. */
#ifndef ASX_WEBSOCKET_CLIENT_H
#define ASX_WEBSOCKET_CLIENT_H

#include "asx/websocket_server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A value type; fill with asx_ws_client_opts_default and set `host`. Strings are borrowed for
 * the call. */
typedef struct asx_ws_client_opts {
  const char *host;              /* Host header, e.g. "example.com:8080" (required) */
  const char *path;              /* request target (default "/") */
  const char *origin;            /* Origin header; NULL = none */
  const char *subprotocols;      /* comma-separated offer; NULL = none */
  bool offer_deflate;            /* offer permessage-deflate (default false) */
  asx_ws_limits limits;          /* session limits (asx_ws_limits_default) */
  uint64_t handshake_timeout_ns; /* request written and 101 read within this (10 s; 0 = budget) */
  size_t max_response_head;      /* bytes of the server's response head (16 KiB) */
  size_t read_chunk;             /* bytes read at a time (16 KiB) */
  uint64_t write_timeout_ns;     /* each write of frames (30 s; 0 = none) */
  const asx_allocator *alloc;    /* NULL = libc */
} asx_ws_client_opts;

/* Thread-safe, pure: the defaults above (host NULL). */
void asx_ws_client_opts_default(asx_ws_client_opts *o);

/* Task-only. Runs the opening handshake on `s` (connected; it stays the caller's), then
 * fn(cx, conn, ud) with the connection (asx_ws_conn_subprotocol says what the server chose), then
 * finishes the close handshake as the server glue does. Returns fn's result (0 for an orderly
 * end), or before fn: ASX_EPROTO (the server refused or answered wrongly; err says why, with the
 * HTTP status), ASX_ELIMIT (response head too long), ASX_ETIMEDOUT, ASX_ECANCELED, ASX_EINVAL
 * (options), ASX_ENOMEM, or a stream error. err (may be NULL) receives the reason. */
int asx_ws_client_run(asx_cx *cx, asx_stream *s, const asx_ws_client_opts *o, asx_ws_handler_fn fn,
                      void *ud, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* ASX_WEBSOCKET_CLIENT_H */

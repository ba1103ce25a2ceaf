/* asx HTTP/2 server: the I/O glue that runs an asx_http2 session (sans-I/O) over an asx_stream.
 *
 * One call serves one connection until it ends: the calling task reads and feeds the session,
 * a writer task flushes the session's output, and every request stream gets its own task running
 * the user handler (request view + body reader + response writer with back-pressure). All of them
 * live in a region owned by the calling task, so no stream task outlives the connection.
 * A peer RST_STREAM cancels that stream's task (ASX_CANCEL_USER); cancelling the serving task
 * (e.g. server shutdown) sends GOAWAY and drains in-flight streams for up to the grace period.
 * See docs/http2_server.md. */
#ifndef ASX_HTTP2_SERVER_H
#define ASX_HTTP2_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/base.h"
#include "asx/http2.h"
#include "asx/net.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One request/response exchange (one HTTP/2 stream), owned by the server; valid inside the
 * handler call only. Not thread-safe: only the handler's task may use it. */
typedef struct asx_http2_exchange asx_http2_exchange;

/* Runs in the stream's own task. Return >= 0 when done (a response not yet sent becomes 500, a
 * body not yet ended is ended), or a negative ASX_E* (an unsent response becomes 500/503/504,
 * a started one is reset). */
typedef int (*asx_http2_handler)(asx_cx *cx, asx_http2_exchange *ex, void *user_data);

/* Called (on the connection's reader task, before the stream task exists) with the request
 * headers available; returns the stream task's relative deadline in ns (0 = none). gRPC uses it
 * for grpc-timeout. Must not block. */
typedef uint64_t (*asx_http2_timeout_fn)(void *user_data, const asx_http2_exchange *ex);

/* Called once when a connection ends (on the serving task, after every stream task finished) with
 * serve's return code and the session's counters (resets received/provoked, header-limit hits,
 * refused streams, bytes): how limits and flood protections that fired become visible. */
typedef void (*asx_http2_conn_end_fn)(void *user_data, int rc, const asx_http2_stats *stats);

/* A value type: fill with asx_http2_server_config_default and adjust; copied by serve. */
typedef struct asx_http2_server_config {
  asx_http2_limits limits;          /* session limits (asx_http2_limits_default) */
  asx_http2_handler handler;        /* required */
  void *user_data;                  /* passed to handler and request_timeout */
  asx_http2_timeout_fn request_timeout; /* per-request deadline hook; NULL = none */
  uint64_t request_timeout_ns;      /* deadline of every stream task (0 = none; default 0) */
  uint64_t idle_timeout_ns;         /* no stream open and nothing received for this long: GOAWAY
                                       and close (default 60 s; 0 = never) */
  uint64_t shutdown_grace_ns;       /* after the serving task is cancelled: GOAWAY, then in-flight
                                       streams may finish for this long (default 5 s), capped by
                                       the task's cleanup deadline */
  size_t send_high_water;           /* per-stream bytes buffered in the session before
                                       asx_http2_res_write waits for the peer (default 256 KiB) */
  size_t stream_stack_size;         /* stack of stream tasks (0 = runtime default) */
  asx_http2_conn_end_fn on_conn_end;/* NULL = none; gets user_data */
  bool date_header;                 /* a date header (asx_wall_now) on every response whose
                                       headers have none (default true, RFC 9110 §6.6.1) */
  const asx_allocator *alloc;       /* NULL = libc */
} asx_http2_server_config;

/* Thread-safe, pure: defaults (limits from asx_http2_limits_default; handler NULL). */
void asx_http2_server_config_default(asx_http2_server_config *cfg);

/* Task-only. Serves one HTTP/2 connection (prior knowledge h2c, or TLS after ALPN "h2") on s until
 * it ends; s stays the caller's (not closed). `pre` (may be NULL) = bytes already read from s
 * (e.g. a sniffed preface), fed to the session first. Returns 0 for an orderly end (GOAWAY
 * exchanged, peer closed), ASX_ECANCELED when cancelled (after the graceful drain), or the error
 * that ended the connection (ASX_EPROTO, ASX_ELIMIT, ASX_ETIMEDOUT, I/O errors, ASX_ENOMEM,
 * ASX_EINVAL for a config without handler). */
int asx_http2_serve(asx_cx *cx, asx_stream *s, const asx_http2_server_config *cfg,
                    const uint8_t *pre, size_t pre_len);

/* An HTTP/1.1 request that asked for "Upgrade: h2c". Every slice is borrowed for the call. Header
 * names are lower-case, hop-by-hop headers (connection, upgrade, http2-settings, keep-alive,
 * transfer-encoding, te, proxy-connection) already removed; body = the complete request body. */
typedef struct asx_http2_upgrade_req {
  asx_slice method, path, authority;
  const asx_slice *header_names, *header_values;
  size_t header_count;
  const uint8_t *body;
  size_t body_len;
  asx_slice http2_settings;         /* the HTTP2-Settings header value (base64url) */
} asx_http2_upgrade_req;

/* Task-only. As asx_http2_serve after the caller has ALREADY written "101 Switching Protocols"
 * (Connection: Upgrade, Upgrade: h2c): the request becomes stream 1 and is answered through the
 * same handler; `pre` = bytes read after the HTTP/1.1 request (the client preface usually).
 * Returns as asx_http2_serve; ASX_EPROTO for a malformed HTTP2-Settings value. */
int asx_http2_serve_upgrade(asx_cx *cx, asx_stream *s, const asx_http2_server_config *cfg,
                            const asx_http2_upgrade_req *req, const uint8_t *pre, size_t pre_len);

/* ---- Request view (handler task only; slices valid until the handler returns) ---- */

/* Handler task only: the stream id (1, 3, 5...). */
int32_t asx_http2_req_stream_id(const asx_http2_exchange *ex);
/* Handler task only: :method (borrowed; empty slice when absent). */
asx_slice asx_http2_req_method(const asx_http2_exchange *ex);
/* Handler task only: :path (borrowed; empty slice when absent). */
asx_slice asx_http2_req_path(const asx_http2_exchange *ex);
/* Handler task only: :authority (borrowed; empty slice when absent). */
asx_slice asx_http2_req_authority(const asx_http2_exchange *ex);
/* Handler task only: :scheme (borrowed; empty slice when absent). */
asx_slice asx_http2_req_scheme(const asx_http2_exchange *ex);
/* Handler task only: number of regular fields (pseudo-headers excluded, wire order, lower-case). */
size_t asx_http2_req_header_count(const asx_http2_exchange *ex);
/* Handler task only: field i (borrowed). 0, or ASX_ENOTFOUND for i out of range. */
int asx_http2_req_header(const asx_http2_exchange *ex, size_t i, asx_slice *name, asx_slice *value);
/* Handler task only: the first field named `name` (lower-case, borrowed), or ptr NULL. */
asx_slice asx_http2_req_header_get(const asx_http2_exchange *ex, const char *name);
/* Task-only (handler). Reads 1..cap body bytes, returning their flow-control credit to the peer.
 * 0 with *n >= 1; ASX_ECLOSED at the end of the body (*n = 0); ASX_ECONNRESET when the stream was
 * reset; ASX_ECANCELED; ASX_EPROTO when the request ended abnormally. */
int asx_http2_req_read(asx_cx *cx, asx_http2_exchange *ex, void *buf, size_t cap, size_t *n);
/* Task-only (handler). Appends the whole remaining body to `out` (its max applies: ASX_ELIMIT,
 * and the rest of the body is left unread). Same errors as asx_http2_req_read, ECLOSED excepted. */
int asx_http2_req_read_all(asx_cx *cx, asx_http2_exchange *ex, asx_buf *out);

/* ---- Response writer (handler task only) ---- */

/* Handler task only: the response header block (:status added here; field names must be
 * lower-case). end_stream = no body. Never blocks. 0, ASX_ESTATE (already responded),
 * ASX_ECONNRESET (stream gone), ASX_EINVAL, ASX_ENOMEM. */
int asx_http2_res_headers(asx_http2_exchange *ex, int status, const asx_http2_header *headers,
                          size_t n, bool end_stream);
/* Task-only (handler). Body bytes (copied); waits while more than send_high_water bytes of this
 * stream are buffered (the peer's flow-control window is the back-pressure). end_stream ends the
 * body. Sends a 200 first when no headers were sent. 0, ASX_ECANCELED (*nothing* of the chunk in
 * flight is lost: what was submitted stays queued), ASX_ECONNRESET, ASX_ESTATE, ASX_ENOMEM. */
int asx_http2_res_write(asx_cx *cx, asx_http2_exchange *ex, const void *data, size_t len,
                        bool end_stream);
/* Handler task only: ends the body with a trailer block. Never blocks. 0, ASX_ESTATE,
 * ASX_ECONNRESET, ASX_EINVAL, ASX_ENOMEM. */
int asx_http2_res_trailers(asx_http2_exchange *ex, const asx_http2_header *headers, size_t n);
/* Handler task only: resets the stream (e.g. ASX_HTTP2_CANCEL, INTERNAL_ERROR). */
int asx_http2_res_reset(asx_http2_exchange *ex, uint32_t error_code);
/* Handler task only: true once the response headers were submitted. */
bool asx_http2_res_started(const asx_http2_exchange *ex);
/* Handler task only: true once the response body was ended (END_STREAM or trailers or reset). */
bool asx_http2_res_ended(const asx_http2_exchange *ex);
/* Handler task only: true when the peer reset the stream (or the connection is gone). */
bool asx_http2_exchange_reset(const asx_http2_exchange *ex);

#ifdef __cplusplus
}
#endif
#endif /* ASX_HTTP2_SERVER_H */

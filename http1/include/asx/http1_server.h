/* asx HTTP/1.1 server glue: moves bytes between a net/ stream and the sans-I/O http1 codec and
 * runs a user handler per request. Keep-alive, pipelining (responses in request order),
 * request-body streaming with 100-continue, chunked or sized responses with trailers, decoder
 * limits answered with 400/413/414/431/501/505, header-read (slowloris) and idle keep-alive
 * timeouts, graceful shutdown, and an upgrade hook through which WebSocket and HTTP/2 (h2c
 * Upgrade and the prior-knowledge preface) take a connection over. See docs/http1_server.md. */
#ifndef ASX_HTTP1_SERVER_H
#define ASX_HTTP1_SERVER_H

#include "asx/base.h"
#include "asx/http1.h"
#include "asx/net.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One request as the handler sees it. Borrowed from the connection: valid until the handler
 * returns (or, in the upgrade hook, until the hook returns). Used by one task only. */
typedef struct asx_http1_req asx_http1_req;
/* The response to that request. Same lifetime and threading as the request. */
typedef struct asx_http1_resp asx_http1_resp;

/* The request handler. Runs in the connection's task with cancellation masked (an in-flight
 * request is drained on shutdown; a handler that may block for long should watch
 * asx_cancel_requested). Return 0 or a negative ASX_E*: when no response was started, the
 * server answers 500; a response started but not finished is finished (chunked) or the
 * connection is closed (sized body short of its length, or an error return). */
typedef int (*asx_http1_handler_fn)(asx_cx *cx, asx_http1_req *req, asx_http1_resp *resp, void *ud);

/* Returned by an upgrade hook that does not want the connection: the request is answered by
 * the normal handler and the connection keeps speaking HTTP/1.1. */
#define ASX_HTTP1_DECLINE 1

/* The upgrade hook, called for a request that asks to switch protocol (Upgrade + Connection:
 * upgrade; `req` complete with its body buffered and readable) and for the HTTP/2
 * prior-knowledge preface (`req` NULL). `rest` holds the bytes read past the request (for the
 * preface: starting with the 24 preface bytes themselves). It may return ASX_HTTP1_DECLINE
 * (preface: the connection is closed) before writing anything; otherwise it owns the
 * exchange: it writes its own response (e.g. 101), runs the new protocol on `s` and returns;
 * the connection ends after it and its return value is the connection's. Runs unmasked. */
typedef int (*asx_http1_upgrade_fn)(asx_cx *cx, asx_stream *s, asx_http1_req *req,
                                    const uint8_t *rest, size_t rest_len, void *ud);

/* A value type; fill with asx_http1_server_config_default and set at least `handler`. The
 * struct and everything it points to must outlive every connection served with it. */
typedef struct asx_http1_server_config {
  asx_http1_limits limits;       /* decoder limits (DESIGN.md defaults) */
  uint64_t header_timeout_ns;    /* a request's header block must arrive within this (10 s),
                                    counted from its first byte (first request: from the start) */
  uint64_t idle_timeout_ns;      /* keep-alive: wait this long for the next request (60 s) */
  uint64_t write_timeout_ns;     /* each flush of response bytes (60 s; 0 = none) */
  size_t read_chunk;             /* bytes read from the stream at a time (16 KiB) */
  size_t max_upgrade_body;       /* body bytes buffered for an upgrade request (64 KiB) */
  uint64_t max_drain_body;       /* unread request body discarded to keep the connection (1 MiB) */
  asx_http1_handler_fn handler;
  void *handler_ud;
  asx_http1_upgrade_fn upgrade;  /* NULL = every upgrade is declined, the preface is closed */
  void *upgrade_ud;
  const char *server_header;     /* value of a Server header on every response; NULL = none */
  bool date_header;              /* a Date header (asx_wall_now) on every response that has no
                                    Date of its own (default true, as RFC 9110 §6.6.1 asks of a
                                    server with a clock) */
  const asx_allocator *alloc;    /* NULL = libc */
} asx_http1_server_config;

/* Thread-safe, pure: defaults (no handler). */
void asx_http1_server_config_default(asx_http1_server_config *cfg);

/* Task-only: serves HTTP/1.1 on `s` until the peer closes, a timeout, an error, an upgrade or
 * cancellation (shutdown: the request in flight is finished with Connection: close). `pre`
 * (may be NULL) are bytes already read from `s`, decoded first. The stream stays the caller's.
 * Returns 0 for an orderly end (peer close, Connection: close, timeout, refused request),
 * ASX_ECANCELED, an I/O error, or the upgrade hook's result. */
int asx_http1_serve(asx_cx *cx, asx_stream *s, const asx_http1_server_config *cfg,
                    const uint8_t *pre, size_t pre_len);

/* Task-only: asx_http1_serve as a net asx_conn_fn; `arg` is a const asx_http1_server_config *. */
int asx_http1_conn_fn(asx_cx *cx, asx_stream *s, void *arg);

/* ---- request view (handler / hook only) ---- */

asx_http1_method asx_http1_req_method(const asx_http1_req *req);
/* The method as sent, e.g. "GET". */
asx_slice asx_http1_req_method_name(const asx_http1_req *req);
/* The request-target as sent, e.g. "/echo?x=1". */
asx_slice asx_http1_req_target(const asx_http1_req *req);
/* The target up to '?' (no decoding). */
asx_slice asx_http1_req_path(const asx_http1_req *req);
/* HTTP/1.<minor>. */
int asx_http1_req_minor(const asx_http1_req *req);
/* The upgrade protocol asked for (ASX_HTTP1_PROTO_NONE when the request is not an upgrade). */
asx_http1_upgrade_proto asx_http1_req_upgrade(const asx_http1_req *req);
/* Header fields in arrival order; i < count. */
size_t asx_http1_req_header_count(const asx_http1_req *req);
void asx_http1_req_header_at(const asx_http1_req *req, size_t i, asx_slice *name, asx_slice *value);
/* The first field named `name` (ASCII case-insensitive): true and *value, or false. */
bool asx_http1_req_header(const asx_http1_req *req, const char *name, asx_slice *value);
/* Appends every field named `name` joined with ", " to `out` (caller-owned). 0, ASX_ENOTFOUND,
 * ASX_ELIMIT/ASX_ENOMEM from the buffer. */
int asx_http1_req_header_join(const asx_http1_req *req, const char *name, asx_buf *out);
/* Body framing: ASX_HTTP1_BODY_NONE, _LENGTH (see content_length) or _CHUNKED. */
asx_http1_body asx_http1_req_body_kind(const asx_http1_req *req);
uint64_t asx_http1_req_content_length(const asx_http1_req *req);
/* Task-only: reads up to cap body bytes (sends "100 Continue" first when the client asked).
 * 0 with *n >= 1; 0 with *n == 0 at the end of the body; ASX_ELIMIT (body over max_body: the
 * server answers 413 if no response was started), ASX_EPROTO (bad framing: 400), ASX_ECLOSED,
 * ASX_ETIMEDOUT, another stream error. */
int asx_http1_req_read(asx_cx *cx, asx_http1_req *req, void *buf, size_t cap, size_t *n);
/* Task-only: appends the whole remaining body to `out` (bounded by out->max: ASX_ELIMIT). */
int asx_http1_req_read_all(asx_cx *cx, asx_http1_req *req, asx_buf *out);
/* Trailer fields of a chunked body, available once the body was read to its end. */
size_t asx_http1_req_trailer_count(const asx_http1_req *req);
void asx_http1_req_trailer_at(const asx_http1_req *req, size_t i, asx_slice *name, asx_slice *value);

/* ---- response writer (handler only) ---- */

/* Sets the status (default 200) and adds header fields (copied; no Content-Length,
 * Transfer-Encoding or Connection: the server writes those). Before the head is written only:
 * 0, ASX_ESTATE, ASX_EINVAL (bad code or field), ASX_ENOMEM. */
int asx_http1_resp_status(asx_http1_resp *resp, int code);
int asx_http1_resp_header(asx_http1_resp *resp, const char *name, const char *value);
int asx_http1_resp_header_slice(asx_http1_resp *resp, asx_slice name, asx_slice value);
/* Asks for the connection to close after this response (Connection: close). */
void asx_http1_resp_close(asx_http1_resp *resp);
/* Task-only: a complete response with a Content-Length body (len may be 0). 0, ASX_ESTATE
 * (already started), a stream error. */
int asx_http1_resp_send(asx_cx *cx, asx_http1_resp *resp, const void *body, size_t len);
/* Task-only: writes the head. content_length < 0 = chunked (HTTP/1.0: close-delimited).
 * 0, ASX_ESTATE, ASX_EINVAL, a stream error. */
int asx_http1_resp_start(asx_cx *cx, asx_http1_resp *resp, int64_t content_length);
/* Task-only: body bytes after start (a chunk when chunked; a sized body may not exceed its
 * length: ASX_EOVERFLOW). 0 or a stream error. */
int asx_http1_resp_write(asx_cx *cx, asx_http1_resp *resp, const void *data, size_t len);
/* Task-only: ends the body (chunked: last chunk with the trailers, which may be NULL/0; sized:
 * ASX_ESTATE if short). 0 or a stream error. */
int asx_http1_resp_finish(asx_cx *cx, asx_http1_resp *resp, const asx_http1_header *trailers,
                          size_t count);
/* True once the head has been written (or queued). */
bool asx_http1_resp_started(const asx_http1_resp *resp);

/* Counters of one server config's connections would need shared state; per-connection
 * numbers are exposed through the request instead. */
/* The 0-based index of this request on its connection (pipelining/keep-alive tests). */
uint64_t asx_http1_req_index(const asx_http1_req *req);

#ifdef __cplusplus
}
#endif
#endif /* ASX_HTTP1_SERVER_H */

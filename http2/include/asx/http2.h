/* asx HTTP/2 session (sans-I/O), server and client, built on nghttp2.
 *
 * The caller moves bytes: it feeds what arrived from the peer to asx_http2_session_recv() and
 * writes what asx_http2_session_pending() returns, then reports how much was written with
 * asx_http2_session_written(). Stream events (headers, data, end of stream, resets, GOAWAY) are
 * delivered synchronously to one event callback from inside recv / pending / check_timeouts.
 * Time never comes from a system clock: the caller passes its clock to
 * asx_http2_session_check_timeouts() (the lab's virtual clock works unchanged).
 * See docs/http2.md for the event order, the limits table and the error mapping. */
#ifndef ASX_HTTP2_H
#define ASX_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HTTP/2 error codes (RFC 9113 section 7) as carried by RST_STREAM and GOAWAY. */
enum asx_http2_error_code {
  ASX_HTTP2_NO_ERROR = 0x0,
  ASX_HTTP2_PROTOCOL_ERROR = 0x1,
  ASX_HTTP2_INTERNAL_ERROR = 0x2,
  ASX_HTTP2_FLOW_CONTROL_ERROR = 0x3,
  ASX_HTTP2_SETTINGS_TIMEOUT = 0x4,
  ASX_HTTP2_STREAM_CLOSED = 0x5,
  ASX_HTTP2_FRAME_SIZE_ERROR = 0x6,
  ASX_HTTP2_REFUSED_STREAM = 0x7,
  ASX_HTTP2_CANCEL = 0x8,
  ASX_HTTP2_COMPRESSION_ERROR = 0x9,
  ASX_HTTP2_CONNECT_ERROR = 0xa,
  ASX_HTTP2_ENHANCE_YOUR_CALM = 0xb,
  ASX_HTTP2_INADEQUATE_SECURITY = 0xc,
  ASX_HTTP2_HTTP_1_1_REQUIRED = 0xd
};

/* Thread-safe, pure: "NO_ERROR", "PROTOCOL_ERROR", ...; "UNKNOWN" for other values. */
const char *asx_http2_error_code_name(uint32_t code);

/* Limits applied to one session (DESIGN.md defaults). A value type owned by the caller. */
typedef struct asx_http2_limits {
  uint32_t max_frame_size;            /* SETTINGS_MAX_FRAME_SIZE we accept: 16 KiB */
  uint32_t max_header_list;           /* SETTINGS_MAX_HEADER_LIST_SIZE, enforced: 64 KiB */
  uint32_t max_concurrent_streams;    /* SETTINGS_MAX_CONCURRENT_STREAMS (peer-opened): 100 */
  uint32_t initial_stream_window;     /* SETTINGS_INITIAL_WINDOW_SIZE: 64 KiB - 1 */
  uint32_t initial_connection_window; /* connection receive window: 1 MiB */
  uint32_t header_table_size;         /* SETTINGS_HEADER_TABLE_SIZE (HPACK decoder): 4 KiB */
  size_t max_header_fragments;        /* bytes of HEADERS+CONTINUATION payload per block:
                                         0 = 4 x max_header_list */
  size_t max_continuations;           /* CONTINUATION frames per block: 0 = enough for
                                         max_header_fragments in max_frame_size frames */
  uint64_t continuation_timeout_ns;   /* a header block must complete within: 5 s */
  uint32_t reset_burst;               /* RST_STREAM received: bucket size (200) ... */
  uint32_t reset_rate_per_sec;        /* ... refilled at this rate per second (33) */
  size_t max_outbound_ack;            /* queued SETTINGS/PING ACKs before flood: 1000 */
  size_t max_settings_entries;        /* entries per received SETTINGS frame: 32 */
  size_t max_send_buffer;             /* bytes buffered per stream by submit_data: 8 MiB */
} asx_http2_limits;

/* Thread-safe, pure: the defaults above. */
asx_http2_limits asx_http2_limits_default(void);

typedef enum asx_http2_role {
  ASX_HTTP2_SERVER = 0,
  ASX_HTTP2_CLIENT,            /* prior knowledge (or TLS ALPN "h2") */
  ASX_HTTP2_CLIENT_UPGRADE     /* a client that sent an HTTP/1.1 "Upgrade: h2c" request: call
                                  asx_http2_session_upgrade_client() after the 101 */
} asx_http2_role;

/* A header field; both slices are borrowed. */
typedef struct asx_http2_header {
  asx_slice name;
  asx_slice value;
} asx_http2_header;

typedef enum asx_http2_event_type {
  ASX_HTTP2_EV_HEADERS = 1,  /* a complete header block: headers/header_count, kind */
  ASX_HTTP2_EV_DATA,         /* a chunk of body: data. Must later be passed to consume() */
  ASX_HTTP2_EV_END_STREAM,   /* the peer finished sending on stream_id (after HEADERS/DATA) */
  ASX_HTTP2_EV_RESET,        /* the peer sent RST_STREAM with error_code */
  ASX_HTTP2_EV_STREAM_CLOSED,/* the stream is gone (last event for stream_id): error_code is
                                the HTTP/2 code it closed with, asx_error the local reason */
  ASX_HTTP2_EV_GOAWAY        /* the peer sent GOAWAY: last_stream_id, error_code, data=debug */
} asx_http2_event_type;

typedef enum asx_http2_headers_kind {
  ASX_HTTP2_REQUEST = 1,     /* server side: the request header block */
  ASX_HTTP2_RESPONSE,        /* client side: the final response (:status >= 200) */
  ASX_HTTP2_INFORMATIONAL,   /* client side: a 1xx response */
  ASX_HTTP2_TRAILERS         /* a trailer block (either side) */
} asx_http2_headers_kind;

/* One event. Every pointer inside is borrowed and valid only during the callback. */
typedef struct asx_http2_event {
  asx_http2_event_type type;
  int32_t stream_id;                /* 0 for GOAWAY */
  asx_http2_headers_kind kind;      /* HEADERS */
  const asx_http2_header *headers;  /* HEADERS, in wire order, pseudo-headers first */
  size_t header_count;
  asx_slice data;                   /* DATA chunk; GOAWAY debug data */
  uint32_t error_code;              /* RESET, STREAM_CLOSED, GOAWAY */
  int32_t last_stream_id;           /* GOAWAY */
  int asx_error;                    /* STREAM_CLOSED: 0, or why asx reset it (ASX_ELIMIT for a
                                       header list over the limit, ASX_ENOMEM, ...) */
} asx_http2_event;

typedef struct asx_http2_session asx_http2_session;

/* Called synchronously from recv / pending / check_timeouts on the caller's thread. It may
 * call the submit/consume functions of the same session, but not recv, pending or free. */
typedef void (*asx_http2_event_cb)(void *ud, asx_http2_session *s, const asx_http2_event *ev);

/* Counters for tracing and tests. */
typedef struct asx_http2_stats {
  uint64_t streams_opened;      /* by the peer (server) or by us (client) */
  uint64_t resets_received;     /* RST_STREAM frames from the peer */
  uint64_t header_limit_hits;   /* header blocks over max_header_list */
  uint64_t streams_refused;     /* refused by asx (REFUSED_STREAM, 431) */
  uint64_t bytes_received;      /* fed to recv */
  uint64_t bytes_sent;          /* reported through written */
} asx_http2_stats;

/* Caller owns *out (free with asx_http2_session_free). `limits` NULL = defaults (copied);
 * `alloc` NULL = libc (nghttp2 allocates through it too). Queues our SETTINGS (and, for a
 * client, the connection preface). 0, ASX_EINVAL or ASX_ENOMEM. Not thread-safe: one session
 * is used by one task at a time. */
int asx_http2_session_new(asx_http2_session **out, asx_http2_role role,
                          const asx_http2_limits *limits, const asx_allocator *alloc,
                          asx_http2_event_cb on_event, void *ud);
/* Frees the session and every stream; NULL is ignored. No events are emitted. */
void asx_http2_session_free(asx_http2_session *s);

/* Feeds received bytes (all of them are consumed). 0 on success; after a connection error a
 * GOAWAY is queued and the error is returned: ASX_EPROTO (peer violated HTTP/2), ASX_ELIMIT
 * (a limit: header fragments, rapid reset...), ASX_ETIMEDOUT (CONTINUATION deadline, from
 * check_timeouts); such errors are sticky: keep calling pending/written to flush the GOAWAY,
 * then close. A fatal error (flood of ACK-needing frames, too many CONTINUATIONs, nghttp2 out
 * of memory, bad client preface) returns ASX_EFATAL: nothing can be sent, only free. */
int asx_http2_session_recv(asx_http2_session *s, const uint8_t *in, size_t len);

/* Bytes to write next (borrowed, valid until written/recv/submit/free). An empty slice means
 * nothing to send now. Returns 0 or a fatal ASX_EFATAL. Output is produced in bounded chunks. */
int asx_http2_session_pending(asx_http2_session *s, asx_slice *out);
/* Marks the first n bytes of the last pending() slice as written (partial writes allowed). */
void asx_http2_session_written(asx_http2_session *s, size_t n);

/* false once the session has nothing more to read (GOAWAY exchanged and streams done, or an
 * error); want_write is true while output is pending or can be produced. */
bool asx_http2_session_want_read(const asx_http2_session *s);
bool asx_http2_session_want_write(const asx_http2_session *s);

/* Updates the session clock (any monotonic nanosecond clock, e.g. the driver's) and enforces
 * deadlines: a header block still waiting for CONTINUATION after continuation_timeout_ns gets
 * GOAWAY(ENHANCE_YOUR_CALM) and ASX_ETIMEDOUT. Also feeds the rapid-reset rate limiter.
 * Call it before recv and whenever asx_http2_session_next_deadline() passes. */
int asx_http2_session_check_timeouts(asx_http2_session *s, uint64_t now_ns);
/* The clock value at which check_timeouts must next be called; UINT64_MAX when none. */
uint64_t asx_http2_session_next_deadline(const asx_http2_session *s);

/* Returns the flow-control credit for n DATA bytes the application has processed on
 * stream_id (0 allowed after the stream closed: the connection window is still credited).
 * Without it the peer stops sending once the windows are used. 0, ASX_EINVAL or ASX_EFATAL. */
int asx_http2_session_consume(asx_http2_session *s, int32_t stream_id, size_t n);

/* Client: opens a stream with a request header block (pseudo-headers first). With end_stream
 * the request has no body; otherwise send it with submit_data/submit_trailers.
 * 0 with *stream_id set, ASX_ESTATE (server session, GOAWAY received), ASX_EINVAL, ASX_ENOMEM. */
int asx_http2_submit_request(asx_http2_session *s, const asx_http2_header *headers, size_t n,
                             bool end_stream, int32_t *stream_id);
/* Server: the response header block for stream_id (final :status). 0, ASX_ENOTFOUND (no such
 * open stream), ASX_ESTATE (already responded / client session), ASX_EINVAL, ASX_ENOMEM. */
int asx_http2_submit_response(asx_http2_session *s, int32_t stream_id,
                              const asx_http2_header *headers, size_t n, bool end_stream);
/* Server: a 1xx informational header block (e.g. 100-continue) before the response. */
int asx_http2_submit_informational(asx_http2_session *s, int32_t stream_id,
                                   const asx_http2_header *headers, size_t n);
/* Appends body bytes (copied) to stream_id's send buffer; end_stream ends the body. Data goes
 * out as the peer's flow-control windows allow. ASX_ELIMIT when the stream's buffer would
 * exceed max_send_buffer (nothing appended), ASX_ESTATE after end_stream, ASX_ENOTFOUND. */
int asx_http2_submit_data(asx_http2_session *s, int32_t stream_id, const void *data, size_t len,
                          bool end_stream);
/* Ends stream_id's body with a trailer block (copied) sent after all buffered data. */
int asx_http2_submit_trailers(asx_http2_session *s, int32_t stream_id,
                              const asx_http2_header *headers, size_t n);
/* Resets stream_id with an HTTP/2 error code (ASX_HTTP2_CANCEL to abandon a request). */
int asx_http2_submit_rst(asx_http2_session *s, int32_t stream_id, uint32_t error_code);
/* Graceful shutdown: GOAWAY(NO_ERROR) with the last processed stream; in-flight streams
 * finish, new ones are refused. */
int asx_http2_session_shutdown(asx_http2_session *s);
/* Immediate termination: GOAWAY(error_code) and stop reading; flush then close. */
int asx_http2_session_terminate(asx_http2_session *s, uint32_t error_code);
/* Bytes of submitted body still buffered for stream_id (0 for unknown streams). */
size_t asx_http2_stream_send_buffered(const asx_http2_session *s, int32_t stream_id);

/* The last error's human-readable message ("" when none). */
const char *asx_http2_session_error_message(const asx_http2_session *s);
/* The last error code (0 when none); sticky once the connection is failed. */
int asx_http2_session_error(const asx_http2_session *s);
/* Copies the counters. */
void asx_http2_session_stats(const asx_http2_session *s, asx_http2_stats *out);

/* ---- h2c (cleartext HTTP/2) -------------------------------------------------------------- */

/* The client connection preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (24 bytes). */
#define ASX_HTTP2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define ASX_HTTP2_PREFACE_LEN 24u
/* The HTTP/1.1 response a server sends before switching to h2c. */
#define ASX_HTTP2_H2C_101 \
  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"

/* Thread-safe, pure: 1 if `in` starts with the full preface, 0 if it is a proper prefix of
 * it (need more bytes), -1 if it is not HTTP/2 prior knowledge. */
int asx_http2_detect_preface(const uint8_t *in, size_t len);
/* Caller owns `out`: appends the base64url HTTP2-Settings header value describing `limits`
 * (NULL = defaults) for a client's Upgrade request. 0, ASX_ELIMIT or ASX_ENOMEM. */
int asx_http2_h2c_settings_value(const asx_http2_limits *limits, asx_buf *out);
/* Server: after answering an "Upgrade: h2c" request with ASX_HTTP2_H2C_101, applies the
 * request's HTTP2-Settings value (base64url) and opens stream 1 half-closed(remote) for that
 * request; respond with submit_response(s, 1, ...). Then feed the client's bytes (preface
 * first). 0, ASX_EPROTO (bad base64url or SETTINGS payload), ASX_ESTATE, ASX_ENOMEM. */
int asx_http2_session_upgrade_server(asx_http2_session *s, asx_slice http2_settings,
                                     bool head_request);
/* Client (role ASX_HTTP2_CLIENT_UPGRADE): after receiving 101, opens stream 1
 * half-closed(local) for the HTTP/1.1 request, whose response arrives as stream 1 events.
 * Queues the preface and the same SETTINGS as asx_http2_h2c_settings_value(). */
int asx_http2_session_upgrade_client(asx_http2_session *s, bool head_request);

#ifdef __cplusplus
}
#endif
#endif /* ASX_HTTP2_H */

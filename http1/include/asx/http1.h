/* asx HTTP/1.1 codec: a sans-I/O request/response decoder (bytes in, events out) and encoders
 * that write message heads and body framing into an asx_buf. Parsing is done by llhttp, which
 * stays private: nothing in this header depends on it. See docs/http1.md. */
#ifndef ASX_HTTP1_H
#define ASX_HTTP1_H

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---------------------------------------------------------------------------- */

/* Per-decoder limits. A limit hit stops decoding with a specific asx_http1_error. */
typedef struct asx_http1_limits {
  size_t max_target;       /* request-target bytes (response: reason-phrase bytes); 8 KiB -> 414 */
  size_t max_header_block; /* sum of (name + value + 4) over header fields; 64 KiB -> 431 */
  size_t max_headers;      /* header fields per message; 128 -> 431 (trailers counted apart) */
  uint64_t max_body;       /* decoded body bytes per message; 16 MiB -> 413 */
  size_t max_chunk_ext;    /* chunk-extension name+value bytes per chunk; 1 KiB -> 400 */
} asx_http1_limits;

/* Thread-safe, pure: the defaults from DESIGN.md (8 KiB / 64 KiB / 128 / 16 MiB, 1 KiB). */
asx_http1_limits asx_http1_limits_default(void);

/* ---- errors ---------------------------------------------------------------------------- */

/* Why decoding stopped. asx_http1_error_status() maps each to the HTTP status a server sends. */
typedef enum asx_http1_error {
  ASX_HTTP1_OK = 0,
  ASX_HTTP1_ERR_TARGET_TOO_LONG,    /* 414: request-target (or reason phrase) over max_target */
  ASX_HTTP1_ERR_HEADERS_TOO_LARGE,  /* 431: header block over max_header_block */
  ASX_HTTP1_ERR_TOO_MANY_HEADERS,   /* 431: more than max_headers fields */
  ASX_HTTP1_ERR_BODY_TOO_LARGE,     /* 413: Content-Length or chunked total over max_body */
  ASX_HTTP1_ERR_CHUNK_EXT_TOO_LONG, /* 400: chunk extensions over max_chunk_ext */
  ASX_HTTP1_ERR_BAD_VERSION,        /* 505: not HTTP/1.0 or HTTP/1.1 */
  ASX_HTTP1_ERR_UNSUPPORTED_TE,     /* 501: a transfer coding other than "chunked" */
  ASX_HTTP1_ERR_BAD_TE,             /* 400: chunked not once and last, TE repeated, TE in 1.0 */
  ASX_HTTP1_ERR_CL_AND_TE,          /* 400: Content-Length together with Transfer-Encoding */
  ASX_HTTP1_ERR_DUP_CONTENT_LENGTH, /* 400: more than one Content-Length field */
  ASX_HTTP1_ERR_BAD_CONTENT_LENGTH, /* 400: not a plain decimal (lists like "5, 5" included) */
  ASX_HTTP1_ERR_BAD_CHUNK,          /* 400: chunk size not hex, overflowing, bad chunk framing */
  ASX_HTTP1_ERR_OBS_FOLD,           /* 400: obsolete line folding in a header value */
  ASX_HTTP1_ERR_BAD_HEADER_NAME,    /* 400: empty name, non-token byte, whitespace before ':' */
  ASX_HTTP1_ERR_BAD_HEADER_VALUE,   /* 400: bare CR or LF, NUL or another control byte */
  ASX_HTTP1_ERR_BAD_METHOD,         /* 400: unknown or malformed method */
  ASX_HTTP1_ERR_BAD_TARGET,         /* 400: malformed request-target */
  ASX_HTTP1_ERR_BAD_STATUS,         /* 502: malformed status line / code outside 100..999 */
  ASX_HTTP1_ERR_SYNTAX,             /* 400: any other framing error reported by llhttp */
  ASX_HTTP1_ERR_TRUNCATED,          /* 400: end of input inside a message */
  ASX_HTTP1_ERR_CALLBACK            /* 500: the event callback returned an error */
} asx_http1_error;

/* Thread-safe, pure: the HTTP status for `e` (0 for ASX_HTTP1_OK). */
int asx_http1_error_status(asx_http1_error e);
/* Thread-safe, pure: static symbolic name, e.g. "ASX_HTTP1_ERR_OBS_FOLD". */
const char *asx_http1_error_name(asx_http1_error e);

/* ---- decoder events -------------------------------------------------------------------- */

typedef enum asx_http1_kind { ASX_HTTP1_REQUEST, ASX_HTTP1_RESPONSE } asx_http1_kind;

typedef enum asx_http1_method {
  ASX_HTTP1_OTHER = 0, ASX_HTTP1_GET, ASX_HTTP1_HEAD, ASX_HTTP1_POST, ASX_HTTP1_PUT,
  ASX_HTTP1_DELETE, ASX_HTTP1_CONNECT, ASX_HTTP1_OPTIONS, ASX_HTTP1_TRACE, ASX_HTTP1_PATCH
} asx_http1_method;

/* How the body of a message is delimited (decided when the header block is complete). */
typedef enum asx_http1_body {
  ASX_HTTP1_BODY_NONE,        /* no body: no framing headers, HEAD/1xx/204/304, upgrade */
  ASX_HTTP1_BODY_LENGTH,      /* Content-Length bytes */
  ASX_HTTP1_BODY_CHUNKED,     /* chunked transfer coding */
  ASX_HTTP1_BODY_UNTIL_CLOSE  /* response without framing: ends at asx_http1_decoder_finish */
} asx_http1_body;

/* The Upgrade protocol a request asks for (or a 101 response switches to). */
typedef enum asx_http1_upgrade_proto {
  ASX_HTTP1_PROTO_NONE, ASX_HTTP1_PROTO_WEBSOCKET, ASX_HTTP1_PROTO_H2C, ASX_HTTP1_PROTO_OTHER
} asx_http1_upgrade_proto;

typedef enum asx_http1_upgrade_kind {
  ASX_HTTP1_UPGRADE_PROTOCOL,  /* Upgrade + Connection: upgrade request, or a 101 response */
  ASX_HTTP1_UPGRADE_CONNECT,   /* CONNECT request, or a 2xx response to CONNECT: a tunnel */
  ASX_HTTP1_UPGRADE_H2_PRIOR   /* the HTTP/2 client preface (consumed, all 24 bytes) */
} asx_http1_upgrade_kind;

typedef enum asx_http1_event_type {
  ASX_HTTP1_EV_REQUEST_LINE,  /* u.request */
  ASX_HTTP1_EV_STATUS_LINE,   /* u.status */
  ASX_HTTP1_EV_HEADER,        /* u.field: one complete header field */
  ASX_HTTP1_EV_HEADERS_DONE,  /* u.head: end of the header block, framing decided */
  ASX_HTTP1_EV_DATA,          /* u.data: body bytes (chunked framing removed) */
  ASX_HTTP1_EV_TRAILER,       /* u.field: one complete trailer field */
  ASX_HTTP1_EV_MESSAGE_DONE,  /* u.done: the message is complete; the feed call returns */
  ASX_HTTP1_EV_UPGRADE        /* u.upgrade: the rest of the stream is another protocol */
} asx_http1_event_type;

/* One decoder event. Every slice is borrowed: valid only during the callback. */
typedef struct asx_http1_event {
  asx_http1_event_type type;
  union {
    struct { asx_http1_method method; asx_slice method_name; asx_slice target; int minor; } request;
    struct { int code; asx_slice reason; int minor; } status;
    struct { asx_slice name; asx_slice value; } field; /* value without surrounding whitespace */
    struct {
      asx_http1_body body;
      uint64_t content_length;   /* valid for ASX_HTTP1_BODY_LENGTH */
      bool keep_alive;           /* connection persists after this message (if it completes) */
      bool expect_continue;      /* request carried "Expect: 100-continue" */
      bool upgrade;              /* the stream switches protocol after this message */
      asx_http1_upgrade_proto proto; /* first token of the Upgrade field, if any */
    } head;
    struct { asx_slice bytes; } data;
    struct { bool keep_alive; } done;
    struct { asx_http1_upgrade_kind kind; asx_http1_upgrade_proto proto; size_t offset; } upgrade;
  } u;
} asx_http1_event;

/* Called for each event in stream order. Return 0 to go on; a negative ASX_E* stops decoding:
 * the feed returns that code and the decoder stays failed (ASX_HTTP1_ERR_CALLBACK). */
typedef int (*asx_http1_event_cb)(void *ud, const asx_http1_event *ev);

/* ---- decoder --------------------------------------------------------------------------- */

typedef struct asx_http1_decoder asx_http1_decoder;

/* Caller owns *out (free with asx_http1_decoder_free); `limits` is copied (NULL = defaults);
 * `a` must outlive the decoder (NULL = libc). Not thread-safe: one decoder per connection. */
int asx_http1_decoder_new(asx_http1_decoder **out, asx_http1_kind kind, const asx_http1_limits *limits,
                          asx_http1_event_cb cb, void *ud, const asx_allocator *a);

/* Not thread-safe; releases the decoder and everything it owns (NULL is ignored). */
void asx_http1_decoder_free(asx_http1_decoder *d);

/* Decodes bytes; not thread-safe. Delivers events through the callback and sets *consumed.
 * Stops right after each MESSAGE_DONE (pipelining: feed the rest again, after e.g. calling
 * set_request_method) and at an upgrade (*consumed = where the new protocol starts).
 * Returns 0; ASX_ENOMEM (recoverable: *consumed bytes were accepted, feed the rest again);
 * ASX_ELIMIT / ASX_EPROTO / ASX_EUNSUPPORTED (see asx_http1_decoder_error; the decoder stays
 * failed); ASX_ESTATE after an upgrade; or the callback's own error. */
int asx_http1_decoder_feed(asx_http1_decoder *d, const uint8_t *data, size_t len, size_t *consumed);

/* Signals end of input; not thread-safe. Completes an UNTIL_CLOSE response (MESSAGE_DONE event)
 * and returns 0, or ASX_EPROTO (ASX_HTTP1_ERR_TRUNCATED) when a message was cut short. */
int asx_http1_decoder_finish(asx_http1_decoder *d);

/* Response decoders only; not thread-safe: the method of the request that the next response
 * answers (HEAD: no body; CONNECT + 2xx: tunnel). Kept until changed; default GET. */
int asx_http1_decoder_set_request_method(asx_http1_decoder *d, asx_http1_method method);

/* Not thread-safe: after an ASX_HTTP1_UPGRADE_PROTOCOL event the caller may refuse the upgrade
 * (e.g. answer the request normally) and continue decoding HTTP/1.1 on the same stream. */
int asx_http1_decoder_decline_upgrade(asx_http1_decoder *d);

/* Not thread-safe: true between messages (nothing of a next message has been seen yet). */
bool asx_http1_decoder_idle(const asx_http1_decoder *d);

/* Not thread-safe: the specific reason decoding failed (ASX_HTTP1_OK if it has not). */
asx_http1_error asx_http1_decoder_error(const asx_http1_decoder *d);

/* Not thread-safe; the string is owned by the decoder and lives until the next call on it:
 * a human-readable description of the failure ("" if none), with llhttp's reason when useful. */
const char *asx_http1_decoder_error_message(const asx_http1_decoder *d);

/* ---- encoders -------------------------------------------------------------------------- */

/* A header or trailer field to encode (borrowed bytes). */
typedef struct asx_http1_header {
  asx_slice name;
  asx_slice value;
} asx_http1_header;

/* Body framing written by the head encoders; callers must not pass their own Content-Length or
 * Transfer-Encoding fields (ASX_EINVAL). */
typedef enum asx_http1_framing {
  ASX_HTTP1_FRAMING_NONE,    /* no framing header (no body, 1xx/204/304, or close-delimited) */
  ASX_HTTP1_FRAMING_LENGTH,  /* "Content-Length: content_length"; append the body yourself */
  ASX_HTTP1_FRAMING_CHUNKED  /* "Transfer-Encoding: chunked"; use encode_chunk/encode_last_chunk */
} asx_http1_framing;

typedef struct asx_http1_request_head {
  asx_slice method;                 /* a token, e.g. "GET" */
  asx_slice target;                 /* visible ASCII, no spaces */
  int minor;                        /* 0 or 1: HTTP/1.<minor> */
  const asx_http1_header *headers;
  size_t header_count;
  asx_http1_framing framing;
  uint64_t content_length;
} asx_http1_request_head;

typedef struct asx_http1_response_head {
  int code;                         /* 100..999 */
  asx_slice reason;                 /* empty: a standard phrase for known codes */
  int minor;
  const asx_http1_header *headers;
  size_t header_count;
  asx_http1_framing framing;        /* must be NONE for 1xx, 204 and 304 */
  uint64_t content_length;
} asx_http1_response_head;

/* Appends a request head to `out` (caller owns both; not thread-safe). Validates every field
 * (token names, no CR/LF/NUL/control bytes in values): ASX_EINVAL. ASX_ELIMIT/ASX_ENOMEM from
 * the buffer. On any error `out` is unchanged. */
int asx_http1_encode_request_head(asx_buf *out, const asx_http1_request_head *h);
/* Appends a response head to `out` (caller owns both; not thread-safe); same validation and
 * error contract as the request encoder, plus: 1xx/204/304 must use FRAMING_NONE. */
int asx_http1_encode_response_head(asx_buf *out, const asx_http1_response_head *h);
/* Appends one chunk (hex size, data, CRLF) to the caller-owned `out`; not thread-safe; len 0
 * appends nothing. `out` is unchanged on error. */
int asx_http1_encode_chunk(asx_buf *out, const void *data, size_t len);
/* Appends the last chunk "0\r\n", validated trailers and the final CRLF to the caller-owned
 * `out`; not thread-safe; `out` is unchanged on error (ASX_EINVAL for a bad trailer). */
int asx_http1_encode_last_chunk(asx_buf *out, const asx_http1_header *trailers, size_t count);

/* Thread-safe, pure: the standard reason phrase for `code` ("" if unknown). */
const char *asx_http1_reason_phrase(int code);
/* Thread-safe, pure: the method enum for a name (ASX_HTTP1_OTHER if not listed). */
asx_http1_method asx_http1_method_from_name(asx_slice name);

#ifdef __cplusplus
}
#endif
#endif /* ASX_HTTP1_H */

/* asx redis: a sans-I/O codec for the Redis protocol (RESP2 and RESP3).
 *
 * Client side: asx_redis_decoder turns reply bytes into reply trees (or streaming events) and
 * asx_redis_encode_command writes commands. Server side: asx_redis_cmd_decoder turns request bytes
 * (RESP arrays of bulk strings and inline commands) into argument vectors and the
 * asx_redis_write_* functions encode every reply type. No function here does I/O.
 * See docs/redis.md for what is accepted, the limits and the error messages. */
#ifndef ASX_REDIS_H
#define ASX_REDIS_H

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Types and limits                                                                            */

/* Every RESP2/RESP3 value type. The comment gives the type byte on the wire. */
typedef enum asx_redis_type {
  ASX_REDIS_STRING = 1,    /* '+' simple string */
  ASX_REDIS_ERROR,         /* '-' simple error */
  ASX_REDIS_INTEGER,       /* ':' signed 64-bit integer */
  ASX_REDIS_BULK,          /* '$' bulk string (binary safe) */
  ASX_REDIS_ARRAY,         /* '*' array */
  ASX_REDIS_NULL,          /* '_' RESP3 null, or RESP2 "$-1" / "*-1" (see `wire`) */
  ASX_REDIS_BOOL,          /* '#' boolean */
  ASX_REDIS_DOUBLE,        /* ',' double, including inf, -inf and nan */
  ASX_REDIS_BIGNUM,        /* '(' big number, kept as its decimal text */
  ASX_REDIS_BULK_ERROR,    /* '!' bulk error (binary safe) */
  ASX_REDIS_VERBATIM,      /* '=' verbatim string with a 3-byte format such as "txt" */
  ASX_REDIS_MAP,           /* '%' map of key/value pairs */
  ASX_REDIS_SET,           /* '~' set */
  ASX_REDIS_ATTRIBUTE,     /* '|' attribute map, attached to the value that follows it */
  ASX_REDIS_PUSH           /* '>' out-of-band push data */
} asx_redis_type;

/* Thread-safe, pure: a static name such as "bulk" or "map" ("?" for other values). */
const char *asx_redis_type_name(asx_redis_type t);

/* Decoder limits (shared by the reply decoder and the command decoder). A value exactly at a
 * limit is accepted; one more is ASX_ELIMIT. A value type: the caller owns it. */
typedef struct asx_redis_limits {
  size_t max_bulk;        /* bytes of one bulk string / bulk error / verbatim payload / argument (512 MiB) */
  size_t max_elements;    /* announced count of one aggregate, pairs for maps; arguments of a command (1 Mi) */
  unsigned max_depth;     /* nested aggregates (attributes included) in one reply, 1..1024 (32) */
  size_t max_line;        /* bytes of one line before its CRLF: simple values, headers, inline commands (64 KiB) */
  size_t max_total;       /* bytes on the wire of one top-level reply or one command (1 GiB) */
} asx_redis_limits;

/* Thread-safe, pure: the defaults above. */
asx_redis_limits asx_redis_limits_default(void);

/* ------------------------------------------------------------------------------------------ */
/* Reply trees                                                                                 */

/* One decoded value. Read-only for users; owned by the tree root, freed with
 * asx_redis_reply_free(root). Not thread-safe to free while another thread reads it. */
typedef struct asx_redis_reply asx_redis_reply;
struct asx_redis_reply {
  asx_redis_type type;
  char wire;                   /* the type byte as received, e.g. '$' for a RESP2 null bulk */
  int64_t integer;             /* INTEGER value; BOOL as 0 or 1 */
  double dbl;                  /* DOUBLE value */
  const char *str;             /* the bytes of STRING, ERROR, BULK, BULK_ERROR, VERBATIM (without
                                  "fmt:") and BIGNUM; the wire text of INTEGER, DOUBLE and BOOL;
                                  "" for NULL; NULL for aggregates. NUL-terminated (binary data may
                                  also hold NULs: use len) */
  size_t len;                  /* bytes in str */
  char format[4];              /* VERBATIM: the 3-byte format, NUL-terminated */
  size_t n;                    /* aggregates: number of elements (MAP/ATTRIBUTE: 2 x pairs) */
  asx_redis_reply **elements;  /* aggregates: the elements; MAP/ATTRIBUTE alternate key, value */
  asx_redis_reply *attribute;  /* the ATTRIBUTE map that preceded this value, or NULL */
};

/* Frees `r` and everything it owns (elements, attribute); NULL is ignored. Not thread-safe. */
void asx_redis_reply_free(asx_redis_reply *r);

/* ------------------------------------------------------------------------------------------ */
/* Reply decoder (client side)                                                                 */

/* Streaming events, produced in wire order. */
typedef enum asx_redis_event_kind {
  ASX_REDIS_EV_VALUE = 1,  /* a complete simple value: STRING ERROR INTEGER NULL BOOL DOUBLE BIGNUM */
  ASX_REDIS_EV_BLOB_BEGIN, /* BULK / BULK_ERROR / VERBATIM starts: `len` payload bytes follow */
  ASX_REDIS_EV_BLOB_DATA,  /* some payload bytes in `data` (zero or more such events) */
  ASX_REDIS_EV_BLOB_END,   /* the blob is complete */
  ASX_REDIS_EV_AGG_BEGIN,  /* ARRAY MAP SET ATTRIBUTE PUSH starts; `len` = announced count */
  ASX_REDIS_EV_AGG_END,    /* the aggregate is complete */
  ASX_REDIS_EV_REPLY_END   /* a top-level reply (with its attributes) is complete */
} asx_redis_event_kind;

/* One event. Borrowed: `data` is valid only during the callback. */
typedef struct asx_redis_event {
  asx_redis_event_kind kind;
  asx_redis_type type;   /* the value's type (not set for REPLY_END) */
  char wire;             /* its type byte */
  unsigned depth;        /* number of enclosing aggregates: 0 = top level */
  int64_t integer;       /* INTEGER value, BOOL 0/1 */
  double dbl;            /* DOUBLE value */
  uint64_t len;          /* BLOB_BEGIN: payload bytes (VERBATIM: without "fmt:"); AGG_BEGIN: count
                            as on the wire (pairs for MAP/ATTRIBUTE) */
  asx_slice data;        /* VALUE: the text after the type byte; BLOB_DATA: the bytes */
  char format[4];        /* VERBATIM BLOB_BEGIN: the 3-byte format, NUL-terminated */
} asx_redis_event;

/* Event callback: return 0 to accept the event. A negative ASX_E* code stops the decoder, which
 * returns that code; the event was not accepted and will be offered again by the next feed. */
typedef int (*asx_redis_event_cb)(void *ud, const asx_redis_event *ev);

/* Opaque reply decoder; one per connection; not thread-safe. */
typedef struct asx_redis_decoder asx_redis_decoder;

/* Caller owns *out (free with asx_redis_decoder_free). `limits` NULL = defaults, copied;
 * `alloc` NULL = libc, must outlive the decoder. ASX_EINVAL on bad limits, ASX_ENOMEM. */
int asx_redis_decoder_new(asx_redis_decoder **out, const asx_redis_limits *limits,
                          const asx_allocator *alloc);

/* Frees the decoder and any partial reply; NULL is ignored. Not thread-safe. */
void asx_redis_decoder_free(asx_redis_decoder *d);

/* Not thread-safe. Switches the decoder to streaming mode: no trees are built, every event goes
 * to `cb` (NULL switches back to trees). Only allowed between replies (else ASX_ESTATE). */
int asx_redis_decoder_set_event_cb(asx_redis_decoder *d, asx_redis_event_cb cb, void *ud);

/* Not thread-safe. Decodes from `data`. *consumed is always set to the bytes accepted (they are
 * kept in the decoder; never pass them again). Returns:
 *   0            a top-level reply is complete; in tree mode *reply receives it (caller owns it,
 *                free with asx_redis_reply_free; with reply == NULL it is freed at once);
 *                pipelined replies: call again with the rest;
 *   ASX_EAGAIN   all of `data` was accepted, the reply is not complete yet;
 *   ASX_ENOMEM or a callback's code: nothing is lost, call again with the unconsumed bytes;
 *   ASX_EPROTO / ASX_ELIMIT: the stream is broken (see error_message); sticky until reset. */
int asx_redis_decoder_feed(asx_redis_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                           asx_redis_reply **reply);

/* Not thread-safe. Forgets any partial reply and sticky error (for a new connection). */
void asx_redis_decoder_reset(asx_redis_decoder *d);

/* Not thread-safe. A message naming the last error and its byte offset; "" if none. Owned by d. */
const char *asx_redis_decoder_error_message(const asx_redis_decoder *d);

/* ------------------------------------------------------------------------------------------ */
/* Command decoder (server side)                                                               */

/* A decoded command: argc binary-safe arguments. Owned by the command decoder. */
typedef struct asx_redis_command {
  size_t argc;
  const asx_slice *argv;
  bool inline_form;      /* true when it came as an inline (telnet-style) line */
} asx_redis_command;

/* Opaque command decoder; one per connection; not thread-safe. */
typedef struct asx_redis_cmd_decoder asx_redis_cmd_decoder;

/* Caller owns *out. `limits` NULL = defaults (max_depth unused). ASX_EINVAL, ASX_ENOMEM. */
int asx_redis_cmd_decoder_new(asx_redis_cmd_decoder **out, const asx_redis_limits *limits,
                              const asx_allocator *alloc);

/* Frees the decoder; NULL is ignored. Not thread-safe. */
void asx_redis_cmd_decoder_free(asx_redis_cmd_decoder *d);

/* Not thread-safe. Like asx_redis_decoder_feed: 0 with *cmd set (valid until the next call on
 * `d`), ASX_EAGAIN, ASX_ENOMEM (retry with the unconsumed bytes), or sticky ASX_EPROTO /
 * ASX_ELIMIT. Empty inline lines and "*0" / "*-1" requests are skipped, as redis-server does. */
int asx_redis_cmd_decoder_feed(asx_redis_cmd_decoder *d, const uint8_t *data, size_t len,
                               size_t *consumed, const asx_redis_command **cmd);

/* Not thread-safe. Forgets any partial command and sticky error. */
void asx_redis_cmd_decoder_reset(asx_redis_cmd_decoder *d);

/* Not thread-safe. The last error's message, "" if none. Owned by d. */
const char *asx_redis_cmd_decoder_error_message(const asx_redis_cmd_decoder *d);

/* ------------------------------------------------------------------------------------------ */
/* Encoders. Each appends to `out` (caller-owned); on any error `out` is unchanged.           */
/* Errors: ASX_EINVAL (bad argument), ASX_ELIMIT (out->max), ASX_ENOMEM. Thread-safe per buffer. */

/* A command as an array of bulk strings; argvlen NULL means strlen of each argv. */
int asx_redis_encode_command(asx_buf *out, size_t argc, const char *const *argv,
                             const size_t *argvlen);
/* The same from slices. */
int asx_redis_encode_command_slices(asx_buf *out, size_t argc, const asx_slice *argv);

/* "+s" / "-s": the text must not contain CR or LF (ASX_EINVAL). */
int asx_redis_write_simple(asx_buf *out, const char *s, size_t len);
int asx_redis_write_error(asx_buf *out, const char *s, size_t len);
/* ":n" */
int asx_redis_write_integer(asx_buf *out, int64_t v);
/* "$len" + bytes; "!len" + bytes for a bulk error. */
int asx_redis_write_bulk(asx_buf *out, const void *p, size_t len);
int asx_redis_write_bulk_error(asx_buf *out, const void *p, size_t len);
/* "=len" + fmt ":" + bytes; fmt is exactly 3 printable ASCII bytes other than ':' (ASX_EINVAL). */
int asx_redis_write_verbatim(asx_buf *out, const char *fmt, const void *p, size_t len);
/* RESP3 "_"; RESP2 null bulk "$-1"; RESP2 null array "*-1". */
int asx_redis_write_null(asx_buf *out);
int asx_redis_write_null_bulk(asx_buf *out);
int asx_redis_write_null_array(asx_buf *out);
/* "#t" / "#f" */
int asx_redis_write_bool(asx_buf *out, bool v);
/* "," + inf / -inf / nan or the shortest text that round-trips ("%.17g" as redis 7.0). */
int asx_redis_write_double(asx_buf *out, double v);
/* "(" + digits, optional leading '-' or '+' (ASX_EINVAL otherwise). */
int asx_redis_write_bignum(asx_buf *out, const char *digits, size_t len);
/* The header of an aggregate: ARRAY, MAP, SET, ATTRIBUTE or PUSH (count = pairs for maps);
 * the caller then writes the elements. ASX_EINVAL for other types. */
int asx_redis_write_aggregate(asx_buf *out, asx_redis_type type, size_t count);
/* A whole tree, attributes included, exactly as the decoder would read it back. */
int asx_redis_write_reply(asx_buf *out, const asx_redis_reply *r);

#ifdef __cplusplus
}
#endif
#endif /* ASX_REDIS_H */

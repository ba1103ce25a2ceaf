/* asx NATS client protocol codec (sans-I/O).
 *
 * - A client-side incremental parser for what a NATS server sends: INFO, MSG, HMSG (NATS/1.0
 *   header block with optional status line), PING, PONG, +OK, -ERR.
 * - Encoders for what a client sends: CONNECT, PUB, HPUB (with a header builder), SUB, UNSUB,
 *   PING, PONG, with subject / reply / queue-group validation.
 * - A strict, bounded JSON reader that turns the INFO payload into asx_nats_server_info.
 *
 * Nothing here performs I/O; see docs/nats.md for the supported grammar, limits and errors. */
#ifndef ASX_NATS_H
#define ASX_NATS_H

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------------------------- */

/* nats-server refuses a max_payload above 64 MiB; the parser refuses to be configured above it. */
#define ASX_NATS_MAX_PAYLOAD_CEILING ((size_t)64 << 20)

/* Sizes are in bytes. A value type: the caller owns it; copy it freely. */
typedef struct asx_nats_limits {
  size_t max_control_line;  /* bytes before CRLF of one protocol line (default 4096) */
  size_t max_payload;       /* MSG #bytes and HMSG #total bytes (default 1 MiB; INFO overrides) */
  size_t max_header_block;  /* HMSG / HPUB #header bytes (default 64 KiB) */
  size_t max_json_depth;    /* nesting of arrays/objects in INFO (default 16) */
  size_t max_json_length;   /* INFO JSON bytes asx_nats_info_parse accepts (default 64 KiB) */
  size_t max_connect_urls;  /* entries kept from INFO connect_urls (default 128) */
} asx_nats_limits;

/* Thread-safe, pure; fills `l` with the defaults listed above. */
void asx_nats_limits_default(asx_nats_limits *l);

/* ---------------------------------------------------------------------------------------------
 * Parser (server -> client)
 * ------------------------------------------------------------------------------------------- */

typedef enum asx_nats_op {
  ASX_NATS_OP_NONE = 0,
  ASX_NATS_OP_INFO,
  ASX_NATS_OP_MSG,
  ASX_NATS_OP_HMSG,
  ASX_NATS_OP_PING,
  ASX_NATS_OP_PONG,
  ASX_NATS_OP_OK,
  ASX_NATS_OP_ERR
} asx_nats_op;

/* One parsed operation. Every slice borrows from the parser or from the bytes passed to the feed
 * call that produced it, and stays valid until the next feed/reset/free of that parser. Fields
 * not used by `op` are empty. */
typedef struct asx_nats_event {
  asx_nats_op op;
  asx_slice subject;      /* MSG, HMSG */
  asx_slice sid;          /* MSG, HMSG */
  asx_slice reply;        /* MSG, HMSG: empty when absent */
  asx_slice payload;      /* MSG, HMSG: payload after the header block */
  asx_slice header_block; /* HMSG: the whole block, "NATS/1.0..." up to and including CRLFCRLF */
  int status;             /* HMSG: status code of the header line (e.g. 503), 0 when absent */
  asx_slice status_text;  /* HMSG: description after the code, e.g. "Request Timeout" */
  asx_slice info_json;    /* INFO: the JSON object text */
  asx_slice err_text;     /* -ERR: message without the surrounding single quotes */
} asx_nats_event;

typedef struct asx_nats_parser asx_nats_parser;

/* Caller owns *out (free with asx_nats_parser_free); `limits` NULL = defaults and is copied;
 * `alloc` NULL = libc and must outlive the parser. Returns 0, ASX_EINVAL or ASX_ENOMEM. */
int asx_nats_parser_new(asx_nats_parser **out, const asx_nats_limits *limits,
                        const asx_allocator *alloc);

/* Owner only; NULL is ignored. Releases the parser and its buffer. */
void asx_nats_parser_free(asx_nats_parser *p);

/* Not thread-safe (one parser per connection). Consumes a prefix of data[0..len) and sets
 * *consumed to its length. Returns 0 with *ev filled when one operation completed (feed the rest
 * again for the next one), ASX_EAGAIN when every byte was taken and no operation is complete yet,
 * ASX_ELIMIT / ASX_EPROTO on bad input (sticky until asx_nats_parser_reset; see
 * asx_nats_parser_error_message), or ASX_ENOMEM (nothing lost: feed data + *consumed again). */
int asx_nats_parser_feed(asx_nats_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                         asx_nats_event *ev);

/* Not thread-safe. Applies the server's INFO max_payload to later frames. Returns 0, or ASX_EINVAL
 * when max_payload is 0 or above ASX_NATS_MAX_PAYLOAD_CEILING (the old value stays). */
int asx_nats_parser_set_max_payload(asx_nats_parser *p, uint64_t max_payload);

/* Not thread-safe; the returned struct borrows from the parser: the limits in force. */
const asx_nats_limits *asx_nats_parser_limits(const asx_nats_parser *p);

/* Not thread-safe. Drops buffered bytes and any sticky error (e.g. for a new connection). */
void asx_nats_parser_reset(asx_nats_parser *p);

/* Not thread-safe; borrowed string owned by the parser: why the last call failed ("" if not). */
const char *asx_nats_parser_error_message(const asx_nats_parser *p);

/* ---------------------------------------------------------------------------------------------
 * Header blocks (HMSG / HPUB)
 * ------------------------------------------------------------------------------------------- */

/* Iterator over the "name: value" lines of a header block that the parser accepted.
 * A value type borrowing the block; thread-safe as long as the block does not change. */
typedef struct asx_nats_hdr_iter {
  const uint8_t *pos;
  const uint8_t *end;
} asx_nats_hdr_iter;

/* Thread-safe, pure; borrows `block`, which must come from asx_nats_event.header_block (validated
 * by the parser). */
void asx_nats_hdr_iter_init(asx_nats_hdr_iter *it, asx_slice block);
/* Thread-safe, pure. Returns true and the next header (value trimmed of spaces/tabs), false at the
 * end. */
bool asx_nats_hdr_next(asx_nats_hdr_iter *it, asx_slice *name, asx_slice *value);
/* Thread-safe, pure. Case-sensitive (ADR-4) nth (0-based) value of `name`, or ASX_ENOTFOUND. */
int asx_nats_hdr_get(asx_slice block, const char *name, size_t nth, asx_slice *value);
/* Thread-safe, pure. How many values `name` has (case-sensitive). */
size_t asx_nats_hdr_count(asx_slice block, const char *name);

/* Builds a header block for HPUB. A value type: the caller owns it; not thread-safe. */
typedef struct asx_nats_hdr {
  asx_buf buf; /* "NATS/1.0\r\n" then "name: value\r\n" lines; no final CRLF */
} asx_nats_hdr;

/* Not thread-safe; caller owns `h` (free with asx_nats_hdr_free); `alloc` NULL = libc; `max_block`
 * caps the finished block (0 = 64 KiB). Returns 0 or ASX_ENOMEM. */
int asx_nats_hdr_init(asx_nats_hdr *h, const asx_allocator *alloc, size_t max_block);
/* Not thread-safe, owner only. Appends one header line; repeated names make multiple values.
 * ASX_EINVAL when the name is empty or not printable ASCII without ':' or the value has CR/LF or
 * leading/trailing spaces/tabs; ASX_ELIMIT / ASX_ENOMEM leave the block unchanged. */
int asx_nats_hdr_add(asx_nats_hdr *h, const char *name, const char *value);
/* Not thread-safe, owner only. Size the finished block will have on the wire (with its final
 * CRLF). */
size_t asx_nats_hdr_block_len(const asx_nats_hdr *h);
/* Not thread-safe, owner only; NULL ignored; `h` may be initialised again afterwards. */
void asx_nats_hdr_free(asx_nats_hdr *h);

/* ---------------------------------------------------------------------------------------------
 * Encoders (client -> server). Each appends one complete operation to `out`; on any error `out`
 * is unchanged. `limits` NULL = defaults (pass asx_nats_parser_limits() to honour the server's
 * max_payload). Thread-safe as long as `out` is not shared.
 * ------------------------------------------------------------------------------------------- */

/* CONNECT options. A value type; strings are borrowed during the encode call only. */
typedef struct asx_nats_connect_opts {
  bool verbose;        /* server acknowledges every op with +OK */
  bool pedantic;       /* server performs extra checks */
  bool tls_required;
  bool echo;           /* receive own publications (default true) */
  bool headers;        /* client understands HMSG (default true) */
  bool no_responders;  /* 503 status for requests nobody answers (default true; needs headers) */
  int protocol;        /* 0 or 1 (default 1: async INFO) */
  const char *name;    /* NULL: omitted */
  const char *lang;    /* default "C" */
  const char *version; /* default the asx version */
  const char *user;    /* NULL: omitted; also pass, auth_token, jwt, nkey, sig */
  const char *pass;
  const char *auth_token;
  const char *jwt;     /* user JWT (decentralised auth) */
  const char *nkey;    /* public NKey */
  const char *sig;     /* signature of INFO's nonce */
} asx_nats_connect_opts;

/* Thread-safe, pure; caller owns `o`; fills the defaults described above. */
void asx_nats_connect_opts_default(asx_nats_connect_opts *o);

/* Caller owns `out` (not shared). CONNECT {json}\r\n. ASX_EINVAL for a protocol other than 0/1,
 * no_responders without headers, or a string that is not valid UTF-8; ASX_ELIMIT / ASX_ENOMEM from
 * `out`. */
int asx_nats_encode_connect(asx_buf *out, const asx_nats_connect_opts *o);

/* Caller owns `out` (not shared). PUB subject [reply] #bytes\r\npayload\r\n. `reply` NULL = none.
 * ASX_EINVAL: invalid subject or reply; ASX_ELIMIT: payload above max_payload or control line
 * above max_control_line. */
int asx_nats_encode_pub(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                        const char *reply, const void *payload, size_t len);

/* Caller owns `out` (not shared); `headers` borrowed. HPUB subject [reply] #hdr
 * #total\r\nheaders\r\npayload\r\n, headers from the builder. Errors as for PUB, plus ASX_ELIMIT
 * when the block exceeds max_header_block or the total max_payload. */
int asx_nats_encode_hpub(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                         const char *reply, const asx_nats_hdr *headers, const void *payload,
                         size_t len);

/* Caller owns `out` (not shared). SUB subject [queue] sid\r\n. Wildcards allowed in the subject.
 * `queue` NULL = none. ASX_EINVAL for an invalid subject, queue group or sid. */
int asx_nats_encode_sub(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                        const char *queue, const char *sid);

/* Caller owns `out` (not shared). UNSUB sid [max_msgs]\r\n; max_msgs 0 = unsubscribe now. */
int asx_nats_encode_unsub(asx_buf *out, const asx_nats_limits *limits, const char *sid,
                          uint64_t max_msgs);

/* Caller owns `out` (not shared). Appends PING\r\n. */
int asx_nats_encode_ping(asx_buf *out);
/* Caller owns `out` (not shared). Appends PONG\r\n. */
int asx_nats_encode_pong(asx_buf *out);

/* ---------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------- */

/* Flags for asx_nats_subject_valid. */
#define ASX_NATS_SUBJECT_WILDCARDS 1u /* allow '*' and a final '>' as whole tokens (SUB) */

/* Thread-safe, pure. Tokens separated by '.', none empty, no whitespace or control bytes, '*'/'>'
 * only as whole tokens and only with ASX_NATS_SUBJECT_WILDCARDS, '>' only last. */
bool asx_nats_subject_valid(const char *s, size_t len, unsigned flags);
/* Thread-safe, pure. A queue group or sid: non-empty, no whitespace or control bytes. */
bool asx_nats_token_valid(const char *s, size_t len);

/* ---------------------------------------------------------------------------------------------
 * INFO
 * ------------------------------------------------------------------------------------------- */

/* The INFO fields clients use. Strings are NUL-terminated, owned by the struct (NULL when the
 * server did not send them). Free with asx_nats_server_info_free. Not thread-safe. */
typedef struct asx_nats_server_info {
  char *server_id;
  char *server_name;
  char *version;
  char *go;
  char *host;
  char *nonce;
  char *cluster;
  char *domain;
  int64_t port;
  int64_t proto;
  int64_t max_payload;  /* 0 when absent */
  uint64_t client_id;
  char *client_ip;
  bool headers;
  bool auth_required;
  bool tls_required;
  bool tls_verify;
  bool tls_available;
  bool jetstream;
  bool ldm;             /* lame duck mode */
  char **connect_urls;  /* connect_urls_len strings */
  size_t connect_urls_len;
  const asx_allocator *alloc;
} asx_nats_server_info;

/* Caller owns *info (not shared); free it afterwards, even on error. Parses the INFO JSON
 * (asx_nats_event.info_json) into *info (overwritten). `limits` NULL = defaults; `alloc` NULL =
 * libc and is remembered for the free. Unknown fields are validated and skipped. Returns 0,
 * ASX_EPROTO (malformed JSON or a known field of the wrong type), ASX_ELIMIT (depth, length or
 * connect_urls count) or ASX_ENOMEM. On failure the caller's errmsg buffer (errmsg_len bytes; NULL
 * for none) receives a message naming the offset or field. */
int asx_nats_info_parse(asx_nats_server_info *info, asx_slice json, const asx_nats_limits *limits,
                        const asx_allocator *alloc, char *errmsg, size_t errmsg_len);

/* Not thread-safe, owner only; NULL ignored; releases the strings and zeroes the struct. */
void asx_nats_server_info_free(asx_nats_server_info *info);

#ifdef __cplusplus
}
#endif
#endif /* ASX_NATS_H */

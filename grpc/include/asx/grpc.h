/* asx gRPC framing (sans-I/O): the length-prefixed message codec, the grpc-status /
 * grpc-message trailers (with the spec's percent-encoding), grpc-timeout, the status code
 * table and the mapping from asx task outcomes and error codes to gRPC status codes.
 * Nothing here touches HTTP/2: the glue that moves these bytes through asx/http2.h is separate. */
#ifndef ASX_GRPC_H
#define ASX_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---------------------------------------------------------------------------- */

/* Defaults from DESIGN.md: 4 MiB both ways (gRPC's own default). */
#define ASX_GRPC_DEFAULT_MAX_MESSAGE (4u * 1024u * 1024u)
/* Every message starts with 1 flag byte and a 4-byte big-endian length. */
#define ASX_GRPC_FRAME_HEADER_LEN 5u

/* A value type owned by the caller. */
typedef struct asx_grpc_limits {
  size_t max_recv_message; /* longest accepted message payload; larger = ASX_ELIMIT */
  size_t max_send_message; /* longest payload the encoder will frame; larger = ASX_ELIMIT */
} asx_grpc_limits;

/* Thread-safe, pure: the defaults above. */
asx_grpc_limits asx_grpc_limits_default(void);

/* ---- compression (grpc-encoding) -------------------------------------------------------- */

/* The message encodings asx implements; "deflate" is the zlib format, as gRPC defines it. */
typedef enum asx_grpc_encoding {
  ASX_GRPC_IDENTITY = 0,
  ASX_GRPC_GZIP = 1,
  ASX_GRPC_DEFLATE = 2
} asx_grpc_encoding;

/* Thread-safe, pure: "identity" / "gzip" / "deflate" (exact, as the spec spells them).
 * 0 or ASX_EUNSUPPORTED. */
int asx_grpc_encoding_parse(asx_slice name, asx_grpc_encoding *out);
/* Thread-safe, pure: the header token of e. */
const char *asx_grpc_encoding_name(asx_grpc_encoding e);
/* Thread-safe, pure: does a grpc-accept-encoding value (comma-separated list) list e? */
bool asx_grpc_accepts(asx_slice accept, asx_grpc_encoding e);
/* Caller owns out. Appends the gzip/deflate form of in[0..len). 0, ASX_EINVAL (identity or bad
 * arguments), ASX_ELIMIT (len over 4 GiB or out's max), ASX_ENOMEM. */
int asx_grpc_compress(asx_grpc_encoding e, const void *in, size_t len, asx_buf *out);
/* Caller owns out. Appends the decompressed in[0..len), at most max bytes; the output is grown
 * step by step, never from a size the input claims. 0, ASX_ELIMIT (more than max bytes),
 * ASX_EDECOMPRESS (corrupt, truncated, or bytes after the end), ASX_EINVAL, ASX_ENOMEM.
 * On error out is as it was. */
int asx_grpc_decompress(asx_grpc_encoding e, const void *in, size_t len, size_t max, asx_buf *out);

/* ---- metadata and the health messages ------------------------------------------------- */

/* Caller owns out. Appends the base64 of data (standard alphabet, unpadded, as gRPC sends "-bin"
 * values). 0, ASX_EINVAL, ASX_ELIMIT/ASX_ENOMEM from out (then out is unchanged). */
int asx_grpc_bin_encode(asx_buf *out, const void *data, size_t len);
/* Caller owns out. Appends the bytes of a "-bin" value: padded or not, standard or URL-safe
 * alphabet. 0, ASX_EPROTO (not base64), ASX_EINVAL, out's ASX_ELIMIT/ASX_ENOMEM (out unchanged). */
int asx_grpc_bin_decode(asx_slice in, asx_buf *out);

#define ASX_GRPC_HEALTH_MAX_SERVICE 256u
/* Thread-safe, pure: the service name of a grpc.health.v1 HealthCheckRequest (field 1; unknown
 * fields skipped; borrowed from req; "" when absent). 0, ASX_EPROTO (malformed, or a name over
 * ASX_GRPC_HEALTH_MAX_SERVICE), ASX_EINVAL. */
int asx_grpc_health_request_parse(asx_slice req, asx_slice *service);
/* Thread-safe, pure: a HealthCheckResponse with ServingStatus `status` (0 = empty message, as
 * proto3 omits defaults) into out; returns its length (0 or 2). */
size_t asx_grpc_health_response_encode(int status, uint8_t out[2]);

/* ---- status codes ---------------------------------------------------------------------- */

/* The gRPC status codes (values are fixed by the gRPC specification). */
typedef enum asx_grpc_status {
  ASX_GRPC_OK = 0,
  ASX_GRPC_CANCELLED = 1,
  ASX_GRPC_UNKNOWN = 2,
  ASX_GRPC_INVALID_ARGUMENT = 3,
  ASX_GRPC_DEADLINE_EXCEEDED = 4,
  ASX_GRPC_NOT_FOUND = 5,
  ASX_GRPC_ALREADY_EXISTS = 6,
  ASX_GRPC_PERMISSION_DENIED = 7,
  ASX_GRPC_RESOURCE_EXHAUSTED = 8,
  ASX_GRPC_FAILED_PRECONDITION = 9,
  ASX_GRPC_ABORTED = 10,
  ASX_GRPC_OUT_OF_RANGE = 11,
  ASX_GRPC_UNIMPLEMENTED = 12,
  ASX_GRPC_INTERNAL = 13,
  ASX_GRPC_UNAVAILABLE = 14,
  ASX_GRPC_DATA_LOSS = 15,
  ASX_GRPC_UNAUTHENTICATED = 16
} asx_grpc_status;

/* Thread-safe, pure: "OK", "CANCELLED", ... ; NULL for a value outside 0..16. */
const char *asx_grpc_status_name(int code);
/* Thread-safe, pure: the code for a name such as "DEADLINE_EXCEEDED" (exact case), or -1. */
int asx_grpc_status_from_name(const char *name);

/* The asx-side outcome of the task that served a call (mirrors the runtime's outcome lattice
 * Ok < Err < Cancelled < Panicked, plus the two budget exhaustion reasons) so that grpc/ does
 * not depend on the runtime header. */
typedef enum asx_grpc_outcome {
  ASX_GRPC_OUTCOME_OK = 0,        /* handler returned normally           -> OK */
  ASX_GRPC_OUTCOME_ERR,           /* handler returned an error, no code  -> UNKNOWN */
  ASX_GRPC_OUTCOME_CANCELLED,     /* cancelled (client cancel, shutdown) -> CANCELLED */
  ASX_GRPC_OUTCOME_PANICKED,      /* task panicked (contained)           -> INTERNAL */
  ASX_GRPC_OUTCOME_DEADLINE,      /* budget deadline passed              -> DEADLINE_EXCEEDED */
  ASX_GRPC_OUTCOME_BUDGET         /* poll/cost quota exhausted           -> RESOURCE_EXHAUSTED */
} asx_grpc_outcome;

/* Thread-safe, pure: the status to send for an outcome (table above; UNKNOWN for others). */
asx_grpc_status asx_grpc_status_from_outcome(asx_grpc_outcome outcome);
/* Thread-safe, pure: the status for an asx error code (0 -> OK; see docs/grpc.md). */
asx_grpc_status asx_grpc_status_from_error(int asx_err);
/* Thread-safe, pure: the status a client derives from a non-200 HTTP status when the response
 * carries no grpc-status (gRPC's "HTTP to gRPC status code mapping"). */
asx_grpc_status asx_grpc_status_from_http(int http_status);

/* ---- message codec --------------------------------------------------------------------- */

/* One decoded message. `data` is borrowed: valid until the next call on the decoder (it may
 * point into the caller's input when the message arrived whole). */
typedef struct asx_grpc_message {
  bool compressed;
  asx_slice data;
} asx_grpc_message;

typedef struct asx_grpc_decoder asx_grpc_decoder;

/* Caller owns *out (free with asx_grpc_decoder_free); `limits` NULL = defaults, copied;
 * `alloc` NULL = libc. Returns 0 or ASX_ENOMEM. Not thread-safe (one decoder per stream). */
int asx_grpc_decoder_new(asx_grpc_decoder **out, const asx_grpc_limits *limits,
                         const asx_allocator *alloc);
/* Not thread-safe. Frees the decoder and any buffered partial message; NULL is ignored. */
void asx_grpc_decoder_free(asx_grpc_decoder *d);
/* Not thread-safe. Consumes bytes from `in` up to the end of at most one message and sets
 * *consumed. Returns 0 with *msg filled when a whole message is ready; ASX_EAGAIN when all of
 * `in` was consumed without completing one; ASX_ELIMIT (gRPC RESOURCE_EXHAUSTED) when the
 * announced length exceeds max_recv_message (nothing of that size is allocated); ASX_EPROTO for
 * a flag byte other than 0/1; ASX_ENOMEM when the message buffer cannot be allocated (the
 * header stays accepted; call again with the remaining input). ELIMIT/EPROTO are sticky. */
int asx_grpc_decoder_decode(asx_grpc_decoder *d, const uint8_t *in, size_t len, size_t *consumed,
                            asx_grpc_message *msg);
/* Not thread-safe. Call at end of stream: 0 when no partial message is buffered, ASX_EPROTO
 * when the stream ended inside a message (gRPC INTERNAL), or the sticky error. */
int asx_grpc_decoder_finish(const asx_grpc_decoder *d);
/* Not thread-safe; static or decoder-owned text for the last error ("" when none). */
const char *asx_grpc_decoder_error_message(const asx_grpc_decoder *d);

/* Thread-safe, pure: writes the 5-byte prefix for a payload of `len` bytes. ASX_ELIMIT when
 * len > max_send (the caller's limit, e.g. limits.max_send_message) or len > UINT32_MAX. */
int asx_grpc_encode_header(uint8_t out[ASX_GRPC_FRAME_HEADER_LEN], bool compressed, size_t len,
                           size_t max_send);
/* Caller owns `out`; appends prefix + payload. 0, ASX_ELIMIT (see above, or out->max), or
 * ASX_ENOMEM; on error `out` is unchanged. Not thread-safe per buffer. */
int asx_grpc_encode(asx_buf *out, bool compressed, const void *payload, size_t len,
                    const asx_grpc_limits *limits);

/* ---- trailers: grpc-status / grpc-message ----------------------------------------------- */

/* Longest formatted grpc-status value ("2147483647") plus NUL. */
#define ASX_GRPC_STATUS_TEXT_MAX 12u

/* Thread-safe, pure: formats `code` (must be >= 0) as decimal text; returns its length, or 0
 * for a negative code. */
size_t asx_grpc_status_format(int code, char out[ASX_GRPC_STATUS_TEXT_MAX]);
/* Thread-safe, pure: parses a grpc-status value (1..10 ASCII digits, <= INT32_MAX).
 * 0 with *code set, or ASX_EPROTO. Codes above 16 are returned as-is: callers should treat
 * them as UNKNOWN (asx_grpc_status_name returns NULL for them). */
int asx_grpc_status_parse(asx_slice value, int *code);
/* Thread-safe for distinct buffers; caller owns `out`: appends the percent-encoded form of
 * `msg` for grpc-message (bytes outside 0x20..0x7E and '%' become %XX, upper-case hex).
 * 0, ASX_ELIMIT or ASX_ENOMEM (out unchanged). */
int asx_grpc_message_encode(asx_buf *out, const void *msg, size_t len);
/* Thread-safe for distinct buffers; caller owns `out`: appends the decoded grpc-message.
 * Malformed %-sequences are kept literally (the spec forbids dropping the message for them).
 * 0, ASX_ELIMIT or ASX_ENOMEM. */
int asx_grpc_message_decode(asx_buf *out, asx_slice value);

/* ---- grpc-timeout ------------------------------------------------------------------------ */

/* Longest grpc-timeout value: 8 digits, 1 unit, NUL. */
#define ASX_GRPC_TIMEOUT_TEXT_MAX 10u
/* The largest value a timeout can express: 99999999 hours, in nanoseconds, saturated. */
#define ASX_GRPC_TIMEOUT_MAX_NS UINT64_MAX

/* Thread-safe, pure: parses "<1..8 digits><H|M|S|m|u|n>" into nanoseconds (saturating at
 * UINT64_MAX for huge hour values). 0 or ASX_EPROTO (empty, 9+ digits, sign, space, bad unit). */
int asx_grpc_timeout_parse(asx_slice value, uint64_t *ns);
/* Thread-safe, pure: formats `ns` with the finest unit that fits in 8 digits, rounding up so a
 * deadline is never shortened; values beyond 99999999H are clamped. Returns the length. */
size_t asx_grpc_timeout_format(uint64_t ns, char out[ASX_GRPC_TIMEOUT_TEXT_MAX]);

#ifdef __cplusplus
}
#endif
#endif /* ASX_GRPC_H */

/* asx websocket: RFC 6455 WebSocket with permessage-deflate (RFC 7692), sans-I/O.
 *
 * Two independent parts:
 *  - Handshake helpers that work on plain header values (no dependency on an HTTP parser):
 *    validate a client's upgrade request, compute Sec-WebSocket-Accept, pick a subprotocol,
 *    check the Origin, negotiate permessage-deflate and list the 101 response headers; and the
 *    client side (key, request headers, response verification).
 *  - A message session (`asx_ws`) for either role: the caller feeds received bytes with
 *    asx_ws_recv() and pulls bytes to send with asx_ws_pull(); complete messages, pings, pongs
 *    and the peer's close arrive through callbacks during asx_ws_recv(). Limits, masking rules,
 *    UTF-8 validation, the close handshake and its timeout (against a caller-provided clock) are
 *    enforced here. The frame codec underneath is wslay; no wslay type appears in this header.
 * See docs/websocket.md for the limits table and close codes. */
#ifndef ASX_WEBSOCKET_H
#define ASX_WEBSOCKET_H

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------------------------------- */

/* Close status codes (RFC 6455 section 7.4.1) that asx sends or reports. */
enum asx_ws_close_code {
  ASX_WS_CLOSE_NORMAL = 1000,
  ASX_WS_CLOSE_GOING_AWAY = 1001,
  ASX_WS_CLOSE_PROTOCOL_ERROR = 1002,
  ASX_WS_CLOSE_UNSUPPORTED_DATA = 1003,
  ASX_WS_CLOSE_NO_STATUS = 1005,      /* reported only: the peer's close frame had no code */
  ASX_WS_CLOSE_ABNORMAL = 1006,       /* reported only: no close frame (timeout, failure) */
  ASX_WS_CLOSE_INVALID_PAYLOAD = 1007,/* invalid UTF-8 in a text message, bad deflate data */
  ASX_WS_CLOSE_POLICY = 1008,
  ASX_WS_CLOSE_TOO_BIG = 1009,        /* a frame, message or fragment-count limit was hit */
  ASX_WS_CLOSE_MANDATORY_EXT = 1010,
  ASX_WS_CLOSE_INTERNAL_ERROR = 1011  /* allocation failure or a callback asked to fail */
};

/* Message types delivered and sent. */
typedef enum asx_ws_msg_type {
  ASX_WS_TEXT = 1,
  ASX_WS_BINARY = 2
} asx_ws_msg_type;

typedef enum asx_ws_role {
  ASX_WS_SERVER = 0,
  ASX_WS_CLIENT = 1
} asx_ws_role;

/* Size of a Sec-WebSocket-Key (24 base64 characters) and -Accept (28) including the NUL. */
#define ASX_WS_KEY_SIZE 25
#define ASX_WS_ACCEPT_SIZE 29
/* Room for any Sec-WebSocket-Extensions value asx produces, including the NUL. */
#define ASX_WS_EXT_VALUE_SIZE 160

/* A header as a (name, value) pair of NUL-terminated strings, for the caller's HTTP layer. */
typedef struct asx_ws_header {
  const char *name;
  const char *value;
} asx_ws_header;

/* ---------------------------------------------------------------------------------------------
 * permessage-deflate parameters and negotiation (RFC 7692)
 * ------------------------------------------------------------------------------------------- */

/* The negotiated agreement; "server_*" govern what the server compresses, "client_*" what the
 * client compresses. Window bits are 8..15 (15 when the parameter was absent). */
typedef struct asx_ws_deflate_params {
  bool server_no_context_takeover;
  bool client_no_context_takeover;
  uint8_t server_max_window_bits;
  uint8_t client_max_window_bits;
} asx_ws_deflate_params;

/* What a client offers (and, on the server side, what the server is willing to accept/ask).
 * Window bit fields: 0 = do not send/require the parameter, 8..15 = that value. For the client
 * offer, `client_max_window_bits_any` sends the parameter without a value ("I can do any"). */
typedef struct asx_ws_deflate_offer {
  bool server_no_context_takeover;
  bool client_no_context_takeover;
  uint8_t server_max_window_bits;
  uint8_t client_max_window_bits;
  bool client_max_window_bits_any;
} asx_ws_deflate_offer;

/* Thread-safe, pure. Defaults: no context takeover requested either way, all windows 15. */
asx_ws_deflate_params asx_ws_deflate_params_default(void);

/* Thread-safe, pure. Server side: scans a Sec-WebSocket-Extensions request value (several
 * header lines may be joined with ", ") and accepts the first valid permessage-deflate offer
 * that `policy` allows (policy: *_no_context_takeover = ask for it, *_max_window_bits = our
 * cap, 0 = 15). Offers with unknown, duplicate or invalid parameters are declined (skipped).
 * On success fills `out` and writes the response value (NUL-terminated) into `resp`.
 * Returns 0, ASX_ENOTFOUND (no acceptable offer: answer without the extension), ASX_EPROTO
 * (the header is not a valid extension list), ASX_EOVERFLOW (`resp_cap` too small). */
int asx_ws_deflate_negotiate(asx_slice request_value, const asx_ws_deflate_offer *policy,
                             asx_ws_deflate_params *out, char *resp, size_t resp_cap);

/* Thread-safe, pure. Client side: writes the offer value for `offer` into `buf` (NUL-terminated).
 * Returns 0, ASX_EINVAL (a window-bits value outside 8..15) or ASX_EOVERFLOW. */
int asx_ws_deflate_offer_format(const asx_ws_deflate_offer *offer, char *buf, size_t cap);

/* Thread-safe, pure. Client side: checks the server's Sec-WebSocket-Extensions response value
 * against what was offered. Returns 0 (permessage-deflate agreed, `out` filled), ASX_ENOTFOUND
 * (the server did not accept it: no compression), ASX_EPROTO (invalid or non-conforming
 * response: the client must fail the connection). */
int asx_ws_deflate_response_check(asx_slice response_value, const asx_ws_deflate_offer *offer,
                                  asx_ws_deflate_params *out);

/* ---------------------------------------------------------------------------------------------
 * Handshake (server side)
 * ------------------------------------------------------------------------------------------- */

/* The request's relevant header values, as the HTTP layer parsed them. An absent header is an
 * empty slice ({NULL, 0}). Repeated headers must be joined with ", " by the caller. */
typedef struct asx_ws_request {
  asx_slice method;       /* must be GET; empty = not checked */
  asx_slice upgrade;      /* Upgrade */
  asx_slice connection;   /* Connection */
  asx_slice key;          /* Sec-WebSocket-Key */
  asx_slice version;      /* Sec-WebSocket-Version */
  asx_slice protocol;     /* Sec-WebSocket-Protocol */
  asx_slice extensions;   /* Sec-WebSocket-Extensions */
  asx_slice origin;       /* Origin */
} asx_ws_request;

/* Origin check hook: return true to allow the origin (empty slice when no Origin was sent). */
typedef bool (*asx_ws_origin_check_fn)(void *ud, asx_slice origin);

/* Server handshake policy. All fields may be zero: any origin, no subprotocols, no deflate. */
typedef struct asx_ws_server_policy {
  const char *const *subprotocols;     /* server's list, in order of preference */
  size_t subprotocol_count;
  asx_ws_origin_check_fn origin_check; /* NULL = allow every origin */
  void *origin_ud;
  const asx_ws_deflate_offer *deflate; /* NULL = never negotiate permessage-deflate */
} asx_ws_server_policy;

/* The outcome of asx_ws_server_accept: everything needed for the 101 response. */
typedef struct asx_ws_server_handshake {
  int http_status;             /* 101 on success; else 400, 403 or 426 to answer with */
  const char *error;           /* static explanation when http_status != 101, else NULL */
  char accept[ASX_WS_ACCEPT_SIZE];
  const char *subprotocol;     /* NULL = none; points into the policy's list */
  bool deflate;                /* permessage-deflate agreed */
  asx_ws_deflate_params deflate_params;
  char extensions[ASX_WS_EXT_VALUE_SIZE]; /* response value, "" when none */
} asx_ws_server_handshake;

/* Thread-safe, pure. Checks an upgrade request: method GET (if given), Upgrade has the token
 * "websocket", Connection has the token "upgrade", Sec-WebSocket-Version is 13, and
 * Sec-WebSocket-Key is base64 of exactly 16 bytes. Returns 0, ASX_EPROTO (a bad request:
 * answer 400) or ASX_EUNSUPPORTED (another version: answer 426 with Sec-WebSocket-Version: 13).
 * `why` (may be NULL) receives a static explanation on failure. */
int asx_ws_validate_request(const asx_ws_request *req, const char **why);

/* Thread-safe, pure. Sec-WebSocket-Accept for a key (the key exactly as received): base64 of
 * SHA-1(key + RFC 6455 GUID), NUL-terminated. Returns 0 or ASX_EINVAL (empty key). */
int asx_ws_accept_value(asx_slice key, char out[ASX_WS_ACCEPT_SIZE]);

/* Thread-safe, pure. Picks the first protocol of the server's list (server preference) that the
 * client's Sec-WebSocket-Protocol value offers (exact, case-sensitive token match). `*chosen`
 * points into `supported`. Returns 0, ASX_ENOTFOUND (no common protocol: answer without the
 * header) or ASX_EPROTO (the value is not a comma-separated token list). */
int asx_ws_select_subprotocol(asx_slice offered, const char *const *supported, size_t count,
                              const char **chosen);

/* Thread-safe if the origin hook is. Runs validation, the origin check, subprotocol selection
 * and permessage-deflate negotiation. Returns 0 (answer 101 with asx_ws_server_response_headers)
 * or the failing step's error with out->http_status / out->error set (ASX_EPROTO = 400,
 * ASX_EUNSUPPORTED = 426, ASX_ECANCELED = 403 origin refused). */
int asx_ws_server_accept(const asx_ws_request *req, const asx_ws_server_policy *policy,
                         asx_ws_server_handshake *out);

/* Thread-safe, pure. Lists the 101 response headers (Upgrade, Connection, Sec-WebSocket-Accept
 * and, when agreed, Sec-WebSocket-Protocol / -Extensions). Strings point into `hs` or are static.
 * Returns 0 or ASX_EOVERFLOW (`cap` below 5); `*count` receives the number written. */
int asx_ws_server_response_headers(const asx_ws_server_handshake *hs, asx_ws_header *headers,
                                   size_t cap, size_t *count);

/* ---------------------------------------------------------------------------------------------
 * Handshake (client side)
 * ------------------------------------------------------------------------------------------- */

/* Client handshake state: a value type owned by the caller; keep it until the response has been
 * verified. Not thread-safe. */
typedef struct asx_ws_client_handshake {
  char key[ASX_WS_KEY_SIZE];
  char expected_accept[ASX_WS_ACCEPT_SIZE];
  const char *subprotocols;              /* comma-separated offer, or NULL */
  bool offer_deflate;
  asx_ws_deflate_offer deflate_offer;
  char extensions[ASX_WS_EXT_VALUE_SIZE];/* offer value, "" when none */
} asx_ws_client_handshake;

/* The server's response, as the HTTP layer parsed it (absent header = empty slice). */
typedef struct asx_ws_response {
  int status;
  asx_slice upgrade;
  asx_slice connection;
  asx_slice accept;
  asx_slice protocol;
  asx_slice extensions;
} asx_ws_response;

/* What the server agreed to. */
typedef struct asx_ws_client_result {
  asx_slice subprotocol;       /* empty = none; points into the response */
  bool deflate;
  asx_ws_deflate_params deflate_params;
} asx_ws_client_result;

/* Caller owns `hs`. Builds the key from 16 caller-provided random bytes (the caller's entropy,
 * so lab runs stay deterministic). `subprotocols` (may be NULL) must outlive `hs`; `deflate`
 * (may be NULL) is copied. Returns 0, ASX_EINVAL or ASX_EOVERFLOW (offer too long). */
int asx_ws_client_handshake_init(asx_ws_client_handshake *hs, const uint8_t random16[16],
                                 const char *subprotocols, const asx_ws_deflate_offer *deflate);

/* Thread-safe, pure. Lists the request headers (Upgrade, Connection, Sec-WebSocket-Key,
 * Sec-WebSocket-Version and, when set, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions and
 * Origin). `origin` may be NULL. Strings point into `hs`, `origin` or are static.
 * Returns 0 or ASX_EOVERFLOW (`cap` below 7). */
int asx_ws_client_request_headers(const asx_ws_client_handshake *hs, const char *origin,
                                  asx_ws_header *headers, size_t cap, size_t *count);

/* Thread-safe, pure. Verifies the server's answer: status 101, Upgrade/Connection tokens, the
 * Accept value, a subprotocol we offered (if any), and an extension answer that matches our
 * offer. Returns 0 (fills `out`), ASX_EPROTO (fail the connection; `why` gets a static reason). */
int asx_ws_client_verify_response(const asx_ws_client_handshake *hs, const asx_ws_response *resp,
                                  asx_ws_client_result *out, const char **why);

/* ---------------------------------------------------------------------------------------------
 * Message session
 * ------------------------------------------------------------------------------------------- */

/* Limits (defaults from asx_ws_limits_default). A limit hit fails the connection with close
 * code 1009 and makes asx_ws_recv return ASX_ELIMIT. */
typedef struct asx_ws_limits {
  uint64_t max_frame_payload;  /* one frame's payload length (16 MiB) */
  size_t max_message;          /* an assembled (and decompressed) message (64 MiB) */
  uint32_t max_fragments;      /* frames per message (4096) */
  uint64_t close_timeout_ns;   /* wait for the peer's close after ours (5 s) */
} asx_ws_limits;

/* Thread-safe, pure. */
asx_ws_limits asx_ws_limits_default(void);

/* Callbacks, called synchronously from asx_ws_recv only. Any may be NULL. Data pointers are
 * valid only during the call. Calling asx_ws_send/ping/close from a callback is allowed;
 * asx_ws_free is not. */
typedef struct asx_ws_callbacks {
  /* A complete message. Return 0, or a negative value to fail the connection with 1011. */
  int (*on_message)(void *ud, asx_ws_msg_type type, const uint8_t *data, size_t len);
  /* A ping arrived; the pong is already queued. */
  void (*on_ping)(void *ud, const uint8_t *data, size_t len);
  void (*on_pong)(void *ud, const uint8_t *data, size_t len);
  /* The peer's close frame (code 1005 when it carried none); our reply is already queued. */
  void (*on_close)(void *ud, uint16_t code, const uint8_t *reason, size_t reason_len);
} asx_ws_callbacks;

/* Random bytes for client frame masks: fill `buf`, return 0 (non-zero fails the send). */
typedef int (*asx_ws_random_fn)(void *ud, uint8_t *buf, size_t len);

typedef struct asx_ws_config {
  asx_ws_role role;
  asx_ws_limits limits;
  const asx_allocator *alloc;          /* NULL = libc; used for asx buffers and zlib */
  const asx_ws_deflate_params *deflate;/* NULL = no permessage-deflate; else the agreement */
  asx_ws_random_fn random;             /* NULL = OpenSSL RAND_bytes */
  void *random_ud;
} asx_ws_config;

/* Thread-safe, pure: a server config with default limits and no compression. */
asx_ws_config asx_ws_config_default(asx_ws_role role);

typedef struct asx_ws asx_ws;

/* Connection states. CLOSED means the transport may be closed: close frames were exchanged, or
 * we failed the connection and our close frame has been pulled, or the close timed out. */
typedef enum asx_ws_state {
  ASX_WS_OPEN = 0,
  ASX_WS_CLOSING = 1,
  ASX_WS_CLOSED = 2
} asx_ws_state;

/* Creates a session; the caller owns *out and frees it with asx_ws_free. `cfg` and `cb` are
 * copied; `ud` is passed to callbacks. Returns 0, ASX_EINVAL or ASX_ENOMEM. Not thread-safe:
 * one session is used by one thread at a time. */
int asx_ws_new(asx_ws **out, const asx_ws_config *cfg, const asx_ws_callbacks *cb, void *ud);

/* Frees the session and everything it owns; NULL is ignored. */
void asx_ws_free(asx_ws *ws);

/* Not thread-safe. Feeds received bytes; callbacks fire for every complete message/control
 * frame. `*consumed` (may be NULL) receives how many bytes were taken (all of them unless the
 * connection closed or failed part-way; bytes after that are ignored). Returns 0 or the error
 * that failed the connection (a close frame is then queued): ASX_EPROTO (1002, or 1007 for
 * invalid UTF-8), ASX_ELIMIT (1009), ASX_EDECOMPRESS (1007), ASX_ENOMEM (1011), or on_message's
 * own negative return value (ASX_ECANCELED for a positive one; 1011). ENOMEM here is not
 * retryable: wslay has already taken the bytes, so the connection is failed. After a failure, or once reading is over, returns
 * ASX_ECLOSED and consumes nothing. */
int asx_ws_recv(asx_ws *ws, const uint8_t *data, size_t len, size_t *consumed);

/* Not thread-safe. Copies pending output (frames, pongs, close) into `buf` up to `cap` bytes;
 * `*written` receives the count (0 = nothing to send). Returns 0, or ASX_EFATAL if the frame
 * writer failed (mask source error): the session must be freed. */
int asx_ws_pull(asx_ws *ws, uint8_t *buf, size_t cap, size_t *written);

/* Not thread-safe. True when asx_ws_pull would produce bytes. */
bool asx_ws_want_write(const asx_ws *ws);

/* Not thread-safe. Queues a message (compressed when permessage-deflate is on); the bytes are
 * copied. Text must be valid UTF-8 (ASX_EINVAL otherwise). Returns 0, ASX_EINVAL, ASX_ECLOSED
 * (a close was already queued or sent) or ASX_ENOMEM (nothing queued; with context takeover a
 * compressor failure fails the connection with 1011 since the peer's inflater would desync). */
int asx_ws_send(asx_ws *ws, asx_ws_msg_type type, const uint8_t *data, size_t len);

/* Not thread-safe. Queues a ping (payload <= 125 bytes). 0, ASX_EINVAL, ASX_ECLOSED, ASX_ENOMEM. */
int asx_ws_ping(asx_ws *ws, const uint8_t *data, size_t len);

/* Not thread-safe. Starts the close handshake: code 1000-1003, 1007-1011 or 3000-4999, reason
 * valid UTF-8 of at most 123 bytes. Returns 0, ASX_EINVAL, ASX_ECLOSED (already closing). */
int asx_ws_close(asx_ws *ws, uint16_t code, const uint8_t *reason, size_t reason_len);

/* Not thread-safe. Drives the close timeout with the caller's monotonic clock. The timer starts
 * at the first call that sees the session CLOSING; when `now_ns` reaches start + close_timeout
 * the session becomes CLOSED (close code received 1006) and ASX_ETIMEDOUT is returned once. */
int asx_ws_check_timeouts(asx_ws *ws, uint64_t now_ns);

/* Not thread-safe. Current state (see asx_ws_state). */
asx_ws_state asx_ws_get_state(const asx_ws *ws);

/* Not thread-safe. The code of the close frame we sent (0 until it has been pulled) and of the
 * one received (0 = none yet, 1005 = empty close frame, 1006 = timed out). */
uint16_t asx_ws_close_code_sent(const asx_ws *ws);
uint16_t asx_ws_close_code_received(const asx_ws *ws);

/* Not thread-safe. The error that failed the connection (0 if none) and a human-readable
 * message for it ("" if none). The message stays valid until the session is freed. */
int asx_ws_error(const asx_ws *ws);
const char *asx_ws_error_message(const asx_ws *ws);

/* Thread-safe, pure. Whole-buffer UTF-8 check (strict: no overlongs, surrogates or code
 * points above U+10FFFF). */
bool asx_ws_utf8_valid(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* ASX_WEBSOCKET_H */

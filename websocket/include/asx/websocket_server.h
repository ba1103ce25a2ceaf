/* asx WebSocket server glue: the HTTP/1.1 upgrade hook that validates a handshake with the
 * websocket module's helpers, answers 101 and runs an asx_ws session over the stream, and a
 * message-level API for the handler task (receive a message, send a message, close). The read
 * loop answers pings, the close handshake is bounded by the close timeout on the runtime clock,
 * and cancellation of the connection (server shutdown) closes with 1001 going away. */
#ifndef ASX_WEBSOCKET_SERVER_H
#define ASX_WEBSOCKET_SERVER_H

#include "asx/base.h"
#include "asx/http1_server.h"
#include "asx/net.h"
#include "asx/runtime.h"
#include "asx/websocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One accepted WebSocket connection, owned by the glue; used by the handler's task only. */
typedef struct asx_ws_conn asx_ws_conn;

/* The per-connection handler: receive and send messages until done. Return 0 (the glue closes
 * with 1000 if still open), ASX_ECANCELED (1001) or another negative code (1011). */
typedef int (*asx_ws_handler_fn)(asx_cx *cx, asx_ws_conn *ws, void *ud);

/* A value type; fill with asx_ws_server_config_default and set `handler`. It and everything it
 * points to must outlive the connections served with it. */
typedef struct asx_ws_server_config {
  asx_ws_server_policy policy;   /* subprotocols, origin check, permessage-deflate (zero: none) */
  asx_ws_limits limits;          /* session limits (frame/message sizes, close timeout, backlog) */
  asx_ws_handler_fn handler;
  void *handler_ud;
  uint64_t idle_timeout_ns;      /* no byte from the peer for this long ends the session (0 = none) */
  uint64_t write_timeout_ns;     /* each write of frames (30 s; 0 = none) */
  size_t read_chunk;             /* bytes read at a time (16 KiB) */
  const asx_allocator *alloc;    /* NULL = libc */
} asx_ws_server_config;

/* Thread-safe, pure: defaults (websocket limits, no handler). */
void asx_ws_server_config_default(asx_ws_server_config *cfg);

/* Task-only. Completes the upgrade of `req` on `s`: validates the handshake (an invalid one is
 * answered with 400/403/426 and Connection: close, returning 0), writes the 101, feeds `rest`
 * (bytes read past the request) to the session, runs the handler, then finishes the close
 * handshake. Returns the handler's result (0 for an orderly end) or a stream error. */
int asx_ws_server_upgrade(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                          size_t rest_len, const asx_ws_server_config *cfg);

/* Task-only: an asx_http1_upgrade_fn (`ud` = const asx_ws_server_config *) taking every
 * `Upgrade: websocket` request and declining everything else (including the h2 preface). */
int asx_ws_server_hook(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                       size_t rest_len, void *ud);

/* Task-only (the handler's task): waits for the next complete message. On 0, *type, *data and
 * *len describe it; the bytes stay valid until the next recv or the handler's return.
 * ASX_ECLOSED: the peer closed (see asx_ws_conn_close_code) or the connection ended;
 * ASX_ECANCELED: the task was cancelled (a 1001 close was already sent and awaited);
 * ASX_EPROTO / ASX_ELIMIT / ASX_EDECOMPRESS: the peer broke the protocol or a limit (the
 * matching close was sent); ASX_ETIMEDOUT (idle); a stream error. */
int asx_ws_conn_recv(asx_cx *cx, asx_ws_conn *ws, asx_ws_msg_type *type, const uint8_t **data,
                     size_t *len);
/* Task-only: sends one message (text must be UTF-8) and writes it out before returning.
 * 0, ASX_EINVAL, ASX_ECLOSED, ASX_ENOMEM, a stream error (ASX_ECANCELED: not sent entirely). */
int asx_ws_conn_send(asx_cx *cx, asx_ws_conn *ws, asx_ws_msg_type type, const void *data,
                     size_t len);
/* Task-only: sends a ping (<= 125 bytes). Same results as send. */
int asx_ws_conn_ping(asx_cx *cx, asx_ws_conn *ws, const void *data, size_t len);
/* Task-only: starts the close handshake and waits (at most the close timeout) for the peer's
 * close. Runs masked: also usable during cancellation. 0 or ASX_ECLOSED (already closed). */
int asx_ws_conn_close(asx_cx *cx, asx_ws_conn *ws, uint16_t code, const char *reason);
/* The close code the peer sent (0 none yet, 1005 none given, 1006 no close frame). */
uint16_t asx_ws_conn_close_code(const asx_ws_conn *ws);
/* The agreed subprotocol (NULL when none). */
const char *asx_ws_conn_subprotocol(const asx_ws_conn *ws);
/* Task-only: an asx_ws_handler_fn that sends every message back unchanged until the peer
 * closes (`ud` unused). Returns 0 after the peer's close, or the error that ended it. */
int asx_ws_echo_handler(asx_cx *cx, asx_ws_conn *ws, void *ud);
/* The underlying session (stats, state); owned by the connection. */
asx_ws *asx_ws_conn_session(asx_ws_conn *ws);

#ifdef __cplusplus
}
#endif
#endif /* ASX_WEBSOCKET_SERVER_H */

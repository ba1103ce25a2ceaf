/* asx gRPC server: gRPC over the asx HTTP/2 server. A registry maps "/pkg.Service/Method" to
 * unary, server-streaming, client-streaming or bidirectional handlers that work on raw message
 * bytes (no code generation: serialize with whatever you like). grpc-timeout becomes the budget
 * deadline of the call's task; the call ends with grpc-status / grpc-message trailers; handler
 * errors map to gRPC codes through asx_grpc_status_from_error / _from_outcome; messages over the
 * asx_grpc_limits sizes end the call with RESOURCE_EXHAUSTED. See docs/grpc_server.md. */
#ifndef ASX_GRPC_SERVER_H
#define ASX_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/base.h"
#include "asx/grpc.h"
#include "asx/http2_server.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct asx_grpc_server asx_grpc_server;
/* One call in progress; owned by the server, valid during the handler call only. Not
 * thread-safe: only the handler's task may use it. */
typedef struct asx_grpc_call asx_grpc_call;

/* Handlers run in the call's own task (the HTTP/2 stream task). Return 0 for OK (unless a
 * status was set with asx_grpc_call_set_status) or a negative ASX_E* mapped to a gRPC code
 * (ASX_ECANCELED after a deadline = DEADLINE_EXCEEDED). `request` is borrowed for the call.
 * Unary: one request, append the reply to `response` (its max = max_send_message). */
typedef int (*asx_grpc_unary_fn)(asx_cx *cx, asx_grpc_call *call, asx_slice request,
                                 asx_buf *response, void *user_data);
/* Server streaming: one request, replies sent with asx_grpc_call_send. */
typedef int (*asx_grpc_server_stream_fn)(asx_cx *cx, asx_grpc_call *call, asx_slice request,
                                         void *user_data);
/* Client streaming: requests read with asx_grpc_call_recv, one reply appended to `response`. */
typedef int (*asx_grpc_client_stream_fn)(asx_cx *cx, asx_grpc_call *call, asx_buf *response,
                                         void *user_data);
/* Bidirectional: asx_grpc_call_recv and asx_grpc_call_send in any order. */
typedef int (*asx_grpc_bidi_fn)(asx_cx *cx, asx_grpc_call *call, void *user_data);

/* A value type: fill with asx_grpc_server_config_default. */
typedef struct asx_grpc_server_config {
  asx_grpc_limits limits;        /* max receive / send message size (4 MiB each) */
  uint64_t max_timeout_ns;       /* cap on a client's grpc-timeout (0 = no cap) */
  asx_grpc_encoding send_encoding; /* compress replies with this when the client's
                                    grpc-accept-encoding lists it (default identity = never).
                                    Requests in gzip or deflate are always accepted. */
  const asx_allocator *alloc;    /* NULL = libc */
} asx_grpc_server_config;

/* Counters (a snapshot). */
typedef struct asx_grpc_server_stats {
  uint64_t compressed_in;        /* request messages that arrived compressed */
  uint64_t compressed_out;       /* reply messages sent compressed */
} asx_grpc_server_stats;
/* Thread-safe. */
void asx_grpc_server_stats_get(const asx_grpc_server *srv, asx_grpc_server_stats *out);

/* ---- grpc.health.v1.Health ---- */
typedef struct asx_grpc_health asx_grpc_health;
/* The protocol's ServingStatus values. */
typedef enum asx_grpc_health_status {
  ASX_GRPC_HEALTH_UNKNOWN = 0,
  ASX_GRPC_HEALTH_SERVING = 1,
  ASX_GRPC_HEALTH_NOT_SERVING = 2,
  ASX_GRPC_HEALTH_SERVICE_UNKNOWN = 3 /* Watch only: a service not in the table */
} asx_grpc_health_status;
/* Not thread-safe (setup, like the add_* calls): registers /grpc.health.v1.Health/Check and
 * /Watch on srv, with "" (the whole server) SERVING. Caller owns *out (asx_grpc_health_free, once
 * srv no longer serves). On failure nothing stays registered. 0, ASX_EINVAL, ASX_EEXIST,
 * ASX_ENOMEM. Check answers NOT_FOUND for a service not in the table; Watch sends the status now
 * and at every change until the client leaves. */
int asx_grpc_health_register(asx_grpc_server *srv, asx_grpc_health **out);
/* Thread-safe: sets a service's status ("" = the server) and wakes its watchers. service at most
 * 256 bytes; st UNKNOWN, SERVING or NOT_SERVING. 0, ASX_EINVAL, ASX_ENOMEM. */
int asx_grpc_health_set(asx_grpc_health *h, const char *service, asx_grpc_health_status st);
/* After the server using it stopped serving. NULL ignored. */
void asx_grpc_health_free(asx_grpc_health *h);

/* Thread-safe, pure: defaults (asx_grpc_limits_default, no timeout cap). */
void asx_grpc_server_config_default(asx_grpc_server_config *cfg);
/* Caller owns *out (asx_grpc_server_free). cfg NULL = defaults. 0, ASX_ENOMEM. */
int asx_grpc_server_new(asx_grpc_server **out, const asx_grpc_server_config *cfg);
/* Not thread-safe: once no connection uses it. NULL ignored. */
void asx_grpc_server_free(asx_grpc_server *srv);

/* Not thread-safe; register before serving (the registry is read concurrently afterwards
 * without locks). path = "/pkg.Service/Method" (copied). 0, ASX_EINVAL (bad path or NULL fn),
 * ASX_EEXIST (already registered), ASX_ENOMEM. */
int asx_grpc_server_add_unary(asx_grpc_server *srv, const char *path, asx_grpc_unary_fn fn,
                              void *user_data);
/* Not thread-safe (setup): as add_unary for a server-streaming method. */
int asx_grpc_server_add_server_stream(asx_grpc_server *srv, const char *path,
                                      asx_grpc_server_stream_fn fn, void *user_data);
/* Not thread-safe (setup): as add_unary for a client-streaming method. */
int asx_grpc_server_add_client_stream(asx_grpc_server *srv, const char *path,
                                      asx_grpc_client_stream_fn fn, void *user_data);
/* Not thread-safe (setup): as add_unary for a bidirectional-streaming method. */
int asx_grpc_server_add_bidi(asx_grpc_server *srv, const char *path, asx_grpc_bidi_fn fn,
                             void *user_data);

/* Not thread-safe (setup): points cfg's handler, user_data and request_timeout at srv, so that
 * asx_http2_serve(cx, s, cfg, ...) serves gRPC. srv must outlive every connection. */
void asx_grpc_server_attach(asx_grpc_server *srv, asx_http2_server_config *cfg);
/* An asx_http2_handler (user_data = the asx_grpc_server) for servers that mix gRPC with other
 * HTTP/2 routes: dispatch to it when asx_grpc_is_request(ex). */
int asx_grpc_server_handle(asx_cx *cx, asx_http2_exchange *ex, void *srv);
/* An asx_http2_timeout_fn (user_data = the asx_grpc_server): grpc-timeout as the call's deadline
 * (capped by max_timeout_ns); 0 without a valid grpc-timeout. */
uint64_t asx_grpc_server_timeout(void *srv, const asx_http2_exchange *ex);
/* Handler task only / reader: true when content-type is application/grpc[+...|;...]. */
bool asx_grpc_is_request(const asx_http2_exchange *ex);

/* ---- inside a handler ---- */

/* Task-only (handler). The next request message, borrowed until the next recv or the handler's
 * return. 0; ASX_ECLOSED when the client finished sending; ASX_ELIMIT (over max_recv_message:
 * the call will end RESOURCE_EXHAUSTED); ASX_EPROTO (malformed framing); ASX_EUNSUPPORTED (a
 * compressed message: no codec is configured); ASX_ECANCELED; ASX_ECONNRESET. */
int asx_grpc_call_recv(asx_cx *cx, asx_grpc_call *call, asx_slice *msg);
/* Task-only (handler). Sends one reply message (waits for flow control). 0, ASX_ELIMIT (over
 * max_send_message, nothing sent), ASX_ECANCELED, ASX_ECONNRESET, ASX_ENOMEM. */
int asx_grpc_call_send(asx_cx *cx, asx_grpc_call *call, const void *msg, size_t len);
/* Handler task only: the status to end the call with (message may be NULL; copied, percent-
 * encoded when sent). Overrides the mapping of the handler's return code. 0, ASX_EINVAL,
 * ASX_ENOMEM. */
int asx_grpc_call_set_status(asx_grpc_call *call, int code, const char *message);
/* Handler task only: the method path ("/pkg.Service/Method"). */
asx_slice asx_grpc_call_method(const asx_grpc_call *call);
/* Handler task only: the first request metadata entry `name` (lower-case); ptr NULL if absent. */
asx_slice asx_grpc_call_metadata(const asx_grpc_call *call, const char *name);
/* Handler only: a "-bin" request metadata value, base64-decoded (padded or not) and appended to
 * out. 0, ASX_ENOTFOUND, ASX_EPROTO (not base64), ASX_EINVAL (name without "-bin"), or out's
 * ASX_ELIMIT / ASX_ENOMEM (out unchanged on error). */
int asx_grpc_call_metadata_bin(const asx_grpc_call *call, const char *name, asx_buf *out);
/* Handler only, before the first asx_grpc_call_send: response metadata (copied). name: lower
 * case [a-z0-9-_.], not reserved (":...", "grpc-...", content-type, te, connection-specific
 * fields); a name ending in "-bin" carries any bytes (sent base64), other values printable
 * ASCII. A trailers-only response carries them too. 0, ASX_EINVAL, ASX_ESTATE (headers already
 * sent), ASX_ELIMIT (64 entries, or 16 KiB of names and values with the trailers), ASX_ENOMEM. */
int asx_grpc_call_add_header(asx_grpc_call *call, const char *name, const void *value, size_t len);
/* Handler only: trailing metadata, sent with grpc-status. Same rules; ASX_ESTATE once ended. */
int asx_grpc_call_add_trailer(asx_grpc_call *call, const char *name, const void *value, size_t len);
/* Handler task only: the underlying HTTP/2 exchange (headers, stream id). */
asx_http2_exchange *asx_grpc_call_exchange(asx_grpc_call *call);

/* ---- the demo echo service ---- */

/* Not thread-safe (setup). Registers <service>/Unary (reply = request), <service>/ServerStream
 * (the request echoed N times, N from metadata "x-echo-count", default 3, at most 10000),
 * <service>/ClientStream (reply = concatenation of the requests) and <service>/Bidi (each
 * request echoed as it arrives). Every method first sleeps "x-echo-delay-ms" (metadata, at most
 * 60000) when given. service e.g. "/asx.demo.Echo". 0 or the first add_* error. */
int asx_grpc_register_echo(asx_grpc_server *srv, const char *service);

#ifdef __cplusplus
}
#endif
#endif /* ASX_GRPC_SERVER_H */

/* asx nats client: one connection shared by many tasks: publish (with headers), subscriptions
 * delivered to per-subscription bounded channels, request/reply over one wildcard inbox,
 * flush, keepalive, drain and close. Built on the sans-I/O codec (asx/nats.h) and net streams.
 * See docs/nats_client.md.
 *
 * Every blocking call takes the calling task's `asx_cx *`, is a cancellation checkpoint and
 * honours the task's budget deadline (reported as ASX_ETIMEDOUT). The connection runs a reader,
 * a writer and a keepalive task in a region owned by the task that connected. */
#ifndef ASX_NATS_CLIENT_H
#define ASX_NATS_CLIENT_H

#include "asx/base.h"
#include "asx/nats.h"
#include "asx/net.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One connection; opaque, shared by any number of tasks (see each function). */
typedef struct asx_nats_client asx_nats_client;
/* One subscription; opaque; one consumer task at a time, reference counted inside. */
typedef struct asx_nats_sub asx_nats_sub;

/* What happened to the connection (asx_nats_client_opts.on_event). */
typedef enum asx_nats_conn_event {
  ASX_NATS_DISCONNECTED = 1,    /* the connection broke; reconnecting (err = why) */
  ASX_NATS_RECONNECTED = 2,     /* a new connection is up; subscriptions were re-sent */
  ASX_NATS_CLOSED = 3,          /* no more reconnects (err = why, ASX_ECLOSED after close) */
  ASX_NATS_LAME_DUCK = 4        /* the server announced lame duck mode: it will close this
                                   connection soon (err = 0); a chance to drain or move on */
} asx_nats_conn_event;

/* Called by the client's connection task: keep it short, do not block, do not call the client. */
typedef void (*asx_nats_event_fn)(void *ud, asx_nats_conn_event ev, int err);

/* The connection's state (asx_nats_client_state). */
typedef enum asx_nats_conn_state {
  ASX_NATS_STATE_CONNECTED = 0,
  ASX_NATS_STATE_RECONNECTING = 1,
  ASX_NATS_STATE_CLOSED = 2
} asx_nats_conn_state;

/* A value type; fill with asx_nats_client_opts_default. Strings are copied at connect. */
typedef struct asx_nats_client_opts {
  const char *host;             /* numeric IPv4/IPv6 or "localhost" (default "127.0.0.1") */
  uint16_t port;                /* default 4222 */
  const char *const *servers;   /* when nservers > 0, instead of host/port: "host:port" entries
                                   ("[v6]:port"; port 4222 when omitted). Connect takes the first
                                   that answers; each reconnect attempt takes the next one */
  size_t nservers;
  bool ignore_discovered;       /* do not add the connect_urls a cluster announces in INFO to the
                                   list (default false: they are tried after the configured ones) */
  const char *name;             /* client name shown by the server; NULL = none */
  const char *user, *pass;      /* NULL = none */
  const char *token;            /* auth_token; NULL = none */
  bool echo;                    /* receive own publications (default true) */
  uint64_t connect_timeout_ns;  /* TCP connect + INFO/CONNECT/PONG (default 5 s; 0 = budget) */
  uint64_t ping_interval_ns;    /* keepalive PING period (default 2 min; 0 = off) */
  unsigned max_pings_out;       /* unanswered keepalive PINGs before the connection is declared
                                   stale: ASX_ETIMEDOUT (default 2) */
  size_t max_output;            /* bytes queued for the writer before publishers wait (8 MiB) */
  asx_nats_limits limits;       /* parser limits; the server's max_payload replaces max_payload */
  /* Reconnect (asx_nats_client_connect only; an attached stream cannot be re-dialled): when the
   * connection breaks (I/O error, the server closing, keepalive stale), dial host:port again,
   * redo the handshake, re-send every subscription (with what is left of an auto-unsubscribe)
   * and then what was published meanwhile. Bytes queued but not yet written when it broke are
   * lost (as are those in the socket buffers); flushes in flight fail with ASX_ECONNRESET;
   * requests keep waiting for their own timeout. */
  int max_reconnects;           /* attempts per outage (default 60; 0 = never; -1 = no limit) */
  uint64_t reconnect_wait_ns;   /* pause between attempts (default 2 s) */
  uint64_t reconnect_jitter_ns; /* plus a random 0..jitter (default 100 ms) */
  asx_nats_event_fn on_event;   /* NULL = none */
  /* TLS the NATS way: INFO arrives in plain text, then the client runs the TLS handshake over the
   * same socket and sends CONNECT through it (also on every reconnect). Borrowed: must outlive
   * the client. A server that requires TLS without this, or this with a server that does not
   * offer TLS, is ASX_EPROTO (never a silent downgrade). NULL = plain. */
  asx_tls_config *tls;
  const char *tls_server_name;  /* name the certificate must match; NULL = host */
  void *event_ud;
  const asx_allocator *alloc;   /* NULL = libc */
} asx_nats_client_opts;

/* Thread-safe, pure: the defaults above. */
void asx_nats_client_opts_default(asx_nats_client_opts *o);

/* A received message: one allocation owned by whoever received it (asx_nats_msg_free). */
typedef struct asx_nats_msg {
  const char *subject;          /* NUL-terminated */
  const char *reply;            /* NULL when the publisher gave none */
  const uint8_t *data;          /* payload (len bytes; NUL-terminated for convenience) */
  size_t len;
  asx_slice headers;            /* the NATS/1.0 header block (empty when none): use
                                   asx_nats_hdr_get / asx_nats_hdr_iter_* on it */
  int status;                   /* header status line code (e.g. 503), 0 when none */
} asx_nats_msg;

/* NULL ignored. Not thread-safe against other users of m. */
void asx_nats_msg_free(asx_nats_msg *m);

/* What a subscription does when its channel is full (the consumer is too slow). */
typedef enum asx_nats_slow_policy {
  ASX_NATS_DROP_NEWEST = 0,     /* the arriving message is dropped */
  ASX_NATS_DROP_OLDEST = 1      /* the oldest queued message is dropped to make room */
} asx_nats_slow_policy;

/* A value type; NULL = defaults. */
typedef struct asx_nats_sub_opts {
  size_t capacity;              /* messages queued for the consumer (default 1024) */
  asx_nats_slow_policy policy;  /* default ASX_NATS_DROP_NEWEST; drops are counted */
} asx_nats_sub_opts;

/* Per-subscription counters (a snapshot, asx_nats_sub_stats_get). */
typedef struct asx_nats_sub_stats {
  uint64_t received;            /* messages that arrived for this subscription */
  uint64_t delivered;           /* taken by the consumer (asx_nats_sub_next) */
  uint64_t dropped;             /* dropped by the slow-consumer policy */
  uint64_t pending;             /* queued now */
} asx_nats_sub_stats;

/* Connection counters (a snapshot, asx_nats_client_stats_get). */
typedef struct asx_nats_client_stats {
  uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
  uint64_t dropped;             /* all subscriptions' slow-consumer drops */
  uint64_t pings_answered;      /* server PINGs answered with PONG */
  uint64_t pongs;               /* PONGs received (flushes and keepalives) */
  uint64_t server_errors;       /* -ERR lines received */
  uint64_t reconnects;          /* successful reconnects */
  uint64_t known_servers;       /* servers in the list: configured plus discovered */
  uint64_t lame_ducks;          /* lame duck announcements received */
} asx_nats_client_stats;

/* Task-only. Connects, reads INFO (max_payload, headers support), sends CONNECT (headers and
 * no_responders on) and waits for the PONG of a PING, so an authentication failure is an error
 * here. Starts reader/writer/keepalive tasks in a region owned by the calling task: only that
 * task may close/drain the client. Caller owns *out. err (may be NULL) receives the reason.
 * 0, ASX_EINVAL, ASX_ETIMEDOUT, ASX_ECANCELED, ASX_ECONNRESET (refused), ASX_EPROTO (bad INFO or
 * a -ERR from the server: see err), ASX_EUNSUPPORTED (server without headers), ASX_ENOMEM. */
int asx_nats_client_connect(asx_cx *cx, const asx_nats_client_opts *o, asx_nats_client **out,
                            char *err, size_t errlen);

/* Task-only. As asx_nats_client_connect over an already connected stream (Unix socket, a TLS
 * stream for servers with handshake_first, simulated): o->host/port are unused; o->tls upgrades
 * after INFO as above (then o->tls_server_name is required). Takes ownership of s (closed on failure too). */
int asx_nats_client_attach(asx_cx *cx, asx_stream *s, const asx_nats_client_opts *o,
                           asx_nats_client **out, char *err, size_t errlen);

/* Task-only, any task. Queues PUB/HPUB (headers may be NULL); waits only when max_output bytes
 * are already queued. 0, ASX_EINVAL (subject/reply), ASX_ELIMIT (above the server's
 * max_payload), ASX_ECANCELED, ASX_ETIMEDOUT, or the error that broke the connection. */
int asx_nats_publish(asx_cx *cx, asx_nats_client *c, const char *subject, const char *reply,
                     const asx_nats_hdr *headers, const void *data, size_t len);

/* Task-only, any task. SUB subject [queue]; messages go to the subscription's bounded channel.
 * Caller owns *out (asx_nats_sub_free after unsubscribe/drain/close). opts NULL = defaults.
 * 0, ASX_EINVAL, ASX_ENOMEM, or the error that broke the connection. */
int asx_nats_subscribe(asx_cx *cx, asx_nats_client *c, const char *subject, const char *queue,
                       const asx_nats_sub_opts *opts, asx_nats_sub **out);
/* Handles one message in a subscription's handler task; takes ownership of msg. Return >= 0 to
 * go on, negative to unsubscribe and end the handler. cx is the handler task's. */
typedef int (*asx_nats_msg_fn)(asx_cx *cx, asx_nats_msg *msg, void *ud);
/* Task-only. asx_nats_subscribe plus a handler task in the client's region that calls fn for each
 * message, in order. Drain lets it finish the queued messages; close cancels it (fn's blocking
 * calls then return ASX_ECANCELED). The caller owns *out (asx_nats_sub_free, after close/drain
 * or unsubscribe; do not call asx_nats_sub_next on it). */
int asx_nats_subscribe_handler(asx_cx *cx, asx_nats_client *c, const char *subject,
                               const char *queue, const asx_nats_sub_opts *opts,
                               asx_nats_msg_fn fn, void *ud, asx_nats_sub **out);
/* Task-only (one consumer at a time). The next message; caller owns *msg. 0, ASX_ECANCELED,
 * ASX_ETIMEDOUT, ASX_ECLOSED (unsubscribed, drained or connection ended, and nothing queued). */
int asx_nats_sub_next(asx_cx *cx, asx_nats_sub *s, asx_nats_msg **msg);
/* Task-only. UNSUB sid [max_msgs]: max_msgs 0 stops delivery now; otherwise the subscription
 * ends after max_msgs messages in total. Queued messages stay readable. 0 or connection error. */
int asx_nats_unsubscribe(asx_cx *cx, asx_nats_sub *s, uint64_t max_msgs);
/* Thread-safe snapshot. */
void asx_nats_sub_stats_get(asx_nats_sub *s, asx_nats_sub_stats *out);
/* Once no task uses s: unsubscribes if still active (no wait), drops queued messages, frees.
 * NULL ignored. */
void asx_nats_sub_free(asx_nats_sub *s);

/* Task-only, any task. Publishes with a unique reply subject (under one wildcard inbox
 * subscription made on first use) and waits for the first reply. Caller owns *reply.
 * The request is an obligation ("nats.request") while waiting. 0, ASX_ETIMEDOUT (timeout_ns, or
 * the budget deadline), ASX_ENOTFOUND (no responders: the server's 503), ASX_ECANCELED,
 * publish errors. timeout_ns 0 = budget only. */
int asx_nats_request(asx_cx *cx, asx_nats_client *c, const char *subject,
                     const asx_nats_hdr *headers, const void *data, size_t len,
                     uint64_t timeout_ns, asx_nats_msg **reply);

/* Task-only, any task. PING and wait for its PONG: everything published before was processed by
 * the server. 0, ASX_ETIMEDOUT (timeout_ns or budget), ASX_ECANCELED, connection error. */
int asx_nats_flush(asx_cx *cx, asx_nats_client *c, uint64_t timeout_ns);

/* Thread-safe: 0 while healthy (also while reconnecting), else the error that ended the client
 * (sticky: no more reconnects). */
int asx_nats_client_status(const asx_nats_client *c);
/* Thread-safe: "host:port" of the server in use (or being dialled); "" for an attached stream. */
void asx_nats_client_server(const asx_nats_client *c, char *buf, size_t len);
/* Thread-safe: connected, reconnecting, or closed (status then says why). */
asx_nats_conn_state asx_nats_client_state(const asx_nats_client *c);
/* Thread-safe: the last -ERR text from the server ("" if none), copied into buf. */
void asx_nats_client_last_error(const asx_nats_client *c, char *buf, size_t len);
/* Thread-safe: the server's max_payload in force. */
size_t asx_nats_client_max_payload(const asx_nats_client *c);
/* Thread-safe snapshot. */
void asx_nats_client_stats_get(const asx_nats_client *c, asx_nats_client_stats *out);

/* The connecting task only. Graceful: unsubscribes every subscription, flushes (messages already
 * sent by the server are delivered), closes every subscription channel (consumers read what is
 * queued, then ASX_ECLOSED), flushes pending publishes, then closes like asx_nats_client_close.
 * Returns the flush result (the client is closed and freed in every case). */
int asx_nats_client_drain(asx_cx *cx, asx_nats_client *c, uint64_t timeout_ns);
/* The connecting task only: stops the tasks, fails waiting callers with ASX_ECLOSED, closes
 * every subscription channel, closes the socket, frees c. Subscriptions stay valid until
 * asx_nats_sub_free. NULL ignored. */
void asx_nats_client_close(asx_cx *cx, asx_nats_client *c);

#ifdef __cplusplus
}
#endif
#endif /* ASX_NATS_CLIENT_H */

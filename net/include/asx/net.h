/* asx net: a sans-I/O TLS engine (OpenSSL 3, memory BIOs), byte streams over TCP and Unix sockets
 * driven by the runtime's reactor (asx_io_wait), a TLS stream wrapper over any stream, listeners,
 * connect with timeout, and a server helper (accept loop, connection cap, idle/read timeouts,
 * graceful shutdown).
 *
 * Every blocking call takes the calling task's `asx_cx *`, is a cancellation checkpoint and honours
 * the task's budget deadline. Calls that move bytes report exactly how many bytes moved, also when
 * they fail or are cancelled: nothing is silently dropped. */
#ifndef ASX_NET_H
#define ASX_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "asx/base.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* =============================== Reactor =============================== */
/* The epoll reactor behind every socket wait. Plug it into a THREADS runtime's config before
 * asx_runtime_new; an idle worker then waits in epoll instead of its futex (one at a time) and an
 * eventfd interrupts it. Socket calls on a runtime without it return ASX_EUNSUPPORTED. */
typedef struct asx_net_reactor asx_net_reactor;
/* Any thread. Caller owns *out. The mode (below) is EDGE, or what the environment variable
 * ASX_REACTOR=oneshot|edge says. 0, ASX_ENOMEM, ASX_EIO (epoll/eventfd could not be created),
 * ASX_EINVAL (ASX_REACTOR has another value). */
int asx_net_reactor_new(const asx_allocator *a, asx_net_reactor **out);
/* Not thread-safe: sets cfg->io to this reactor (one reactor per runtime). */
void asx_net_reactor_configure(asx_net_reactor *r, asx_runtime_config *cfg);
/* After the runtime using it was freed. Streams and listeners that waited through it may still be
 * closed afterwards (EDGE mode keeps what they need until the last is closed). NULL ignored. */
void asx_net_reactor_free(asx_net_reactor *r);

/* How descriptors are registered with epoll (docs/net.md, "Reactor modes", has the measurements).
 * EDGE (default): the descriptors of asx streams and listeners are registered once (EPOLLET, both
 *   directions) at their first wait and dropped when the stream or listener is closed: no
 *   epoll_ctl per wait. A caller's own descriptor passed to asx_io_wait is waited on as in ONESHOT.
 * ONESHOT: every wait re-arms its descriptor with one epoll_ctl; nothing is kept between waits. */
typedef enum asx_net_reactor_mode { ASX_REACTOR_ONESHOT = 0, ASX_REACTOR_EDGE = 1 } asx_net_reactor_mode;
/* Not thread-safe: before the runtime using r is created. 0 or ASX_EINVAL (unknown mode). */
int asx_net_reactor_set_mode(asx_net_reactor *r, asx_net_reactor_mode mode);
/* Any thread. */
asx_net_reactor_mode asx_net_reactor_get_mode(const asx_net_reactor *r);

#define ASX_IO_READ 1u  /* readable, or end of stream / error pending */
#define ASX_IO_WRITE 2u /* writable, or error pending */
/* Task-only: waits until the non-blocking descriptor fd is ready for `events`, the absolute
 * runtime time `deadline` (ASX_UNLIMITED = none) or the budget's deadline passes, or the task is
 * cancelled (a cancellation checkpoint). One task per direction per fd at a time. Call it after
 * the operation failed with EAGAIN: on the descriptor of an asx stream in EDGE mode only changes
 * of readiness wake a wait, so a wait on a descriptor already ready may sleep until the next
 * change. After 0, retry the operation: readiness may be spurious. 0, ASX_ETIMEDOUT, ASX_ECANCELED, ASX_EBUSY,
 * ASX_EINVAL (fd cannot be polled), ASX_ENOMEM, ASX_EUNSUPPORTED (runtime without the reactor). */
int asx_io_wait(asx_cx *cx, int fd, unsigned events, uint64_t deadline);

/* =============================== TLS configuration =============================== */

typedef struct asx_tls_config asx_tls_config;

typedef enum asx_tls_role { ASX_TLS_CLIENT = 0, ASX_TLS_SERVER = 1 } asx_tls_role;

typedef enum asx_tls_version { ASX_TLS_1_2 = 0, ASX_TLS_1_3 = 1 } asx_tls_version;

/* A value type; fill with asx_tls_options_default and adjust. Strings are borrowed for the call. */
typedef struct asx_tls_options {
  asx_tls_role role;
  const char *cert_file;       /* PEM certificate chain: required for servers, client cert (mTLS) */
  const char *key_file;        /* PEM private key matching cert_file */
  const char *ca_file;         /* PEM trust anchors; NULL = the system's default roots */
  bool verify_peer;            /* client: verify the server (default true); server: see below */
  bool require_client_cert;    /* server: mTLS, a client without a valid cert is refused */
  const char *const *alpn;     /* protocols: the client offers them, the server picks the first of
                                  its own list the client offered; NULL = no ALPN */
  size_t alpn_count;           /* must be > 0 when alpn != NULL */
  bool alpn_required;          /* server: refuse a client that offers ALPN but shares none */
  bool session_tickets;        /* default true: server issues tickets, client may resume */
  asx_tls_version min_version; /* default TLS 1.2; nothing older is ever allowed */
  const asx_allocator *alloc;  /* NULL = libc (asx objects; OpenSSL allocates on its own) */
} asx_tls_options;

/* Thread-safe, pure: defaults for `role` (verify on, tickets on, TLS 1.2+, no ALPN). */
void asx_tls_options_default(asx_tls_options *o, asx_tls_role role);
/* Thread-safe. Caller owns *out (asx_tls_config_free). Every misconfiguration is an error here,
 * never a silent downgrade: missing/unreadable cert or key, key/cert mismatch, server without a
 * cert, empty ALPN list or name, bad CA path. The reason (with OpenSSL's error-queue text) is
 * written to err (may be NULL) truncated to errlen. 0, ASX_EINVAL, ASX_ETLS, ASX_ENOMEM. */
int asx_tls_config_new(const asx_tls_options *o, asx_tls_config **out, char *err, size_t errlen);
/* Not thread-safe against connections still using it; NULL ignored. */
void asx_tls_config_free(asx_tls_config *cfg);
/* Server, before use, not thread-safe: when a client asks for `server_name` by SNI, the
 * connection switches to `alt` (its certificate and verification settings). The caller keeps
 * ownership of alt and frees it after cfg. 0, ASX_EINVAL, ASX_ENOMEM. */
int asx_tls_config_add_sni(asx_tls_config *cfg, const char *server_name, asx_tls_config *alt);

/* A resumable session (TLS 1.2 ticket or TLS 1.3 PSK). Thread-safe to share read-only. */
typedef struct asx_tls_session asx_tls_session;
/* NULL ignored. */
void asx_tls_session_free(asx_tls_session *s);

/* =============================== TLS engine (sans-I/O) =============================== */
/* One TLS connection over memory buffers: feed it the peer's bytes, take the bytes to send.
 * Not thread-safe: one owner at a time. */
typedef struct asx_tls_conn asx_tls_conn;

/* Caller owns *out. Client: server_name (may be NULL only with verify_peer off) is sent as SNI
 * and checked against the certificate. Server: server_name must be NULL.
 * 0, ASX_EINVAL, ASX_ENOMEM, ASX_ETLS. */
int asx_tls_conn_new(asx_tls_config *cfg, const char *server_name, asx_tls_conn **out);
/* NULL ignored. */
void asx_tls_conn_free(asx_tls_conn *c);
/* Client, before the handshake: try to resume `s` (borrowed; the conn takes its own ref). */
int asx_tls_conn_set_session(asx_tls_conn *c, const asx_tls_session *s);
/* Caller owns *out: the current session if it is resumable (0) or ASX_ENOTFOUND. */
int asx_tls_conn_get_session(asx_tls_conn *c, asx_tls_session **out);
/* Owner: gives the engine n bytes received from the peer. 0 or ASX_ENOMEM. */
int asx_tls_conn_feed(asx_tls_conn *c, const void *data, size_t n);
/* Owner: bytes the engine wants sent to the peer now. */
size_t asx_tls_conn_output_pending(const asx_tls_conn *c);
/* Owner: copies up to cap pending output bytes into buf and removes them; returns how many. */
size_t asx_tls_conn_take_output(asx_tls_conn *c, void *buf, size_t cap);
/* Owner: advances the handshake: 0 done, ASX_EAGAIN (send the output, feed more input), ASX_ETLS
 * (failed: see asx_tls_conn_error_message; an alert may be pending in the output). */
int asx_tls_conn_handshake(asx_tls_conn *c);
/* Owner: decrypts into buf: 0 with *n >= 1, ASX_EAGAIN (feed more), ASX_ECLOSED (peer's close_notify),
 * ASX_ETLS. May produce output (post-handshake messages): check output_pending. */
int asx_tls_conn_read(asx_tls_conn *c, void *buf, size_t cap, size_t *n);
/* Owner: encrypts all n bytes into the output (memory BIOs never short-write): 0 or ASX_ETLS/ASX_ENOMEM. */
int asx_tls_conn_write(asx_tls_conn *c, const void *buf, size_t n);
/* Owner: queues a close_notify alert in the output. 0 or ASX_ETLS. */
int asx_tls_conn_close_notify(asx_tls_conn *c);
/* Owner: the ALPN protocol agreed ("" when none); valid while c lives. */
const char *asx_tls_conn_alpn(const asx_tls_conn *c);
/* Owner: server: the SNI name the client sent (NULL when none); valid while c lives. */
const char *asx_tls_conn_server_name(const asx_tls_conn *c);
/* Owner: true once the handshake resumed a session. */
bool asx_tls_conn_resumed(const asx_tls_conn *c);
/* Owner: true when the peer presented a certificate that verified. */
bool asx_tls_conn_peer_verified(const asx_tls_conn *c);
/* Owner: "TLSv1.3" etc. */
const char *asx_tls_conn_version(const asx_tls_conn *c);
/* Owner: the last failure in words (verification result and OpenSSL's error text); "" when none. */
const char *asx_tls_conn_error_message(const asx_tls_conn *c);

/* Owner: =============================== Streams =============================== */
/* A bidirectional byte stream (TCP, Unix socket, TLS over a stream, simulated). One task may read
 * while another writes; two concurrent readers (or writers) are not allowed. */
typedef struct asx_stream asx_stream;
/* A source of incoming streams: a TCP or Unix socket, or a simulated listener. */
typedef struct asx_listener asx_listener;

/* Task-only: reads 1..cap bytes. 0 (*n >= 1), ASX_ECLOSED (orderly end of stream, *n = 0),
 * ASX_ECANCELED, ASX_ETIMEDOUT (idle timeout or read deadline), ASX_ECONNRESET, ASX_EIO, ASX_ETLS.
 * On any error *n = 0: nothing was consumed. */
int asx_stream_read(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n);
/* Task-only: reads exactly n bytes. 0, or the error that stopped it with *got = bytes already
 * placed in buf (ASX_ECLOSED: the stream ended early). got may be NULL. */
int asx_stream_read_exact(asx_cx *cx, asx_stream *s, void *buf, size_t n, size_t *got);
/* Task-only: writes all n bytes. 0, or the error that stopped it with *written = bytes handed to
 * the kernel (or TLS engine) before it (ASX_ECANCELED, ASX_ETIMEDOUT, ASX_EPIPE, ...). */
int asx_stream_write_all(asx_cx *cx, asx_stream *s, const void *buf, size_t n, size_t *written);
/* Task-only: writes every byte of iov[0..iovcnt) in order; same contract as write_all. */
int asx_stream_writev(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt,
                      size_t *written);
/* Task-only: ends the write direction (TCP FIN; TLS close_notify then FIN). Reads still work. */
int asx_stream_shutdown(asx_cx *cx, asx_stream *s);
/* Any thread, once no task uses s: closes the descriptor(s) and frees s. NULL ignored. */
void asx_stream_close(asx_stream *s);
/* Owner: each wait for readability lasts at most ns (0 = no idle limit): ASX_ETIMEDOUT. */
void asx_stream_set_idle_timeout(asx_stream *s, uint64_t ns);
/* Owner: reads fail with ASX_ETIMEDOUT once the runtime clock passes `when` (ASX_UNLIMITED = none).
 * Used for "a request must arrive within T" (slowloris defence). Writes have their own below. */
void asx_stream_set_read_deadline(asx_stream *s, uint64_t when);
/* Owner: the same for writes (ASX_UNLIMITED = none). */
void asx_stream_set_write_deadline(asx_stream *s, uint64_t when);
/* Owner: the descriptor of a socket stream (the inner one for TLS), -1 for others. */
int asx_stream_fd(const asx_stream *s);
/* Owner: the agreed ALPN protocol of a TLS stream ("" when none); NULL for other streams. */
const char *asx_stream_alpn(const asx_stream *s);

/* =============================== Sockets =============================== */

/* A value type; fill with asx_listen_opts_default. */
typedef struct asx_listen_opts {
  int backlog;                 /* default 511 */
  bool reuseaddr;              /* default true (TCP) */
  bool reuseport;              /* SO_REUSEPORT: several processes share a port; default false */
  bool nodelay;                /* TCP_NODELAY on accepted connections; default true */
  bool v6only;                 /* IPv6 listeners: IPV6_V6ONLY; default true */
  const asx_allocator *alloc;  /* NULL = libc */
} asx_listen_opts;
/* Thread-safe, pure. */
void asx_listen_opts_default(asx_listen_opts *o);

/* Any thread. host is a numeric IPv4/IPv6 address or "localhost" (no DNS: it would block a
 * worker); port 0 = an ephemeral port (see asx_listener_port). Caller owns *out.
 * 0, ASX_EINVAL (bad address), ASX_EIO (socket/bind/listen failed; errno kept), ASX_ENOMEM. */
int asx_tcp_listen(const char *host, uint16_t port, const asx_listen_opts *o, asx_listener **out);
/* Any thread: a Unix stream socket at `path` (an existing socket file there is an error). */
int asx_unix_listen(const char *path, const asx_listen_opts *o, asx_listener **out);
/* Any thread: the bound port (TCP), 0 for Unix and simulated listeners. */
uint16_t asx_listener_port(const asx_listener *l);
/* Any thread: the listening descriptor (-1 for a simulated listener). */
int asx_listener_fd(const asx_listener *l);
/* Task-only: waits for a connection. Caller owns *out. 0, ASX_ECANCELED, ASX_ETIMEDOUT (budget),
 * ASX_EIO (errno kept), ASX_ENOMEM (the connection is closed). EMFILE-like errors are ASX_ELIMIT. */
int asx_listener_accept(asx_cx *cx, asx_listener *l, asx_stream **out);
/* Once no task uses l: closes it (unlinks a Unix socket path; a simulated listener resets the
 * connections never accepted). NULL ignored. */
void asx_listener_close(asx_listener *l);

/* A value type; fill with asx_connect_opts_default. */
typedef struct asx_connect_opts {
  uint64_t timeout_ns;         /* 0 = only the task's budget bounds the connect */
  bool nodelay;                /* default true */
  const asx_allocator *alloc;  /* NULL = libc */
} asx_connect_opts;
/* Thread-safe, pure. */
void asx_connect_opts_default(asx_connect_opts *o);
/* Task-only. host: numeric IPv4/IPv6 or "localhost". Caller owns *out. 0, ASX_EINVAL,
 * ASX_ETIMEDOUT, ASX_ECANCELED, ASX_ECONNRESET (refused), ASX_EIO, ASX_ENOMEM. */
int asx_tcp_connect(asx_cx *cx, const char *host, uint16_t port, const asx_connect_opts *o,
                    asx_stream **out);
/* Task-only: connects to a Unix stream socket. Same results. */
int asx_unix_connect(asx_cx *cx, const char *path, const asx_connect_opts *o, asx_stream **out);
/* Any thread: wraps a connected, owned socket descriptor (made non-blocking). Caller owns *out;
 * on error the descriptor is still the caller's. 0, ASX_EINVAL, ASX_ENOMEM. */
int asx_stream_from_fd(int fd, const asx_allocator *alloc, asx_stream **out);

/* =============================== Simulated streams =============================== */
/* In-memory connections for the deterministic driver (they also work on the threads driver):
 * delivery delay, partial reads/writes and resets are drawn from asx_random, i.e. the driver's
 * seeded PRNG, so one seed replays the same network behaviour. No descriptor is used. */

/* A value type; fill with asx_sim_opts_default. */
typedef struct asx_sim_opts {
  size_t capacity;            /* bytes in flight per direction before a writer waits (64 KiB) */
  size_t max_segment;         /* largest piece moved at once (1460) */
  uint64_t max_delay_ns;      /* each piece is delivered 0..max_delay_ns after it was sent (0) */
  uint32_t partial_permille;  /* chance that a read or write moves fewer bytes than it could (0) */
  uint32_t reset_permille;    /* chance per piece sent that the connection is reset instead (0) */
  const asx_allocator *alloc; /* NULL = libc */
} asx_sim_opts;
/* Thread-safe, pure. */
void asx_sim_opts_default(asx_sim_opts *o);
/* Task-only: a connected pair; the caller owns both (close each with asx_stream_close).
 * 0, ASX_EINVAL, ASX_ENOMEM. */
int asx_sim_pair(asx_cx *cx, const asx_sim_opts *o, asx_stream **a, asx_stream **b);

/* Any thread: an in-memory listener (an asx_listener: asx_listener_accept, asx_listener_close
 * and the server helper work on it). backlog > 0 = pending connections before connect waits.
 * Caller owns *out. 0, ASX_EINVAL, ASX_ENOMEM. */
int asx_sim_listen(const asx_sim_opts *o, size_t backlog, asx_listener **out);
/* Task-only: connects to a listener made by asx_sim_listen. 0, ASX_ECANCELED, ASX_ECONNRESET
 * (listener closed: "refused"), ASX_EINVAL (not a simulated listener), ASX_ENOMEM. */
int asx_sim_connect(asx_cx *cx, asx_listener *l, asx_stream **out);

/* =============================== TLS streams =============================== */
/* Task-only: runs a TLS handshake over `inner` within handshake_timeout_ns (0 = budget only).
 * On success *out owns inner (closing *out closes inner); on failure inner stays the caller's.
 * server_name as for asx_tls_conn_new (client) / NULL (server).
 * 0, ASX_ETLS (see err), ASX_ETIMEDOUT, ASX_ECANCELED, ASX_ECLOSED, ASX_EIO, ASX_ENOMEM.
 * err (may be NULL) receives the failure in words. */
int asx_tls_connect(asx_cx *cx, asx_stream *inner, asx_tls_config *cfg, const char *server_name,
                    uint64_t handshake_timeout_ns, asx_stream **out, char *err, size_t errlen);
/* Task-only: the server side of the above (cfg must be a server configuration). */
int asx_tls_accept(asx_cx *cx, asx_stream *inner, asx_tls_config *cfg,
                   uint64_t handshake_timeout_ns, asx_stream **out, char *err, size_t errlen);
/* Owner: the engine of a TLS stream (ALPN, session, peer info; borrowed); NULL for others. */
asx_tls_conn *asx_stream_tls(asx_stream *s);

/* =============================== Server helper =============================== */
/* Handles one connection. The stream is owned by the server (closed after fn returns). When the
 * server shuts down, fn's task is cancelled with ASX_CANCEL_SHUTDOWN: it should finish the
 * exchange in flight (under asx_mask_push if it must write) and return. */
typedef int (*asx_conn_fn)(asx_cx *cx, asx_stream *s, void *arg);

/* A value type; fill with asx_server_opts_default. */
typedef struct asx_server_opts {
  size_t max_conns;               /* concurrent connections (default 1024); more wait in the backlog */
  uint64_t idle_timeout_ns;       /* no byte received for this long: reads fail (default 60 s) */
  uint64_t read_timeout_ns;       /* initial read deadline after accept (default 10 s; 0 = none);
                                     the handler extends it with asx_stream_set_read_deadline */
  uint64_t handshake_timeout_ns;  /* TLS handshake (default 10 s) */
  uint64_t grace_ns;              /* shutdown: drain time before sockets are cut (default 5 s) */
  asx_tls_config *tls;            /* borrowed; non-NULL = TLS server */
  size_t stack_size;              /* connection task stacks; 0 = runtime default */
  const char *name;               /* borrowed; region/task name */
  const asx_allocator *alloc;     /* NULL = libc */
} asx_server_opts;
/* Thread-safe, pure. */
void asx_server_opts_default(asx_server_opts *o);

typedef struct asx_server asx_server;

typedef struct asx_server_stats {
  uint64_t accepted, active, completed, handshake_failures, accept_errors, forced_closes;
} asx_server_stats;

/* Any thread. Takes ownership of `l` (also on failure). Caller owns *out. 0, ASX_EINVAL, ASX_ENOMEM. */
int asx_server_new(asx_listener *l, const asx_server_opts *o, asx_conn_fn fn, void *arg,
                   asx_server **out);
/* Task-only, once. Accepts and serves connections until asx_server_shutdown is called or the
 * calling task is cancelled; then: stop accepting -> cancel connections (shutdown) -> drain for
 * up to grace_ns -> cut what is left -> return once every connection task has ended.
 * 0, ASX_ECANCELED (the caller was cancelled; the shutdown still completed), ASX_ESTATE, ASX_ENOMEM. */
int asx_server_run(asx_cx *cx, asx_server *srv);
/* Thread-safe (THREADS driver): requests a graceful shutdown; run returns once it completed. */
void asx_server_shutdown(asx_server *srv);
/* Thread-safe snapshot. */
void asx_server_stats_get(asx_server *srv, asx_server_stats *out);
/* After run returned (or if it never ran): closes the listener and frees. NULL ignored. */
void asx_server_free(asx_server *srv);

#ifdef __cplusplus
}
#endif
#endif /* ASX_NET_H */

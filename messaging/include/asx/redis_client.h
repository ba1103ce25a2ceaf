/* asx redis client: one pipelined connection shared by many tasks, RESP3 push delivery, and a
 * bounded connection pool with reconnect backoff. Built on the sans-I/O codec (asx/redis.h) and
 * net streams (asx/net.h). See docs/redis_client.md.
 *
 * Every blocking call takes the calling task's `asx_cx *`, is a cancellation checkpoint and
 * honours the task's budget deadline (reported as ASX_ETIMEDOUT). A connection runs two tasks of
 * its own (a writer that coalesces queued commands, a reader that matches replies in FIFO order);
 * they live in a region owned by the task that connected (or by the pool's owner). */
#ifndef ASX_REDIS_CLIENT_H
#define ASX_REDIS_CLIENT_H

#include "asx/base.h"
#include "asx/net.h"
#include "asx/redis.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One pipelined connection; opaque, shared by any number of tasks (see each function). */
typedef struct asx_redis_client asx_redis_client;

/* Receives one RESP3 push (pub/sub message, invalidation, ...). Runs on the connection's reader
 * task: it must not block for long (replies wait behind it). Takes ownership of `push`. */
typedef void (*asx_redis_push_fn)(void *ud, asx_redis_reply *push);

/* A value type; fill with asx_redis_client_opts_default. Strings are borrowed for the connect
 * call only. */
typedef struct asx_redis_client_opts {
  const char *host;             /* numeric IPv4/IPv6 or "localhost" (default "127.0.0.1") */
  uint16_t port;                /* default 6379 */
  const char *username;         /* NULL = the "default" user */
  const char *password;         /* NULL = no authentication */
  int db;                       /* SELECT db when > 0 */
  int resp;                     /* 2 (default) or 3 (HELLO 3; needed for pub/sub) */
  uint64_t connect_timeout_ns;  /* TCP connect + handshake (default 5 s; 0 = budget only) */
  uint64_t command_timeout_ns;  /* per command (0 = none: the task's budget only) */
  size_t max_inflight;          /* commands queued or awaiting replies before callers wait (1024) */
  size_t max_output;            /* bytes of queued, unsent commands (64 MiB; a bigger one: ELIMIT) */
  asx_redis_limits limits;      /* reply decoder limits (asx_redis_limits_default) */
  asx_redis_push_fn on_push;    /* NULL = pushes go to the queue read by asx_redis_client_next_push */
  void *push_ud;
  size_t push_queue;            /* capacity of that queue (1024); when full the newest push is
                                   dropped and counted (pushes_dropped), never unbounded growth */
  asx_tls_config *tls;          /* TLS from the first byte (redis-server --tls-port) when the
                                   client dials (connect, and a pool without a dial hook);
                                   borrowed, must outlive the client/pool. NULL = plain */
  const char *tls_server_name;  /* name the certificate must match; NULL = host */
  const asx_allocator *alloc;   /* NULL = libc */
} asx_redis_client_opts;

/* Thread-safe, pure: the defaults above. */
void asx_redis_client_opts_default(asx_redis_client_opts *o);

/* Counters (a snapshot). */
typedef struct asx_redis_client_stats {
  uint64_t commands;        /* commands handed to the connection */
  uint64_t replies;         /* replies matched to a command */
  uint64_t abandoned;       /* replies read and discarded because their caller was cancelled */
  uint64_t batches;         /* writes of coalesced commands (commands / batches = coalescing) */
  uint64_t pushes;          /* push messages received (confirmations of SUBSCRIBE excluded) */
  uint64_t pushes_dropped;  /* pushes dropped because the push queue was full */
} asx_redis_client_stats;

/* Task-only. Connects, authenticates (HELLO 3 AUTH or AUTH), selects the db and starts the reader
 * and writer tasks in a region owned by the calling task: only that task may close the client
 * (the connection ends with it otherwise). Caller owns *out. err (may be NULL) receives the
 * reason in words. 0, ASX_EINVAL, ASX_ETIMEDOUT, ASX_ECANCELED, ASX_ECONNRESET (refused),
 * ASX_EPROTO (the server refused AUTH/HELLO/SELECT: see err), ASX_EIO, ASX_ENOMEM. */
int asx_redis_client_connect(asx_cx *cx, const asx_redis_client_opts *o, asx_redis_client **out,
                             char *err, size_t errlen);

/* Task-only. As asx_redis_client_connect over an already connected stream (TLS, Unix socket,
 * simulated): o->host/port and connect_timeout's connect part are unused. Takes ownership of s
 * (closed on failure too). */
int asx_redis_client_attach(asx_cx *cx, asx_stream *s, const asx_redis_client_opts *o,
                            asx_redis_client **out, char *err, size_t errlen);

/* Task-only; any number of tasks may call it concurrently on one client (pipelining). Sends
 * argv[0..argc) (lens NULL = strlen) and waits for its reply. On 0 the caller owns *reply (free
 * with asx_redis_reply_free); a Redis error is a reply of type ERROR/BULK_ERROR, not a failure.
 * The request is an obligation ("redis.request") while in flight. A caller cancelled (or timed
 * out) after sending gets ASX_ECANCELED/ASX_ETIMEDOUT and its reply is read and discarded later:
 * the connection stays in sync, but the command may have run. Errors: ASX_EINVAL, ASX_ELIMIT,
 * ASX_ENOMEM, ASX_ECANCELED, ASX_ETIMEDOUT, ASX_EUNSUPPORTED (pub/sub commands without RESP3),
 * and the error that broke the connection (ASX_ECONNRESET, ASX_ECLOSED, ASX_EPROTO, ...). */
int asx_redis_client_command(asx_cx *cx, asx_redis_client *c, size_t argc,
                             const char *const *argv, const size_t *lens, asx_redis_reply **reply);

/* Task-only (one reader at a time). Waits for the next RESP3 push from the queue (only when
 * opts.on_push is NULL). Caller owns *push. 0, ASX_ECANCELED, ASX_ETIMEDOUT, ASX_ECLOSED (the
 * connection ended and the queue is empty), ASX_ESTATE (a callback is configured). */
int asx_redis_client_next_push(asx_cx *cx, asx_redis_client *c, asx_redis_reply **push);

/* Thread-safe: 0 while the connection is healthy, else the error that broke it (sticky). */
int asx_redis_client_status(const asx_redis_client *c);
/* Thread-safe snapshot of the counters. */
void asx_redis_client_stats_get(const asx_redis_client *c, asx_redis_client_stats *out);
/* The connecting task only, once no other task uses c: stops the reader and writer (pending
 * callers get ASX_ECLOSED), closes the socket and frees c. NULL ignored. */
void asx_redis_client_close(asx_cx *cx, asx_redis_client *c);

/* ---------------------------------------------------------------------------------------------
 * Connection pool
 * ------------------------------------------------------------------------------------------- */

/* A bounded set of connections; opaque; thread-safe except new/close (its creator). */
typedef struct asx_redis_pool asx_redis_pool;

/* A value type; fill with asx_redis_pool_opts_default. */
typedef struct asx_redis_pool_opts {
  asx_redis_client_opts client; /* how each connection is made (strings copied by pool_new) */
  size_t max_conns;             /* connections open at once (default 8) */
  uint64_t backoff_min_ns;      /* first wait after a failed connect (10 ms) */
  uint64_t backoff_max_ns;      /* the wait doubles up to this (1 s) */
  /* Optional: makes each connection's stream (e.g. TCP + asx_tls_connect) instead of a plain
   * TCP connect to client.host/port; called on the task that needs the connection. 0 with *out
   * set (the pool takes it), or an error (counted as a failed connect, backoff applies). */
  int (*dial)(asx_cx *cx, void *ud, asx_stream **out);
  void *dial_ud;
} asx_redis_pool_opts;

/* Thread-safe, pure: the defaults above. */
void asx_redis_pool_opts_default(asx_redis_pool_opts *o);

/* A checked-out connection: a value type holding an obligation ("redis.pool.conn"). */
typedef struct asx_redis_lease {
  asx_redis_client *client;
  asx_redis_pool *pool;
  asx_obligation *ob;
} asx_redis_lease;

/* Pool counters (a snapshot, asx_redis_pool_stats_get). */
typedef struct asx_redis_pool_stats {
  uint64_t open;            /* connections open now (idle + leased) */
  uint64_t idle;
  uint64_t connects;        /* successful connects */
  uint64_t connect_failures;
  uint64_t discarded;       /* broken connections dropped instead of being reused */
  uint64_t waits;           /* checkouts that had to wait for a connection */
} asx_redis_pool_stats;

/* Task-only. Creates an empty pool; connections are made on demand. Their tasks live in a region
 * owned by the calling task, which must call asx_redis_pool_close. Caller owns *out.
 * 0, ASX_EINVAL, ASX_ENOMEM, ASX_ECANCELED. */
int asx_redis_pool_new(asx_cx *cx, const asx_redis_pool_opts *o, asx_redis_pool **out);
/* Task-only. Reserves a connection: an idle healthy one, a new one (after the current reconnect
 * backoff) while fewer than max_conns are open, or waits for one to be returned.
 * 0 (*lease filled, owned by the calling task), ASX_ECANCELED, ASX_ETIMEDOUT (budget deadline),
 * ASX_ECLOSED (pool closing), or the connect error. */
int asx_redis_pool_checkout(asx_cx *cx, asx_redis_pool *p, asx_redis_lease *lease);
/* The task that checked out. Returns the connection (commit); a broken one is closed and
 * discarded instead (abort). The lease is emptied. */
void asx_redis_pool_checkin(asx_cx *cx, asx_redis_lease *lease);
/* Task-only: checkout + command + checkin. Same results as asx_redis_client_command. */
int asx_redis_pool_command(asx_cx *cx, asx_redis_pool *p, size_t argc, const char *const *argv,
                           const size_t *lens, asx_redis_reply **reply);
/* Thread-safe snapshot. */
void asx_redis_pool_stats_get(asx_redis_pool *p, asx_redis_pool_stats *out);
/* The creating task only, after every lease was returned: closes all connections, frees p.
 * Waiting checkouts fail with ASX_ECLOSED. NULL ignored. */
void asx_redis_pool_close(asx_cx *cx, asx_redis_pool *p);

#ifdef __cplusplus
}
#endif
#endif /* ASX_REDIS_CLIENT_H */

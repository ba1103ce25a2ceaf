/* The NATS client's shared state, used by nats_conn.c (connect, reader, writer, keepalive,
 * close), nats_sub.c (subscriptions, message delivery) and nats_request.c (request/reply, flush).
 * Internal to asx_messaging_client. */
#ifndef ASX_NATS_CLIENT_INTERNAL_H
#define ASX_NATS_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "asx/nats_client.h"
#include "cl_wait.h"

#define NC_READ_CHUNK 16384
#define NC_MAX_SERVERS 64        /* configured + discovered servers kept */

struct asx_nats_sub {
  _Atomic(asx_nats_client *) c; /* NULL once out of the client's table (set under c->mu) */
  const asx_allocator *alloc;
  uint64_t sid;
  char sid_str[24];
  char *subject, *queue;       /* copies, to subscribe again after a reconnect (queue may be NULL) */
  asx_chan *ch;                /* asx_nats_msg * */
  size_t capacity;
  asx_nats_slow_policy policy;
  _Atomic int refs;            /* the user's, the client's map, and the reader's while delivering */
  bool active;                 /* in the client's map, messages delivered (c->mu) */
  uint64_t max_msgs;           /* auto-unsubscribe after this many (0 = none) (c->mu) */
  _Atomic uint64_t received, delivered, dropped;
};

/* A server to dial. */
typedef struct nc_server {
  char *host;
  uint16_t port;
} nc_server;

/* A PING in flight: flushes wait on it; keepalive PINGs have no waiter. Heap-allocated because
 * its FIFO position must outlive a cancelled flusher. */
typedef struct nc_pong {
  struct nc_pong *next;
  asx_task *task;              /* the flusher to wake; NULL for keepalive */
  int err;
  bool done, abandoned;
} nc_pong;

/* A request waiting for its reply; on the requester's stack, unlinked under c->mu. */
typedef struct nc_reqw {
  struct nc_reqw *next;
  uint64_t token;
  asx_task *task;
  asx_nats_msg *msg;
  int err;
  bool done;
} nc_reqw;

struct asx_nats_client {
  const asx_allocator *alloc;
  asx_nats_client_opts opts;   /* strings not kept */
  asx_nats_limits limits;      /* with the server's max_payload */
  asx_stream *stream;
  asx_region *region;
  asx_task *super;             /* the connection task: runs reader/writer/keepalive, reconnects */
  asx_region *conn_region;     /* the current connection's tasks (the connection task's) */
  nc_server *servers;          /* what connect and reconnect dial (none for an attached stream):
                                  the configured ones, then those a cluster announced (c->mu) */
  size_t nservers, servers_cap, cur; /* cur: the one in use or being dialled (c->mu) */
  const char *dial_host;       /* host of the last dial (the connection task's) */
  char *name, *user, *pass, *token; /* copies (reconnect repeats the handshake) */
  char *tls_name;              /* opts.tls_server_name copy (NULL = host) */
  asx_nats_parser *parser;
  uint8_t *rbuf;               /* read buffer; bytes left over from the handshake first */
  size_t rpos, rlen;

  pthread_mutex_t mu;          /* guards everything below */
  int err;                     /* sticky: 0 while healthy */
  asx_nats_conn_state state;
  int lost;                    /* the current connection broke with this (0 = fine) */
  cl_waitq super_wq;           /* the connection task waits here for `lost` */
  asx_buf out;
  cl_waitq writer_wq, space_wq;
  asx_nats_sub **subs;         /* active subscriptions, sorted by sid */
  size_t nsubs, subs_cap;
  uint64_t next_sid;
  nc_pong *pong_head, *pong_tail;
  unsigned pings_out;
  char inbox[48];              /* "_INBOX.<random>." */
  uint64_t inbox_sid;          /* 0 until the first request */
  uint64_t next_token;
  nc_reqw *reqs;
  char last_err[256];

  _Atomic uint64_t st_msgs_in, st_msgs_out, st_bytes_in, st_bytes_out, st_dropped, st_pings,
      st_pongs, st_errs, st_reconnects, st_lame_ducks;
};

/* Stops and frees the client; graceful lets subscription handlers finish their queue. */
void nc_destroy(asx_cx *cx, asx_nats_client *c, bool graceful);
/* Ends the client (first error wins): fails every waiter, cancels the connection task. */
void nc_fail(asx_nats_client *c, int err);
/* The current connection broke (reader, writer, keepalive): the connection task reconnects or
 * ends the client. */
void nc_conn_lost(asx_nats_client *c, int err);
/* With c->mu held: true when SUB/UNSUB lines go out now (connected); while reconnecting the
 * subscription table alone is the truth, re-sent after the handshake. */
bool nc_online_locked(const asx_nats_client *c);
/* With c->mu held: output was appended; wakes the writer. */
void nc_kick_locked(asx_nats_client *c, size_t len_before);
/* With c->mu held: waits while the output is over max_output. 0 or an error. */
int nc_wait_space_locked(asx_cx *cx, asx_nats_client *c);
/* Reader: a MSG/HMSG for sid (request inbox or subscription). 0 or ASX_ENOMEM. */
int nc_on_msg(asx_cx *cx, asx_nats_client *c, const asx_nats_event *ev);
/* Reader: a PONG. */
void nc_on_pong(asx_nats_client *c);
/* With c->mu held: queues PING and a pong node (waiter may be NULL = keepalive). */
int nc_ping_locked(asx_nats_client *c, nc_pong *node);
/* With c->mu held: appends SUB (and UNSUB max for auto-unsubscribes) for the inbox and every
 * subscription in the table, for a new connection. */
int nc_resubscribe_locked(asx_nats_client *c, asx_buf *b);
/* Close: detaches every subscription (channels closed). */
void nc_detach_subs(asx_nats_client *c);
/* A copy of s (NULL for NULL, and when out of memory). */
char *nc_strdup(const asx_allocator *a, const char *s);
/* Adds the connect_urls of an INFO to the server list (unless opts.ignore_discovered). */
void nc_learn_servers(asx_nats_client *c, const asx_nats_server_info *info);
/* Drops a reference; frees the subscription at zero. */
void nc_sub_unref(asx_nats_sub *s);

#endif

/* Internal structures of asx_http2_server (the I/O glue). Not public API.
 *
 * Locking: one pthread mutex per connection guards the session and every exchange. It is only
 * held for short, non-blocking sections (session calls, spawn, cancel, oneshot send): no task
 * ever switches out while holding it, so a plain mutex cannot stall a worker behind a parked
 * task. Waiting is done with h2s_wake, which drops the mutex while parked. */
#ifndef ASX_HTTP2_SERVER_INTERNAL_H
#define ASX_HTTP2_SERVER_INTERNAL_H

#include <pthread.h>

#include "asx/http2_server.h"

/* A level-triggered wakeup for exactly one waiting task over asx_park / asx_task_wake: the waiter
 * publishes itself under the connection mutex and clears itself under it after waking, so a
 * signaller (which holds the mutex) only ever wakes a live task; a signal with nobody waiting is
 * remembered in `pending`. */
typedef struct h2s_wake {
  asx_task *waiter;
  bool pending;
} h2s_wake;

typedef struct h2s_conn h2s_conn;

struct asx_http2_exchange {
  h2s_conn *c;
  int32_t id;
  asx_task *task;                  /* handle; released when the exchange is freed */
  asx_http2_exchange *prev, *next; /* connection's list */
  /* request */
  asx_slice method, path, authority, scheme;
  asx_slice *names, *values;
  size_t nheaders;
  void *hdr_mem;                   /* one block holding the arrays and the header bytes */
  asx_buf body;                    /* received DATA not yet read by the handler */
  bool in_end;                     /* END_STREAM from the peer */
  bool h1_body;                    /* upgrade request: the body never used HTTP/2 credit */
  /* state */
  bool reset;                      /* peer RST, or the stream closed before our response ended */
  bool closed;                     /* the session emitted STREAM_CLOSED (its reference is gone) */
  bool task_done;                  /* the handler task finished (its reference is gone) */
  bool res_started, res_ended;
  bool waiting_room;               /* the handler waits for the send buffer to drain */
  h2s_wake wake;
};

struct h2s_conn {
  pthread_mutex_t lock;
  asx_http2_server_config cfg;
  asx_http2_session *sess;
  asx_stream *io;
  asx_cx *cx;                      /* the serving task (it spawns the stream tasks) */
  asx_region *region;              /* writer + stream tasks */
  asx_http2_exchange *streams;     /* every exchange not yet freed */
  asx_http2_exchange *last_hit;    /* lookup cache */
  size_t live_tasks;               /* stream tasks still running */
  h2s_wake writer_wake;
  bool draining;                   /* GOAWAY sent because the serving task was cancelled */
  bool finished;                   /* reading ended: flush what is left, then stop */
  bool dead;                       /* nothing more can be sent (I/O error, fatal session) */
  bool reader_waiting;             /* the serving task is (about to be) blocked in a read */
  int err;                         /* the error that ended the connection (0 = orderly) */
  uint64_t grace_deadline;         /* draining: in-flight streams must be done by then */
  uint64_t flush_deadline;         /* finished: the writer gives up flushing at this time */
  uint64_t last_activity;          /* runtime clock of the last byte received */
  asx_runtime *rt;                 /* for the date header, read by whichever task responds */
  asx_imf_date_cache date;
};

/* server_exchange.c (mutex held): the date header value now, formatted once per second. */
asx_slice h2s_date(h2s_conn *c);

/* server_sync.c: the wake primitive (mutex held on entry and exit of wait). */
int h2s_wake_wait(h2s_conn *c, asx_cx *cx, h2s_wake *w);
void h2s_wake_signal(h2s_wake *w);
static inline void h2s_lock(h2s_conn *c) { pthread_mutex_lock(&c->lock); }
static inline void h2s_unlock(h2s_conn *c) { pthread_mutex_unlock(&c->lock); }
/* Wakes the writer (mutex held). */
void h2s_kick_writer(h2s_conn *c);
/* Marks the connection dead (first error kept) and wakes every waiter (mutex held). */
void h2s_conn_fail(h2s_conn *c, int err);
/* Interrupts the serving task's blocked read once the connection has finished (mutex held). */
void h2s_wake_reader(h2s_conn *c);

/* server_stream.c */
/* The session's event callback (runs with the mutex held, from recv or pending). */
void h2s_on_event(void *ud, asx_http2_session *s, const asx_http2_event *ev);
/* Creates an exchange for an upgraded HTTP/1.1 request (stream 1) and starts its task. */
int h2s_start_upgrade_stream(h2s_conn *c, const asx_http2_upgrade_req *req);
/* Wakes handlers waiting for send room whose buffers drained (mutex held; writer calls it). */
void h2s_wake_room_waiters(h2s_conn *c);
/* Frees every exchange left after the region closed. */
void h2s_free_all_exchanges(h2s_conn *c);

#endif

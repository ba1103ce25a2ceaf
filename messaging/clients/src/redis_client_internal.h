/* The Redis client's connection object, shared by redis_conn.c (pipelining), redis_connect.c
 * (handshake) and redis_pool.c. Internal to asx_messaging_client. */
#ifndef ASX_REDIS_CLIENT_INTERNAL_H
#define ASX_REDIS_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "asx/redis_client.h"
#include "cl_wait.h"

/* Pub/sub command families whose RESP3 confirmations arrive as pushes, not as replies. */
enum { SUB_NONE = 0, SUB_SUBSCRIBE, SUB_PSUBSCRIBE, SUB_SSUBSCRIBE, SUB_UNSUBSCRIBE,
       SUB_PUNSUBSCRIBE, SUB_SUNSUBSCRIBE };

/* A caller waiting for its reply; lives on the caller's stack. */
typedef struct rc_req {
  asx_task *task;          /* woken (under c->mu) once reply/err are set */
  asx_redis_reply *reply;
  int err;
  bool finished;
} rc_req;

/* One command in flight, in send order. `req` is NULL once the caller gave up (the reply is then
 * discarded). `sub` / `sub_n`: a pub/sub command and how many confirmations it expects. */
typedef struct rc_slot {
  rc_req *req;
  uint8_t sub;
  uint32_t sub_n;
} rc_slot;

struct asx_redis_client {
  const asx_allocator *alloc;
  asx_redis_client_opts opts;   /* strings are not kept */
  asx_stream *stream;
  asx_region *region;           /* where reader and writer run */
  bool owns_region;             /* opened by connect (standalone), else the pool's */
  asx_task *reader, *writer;
  asx_redis_decoder *dec;

  pthread_mutex_t mu;           /* guards everything below */
  int err;                      /* sticky: 0 while healthy */
  asx_buf out;                  /* encoded commands not yet taken by the writer */
  rc_slot *ring;                /* commands awaiting replies, FIFO */
  size_t ring_cap;
  uint64_t head, tail;          /* ring positions (monotonic) */
  cl_waitq space_wq;            /* callers waiting for ring space */
  cl_waitq writer_wq;           /* the writer waiting for output */
  uint8_t skip_sub;             /* further confirmations of the last pub/sub command to swallow */
  uint32_t skip_n;

  asx_chan *pushq;              /* when opts.on_push is NULL */
  _Atomic uint64_t st_commands, st_replies, st_abandoned, st_batches, st_pushes, st_dropped;
  asx_redis_client *pool_next;  /* idle list link (pool) */
};

/* Connects (or takes `given`, a connected stream, closed on failure) and runs the handshake;
 * reader/writer are spawned into `region` (NULL: a new region owned by the caller). */
int rc_connect_in(asx_cx *cx, asx_region *region, asx_stream *given,
                  const asx_redis_client_opts *o, asx_redis_client **out, char *err,
                  size_t errlen);
/* Allocates the shared state (no I/O). */
int rc_alloc(const asx_redis_client_opts *o, asx_redis_client **out);
/* Spawns the reader and writer tasks once the handshake is done. */
int rc_start(asx_cx *cx, asx_redis_client *c);
/* Marks the connection broken with `err` (first error wins) and fails every waiting caller. */
void rc_fail(asx_redis_client *c, int err);
/* Stops the tasks (masked joins), frees everything but the region. */
void rc_destroy(asx_cx *cx, asx_redis_client *c);

#endif

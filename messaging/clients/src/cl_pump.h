/* The output pump both clients run as their writer task. Callers append encoded requests to a
 * shared buffer under the connection mutex; the pump swaps that buffer for its own empty one and
 * writes it whole, so many requests leave in one write while callers keep queueing. Internal to
 * asx_messaging_client. */
#ifndef ASX_CL_PUMP_H
#define ASX_CL_PUMP_H

#include <pthread.h>
#include <stdatomic.h>

#include "asx/net.h"
#include "cl_wait.h"

typedef struct cl_pump {
  asx_stream *stream;
  pthread_mutex_t *mu;        /* guards *out and *err */
  asx_buf *out;               /* shared output, appended to by callers */
  const int *err;             /* the connection's sticky error: the pump stops once it is set */
  cl_waitq *writer_wq;        /* where the pump waits for output */
  cl_waitq *space_wq;         /* woken after each swap (callers waiting for room); may be NULL */
  _Atomic uint64_t *batches;  /* counts writes; may be NULL */
  _Atomic uint64_t *bytes;    /* counts bytes written; may be NULL */
  const asx_allocator *alloc;
} cl_pump;

/* Task-only: runs until the connection fails, the stream write fails or the task is cancelled.
 * Returns that error, or 0 when the connection's sticky error ended it. */
int cl_pump_run(asx_cx *cx, const cl_pump *p);

#endif

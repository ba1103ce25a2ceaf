/* ll/injectq.h: the shared injection queue (internal to asx_runtime). An intrusive MPMC FIFO:
 * a mutex orders the list, an atomic length lets idle workers check for work without locking. */
#ifndef ASX_LL_INJECTQ_H
#define ASX_LL_INJECTQ_H

#include <pthread.h>
#include <stddef.h>

typedef struct asx_qnode {
  struct asx_qnode *next;
} asx_qnode;

typedef struct asx_injectq {
  pthread_mutex_t mu;
  asx_qnode *head; /* guarded by mu */
  asx_qnode *tail; /* guarded by mu */
  _Atomic size_t len;
} asx_injectq;

/* Not thread-safe. */
void asx_injectq_init(asx_injectq *q);
/* Not thread-safe: nodes still queued are dropped (they belong to the caller). */
void asx_injectq_destroy(asx_injectq *q);
/* Any thread: appends n (owned by the queue until popped). */
void asx_injectq_push(asx_injectq *q, asx_qnode *n);
/* Any thread: removes the oldest node; NULL when empty (the empty check takes no lock). */
asx_qnode *asx_injectq_pop(asx_injectq *q);
/* Any thread: the number of queued nodes (a snapshot). */
size_t asx_injectq_len(const asx_injectq *q);

#endif

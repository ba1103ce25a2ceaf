/* ll/injectq.c: mutex-protected intrusive FIFO with a lock-free emptiness check. */
#include "ll/injectq.h"

#include <stdatomic.h>

void asx_injectq_init(asx_injectq *q) {
  pthread_mutex_init(&q->mu, NULL);
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
}

void asx_injectq_destroy(asx_injectq *q) {
  pthread_mutex_destroy(&q->mu);
  q->head = q->tail = NULL;
}

void asx_injectq_push(asx_injectq *q, asx_qnode *n) {
  n->next = NULL;
  pthread_mutex_lock(&q->mu);
  if (q->tail != NULL)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  /* Updated under the lock, so a reader that sees len > 0 and then takes the lock finds the node. */
  atomic_fetch_add_explicit(&q->len, 1, memory_order_release);
  pthread_mutex_unlock(&q->mu);
}

asx_qnode *asx_injectq_pop(asx_injectq *q) {
  if (atomic_load_explicit(&q->len, memory_order_acquire) == 0) return NULL;
  pthread_mutex_lock(&q->mu);
  asx_qnode *n = q->head;
  if (n != NULL) {
    q->head = n->next;
    if (q->head == NULL) q->tail = NULL;
    atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
    n->next = NULL;
  }
  pthread_mutex_unlock(&q->mu);
  return n;
}

size_t asx_injectq_len(const asx_injectq *q) { return atomic_load_explicit(&q->len, memory_order_acquire); }

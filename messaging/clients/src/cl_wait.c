/* Wait queues over one-shot wakeups (see cl_wait.h). */
#include "cl_wait.h"

struct cl_waiter {
  cl_waiter *next;
  asx_oneshot *os;
  bool signalled;
};

static void unlink_waiter(cl_waitq *q, cl_waiter *w) {
  cl_waiter **pp = &q->head, *prev = NULL;
  while (*pp && *pp != w) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (!*pp) return;
  *pp = w->next;
  if (q->tail == w) q->tail = prev;
}

int cl_wait(asx_cx *cx, pthread_mutex_t *mu, cl_waitq *q, const asx_allocator *a) {
  cl_waiter w = {.next = NULL, .os = NULL, .signalled = false};
  int rc = asx_oneshot_new(a, 0, &w.os);
  if (rc) return rc;
  if (q->tail)
    q->tail->next = &w;
  else
    q->head = &w;
  q->tail = &w;
  pthread_mutex_unlock(mu);
  rc = asx_oneshot_recv(cx, w.os, NULL);
  pthread_mutex_lock(mu);
  if (w.signalled)
    rc = 0; /* the signaller sent under *mu, so the oneshot is no longer touched: free is safe */
  else
    unlink_waiter(q, &w);
  asx_oneshot_free(w.os);
  return rc;
}

void cl_wake_one(cl_waitq *q) {
  cl_waiter *w = q->head;
  if (!w) return;
  q->head = w->next;
  if (!q->head) q->tail = NULL;
  w->next = NULL;
  w->signalled = true;
  asx_oneshot_send(w->os, NULL);
}

void cl_wake_all(cl_waitq *q) {
  while (q->head) cl_wake_one(q);
}

int cl_cancel_code(asx_cx *cx, int rc) {
  if (rc != ASX_ECANCELED) return rc;
  asx_cancel_kind k = asx_cancel_reason(cx);
  return (k == ASX_CANCEL_DEADLINE || k == ASX_CANCEL_TIMEOUT) ? ASX_ETIMEDOUT : rc;
}

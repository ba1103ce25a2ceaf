/* Wait queues over asx_park (see cl_wait.h). A waiter lives on its task's stack: the signaller
 * touches it only under the guarding mutex, and the waiter unlinks itself under that mutex
 * before returning, so it never outlives its frame. */
#include "cl_wait.h"

struct cl_waiter {
  cl_waiter *next;
  asx_task *task;
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

/* GCC cannot see that the waiter is unlinked (under *mu) before cl_wait returns. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
int cl_wait(asx_cx *cx, pthread_mutex_t *mu, cl_waitq *q, uint64_t until) {
  cl_waiter w = {.next = NULL, .task = asx_cx_task(cx), .signalled = false};
  if (q->tail)
    q->tail->next = &w;
  else
    q->head = &w;
  q->tail = &w;
  int rc = 0;
  while (!w.signalled) {
    pthread_mutex_unlock(mu);
    rc = asx_park(cx, until); /* a wake between unlock and park makes it return at once */
    pthread_mutex_lock(mu);
    if (rc) break;
  }
  if (w.signalled)
    rc = 0;
  else
    unlink_waiter(q, &w);
  return rc;
}

void cl_wake_one(cl_waitq *q) {
  cl_waiter *w = q->head;
  if (!w) return;
  q->head = w->next;
  if (!q->head) q->tail = NULL;
  w->next = NULL;
  w->signalled = true;
  asx_task_wake(w->task);
}

void cl_wake_all(cl_waitq *q) {
  while (q->head) cl_wake_one(q);
}

int cl_wait_flag(asx_cx *cx, pthread_mutex_t *mu, const bool *flag, uint64_t until) {
  while (!*flag) {
    pthread_mutex_unlock(mu);
    int rc = asx_park(cx, until);
    pthread_mutex_lock(mu);
    if (rc && !*flag) return rc;
  }
  return 0;
}

int cl_cancel_code(asx_cx *cx, int rc) {
  if (rc != ASX_ECANCELED) return rc;
  asx_cancel_kind k = asx_cancel_reason(cx);
  return (k == ASX_CANCEL_DEADLINE || k == ASX_CANCEL_TIMEOUT) ? ASX_ETIMEDOUT : rc;
}

uint64_t cl_deadline(asx_cx *cx, uint64_t ns) { return ns ? asx_now(cx) + ns : ASX_UNLIMITED; }

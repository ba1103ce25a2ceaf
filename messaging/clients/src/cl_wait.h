/* Wait queues for the clients: a task waits for a condition guarded by a pthread mutex, another
 * task (or the reader) signals it. Built on asx_oneshot (the only thread-safe, non-blocking wakeup
 * the runtime exports), one per wait. Internal to asx_messaging_client. */
#ifndef ASX_CL_WAIT_H
#define ASX_CL_WAIT_H

#include <pthread.h>

#include "asx/runtime.h"

typedef struct cl_waiter cl_waiter;
typedef struct cl_waitq {
  cl_waiter *head, *tail;
} cl_waitq;

/* Called with *mu held; returns with *mu held. Waits until signalled, cancelled or the budget
 * deadline. A signal that arrives together with a cancellation wins (0): callers loop on their
 * condition anyway. 0, ASX_ECANCELED, ASX_ENOMEM. */
int cl_wait(asx_cx *cx, pthread_mutex_t *mu, cl_waitq *q, const asx_allocator *a);
/* With the guarding mutex held: wakes the oldest waiter / every waiter. */
void cl_wake_one(cl_waitq *q);
void cl_wake_all(cl_waitq *q);

/* ASX_ECANCELED caused by the task's deadline (or a timeout) becomes ASX_ETIMEDOUT. */
int cl_cancel_code(asx_cx *cx, int rc);

#endif

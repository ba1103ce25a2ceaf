/* Waiting inside the clients: a task waits for a condition guarded by a pthread mutex and another
 * task (often the connection's reader) signals it under the same mutex. Built on asx_park /
 * asx_task_wake, so a wait allocates nothing and can carry a deadline. Internal to
 * asx_messaging_client. */
#ifndef ASX_CL_WAIT_H
#define ASX_CL_WAIT_H

#include <pthread.h>

#include "asx/runtime.h"

typedef struct cl_waiter cl_waiter;
typedef struct cl_waitq {
  cl_waiter *head, *tail;
} cl_waitq;

/* Called with *mu held; returns with *mu held. Queues the caller on q and waits until woken by
 * cl_wake_one/all, `until` (absolute runtime time, ASX_UNLIMITED = none), the budget deadline or
 * cancellation. A wakeup that arrives together with a cancellation wins (0): callers re-check
 * their condition in a loop anyway. 0, ASX_ETIMEDOUT, ASX_ECANCELED, ASX_ENOMEM. */
int cl_wait(asx_cx *cx, pthread_mutex_t *mu, cl_waitq *q, uint64_t until);
/* With the guarding mutex held: wakes the oldest waiter / every waiter. */
void cl_wake_one(cl_waitq *q);
void cl_wake_all(cl_waitq *q);

/* Called with *mu held; returns with *mu held. Waits until *flag is true; whoever sets it does so
 * under *mu and then calls asx_task_wake on the waiting task. 0 once *flag is true (also when a
 * cancellation came at the same time), else ASX_ETIMEDOUT / ASX_ECANCELED / ASX_ENOMEM. */
int cl_wait_flag(asx_cx *cx, pthread_mutex_t *mu, const bool *flag, uint64_t until);

/* ASX_ECANCELED caused by the task's deadline (or a timeout) becomes ASX_ETIMEDOUT. */
int cl_cancel_code(asx_cx *cx, int rc);
/* now + ns, or ASX_UNLIMITED when ns is 0. */
uint64_t cl_deadline(asx_cx *cx, uint64_t ns);

#endif

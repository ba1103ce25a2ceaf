/* The epoll reactor of the production driver. One epoll instance per runtime; per-descriptor
 * registrations are EPOLLONESHOT and re-armed by every wait (epoll_ctl MOD re-checks readiness,
 * so readiness that arrived between the failed syscall and the wait is never lost). At most one
 * worker blocks in epoll_wait at a time (the "poller"); an eventfd interrupts it. */
#ifndef ASX_RT_REACTOR_H
#define ASX_RT_REACTOR_H

#include "rt_internal.h"

typedef struct rt_reactor rt_reactor;

/* 0, ASX_ENOMEM or ASX_EIO (epoll/eventfd could not be created). */
int rt_reactor_new(const asx_allocator *a, rt_reactor **out);
void rt_reactor_free(rt_reactor *r);
/* The driver hooks (see rt_driver_ops). */
int rt_reactor_register(rt_reactor *r, int fd, unsigned events, struct asx_task *t);
bool rt_reactor_unregister(rt_reactor *r, int fd, unsigned events, struct asx_task *t);
/* Waits up to timeout_ms (-1 = forever, 0 = just look) and wakes the tasks whose descriptors are
 * ready, on behalf of worker w. Returns the number of tasks woken. */
int rt_reactor_poll(rt_reactor *r, rt_worker *w, int timeout_ms);
/* Thread-safe: makes a blocked (or the next) rt_reactor_poll return. */
void rt_reactor_interrupt(rt_reactor *r);
/* True once any descriptor was ever registered (lets idle workers skip epoll when unused). */
bool rt_reactor_in_use(rt_reactor *r);

#endif

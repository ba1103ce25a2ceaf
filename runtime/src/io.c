/* asx_io_wait: the task side of the reactor. The driver records the waiting task, the task parks
 * in rt_wait (so cancellation, the budget deadline and the caller's deadline all end the wait the
 * same way as for any other blocking call), and the registration is always withdrawn before
 * returning so the driver never holds a pointer to a task that moved on. */
#include "rt_internal.h"

int asx_io_wait(asx_cx *cx, int fd, unsigned events, uint64_t deadline) {
  asx_task *t = cx->task;
  asx_runtime *rt = t->rt;
  if (fd < 0 || events == 0 || (events & ~(ASX_IO_READ | ASX_IO_WRITE)) != 0) return ASX_EINVAL;
  if (!rt->drv->io_register) return ASX_EUNSUPPORTED;
  if (rt_cancel_observable(t)) return ASX_ECANCELED;
  int err = rt->drv->io_register(rt->drv_state, fd, events, t);
  if (err) return err;
  /* Woken by readiness, or spuriously (a stale wake from an earlier wait): either way the
   * caller retries its operation, and on EAGAIN waits again. */
  err = rt_wait(t, deadline);
  bool fired = rt->drv->io_unregister(rt->drv_state, fd, events, t);
  if (err == ASX_ECANCELED || err == ASX_ENOMEM) return err;
  if (fired) return 0;
  return err;
}

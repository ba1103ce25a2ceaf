/* ll/parker.h: parks a worker thread on a futex with a single permit (internal to asx_runtime).
 * unpark before park makes the next park return at once, so a wakeup is never lost. */
#ifndef ASX_LL_PARKER_H
#define ASX_LL_PARKER_H

#include <stdint.h>

typedef struct asx_parker {
  _Atomic uint32_t state; /* EMPTY, NOTIFIED (a permit) or PARKED */
} asx_parker;

/* Not thread-safe. */
void asx_parker_init(asx_parker *p);
/* Only the owning thread: consumes the permit, or sleeps until unpark or timeout_ns elapses
 * (< 0 = forever). May return spuriously: callers re-check their condition. */
void asx_parker_park(asx_parker *p, int64_t timeout_ns);
/* Any thread: grants the permit and wakes the owner if it sleeps. */
void asx_parker_unpark(asx_parker *p);

#endif

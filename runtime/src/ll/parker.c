/* ll/parker.c: futex parker. States: EMPTY -> (park) PARKED -> (unpark) NOTIFIED -> (park) EMPTY.
 * The futex word is the state itself: FUTEX_WAIT sleeps only while it is still PARKED, which closes
 * the window between deciding to sleep and sleeping. */
#include "ll/parker.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { EMPTY = 0, NOTIFIED = 1, PARKED = UINT32_MAX }; /* EMPTY - 1 == PARKED (unsigned wrap) */

static void futex_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns) {
  struct timespec ts, *tsp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    tsp = &ts;
  }
  /* EINTR, EAGAIN (value changed) and ETIMEDOUT all just return: the caller re-checks. */
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expect, tsp, NULL, 0);
}

static void futex_wake_one(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void asx_parker_init(asx_parker *p) { atomic_init(&p->state, EMPTY); }

void asx_parker_park(asx_parker *p, int64_t timeout_ns) {
  /* NOTIFIED -> EMPTY: a permit was waiting, consume it. EMPTY -> PARKED: go to sleep. */
  if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acquire) == NOTIFIED) return;
  if (timeout_ns < 0) {
    for (;;) {
      futex_wait(&p->state, PARKED, -1);
      uint32_t expect = NOTIFIED;
      if (atomic_compare_exchange_strong_explicit(&p->state, &expect, EMPTY, memory_order_acquire,
                                                  memory_order_relaxed))
        return;
      /* spurious wakeup (signal): still PARKED, sleep again */
    }
  }
  futex_wait(&p->state, PARKED, timeout_ns);
  /* Woken, timed out or interrupted: leave PARKED either way (consuming a permit if one came). */
  atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire);
}

void asx_parker_unpark(asx_parker *p) {
  if (atomic_exchange_explicit(&p->state, NOTIFIED, memory_order_release) == PARKED) futex_wake_one(&p->state);
}

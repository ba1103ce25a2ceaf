/* ll/clock.h: the monotonic clock (internal to asx_runtime). */
#ifndef ASX_LL_CLOCK_H
#define ASX_LL_CLOCK_H

#include <stdint.h>

/* Thread-safe: CLOCK_MONOTONIC in nanoseconds (never goes back; unrelated to wall time). */
uint64_t asx_clock_mono_ns(void);

#endif

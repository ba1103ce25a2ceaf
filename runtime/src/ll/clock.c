/* ll/clock.c: CLOCK_MONOTONIC through the vDSO (no syscall on Linux). */
#include "ll/clock.h"

#include <time.h>

uint64_t asx_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

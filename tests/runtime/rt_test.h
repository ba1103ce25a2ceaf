/* Shared helpers for the runtime suites: a runtime per test that is always torn down with the
 * "nothing left behind" assertions, and a thread-safe trace recorder. */
#ifndef ASX_RT_TEST_H
#define ASX_RT_TEST_H

#include <pthread.h>

#include "asx/runtime.h"

#define REC_MAX 4096

typedef struct rec_event {
  asx_trace_type type;
  uint64_t task_id, region_id, value;
  asx_cancel_kind kind;
  asx_outcome outcome;
  int code, line;
  char name[48], file[128], message[96];
} rec_event;

typedef struct trace_rec {
  pthread_mutex_t mu;
  size_t n;
  rec_event ev[REC_MAX];
} trace_rec;

/* The recorder every test runtime writes to (reset by rt_test_config). */
extern trace_rec g_rec;

/* Config with the given driver/workers and the trace recorder installed. */
asx_runtime_config rt_test_config(asx_driver_kind drv, unsigned workers);
/* Creates a runtime, runs fn as main, frees the runtime and asserts: run returned 0, no live
 * task, region or obligation. Returns the root outcome; *rc gets main's result (may be NULL). */
asx_outcome rt_test_run(const asx_runtime_config *cfg, asx_task_fn fn, void *arg, int *rc,
                        asx_runtime_stats *stats);
/* Number of recorded events of a type. */
size_t rec_count(asx_trace_type t);
/* First recorded event of a type, or NULL. */
const rec_event *rec_find(asx_trace_type t);

#define MS_NS 1000000ull

#endif

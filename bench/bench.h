/* Shared helpers for asx-bench groups: timing, best-of-N repetition and the JSON result line. */
#ifndef ASX_BENCH_H
#define ASX_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* One benchmark group: argv[0] is the group name; an optional argv[1] filters benches by substring. */
typedef int (*bench_group_fn)(int argc, char **argv);

int bench_runtime_main(int argc, char **argv);
/* bench_ll.c: queues, timers, parker (part of the runtime group). */
int bench_ll(const char *filter);

/* Monotonic nanoseconds (wall clock). */
uint64_t bench_now_ns(void);

/* The clock every bench measures with: CPU time consumed by the whole process (all threads), in
 * ns, unless ASX_BENCH_CLOCK=wall selects the wall clock. On a shared, oversubscribed machine the
 * wall clock mostly measures the other processes; CPU time measures the work done. For the
 * single-threaded benches both agree on an idle machine. */
uint64_t bench_clock_ns(void);
/* "process_cpu" or "wall". */
const char *bench_clock_name(void);

/* Runs fn(arg, iters) `reps` times and returns the best (lowest) nanoseconds per iteration. The
 * machine is shared: the minimum is the figure least disturbed by other processes. */
double bench_best_ns(void (*fn)(void *arg, uint64_t iters), void *arg, uint64_t iters, int reps);

/* Prints {"bench":..,"value":..,"unit":..,"peer":..,"peer_value":..,"ratio":..} on one line.
 * peer may be NULL (then peer, peer_value and ratio are null). ratio = value / peer_value. */
void bench_emit(const char *bench, double value, const char *unit, const char *peer, double peer_value);

/* False when ASX_BENCH_PEERS=0: skip the peer measurements (e.g. to profile only asx). */
int bench_peers_enabled(void);

/* True when `name` passes the optional filter (NULL = everything). */
int bench_selected(const char *filter, const char *name);

/* Resident set size of this process in bytes (/proc/self/statm), 0 if unknown. */
uint64_t bench_rss_bytes(void);

/* Peer: two threads handing a turn back and forth with a pthread mutex + condvar; `iters` round
 * trips (two hand-offs each). For bench_best_ns. */
void bench_peer_condvar_pingpong(void *arg, uint64_t iters);

#endif

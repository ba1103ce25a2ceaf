/* asx-bench runtime: the scheduler's leaf data structures (run queue, injection queue, timer heap,
 * parker), single-threaded costs plus the cross-thread wake-up against a condvar. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench.h"
#include "ll/injectq.h"
#include "ll/parker.h"
#include "ll/rng.h"
#include "ll/timerheap.h"
#include "ll/wsdeque.h"

enum { REPS = 5 };

static void run_wsdeque(void *arg, uint64_t iters) {
  asx_wsdeque *d = arg;
  for (uint64_t i = 0; i < iters; i++) {
    if (!asx_wsdeque_push(d, (void *)(uintptr_t)(i + 1))) abort();
    if (asx_wsdeque_pop(d) == NULL) abort();
  }
}

static void run_injectq(void *arg, uint64_t iters) {
  asx_injectq *q = arg;
  asx_qnode n;
  for (uint64_t i = 0; i < iters; i++) {
    asx_injectq_push(q, &n);
    if (asx_injectq_pop(q) != &n) abort();
  }
}

/* A heap holding 1024 timers; each iteration pops the earliest and re-arms it later. */
struct heapb {
  asx_timer_heap h;
  asx_timer_node nodes[1024];
};

static void run_timerheap(void *arg, uint64_t iters) {
  struct heapb *b = arg;
  for (uint64_t i = 0; i < iters; i++) {
    asx_timer_node *n = asx_timer_heap_pop(&b->h);
    n->deadline += 1024 + (n->deadline * 7) % 64;
    if (asx_timer_heap_push(&b->h, n) != 0) abort();
  }
}

struct parkpp {
  asx_parker main_p, helper_p;
  _Atomic int turn;
  uint64_t iters;
};

static void *park_helper(void *arg) {
  struct parkpp *p = arg;
  for (uint64_t i = 0; i < p->iters; i++) {
    while (atomic_load_explicit(&p->turn, memory_order_acquire) != 1) asx_parker_park(&p->helper_p, -1);
    atomic_store_explicit(&p->turn, 0, memory_order_release);
    asx_parker_unpark(&p->main_p);
  }
  return NULL;
}

static void run_parker_pingpong(void *arg, uint64_t iters) {
  (void)arg;
  struct parkpp p = {.iters = iters};
  asx_parker_init(&p.main_p);
  asx_parker_init(&p.helper_p);
  atomic_init(&p.turn, 0);
  pthread_t th;
  if (pthread_create(&th, NULL, park_helper, &p) != 0) abort();
  for (uint64_t i = 0; i < iters; i++) {
    atomic_store_explicit(&p.turn, 1, memory_order_release);
    asx_parker_unpark(&p.helper_p);
    while (atomic_load_explicit(&p.turn, memory_order_acquire) != 0) asx_parker_park(&p.main_p, -1);
  }
  pthread_join(th, NULL);
}

int bench_ll(const char *filter) {
  if (bench_selected(filter, "wsdeque_push_pop")) {
    asx_wsdeque d;
    if (asx_wsdeque_init(&d, 256) != 0) return 1;
    bench_emit("wsdeque_push_pop", bench_best_ns(run_wsdeque, &d, 2000000, REPS), "ns/pair", NULL, 0);
    asx_wsdeque_destroy(&d);
  }
  if (bench_selected(filter, "injectq_push_pop")) {
    asx_injectq q;
    asx_injectq_init(&q);
    bench_emit("injectq_push_pop", bench_best_ns(run_injectq, &q, 2000000, REPS), "ns/pair", NULL, 0);
    asx_injectq_destroy(&q);
  }
  if (bench_selected(filter, "timerheap_pop_push_1024")) {
    struct heapb *b = calloc(1, sizeof *b);
    if (b == NULL || asx_timer_heap_init(&b->h, NULL) != 0) return 1;
    asx_rng r;
    asx_rng_seed(&r, 1);
    for (int i = 0; i < 1024; i++) {
      asx_timer_node_init(&b->nodes[i]);
      b->nodes[i].deadline = asx_rng_below(&r, 1024);
      if (asx_timer_heap_push(&b->h, &b->nodes[i]) != 0) return 1;
    }
    bench_emit("timerheap_pop_push_1024", bench_best_ns(run_timerheap, b, 1000000, REPS), "ns/pair", NULL, 0);
    asx_timer_heap_destroy(&b->h);
    free(b);
  }
  if (bench_selected(filter, "parker_pingpong")) {
    /* Two hand-offs per iteration; process CPU time includes both threads and the futex calls. */
    double ns = bench_best_ns(run_parker_pingpong, NULL, 50000, REPS) / 2;
    double peer = bench_peers_enabled() ? bench_best_ns(bench_peer_condvar_pingpong, NULL, 50000, REPS) / 2 : 0;
    bench_emit("parker_pingpong", ns, "ns/handoff", "pthread_mutex_condvar_pingpong", peer);
  }
  return 0;
}

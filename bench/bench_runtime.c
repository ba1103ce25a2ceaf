/* asx-bench runtime: the low-level mechanisms (context switch, task stacks) against their
 * classic peers, measured in the same run. The public-API benches live in bench_runtime_api.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "bench.h"
#include "ll/ctx.h"
#include "ll/stack.h"

enum { REPS = 7 };

/* ---- raw context switch: two contexts bouncing, two switches per iteration -------------------- */
struct swb {
  asx_ctx main, task;
};

static void switch_entry(void *arg) {
  struct swb *b = arg;
  for (;;) asx_ctx_switch(&b->task, &b->main);
}

static void run_switch(void *arg, uint64_t iters) {
  struct swb *b = arg;
  for (uint64_t i = 0; i < iters; i++) asx_ctx_switch(&b->main, &b->task);
}

struct ucb {
  ucontext_t main, task;
};

static struct ucb *uc_bench; /* makecontext passes ints only; the bench is single-threaded */

static void uc_switch_entry(void) {
  for (;;) swapcontext(&uc_bench->task, &uc_bench->main);
}

static void run_uc_switch(void *arg, uint64_t iters) {
  struct ucb *b = arg;
  for (uint64_t i = 0; i < iters; i++) swapcontext(&b->main, &b->task);
}

static int bench_switch(asx_stack_pool *pool) {
  asx_stack s1, s2;
  if (asx_stack_get(pool, 0, &s1) != 0 || asx_stack_get(pool, 0, &s2) != 0) return 1;
  struct swb b;
  asx_ctx_init_thread(&b.main);
  asx_ctx_init(&b.task, s1.lo, s1.size, switch_entry, &b);
  asx_ctx_switch(&b.main, &b.task); /* warm up: first entry */
  double ns = bench_best_ns(run_switch, &b, 2000000, REPS) / 2;

  struct ucb u;
  uc_bench = &u;
  getcontext(&u.task);
  u.task.uc_stack.ss_sp = s2.lo;
  u.task.uc_stack.ss_size = s2.size;
  u.task.uc_link = NULL;
  makecontext(&u.task, uc_switch_entry, 0);
  swapcontext(&u.main, &u.task);
  double peer = bench_peers_enabled() ? bench_best_ns(run_uc_switch, &u, 200000, REPS) / 2 : 0;
  /* Both tasks stay suspended forever; their stacks are simply never reused. */
  bench_emit("ctx_switch", ns, "ns/switch", "ucontext_swapcontext", peer);
  return 0;
}

/* ---- context creation: init a context on a cached stack, run it to its final switch ----------- */
struct createb {
  asx_stack_pool *pool;
  asx_ctx main, task;
};

static void create_entry(void *arg) {
  struct createb *b = arg;
  asx_ctx_switch_final(&b->task, &b->main);
}

static void run_create(void *arg, uint64_t iters) {
  struct createb *b = arg;
  for (uint64_t i = 0; i < iters; i++) {
    asx_stack s;
    if (asx_stack_get(b->pool, 0, &s) != 0) abort();
    asx_ctx_init(&b->task, s.lo, s.size, create_entry, b);
    asx_ctx_switch(&b->main, &b->task);
    asx_stack_put(b->pool, &s);
  }
}

static struct {
  ucontext_t main, task;
} uc_create;

static void uc_create_entry(void) { setcontext(&uc_create.main); }

/* getcontext returns twice: keep it out of the loop's frame so no loop variable can be clobbered. */
__attribute__((noinline)) static void uc_create_once(asx_stack_pool *pool) {
  asx_stack s;
  if (asx_stack_get(pool, 0, &s) != 0) abort();
  getcontext(&uc_create.task);
  uc_create.task.uc_stack.ss_sp = s.lo;
  uc_create.task.uc_stack.ss_size = s.size;
  uc_create.task.uc_link = NULL;
  makecontext(&uc_create.task, uc_create_entry, 0);
  swapcontext(&uc_create.main, &uc_create.task);
  asx_stack_put(pool, &s);
}

static void run_uc_create(void *arg, uint64_t iters) {
  for (uint64_t i = 0; i < iters; i++) uc_create_once(arg);
}

static void bench_create(asx_stack_pool *pool) {
  struct createb b = {.pool = pool};
  asx_ctx_init_thread(&b.main);
  double ns = bench_best_ns(run_create, &b, 500000, REPS);
  double peer = bench_peers_enabled() ? bench_best_ns(run_uc_create, pool, 100000, REPS) : 0;
  bench_emit("ctx_create_run_finish", ns, "ns/context", "ucontext_make_swap_set", peer);
}

/* ---- stacks: cached get/put against a fresh mmap + guard + munmap ---------------------------- */
static void run_stack(void *arg, uint64_t iters) {
  asx_stack_pool *pool = arg;
  for (uint64_t i = 0; i < iters; i++) {
    asx_stack s;
    if (asx_stack_get(pool, 0, &s) != 0) abort();
    *(volatile char *)((char *)s.lo + s.size - 1) = 1; /* a task always touches its top page */
    asx_stack_put(pool, &s);
  }
}

static int bench_stacks(void) {
  asx_stack_pool *cached, *uncached;
  if (asx_stack_pool_new(64 * 1024, 64, &cached) != 0 || asx_stack_pool_new(64 * 1024, 0, &uncached) != 0) return 1;
  double ns = bench_best_ns(run_stack, cached, 1000000, REPS);
  double peer = bench_peers_enabled() ? bench_best_ns(run_stack, uncached, 20000, REPS) : 0;
  bench_emit("stack_get_put_cached", ns, "ns/pair", "mmap_guard_touch_munmap", peer);
  asx_stack_pool_free(cached);
  asx_stack_pool_free(uncached);
  return 0;
}

int bench_runtime_api(const char *filter); /* bench_runtime_api.c */

static void *no_op_thread(void *arg) { return arg; }

int bench_runtime_main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  /* Once a process has created a thread, glibc stops taking its single-threaded shortcuts for
   * good (pthread_mutex_lock/unlock without the lock prefix, malloc without arena locks). A real
   * runtime always runs in a multi-threaded process, and the parker bench creates threads anyway,
   * so every later figure depended on the filter. Create one up front: all benches, whole group
   * or filtered, measure the multi-threaded case (spawn+join: ~95 ns single-threaded vs ~130). */
  pthread_t th;
  if (pthread_create(&th, NULL, no_op_thread, NULL) == 0) pthread_join(th, NULL);
  asx_stack_pool *pool;
  if (asx_stack_pool_new(64 * 1024, 64, &pool) != 0) {
    fprintf(stderr, "asx-bench: cannot create a stack pool\n");
    return 1;
  }
  int rc = 0;
  if (bench_selected(filter, "ctx_switch")) rc |= bench_switch(pool);
  if (bench_selected(filter, "ctx_create_run_finish")) bench_create(pool);
  if (bench_selected(filter, "stack_get_put_cached")) rc |= bench_stacks();
  rc |= bench_ll(filter);
  rc |= bench_runtime_api(filter);
  /* The pool still lends the two stacks parked in the switch bench: the process exits instead. */
  return rc;
}

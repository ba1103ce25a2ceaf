/* asx-bench runtime: benches through the public runtime API (asx/runtime.h) against pthread
 * peers measured in the same run: spawn+join of an empty task, yield, channel ping-pong between
 * two tasks, and the resident memory of 1e5 concurrently sleeping tasks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "asx/runtime.h"
#include "bench.h"

int bench_runtime_api(const char *filter);

enum { REPS = 5 };

/* Runs body(cx, arg) as the main task of a fresh one-worker runtime (THREADS driver). */
static int run_on_one_worker(asx_task_fn body, void *arg) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = 1;
  asx_runtime *rt;
  if (asx_runtime_new(&cfg, &rt) != 0) return -1;
  int rc = -1;
  asx_outcome outcome;
  int err = asx_runtime_run(rt, body, arg, &rc, &outcome);
  asx_runtime_free(rt);
  return err != 0 ? err : rc;
}

/* ---- spawn + join of an empty task ----------------------------------------------------------- */
struct timed {
  uint64_t iters;
  double best_ns; /* per iteration, best of REPS */
};

static int empty_task(asx_cx *cx, void *arg) {
  (void)cx;
  (void)arg;
  return 0;
}

static int spawn_join_main(asx_cx *cx, void *arg) {
  struct timed *t = arg;
  t->best_ns = -1;
  for (int r = 0; r < REPS; r++) {
    uint64_t t0 = bench_clock_ns();
    for (uint64_t i = 0; i < t->iters; i++) {
      asx_task *h;
      if (asx_spawn(cx, NULL, empty_task, NULL, NULL, &h) != 0) return -1;
      if (asx_task_join(cx, h, NULL, NULL) != 0) return -1;
    }
    double per = (double)(bench_clock_ns() - t0) / (double)t->iters;
    if (t->best_ns < 0 || per < t->best_ns) t->best_ns = per;
  }
  return 0;
}

static void *pthread_empty(void *arg) { return arg; }

static void run_pthread_create_join(void *arg, uint64_t iters) {
  (void)arg;
  for (uint64_t i = 0; i < iters; i++) {
    pthread_t th;
    if (pthread_create(&th, NULL, pthread_empty, NULL) != 0) abort();
    pthread_join(th, NULL);
  }
}

static int bench_spawn_join(void) {
  struct timed t = {.iters = 200000};
  if (run_on_one_worker(spawn_join_main, &t) != 0) return 1;
  double peer = bench_peers_enabled() ? bench_best_ns(run_pthread_create_join, NULL, 5000, REPS) : 0;
  bench_emit("spawn_join_empty_task", t.best_ns, "ns/task", "pthread_create_join", peer);
  return 0;
}

/* ---- yield: two tasks yielding to each other on one worker ----------------------------------- */
struct yielder {
  uint64_t iters;
};

static int yield_loop(asx_cx *cx, void *arg) {
  struct yielder *y = arg;
  for (uint64_t i = 0; i < y->iters; i++) asx_yield(cx);
  return 0;
}

static int yield_main(asx_cx *cx, void *arg) {
  struct timed *t = arg;
  struct yielder y = {t->iters};
  t->best_ns = -1;
  for (int r = 0; r < REPS; r++) {
    asx_task *a, *b;
    uint64_t t0 = bench_clock_ns();
    if (asx_spawn(cx, NULL, yield_loop, &y, NULL, &a) != 0) return -1;
    if (asx_spawn(cx, NULL, yield_loop, &y, NULL, &b) != 0) return -1;
    asx_task_join(cx, a, NULL, NULL);
    asx_task_join(cx, b, NULL, NULL);
    double per = (double)(bench_clock_ns() - t0) / (double)(2 * t->iters);
    if (t->best_ns < 0 || per < t->best_ns) t->best_ns = per;
  }
  return 0;
}

static int bench_yield(void) {
  struct timed t = {.iters = 500000};
  if (run_on_one_worker(yield_main, &t) != 0) return 1;
  bench_emit("yield_switch", t.best_ns, "ns/yield", NULL, 0);
  return 0;
}

/* ---- channel ping-pong between two tasks on one worker --------------------------------------- */
struct pingpong {
  asx_chan *to_pong, *to_ping;
  uint64_t iters;
};

static int pong_task(asx_cx *cx, void *arg) {
  struct pingpong *p = arg;
  for (uint64_t i = 0; i < p->iters; i++) {
    uint64_t v;
    if (asx_chan_recv(cx, p->to_pong, &v) != 0) return -1;
    v++;
    if (asx_chan_send(cx, p->to_ping, &v) != 0) return -1;
  }
  return 0;
}

static int ping_main(asx_cx *cx, void *arg) {
  struct timed *t = arg;
  t->best_ns = -1;
  for (int r = 0; r < REPS; r++) {
    struct pingpong p = {NULL, NULL, t->iters};
    if (asx_chan_new(NULL, sizeof(uint64_t), 1, &p.to_pong) != 0) return -1;
    if (asx_chan_new(NULL, sizeof(uint64_t), 1, &p.to_ping) != 0) return -1;
    asx_task *pong;
    uint64_t t0 = bench_clock_ns();
    if (asx_spawn(cx, NULL, pong_task, &p, NULL, &pong) != 0) return -1;
    uint64_t v = 0;
    for (uint64_t i = 0; i < t->iters; i++) {
      if (asx_chan_send(cx, p.to_pong, &v) != 0) return -1;
      if (asx_chan_recv(cx, p.to_ping, &v) != 0) return -1;
    }
    asx_task_join(cx, pong, NULL, NULL);
    double per = (double)(bench_clock_ns() - t0) / (double)(2 * t->iters);
    if (v != t->iters) return -1; /* every message made the round trip */
    if (t->best_ns < 0 || per < t->best_ns) t->best_ns = per;
    asx_chan_free(p.to_pong);
    asx_chan_free(p.to_ping);
  }
  return 0;
}

static int bench_channel(void) {
  struct timed t = {.iters = 200000};
  if (run_on_one_worker(ping_main, &t) != 0) return 1;
  /* Two messages (one each way) per iteration, as above. */
  double peer = bench_peers_enabled() ? bench_best_ns(bench_peer_condvar_pingpong, NULL, 50000, REPS) / 2 : 0;
  bench_emit("chan_pingpong_one_worker", t.best_ns, "ns/msg", "pthread_mutex_condvar_pingpong", peer);
  return 0;
}

/* ---- 1e5 concurrently sleeping tasks: resident memory per task ------------------------------- */
enum { SLEEPERS = 100000 };

struct sleepers {
  size_t stack_size;
  uint64_t rss_before, rss_during;
  uint64_t spawned;
};

static int sleeper(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_sleep(cx, 60ull * 1000000000ull) == ASX_ECANCELED ? 0 : 0;
}

static int sleepers_main(asx_cx *cx, void *arg) {
  struct sleepers *s = arg;
  asx_region *r;
  if (asx_region_open(cx, NULL, &r) != 0) return -1;
  s->rss_before = bench_rss_bytes();
  asx_spawn_opts o = asx_spawn_opts_default();
  o.stack_size = s->stack_size;
  for (uint64_t i = 0; i < SLEEPERS; i++) {
    if (asx_spawn(cx, r, sleeper, NULL, &o, NULL) != 0) break;
    s->spawned++;
  }
  asx_sleep(cx, 200ull * 1000000ull); /* every sleeper has run up to its sleep */
  s->rss_during = bench_rss_bytes();
  asx_region_cancel(r, ASX_CANCEL_USER);
  asx_region_close(cx, r, NULL);
  return 0;
}

static int bench_sleepers(size_t stack_size, const char *name) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = 1;
  if (stack_size) cfg.stack_size = stack_size;
  asx_runtime *rt;
  if (asx_runtime_new(&cfg, &rt) != 0) return 1;
  struct sleepers s = {.stack_size = 0};
  int rc = -1;
  int err = asx_runtime_run(rt, sleepers_main, &s, &rc, NULL);
  asx_runtime_free(rt);
  if (err != 0 || rc != 0 || s.spawned != SLEEPERS) {
    fprintf(stderr, "asx-bench: %s: spawned %llu of %d sleepers (run %d, rc %d)\n", name,
            (unsigned long long)s.spawned, SLEEPERS, err, rc);
    return 1;
  }
  double per = (double)(s.rss_during - s.rss_before) / (double)SLEEPERS;
  bench_emit(name, per, "bytes/task", NULL, 0);
  return 0;
}

int bench_runtime_api(const char *filter) {
  int rc = 0;
  if (bench_selected(filter, "spawn_join_empty_task")) rc |= bench_spawn_join();
  if (bench_selected(filter, "yield_switch")) rc |= bench_yield();
  if (bench_selected(filter, "chan_pingpong_one_worker")) rc |= bench_channel();
  if (bench_selected(filter, "sleeping_tasks_rss_default_stack")) rc |= bench_sleepers(0, "sleeping_tasks_rss_default_stack");
  if (bench_selected(filter, "sleeping_tasks_rss_16k_stack"))
    rc |= bench_sleepers(16 * 1024, "sleeping_tasks_rss_16k_stack");
  return rc;
}

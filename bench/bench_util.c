/* asx-bench helpers (see bench.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int use_wall_clock(void) {
  static int cached = -1;
  if (cached < 0) {
    const char *v = getenv("ASX_BENCH_CLOCK");
    cached = v != NULL && strcmp(v, "wall") == 0;
  }
  return cached;
}

uint64_t bench_clock_ns(void) {
  if (use_wall_clock()) return bench_now_ns();
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *bench_clock_name(void) { return use_wall_clock() ? "wall" : "process_cpu"; }

double bench_best_ns(void (*fn)(void *arg, uint64_t iters), void *arg, uint64_t iters, int reps) {
  double best = -1;
  for (int r = 0; r < reps; r++) {
    uint64_t t0 = bench_clock_ns();
    fn(arg, iters);
    double per = (double)(bench_clock_ns() - t0) / (double)iters;
    if (best < 0 || per < best) best = per;
  }
  return best;
}

static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    putchar(*s);
  }
  putchar('"');
}

void bench_emit(const char *bench, double value, const char *unit, const char *peer, double peer_value) {
  fputs("{\"bench\":", stdout);
  print_json_string(bench);
  printf(",\"value\":%.2f,\"unit\":", value);
  print_json_string(unit);
  if (peer != NULL && peer_value > 0) {
    fputs(",\"peer\":", stdout);
    print_json_string(peer);
    printf(",\"peer_value\":%.2f,\"ratio\":%.4f}\n", peer_value, value / peer_value);
  } else {
    fputs(",\"peer\":null,\"peer_value\":null,\"ratio\":null}\n", stdout);
  }
  fflush(stdout);
}

int bench_peers_enabled(void) {
  const char *v = getenv("ASX_BENCH_PEERS");
  return v == NULL || strcmp(v, "0") != 0;
}

int bench_selected(const char *filter, const char *name) {
  if (filter == NULL) return 1;
  /* "a,b": any of the comma-separated substrings. */
  char alt[128];
  const char *p = filter;
  for (;;) {
    size_t n = strcspn(p, ",");
    if (n > 0 && n < sizeof alt) {
      memcpy(alt, p, n);
      alt[n] = 0;
      if (strstr(name, alt) != NULL) return 1;
    }
    if (p[n] == 0) return 0;
    p += n + 1;
  }
}

uint64_t bench_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- peers shared by several benches ---------------------------------------------------------- */
struct condvar_pp {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int turn; /* 0: main's move, 1: helper's move */
  uint64_t iters;
};

static void *condvar_helper(void *arg) {
  struct condvar_pp *c = arg;
  for (uint64_t i = 0; i < c->iters; i++) {
    pthread_mutex_lock(&c->mu);
    while (c->turn != 1) pthread_cond_wait(&c->cv, &c->mu);
    c->turn = 0;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
  }
  return NULL;
}

void bench_peer_condvar_pingpong(void *arg, uint64_t iters) {
  struct condvar_pp c = {.turn = 0, .iters = iters};
  (void)arg;
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  pthread_t th;
  if (pthread_create(&th, NULL, condvar_helper, &c) != 0) abort();
  for (uint64_t i = 0; i < iters; i++) {
    pthread_mutex_lock(&c.mu);
    c.turn = 1;
    pthread_cond_signal(&c.cv);
    while (c.turn != 0) pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
  }
  pthread_join(th, NULL);
  pthread_cond_destroy(&c.cv);
  pthread_mutex_destroy(&c.mu);
}


/* asx-bench helpers (see bench.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_best_ns(void (*fn)(void *arg, uint64_t iters), void *arg, uint64_t iters, int reps) {
  double best = -1;
  for (int r = 0; r < reps; r++) {
    uint64_t t0 = bench_now_ns();
    fn(arg, iters);
    double per = (double)(bench_now_ns() - t0) / (double)iters;
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

int bench_selected(const char *filter, const char *name) { return filter == NULL || strstr(name, filter) != NULL; }

uint64_t bench_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* asx-redis-bench: GET throughput of the asx Redis client against a running redis-server, in the
 * shape of redis-benchmark: C connections; with --pipeline P each connection carries P tasks
 * issuing GETs concurrently (the client pipelines them), without it one task per connection.
 * Prints one JSON line. Used by bench/bench_redis.sh next to redis-benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asx/redis_client.h"

typedef struct bench {
  int port, conns, pipeline;
  unsigned workers;
  long requests;
  _Atomic long remaining;
  _Atomic long errors;
  asx_redis_client **clients;
  double seconds;
} bench;

static int getter(asx_cx *cx, void *arg) {
  void **a = arg;
  bench *b = a[0];
  asx_redis_client *c = a[1];
  const char *argv[2] = {"GET", "key:__rand_int__"};
  while (b->remaining-- > 0) {
    asx_redis_reply *r = NULL;
    if (asx_redis_client_command(cx, c, 2, argv, NULL, &r) != 0) b->errors++;
    asx_redis_reply_free(r);
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_main(asx_cx *cx, void *arg) {
  bench *b = arg;
  asx_redis_client_opts o;
  asx_redis_client_opts_default(&o);
  o.port = (uint16_t)b->port;
  b->clients = calloc((size_t)b->conns, sizeof(*b->clients));
  for (int i = 0; i < b->conns; i++) {
    char err[128];
    int rc = asx_redis_client_connect(cx, &o, &b->clients[i], err, sizeof(err));
    if (rc) {
      fprintf(stderr, "connect: %s %s\n", asx_strerror(rc), err);
      for (int j = 0; j < i; j++) asx_redis_client_close(cx, b->clients[j]);
      free(b->clients);
      return rc;
    }
  }
  int tasks = b->conns * b->pipeline;
  void **args = calloc((size_t)tasks * 2, sizeof(void *));
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  double t0 = now_s();
  for (int i = 0; i < tasks; i++) {
    args[2 * i] = b;
    args[2 * i + 1] = b->clients[i % b->conns];
    asx_spawn_opts so = asx_spawn_opts_default();
    so.stack_size = 64 * 1024;
    asx_spawn(cx, r, getter, &args[2 * i], &so, NULL);
  }
  asx_region_close(cx, r, NULL);
  b->seconds = now_s() - t0;
  for (int i = 0; i < b->conns; i++) asx_redis_client_close(cx, b->clients[i]);
  free(b->clients);
  free(args);
  return 0;
}

int main(int argc, char **argv) {
  bench b = {.port = 6379, .conns = 50, .pipeline = 1, .workers = 1, .requests = 100000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) b.port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--conns")) b.conns = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--pipeline")) b.pipeline = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--workers")) b.workers = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--requests")) b.requests = atol(argv[i + 1]);
  }
  if (b.conns < 1 || b.pipeline < 1 || b.requests < 1) return 2;
  b.remaining = b.requests;
  asx_net_reactor *re = NULL;
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = b.workers;
  if (asx_net_reactor_new(NULL, &re)) return 1;
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt = NULL;
  if (asx_runtime_new(&cfg, &rt)) return 1;
  int rc = -1;
  asx_runtime_run(rt, bench_main, &b, &rc, NULL);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  if (rc) return 1;
  printf("{\"tool\":\"asx\",\"conns\":%d,\"pipeline\":%d,\"workers\":%u,\"requests\":%ld,"
         "\"errors\":%ld,\"seconds\":%.3f,\"rps\":%.0f}\n",
         b.conns, b.pipeline, b.workers, b.requests, (long)b.errors, b.seconds,
         (double)b.requests / b.seconds);
  return b.errors ? 1 : 0;
}

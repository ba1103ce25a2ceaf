/* asx-nats-bench: publish N messages of S bytes on one connection, receive them on a second
 * (a consumer task on a bounded subscription channel), against a running nats-server. Prints
 * one JSON line with msgs/s (received / time from first publish to last message taken).
 * Used by messaging/clients/bench/bench_nats.sh next to the libnats program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asx/nats_client.h"

typedef struct bench {
  int port, size;
  long n;
  _Atomic long got;
  asx_nats_sub *sub;
  double seconds;
  uint64_t dropped;
} bench;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int consumer(asx_cx *cx, void *arg) {
  bench *b = arg;
  asx_nats_msg *m;
  while (asx_nats_sub_next(cx, b->sub, &m) == 0) {
    asx_nats_msg_free(m);
    b->got++;
  }
  return 0;
}

static int bench_main(asx_cx *cx, void *arg) {
  bench *b = arg;
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.port = (uint16_t)b->port;
  asx_nats_client *pub = NULL, *sub = NULL;
  if (asx_nats_client_connect(cx, &o, &sub, NULL, 0) || asx_nats_client_connect(cx, &o, &pub, NULL, 0))
    return 1;
  asx_nats_sub_opts so = {.capacity = 65536, .policy = ASX_NATS_DROP_NEWEST};
  if (asx_nats_subscribe(cx, sub, "bench", NULL, &so, &b->sub)) return 1;
  asx_nats_flush(cx, sub, 0);
  asx_task *t;
  asx_spawn(cx, NULL, consumer, b, NULL, &t);
  char *payload = calloc(1, (size_t)b->size + 1);
  memset(payload, 'x', (size_t)b->size);
  double t0 = now_s();
  for (long i = 0; i < b->n; i++) asx_nats_publish(cx, pub, "bench", NULL, NULL, payload, (size_t)b->size);
  asx_nats_flush(cx, pub, 0);
  asx_nats_flush(cx, sub, 0); /* every message the server sent is read (queued or dropped) */
  asx_nats_sub_stats st;
  for (;;) {
    asx_nats_sub_stats_get(b->sub, &st);
    if (st.pending == 0 && (uint64_t)b->got + st.dropped >= st.received) break;
    asx_yield(cx);
  }
  b->seconds = now_s() - t0;
  b->dropped = st.dropped;
  asx_nats_unsubscribe(cx, b->sub, 0);
  asx_task_join(cx, t, NULL, NULL);
  asx_nats_client_close(cx, pub);
  asx_nats_client_close(cx, sub);
  asx_nats_sub_free(b->sub);
  free(payload);
  return 0;
}

int main(int argc, char **argv) {
  bench b = {.port = 4222, .size = 16, .n = 1000000};
  unsigned workers = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) b.port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--size")) b.size = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--msgs")) b.n = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--workers")) workers = (unsigned)atoi(argv[i + 1]);
  }
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = workers;
  asx_net_reactor *re = NULL;
  if (asx_net_reactor_new(NULL, &re)) return 1;
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt = NULL;
  if (asx_runtime_new(&cfg, &rt)) return 1;
  int rc = -1;
  asx_runtime_run(rt, bench_main, &b, &rc, NULL);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  if (rc) return 1;
  printf("{\"tool\":\"asx\",\"msgs\":%ld,\"size\":%d,\"received\":%ld,\"dropped\":%llu,"
         "\"seconds\":%.3f,\"msgs_per_s\":%.0f}\n",
         b.n, b.size, (long)b.got, (unsigned long long)b.dropped, b.seconds,
         (double)b.got / b.seconds);
  return 0;
}

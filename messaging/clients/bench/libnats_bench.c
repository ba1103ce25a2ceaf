/* libnats-bench: the same measurement as asx-nats-bench with the official C client (libnats):
 * publish N messages on one connection, count them in an async subscription on a second. */
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic long got;

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  (void)nc, (void)sub, (void)closure;
  natsMsg_Destroy(msg);
  got++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int port = 4222, size = 16;
  long n = 1000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--msgs")) n = atol(argv[i + 1]);
  }
  char url[64];
  snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
  natsConnection *pub = NULL, *subc = NULL;
  natsSubscription *sub = NULL;
  if (natsConnection_ConnectTo(&subc, url) != NATS_OK || natsConnection_ConnectTo(&pub, url) != NATS_OK)
    return 1;
  natsConnection_Subscribe(&sub, subc, "bench", on_msg, NULL);
  natsSubscription_SetPendingLimits(sub, 65536, -1);
  natsConnection_Flush(subc);
  char *payload = calloc(1, (size_t)size + 1);
  memset(payload, 'x', (size_t)size);
  double t0 = now_s();
  for (long i = 0; i < n; i++) natsConnection_Publish(pub, "bench", payload, size);
  natsConnection_Flush(pub);
  natsConnection_Flush(subc);
  int64_t dropped = 0;
  for (;;) {
    int pending = 0;
    natsSubscription_GetPending(sub, &pending, NULL);
    natsSubscription_GetDropped(sub, &dropped);
    if (pending == 0) break;
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  double secs = now_s() - t0;
  printf("{\"tool\":\"libnats\",\"msgs\":%ld,\"size\":%d,\"received\":%ld,\"dropped\":%lld,"
         "\"seconds\":%.3f,\"msgs_per_s\":%.0f}\n",
         n, size, (long)got, (long long)dropped, secs, (double)got / secs);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(subc);
  free(payload);
  nats_Close();
  return 0;
}

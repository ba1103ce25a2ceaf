/* Helpers for the Redis client suites: a redis-server on a free loopback port (started through
 * tests/redis/peer_process.c) and a runtime run that checks teardown. */
#ifndef ASX_RCL_UTIL_H
#define ASX_RCL_UTIL_H

#include <sys/types.h>

#include "asx/redis_client.h"

typedef struct rcl_server {
  pid_t pid;
  int port;
} rcl_server;

/* Starts redis-server (extra args appended, NULL-terminated list may be NULL) and waits until it
 * accepts connections; asserts on failure. */
void rcl_server_start(rcl_server *s, const char *const *extra);
/* Starts it again on the same port (after a kill). Returns 0 or -1. */
int rcl_server_restart(rcl_server *s, const char *const *extra);
void rcl_server_stop(rcl_server *s);
/* Stops every server still running (use as the suite's .fini). */
void rcl_cleanup(void);

/* Runs fn as the main task of a fresh THREADS runtime with `workers` workers and asserts that no
 * task, region or obligation is left and none leaked. Returns fn's rc. */
int rcl_run(unsigned workers, asx_task_fn fn, void *arg);

/* Client options for the server (RESP 2 or 3). */
asx_redis_client_opts rcl_opts(const rcl_server *s, int resp);

/* Runs one command given as a NULL-terminated list of strings; asserts success; caller frees. */
asx_redis_reply *rcl_cmd(asx_cx *cx, asx_redis_client *c, ...);

#define MS 1000000ull

#endif

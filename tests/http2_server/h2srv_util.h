/* Test helpers for server suites: a runtime + asx_server on a free loopback port in a background
 * thread (so the test thread can run real clients), shell commands with captured output, and
 * teardown checks (no live task/region/obligation, no leaked descriptor). */
#ifndef ASX_H2SRV_UTIL_H
#define ASX_H2SRV_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "asx/http2_server.h"
#include "asx/net.h"

typedef struct h2t_server {
  asx_conn_fn conn;         /* connection function (default: asx_http2_serve with cfg) */
  void *conn_arg;           /* default: &cfg */
  asx_http2_server_config cfg;
  unsigned workers;
  asx_tls_config *tls;      /* non-NULL: TLS server (borrowed) */
  uint16_t port;
  pthread_t th;
  asx_runtime *rt;
  asx_net_reactor *reactor;
  asx_server *srv;
  atomic_int state;         /* 0 starting, 1 serving, 2 done, -1 failed */
  int run_rc;
  int fds_before;
  asx_runtime_stats st;
} h2t_server;

/* Starts the runtime and the server; returns once the port is known. */
void h2t_start(h2t_server *t);
/* Graceful shutdown, joins the thread, asserts teardown (no live task/region/obligation). */
void h2t_stop(h2t_server *t);
/* h2t_stop in two steps: shutdown + teardown checks, then the descriptor check. */
void h2t_halt(h2t_server *t);
void h2t_check_fds(h2t_server *t);
/* Runs a shell command (printf-style), captures stdout+stderr into out (NUL-terminated, may be
 * NULL); returns the exit status. */
int h2t_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sleeps ms milliseconds (test thread). */
void h2t_msleep(unsigned ms);

#endif

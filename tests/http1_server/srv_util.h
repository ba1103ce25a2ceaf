/* Test helpers for the server-glue suites: a runtime on a background thread serving one
 * listener on a free loopback port with a connection function, a graceful stop from the test
 * thread that checks teardown, and small blocking-socket client helpers. */
#ifndef ASX_SRV_UTIL_H
#define ASX_SRV_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/net.h"
#include "asx/runtime.h"

typedef struct testsrv {
  asx_conn_fn fn;
  void *arg;
  unsigned workers;
  uint64_t grace_ns;
  uint16_t port;
  asx_runtime *rt;
  asx_net_reactor *reactor;
  pthread_t th;
  asx_server *srv;
  int run_rc;
  asx_runtime_stats stats;
  volatile int running;
} testsrv;

/* Starts serving fn(arg) on 127.0.0.1:<free port> (t->port). Aborts the test on failure. */
void testsrv_start(testsrv *t, asx_conn_fn fn, void *arg);
/* Requests a graceful shutdown, joins the runtime thread, and asserts a clean teardown (no live
 * task, region or unresolved obligation). */
void testsrv_stop(testsrv *t);

/* Runs fn(arg) as the main task of a fresh THREADS runtime with `workers` workers and the
 * reactor, then checks teardown: no live task or region, no unresolved or leaked obligation, no
 * panic, no descriptor left open. Returns fn's rc. */
int srv_run_main(unsigned workers, asx_task_fn fn, void *arg);
/* The same; check_fds false when a server in this process may still be closing its side (the
 * caller then counts descriptors around the server's whole life). */
int srv_run_main_ex(unsigned workers, asx_task_fn fn, void *arg, bool check_fds);

/* Blocking loopback client socket with 10 s send/receive timeouts; -1 on failure. */
int cli_connect(uint16_t port);
/* Sends all of s. */
bool cli_send(int fd, const void *buf, size_t n);
/* Sends a NUL-terminated string. */
bool cli_send_str(int fd, const char *s);
/* Reads until the peer closes or `cap` bytes or a receive timeout; returns bytes read. */
size_t cli_recv_all(int fd, char *buf, size_t cap);
/* Reads one complete response (head + Content-Length body, or chunked to the last chunk) into
 * buf (NUL-terminated); returns its length or 0 on failure/close. Leftover bytes are kept in
 * the static per-fd stash only for that fd: call with the same fd until done. */
size_t cli_recv_response(int fd, char *buf, size_t cap);
/* Runs a shell command, captures stdout (NUL-terminated) and returns the exit status. */
int run_cmd(const char *cmd, char *out, size_t cap);
/* Milliseconds of the monotonic clock. */
uint64_t now_ms(void);

#endif

/* Helpers for the net suites: throwaway PKI made with the openssl CLI, descriptor counting,
 * in-memory TLS handshakes and small runtime wrappers. */
#ifndef ASX_NET_TESTUTIL_H
#define ASX_NET_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "asx/net.h"

/* Paths of a throwaway PKI: ca (trusted), other_ca (untrusted), server cert for
 * localhost/127.0.0.1/::1, a client cert signed by ca, and a server cert for "alt.test". */
typedef struct net_pki {
  char dir[256];
  char ca[300], ca_key[300], other_ca[300];
  char server_cert[300], server_key[300];
  char alt_cert[300], alt_key[300];
  char client_cert[300], client_key[300];
} net_pki;

/* Creates the PKI once per process (cached in a temp dir; removed at exit). */
const net_pki *net_pki_get(void);
/* Runs `cmd` through /bin/sh with output discarded; returns the exit status. */
int net_sh(const char *cmd);

/* Drives a client and a server engine against each other in memory until both finish the
 * handshake or one fails. Returns 0 or the first failing side's error; *client_rc / *server_rc
 * (may be NULL) receive each side's last result. */
int net_mem_handshake(asx_tls_conn *client, asx_tls_conn *server, int *client_rc, int *server_rc);
/* Moves pending output from one engine into the other. */
void net_mem_pump(asx_tls_conn *from, asx_tls_conn *to);

/* Runs fn as the main task of a fresh runtime (workers threads) and checks teardown: no live
 * task/region/obligation. Returns fn's rc. */
int net_run(unsigned workers, asx_task_fn fn, void *arg);

#endif

/* A server running on its own runtime in a background thread (so the test thread can run
 * external peers such as curl and openssl). */
typedef struct net_bg {
  asx_server *srv;
  uint16_t port;
  unsigned workers;
  int run_rc;
  void *thread; /* pthread_t */
  asx_runtime_stats stats;
} net_bg;
/* Starts srv (owned by bg afterwards) on a runtime with `workers` workers. */
void net_bg_start(net_bg *bg, asx_server *srv, unsigned workers);
/* Requests a graceful shutdown, waits for the runtime to end, checks teardown, frees srv. */
void net_bg_stop(net_bg *bg, asx_server_stats *final_stats);
/* Line-oriented client helpers for tests (blocking sockets, no runtime). */
int net_blocking_connect(uint16_t port);

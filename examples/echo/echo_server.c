/* asx-echo-server: echoes every line back, over TCP (IPv4/IPv6), a Unix socket, or TLS.
 *
 *   asx-echo-server [--host 127.0.0.1] [--port 7007] [--unix PATH]
 *                   [--cert cert.pem --key key.pem [--client-ca ca.pem]]
 *                   [--max-conns N] [--read-timeout SECS] [--workers N]
 *
 * A line must arrive within --read-timeout (slowloris defence). SIGINT/SIGTERM shut it down
 * gracefully: stop accepting, let every connection answer the line it is working on, close. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/net.h"

typedef struct conf {
  uint64_t read_timeout_ns;
} conf;

/* Answers complete lines; a line already read is answered even during shutdown. */
static int echo_lines(asx_cx *cx, asx_stream *s, void *arg) {
  conf *c = arg;
  char buf[16384];
  size_t len = 0;
  for (;;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, s, buf + len, sizeof(buf) - len, &n);
    if (rc == ASX_ECLOSED) return asx_stream_shutdown(cx, s);
    if (rc) return rc;
    len += n;
    char *nl = memrchr(buf, '\n', len);
    if (nl) {
      size_t k = (size_t)(nl - buf) + 1;
      asx_mask_push(cx); /* the answer to a received line is a committed effect */
      rc = asx_stream_write_all(cx, s, buf, k, NULL);
      asx_mask_pop(cx);
      if (rc) return rc;
      memmove(buf, buf + k, len - k);
      len -= k;
      if (c->read_timeout_ns) asx_stream_set_read_deadline(s, asx_now(cx) + c->read_timeout_ns);
    } else if (len == sizeof(buf)) {
      return ASX_ELIMIT; /* a line longer than the buffer */
    }
    if (asx_cancel_requested(cx)) return ASX_ECANCELED;
  }
}

static asx_server *g_server;
static sigset_t g_sigs;
static _Atomic bool g_done;

static void *signal_thread(void *arg) {
  (void)arg;
  int sig;
  if (sigwait(&g_sigs, &sig) == 0 && !atomic_load(&g_done)) {
    fprintf(stderr, "asx-echo-server: signal %d, shutting down\n", sig);
    asx_server_shutdown(g_server);
  }
  return NULL;
}

static int main_task(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_server_run(cx, g_server);
}

static void usage(void) {
  fprintf(stderr, "usage: asx-echo-server [--host H] [--port P] [--unix PATH] [--cert C --key K "
                  "[--client-ca CA]] [--max-conns N] [--read-timeout S] [--workers N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *unix_path = NULL, *cert = NULL, *key = NULL, *client_ca = NULL;
  unsigned port = 7007, workers = 0;
  size_t max_conns = 1024;
  double read_timeout = 10;
  /* Every option takes one value: step over the pair. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = (unsigned)atoi(v);
    else if (!strcmp(a, "--unix")) unix_path = v;
    else if (!strcmp(a, "--cert")) cert = v;
    else if (!strcmp(a, "--key")) key = v;
    else if (!strcmp(a, "--client-ca")) client_ca = v;
    else if (!strcmp(a, "--max-conns")) max_conns = (size_t)atol(v);
    else if (!strcmp(a, "--read-timeout")) read_timeout = atof(v);
    else if (!strcmp(a, "--workers")) workers = (unsigned)atoi(v);
    else usage();
  }
  asx_tls_config *tls = NULL;
  if (cert || key) {
    static const char *const alpn[] = {"echo"};
    asx_tls_options o;
    asx_tls_options_default(&o, ASX_TLS_SERVER);
    o.cert_file = cert;
    o.key_file = key;
    o.alpn = alpn;
    o.alpn_count = 1;
    if (client_ca) {
      o.ca_file = client_ca;
      o.require_client_cert = true;
    }
    char err[512];
    if (asx_tls_config_new(&o, &tls, err, sizeof(err)) != 0) {
      fprintf(stderr, "asx-echo-server: TLS: %s\n", err);
      return 1;
    }
  }
  asx_listener *l = NULL;
  int rc = unix_path ? asx_unix_listen(unix_path, NULL, &l)
                     : asx_tcp_listen(host, (uint16_t)port, NULL, &l);
  if (rc) {
    fprintf(stderr, "asx-echo-server: listen: %s\n", asx_strerror(rc));
    asx_tls_config_free(tls);
    return 1;
  }
  conf c = {.read_timeout_ns = (uint64_t)(read_timeout * 1e9)};
  asx_server_opts so;
  asx_server_opts_default(&so);
  so.tls = tls;
  so.max_conns = max_conns;
  so.read_timeout_ns = c.read_timeout_ns;
  if (asx_server_new(l, &so, echo_lines, &c, &g_server) != 0) return 1;
  if (unix_path)
    fprintf(stderr, "asx-echo-server: listening on unix:%s%s\n", unix_path, tls ? " (TLS)" : "");
  else
    fprintf(stderr, "asx-echo-server: listening on %s:%u%s\n", host, asx_listener_port(l),
            tls ? " (TLS)" : "");
  /* Signals go to the sigwait thread only: block them before any worker thread exists. */
  sigemptyset(&g_sigs);
  sigaddset(&g_sigs, SIGINT);
  sigaddset(&g_sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &g_sigs, NULL);
  pthread_t st;
  pthread_create(&st, NULL, signal_thread, NULL);
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = workers;
  asx_net_reactor *reactor = NULL;
  if (asx_net_reactor_new(NULL, &reactor) != 0) return 1;
  asx_net_reactor_configure(reactor, &cfg);
  asx_runtime *rt = NULL;
  if (asx_runtime_new(&cfg, &rt) != 0) return 1;
  int run_rc = 0;
  rc = asx_runtime_run(rt, main_task, NULL, &run_rc, NULL);
  asx_server_stats stats;
  asx_server_stats_get(g_server, &stats);
  fprintf(stderr, "asx-echo-server: done: %llu connections, %llu forced closes\n",
          (unsigned long long)stats.accepted, (unsigned long long)stats.forced_closes);
  atomic_store(&g_done, true);
  pthread_kill(st, SIGTERM); /* ends the sigwait thread if no signal came */
  pthread_join(st, NULL);
  asx_runtime_free(rt);
  asx_net_reactor_free(reactor);
  asx_server_free(g_server);
  asx_tls_config_free(tls);
  return rc || run_rc ? 1 : 0;
}

/* asx-demo: command line, runtime and listener setup, and the shutdown sequence.
 *
 *   asx-demo [--listen HOST:PORT] [--cert FILE --key FILE] [--workers N] [--grace SECONDS]
 *
 * SIGINT/SIGTERM: stop accepting -> cancel connections (reason shutdown) -> drain in-flight
 * requests within the grace period -> finalize. One line per phase on stdout; exit code 0 after a
 * clean shutdown (nothing left alive in the runtime). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

typedef struct demo_args {
  char host[64];
  uint16_t port;
  const char *cert, *key;
  unsigned workers;
  double grace_s;
} demo_args;

static void usage(FILE *f) {
  fprintf(f, "usage: asx-demo [--listen HOST:PORT] [--cert FILE --key FILE] [--workers N] [--grace SECONDS]\n"
             "  defaults: --listen 127.0.0.1:8080, no TLS, one worker per core, 5 s grace\n");
}

static int parse_listen(const char *v, demo_args *a) {
  const char *colon = strrchr(v, ':');
  if (!colon) return -1;
  const char *h = v;
  size_t hl = (size_t)(colon - v);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1]:8080 */
    h++;
    hl -= 2;
  }
  if (hl == 0 || hl >= sizeof a->host) return -1;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p < 0 || p > 65535) return -1;
  memcpy(a->host, h, hl);
  a->host[hl] = 0;
  a->port = (uint16_t)p;
  return 0;
}

static int parse_args(int argc, char **argv, demo_args *a) {
  memset(a, 0, sizeof *a);
  strcpy(a->host, "127.0.0.1");
  a->port = 8080;
  a->grace_s = 5.0;
  /* Every option but --help takes one value: step over the pair. */
  for (int i = 1; i < argc; i += 2) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!v) return -1;
    if (!strcmp(o, "--listen")) {
      if (parse_listen(v, a)) return -1;
    } else if (!strcmp(o, "--cert")) {
      a->cert = v;
    } else if (!strcmp(o, "--key")) {
      a->key = v;
    } else if (!strcmp(o, "--workers")) {
      a->workers = (unsigned)strtoul(v, NULL, 10);
    } else if (!strcmp(o, "--grace")) {
      a->grace_s = strtod(v, NULL);
      if (a->grace_s < 0) return -1;
    } else {
      return -1;
    }
  }
  if (!a->cert != !a->key) return -1;
  return 0;
}

static asx_server *g_server;
static double g_grace_s;

static void on_signal_unused(int sig) { (void)sig; }

/* Waits for SIGINT/SIGTERM (blocked in every other thread) and starts the graceful shutdown. */
static void *signal_thread(void *arg) {
  sigset_t *set = arg;
  int sig = 0;
  if (sigwait(set, &sig) != 0) return NULL;
  printf("asx-demo: %s: stop accepting\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  printf("asx-demo: cancel connections (reason shutdown), drain within %.1f s\n", g_grace_s);
  fflush(stdout);
  /* net's server does both steps: closes the listener, then cancels the connection region. */
  asx_server_shutdown(g_server);
  return NULL;
}

static int main_task(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_server_run(cx, g_server);
}

int main(int argc, char **argv) {
  demo_args a;
  if (parse_args(argc, argv, &a)) {
    usage(stderr);
    return 2;
  }
  /* Block the shutdown signals before any thread exists: only signal_thread receives them.
   * A shell starting us in the background hands SIGINT over as ignored, and an ignored signal
   * never reaches sigwait: install a (never-run) handler so SIGINT always means "shut down". */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal_unused;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  static demo_ctx ctx;
  if (demo_ctx_init(&ctx)) {
    fprintf(stderr, "asx-demo: out of memory\n");
    return 1;
  }
  asx_tls_config *tls = NULL;
  if (a.cert) {
    static const char *const alpn[] = {"h2", "http/1.1"};
    asx_tls_options to;
    asx_tls_options_default(&to, ASX_TLS_SERVER);
    to.cert_file = a.cert;
    to.key_file = a.key;
    to.alpn = alpn;
    to.alpn_count = 2;
    char err[512];
    int rc = asx_tls_config_new(&to, &tls, err, sizeof err);
    if (rc) {
      fprintf(stderr, "asx-demo: TLS setup failed: %s\n", err);
      demo_ctx_free(&ctx);
      return 1;
    }
    ctx.tls = true;
  }
  asx_listener *l = NULL;
  int rc = asx_tcp_listen(a.host, a.port, NULL, &l);
  if (rc) {
    fprintf(stderr, "asx-demo: cannot listen on %s:%u: %s\n", a.host, a.port, asx_strerror(rc));
    asx_tls_config_free(tls);
    demo_ctx_free(&ctx);
    return 1;
  }
  asx_server_opts so;
  asx_server_opts_default(&so);
  so.tls = tls;
  so.read_timeout_ns = 0; /* HTTP/1.1 and HTTP/2 run their own header/idle timeouts */
  so.grace_ns = (uint64_t)(a.grace_s * 1e9);
  g_grace_s = a.grace_s;
  so.name = "demo.conn";
  uint16_t port = asx_listener_port(l);
  rc = asx_server_new(l, &so, demo_conn_fn, &ctx, &g_server);
  asx_runtime_config rcfg;
  asx_runtime_config_default(&rcfg);
  rcfg.workers = a.workers;
  /* The grace period is the cleanup budget of a shutdown: connection tasks (shutdown) and the
   * tasks under them (parent_cancelled) may use all of it to finish what is in flight. */
  uint64_t grace_ns = so.grace_ns ? so.grace_ns : 1;
  rcfg.cleanup_budget_ns[ASX_CANCEL_SHUTDOWN] = grace_ns;
  rcfg.cleanup_budget_ns[ASX_CANCEL_PARENT] = grace_ns;
  asx_runtime *rt = NULL;
  asx_net_reactor *reactor = NULL;
  if (rc == 0) rc = asx_net_reactor_new(NULL, &reactor);
  if (rc == 0) {
    asx_net_reactor_configure(reactor, &rcfg);
    rc = asx_runtime_new(&rcfg, &rt);
  }
  if (rc) {
    fprintf(stderr, "asx-demo: setup failed: %s\n", asx_strerror(rc));
    asx_server_free(g_server);
    asx_runtime_free(rt);
    asx_net_reactor_free(reactor);
    asx_tls_config_free(tls);
    demo_ctx_free(&ctx);
    return 1;
  }
  const char *scheme = tls ? "https" : "http";
  printf("asx-demo: listening on %s://%s%s%s:%u (HTTP/1.1, HTTP/2 %s, WebSocket /ws, gRPC; %s)\n",
         scheme, strchr(a.host, ':') ? "[" : "", a.host, strchr(a.host, ':') ? "]" : "", port,
         tls ? "via ALPN h2" : "h2c upgrade + prior knowledge", tls ? "TLS" : "cleartext");
  fflush(stdout);

  pthread_t sig_th;
  pthread_create(&sig_th, NULL, signal_thread, &set);
  int run_rc = 0;
  asx_outcome outcome = ASX_OUTCOME_OK;
  rc = asx_runtime_run(rt, main_task, NULL, &run_rc, &outcome);
  pthread_cancel(sig_th); /* no-op when it already handled a signal */
  pthread_join(sig_th, NULL);

  asx_server_stats st;
  asx_server_stats_get(g_server, &st);
  printf("asx-demo: drained: %llu connections served, %llu cut after the %.1f s grace period\n",
         (unsigned long long)st.completed, (unsigned long long)st.forced_closes, a.grace_s);
  asx_runtime_stats rs;
  asx_runtime_stats_get(rt, &rs);
  bool clean = rc == 0 && run_rc >= 0 && rs.live_tasks == 0 && rs.live_regions == 0 &&
               rs.unresolved_obligations == 0;
  printf("asx-demo: finalized: outcome %s, live tasks %llu, regions %llu, obligations %llu\n",
         asx_outcome_name(outcome), (unsigned long long)rs.live_tasks,
         (unsigned long long)rs.live_regions, (unsigned long long)rs.unresolved_obligations);
  fflush(stdout);
  asx_server_free(g_server);
  asx_runtime_free(rt);
  asx_net_reactor_free(reactor);
  asx_tls_config_free(tls);
  demo_ctx_free(&ctx);
  return clean ? 0 : 1;
}

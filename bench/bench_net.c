/* asx-bench net: TCP over loopback with the asx server helper and asx client tasks on the threads
 * driver (2 workers + the epoll reactor), against a blocking-socket server with a thread per
 * connection (and libuv when built with it) measured in the same run. See bench/README.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asx/net.h"
#include "bench.h"
#include "bench_net.h"

enum { WORKERS = 2 };

/* ---- the server: the helper with a plain echo handler ----------------------------------------- */
static int echo_handler(asx_cx *cx, asx_stream *s, void *arg) {
  (void)arg;
  char buf[NET_ECHO_BUF];
  for (;;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, s, buf, sizeof buf, &n);
    if (rc == ASX_ECLOSED) {
      asx_stream_shutdown(cx, s); /* the client may already be gone: nothing to report */
      return 0;
    }
    if (rc == ASX_ECANCELED) return 0;
    if (rc != 0) return rc;
    rc = asx_stream_write_all(cx, s, buf, n, NULL);
    if (rc == ASX_ECANCELED) return 0;
    if (rc != 0) return rc;
  }
}

struct asx_bench {
  struct net_job *j;
  asx_server *srv;
  uint16_t port;
  asx_stream **cs; /* client streams (PINGPONG, STREAM) */
  int err;
};

static int server_task(asx_cx *cx, void *arg) {
  struct asx_bench *b = arg;
  return asx_server_run(cx, b->srv);
}

/* Listens on 127.0.0.1 (ephemeral port) and starts the server in a task; *h joins it. */
static int start_server(asx_cx *cx, struct asx_bench *b, size_t max_conns, asx_task **h) {
  asx_listen_opts lo;
  asx_listen_opts_default(&lo);
  lo.backlog = 4096;
  asx_listener *l;
  int rc = asx_tcp_listen("127.0.0.1", 0, &lo, &l);
  if (rc != 0) return rc;
  b->port = asx_listener_port(l);
  asx_server_opts so;
  asx_server_opts_default(&so);
  so.max_conns = max_conns;
  so.idle_timeout_ns = 0; /* the bench connections are idle on purpose in the RSS bench */
  so.read_timeout_ns = 0;
  so.grace_ns = 100000000ull;
  so.name = "bench-echo";
  if ((rc = asx_server_new(l, &so, echo_handler, b, &b->srv)) != 0) return rc;
  return asx_spawn(cx, NULL, server_task, b, NULL, h);
}

static void stop_server(asx_cx *cx, struct asx_bench *b, asx_task *h) {
  asx_server_shutdown(b->srv);
  asx_task_join(cx, h, NULL, NULL);
  asx_server_free(b->srv); /* closes the listener */
  b->srv = NULL;
}

/* ---- clients ---------------------------------------------------------------------------------- */
struct client {
  struct asx_bench *b;
  asx_stream *s;
  uint64_t iters;
  asx_chan *credits; /* STREAM: the reader returns one credit per write-sized piece read back */
};

static int pingpong_client(asx_cx *cx, void *arg) {
  struct client *c = arg;
  size_t msg = c->b->j->msg;
  char out[NET_ECHO_BUF], in[NET_ECHO_BUF];
  memset(out, 'a', msg);
  for (uint64_t i = 0; i < c->iters; i++) {
    out[0] = (char)i;
    int rc = asx_stream_write_all(cx, c->s, out, msg, NULL);
    if (rc == 0) rc = asx_stream_read_exact(cx, c->s, in, msg, NULL);
    if (rc == 0 && memcmp(in, out, msg) != 0) rc = ASX_EIO;
    if (rc != 0) {
      c->b->err = rc;
      return rc;
    }
  }
  return 0;
}

static int stream_writer(asx_cx *cx, void *arg) {
  struct client *c = arg;
  static const char chunk[64 * 1024];
  size_t msg = c->b->j->msg < sizeof chunk ? c->b->j->msg : sizeof chunk;
  uint64_t credits = NET_STREAM_WINDOW / msg;
  for (uint64_t left = c->iters; left > 0;) {
    char token;
    int rc = credits > 0 ? 0 : asx_chan_recv(cx, c->credits, &token);
    if (rc != 0) return c->b->err = rc;
    if (credits > 0) credits--;
    size_t n = left < msg ? (size_t)left : msg;
    rc = asx_stream_write_all(cx, c->s, chunk, n, NULL);
    if (rc != 0) return c->b->err = rc;
    left -= n;
  }
  return 0;
}

static int stream_reader(asx_cx *cx, void *arg) {
  struct client *c = arg;
  char buf[64 * 1024];
  size_t msg = c->b->j->msg < sizeof buf ? c->b->j->msg : sizeof buf;
  uint64_t got = 0;
  for (uint64_t left = c->iters; left > 0;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, c->s, buf, left < sizeof buf ? (size_t)left : sizeof buf, &n);
    if (rc != 0) return c->b->err = rc;
    left -= n;
    for (uint64_t before = got / msg, after = (got += n) / msg; before < after; before++) {
      char token = 1;
      if ((rc = asx_chan_send(cx, c->credits, &token)) != 0) return c->b->err = rc;
    }
  }
  return 0;
}

static int connect_client(asx_cx *cx, void *arg) {
  struct client *c = arg;
  for (uint64_t i = 0; i < c->iters; i++) {
    asx_stream *s = NULL;
    int rc = asx_tcp_connect(cx, "127.0.0.1", c->b->port, NULL, &s);
    if (rc == 0) rc = asx_stream_shutdown(cx, s);
    char byte;
    size_t n;
    while (rc == 0) rc = asx_stream_read(cx, s, &byte, 1, &n); /* the server sends nothing */
    if (rc == ASX_ECLOSED) rc = 0;
    if (rc != 0) {
      fprintf(stderr, "asx-bench: asx connect client: %s\n", asx_strerror(rc));
      c->b->err = rc;
    }
    asx_stream_close(s);
    if (rc != 0) return rc;
  }
  return 0;
}

/* One repetition: every client task in a fresh region, timed from spawn to close. */
static int one_rep(asx_cx *cx, struct asx_bench *b, struct client *cl, double *ns) {
  struct net_job *j = b->j;
  asx_region *r;
  int rc = asx_region_open(cx, NULL, &r);
  if (rc != 0) return rc;
  uint64_t t0 = bench_clock_ns();
  if (j->kind == NET_PINGPONG) {
    for (int i = 0; i < j->conns && rc == 0; i++) {
      cl[i] = (struct client){.b = b, .s = b->cs[i], .iters = j->iters};
      rc = asx_spawn(cx, r, pingpong_client, &cl[i], NULL, NULL);
    }
  } else if (j->kind == NET_STREAM) {
    cl[0] = (struct client){.b = b, .s = b->cs[0], .iters = j->iters};
    rc = asx_chan_new(NULL, 1, NET_STREAM_WINDOW / j->msg, &cl[0].credits);
    if (rc == 0) rc = asx_spawn(cx, r, stream_reader, &cl[0], NULL, NULL);
    if (rc == 0) rc = asx_spawn(cx, r, stream_writer, &cl[0], NULL, NULL);
  } else {
    for (int i = 0; i < j->conns && rc == 0; i++) {
      cl[i] = (struct client){.b = b, .iters = j->iters / (uint64_t)j->conns};
      rc = asx_spawn(cx, r, connect_client, &cl[i], NULL, NULL);
    }
  }
  asx_region_close(cx, r, NULL);
  *ns = (double)(bench_clock_ns() - t0);
  if (j->kind == NET_STREAM) asx_chan_free(cl[0].credits);
  return rc != 0 ? rc : b->err;
}

static int run_main(asx_cx *cx, void *arg) {
  struct asx_bench *b = arg;
  struct net_job *j = b->j;
  asx_task *h;
  int rc = start_server(cx, b, (size_t)j->conns + 64, &h);
  if (rc != 0) return rc;
  int nconn = j->kind == NET_PINGPONG ? j->conns : j->kind == NET_STREAM ? 1 : 0;
  struct client *cl = calloc((size_t)j->conns, sizeof *cl);
  b->cs = calloc((size_t)j->conns, sizeof *b->cs);
  for (int i = 0; i < nconn && rc == 0 && cl && b->cs; i++)
    rc = asx_tcp_connect(cx, "127.0.0.1", b->port, NULL, &b->cs[i]);
  if (!cl || !b->cs) rc = ASX_ENOMEM;
  for (int r = 0; r < j->reps && rc == 0; r++) {
    double ns;
    rc = one_rep(cx, b, cl, &ns);
    if (rc == 0 && (j->best_ns <= 0 || ns < j->best_ns)) j->best_ns = ns;
  }
  for (int i = 0; i < nconn && b->cs; i++) asx_stream_close(b->cs[i]);
  stop_server(cx, b, h);
  free(cl);
  free(b->cs);
  return rc;
}

/* The reactor mode of the asx runs: edge (the default) for the main lines, oneshot for the
 * *_oneshot lines. */
static asx_net_reactor_mode reactor_mode = ASX_REACTOR_EDGE;

/* A THREADS runtime with WORKERS workers and the reactor; runs fn(arg) to quiescence. */
static int run_on_runtime(asx_task_fn fn, void *arg, const char *what) {
  asx_net_reactor *re;
  if (asx_net_reactor_new(NULL, &re) != 0) return 1;
  asx_net_reactor_set_mode(re, reactor_mode);
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = WORKERS;
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt;
  if (asx_runtime_new(&cfg, &rt) != 0) {
    asx_net_reactor_free(re);
    return 1;
  }
  int rc = -1;
  int err = asx_runtime_run(rt, fn, arg, &rc, NULL);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  if (err != 0 || rc != 0) {
    fprintf(stderr, "asx-bench: asx %s: run %s, main %s\n", what, asx_strerror(err), asx_strerror(rc));
    return 1;
  }
  return 0;
}

int net_asx_run(struct net_job *j) {
  struct asx_bench b = {.j = j};
  j->best_ns = 0;
  return run_on_runtime(run_main, &b, "net bench");
}

/* ---- idle connections: RSS per connection ---------------------------------------------------- */
struct idle_bench {
  struct asx_bench b;
  int n;
  double per_conn;
};

static int wait_accepted(asx_cx *cx, asx_server *srv, uint64_t want) {
  uint64_t until = asx_now(cx) + 20000000000ull;
  for (;;) {
    asx_server_stats st;
    asx_server_stats_get(srv, &st);
    if (st.active >= want) return 0;
    if (asx_now(cx) > until) {
      fprintf(stderr, "asx-bench: asx idle: only %llu of %llu connections accepted\n",
              (unsigned long long)st.active, (unsigned long long)want);
      return ASX_ETIMEDOUT;
    }
    asx_sleep(cx, 1000000);
  }
}

static int idle_main(asx_cx *cx, void *arg) {
  struct idle_bench *ib = arg;
  struct net_job j = {.conns = ib->n};
  ib->b.j = &j;
  int *fds = malloc((size_t)ib->n * sizeof *fds);
  if (!fds) return ASX_ENOMEM;
  asx_task *h;
  int rc = start_server(cx, &ib->b, (size_t)ib->n + 64, &h);
  if (rc != 0) {
    free(fds);
    return rc;
  }
  asx_sleep(cx, 20000000);
  uint64_t rss0 = bench_rss_bytes();
  int opened = 0;
  for (; opened < ib->n && rc == 0; opened++) {
    fds[opened] = net_raw_connect_nb(ib->b.port);
    if (fds[opened] < 0) {
      fprintf(stderr, "asx-bench: asx idle: connect %d: %s\n", opened, strerror(errno));
      rc = ASX_EIO;
      break;
    }
    /* Batches below the backlog, so no SYN is dropped (a dropped SYN costs a 1 s retransmit). */
    if (opened % 256 == 255) rc = wait_accepted(cx, ib->b.srv, (uint64_t)opened + 1);
  }
  if (rc == 0) rc = wait_accepted(cx, ib->b.srv, (uint64_t)ib->n);
  asx_sleep(cx, 200000000); /* every handler is now blocked in read */
  uint64_t rss1 = bench_rss_bytes();
  ib->per_conn = ((double)rss1 - (double)rss0) / (double)ib->n;
  for (int i = 0; i < opened; i++) close(fds[i]);
  free(fds);
  stop_server(cx, &ib->b, h);
  return rc;
}

int net_asx_idle_rss(int n, double *bytes) {
  struct idle_bench ib = {.n = n};
  if (run_on_runtime(idle_main, &ib, "idle connections") != 0) return 1;
  *bytes = ib.per_conn;
  return 0;
}

/* ---- the group ------------------------------------------------------------------------------- */
enum { NET_REPS = 3 };

/* "<what>/s" for the wall clock, "<what>/cpu_s" for process CPU time (the default bench clock):
 * server and clients share this process, so CPU time is the work of both ends. */
static const char *rate_unit(const char *what, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", what, strcmp(bench_clock_name(), "wall") == 0 ? "s" : "cpu_s");
  return buf;
}

/* Work units of one repetition: round trips, MB, or connections. */
static double job_units(const struct net_job *j) {
  if (j->kind == NET_PINGPONG) return (double)j->iters * (double)j->conns;
  if (j->kind == NET_STREAM) return (double)j->iters / 1e6;
  return (double)(j->iters / (uint64_t)j->conns * (uint64_t)j->conns);
}

static double job_rate(const struct net_job *j) { return j->best_ns > 0 ? job_units(j) / (j->best_ns / 1e9) : 0; }

/* Runs one job on asx (edge-triggered reactor, the default) and on each peer and prints one line
 * per peer, after "<name>_oneshot": asx with the oneshot reactor against the edge run. */
static int run_job(const char *name, const char *what, struct net_job j) {
  char unit[64];
  rate_unit(what, unit, sizeof unit);
  struct net_job a = j, t = j, o = j;
  /* ASX_BENCH_REACTOR=oneshot|edge: that mode only, no peers (for perf/strace of one mode). */
  const char *only = getenv("ASX_BENCH_REACTOR");
  if (only && *only) {
    reactor_mode = strcmp(only, "oneshot") == 0 ? ASX_REACTOR_ONESHOT : ASX_REACTOR_EDGE;
    int orc = net_asx_run(&a);
    bench_emit(reactor_mode == ASX_REACTOR_EDGE ? "edge" : "oneshot", orc ? 0 : job_rate(&a), unit, NULL, 0);
    reactor_mode = ASX_REACTOR_EDGE;
    return orc;
  }
  if (net_asx_run(&a) != 0) return 1;
  reactor_mode = ASX_REACTOR_ONESHOT;
  int orc = net_asx_run(&o);
  reactor_mode = ASX_REACTOR_EDGE;
  char oneshot_name[96];
  snprintf(oneshot_name, sizeof oneshot_name, "%s_oneshot", name);
  bench_emit(oneshot_name, orc ? 0 : job_rate(&o), unit, "asx_reactor_edge", job_rate(&a));
  int rc = orc;
  if (!bench_peers_enabled()) {
    bench_emit(name, job_rate(&a), unit, NULL, 0);
    return rc;
  }
  rc |= net_thr_run(&t);
  bench_emit(name, job_rate(&a), unit, "pthread_blocking_thread_per_conn", rc ? 0 : job_rate(&t));
#ifdef ASX_BENCH_HAVE_LIBUV
  struct net_job u = j;
  int urc = net_uv_run(&u);
  bench_emit(name, job_rate(&a), unit, "libuv_server_loop_client_loop", urc ? 0 : job_rate(&u));
  rc |= urc;
#endif
  return rc;
}

/* RSS per idle connection with n connections: asx vs libuv at the same n (when built with it),
 * and vs threads at PEER_THREADS (a thread per connection costs a stack: 10k threads on a shared
 * machine is not polite, so the thread figure is measured at 1000 and compared per connection). */
enum { PEER_THREADS = 1000 };

/* Each RSS figure is measured in a fresh process (this program re-executed with the hidden filter
 * "@idle:<impl>:<n>"): memory freed by earlier benches (heap, glibc's cache of thread stacks)
 * would otherwise be reused and hide part of the cost. */
static int idle_measure(const char *impl, int n, double *bytes) {
  if (strcmp(impl, "asx") == 0) return net_asx_idle_rss(n, bytes);
  if (strcmp(impl, "thr") == 0) return net_thr_idle_rss(n, 64 * 1024, bytes);
#ifdef ASX_BENCH_HAVE_LIBUV
  if (strcmp(impl, "uv") == 0) return net_uv_idle_rss(n, bytes);
#endif
  return 1;
}

static int idle_in_child(const char *impl, int n, double *bytes) {
  int p[2];
  if (pipe(p) != 0) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    char arg[64];
    snprintf(arg, sizeof arg, "@idle:%s:%d", impl, n);
    execl("/proc/self/exe", "asx-bench", "net", arg, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char buf[64] = {0};
  size_t got = 0;
  ssize_t k;
  while (pid > 0 && got < sizeof buf - 1 && (k = read(p[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)k;
  close(p[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  return sscanf(buf, "%lf", bytes) == 1 ? 0 : 1;
}

static int bench_idle_at(int n, const char *tag) {
  double asx = 0, peer = 0;
  if (idle_in_child("asx", n, &asx) != 0) return 1;
  char name[64];
  snprintf(name, sizeof name, "tcp_idle_conn_rss_%s", tag);
  if (!bench_peers_enabled()) {
    bench_emit(name, asx, "bytes/conn", NULL, 0);
    return 0;
  }
  int rc = idle_in_child("thr", PEER_THREADS, &peer);
  bench_emit(name, asx, "bytes/conn", "pthread_64KiB_stack_1000conns", rc ? 0 : peer);
#ifdef ASX_BENCH_HAVE_LIBUV
  double uv = 0;
  int urc = idle_in_child("uv", n, &uv);
  char peer_name[64];
  snprintf(peer_name, sizeof peer_name, "libuv_%dconns", n);
  bench_emit(name, asx, "bytes/conn", peer_name, urc ? 0 : uv);
  rc |= urc;
#endif
  return rc;
}

static int bench_idle(const char *filter) {
  long lim = net_raise_nofile();
  /* Server and clients live in this process: two descriptors per connection, plus a margin. */
  int n = 10000;
  if ((long)n * 2 + 64 > lim) n = (int)((lim - 64) / 2);
  if (n < PEER_THREADS) {
    fprintf(stderr, "asx-bench: RLIMIT_NOFILE %ld is too low for the idle-connection benches\n", lim);
    return 1;
  }
  int rc = 0;
  if (bench_selected(filter, "tcp_idle_conn_rss_10k")) {
    if (n < 10000)
      fprintf(stderr, "asx-bench: RLIMIT_NOFILE %ld: 10k idle connections scaled down to %d\n", lim, n);
    rc |= bench_idle_at(n, "10k");
  }
  if (bench_selected(filter, "tcp_idle_conn_rss_1k")) rc |= bench_idle_at(PEER_THREADS, "1k");
  return rc;
}

int bench_net_main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  int rc = 0;
  net_raise_nofile();
  char impl[8];
  int n;
  if (filter && sscanf(filter, "@idle:%7[a-z]:%d", impl, &n) == 2) { /* see idle_in_child */
    double bytes = 0;
    if (idle_measure(impl, n, &bytes) != 0) return 1;
    printf("%.2f\n", bytes);
    return 0;
  }
  if (bench_selected(filter, "tcp_echo_64B_1conn"))
    rc |= run_job("tcp_echo_64B_1conn", "round_trips",
                  (struct net_job){.kind = NET_PINGPONG, .conns = 1, .msg = 64, .iters = 20000, .reps = NET_REPS});
  if (bench_selected(filter, "tcp_echo_64B_64conns"))
    rc |= run_job("tcp_echo_64B_64conns", "round_trips",
                  (struct net_job){.kind = NET_PINGPONG, .conns = 64, .msg = 64, .iters = 1000, .reps = NET_REPS});
  if (bench_selected(filter, "tcp_stream_64KiB_writes_1conn"))
    rc |= run_job("tcp_stream_64KiB_writes_1conn", "MB",
                  (struct net_job){.kind = NET_STREAM, .conns = 1, .msg = 64 * 1024, .iters = 256ull << 20,
                                   .reps = NET_REPS});
  if (bench_selected(filter, "tcp_connect_accept_close"))
    rc |= run_job("tcp_connect_accept_close", "conns",
                  (struct net_job){.kind = NET_CONNECT, .conns = 4, .iters = 4000, .reps = NET_REPS});
  rc |= bench_idle(filter);
  return rc;
}

/* Streams on the reactor: echo round trips over TCP (IPv4, IPv6), Unix and TLS; exact byte
 * counts when a blocked read or write is cancelled; timeouts; connect errors. Every test ends
 * with no live task/region/obligation (net_run) and no leaked descriptor. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_testutil.h"
#include "test_fds.h"

#define MS 1000000ull

TestSuite(stream, .timeout = 60);

typedef struct echo_env {
  const char *family; /* "tcp4", "tcp6", "unix", "tls" */
  asx_listener *l;
  char path[128];
  asx_tls_config *scfg, *ccfg;
  size_t size;        /* bytes the client sends */
  int server_rc, client_rc;
} echo_env;

static int echo_server(asx_cx *cx, void *arg) {
  echo_env *e = arg;
  asx_stream *s = NULL;
  int rc = asx_listener_accept(cx, e->l, &s);
  if (rc) return rc;
  if (e->scfg) {
    asx_stream *t = NULL;
    char err[256];
    rc = asx_tls_accept(cx, s, e->scfg, 5000 * MS, &t, err, sizeof(err));
    if (rc) {
      asx_stream_close(s);
      return rc;
    }
    s = t;
  }
  char buf[4096];
  for (;;) {
    size_t n = 0;
    rc = asx_stream_read(cx, s, buf, sizeof(buf), &n);
    if (rc == ASX_ECLOSED) {
      rc = asx_stream_shutdown(cx, s);
      break;
    }
    if (rc) break;
    rc = asx_stream_write_all(cx, s, buf, n, NULL);
    if (rc) break;
  }
  asx_stream_close(s);
  return rc;
}

static int echo_client(asx_cx *cx, void *arg) {
  echo_env *e = arg;
  asx_stream *s = NULL;
  asx_connect_opts co;
  asx_connect_opts_default(&co);
  co.timeout_ns = 5000 * MS;
  int rc;
  if (strcmp(e->family, "unix") == 0)
    rc = asx_unix_connect(cx, e->path, &co, &s);
  else
    rc = asx_tcp_connect(cx, strcmp(e->family, "tcp6") == 0 ? "::1" : "127.0.0.1",
                         asx_listener_port(e->l), &co, &s);
  if (rc) return rc;
  if (e->ccfg) {
    asx_stream *t = NULL;
    char err[256];
    rc = asx_tls_connect(cx, s, e->ccfg, "localhost", 5000 * MS, &t, err, sizeof(err));
    if (rc) {
      asx_stream_close(s);
      return rc;
    }
    cr_assert_str_eq(asx_stream_alpn(t), "");
    s = t;
  }
  unsigned char *out = malloc(e->size), *in = malloc(e->size);
  for (size_t i = 0; i < e->size; i++) out[i] = (unsigned char)(i * 131 + 7);
  /* Write and read concurrently would need two tasks; the echo is bounded by socket buffers, so
   * send in chunks and read each chunk back. */
  size_t chunk = 32768, done = 0;
  while (rc == 0 && done < e->size) {
    size_t k = e->size - done < chunk ? e->size - done : chunk;
    size_t w = 0, got = 0;
    struct iovec iov[2] = {{out + done, k / 2}, {out + done + k / 2, k - k / 2}};
    rc = asx_stream_writev(cx, s, iov, 2, &w);
    if (rc) break;
    cr_assert_eq(w, k);
    rc = asx_stream_read_exact(cx, s, in + done, k, &got);
    if (rc) break;
    done += k;
  }
  if (rc == 0) {
    cr_assert_eq(memcmp(in, out, e->size), 0);
    rc = asx_stream_shutdown(cx, s);
    char b;
    size_t n = 9;
    if (rc == 0) cr_assert_eq(asx_stream_read(cx, s, &b, 1, &n), ASX_ECLOSED);
    cr_assert_eq(n, 0);
  }
  free(out);
  free(in);
  asx_stream_close(s);
  return rc;
}

static int echo_main(asx_cx *cx, void *arg) {
  echo_env *e = arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  asx_task *st, *ct;
  cr_assert_eq(asx_spawn(cx, r, echo_server, e, NULL, &st), 0);
  cr_assert_eq(asx_spawn(cx, r, echo_client, e, NULL, &ct), 0);
  cr_assert_eq(asx_task_join(cx, ct, &e->client_rc, NULL), 0);
  cr_assert_eq(asx_task_join(cx, st, &e->server_rc, NULL), 0);
  asx_region_close(cx, r, NULL);
  return 0;
}

static void echo_round(const char *family, size_t size, unsigned workers) {
  int fds = test_count_fds();
  echo_env e;
  memset(&e, 0, sizeof(e));
  e.family = family;
  e.size = size;
  int rc;
  if (strcmp(family, "unix") == 0) {
    snprintf(e.path, sizeof(e.path), "/tmp/asx-net-test-%d.sock", (int)getpid());
    unlink(e.path);
    rc = asx_unix_listen(e.path, NULL, &e.l);
  } else {
    rc = asx_tcp_listen(strcmp(family, "tcp6") == 0 ? "::1" : "127.0.0.1", 0, NULL, &e.l);
  }
  cr_assert_eq(rc, 0, "listen: %s", asx_errname(rc));
  if (strcmp(family, "tls") == 0) {
    const net_pki *p = net_pki_get();
    asx_tls_options o;
    asx_tls_options_default(&o, ASX_TLS_SERVER);
    o.cert_file = p->server_cert;
    o.key_file = p->server_key;
    cr_assert_eq(asx_tls_config_new(&o, &e.scfg, NULL, 0), 0);
    asx_tls_options_default(&o, ASX_TLS_CLIENT);
    o.ca_file = p->ca;
    cr_assert_eq(asx_tls_config_new(&o, &e.ccfg, NULL, 0), 0);
  }
  cr_assert_eq(net_run(workers, echo_main, &e), 0);
  cr_assert_eq(e.client_rc, 0, "client: %s", asx_errname(e.client_rc));
  cr_assert_eq(e.server_rc, 0, "server: %s", asx_errname(e.server_rc));
  asx_listener_close(e.l);
  asx_tls_config_free(e.scfg);
  asx_tls_config_free(e.ccfg);
  cr_assert_eq(test_count_fds(), fds, "descriptor leak");
}

Test(stream, echo_tcp4) { echo_round("tcp4", 1 << 20, 2); }
Test(stream, echo_tcp6) { echo_round("tcp6", 100000, 2); }
Test(stream, echo_unix) { echo_round("unix", 1 << 20, 2); }
Test(stream, echo_tls) { echo_round("tls", 1 << 20, 2); }
Test(stream, echo_tcp_one_worker) { echo_round("tcp4", 300000, 1); }

/* ---- cancellation reports exact byte counts ---- */
typedef struct cancel_env {
  asx_listener *l;
  asx_stream *peer;       /* server side, owned by main */
  asx_stream *cli;
  size_t got, written;
  int rc;
  uint64_t waited_ns;
  _Atomic int writing;    /* the writer reached write_all */
} cancel_env;

static int blocked_reader(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  char buf[100];
  uint64_t t0 = asx_now(cx);
  e->rc = asx_stream_read_exact(cx, e->cli, buf, sizeof(buf), &e->got);
  e->waited_ns = asx_now(cx) - t0;
  cr_assert_eq(memcmp(buf, "abcd", e->got), 0);
  return 0;
}

static int connect_pair(asx_cx *cx, cancel_env *e) {
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &e->l), 0);
  cr_assert_eq(asx_tcp_connect(cx, "127.0.0.1", asx_listener_port(e->l), NULL, &e->cli), 0);
  cr_assert_eq(asx_listener_accept(cx, e->l, &e->peer), 0);
  return 0;
}

static int cancel_read_main(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  connect_pair(cx, e);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blocked_reader, e, NULL, &t), 0);
  cr_assert_eq(asx_stream_write_all(cx, e->peer, "abcd", 4, NULL), 0);
  cr_assert_eq(asx_sleep(cx, 100 * MS), 0);
  uint64_t t0 = asx_now(cx);
  asx_task_cancel(t, ASX_CANCEL_USER);
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  cr_assert_lt(asx_now(cx) - t0, 2000 * MS, "cancel was not prompt");
  asx_stream_close(e->cli);
  asx_stream_close(e->peer);
  asx_listener_close(e->l);
  return 0;
}

Test(stream, cancel_blocked_read_reports_bytes) {
  int fds = test_count_fds();
  cancel_env e;
  memset(&e, 0, sizeof(e));
  cr_assert_eq(net_run(2, cancel_read_main, &e), 0);
  cr_assert_eq(e.rc, ASX_ECANCELED);
  cr_assert_eq(e.got, 4);
  cr_assert_eq(test_count_fds(), fds);
}

#define BIG (64u << 20)

static int blocked_writer(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  char *buf = malloc(BIG);
  memset(buf, 'w', BIG);
  atomic_store(&e->writing, 1);
  e->rc = asx_stream_write_all(cx, e->cli, buf, BIG, &e->written);
  free(buf);
  asx_stream_shutdown(cx, e->cli);
  return 0;
}

static int cancel_write_main(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  connect_pair(cx, e);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blocked_writer, e, NULL, &t), 0);
  /* Wait until the writer is really writing (filling 64 MiB can take long under load), then give
   * it time to fill the socket buffers: the peer reads nothing, so the writer blocks. */
  for (int i = 0; i < 30000 && !atomic_load(&e->writing); i++) cr_assert_eq(asx_sleep(cx, 1 * MS), 0);
  cr_assert(atomic_load(&e->writing), "writer never started");
  cr_assert_eq(asx_sleep(cx, 150 * MS), 0);
  asx_task_cancel(t, ASX_CANCEL_USER);
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  /* The peer must receive exactly what the writer said was written. */
  size_t total = 0;
  char buf[65536];
  for (;;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, e->peer, buf, sizeof(buf), &n);
    if (rc == ASX_ECLOSED) break;
    cr_assert_eq(rc, 0);
    total += n;
  }
  cr_assert_eq(total, e->written);
  asx_stream_close(e->cli);
  asx_stream_close(e->peer);
  asx_listener_close(e->l);
  return 0;
}

Test(stream, cancel_blocked_write_reports_bytes) {
  int fds = test_count_fds();
  cancel_env e;
  memset(&e, 0, sizeof(e));
  cr_assert_eq(net_run(2, cancel_write_main, &e), 0);
  cr_assert_eq(e.rc, ASX_ECANCELED);
  cr_assert_gt(e.written, 0);
  cr_assert_lt(e.written, BIG);
  cr_assert_eq(test_count_fds(), fds);
}

/* ---- timeouts and budgets ---- */
static int timeouts_main(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  connect_pair(cx, e);
  char b[8];
  size_t n = 5;
  asx_stream_set_idle_timeout(e->cli, 50 * MS);
  cr_assert_eq(asx_stream_read(cx, e->cli, b, sizeof(b), &n), ASX_ETIMEDOUT);
  cr_assert_eq(n, 0);
  asx_stream_set_idle_timeout(e->cli, 0);
  asx_stream_set_read_deadline(e->cli, asx_now(cx) + 50 * MS);
  cr_assert_eq(asx_stream_read(cx, e->cli, b, sizeof(b), &n), ASX_ETIMEDOUT);
  /* Data that is there is still read before the deadline matters. */
  asx_stream_set_read_deadline(e->cli, asx_now(cx) + 500 * MS);
  cr_assert_eq(asx_stream_write_all(cx, e->peer, "hi", 2, NULL), 0);
  cr_assert_eq(asx_stream_read_exact(cx, e->cli, b, 2, &n), 0);
  asx_stream_set_read_deadline(e->cli, ASX_UNLIMITED);
  asx_stream_close(e->cli);
  asx_stream_close(e->peer);
  asx_listener_close(e->l);
  return 0;
}

Test(stream, idle_timeout_and_read_deadline) {
  int fds = test_count_fds();
  cancel_env e;
  memset(&e, 0, sizeof(e));
  cr_assert_eq(net_run(2, timeouts_main, &e), 0);
  cr_assert_eq(test_count_fds(), fds);
}

static int budget_reader(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  char b[8];
  e->rc = asx_stream_read(cx, e->cli, b, sizeof(b), &e->got);
  return 0;
}

static int budget_main(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  connect_pair(cx, e);
  asx_spawn_opts so = asx_spawn_opts_default();
  so.budget.deadline_ns = asx_now(cx) + 80 * MS;
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, budget_reader, e, &so, &t), 0);
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  asx_stream_close(e->cli);
  asx_stream_close(e->peer);
  asx_listener_close(e->l);
  return 0;
}

Test(stream, budget_deadline_ends_a_blocked_read) {
  cancel_env e;
  memset(&e, 0, sizeof(e));
  cr_assert_eq(net_run(2, budget_main, &e), 0);
  cr_assert_eq(e.rc, ASX_ECANCELED);
  cr_assert_eq(e.got, 0);
}

static int connect_errors_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_listener *l;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &l), 0);
  uint16_t port = asx_listener_port(l);
  asx_listener_close(l);
  asx_stream *s = (asx_stream *)1;
  cr_assert_eq(asx_tcp_connect(cx, "127.0.0.1", port, NULL, &s), ASX_ECONNRESET);
  cr_assert_null(s);
  cr_assert_eq(asx_tcp_connect(cx, "not-an-address", 80, NULL, &s), ASX_EINVAL);
  cr_assert_eq(asx_unix_connect(cx, "/nonexistent/sock", NULL, &s), ASX_EIO);
  /* SO_REUSEPORT: two listeners on one port. */
  asx_listen_opts o;
  asx_listen_opts_default(&o);
  o.reuseport = true;
  asx_listener *a, *b;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, &o, &a), 0);
  cr_assert_eq(asx_tcp_listen("127.0.0.1", asx_listener_port(a), &o, &b), 0);
  asx_listener_close(b);
  o.reuseport = false;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", asx_listener_port(a), &o, &b), ASX_EBUSY);
  asx_listener_close(a);
  return 0;
}

Test(stream, connect_errors_and_reuseport) {
  int fds = test_count_fds();
  cr_assert_eq(net_run(1, connect_errors_main, NULL), 0);
  cr_assert_eq(test_count_fds(), fds);
}

static int do_accept(asx_cx *cx, void *arg) {
  asx_stream *s = NULL;
  int rc = asx_listener_accept(cx, arg, &s);
  asx_stream_close(s);
  return rc;
}

static int accept_timeout_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_listener *l;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &l), 0);
  cr_assert_eq(asx_timeout(cx, 50 * MS, do_accept, l), ASX_ETIMEDOUT);
  asx_listener_close(l);
  return 0;
}

Test(stream, blocked_accept_is_cancellable) {
  int fds = test_count_fds();
  cr_assert_eq(net_run(2, accept_timeout_main, NULL), 0);
  cr_assert_eq(test_count_fds(), fds);
}

/* Connect timeout: a listener that never accepts fills its backlog; the kernel then drops SYNs
 * and a connect can only end by its timeout. */
static int connect_timeout_main(asx_cx *cx, void *arg) {
  int *timeouts = arg;
  asx_listen_opts lo;
  asx_listen_opts_default(&lo);
  lo.backlog = 1;
  asx_listener *l;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, &lo, &l), 0);
  asx_stream *s[8] = {0};
  asx_connect_opts co;
  asx_connect_opts_default(&co);
  co.timeout_ns = 200 * MS;
  for (int i = 0; i < 8 && *timeouts == 0; i++) {
    int rc = asx_tcp_connect(cx, "127.0.0.1", asx_listener_port(l), &co, &s[i]);
    if (rc == ASX_ETIMEDOUT) (*timeouts)++;
    else cr_assert_eq(rc, 0, "%s", asx_errname(rc));
  }
  for (int i = 0; i < 8; i++) asx_stream_close(s[i]);
  asx_listener_close(l);
  return 0;
}

Test(stream, connect_timeout) {
  int fds = test_count_fds();
  int timeouts = 0;
  cr_assert_eq(net_run(2, connect_timeout_main, &timeouts), 0);
  cr_assert_eq(timeouts, 1);
  cr_assert_eq(test_count_fds(), fds);
}

/* Without the reactor (or on the deterministic driver, which never polls it) socket waits are
 * refused instead of hanging. */
static int no_reactor_main(asx_cx *cx, void *arg) {
  asx_listener *l = arg;
  asx_stream *s = NULL;
  cr_assert_eq(asx_listener_accept(cx, l, &s), ASX_EUNSUPPORTED);
  cr_assert_eq(asx_io_wait(cx, asx_listener_fd(l), ASX_IO_READ, ASX_UNLIMITED), ASX_EUNSUPPORTED);
  return 0;
}

Test(stream, without_reactor_is_unsupported) {
  int fds = test_count_fds();
  asx_listener *l;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &l), 0);
  asx_net_reactor *re;
  cr_assert_eq(asx_net_reactor_new(NULL, &re), 0);
  for (int det = 0; det < 2; det++) {
    asx_runtime_config cfg;
    asx_runtime_config_default(&cfg);
    cfg.workers = 1;
    if (det) {
      cfg.driver = ASX_DRIVER_DETERMINISTIC;
      asx_net_reactor_configure(re, &cfg);
    }
    asx_runtime *rt;
    cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
    cr_assert_eq(asx_runtime_run(rt, no_reactor_main, l, NULL, NULL), 0);
    asx_runtime_free(rt);
  }
  asx_net_reactor_free(re);
  asx_listener_close(l);
  cr_assert_eq(test_count_fds(), fds);
}

/* One waiter per direction per descriptor. */
static int second_reader(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  return asx_io_wait(cx, asx_stream_fd(e->cli), ASX_IO_READ, ASX_UNLIMITED);
}

/* Reads e->written bytes from the server side. */
static int drain_peer(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  static char buf[65536];
  for (size_t left = e->written; left > 0;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, e->peer, buf, left < sizeof buf ? left : sizeof buf, &n);
    if (rc) return rc;
    left -= n;
  }
  return 0;
}

static int busy_main(asx_cx *cx, void *arg) {
  cancel_env *e = arg;
  connect_pair(cx, e);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blocked_reader, e, NULL, &t), 0);
  cr_assert_eq(asx_sleep(cx, 20 * MS), 0);
  int rc = 0;
  asx_task *t2;
  cr_assert_eq(asx_spawn(cx, NULL, second_reader, e, NULL, &t2), 0);
  cr_assert_eq(asx_task_join(cx, t2, &rc, NULL), 0);
  cr_assert_eq(rc, ASX_EBUSY);
  /* A writer may wait on the same descriptor meanwhile. It waits as asx_io_wait's callers must,
   * after the operation would block (an edge-triggered reactor reports changes only): fill the
   * send buffer, then a drainer on the other end makes it writable again. */
  int fd = asx_stream_fd(e->cli);
  static char junk[4096];
  while (send(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) e->written += sizeof junk;
  cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
  asx_task *d;
  cr_assert_eq(asx_spawn(cx, NULL, drain_peer, e, NULL, &d), 0);
  cr_assert_eq(asx_io_wait(cx, fd, ASX_IO_WRITE, ASX_UNLIMITED), 0);
  cr_assert_eq(asx_task_join(cx, d, &rc, NULL), 0);
  cr_assert_eq(rc, 0);
  cr_assert_eq(asx_stream_write_all(cx, e->peer, "abcd", 4, NULL), 0);
  cr_assert_eq(asx_sleep(cx, 50 * MS), 0); /* the reader takes the 4 bytes and waits again */
  asx_task_cancel(t, ASX_CANCEL_USER);
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  asx_stream_close(e->cli);
  asx_stream_close(e->peer);
  asx_listener_close(e->l);
  return 0;
}

Test(stream, one_waiter_per_direction) {
  int fds = test_count_fds();
  cancel_env e;
  memset(&e, 0, sizeof(e));
  cr_assert_eq(net_run(2, busy_main, &e), 0);
  cr_assert_eq(e.got, 4);
  cr_assert_eq(test_count_fds(), fds);
}

/* Full duplex on one TLS stream: a writer task and a reader task on two workers at once (the
 * engine is shared under the stream's lock), 4 MiB each way through an echo server. */
typedef struct duplex_env {
  asx_listener *l;
  asx_tls_config *scfg, *ccfg;
  asx_stream *s;
  unsigned char *out, *in;
  size_t size;
  int wrc, rrc, src;
} duplex_env;

static int duplex_writer(asx_cx *cx, void *arg) {
  duplex_env *e = arg;
  size_t done = 0;
  while (e->wrc == 0 && done < e->size) {
    size_t k = e->size - done < 10000 ? e->size - done : 10000;
    size_t w = 0;
    e->wrc = asx_stream_write_all(cx, e->s, e->out + done, k, &w);
    done += w;
  }
  return 0;
}

static int duplex_server(asx_cx *cx, void *arg) {
  echo_env ee;
  memset(&ee, 0, sizeof(ee));
  duplex_env *e = arg;
  ee.l = e->l;
  ee.scfg = e->scfg;
  e->src = echo_server(cx, &ee);
  return 0;
}

static int duplex_main(asx_cx *cx, void *arg) {
  duplex_env *e = arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  asx_task *st;
  cr_assert_eq(asx_spawn(cx, r, duplex_server, e, NULL, &st), 0);
  asx_stream *raw;
  cr_assert_eq(asx_tcp_connect(cx, "127.0.0.1", asx_listener_port(e->l), NULL, &raw), 0);
  cr_assert_eq(asx_tls_connect(cx, raw, e->ccfg, "localhost", 5000 * MS, &e->s, NULL, 0), 0);
  asx_task *wt;
  cr_assert_eq(asx_spawn(cx, r, duplex_writer, e, NULL, &wt), 0);
  size_t got = 0;
  e->rrc = asx_stream_read_exact(cx, e->s, e->in, e->size, &got);
  asx_task_join(cx, wt, NULL, NULL);
  cr_assert_eq(asx_stream_shutdown(cx, e->s), 0);
  char b;
  size_t n;
  cr_assert_eq(asx_stream_read(cx, e->s, &b, 1, &n), ASX_ECLOSED);
  asx_task_join(cx, st, NULL, NULL);
  asx_stream_close(e->s);
  asx_region_close(cx, r, NULL);
  return 0;
}

Test(stream, tls_full_duplex_two_tasks) {
  int fds = test_count_fds();
  const net_pki *p = net_pki_get();
  duplex_env e;
  memset(&e, 0, sizeof(e));
  e.size = 4u << 20;
  e.out = malloc(e.size);
  e.in = malloc(e.size);
  for (size_t i = 0; i < e.size; i++) e.out[i] = (unsigned char)(i * 2654435761u >> 13);
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &e.l), 0);
  asx_tls_options o;
  asx_tls_options_default(&o, ASX_TLS_SERVER);
  o.cert_file = p->server_cert;
  o.key_file = p->server_key;
  cr_assert_eq(asx_tls_config_new(&o, &e.scfg, NULL, 0), 0);
  asx_tls_options_default(&o, ASX_TLS_CLIENT);
  o.ca_file = p->ca;
  cr_assert_eq(asx_tls_config_new(&o, &e.ccfg, NULL, 0), 0);
  cr_assert_eq(net_run(2, duplex_main, &e), 0);
  cr_assert_eq(e.wrc, 0, "%s", asx_errname(e.wrc));
  cr_assert_eq(e.rrc, 0, "%s", asx_errname(e.rrc));
  cr_assert_eq(e.src, 0, "%s", asx_errname(e.src));
  cr_assert_eq(memcmp(e.in, e.out, e.size), 0);
  free(e.out);
  free(e.in);
  asx_listener_close(e.l);
  asx_tls_config_free(e.scfg);
  asx_tls_config_free(e.ccfg);
  cr_assert_eq(test_count_fds(), fds);
}

/* ---- reactor registrations across descriptor reuse ---- */

static int delayed_write_z(asx_cx *cx, void *arg) {
  asx_sleep(cx, 5 * MS);
  return asx_stream_write_all(cx, arg, "z", 1, NULL);
}

/* One echo exchange on a fresh connection, each end blocking in a read first, so every
 * descriptor is registered with the reactor before it is closed. */
static int exchange_once(asx_cx *cx) {
  cancel_env e;
  memset(&e, 0, sizeof(e));
  connect_pair(cx, &e);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blocked_reader, &e, NULL, &t), 0);
  cr_assert_eq(asx_sleep(cx, 2 * MS), 0); /* the reader is parked in its wait */
  cr_assert_eq(asx_stream_write_all(cx, e.peer, "abcd", 4, NULL), 0);
  asx_stream_shutdown(cx, e.peer); /* read_exact(100) then ends with ECLOSED after 4 bytes */
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  cr_assert_eq(e.rc, ASX_ECLOSED);
  cr_assert_eq(e.got, 4);
  asx_stream_close(e.cli);
  asx_stream_close(e.peer);
  asx_listener_close(e.l);
  return 0;
}

static int reuse_main(asx_cx *cx, void *arg) {
  (void)arg;
  /* Closing forgets each registration: the next connection gets the same descriptor numbers
   * (the lowest free ones) and must be woken, not mistaken for the closed one. */
  for (int i = 0; i < 40; i++) exchange_once(cx);
  /* A caller's own descriptor waited on with asx_io_wait (no close hook: oneshot), closed, then
   * its number reused by a stream; and a waited-on descriptor wrapped into a stream. */
  int p[2];
  cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  cr_assert_eq(write(p[1], "x", 1), 1);
  cr_assert_eq(asx_io_wait(cx, p[0], ASX_IO_READ, ASX_UNLIMITED), 0);
  close(p[0]);
  close(p[1]);
  exchange_once(cx);
  int q[2];
  cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, q), 0);
  cr_assert_eq(write(q[1], "y", 1), 1);
  cr_assert_eq(asx_io_wait(cx, q[0], ASX_IO_READ, ASX_UNLIMITED), 0);
  asx_stream *a, *b;
  cr_assert_eq(asx_stream_from_fd(q[0], NULL, &a), 0);
  cr_assert_eq(asx_stream_from_fd(q[1], NULL, &b), 0);
  char c[2];
  cr_assert_eq(asx_stream_read_exact(cx, a, c, 1, NULL), 0);
  cr_assert_eq(c[0], 'y');
  /* Now empty: the next read waits through the stream's own registration. */
  asx_task *w;
  cr_assert_eq(asx_spawn(cx, NULL, delayed_write_z, b, NULL, &w), 0);
  cr_assert_eq(asx_stream_read_exact(cx, a, c, 1, NULL), 0);
  cr_assert_eq(c[0], 'z');
  cr_assert_eq(asx_task_join(cx, w, NULL, NULL), 0);
  asx_stream_close(a);
  asx_stream_close(b);
  return 0;
}

Test(stream, descriptor_reuse_after_close) {
  int fds = test_count_fds();
  cr_assert_eq(net_run(2, reuse_main, NULL), 0);
  cr_assert_eq(test_count_fds(), fds);
}

/* Streams and a listener that waited through an edge-mode reactor, closed after the runtime and
 * the reactor were freed (ASan: no use after free; descriptors all closed). */
typedef struct late_env {
  cancel_env e;
} late_env;

static int late_main(asx_cx *cx, void *arg) {
  late_env *le = arg;
  connect_pair(cx, &le->e);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, blocked_reader, &le->e, NULL, &t), 0);
  cr_assert_eq(asx_sleep(cx, 2 * MS), 0);
  cr_assert_eq(asx_stream_write_all(cx, le->e.peer, "abcd", 4, NULL), 0);
  asx_stream_shutdown(cx, le->e.peer);
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  return 0;
}

Test(stream, close_after_reactor_free) {
  int fds = test_count_fds();
  late_env le;
  memset(&le, 0, sizeof(le));
  asx_net_reactor *re;
  cr_assert_eq(asx_net_reactor_new(NULL, &re), 0);
  cr_assert_eq(asx_net_reactor_set_mode(re, ASX_REACTOR_EDGE), 0);
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = 2;
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  cr_assert_eq(asx_runtime_run(rt, late_main, &le, NULL, NULL), 0);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  cr_assert_eq(le.e.got, 4);
  asx_stream_close(le.e.cli);
  asx_stream_close(le.e.peer);
  asx_listener_close(le.e.l);
  cr_assert_eq(test_count_fds(), fds);
}

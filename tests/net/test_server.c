/* The server helper on loopback: line echo with many concurrent connections, the connection cap,
 * slowloris cut at the read timeout, graceful shutdown draining in-flight echoes, the grace cut,
 * and real TLS peers (openssl s_client, curl) for ALPN, refused clients and mTLS. Every test
 * checks teardown (no live task/region/obligation, no leaked descriptor). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net_testutil.h"
#include "test_fds.h"

#define MS 1000000ull

#if defined(__SANITIZE_ADDRESS__)
#define MANY_CONNS 200
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MANY_CONNS 200
#endif
#endif
#ifndef MANY_CONNS
#define MANY_CONNS 1000
#endif

TestSuite(server, .timeout = 90);

typedef struct hcfg {
  uint64_t delay_ns;     /* "work" between reading a line and answering it */
  uint64_t read_timeout; /* extend the read deadline by this after every line (0 = never) */
  bool http;             /* answer one HTTP request with the ALPN protocol as the body */
  _Atomic int lines_in;  /* lines read so far (the test waits on it) */
} hcfg;

/* Echoes complete lines. A line already read is always answered, also during shutdown (the
 * answer is written masked); after that a cancelled handler returns. */
static int line_echo(asx_cx *cx, asx_stream *s, void *arg) {
  hcfg *h = arg;
  char line[1024];
  size_t len = 0;
  for (;;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, s, line + len, sizeof(line) - len, &n);
    if (rc) return rc == ASX_ECLOSED ? 0 : rc;
    len += n;
    char *nl;
    while ((nl = memchr(line, '\n', len))) {
      size_t k = (size_t)(nl - line) + 1;
      if (h) atomic_fetch_add(&h->lines_in, 1);
      if (h && h->delay_ns) asx_sleep(cx, h->delay_ns);
      asx_mask_push(cx);
      rc = asx_stream_write_all(cx, s, line, k, NULL);
      asx_mask_pop(cx);
      memmove(line, line + k, len - k);
      len -= k;
      if (rc) return rc;
      if (h && h->read_timeout) asx_stream_set_read_deadline(s, asx_now(cx) + h->read_timeout);
    }
    if (len == sizeof(line)) return ASX_ELIMIT;
    if (asx_cancel_requested(cx)) return ASX_ECANCELED;
  }
}

static int http_alpn(asx_cx *cx, asx_stream *s, void *arg) {
  (void)arg;
  char req[4096];
  size_t len = 0;
  while (len < sizeof(req) - 1) {
    size_t n = 0;
    int rc = asx_stream_read(cx, s, req + len, sizeof(req) - 1 - len, &n);
    if (rc) return rc;
    len += n;
    req[len] = '\0';
    if (strstr(req, "\r\n\r\n")) break;
  }
  const char *alpn = asx_stream_alpn(s) ? asx_stream_alpn(s) : "";
  char resp[256];
  int k = snprintf(resp, sizeof(resp),
                   "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   strlen(alpn) + 1, alpn);
  int rc = asx_stream_write_all(cx, s, resp, (size_t)k, NULL);
  if (rc == 0) rc = asx_stream_write_all(cx, s, "\n", 1, NULL);
  if (rc == 0) asx_stream_shutdown(cx, s);
  return rc;
}

static asx_server *make_server(asx_server_opts *o, asx_conn_fn fn, void *arg, uint16_t *port) {
  asx_listen_opts lo;
  asx_listen_opts_default(&lo);
  lo.backlog = 4096;
  asx_listener *l;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, &lo, &l), 0);
  *port = asx_listener_port(l);
  asx_server *srv;
  cr_assert_eq(asx_server_new(l, o, fn, arg, &srv), 0);
  return srv;
}

static uint64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Blocking-socket line exchange with a receive timeout. Returns bytes read or -errno. */
static long send_line_recv(int fd, const char *line, char *out, size_t cap, int timeout_ms) {
  if (line && send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line)) return -errno;
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t len = 0;
  while (len < cap) {
    ssize_t r = recv(fd, out + len, cap - len, 0);
    if (r < 0) return len ? (long)len : -errno;
    if (r == 0) break;
    len += (size_t)r;
    if (memchr(out, '\n', len)) break;
  }
  return (long)len;
}

/* ---- many concurrent connections ---- */
typedef struct many_env {
  uint16_t port;
  int ok;
  _Atomic int done_ok;
  asx_tls_config *tls; /* client config: TLS clients when set */
  int count;
} many_env;

static int many_client(asx_cx *cx, void *arg) {
  many_env *e = arg;
  asx_stream *s = NULL;
  asx_connect_opts co;
  asx_connect_opts_default(&co);
  co.timeout_ns = 20000 * MS;
  int rc = asx_tcp_connect(cx, "127.0.0.1", e->port, &co, &s);
  if (rc) return rc;
  if (e->tls) {
    asx_stream *t = NULL;
    rc = asx_tls_connect(cx, s, e->tls, "localhost", 20000 * MS, &t, NULL, 0);
    if (rc) {
      asx_stream_close(s);
      return rc;
    }
    s = t;
  }
  uint64_t id = asx_task_id(asx_cx_task(cx));
  for (int i = 0; i < 3 && rc == 0; i++) {
    char line[64], back[64];
    int k = snprintf(line, sizeof(line), "conn %llu line %d\n", (unsigned long long)id, i);
    rc = asx_stream_write_all(cx, s, line, (size_t)k, NULL);
    if (rc == 0) rc = asx_stream_read_exact(cx, s, back, (size_t)k, NULL);
    if (rc == 0 && memcmp(line, back, (size_t)k) != 0) rc = ASX_EPROTO;
  }
  asx_stream_close(s);
  if (rc == 0) atomic_fetch_add(&e->done_ok, 1);
  return rc;
}

static int many_main(asx_cx *cx, void *arg) {
  many_env *e = arg;
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  for (int i = 0; i < e->count; i++) {
    asx_spawn_opts so = asx_spawn_opts_default();
    so.stack_size = e->tls ? 0 : 64 * 1024; /* OpenSSL wants more than 64 KiB of stack */
    cr_assert_eq(asx_spawn(cx, r, many_client, arg, &so, NULL), 0);
  }
  asx_region_close(cx, r, NULL);
  return 0;
}

Test(server, many_concurrent_connections_echo) {
  int fds = test_count_fds();
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.max_conns = 2 * MANY_CONNS;
  o.stack_size = 64 * 1024;
  many_env e = {.count = MANY_CONNS};
  asx_server *srv = make_server(&o, line_echo, NULL, &e.port);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 2);
  cr_assert_eq(net_run(2, many_main, &e), 0);
  cr_assert_eq(atomic_load(&e.done_ok), MANY_CONNS);
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_eq(st.accepted, MANY_CONNS);
  cr_assert_eq(st.completed, MANY_CONNS);
  cr_assert_eq(st.active, 0);
  cr_assert_eq(test_count_fds(), fds);
}

Test(server, unix_socket_server) {
  int fds = test_count_fds();
  char path[128];
  snprintf(path, sizeof(path), "/tmp/asx-net-srv-%d.sock", (int)getpid());
  unlink(path);
  asx_listener *l;
  cr_assert_eq(asx_unix_listen(path, NULL, &l), 0);
  asx_server *srv;
  cr_assert_eq(asx_server_new(l, NULL, line_echo, NULL, &srv), 0);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 1);
  char cmd[512];
  snprintf(cmd, sizeof(cmd),
           "test \"$(printf 'over unix\\n' | timeout 5 /usr/bin/python3 -c \"import socket,sys;"
           "s=socket.socket(socket.AF_UNIX);s.connect('%s');s.sendall(sys.stdin.buffer.read());"
           "print(s.recv(100).decode(),end='')\")\" = 'over unix'",
           path);
  cr_assert_eq(net_sh(cmd), 0);
  net_bg_stop(&bg, NULL);
  cr_assert_eq(access(path, F_OK), -1, "socket file left behind");
  cr_assert_eq(test_count_fds(), fds);
}

/* ---- connection cap ---- */
Test(server, max_conns_holds_extra_clients_in_the_backlog) {
  int fds = test_count_fds();
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.max_conns = 2;
  uint16_t port;
  asx_server *srv = make_server(&o, line_echo, NULL, &port);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 2);
  int a = net_blocking_connect(port), b = net_blocking_connect(port), c = net_blocking_connect(port);
  cr_assert(a >= 0 && b >= 0 && c >= 0);
  char buf[64];
  cr_assert_eq(send_line_recv(a, "a\n", buf, sizeof(buf), 2000), 2);
  cr_assert_eq(send_line_recv(b, "b\n", buf, sizeof(buf), 2000), 2);
  cr_assert_lt(send_line_recv(c, "c\n", buf, sizeof(buf), 300), 0, "third client served over the cap");
  close(a);
  cr_assert_eq(send_line_recv(c, NULL, buf, sizeof(buf), 3000), 2, "third client never served");
  cr_assert_eq(memcmp(buf, "c\n", 2), 0);
  close(b);
  close(c);
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_eq(st.accepted, 3);
  cr_assert_eq(test_count_fds(), fds);
}

/* ---- slowloris ---- */
Test(server, slowloris_is_cut_at_the_read_timeout) {
  int fds = test_count_fds();
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.read_timeout_ns = 1000 * MS;
  hcfg h = {.read_timeout = 1000 * MS};
  uint16_t port;
  asx_server *srv = make_server(&o, line_echo, &h, &port);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 2);

  /* A polite client: one line every 300 ms for 2 s is never cut (the deadline moves on). */
  int good = net_blocking_connect(port);
  char buf[64];
  for (int i = 0; i < 7; i++) {
    cr_assert_eq(send_line_recv(good, "ok\n", buf, sizeof(buf), 2000), 3);
    usleep(300000);
  }
  /* A slowloris client: one byte every 250 ms, never a newline. */
  int slow = net_blocking_connect(port);
  uint64_t t0 = wall_ms();
  int sent = 0;
  for (;;) {
    ssize_t r = send(slow, "x", 1, MSG_NOSIGNAL);
    char b;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 250000};
    setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t k = recv(slow, &b, 1, 0);
    if (r < 0 || k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
    sent++;
    cr_assert_lt(wall_ms() - t0, 10000, "slowloris never cut");
  }
  uint64_t took = wall_ms() - t0;
  cr_assert_geq(took, 900, "cut before the read timeout (%llu ms)", (unsigned long long)took);
  cr_assert_gt(sent, 2);
  close(slow);
  close(good); /* idle past its own read deadline by now: the server cut it too */
  int again = net_blocking_connect(port);
  cr_assert_eq(send_line_recv(again, "still\n", buf, sizeof(buf), 2000), 6, "server stopped serving");
  close(again);
  net_bg_stop(&bg, NULL);
  cr_assert_eq(test_count_fds(), fds);
}

/* ---- graceful shutdown ---- */
Test(server, graceful_shutdown_drains_in_flight_echoes) {
  int fds = test_count_fds();
  asx_server_opts o;
  asx_server_opts_default(&o);
  hcfg h = {.delay_ns = 3000 * MS}; /* far longer than the test: only shutdown ends it */
  uint16_t port;
  asx_server *srv = make_server(&o, line_echo, &h, &port);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 2);
  int fd[4];
  for (int i = 0; i < 4; i++) {
    fd[i] = net_blocking_connect(port);
    cr_assert_eq(send(fd[i], "inflight\n", 9, MSG_NOSIGNAL), 9);
  }
  /* Shut down once every handler is "working" on its line (read, not yet answered). */
  for (int i = 0; i < 500 && atomic_load(&h.lines_in) < 4; i++) usleep(10000);
  cr_assert_eq(atomic_load(&h.lines_in), 4);
  asx_server_shutdown(bg.srv);
  for (int i = 0; i < 4; i++) {
    char buf[64];
    cr_assert_eq(send_line_recv(fd[i], NULL, buf, sizeof(buf), 3000), 9, "in-flight echo lost");
    cr_assert_eq(memcmp(buf, "inflight\n", 9), 0);
    cr_assert_eq(send_line_recv(fd[i], NULL, buf, sizeof(buf), 3000), 0, "connection not closed");
    close(fd[i]);
  }
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_eq(st.forced_closes, 0);
  cr_assert_eq(st.completed, 4);
  /* Stopped accepting: the port refuses connections now. */
  cr_assert_lt(net_blocking_connect(port), 0);
  cr_assert_eq(test_count_fds(), fds);
}

static int stubborn(asx_cx *cx, asx_stream *s, void *arg) {
  (void)arg;
  asx_mask_push(cx); /* ignores the shutdown request: only the grace cut ends it */
  char b[16];
  size_t n;
  int rc;
  while ((rc = asx_stream_read(cx, s, b, sizeof(b), &n)) == 0) {
  }
  asx_mask_pop(cx);
  return rc;
}

Test(server, grace_period_cuts_stubborn_connections) {
  int fds = test_count_fds();
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.grace_ns = 200 * MS;
  uint16_t port;
  asx_server *srv = make_server(&o, stubborn, NULL, &port);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 2);
  int fd = net_blocking_connect(port);
  cr_assert_eq(send(fd, "x", 1, MSG_NOSIGNAL), 1);
  usleep(100000);
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_eq(st.forced_closes, 1);
  close(fd);
  cr_assert_eq(test_count_fds(), fds);
}

Test(server, many_concurrent_tls_connections_echo) {
  int fds = test_count_fds();
  const net_pki *p = net_pki_get();
  asx_tls_options to;
  asx_tls_options_default(&to, ASX_TLS_SERVER);
  to.cert_file = p->server_cert;
  to.key_file = p->server_key;
  asx_tls_config *scfg, *ccfg;
  cr_assert_eq(asx_tls_config_new(&to, &scfg, NULL, 0), 0);
  asx_tls_options_default(&to, ASX_TLS_CLIENT);
  to.ca_file = p->ca;
  cr_assert_eq(asx_tls_config_new(&to, &ccfg, NULL, 0), 0);
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.tls = scfg;
  many_env e = {.count = MANY_CONNS / 5, .tls = ccfg};
  asx_server *srv = make_server(&o, line_echo, NULL, &e.port);
  net_bg bg = {0};
  net_bg_start(&bg, srv, 2);
  cr_assert_eq(net_run(2, many_main, &e), 0);
  cr_assert_eq(atomic_load(&e.done_ok), e.count);
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_eq(st.accepted, (uint64_t)e.count);
  cr_assert_eq(st.handshake_failures, 0);
  asx_tls_config_free(scfg);
  asx_tls_config_free(ccfg);
  cr_assert_eq(test_count_fds(), fds);
}

/* ---- TLS against real peers ---- */
static const char *const ALPN_H2[] = {"h2", "http/1.1"};
static const char *const ALPN_H1[] = {"http/1.1"};

static asx_tls_config *tls_server_cfg(bool mtls, const char *const *alpn, size_t nalpn) {
  const net_pki *p = net_pki_get();
  asx_tls_options o;
  asx_tls_options_default(&o, ASX_TLS_SERVER);
  o.cert_file = p->server_cert;
  o.key_file = p->server_key;
  o.alpn = alpn;
  o.alpn_count = nalpn;
  if (mtls) {
    o.ca_file = p->ca;
    o.require_client_cert = true;
  }
  asx_tls_config *cfg;
  char err[256];
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), 0, "%s", err);
  return cfg;
}

static void tls_server_start(net_bg *bg, asx_tls_config *cfg, asx_conn_fn fn, uint16_t *port) {
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.tls = cfg;
  o.handshake_timeout_ns = 3000 * MS;
  net_bg_start(bg, make_server(&o, fn, NULL, port), 2);
}

Test(server, tls_handshake_timeout_cuts_silent_clients) {
  int fds = test_count_fds();
  asx_tls_config *cfg = tls_server_cfg(false, NULL, 0);
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.tls = cfg;
  o.handshake_timeout_ns = 300 * MS;
  uint16_t port;
  net_bg bg = {0};
  net_bg_start(&bg, make_server(&o, line_echo, NULL, &port), 2);
  int fd = net_blocking_connect(port); /* TCP only: never a ClientHello */
  uint64_t t0 = wall_ms();
  char buf[16];
  cr_assert_eq(send_line_recv(fd, NULL, buf, sizeof(buf), 5000), 0, "not closed by the timeout");
  cr_assert_geq(wall_ms() - t0, 200);
  close(fd);
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_eq(st.handshake_failures, 1);
  asx_tls_config_free(cfg);
  cr_assert_eq(test_count_fds(), fds);
}

Test(server, openssl_s_client_alpn_and_refusals) {
  int fds = test_count_fds();
  const net_pki *p = net_pki_get();
  asx_tls_config *cfg = tls_server_cfg(false, ALPN_H2, 2);
  uint16_t port;
  net_bg bg = {0};
  tls_server_start(&bg, cfg, line_echo, &port);
  char cmd[2048];
  /* ALPN as asked, verified chain, and an echo through the connection. */
  snprintf(cmd, sizeof(cmd),
           "out=$( (printf 'via s_client\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:%u "
           "-servername localhost -verify_hostname localhost -verify_return_error -CAfile '%s' "
           "-alpn h2 2>&1); echo \"$out\" | grep -q 'ALPN protocol: h2' && "
           "echo \"$out\" | grep -q 'Verify return code: 0' && echo \"$out\" | grep -q 'via s_client'",
           port, p->ca);
  cr_assert_eq(net_sh(cmd), 0, "s_client with h2 failed");
  snprintf(cmd, sizeof(cmd),
           "(printf 'x\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:%u -servername localhost "
           "-CAfile '%s' -alpn http/1.1 2>&1 | grep -q 'ALPN protocol: http/1.1'",
           port, p->ca);
  cr_assert_eq(net_sh(cmd), 0, "s_client with http/1.1 failed");
  /* A client that does not trust our CA refuses the server. */
  snprintf(cmd, sizeof(cmd),
           "(printf 'x\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:%u -servername localhost "
           "-verify_return_error -CAfile '%s'", port, p->other_ca);
  cr_assert_neq(net_sh(cmd), 0, "client without the CA was not refused");
  /* TLS 1.1 is refused by the server. */
  snprintf(cmd, sizeof(cmd),
           "(printf 'x\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:%u -tls1_1 "
           "2>&1 | grep -q 'via'", port);
  cr_assert_neq(net_sh(cmd), 0);
  asx_server_stats st;
  net_bg_stop(&bg, &st);
  cr_assert_geq(st.handshake_failures, 1);
  asx_tls_config_free(cfg);
  cr_assert_eq(test_count_fds(), fds);
}

Test(server, openssl_s_client_mtls) {
  int fds = test_count_fds();
  const net_pki *p = net_pki_get();
  asx_tls_config *cfg = tls_server_cfg(true, NULL, 0);
  uint16_t port;
  net_bg bg = {0};
  tls_server_start(&bg, cfg, line_echo, &port);
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "(printf 'mtls\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:%u -servername "
           "localhost -CAfile '%s' 2>&1 | grep -q 'mtls'", port, p->ca);
  cr_assert_neq(net_sh(cmd), 0, "mTLS server served a client without a certificate");
  snprintf(cmd, sizeof(cmd),
           "(printf 'mtls\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:%u -servername "
           "localhost -CAfile '%s' -cert '%s' -key '%s' 2>&1 | grep -q 'mtls'",
           port, p->ca, p->client_cert, p->client_key);
  cr_assert_eq(net_sh(cmd), 0, "mTLS client with a certificate failed");
  net_bg_stop(&bg, NULL);
  asx_tls_config_free(cfg);
  cr_assert_eq(test_count_fds(), fds);
}

Test(server, curl_over_tls) {
  int fds = test_count_fds();
  const net_pki *p = net_pki_get();
  asx_tls_config *cfg = tls_server_cfg(false, ALPN_H1, 1);
  uint16_t port;
  net_bg bg = {0};
  tls_server_start(&bg, cfg, http_alpn, &port);
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "test \"$(timeout 10 curl -sS --http1.1 --cacert '%s' https://localhost:%u/)\" = http/1.1",
           p->ca, port);
  cr_assert_eq(net_sh(cmd), 0, "curl --http1.1 failed");
  /* curl offers h2 first; the server's list has only http/1.1, so that is chosen. */
  snprintf(cmd, sizeof(cmd),
           "test \"$(timeout 10 curl -sS --http2 --cacert '%s' https://localhost:%u/)\" = http/1.1",
           p->ca, port);
  cr_assert_eq(net_sh(cmd), 0, "curl --http2 did not fall back to http/1.1");
  snprintf(cmd, sizeof(cmd), "timeout 10 curl -sS --cacert '%s' https://localhost:%u/", p->other_ca,
           port);
  cr_assert_neq(net_sh(cmd), 0, "curl without the CA was not refused");
  /* A name the certificate does not carry is refused. */
  snprintf(cmd, sizeof(cmd),
           "timeout 10 curl -sS --cacert '%s' --resolve wrong.test:%u:127.0.0.1 https://wrong.test:%u/",
           p->ca, port, port);
  cr_assert_neq(net_sh(cmd), 0, "curl accepted a certificate for another name");
  snprintf(cmd, sizeof(cmd),
           "test \"$(timeout 10 curl -sS --cacert '%s' https://127.0.0.1:%u/)\" = http/1.1", p->ca, port);
  cr_assert_eq(net_sh(cmd), 0, "curl by IP address (IP SAN) failed");
  net_bg_stop(&bg, NULL);
  asx_tls_config_free(cfg);
  cr_assert_eq(test_count_fds(), fds);
}

Test(server, curl_mtls) {
  int fds = test_count_fds();
  const net_pki *p = net_pki_get();
  asx_tls_config *cfg = tls_server_cfg(true, ALPN_H1, 1);
  uint16_t port;
  net_bg bg = {0};
  tls_server_start(&bg, cfg, http_alpn, &port);
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "timeout 10 curl -sS --cacert '%s' https://localhost:%u/", p->ca, port);
  cr_assert_neq(net_sh(cmd), 0, "curl without a client cert was served");
  snprintf(cmd, sizeof(cmd),
           "test \"$(timeout 10 curl -sS --cacert '%s' --cert '%s' --key '%s' "
           "https://localhost:%u/)\" = http/1.1",
           p->ca, p->client_cert, p->client_key, port);
  cr_assert_eq(net_sh(cmd), 0, "curl with a client cert failed");
  net_bg_stop(&bg, NULL);
  asx_tls_config_free(cfg);
  cr_assert_eq(test_count_fds(), fds);
}

/* HTTP/1.1 server glue on loopback with real clients (curl, raw sockets): request/response
 * basics, request bodies (sized, chunked, 100-continue), keep-alive and pipelining order, limit
 * responses, slowloris and idle timeouts, upgrades and graceful shutdown draining a request. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "asx/http1_server.h"
#include "srv_util.h"

static atomic_int slow_started;
static atomic_int slow_finished;
static atomic_int upgrade_calls;
static char upgrade_rest[256];
static size_t upgrade_rest_len;

static int reply(asx_cx *cx, asx_http1_resp *resp, const char *body) {
  return asx_http1_resp_send(cx, resp, body, strlen(body));
}

static int handler(asx_cx *cx, asx_http1_req *req, asx_http1_resp *resp, void *ud) {
  (void)ud;
  asx_slice path = asx_http1_req_path(req);
  char idx[32];
  snprintf(idx, sizeof idx, "%llu", (unsigned long long)asx_http1_req_index(req));
  asx_http1_resp_header(resp, "X-Req-Index", idx);
  if (asx_slice_eq(path, "/")) return reply(cx, resp, "hello\n");
  if (asx_slice_eq(path, "/echo")) {
    asx_buf body;
    asx_buf_init(&body, NULL, 32u << 20);
    int rc = asx_http1_req_read_all(cx, req, &body);
    if (rc == 0) rc = asx_http1_resp_send(cx, resp, body.data ? (const char *)body.data : "", body.len);
    asx_buf_free(&body);
    return rc;
  }
  if (asx_slice_eq(path, "/chunked")) {
    asx_http1_resp_header(resp, "Trailer", "X-Sum");
    int rc = asx_http1_resp_start(cx, resp, -1);
    for (int i = 0; rc == 0 && i < 3; i++) rc = asx_http1_resp_write(cx, resp, "part;", 5);
    asx_http1_header tr = {{(const uint8_t *)"X-Sum", 5}, {(const uint8_t *)"3", 1}};
    if (rc == 0) rc = asx_http1_resp_finish(cx, resp, &tr, 1);
    return rc;
  }
  if (asx_slice_eq(path, "/big")) {
    static char chunk[100000];
    memset(chunk, 'b', sizeof chunk);
    int rc = asx_http1_resp_start(cx, resp, 10 * (int64_t)sizeof chunk);
    for (int i = 0; rc == 0 && i < 10; i++) rc = asx_http1_resp_write(cx, resp, chunk, sizeof chunk);
    return rc ? rc : asx_http1_resp_finish(cx, resp, NULL, 0);
  }
  if (asx_slice_eq(path, "/slow")) {
    atomic_store(&slow_started, 1);
    asx_sleep(cx, 500000000ull); /* masked by the server: shutdown does not cut it short */
    atomic_store(&slow_finished, 1);
    return reply(cx, resp, "slow done\n");
  }
  if (asx_slice_eq(path, "/own-date")) {
    asx_http1_resp_header(resp, "date", "Sun, 06 Nov 1994 08:49:37 GMT");
    return reply(cx, resp, "dated\n");
  }
  if (asx_slice_eq(path, "/noresp")) return 0;
  if (asx_slice_eq(path, "/fail")) return ASX_EIO;
  asx_http1_resp_status(resp, 404);
  return reply(cx, resp, "not found\n");
}

static int upgrade_hook(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                        size_t rest_len, void *ud) {
  (void)ud;
  atomic_fetch_add(&upgrade_calls, 1);
  upgrade_rest_len = rest_len < sizeof upgrade_rest ? rest_len : sizeof upgrade_rest;
  memcpy(upgrade_rest, rest, upgrade_rest_len);
  if (req && asx_http1_req_upgrade(req) == ASX_HTTP1_PROTO_OTHER) return ASX_HTTP1_DECLINE;
  static const char msg[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nswitched";
  const char *m = req ? msg : "h2-prior-seen";
  return asx_stream_write_all(cx, s, m, strlen(m), NULL);
}

static asx_http1_server_config cfg;
static testsrv ts;

/* Suite init starts a default server; tests that need another config restart it. */
static void setup_with(void (*tweak)(asx_http1_server_config *)) {
  if (ts.running) testsrv_stop(&ts);
  asx_http1_server_config_default(&cfg);
  cfg.handler = handler;
  cfg.upgrade = upgrade_hook;
  cfg.server_header = "asx-test";
  if (tweak) tweak(&cfg);
  atomic_store(&slow_started, 0);
  atomic_store(&slow_finished, 0);
  atomic_store(&upgrade_calls, 0);
  memset(&ts, 0, sizeof ts);
  testsrv_start(&ts, asx_http1_conn_fn, &cfg);
}

static void setup(void) { setup_with(NULL); }
static void teardown(void) { testsrv_stop(&ts); }

static int curl(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int curl(char *out, size_t cap, const char *fmt, ...) {
  char args[4096], cmd[4200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "curl -sS --http1.1 --max-time 10 %s", args);
  return run_cmd(cmd, out, cap);
}

TestSuite(http1_server, .init = setup, .fini = teardown, .timeout = 60);

Test(http1_server, curl_get) {
  char out[4096];
  cr_assert_eq(curl(out, sizeof out, "-i http://127.0.0.1:%u/", ts.port), 0);
  cr_expect(strstr(out, "HTTP/1.1 200 OK\r\n") == out, "%s", out);
  cr_expect(strstr(out, "Content-Length: 6\r\n"));
  cr_expect(strstr(out, "Server: asx-test\r\n"));
  cr_expect(strstr(out, "\r\n\r\nhello\n"));
}

/* The Date header: IMF-fixdate of the wall clock (compared within a loose window against the
 * test's own clock), one only when the handler set its own, none when turned off. */
static int count_dates(const char *out) {
  int n = 0;
  for (const char *p = out; (p = strcasestr(p, "\r\ndate: ")) != NULL; p += 8) n++;
  return n;
}

Test(http1_server, date_header) {
  char out[4096];
  time_t before = time(NULL);
  cr_assert_eq(curl(out, sizeof out, "-i http://127.0.0.1:%u/", ts.port), 0);
  time_t after = time(NULL);
  cr_assert_eq(count_dates(out), 1, "%s", out);
  const char *d = strstr(out, "\r\nDate: ");
  cr_assert(d, "%s", out);
  d += 8;
  bool matched = false;
  for (time_t t = before - 2; t <= after + 2 && !matched; t++) {
    char want[ASX_IMF_FIXDATE_LEN + 1];
    asx_imf_fixdate((uint64_t)t, want);
    matched = strncmp(d, want, ASX_IMF_FIXDATE_LEN) == 0 && d[ASX_IMF_FIXDATE_LEN] == '\r';
  }
  cr_assert(matched, "%.40s", d);
  cr_assert_eq(curl(out, sizeof out, "-i http://127.0.0.1:%u/own-date", ts.port), 0);
  cr_assert_eq(count_dates(out), 1, "%s", out);
  cr_assert(strstr(out, "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), "%s", out);
  /* The server's own error responses carry one too. */
  cr_assert_eq(curl(out, sizeof out, "-i -X BREW http://127.0.0.1:%u/ -H 'Host: a' -H 'Host: b'", ts.port), 0);
  cr_assert_eq(count_dates(out), 1, "%s", out);
}

static void no_date(asx_http1_server_config *c) { c->date_header = false; }

Test(http1_server, date_header_off) {
  setup_with(no_date);
  char out[4096];
  cr_assert_eq(curl(out, sizeof out, "-i http://127.0.0.1:%u/", ts.port), 0);
  cr_assert_eq(count_dates(out), 0, "%s", out);
}

Test(http1_server, curl_head_has_no_body) {
  char out[4096];
  cr_assert_eq(curl(out, sizeof out, "-I http://127.0.0.1:%u/", ts.port), 0);
  cr_expect(strstr(out, "Content-Length: 6\r\n"), "%s", out);
  cr_expect(strstr(out, "hello") == NULL);
}

Test(http1_server, curl_post_echo) {
  char out[4096];
  cr_assert_eq(curl(out, sizeof out, "--data-binary 'some body bytes' http://127.0.0.1:%u/echo", ts.port), 0);
  cr_expect_str_eq(out, "some body bytes");
}

Test(http1_server, curl_post_chunked_request) {
  char path[] = "/tmp/asx_h1_bodyXXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  char data[70000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('a' + i % 26);
  cr_assert_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
  close(fd);
  static char out[80000];
  int rc = curl(out, sizeof out, "-H 'Transfer-Encoding: chunked' --data-binary @%s http://127.0.0.1:%u/echo",
                path, ts.port);
  unlink(path);
  cr_assert_eq(rc, 0);
  cr_expect_eq(strlen(out), sizeof data);
  cr_expect(memcmp(out, data, sizeof data) == 0);
}

Test(http1_server, curl_expect_100_continue) {
  char out[4096];
  cr_assert_eq(curl(out, sizeof out, "-v -H 'Expect: 100-continue' --data-binary 'continued' "
                                     "http://127.0.0.1:%u/echo 2>&1", ts.port), 0);
  cr_expect(strstr(out, "HTTP/1.1 100 Continue"), "%s", out);
  cr_expect(strstr(out, "continued"));
}

Test(http1_server, chunked_response_with_trailer) {
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  cr_assert(cli_send_str(fd, "GET /chunked HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n"));
  char buf[4096];
  cr_assert(cli_recv_response(fd, buf, sizeof buf) > 0);
  cr_expect(strstr(buf, "Transfer-Encoding: chunked\r\n"), "%s", buf);
  cr_expect(strstr(buf, "\r\n\r\n5\r\npart;\r\n5\r\npart;\r\n5\r\npart;\r\n0\r\nX-Sum: 3\r\n\r\n"), "%s", buf);
  close(fd);
}

Test(http1_server, keep_alive_several_requests_one_connection) {
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  for (int i = 0; i < 5; i++) {
    cr_assert(cli_send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    char buf[4096], want[64];
    cr_assert(cli_recv_response(fd, buf, sizeof buf) > 0, "response %d", i);
    snprintf(want, sizeof want, "X-Req-Index: %d\r\n", i);
    cr_expect(strstr(buf, want), "request %d on the same connection: %s", i, buf);
    cr_expect(strstr(buf, "Connection: close") == NULL);
  }
  close(fd);
}

Test(http1_server, curl_reuses_the_connection) {
  char out[8192];
  cr_assert_eq(curl(out, sizeof out, "-v http://127.0.0.1:%u/ http://127.0.0.1:%u/echo -d x 2>&1",
                    ts.port, ts.port), 0);
  cr_expect(strstr(out, "Re-using existing connection"), "%s", out);
}

Test(http1_server, pipelined_responses_in_order) {
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  const char reqs[] =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST /echo HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
      "Connection: close\r\n\r\nlast";
  cr_assert(cli_send(fd, reqs, sizeof reqs - 1));
  static char all[65536];
  size_t n = cli_recv_all(fd, all, sizeof all);
  cr_assert(n > 0);
  const char *want[] = {"\r\n\r\none", "\r\n\r\ntwo", "slow done", "not found", "\r\n\r\nlast"};
  const char *p = all;
  for (size_t i = 0; i < 5; i++) {
    const char *q = strstr(p, want[i]);
    cr_assert(q, "response %zu (%s) missing or out of order in:\n%s", i, want[i], all);
    p = q + strlen(want[i]);
  }
  cr_expect(strstr(all, "Connection: close"), "the last response announces the close");
  close(fd);
}

/* A pipelined response that is complete goes out before the next handler runs: a slow handler
 * behind it does not hold it back (head-of-line). */
Test(http1_server, pipelined_response_not_held_by_a_slow_handler) {
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  cr_assert(cli_send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  static char first[4096];
  size_t n = cli_recv_response(fd, first, sizeof first);
  cr_assert(n > 0 && strstr(first, "\r\n\r\nhello\n"), "%s", first);
  cr_expect_eq(atomic_load(&slow_finished), 0, "the first response waited for the slow handler");
  static char second[4096];
  n = cli_recv_response(fd, second, sizeof second);
  cr_assert(n > 0 && strstr(second, "slow done"), "%s", second);
  close(fd);
}

Test(http1_server, big_response_body) {
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  cr_assert(cli_send_str(fd, "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  static char all[1100000];
  size_t n = cli_recv_all(fd, all, sizeof all);
  char *body = strstr(all, "\r\n\r\n");
  cr_assert(body);
  cr_expect_eq(n - (size_t)(body + 4 - all), 1000000u);
  close(fd);
}

Test(http1_server, handler_without_response_gets_500) {
  char out[4096];
  curl(out, sizeof out, "-i http://127.0.0.1:%u/noresp", ts.port);
  cr_expect(strstr(out, "HTTP/1.1 500 "), "%s", out);
  curl(out, sizeof out, "-i http://127.0.0.1:%u/fail", ts.port);
  cr_expect(strstr(out, "HTTP/1.1 500 "), "%s", out);
}

static void expect_status_for(const char *raw, size_t len, const char *status);
static void expect_status_str(const char *raw, const char *status) {
  expect_status_for(raw, strlen(raw), status);
}

static void expect_status_for(const char *raw, size_t len, const char *status) {
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  cli_send(fd, raw, len);
  static char buf[65536];
  cli_recv_all(fd, buf, sizeof buf); /* the server closes after an error response */
  cr_expect(strncmp(buf, status, strlen(status)) == 0, "want %s, got: %.200s", status, buf);
  cr_expect(strstr(buf, "Connection: close\r\n"), "%.200s", buf);
  close(fd);
}

Test(http1_server, protocol_errors_map_to_statuses) {
  expect_status_str("GET / HTTP/1.2\r\nHost: x\r\n\r\n", "HTTP/1.1 505 ");
  expect_status_str("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 ");
  expect_status_str("POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab", "HTTP/1.1 400 ");
  expect_status_str("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", "HTTP/1.1 400 ");
  expect_status_str("CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n", "HTTP/1.1 501 ");
  expect_status_str("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "HTTP/1.1 400 ");  /* no Host */
  expect_status_str("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400 ");
}

static void small_limits(asx_http1_server_config *c) {
  c->limits.max_header_block = 1024;
  c->limits.max_target = 256;
  c->limits.max_body = 1024;
}

Test(http1_server, oversize_header_431) {
  setup_with(small_limits);
  char req[4096];
  int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %01500d\r\n\r\n", 0);
  expect_status_for(req, (size_t)n, "HTTP/1.1 431 ");
  /* at the limit the same request passes: (4 + 1) + (5 + v) + 8 = 1024 */
  n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\nConnection: close\r\n\r\n",
               1024 - 9 - 9 - 10 - 5 - 8, 0);
  int fd = cli_connect(ts.port);
  cli_send(fd, req, (size_t)n);
  char buf[4096];
  cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_expect(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 || strncmp(buf, "HTTP/1.1 431 ", 13) == 0, "%.100s", buf);
}

Test(http1_server, long_target_414) {
  setup_with(small_limits);
  char req[4096];
  int n = snprintf(req, sizeof req, "GET /%0300d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
  expect_status_for(req, (size_t)n, "HTTP/1.1 414 ");
}

Test(http1_server, oversize_body_413) {
  setup_with(small_limits);
  char out[4096];
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  char path[] = "/tmp/asx_h1_bigXXXXXX";
  int tfd = mkstemp(path);
  cr_assert(tfd >= 0);
  cr_assert_eq(write(tfd, big, 2000), 2000);
  close(tfd);
  int crc = curl(out, sizeof out, "-i --data-binary @%s http://127.0.0.1:%u/echo", path, ts.port);
  unlink(path);
  cr_assert_eq(crc, 0);
  cr_expect(strstr(out, "HTTP/1.1 413 "), "%.200s", out);
  /* chunked: refused when the running total passes the limit */
  const char pre[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n";
  int fd = cli_connect(ts.port);
  cli_send(fd, pre, sizeof pre - 1);
  cli_send(fd, big, 1024);
  cli_send_str(fd, "\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  char buf[4096];
  cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_expect(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "%.200s", buf);
  /* exactly at the limit: accepted */
  char at[1025];
  memset(at, 'y', 1024);
  at[1024] = 0;
  cr_assert_eq(curl(out, sizeof out, "--data-binary %s http://127.0.0.1:%u/echo", at, ts.port), 0);
  cr_expect_eq(strlen(out), 1024u);
}

static void short_timeouts(asx_http1_server_config *c) {
  c->header_timeout_ns = 1000000000ull;
  c->idle_timeout_ns = 300000000ull;
}

Test(http1_server, slowloris_cut_at_header_timeout, .timeout = 30) {
  setup_with(short_timeouts);
  int fd = cli_connect(ts.port);
  cr_assert(fd >= 0);
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghij\r\n\r\n";
  uint64_t t0 = now_ms();
  size_t sent = 0;
  /* One header byte per second against a 1 s header timeout: the server must hang up long
   * before the head could complete (about 48 s at this pace). */
  while (sent < sizeof req - 1) {
    if (!cli_send(fd, req + sent, 1)) break;
    sent++;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 1000) == 1) break; /* the 408 (or the close) arrived */
    if (now_ms() - t0 > 6000) break;
  }
  char buf[1024];
  size_t n = cli_recv_all(fd, buf, sizeof buf);
  uint64_t took = now_ms() - t0;
  close(fd);
  cr_expect(sent < sizeof req - 1, "the server let the whole slow head through");
  cr_expect(n == 0 || strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "%.100s", buf);
  cr_expect(took < 8000, "cut after %llu ms", (unsigned long long)took);
}

Test(http1_server, idle_keep_alive_timeout_closes) {
  setup_with(short_timeouts);
  int fd = cli_connect(ts.port);
  cr_assert(cli_send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  char buf[4096];
  cr_assert(cli_recv_response(fd, buf, sizeof buf) > 0);
  uint64_t t0 = now_ms();
  size_t n = cli_recv_all(fd, buf, sizeof buf); /* returns when the server closes */
  cr_expect_eq(n, 0u, "idle connection got bytes: %s", buf);
  cr_expect(now_ms() - t0 < 5000);
  close(fd);
}

Test(http1_server, upgrade_hook_takes_over_and_declines) {
  int fd = cli_connect(ts.port);
  const char up[] = "GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nEXTRA";
  cr_assert(cli_send(fd, up, sizeof up - 1));
  char buf[4096];
  cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_expect(strstr(buf, "101 Switching Protocols") && strstr(buf, "switched"), "%s", buf);
  cr_expect_eq(atomic_load(&upgrade_calls), 1);
  /* a protocol the hook declines: answered as a plain request, connection kept */
  fd = cli_connect(ts.port);
  const char other[] = "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
                       "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  cr_assert(cli_send(fd, other, sizeof other - 1));
  cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_expect(strstr(buf, "404 Not Found") && strstr(buf, "hello\n"), "%s", buf);
}

Test(http1_server, h2_prior_knowledge_goes_to_the_hook) {
  int fd = cli_connect(ts.port);
  const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nFRAMES";
  cr_assert(cli_send(fd, pri, sizeof pri - 1));
  char buf[256];
  cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_expect_str_eq(buf, "h2-prior-seen");
  cr_expect_eq(upgrade_rest_len, sizeof pri - 1, "the hook sees the preface and what followed");
  cr_expect(memcmp(upgrade_rest, pri, sizeof pri - 1) == 0);
}

Test(http1_server, graceful_shutdown_drains_in_flight_request, .timeout = 30) {
  int fd = cli_connect(ts.port);
  cr_assert(cli_send_str(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  int idle = cli_connect(ts.port); /* an idle keep-alive connection is simply closed */
  while (!atomic_load(&slow_started)) usleep(1000);
  testsrv_stop(&ts);  /* blocks until the server is down: the response must be out by then */
  char buf[4096];
  cli_recv_all(fd, buf, sizeof buf);
  cr_expect(strstr(buf, "HTTP/1.1 200 OK"), "%s", buf);
  cr_expect(strstr(buf, "Connection: close\r\n"), "%s", buf);
  cr_expect(strstr(buf, "slow done\n"), "%s", buf);
  cr_expect_eq(cli_recv_all(idle, buf, sizeof buf), 0u);
  close(fd);
  close(idle);
}

/* Every allocation of the glue (decoder, buffers, connection state) failing in turn: each
 * request gets a complete 200, a 500, or a closed connection; nothing leaks. */
#include "test_alloc.h"

TestSuite(http1_server_alloc, .timeout = 120);

Test(http1_server_alloc, every_allocation_failing_in_turn) {
  static test_alloc ta;
  test_alloc_init(&ta);
  asx_http1_server_config_default(&cfg);
  cfg.handler = handler;
  cfg.alloc = &ta.base;
  memset(&ts, 0, sizeof ts);
  ts.workers = 1;
  testsrv_start(&ts, asx_http1_conn_fn, &cfg);
  const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                     "4\r\nbody\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  long needed = -1;
  for (long n = -1; n < 200; n++) {
    test_alloc_fail_after(&ta, n);
    long before = ta.allocs;
    int fd = cli_connect(ts.port);
    cr_assert(fd >= 0);
    cli_send(fd, req, sizeof req - 1);
    static char buf[8192];
    cli_recv_all(fd, buf, sizeof buf);
    close(fd);
    bool ok = strstr(buf, "\r\n\r\nbody") && strstr(buf, "hello\n");
    bool failed = buf[0] == 0 || strncmp(buf, "HTTP/1.1 500 ", 13) == 0 ||
                  (strstr(buf, "\r\n\r\nbody") && !strstr(buf, "hello\n"));
    cr_expect(ok || failed, "fail_after %ld: unexpected answer: %s", n, buf);
    if (n == -1) {
      cr_assert(ok, "%s", buf);
      needed = ta.allocs - before; /* allocations of one full run */
    } else if (n > needed + 2) {
      break;
    }
  }
  test_alloc_fail_after(&ta, -1);
  testsrv_stop(&ts);
  cr_expect(ta.failures > 0);
  cr_expect_eq(ta.live, 0, "%ld blocks leaked", ta.live);
}

Test(http1_server, http10_clients) {
  /* HTTP/1.0 without keep-alive: answered, then closed; a chunked answer becomes close-delimited. */
  int fd = cli_connect(ts.port);
  cr_assert(cli_send_str(fd, "GET /chunked HTTP/1.0\r\n\r\n"));
  char buf[4096];
  cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_expect(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
  cr_expect(strstr(buf, "Connection: close\r\n") && !strstr(buf, "Transfer-Encoding"), "%s", buf);
  cr_expect(strstr(buf, "\r\n\r\npart;part;part;"), "%s", buf);
  /* HTTP/1.0 with keep-alive: kept, and said so */
  fd = cli_connect(ts.port);
  cr_assert(cli_send_str(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  cr_assert(cli_recv_response(fd, buf, sizeof buf) > 0);
  cr_expect(strstr(buf, "Connection: keep-alive\r\n"), "%s", buf);
  cr_assert(cli_send_str(fd, "GET / HTTP/1.0\r\n\r\n"));
  cli_recv_all(fd, buf, sizeof buf);
  cr_expect(strstr(buf, "X-Req-Index: 1\r\n"), "second request on the kept connection: %s", buf);
  close(fd);
  char out[4096];
  cr_expect_eq(curl(out, sizeof out, "-0 -d ten http://127.0.0.1:%u/echo", ts.port), 0);
  cr_expect_str_eq(out, "ten");
}

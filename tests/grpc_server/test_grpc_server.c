/* The gRPC server against grpcio (Python, raw bytes, no generated code) on loopback: the echo
 * service's four method kinds, DEADLINE_EXCEEDED from grpc-timeout (client side) and from the
 * server's own budget, UNIMPLEMENTED, receive/send limits at limit and limit+1
 * (RESOURCE_EXHAUSTED), plus registry argument checks. Every test tears the runtime down and
 * checks that no task, region, obligation or descriptor is left. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "asx/grpc_server.h"
#include "h2srv_util.h"
#include "test_alloc.h"

TestSuite(grpcsrv, .timeout = 120);

static char out[1 << 16];

static asx_grpc_encoding next_send_encoding; /* for the next start() only */

/* Serves srv (methods registered) over HTTP/2 h2c on a background runtime: t->port. */
static void serve(h2t_server *t, asx_grpc_server *srv) {
  memset(t, 0, sizeof(*t));
  asx_http2_server_config_default(&t->cfg);
  asx_grpc_server_attach(srv, &t->cfg);
  h2t_start(t);
}

static void start(h2t_server *t, asx_grpc_server **srv, size_t max_msg, uint64_t max_timeout) {
  asx_grpc_server_config gc;
  asx_grpc_server_config_default(&gc);
  gc.send_encoding = next_send_encoding;
  next_send_encoding = ASX_GRPC_IDENTITY;
  if (max_msg) gc.limits.max_recv_message = gc.limits.max_send_message = max_msg;
  gc.max_timeout_ns = max_timeout;
  cr_assert_eq(asx_grpc_server_new(srv, &gc), 0);
  cr_assert_eq(asx_grpc_register_echo(*srv, "/asx.demo.Echo"), 0);
  serve(t, *srv);
}

static void stop(h2t_server *t, asx_grpc_server *srv) {
  h2t_stop(t);
  asx_grpc_server_free(srv);
}

/* Runs grpc_client.py CASE [ARG] against the server: every check must pass, `last` among them. */
static void run_case(const h2t_server *t, const char *args, const char *last) {
  int rc = h2t_sh(out, sizeof(out), "/usr/bin/python3 %s/grpc_client.py %u %s", GRPC_TEST_DIR, t->port, args);
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert_null(strstr(out, "FAIL"), "%s", out);
  cr_assert_not_null(strstr(out, last), "%s", out);
}

Test(grpcsrv, echo_all_method_kinds) {
  h2t_server t;
  asx_grpc_server *srv;
  start(&t, &srv, 0, 0);
  run_case(&t, "echo", "bidi pass");
  stop(&t, srv);
}

/* grpc-encoding: grpcio sends gzip (then deflate) requests; the server answers compressed
 * (gzip) in the first run and plain in the second; the limit is on the decompressed size. */
Test(grpcsrv, compressed_requests_and_replies) {
  const size_t limit = 256 * 1024;
  for (int run = 0; run < 2; run++) {
    h2t_server t;
    asx_grpc_server *srv;
    next_send_encoding = run == 0 ? ASX_GRPC_GZIP : ASX_GRPC_IDENTITY;
    start(&t, &srv, limit, 0);
    char args[64];
    snprintf(args, sizeof args, "%s %zu", run == 0 ? "gzip" : "deflate", limit);
    run_case(&t, args, "c-over-limit pass");
    asx_grpc_server_stats st;
    asx_grpc_server_stats_get(srv, &st);
    /* grpcio (like the server) sends a message compressed only when that makes it smaller: the
     * 220 KB text and the message at the limit, not the short ones or the noise. */
    cr_expect_geq(st.compressed_in, 2, "requests really arrived compressed: %llu", (unsigned long long)st.compressed_in);
    if (run == 0) cr_expect_geq(st.compressed_out, 2, "%llu", (unsigned long long)st.compressed_out);
    else cr_expect_eq(st.compressed_out, 0);
    stop(&t, srv);
  }
}

/* Custom metadata both ways: initial headers and trailers set by the handler (plain and -bin),
 * request -bin metadata decoded; a bad -bin value is the handler's error. */
Test(grpcsrv, custom_metadata) {
  h2t_server t;
  asx_grpc_server *srv;
  start(&t, &srv, 0, 0);
  run_case(&t, "meta", "meta-trailer pass");
  stop(&t, srv);
}

/* grpc.health.v1: Check (server, a set service, unknown service, bad request, unknown fields
 * skipped) and Watch (the current status, then each change made through /t.T/SetHealth,
 * "name=digit", until the client cancels). */
static int set_health(asx_cx *cx, asx_grpc_call *call, asx_slice req, asx_buf *resp, void *ud) {
  (void)cx, (void)call, (void)resp;
  char name[64];
  if (req.len < 3 || req.len >= sizeof name || req.ptr[req.len - 2] != '=') return ASX_EINVAL;
  memcpy(name, req.ptr, req.len - 2);
  name[req.len - 2] = 0;
  return asx_grpc_health_set(ud, name, (asx_grpc_health_status)(req.ptr[req.len - 1] - '0'));
}

Test(grpcsrv, health_check_and_watch) {
  h2t_server t;
  asx_grpc_server *srv;
  asx_grpc_health *h;
  cr_assert_eq(asx_grpc_server_new(&srv, NULL), 0);
  cr_assert_eq(asx_grpc_health_register(srv, &h), 0);
  asx_grpc_health *h2 = (asx_grpc_health *)&h2;
  cr_assert_eq(asx_grpc_health_register(srv, &h2), ASX_EEXIST); /* and nothing changed */
  cr_assert_null(h2);
  cr_assert_eq(asx_grpc_health_set(h, "svc.A", ASX_GRPC_HEALTH_NOT_SERVING), 0);
  cr_assert_eq(asx_grpc_health_set(h, "svc.A", ASX_GRPC_HEALTH_SERVICE_UNKNOWN), ASX_EINVAL);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/t.T/SetHealth", set_health, h), 0);
  serve(&t, srv);
  run_case(&t, "health", "h-after-watch pass");
  stop(&t, srv);
  asx_grpc_health_free(h);
}

/* The rules of asx_grpc_call_add_header / _add_trailer, checked inside a handler. */
static int meta_rules(asx_cx *cx, asx_grpc_call *call, asx_slice req, asx_buf *resp, void *ud) {
  (void)req, (void)resp, (void)ud;
  int bad = 0;
  const char *names[] = {"Upper", ":path", "grpc-status", "grpc-x", "content-type", "te", "connection", "", "a b"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    bad |= asx_grpc_call_add_header(call, names[i], "v", 1) != ASX_EINVAL;
  bad |= asx_grpc_call_add_header(call, "x-ok", "a\r\nb", 4) != ASX_EINVAL;
  bad |= asx_grpc_call_add_header(call, "x-ok", "\x7f", 1) != ASX_EINVAL;
  bad |= asx_grpc_call_add_header(call, "x-raw-bin", "\r\n\0", 3) != 0;
  for (int i = 1; i < 64; i++) bad |= asx_grpc_call_add_header(call, "x-many", "v", 1) != 0;
  bad |= asx_grpc_call_add_header(call, "x-many", "v", 1) != ASX_ELIMIT;
  static char big[20000];
  memset(big, 'b', sizeof big);
  bad |= asx_grpc_call_add_trailer(call, "x-big", big, sizeof big) != ASX_ELIMIT;
  bad |= asx_grpc_call_add_trailer(call, "x-t", "ok", 2) != 0;
  bad |= asx_grpc_call_send(cx, call, "r", 1) != 0;
  bad |= asx_grpc_call_add_header(call, "x-late", "v", 1) != ASX_ESTATE;
  /* Request -bin metadata: unpadded base64 decodes, garbage is ASX_EPROTO, absent ENOTFOUND. */
  asx_buf b;
  asx_buf_init(&b, NULL, 64);
  bad |= asx_grpc_call_metadata_bin(call, "x-ok-bin", &b) != 0 || b.len != 3 || memcmp(b.data, "\0\1\2", 3) != 0;
  asx_buf_reset(&b);
  bad |= asx_grpc_call_metadata_bin(call, "x-bad-bin", &b) != ASX_EPROTO || b.len != 0;
  bad |= asx_grpc_call_metadata_bin(call, "x-none-bin", &b) != ASX_ENOTFOUND;
  bad |= asx_grpc_call_metadata_bin(call, "x-ok", &b) != ASX_EINVAL;
  asx_buf_free(&b);
  if (bad) asx_grpc_call_set_status(call, ASX_GRPC_INTERNAL, "a metadata rule was not enforced");
  return 0;
}

Test(grpcsrv, metadata_rules) {
  h2t_server t;
  asx_grpc_server *srv;
  cr_assert_eq(asx_grpc_server_new(&srv, NULL), 0);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/t.T/Meta", meta_rules, NULL), 0);
  serve(&t, srv);
  int rc = h2t_sh(out, sizeof(out), "printf '\\000\\000\\000\\000\\001x' | curl -sS -i --max-time 10 --http2-prior-knowledge "
                  "-H 'content-type: application/grpc' -H 'te: trailers' -H 'x-ok-bin: AAEC' -H 'x-bad-bin: @@@' "
                  "--data-binary @- http://127.0.0.1:%u/t.T/Meta | tr -d '\\000'", t.port);
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert_not_null(strstr(out, "grpc-status: 0"), "%s", out);
  cr_assert_not_null(strstr(out, "x-raw-bin: DQoA"), "%s", out);
  cr_assert_not_null(strstr(out, "x-t: ok"), "%s", out);
  stop(&t, srv);
}

/* A grpc-encoding we do not implement: UNIMPLEMENTED at once, with the ones we do. */
Test(grpcsrv, unknown_encoding_is_unimplemented) {
  h2t_server t;
  asx_grpc_server *srv;
  start(&t, &srv, 0, 0);
  /* No body: the answer comes before the server reads one, and a body still on its way would
   * race with the stream's reset (NO_ERROR), which curl sometimes reports as an error. */
  int rc = h2t_sh(out, sizeof(out), "curl -sS -i --max-time 10 --http2-prior-knowledge -X POST "
                  "-H 'content-type: application/grpc' -H 'grpc-encoding: br' -H 'te: trailers' "
                  "http://127.0.0.1:%u/asx.demo.Echo/Unary", t.port);
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert_not_null(strstr(out, "grpc-status: 12"), "%s", out);
  cr_assert_not_null(strstr(out, "grpc-accept-encoding: identity,deflate,gzip"), "%s", out);
  cr_assert_not_null(strstr(out, "grpc-message: grpc-encoding br is not supported"), "%s", out);
  stop(&t, srv);
}

Test(grpcsrv, deadline_unimplemented_and_limits) {
  h2t_server t;
  asx_grpc_server *srv;
  const size_t limit = 256 * 1024;
  start(&t, &srv, limit, 0);
  char args[64];
  snprintf(args, sizeof args, "errors %zu", limit);
  run_case(&t, args, "over-limit pass");
  stop(&t, srv);
}

Test(grpcsrv, server_budget_deadline_sends_deadline_exceeded) {
  h2t_server t;
  asx_grpc_server *srv;
  start(&t, &srv, 0, 200000000ull); /* every call gets at most 200 ms */
  run_case(&t, "deadline-server", "server-deadline pass");
  stop(&t, srv);
}

Test(grpcsrv, tls_with_alpn_h2) {
  char dir[] = "/tmp/asx-grpcsrv-tlsXXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(h2t_sh(out, sizeof(out), "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1", dir), 0, "%s", out);
  char cert[128], key[128];
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  asx_tls_options o;
  asx_tls_options_default(&o, ASX_TLS_SERVER);
  o.cert_file = cert;
  o.key_file = key;
  const char *alpn[] = {"h2"};
  o.alpn = alpn;
  o.alpn_count = 1;
  asx_grpc_server *srv;
  cr_assert_eq(asx_grpc_server_new(&srv, NULL), 0);
  cr_assert_eq(asx_grpc_register_echo(srv, "/asx.demo.Echo"), 0);
  h2t_server t;
  memset(&t, 0, sizeof(t));
  cr_assert_eq(asx_tls_config_new(&o, &t.tls, NULL, 0), 0);
  asx_http2_server_config_default(&t.cfg);
  asx_grpc_server_attach(srv, &t.cfg);
  h2t_start(&t);
  int rc = h2t_sh(out, sizeof(out), "/usr/bin/python3 %s/grpc_client.py %u tls %s", GRPC_TEST_DIR, t.port, cert);
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert_null(strstr(out, "FAIL"), "%s", out);
  cr_assert_not_null(strstr(out, "tls-bidi pass"), "%s", out);
  h2t_stop(&t);
  asx_tls_config_free(t.tls);
  asx_grpc_server_free(srv);
  h2t_sh(NULL, 0, "rm -rf %s", dir);
}

static atomic_int slow_started;

static int slow_unary(asx_cx *cx, asx_grpc_call *call, asx_slice req, asx_buf *resp, void *ud) {
  (void)call, (void)req, (void)resp, (void)ud;
  atomic_store(&slow_started, 1);
  return asx_sleep(cx, 5000000000ull);
}

typedef struct shell_job {
  pthread_t th;
  char cmd[512];
  char out[1024];
  int rc;
} shell_job;

static void *shell_thread(void *arg) {
  shell_job *j = arg;
  j->rc = h2t_sh(j->out, sizeof(j->out), "%s", j->cmd);
  return NULL;
}

/* Server shutdown while a call is in flight: the call's task is cancelled with the connection
 * and the client gets a proper CANCELLED status (sent during the GOAWAY drain), not a torn
 * connection. */
Test(grpcsrv, shutdown_cancels_call_with_status) {
  h2t_server t;
  asx_grpc_server *srv;
  cr_assert_eq(asx_grpc_server_new(&srv, NULL), 0);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/t.T/Slow", slow_unary, NULL), 0);
  serve(&t, srv);
  atomic_store(&slow_started, 0);
  shell_job j;
  snprintf(j.cmd, sizeof(j.cmd), "/usr/bin/python3 %s/grpc_client.py %u slow", GRPC_TEST_DIR, t.port);
  cr_assert_eq(pthread_create(&j.th, NULL, shell_thread, &j), 0);
  for (int i = 0; i < 1000 && !atomic_load(&slow_started); i++) h2t_msleep(5);
  cr_assert_eq(atomic_load(&slow_started), 1);
  h2t_halt(&t);
  pthread_join(j.th, NULL);
  h2t_check_fds(&t);
  asx_grpc_server_free(srv);
  cr_assert_eq(j.rc, 0, "%s", j.out);
  cr_assert_str_eq(j.out, "status CANCELLED\n");
}

static int nop_unary(asx_cx *cx, asx_grpc_call *call, asx_slice req, asx_buf *resp, void *ud) {
  (void)cx, (void)call, (void)req, (void)resp, (void)ud;
  return 0;
}

Test(grpcsrv, registry_checks) {
  asx_grpc_server *srv;
  cr_assert_eq(asx_grpc_server_new(&srv, NULL), 0);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/a.B/C", nop_unary, NULL), 0);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/a.B/C", nop_unary, NULL), ASX_EEXIST);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "a.B/C", nop_unary, NULL), ASX_EINVAL);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/a.B/", nop_unary, NULL), ASX_EINVAL);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "//C", nop_unary, NULL), ASX_EINVAL);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/a/b/c", nop_unary, NULL), ASX_EINVAL);
  cr_assert_eq(asx_grpc_server_add_unary(srv, "/a.B/D", NULL, NULL), ASX_EINVAL);
  for (int i = 0; i < 40; i++) {
    char p[32];
    snprintf(p, sizeof(p), "/s.S/M%d", i);
    cr_assert_eq(asx_grpc_server_add_unary(srv, p, nop_unary, NULL), 0);
  }
  cr_assert_eq(asx_grpc_register_echo(srv, "/asx.demo.Echo"), 0);
  cr_assert_eq(asx_grpc_register_echo(srv, "/asx.demo.Echo"), ASX_EEXIST);
  asx_grpc_server_free(srv);
}

/* The gRPC layer's allocations (call, decoder, buffers) fail from index i on, for every i of a
 * unary call: the client always gets an answer (no hang), nothing leaks, teardown is clean. */
Test(grpcsrv, failing_allocator_every_index) {
  long i = 0;
  for (;; i++) {
    test_alloc ta;
    test_alloc_init(&ta);
    asx_grpc_server_config gc;
    asx_grpc_server_config_default(&gc);
    gc.alloc = &ta.base;
    asx_grpc_server *srv;
    cr_assert_eq(asx_grpc_server_new(&srv, &gc), 0);
    cr_assert_eq(asx_grpc_register_echo(srv, "/asx.demo.Echo"), 0);
    /* The registry is built: only the calls allocate through ta from here on. */
    test_alloc_fail_after(&ta, i);
    h2t_server t;
    memset(&t, 0, sizeof(t));
    asx_http2_server_config_default(&t.cfg);
    asx_grpc_server_attach(srv, &t.cfg);
    t.workers = 1; /* test_alloc is not thread-safe */
    h2t_start(&t);
    int rc = h2t_sh(out, sizeof(out), "/usr/bin/python3 %s/grpc_client.py %u one", GRPC_TEST_DIR, t.port);
    h2t_stop(&t);
    cr_assert_eq(rc, 0, "index %ld: %s", i, out);
    test_alloc_fail_after(&ta, -1);
    asx_grpc_server_free(srv);
    cr_assert_eq(ta.live, 0, "index %ld: %ld blocks leaked", i, ta.live);
    cr_assert_null(strstr(out, "DEADLINE_EXCEEDED"), "index %ld: no answer (%s)", i, out);
    if (ta.failures == 0) {
      cr_assert_str_eq(out, "status OK\n");
      break;
    }
  }
  fprintf(stderr, "[figure] grpc failing allocator: %ld indices exercised\n", i);
}

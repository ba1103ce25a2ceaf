/* The WebSocket client glue (asx_ws_client_run) against two real servers on loopback: the asx
 * server glue (plain and with permessage-deflate negotiated) and Python websockets 10.4 (a
 * subprotocol chosen from our offer, compression, a 1 MiB message); a plain HTTP endpoint that
 * refuses the upgrade is ASX_EPROTO with the HTTP status in the error text. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asx/websocket_client.h"
#include "test_fds.h"
#include "ws_testsrv.h"

static ws_testsrv W;

TestSuite(websocket_client, .timeout = 60);

/* What the client's handler saw. */
typedef struct cl_env {
  uint16_t port;
  const char *path, *subprotocols;
  bool deflate;
  int rc;
  char err[256];
  char subprotocol[32];
  bool compressed;   /* the session negotiated permessage-deflate */
  int echoes;        /* messages echoed back identically */
} cl_env;

static int echo_some(asx_cx *cx, asx_ws_conn *ws, void *ud) {
  cl_env *e = ud;
  const char *sp = asx_ws_conn_subprotocol(ws);
  snprintf(e->subprotocol, sizeof e->subprotocol, "%s", sp ? sp : "");
  static uint8_t big[1 << 20];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 251);
  const struct { asx_ws_msg_type type; const void *p; size_t n; } msgs[] = {
      {ASX_WS_TEXT, "hello", 5}, {ASX_WS_BINARY, big, sizeof big}, {ASX_WS_TEXT, "", 0}};
  for (size_t i = 0; i < 3; i++) {
    int rc = asx_ws_conn_send(cx, ws, msgs[i].type, msgs[i].p, msgs[i].n);
    if (rc) return rc;
    asx_ws_msg_type t;
    const uint8_t *d;
    size_t n;
    rc = asx_ws_conn_recv(cx, ws, &t, &d, &n);
    if (rc) return rc;
    if (t == msgs[i].type && n == msgs[i].n && (n == 0 || memcmp(d, msgs[i].p, n) == 0)) e->echoes++;
  }
  asx_ws_stats st;
  asx_ws_get_stats(asx_ws_conn_session(ws), &st);
  e->compressed = st.compressed_out > 0 && st.compressed_in > 0; /* both ways, really */
  return asx_ws_conn_close(cx, ws, ASX_WS_CLOSE_NORMAL, "done");
}

static int client_main(asx_cx *cx, void *arg) {
  cl_env *e = arg;
  asx_stream *s = NULL;
  int rc = asx_tcp_connect(cx, "127.0.0.1", e->port, NULL, &s);
  if (rc) return rc;
  asx_ws_client_opts o;
  asx_ws_client_opts_default(&o);
  char host[32];
  snprintf(host, sizeof host, "127.0.0.1:%u", e->port);
  o.host = host;
  o.path = e->path;
  o.subprotocols = e->subprotocols;
  o.offer_deflate = e->deflate;
  o.limits.max_message = 4u << 20;
  e->rc = asx_ws_client_run(cx, s, &o, echo_some, e, e->err, sizeof e->err);
  asx_stream_close(s);
  return 0;
}

static void run_client(cl_env *e) {
  int rc = srv_run_main_ex(2, client_main, e, false); /* counted around the server instead */
  cr_assert_eq(rc, 0, "%s", asx_strerror(rc));
}

Test(websocket_client, against_asx_server_plain_and_deflate) {
  int fds = test_count_fds();
  for (int deflate = 0; deflate < 2; deflate++) {
    ws_testsrv_start(&W, deflate, 0, NULL, 0);
    cl_env e = {.port = W.ts.port, .path = "/ws", .deflate = deflate};
    run_client(&e);
    cr_expect_eq(e.rc, 0, "%s: %s", asx_strerror(e.rc), e.err);
    cr_expect_eq(e.echoes, 3);
    cr_expect_eq(e.compressed, (bool)deflate);
    testsrv_stop(&W.ts);
  }
  cr_expect_eq(test_count_fds(), fds, "descriptors leaked");
}

Test(websocket_client, refused_upgrade_is_eproto_with_the_status) {
  int fds = test_count_fds();
  ws_testsrv_start(&W, false, 0, NULL, 0);
  cl_env e = {.port = W.ts.port, .path = "/not-ws"};
  run_client(&e);
  cr_expect_eq(e.rc, ASX_EPROTO, "%s", asx_strerror(e.rc));
  cr_expect(strstr(e.err, "HTTP 200"), "%s", e.err);
  cr_expect_eq(e.echoes, 0);
  testsrv_stop(&W.ts);
  cr_expect_eq(test_count_fds(), fds, "descriptors leaked");
}

/* Python websockets: started with a pipe on its stdin (closing it stops the server). */
Test(websocket_client, against_python_websockets) {
  int in[2], outp[2];
  cr_assert_eq(pipe(in), 0);
  cr_assert_eq(pipe(outp), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(outp[1], 1);
    close(in[1]);
    close(outp[0]);
    execl("/usr/bin/python3", "python3", WS_SERVER_PY, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(outp[1]);
  char line[64] = "";
  FILE *f = fdopen(outp[0], "r");
  bool got = f && fgets(line, sizeof line, f) != NULL;
  int port = 0;
  if (got) sscanf(line, "port %d", &port);
  if (port > 0) {
    cl_env e = {.port = (uint16_t)port, .path = "/", .subprotocols = "superchat, chat", .deflate = true};
    run_client(&e);
    cr_expect_eq(e.rc, 0, "%s: %s", asx_strerror(e.rc), e.err);
    cr_expect_eq(e.echoes, 3);
    cr_expect_str_eq(e.subprotocol, "chat");
    cr_expect(e.compressed, "websockets accepts permessage-deflate by default");
  }
  close(in[1]);
  int status = 0;
  for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(50000);
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (f) fclose(f);
  cr_assert_gt(port, 0, "the Python server did not start: %s", line);
}

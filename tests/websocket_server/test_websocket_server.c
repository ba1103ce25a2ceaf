/* WebSocket server glue on loopback: Python websockets 10.4 (a strict client) echoes through
 * the asx_ws_echo_handler (small, 1 MiB, unicode, ping, close), with and without
 * permessage-deflate; refused handshakes; limits close with 1009; frames that arrive in the same
 * packet as the upgrade request; server shutdown closes with 1001 going away. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "asx/websocket_server.h"
#include "ws_testsrv.h"
#include "test_alloc.h"

static ws_testsrv W;
static void start_with(bool deflate, size_t max_message, asx_ws_handler_fn h, uint64_t close_timeout) {
  ws_testsrv_start(&W, deflate, max_message, h, close_timeout);
}
static void start(bool deflate, size_t max_message) { start_with(deflate, max_message, NULL, 0); }

/* Sends one message and returns: the glue then closes with 1000 and waits for the peer. */
static int closer(asx_cx *cx, asx_ws_conn *ws, void *ud) {
  (void)ud;
  return asx_ws_conn_send(cx, ws, ASX_WS_TEXT, "bye", 3);
}

static void setup(void) { start(false, 0); }
static void teardown(void) { testsrv_stop(&W.ts); }

TestSuite(websocket_server, .init = setup, .fini = teardown, .timeout = 90);

static int py(char *out, size_t cap, const char *mode) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s ws://127.0.0.1:%u/ws %s 2>&1", WS_CLIENT_PY, W.ts.port, mode);
  return run_cmd(cmd, out, cap);
}

Test(websocket_server, python_echo_with_1mib_message_and_close) {
  char out[4096];
  cr_assert_eq(py(out, sizeof out, "echo"), 0, "%s", out);
  cr_expect_str_eq(out, "ok 1000 -\n");
}

Test(websocket_server, python_echo_permessage_deflate) {
  start(true, 0);
  char out[4096];
  cr_assert_eq(py(out, sizeof out, "deflate"), 0, "%s", out);
  cr_expect_str_eq(out, "ok 1000 permessage-deflate\n");
}

Test(websocket_server, message_over_limit_closes_1009) {
  start(false, 1024);
  char out[4096];
  cr_assert_eq(py(out, sizeof out, "toobig"), 0, "%s", out);
  cr_expect_str_eq(out, "closed 1009\n");
}

static void raw_exchange(const char *req, char *buf, size_t cap) {
  int fd = cli_connect(W.ts.port);
  cr_assert(fd >= 0);
  cr_assert(cli_send_str(fd, req));
  cli_recv_all(fd, buf, cap);
  close(fd);
}

Test(websocket_server, refused_handshakes) {
  char buf[4096];
  raw_exchange("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n", buf, sizeof buf);
  cr_expect(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "missing key: %s", buf);
  raw_exchange("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
               buf, sizeof buf);
  cr_expect(strncmp(buf, "HTTP/1.1 426 ", 13) == 0, "old version: %s", buf);
  cr_expect(strstr(buf, "Sec-WebSocket-Version: 13\r\n"), "%s", buf);
  /* another path is not a WebSocket endpoint: answered by the plain handler */
  raw_exchange("GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Connection: close\r\n\r\n", buf, sizeof buf);
  cr_expect(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strstr(buf, "plain"), "%s", buf);
}

Test(websocket_server, frame_in_the_same_packet_as_the_upgrade) {
  /* RFC 6455 section 1.3 example key and a masked text frame "hi" in one packet. */
  static const char req[] =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  uint8_t pkt[sizeof req + 32];
  size_t n = sizeof req - 1;
  memcpy(pkt, req, n);
  const uint8_t mask[4] = {1, 2, 3, 4};
  pkt[n++] = 0x81;
  pkt[n++] = 0x80 | 2;
  memcpy(pkt + n, mask, 4);
  n += 4;
  pkt[n++] = 'h' ^ mask[0];
  pkt[n++] = 'i' ^ mask[1];
  int fd = cli_connect(W.ts.port);
  cr_assert(cli_send(fd, pkt, n));
  /* The close goes separately: after a close the server may not send the echo any more. */
  usleep(200000);
  uint8_t cl[8] = {0x88, 0x80 | 2, mask[0], mask[1], mask[2], mask[3], 0x03 ^ mask[0], 0xe8 ^ mask[1]};
  cr_assert(cli_send(fd, cl, sizeof cl));
  char buf[4096];
  size_t got = cli_recv_all(fd, buf, sizeof buf);
  close(fd);
  cr_assert(strstr(buf, "HTTP/1.1 101 Switching Protocols\r\n"), "%s", buf);
  cr_expect(strstr(buf, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "%s", buf);
  char *body = strstr(buf, "\r\n\r\n");
  cr_assert(body);
  body += 4;
  size_t blen = got - (size_t)(body - buf);
  const uint8_t want[] = {0x81, 0x02, 'h', 'i', 0x88, 0x02, 0x03, 0xe8};
  cr_assert_eq(blen, sizeof want, "frames after the 101: %zu bytes", blen);
  cr_expect(memcmp(body, want, sizeof want) == 0);
}

Test(websocket_server, shutdown_closes_with_1001) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s ws://127.0.0.1:%u/ws wait 2>&1", WS_CLIENT_PY, W.ts.port);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  char line[256] = {0};
  cr_assert(fgets(line, sizeof line, p), "client did not start");
  cr_assert_str_eq(line, "open\n");
  testsrv_stop(&W.ts);
  cr_assert(fgets(line, sizeof line, p));
  pclose(p);
  cr_expect_str_eq(line, "closed 1001\n");
}

Test(websocket_server, close_handshake_times_out_on_a_silent_peer) {
  start_with(false, 0, closer, 500000000ull);
  static const char req[] =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  int fd = cli_connect(W.ts.port);
  cr_assert(cli_send_str(fd, req));
  uint64_t t0 = now_ms();
  char buf[4096];
  size_t got = cli_recv_all(fd, buf, sizeof buf); /* the peer (us) never answers the close */
  uint64_t took = now_ms() - t0;
  close(fd);
  char *body = strstr(buf, "\r\n\r\n");
  cr_assert(body, "%s", buf);
  body += 4;
  const uint8_t want[] = {0x81, 0x03, 'b', 'y', 'e', 0x88, 0x02, 0x03, 0xe8};
  cr_assert_eq(got - (size_t)(body - buf), sizeof want);
  cr_expect(memcmp(body, want, sizeof want) == 0);
  cr_expect(took >= 400 && took < 5000, "the server hung up after %llu ms", (unsigned long long)took);
}

/* Every allocation of the glue and the session (handshake buffers, session, message copies)
 * failing in turn: the client gets a complete exchange, an error answer or a closed connection;
 * nothing leaks. */
TestSuite(websocket_server_alloc, .timeout = 120);

Test(websocket_server_alloc, every_allocation_failing_in_turn) {
  static test_alloc ta;
  test_alloc_init(&ta);
  memset(&W.ts, 0, sizeof W.ts);
  W.ts.workers = 1;
  asx_ws_server_config_default(&W.ws);
  W.ws.handler = asx_ws_echo_handler;
  W.ws.alloc = &ta.base;
  asx_http1_server_config_default(&W.http);
  W.http.handler = ws_testsrv_http_handler;
  W.http.upgrade = ws_testsrv_route;
  W.http.upgrade_ud = &W.ws;
  testsrv_start(&W.ts, asx_http1_conn_fn, &W.http);
  static const char req[] =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  const uint8_t frames[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2,
                            0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2};
  long needed = -1;
  for (long n = -1; n < 100; n++) {
    test_alloc_fail_after(&ta, n);
    long before = ta.allocs;
    int fd = cli_connect(W.ts.port);
    cr_assert(fd >= 0);
    cli_send_str(fd, req);
    usleep(20000);
    cli_send(fd, frames, 8);   /* the message */
    usleep(20000);
    cli_send(fd, frames + 8, 8); /* then the close */
    char buf[4096];
    size_t got = cli_recv_all(fd, buf, sizeof buf);
    close(fd);
    const uint8_t echo[] = {0x81, 0x02, 'h', 'i'};
    char *body = got ? strstr(buf, "\r\n\r\n") : NULL;
    bool full = body && got - (size_t)(body + 4 - buf) >= 4 && memcmp(body + 4, echo, 4) == 0;
    if (n == -1) {
      cr_assert(full, "a run without failures must echo");
      needed = ta.allocs - before;
    } else if (n > needed + 2) {
      break;
    }
  }
  test_alloc_fail_after(&ta, -1);
  testsrv_stop(&W.ts);
  cr_expect(ta.failures > 0);
  cr_expect_eq(ta.live, 0, "%ld blocks leaked", ta.live);
}

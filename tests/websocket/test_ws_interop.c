/* Interoperability with an independent implementation: Python `websockets` 10.4 (strict
 * RFC 6455 and RFC 7692), run as a child process speaking its sans-I/O protocol objects over
 * length-prefixed pipes (tests/websocket/ws_peer.py). Covers our client against its server and
 * our server against its client, with and without permessage-deflate, including the opening
 * handshake, masking, compression with and without context takeover, and the close handshake. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asx/websocket.h"
#include "ws_test_util.h"

#ifndef WS_PEER_SCRIPT
#error "WS_PEER_SCRIPT must point at ws_peer.py"
#endif

TestSuite(ws_interop, .timeout = 60);

typedef struct peer {
  pid_t pid;
  FILE *to, *from;
} peer;

static bool python_websockets_available(void) {
  return system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") == 0;
}

static void peer_start(peer *p, const char *mode, const char *ext) {
  int in[2], out[2];
  cr_assert_eq(pipe(in), 0);
  cr_assert_eq(pipe(out), 0);
  p->pid = fork();
  cr_assert_geq(p->pid, 0);
  if (p->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execl("/usr/bin/python3", "python3", WS_PEER_SCRIPT, mode, ext, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->to = fdopen(in[1], "wb");
  p->from = fdopen(out[0], "rb");
  signal(SIGPIPE, SIG_IGN);
}

static void peer_write(peer *p, const uint8_t *data, size_t n) {
  uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
  if (fwrite(h, 1, 4, p->to) == 4 && (!n || fwrite(data, 1, n, p->to) == n)) fflush(p->to);
}

/* Returns a malloc'd chunk (length in *n), or NULL at end of stream. */
static uint8_t *peer_read(peer *p, size_t *n) {
  uint8_t h[4];
  if (fread(h, 1, 4, p->from) != 4) return NULL;
  *n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
  uint8_t *buf = malloc(*n + 1);
  cr_assert_eq(fread(buf, 1, *n, p->from), *n);
  buf[*n] = 0;
  return buf;
}

static int peer_finish(peer *p) {
  fclose(p->to);
  size_t n;
  uint8_t *rest;
  while ((rest = peer_read(p, &n)) != NULL) free(rest);
  fclose(p->from);
  int status = 0;
  waitpid(p->pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Finds header `name` (case-insensitive) in an HTTP head; returns an empty slice if absent. */
static asx_slice header(const char *head, const char *name) {
  size_t nl = strlen(name);
  for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
    const char *l = line + 2;
    if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
      const char *v = l + nl + 1;
      while (*v == ' ') v++;
      const char *end = strstr(v, "\r\n");
      return (asx_slice){(const uint8_t *)v, (size_t)(end - v)};
    }
  }
  return (asx_slice){NULL, 0};
}

static size_t pull_all(asx_ws *ws, uint8_t **out) {
  size_t cap = 1 << 16, len = 0;
  *out = malloc(cap);
  for (;;) {
    if (cap - len < 4096) *out = realloc(*out, cap *= 2);
    size_t n = 0;
    cr_assert_eq(asx_ws_pull(ws, *out + len, cap - len, &n), 0);
    if (!n) return len;
    len += n;
  }
}

static void our_client_against_python_server(const char *ext) {
  if (!python_websockets_available()) cr_skip_test("python3 websockets not installed");
  peer p;
  peer_start(&p, "server", ext);
  const uint8_t rnd[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
  asx_ws_deflate_offer offer = {false, false, 0, 0, true};
  asx_ws_client_handshake ch;
  cr_assert_eq(asx_ws_client_handshake_init(&ch, rnd, NULL, strcmp(ext, "plain") ? &offer : NULL), 0);
  asx_ws_header hs[8];
  size_t nh = 0;
  cr_assert_eq(asx_ws_client_request_headers(&ch, NULL, hs, 8, &nh), 0);
  char req[1024];
  int len = snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\n");
  for (size_t i = 0; i < nh; i++)
    len += snprintf(req + len, sizeof req - (size_t)len, "%s: %s\r\n", hs[i].name, hs[i].value);
  len += snprintf(req + len, sizeof req - (size_t)len, "\r\n");
  peer_write(&p, (const uint8_t *)req, (size_t)len);
  size_t n = 0;
  uint8_t *resp = peer_read(&p, &n);
  cr_assert_not_null(resp);
  cr_assert(strstr((char *)resp, "\r\n\r\n"));
  cr_assert_eq(strncmp((char *)resp, "HTTP/1.1 101", 12), 0, "%s", resp);
  const char *head = (const char *)resp;
  asx_ws_response r = {101, header(head, "Upgrade"), header(head, "Connection"),
                       header(head, "Sec-WebSocket-Accept"), header(head, "Sec-WebSocket-Protocol"),
                       header(head, "Sec-WebSocket-Extensions")};
  asx_ws_client_result res;
  const char *why = NULL;
  cr_assert_eq(asx_ws_client_verify_response(&ch, &r, &res, &why), 0, "%s", why);
  cr_assert_eq(res.deflate, strcmp(ext, "plain") != 0);
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *c = make_ws(ASX_WS_CLIENT, NULL, res.deflate ? &res.deflate_params : NULL, NULL, &rec);
  free(resp);

  size_t big_n = 200000;
  uint8_t *big = malloc(big_n);
  for (size_t i = 0; i < big_n; i++) big[i] = (uint8_t)("interop "[i % 8]);
  for (int round = 0; round < 2; round++) {
    cr_assert_eq(asx_ws_send(c, ASX_WS_TEXT, (const uint8_t *)"h\xc3\xa9llo", 6), 0);
    cr_assert_eq(asx_ws_send(c, ASX_WS_BINARY, big, big_n), 0);
    cr_assert_eq(asx_ws_send(c, ASX_WS_TEXT, NULL, 0), 0);
  }
  cr_assert_eq(asx_ws_ping(c, (const uint8_t *)"pp", 2), 0);
  uint8_t *out;
  size_t on = pull_all(c, &out);
  peer_write(&p, out, on);
  free(out);
  uint8_t *echo = peer_read(&p, &n);
  cr_assert_not_null(echo);
  cr_assert_eq(asx_ws_recv(c, echo, n, NULL), 0, "%s", asx_ws_error_message(c));
  free(echo);
  cr_assert_eq(rec.nmsgs, 6);
  for (int round = 0; round < 2; round++) {
    cr_assert_eq(rec.msgs[3 * round].len, 6);
    cr_assert_eq(memcmp(rec.msgs[3 * round].data, "h\xc3\xa9llo", 6), 0);
    cr_assert_eq(rec.msgs[3 * round + 1].len, big_n);
    cr_assert_eq(memcmp(rec.msgs[3 * round + 1].data, big, big_n), 0);
    cr_assert_eq(rec.msgs[3 * round + 2].len, 0);
  }
  cr_assert_eq(rec.npongs, 1);
  free(big);

  cr_assert_eq(asx_ws_close(c, 1000, (const uint8_t *)"bye", 3), 0);
  on = pull_all(c, &out);
  peer_write(&p, out, on);
  free(out);
  uint8_t *closing = peer_read(&p, &n);
  cr_assert_not_null(closing);
  cr_assert_eq(asx_ws_recv(c, closing, n, NULL), 0, "%s", asx_ws_error_message(c));
  free(closing);
  cr_assert_eq(rec.closes, 1);
  cr_assert_eq(rec.close_code, 1000);
  cr_assert_eq(asx_ws_get_state(c), ASX_WS_CLOSED);
  asx_ws_free(c);
  rec_free(&rec);
  cr_assert_eq(peer_finish(&p), 0);
}

/* Echo server side of ours: every message goes straight back. */
typedef struct echo_ctx {
  asx_ws *ws;
  int messages;
} echo_ctx;

static int echo_message(void *ud, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  echo_ctx *e = ud;
  e->messages++;
  return asx_ws_send(e->ws, type, data, len);
}

static const asx_ws_callbacks echo_callbacks = {echo_message, NULL, NULL, NULL};

static void our_server_against_python_client(const char *ext) {
  if (!python_websockets_available()) cr_skip_test("python3 websockets not installed");
  peer p;
  peer_start(&p, "client", ext);
  size_t n = 0;
  uint8_t *reqbuf = peer_read(&p, &n);
  cr_assert_not_null(reqbuf);
  const char *head = (const char *)reqbuf;
  cr_assert_eq(strncmp(head, "GET /ws HTTP/1.1\r\n", 18), 0);
  asx_ws_request req = {{(const uint8_t *)"GET", 3},        header(head, "Upgrade"),
                        header(head, "Connection"),           header(head, "Sec-WebSocket-Key"),
                        header(head, "Sec-WebSocket-Version"), header(head, "Sec-WebSocket-Protocol"),
                        header(head, "Sec-WebSocket-Extensions"), header(head, "Origin")};
  asx_ws_deflate_offer policy = {0};
  asx_ws_server_policy pol = {NULL, 0, NULL, NULL, &policy};
  asx_ws_server_handshake sh;
  cr_assert_eq(asx_ws_server_accept(&req, &pol, &sh), 0, "%s", sh.error);
  cr_assert_eq(sh.deflate, strcmp(ext, "plain") != 0);
  free(reqbuf);
  asx_ws_header hs[8];
  size_t nh = 0;
  cr_assert_eq(asx_ws_server_response_headers(&sh, hs, 8, &nh), 0);
  char resp[1024];
  int len = snprintf(resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\n");
  for (size_t i = 0; i < nh; i++)
    len += snprintf(resp + len, sizeof resp - (size_t)len, "%s: %s\r\n", hs[i].name, hs[i].value);
  len += snprintf(resp + len, sizeof resp - (size_t)len, "\r\n");
  peer_write(&p, (const uint8_t *)resp, (size_t)len);

  echo_ctx e = {NULL, 0};
  asx_ws_config cfg = asx_ws_config_default(ASX_WS_SERVER);
  cfg.deflate = sh.deflate ? &sh.deflate_params : NULL;
  cr_assert_eq(asx_ws_new(&e.ws, &cfg, &echo_callbacks, &e), 0);
  uint8_t *chunk;
  for (int rounds = 0; rounds < 20 && (chunk = peer_read(&p, &n)) != NULL; rounds++) {
    int rc = asx_ws_recv(e.ws, chunk, n, NULL);
    free(chunk);
    cr_assert(rc == 0 || rc == ASX_ECLOSED, "rc %d: %s", rc, asx_ws_error_message(e.ws));
    uint8_t *out;
    size_t on = pull_all(e.ws, &out);
    peer_write(&p, out, on);
    free(out);
  }
  cr_assert_eq(e.messages, 4);
  cr_assert_eq(asx_ws_close_code_received(e.ws), 1000);
  cr_assert_eq(asx_ws_get_state(e.ws), ASX_WS_CLOSED);
  asx_ws_free(e.ws);
  cr_assert_eq(peer_finish(&p), 0, "the Python client saw a mismatch or an incomplete close");
}

Test(ws_interop, our_client_python_server_plain) { our_client_against_python_server("plain"); }
Test(ws_interop, our_client_python_server_deflate) { our_client_against_python_server("deflate"); }
Test(ws_interop, our_client_python_server_deflate_no_takeover) {
  our_client_against_python_server("deflate-nct");
}
Test(ws_interop, our_server_python_client_plain) { our_server_against_python_client("plain"); }
Test(ws_interop, our_server_python_client_deflate) { our_server_against_python_client("deflate"); }
Test(ws_interop, our_server_python_client_deflate_no_takeover) {
  our_server_against_python_client("deflate-nct");
}

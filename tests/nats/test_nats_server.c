/* Against a real nats-server 2.9 on a free loopback port, over a plain blocking socket: parse its
 * INFO, send CONNECT (headers, no_responders), SUB + PUB + HPUB and parse the MSG/HMSG that come
 * back (including a payload larger than one read), a request nobody answers (503 HMSG), UNSUB,
 * and a -ERR for a pedantic violation. The server is stopped by PID and must be reaped. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asx/nats.h"
#include "test_fds.h"
#include "nats_peer.h"
#include "nats_testutil.h"

TestSuite(nats_server, .timeout = 40);

typedef struct conn {
  int fd;
  asx_nats_parser *p;
  uint8_t rx[16384];
  size_t rx_len, rx_off;
} conn;

static void send_all(conn *c, const asx_buf *b) {
  size_t off = 0;
  while (off < b->len) {
    ssize_t n = send(c->fd, b->data + off, b->len - off, MSG_NOSIGNAL);
    cr_assert_gt(n, 0, "send failed");
    off += (size_t)n;
  }
}

/* The next event; its slices stay valid until the next call. Times out through SO_RCVTIMEO. */
static asx_nats_event next_event(conn *c) {
  for (;;) {
    if (c->rx_off < c->rx_len) {
      asx_nats_event ev;
      size_t used = 0;
      int rc = asx_nats_parser_feed(c->p, c->rx + c->rx_off, c->rx_len - c->rx_off, &used, &ev);
      c->rx_off += used;
      if (rc == 0) return ev;
      cr_assert_eq(rc, ASX_EAGAIN, "parser: %s", asx_nats_parser_error_message(c->p));
    }
    ssize_t n = recv(c->fd, c->rx, sizeof c->rx, 0);
    cr_assert_gt(n, 0, "recv failed or timed out");
    c->rx_len = (size_t)n;
    c->rx_off = 0;
  }
}

static void open_conn(conn *c, int port, bool pedantic) {
  memset(c, 0, sizeof *c);
  c->fd = nt_connect_loopback(port, 5000);
  cr_assert_geq(c->fd, 0);
  cr_assert_eq(asx_nats_parser_new(&c->p, NULL, NULL), 0);

  asx_nats_event ev = next_event(c);
  cr_assert_eq(ev.op, ASX_NATS_OP_INFO);
  asx_nats_server_info info;
  char err[160];
  cr_assert_eq(asx_nats_info_parse(&info, ev.info_json, NULL, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_not_null(info.server_id);
  cr_assert_not_null(info.version);
  cr_assert(strncmp(info.version, "2.", 2) == 0, "version %s", info.version);
  cr_assert(info.headers);
  cr_assert_eq(info.proto, 1);
  cr_assert_eq(info.port, port);
  cr_assert_eq(info.max_payload, 1048576);
  cr_assert_eq(asx_nats_parser_set_max_payload(c->p, (uint64_t)info.max_payload), 0);
  asx_nats_server_info_free(&info);

  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  asx_nats_connect_opts o;
  asx_nats_connect_opts_default(&o);
  o.name = "asx-test";
  o.pedantic = pedantic;
  cr_assert(o.headers && o.no_responders);
  cr_assert_eq(asx_nats_encode_connect(&out, &o), 0);
  cr_assert_eq(asx_nats_encode_ping(&out), 0);
  send_all(c, &out);
  asx_buf_free(&out);
  ev = next_event(c);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG, "CONNECT refused: op %d %.*s", ev.op, (int)ev.err_text.len,
               (const char *)ev.err_text.ptr);
}

static void close_conn(conn *c) {
  asx_nats_parser_free(c->p);
  cr_assert_eq(close(c->fd), 0);
}

Test(nats_server, pub_sub_headers_and_no_responders) {
  if (!nt_nats_server_path()) cr_skip_test("nats-server is not installed");
  int fds_before = test_count_fds();
  nt_peer peer;
  cr_assert_eq(nt_peer_start_nats(&peer, 5000), 0, "nats-server did not start");
  conn c;
  open_conn(&c, peer.port, false);

  const asx_nats_limits *lim = asx_nats_parser_limits(c.p);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  asx_nats_hdr h;
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "X-Multi", "one"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "X-Multi", "two"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "Mixed-Case", "v"), 0);
  size_t big_len = 300000; /* larger than one read: the parser must buffer it */
  uint8_t *big = malloc(big_len);
  for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 7u);

  cr_assert_eq(asx_nats_encode_sub(&out, lim, "asx.test.>", NULL, "1"), 0);
  cr_assert_eq(asx_nats_encode_sub(&out, lim, "asx.queue", "workers", "2"), 0);
  cr_assert_eq(asx_nats_encode_pub(&out, lim, "asx.test.a", NULL, "hello", 5), 0);
  cr_assert_eq(asx_nats_encode_pub(&out, lim, "asx.test.b", "asx.reply", "", 0), 0);
  cr_assert_eq(asx_nats_encode_hpub(&out, lim, "asx.test.h", "asx.reply", &h, "with headers", 12), 0);
  cr_assert_eq(asx_nats_encode_pub(&out, lim, "asx.queue", NULL, "q", 1), 0);
  cr_assert_eq(asx_nats_encode_pub(&out, lim, "asx.test.big", NULL, big, big_len), 0);
  cr_assert_eq(asx_nats_encode_ping(&out), 0);
  send_all(&c, &out);
  asx_buf_reset(&out);

  asx_nats_event ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert(nt_eq(ev.subject, "asx.test.a"));
  cr_assert(nt_eq(ev.sid, "1"));
  cr_assert_eq(ev.reply.len, 0);
  cr_assert(nt_eq(ev.payload, "hello"));

  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert(nt_eq(ev.subject, "asx.test.b"));
  cr_assert(nt_eq(ev.reply, "asx.reply"));
  cr_assert_eq(ev.payload.len, 0);

  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_HMSG);
  cr_assert(nt_eq(ev.subject, "asx.test.h"));
  cr_assert(nt_eq(ev.reply, "asx.reply"));
  cr_assert(nt_eq(ev.payload, "with headers"));
  cr_assert_eq(ev.status, 0);
  asx_slice v;
  cr_assert_eq(asx_nats_hdr_count(ev.header_block, "X-Multi"), 2);
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "X-Multi", 1, &v), 0);
  cr_assert(nt_eq(v, "two"));
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "Mixed-Case", 0, &v), 0);
  cr_assert(nt_eq(v, "v"));

  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert(nt_eq(ev.subject, "asx.queue"));
  cr_assert(nt_eq(ev.sid, "2"));

  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert(nt_eq(ev.subject, "asx.test.big"));
  cr_assert_eq(ev.payload.len, big_len);
  cr_assert(memcmp(ev.payload.ptr, big, big_len) == 0);

  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG);

  /* A request to a subject nobody listens on: the server answers on the reply subject with a
   * header-only 503 message because we announced no_responders. */
  cr_assert_eq(asx_nats_encode_sub(&out, lim, "_INBOX.asx.*", NULL, "9"), 0);
  cr_assert_eq(asx_nats_encode_pub(&out, lim, "asx.nobody.home", "_INBOX.asx.1", "ping?", 5), 0);
  cr_assert_eq(asx_nats_encode_ping(&out), 0);
  send_all(&c, &out);
  asx_buf_reset(&out);
  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_HMSG);
  cr_assert(nt_eq(ev.subject, "_INBOX.asx.1"));
  cr_assert(nt_eq(ev.sid, "9"));
  cr_assert_eq(ev.status, 503);
  cr_assert_eq(ev.payload.len, 0);
  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG);

  /* UNSUB: nothing more arrives on sid 1. */
  cr_assert_eq(asx_nats_encode_unsub(&out, lim, "1", 0), 0);
  cr_assert_eq(asx_nats_encode_pub(&out, lim, "asx.test.a", NULL, "gone", 4), 0);
  cr_assert_eq(asx_nats_encode_ping(&out), 0);
  send_all(&c, &out);
  asx_buf_reset(&out);
  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG);

  asx_buf_free(&out);
  asx_nats_hdr_free(&h);
  free(big);
  close_conn(&c);
  cr_assert(nt_peer_stop(&peer), "nats-server was not reaped");
  cr_assert_eq(test_count_fds(), fds_before, "a descriptor was left open");
}

Test(nats_server, pedantic_violation_is_an_err_event) {
  if (!nt_nats_server_path()) cr_skip_test("nats-server is not installed");
  int fds_before = test_count_fds();
  nt_peer peer;
  cr_assert_eq(nt_peer_start_nats(&peer, 5000), 0, "nats-server did not start");
  conn c;
  open_conn(&c, peer.port, true);
  /* Our encoder refuses this subject, so write the bytes by hand. */
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_nats_encode_pub(&out, NULL, "foo..bar", NULL, "x", 1), ASX_EINVAL);
  cr_assert_eq(asx_buf_append_str(&out, "PUB foo..bar 1\r\nx\r\nPING\r\n"), 0);
  send_all(&c, &out);
  asx_buf_free(&out);
  asx_nats_event ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_ERR);
  cr_assert(ev.err_text.len > 0);
  cr_assert(memmem(ev.err_text.ptr, ev.err_text.len, "Subject", 7) != NULL, "%.*s",
            (int)ev.err_text.len, (const char *)ev.err_text.ptr);
  ev = next_event(&c);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG);
  close_conn(&c);
  cr_assert(nt_peer_stop(&peer), "nats-server was not reaped");
  cr_assert_eq(test_count_fds(), fds_before, "a descriptor was left open");
}

/* Message session: exchanges between an in-memory server/client pair, hand-built invalid frames
 * (each must fail the connection with the right close code), limits at their boundaries,
 * split input, the close handshake and its timeout, and allocation failures. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "asx/websocket.h"
#include "test_alloc.h"
#include "ws_test_util.h"

TestSuite(ws_session, .timeout = 60);

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

static void assert_msg(const ws_rec *r, size_t i, asx_ws_msg_type type, const void *data,
                       size_t len) {
  cr_assert_gt(r->nmsgs, i, "message %zu missing (have %zu)", i, r->nmsgs);
  cr_assert_eq(r->msgs[i].type, type);
  cr_assert_eq(r->msgs[i].len, len, "message %zu: len %zu, want %zu", i, r->msgs[i].len, len);
  cr_assert(len == 0 || memcmp(r->msgs[i].data, data, len) == 0);
}

Test(ws_session, text_binary_and_empty_both_directions) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("hello"), 5), 0);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, u8("\x00\x01\xff"), 3), 0);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, NULL, 0), 0);
  cr_assert_eq(asx_ws_send(p.server, ASX_WS_TEXT, u8("h\xc3\xa9llo \xf0\x9f\x98\x80"), 11), 0);
  pair_pump(&p, 4096);
  cr_assert_eq(p.server_rc, 0);
  cr_assert_eq(p.client_rc, 0);
  cr_assert_eq(p.srec.nmsgs, 3);
  assert_msg(&p.srec, 0, ASX_WS_TEXT, "hello", 5);
  assert_msg(&p.srec, 1, ASX_WS_BINARY, "\x00\x01\xff", 3);
  assert_msg(&p.srec, 2, ASX_WS_TEXT, "", 0);
  cr_assert_eq(p.crec.nmsgs, 1);
  assert_msg(&p.crec, 0, ASX_WS_TEXT, "h\xc3\xa9llo \xf0\x9f\x98\x80", 11);
  cr_assert_eq(asx_ws_get_state(p.server), ASX_WS_OPEN);
  pair_close(&p);
}

Test(ws_session, large_binary_message_round_trip) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  size_t n = 300000;
  uint8_t *big = malloc(n);
  for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 7 + (i >> 9));
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, big, n), 0);
  cr_assert_eq(asx_ws_send(p.server, ASX_WS_BINARY, big, n), 0);
  pair_pump(&p, 1000);
  assert_msg(&p.srec, 0, ASX_WS_BINARY, big, n);
  assert_msg(&p.crec, 0, ASX_WS_BINARY, big, n);
  free(big);
  pair_close(&p);
}

/* Client-side frames are masked on the wire, server-side frames are not. */
Test(ws_session, masking_on_the_wire) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  uint8_t out[64];
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("abc"), 3), 0);
  size_t n = drain(p.client, out, sizeof out);
  cr_assert_eq(n, 2 + 4 + 3);
  cr_assert_eq(out[0], 0x81);
  cr_assert_eq(out[1], 0x80 | 3);
  cr_assert_eq(asx_ws_send(p.server, ASX_WS_TEXT, u8("abc"), 3), 0);
  n = drain(p.server, out, sizeof out);
  cr_assert_eq(n, 5);
  cr_assert(memcmp(out, "\x81\x03" "abc", 5) == 0);
  pair_close(&p);
}

/* Feeds raw bytes into a fresh session of `role`; returns asx_ws_recv's result. */
static int feed(asx_ws *ws, const uint8_t *data, size_t len) {
  size_t used = 0;
  return asx_ws_recv(ws, data, len, &used);
}

/* After a failure the session must have queued a close frame with `code`. */
static void assert_closed_with(asx_ws *ws, uint16_t code) {
  uint8_t out[256];
  size_t n = drain(ws, out, sizeof out);
  cr_assert_geq(n, 4, "no close frame was produced");
  cr_assert_eq(asx_ws_close_code_sent(ws), code, "close code %u, want %u",
               asx_ws_close_code_sent(ws), code);
  /* The close frame is the last frame out: 0x88, len, code (big endian). */
  size_t i = 0, last = 0;
  while (i < n) {
    last = i;
    size_t len = out[i + 1] & 0x7f;
    i += 2 + ((out[i + 1] & 0x80) ? 4 : 0) + len;
  }
  cr_assert_eq(out[last], 0x88);
  cr_assert_eq(asx_ws_get_state(ws), ASX_WS_CLOSED);
  cr_assert_str_neq(asx_ws_error_message(ws), "");
}

Test(ws_session, fragmented_message_with_interleaved_ping) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[256];
  size_t n = 0;
  n += build_frame(buf + n, 0, 0, 0x1, 1, u8("Hel"), 3);
  n += build_frame(buf + n, 1, 0, 0x9, 1, u8("pp"), 2); /* ping between fragments */
  n += build_frame(buf + n, 0, 0, 0x0, 1, u8("lo, "), 4);
  n += build_frame(buf + n, 1, 0, 0x0, 1, u8("world"), 5);
  cr_assert_eq(feed(s, buf, n), 0);
  assert_msg(&rec, 0, ASX_WS_TEXT, "Hello, world", 12);
  cr_assert_eq(rec.npings, 1);
  /* Auto pong: unmasked from the server, same payload. */
  uint8_t out[64];
  size_t m = drain(s, out, sizeof out);
  cr_assert_eq(m, 4);
  cr_assert(memcmp(out, "\x8a\x02pp", 4) == 0);
  asx_ws_free(s);
  rec_free(&rec);
}

Test(ws_session, ping_pong_between_pair) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  cr_assert_eq(asx_ws_ping(p.client, u8("are you there"), 13), 0);
  cr_assert_eq(asx_ws_ping(p.server, NULL, 0), 0);
  pair_pump(&p, 3);
  cr_assert_eq(p.srec.npings, 1);
  cr_assert_eq(p.crec.npongs, 1);
  cr_assert_eq(p.crec.last_pong_len, 13);
  cr_assert(memcmp(p.crec.last_pong, "are you there", 13) == 0);
  cr_assert_eq(p.crec.npings, 1);
  cr_assert_eq(p.srec.npongs, 1);
  uint8_t big[126] = {0};
  cr_assert_eq(asx_ws_ping(p.client, big, 126), ASX_EINVAL);
  cr_assert_eq(asx_ws_ping(p.client, big, 125), 0);
  pair_close(&p);
}

Test(ws_session, close_initiated_by_client) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  cr_assert_eq(asx_ws_close(p.client, 1000, u8("bye"), 3), 0);
  cr_assert_eq(asx_ws_get_state(p.client), ASX_WS_CLOSING);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("x"), 1), ASX_ECLOSED);
  cr_assert_eq(asx_ws_close(p.client, 1000, NULL, 0), ASX_ECLOSED);
  pair_pump(&p, 4096);
  cr_assert_eq(p.srec.closes, 1);
  cr_assert_eq(p.srec.close_code, 1000);
  cr_assert_str_eq(p.srec.close_reason, "bye");
  cr_assert_eq(p.crec.closes, 1); /* the echo */
  cr_assert_eq(p.crec.close_code, 1000);
  cr_assert_eq(asx_ws_get_state(p.server), ASX_WS_CLOSED);
  cr_assert_eq(asx_ws_get_state(p.client), ASX_WS_CLOSED);
  cr_assert_eq(asx_ws_close_code_sent(p.client), 1000);
  cr_assert_eq(asx_ws_close_code_received(p.server), 1000);
  cr_assert_eq(asx_ws_error(p.server), 0);
  uint8_t x = 0;
  cr_assert_eq(asx_ws_recv(p.server, &x, 1, NULL), ASX_ECLOSED);
  pair_close(&p);
}

Test(ws_session, close_initiated_by_server_messages_before_close_delivered) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  cr_assert_eq(asx_ws_send(p.server, ASX_WS_TEXT, u8("last"), 4), 0);
  cr_assert_eq(asx_ws_close(p.server, 4001, NULL, 0), 0);
  pair_pump(&p, 7);
  assert_msg(&p.crec, 0, ASX_WS_TEXT, "last", 4);
  cr_assert_eq(p.crec.close_code, 4001);
  cr_assert_eq(p.srec.close_code, 4001);
  cr_assert_eq(asx_ws_get_state(p.server), ASX_WS_CLOSED);
  cr_assert_eq(asx_ws_get_state(p.client), ASX_WS_CLOSED);
  pair_close(&p);
}

Test(ws_session, close_argument_checks) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  uint8_t reason[124];
  memset(reason, 'r', sizeof reason);
  cr_assert_eq(asx_ws_close(p.server, 1005, NULL, 0), ASX_EINVAL);
  cr_assert_eq(asx_ws_close(p.server, 999, NULL, 0), ASX_EINVAL);
  cr_assert_eq(asx_ws_close(p.server, 1000, reason, 124), ASX_EINVAL);
  cr_assert_eq(asx_ws_close(p.server, 1000, u8("\xff"), 1), ASX_EINVAL);
  cr_assert_eq(asx_ws_send(p.server, ASX_WS_TEXT, u8("\xc0\x80"), 2), ASX_EINVAL);
  cr_assert_eq(asx_ws_close(p.server, 1000, reason, 123), 0);
  pair_pump(&p, 4096);
  cr_assert_eq(strlen(p.crec.close_reason), 123);
  pair_close(&p);
}

Test(ws_session, close_timeout_uses_caller_clock) {
  asx_ws_limits lim = asx_ws_limits_default();
  lim.close_timeout_ns = 1000;
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, &lim, NULL, NULL, &rec);
  cr_assert_eq(asx_ws_check_timeouts(s, 0), 0); /* open: nothing to time */
  cr_assert_eq(asx_ws_close(s, 1001, NULL, 0), 0);
  uint8_t out[16];
  drain(s, out, sizeof out);
  cr_assert_eq(asx_ws_check_timeouts(s, 5000), 0); /* arms: deadline 6000 */
  cr_assert_eq(asx_ws_check_timeouts(s, 5999), 0);
  cr_assert_eq(asx_ws_get_state(s), ASX_WS_CLOSING);
  cr_assert_eq(asx_ws_check_timeouts(s, 6000), ASX_ETIMEDOUT);
  cr_assert_eq(asx_ws_get_state(s), ASX_WS_CLOSED);
  cr_assert_eq(asx_ws_close_code_received(s), 1006);
  cr_assert_eq(asx_ws_check_timeouts(s, 7000), 0);
  cr_assert_eq(asx_ws_error(s), ASX_ETIMEDOUT);
  asx_ws_free(s);
}

Test(ws_session, unmasked_client_frame_is_1002) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[32];
  size_t n = build_frame(buf, 1, 0, 0x1, 0, u8("hi"), 2);
  cr_assert_eq(feed(s, buf, n), ASX_EPROTO);
  cr_assert_eq(rec.nmsgs, 0);
  assert_closed_with(s, 1002);
  cr_assert_eq(asx_ws_error(s), ASX_EPROTO);
  asx_ws_free(s);
}

Test(ws_session, masked_server_frame_rejected_by_client) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *c = make_ws(ASX_WS_CLIENT, NULL, NULL, NULL, &rec);
  uint8_t buf[32];
  size_t n = build_frame(buf, 1, 0, 0x2, 1, u8("hi"), 2);
  cr_assert_eq(feed(c, buf, n), ASX_EPROTO);
  cr_assert_eq(rec.nmsgs, 0);
  assert_closed_with(c, 1002);
  asx_ws_free(c);
}

Test(ws_session, control_frame_over_125_is_1002) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t payload[126] = {0};
  uint8_t buf[200];
  size_t n = build_frame(buf, 1, 0, 0x9, 1, payload, 126);
  cr_assert_eq(feed(s, buf, n), ASX_EPROTO);
  cr_assert_eq(rec.npings, 0);
  assert_closed_with(s, 1002);
  asx_ws_free(s);
}

Test(ws_session, fragmented_control_frame_is_1002) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[32];
  size_t n = build_frame(buf, 0, 0, 0x9, 1, u8("p"), 1);
  cr_assert_eq(feed(s, buf, n), ASX_EPROTO);
  assert_closed_with(s, 1002);
  asx_ws_free(s);
}

Test(ws_session, other_protocol_violations_are_1002) {
  struct {
    int fin, rsv, opcode;
    const char *name;
  } cases[] = {
      {1, 0, 0x0, "continuation without a message"},
      {1, 0, 0x3, "reserved data opcode"},
      {1, 0, 0xB, "reserved control opcode"},
      {1, 4, 0x1, "RSV1 without an extension"},
      {1, 2, 0x1, "RSV2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ws_rec rec;
    rec_reset(&rec);
    asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
    uint8_t buf[32];
    size_t n = build_frame(buf, cases[i].fin, cases[i].rsv, cases[i].opcode, 1, u8("x"), 1);
    cr_assert_eq(feed(s, buf, n), ASX_EPROTO, "%s", cases[i].name);
    assert_closed_with(s, 1002);
    asx_ws_free(s);
  }
  /* A new data frame while a fragmented message is open. */
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[32];
  size_t n = build_frame(buf, 0, 0, 0x1, 1, u8("a"), 1);
  n += build_frame(buf + n, 1, 0, 0x1, 1, u8("b"), 1);
  cr_assert_eq(feed(s, buf, n), ASX_EPROTO);
  assert_closed_with(s, 1002);
  asx_ws_free(s);
  /* Close frames: 1-byte payload, and a code that may not be sent on the wire. */
  const uint8_t one[1] = {0x03};
  const uint8_t bad_code[2] = {0x03, 0xED}; /* 1005 */
  const uint8_t *payloads[2] = {one, bad_code};
  size_t lens[2] = {1, 2};
  for (int k = 0; k < 2; k++) {
    rec_reset(&rec);
    s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
    n = build_frame(buf, 1, 0, 0x8, 1, payloads[k], lens[k]);
    cr_assert_eq(feed(s, buf, n), ASX_EPROTO, "close case %d", k);
    cr_assert_eq(rec.closes, 0);
    assert_closed_with(s, 1002);
    asx_ws_free(s);
  }
}

Test(ws_session, invalid_utf8_text_is_1007) {
  const char *bad[] = {
      "\xc0\xaf",             /* overlong '/' */
      "\xe0\x80\xaf",         /* overlong 3-byte */
      "\xed\xa0\x80",         /* surrogate U+D800 */
      "\xf4\x90\x80\x80",     /* U+110000 */
      "\xff",                 /* never valid */
      "ok\x80",               /* stray continuation */
      "\xe2\x82",             /* truncated at the end */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ws_rec rec;
    rec_reset(&rec);
    asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
    uint8_t buf[32];
    size_t n = build_frame(buf, 1, 0, 0x1, 1, u8(bad[i]), strlen(bad[i]));
    cr_assert_eq(feed(s, buf, n), ASX_EPROTO, "case %zu", i);
    cr_assert_eq(rec.nmsgs, 0);
    assert_closed_with(s, 1007);
    asx_ws_free(s);
  }
}

Test(ws_session, utf8_split_across_fragments) {
  /* U+20AC split 1+2 across fragments: valid. */
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[64];
  size_t n = build_frame(buf, 0, 0, 0x1, 1, u8("\xe2"), 1);
  n += build_frame(buf + n, 1, 0, 0x0, 1, u8("\x82\xac"), 2);
  cr_assert_eq(feed(s, buf, n), 0);
  assert_msg(&rec, 0, ASX_WS_TEXT, "\xe2\x82\xac", 3);
  asx_ws_free(s);
  rec_free(&rec);
  /* A surrogate split across fragments: invalid, 1007. */
  rec_reset(&rec);
  s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  n = build_frame(buf, 0, 0, 0x1, 1, u8("a\xed"), 2);
  n += build_frame(buf + n, 1, 0, 0x0, 1, u8("\xa0\x80"), 2);
  cr_assert_eq(feed(s, buf, n), ASX_EPROTO);
  cr_assert_eq(rec.nmsgs, 0);
  assert_closed_with(s, 1007);
  asx_ws_free(s);
  /* A message ending in the middle of a sequence split over fragments. */
  rec_reset(&rec);
  s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  n = build_frame(buf, 0, 0, 0x1, 1, u8("\xf0\x9f"), 2);
  n += build_frame(buf + n, 1, 0, 0x0, 1, u8("\x98"), 1);
  cr_assert_eq(feed(s, buf, n), ASX_EPROTO);
  assert_closed_with(s, 1007);
  asx_ws_free(s);
}

/* Sends one frame of `len` payload bytes to a server with the given limits. */
static int frame_of(const asx_ws_limits *lim, size_t len, ws_rec *rec, asx_ws **out) {
  rec_reset(rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, lim, NULL, NULL, rec);
  uint8_t *payload = calloc(1, len + 1);
  uint8_t *buf = malloc(len + 32);
  size_t n = build_frame(buf, 1, 0, 0x2, 1, payload, len);
  int rc = feed(s, buf, n);
  free(payload);
  free(buf);
  *out = s;
  return rc;
}

Test(ws_session, frame_limit_boundaries) {
  asx_ws_limits lim = asx_ws_limits_default();
  lim.max_frame_payload = 1000;
  ws_rec rec;
  asx_ws *s;
  cr_assert_eq(frame_of(&lim, 999, &rec, &s), 0);
  cr_assert_eq(rec.nmsgs, 1);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(frame_of(&lim, 1000, &rec, &s), 0);
  cr_assert_eq(rec.nmsgs, 1);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(frame_of(&lim, 1001, &rec, &s), ASX_ELIMIT);
  cr_assert_eq(rec.nmsgs, 0);
  assert_closed_with(s, 1009);
  cr_assert_eq(asx_ws_error(s), ASX_ELIMIT);
  asx_ws_free(s);
}

Test(ws_session, default_frame_limit_refused_from_header_without_allocating) {
  peak_alloc pa;
  peak_alloc_init(&pa);
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, &pa.base, &rec);
  uint8_t buf[32];
  size_t n = build_header(buf, 1, 0, 0x2, 1, ((uint64_t)16 << 20) + 1);
  buf[n++] = 0; /* one payload byte: the frame reader reports a frame once payload flows */
  cr_assert_eq(feed(s, buf, n), ASX_ELIMIT);
  cr_assert_lt(pa.peak, 4096, "peak %zu", pa.peak);
  assert_closed_with(s, 1009);
  asx_ws_free(s);
  cr_assert_eq(pa.live, 0);
}

/* A message of `total` bytes in frames of `per` bytes. */
static int message_of(const asx_ws_limits *lim, size_t total, size_t per, ws_rec *rec,
                      asx_ws **out) {
  rec_reset(rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, lim, NULL, NULL, rec);
  uint8_t *payload = calloc(1, per + 1);
  uint8_t *buf = malloc(per + 32);
  int rc = 0;
  size_t sent = 0;
  do {
    size_t k = total - sent < per ? total - sent : per;
    size_t n = build_frame(buf, sent + k == total, 0, sent == 0 ? 0x2 : 0x0, 1, payload, k);
    rc = feed(s, buf, n);
    sent += k;
  } while (rc == 0 && sent < total);
  free(payload);
  free(buf);
  *out = s;
  return rc;
}

Test(ws_session, message_limit_boundaries) {
  asx_ws_limits lim = asx_ws_limits_default();
  lim.max_message = 4000;
  ws_rec rec;
  asx_ws *s;
  cr_assert_eq(message_of(&lim, 3999, 1000, &rec, &s), 0);
  cr_assert_eq(rec.nmsgs, 1);
  cr_assert_eq(rec.msgs[0].len, 3999);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(message_of(&lim, 4000, 1000, &rec, &s), 0);
  cr_assert_eq(rec.msgs[0].len, 4000);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(message_of(&lim, 4001, 1000, &rec, &s), ASX_ELIMIT);
  cr_assert_eq(rec.nmsgs, 0);
  assert_closed_with(s, 1009);
  asx_ws_free(s);
}

Test(ws_session, fragment_count_boundaries) {
  asx_ws_limits lim = asx_ws_limits_default();
  lim.max_fragments = 8;
  ws_rec rec;
  asx_ws *s;
  cr_assert_eq(message_of(&lim, 7, 1, &rec, &s), 0);
  cr_assert_eq(rec.nmsgs, 1);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(message_of(&lim, 8, 1, &rec, &s), 0);
  cr_assert_eq(rec.nmsgs, 1);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(message_of(&lim, 9, 1, &rec, &s), ASX_ELIMIT);
  cr_assert_eq(rec.nmsgs, 0);
  assert_closed_with(s, 1009);
  asx_ws_free(s);
}

/* Builds a stream with every kind of event, fed whole and then split at every size. */
Test(ws_session, split_input_gives_same_events) {
  uint8_t stream[512];
  size_t n = 0;
  n += build_frame(stream + n, 1, 0, 0x1, 1, u8("first"), 5);
  n += build_frame(stream + n, 0, 0, 0x2, 1, u8("\x01\x02"), 2);
  n += build_frame(stream + n, 1, 0, 0xA, 1, u8("pong!"), 5);
  n += build_frame(stream + n, 1, 0, 0x0, 1, u8("\x03"), 1);
  uint8_t mid[300];
  memset(mid, 'm', sizeof mid);
  n += build_frame(stream + n, 1, 0, 0x1, 1, mid, sizeof mid); /* 16-bit length form */
  n += build_frame(stream + n, 1, 0, 0x9, 1, u8("pi"), 2);
  n += build_frame(stream + n, 1, 0, 0x8, 1, u8("\x03\xe8" "done"), 6);
  for (size_t chunk = 1; chunk <= n; chunk++) {
    ws_rec rec;
    rec_reset(&rec);
    asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
    for (size_t off = 0; off < n; off += chunk) {
      size_t k = n - off < chunk ? n - off : chunk;
      size_t used = 0;
      cr_assert_eq(asx_ws_recv(s, stream + off, k, &used), 0, "chunk %zu off %zu", chunk, off);
      cr_assert_eq(used, k);
    }
    cr_assert_eq(rec.nmsgs, 3, "chunk %zu", chunk);
    assert_msg(&rec, 0, ASX_WS_TEXT, "first", 5);
    assert_msg(&rec, 1, ASX_WS_BINARY, "\x01\x02\x03", 3);
    assert_msg(&rec, 2, ASX_WS_TEXT, mid, sizeof mid);
    cr_assert_eq(rec.npongs, 1);
    cr_assert_eq(rec.npings, 1);
    cr_assert_eq(rec.closes, 1);
    cr_assert_eq(rec.close_code, 1000);
    cr_assert_str_eq(rec.close_reason, "done");
    asx_ws_free(s);
    rec_free(&rec);
  }
}

Test(ws_session, pair_one_byte_at_a_time) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  uint8_t blob[70000];
  for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i % 251);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, blob, sizeof blob), 0); /* 64-bit length */
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("tail"), 4), 0);
  pair_pump(&p, 1);
  cr_assert_eq(p.server_rc, 0);
  assert_msg(&p.srec, 0, ASX_WS_BINARY, blob, sizeof blob);
  assert_msg(&p.srec, 1, ASX_WS_TEXT, "tail", 4);
  pair_close(&p);
}

Test(ws_session, bytes_after_close_are_not_consumed) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[64];
  size_t n = build_frame(buf, 1, 0, 0x8, 1, u8("\x03\xe8"), 2);
  size_t close_len = n;
  n += build_frame(buf + n, 1, 0, 0x1, 1, u8("late"), 4);
  size_t used = 0;
  cr_assert_eq(asx_ws_recv(s, buf, n, &used), 0);
  cr_assert_geq(used, close_len);
  cr_assert_eq(rec.nmsgs, 0);
  cr_assert_eq(rec.closes, 1);
  cr_assert_eq(asx_ws_recv(s, buf, n, &used), ASX_ECLOSED);
  cr_assert_eq(used, 0);
  asx_ws_free(s);
}

Test(ws_session, callback_failure_fails_connection_with_1011) {
  ws_rec rec;
  rec_reset(&rec);
  rec.fail_on_message = ASX_EBUSY;
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, NULL, NULL, &rec);
  uint8_t buf[32];
  size_t n = build_frame(buf, 1, 0, 0x1, 1, u8("x"), 1);
  cr_assert_eq(feed(s, buf, n), ASX_EBUSY);
  assert_closed_with(s, 1011);
  asx_ws_free(s);
}

Test(ws_session, pull_with_small_buffers) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, NULL, NULL), 0);
  uint8_t msg[1000];
  memset(msg, 'z', sizeof msg);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, msg, sizeof msg), 0);
  cr_assert(asx_ws_want_write(p.client));
  uint8_t out[1200];
  size_t total = 0, n = 0;
  do {
    cr_assert_eq(asx_ws_pull(p.client, out + total, 3, &n), 0);
    total += n;
  } while (n);
  cr_assert(!asx_ws_want_write(p.client));
  cr_assert_eq(total, 4 + 4 + 1000);
  cr_assert_eq(asx_ws_recv(p.server, out, total, NULL), 0);
  assert_msg(&p.srec, 0, ASX_WS_TEXT, msg, sizeof msg);
  pair_close(&p);
}

Test(ws_session, invalid_config_rejected) {
  asx_ws *ws = NULL;
  asx_ws_config cfg = asx_ws_config_default(ASX_WS_SERVER);
  cfg.limits.max_message = 0;
  cr_assert_eq(asx_ws_new(&ws, &cfg, NULL, NULL), ASX_EINVAL);
  cfg = asx_ws_config_default(ASX_WS_SERVER);
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  dp.client_max_window_bits = 7;
  cfg.deflate = &dp;
  cr_assert_eq(asx_ws_new(&ws, &cfg, NULL, NULL), ASX_EINVAL);
  cr_assert_null(ws);
}

/* Every allocation the server makes fails in turn; each run must end in a consistent state
 * (only ASX_ENOMEM or the resulting ECLOSED reported, no leak), and the run that no longer fails
 * must deliver everything. */
Test(ws_session, failing_allocator) {
  uint8_t big[5000];
  memset(big, 'b', sizeof big);
  for (long k = 0; k < 200; k++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    ws_pair p;
    int rc = pair_open(&p, NULL, NULL, &ta.base);
    if (rc) {
      cr_assert_eq(rc, ASX_ENOMEM);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("one"), 3), 0);
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, big, sizeof big), 0);
    rc = asx_ws_send(p.server, ASX_WS_TEXT, u8("reply"), 5);
    cr_assert(rc == 0 || rc == ASX_ENOMEM);
    pair_pump(&p, 512);
    cr_assert(p.server_rc == 0 || p.server_rc == ASX_ENOMEM, "rc %d", p.server_rc);
    bool clean = ta.failures == 0;
    if (p.server_rc == ASX_ENOMEM) {
      cr_assert_neq(asx_ws_get_state(p.server), ASX_WS_OPEN);
      cr_assert_eq(asx_ws_error(p.server), ASX_ENOMEM);
    }
    if (clean) {
      assert_msg(&p.srec, 0, ASX_WS_TEXT, "one", 3);
      assert_msg(&p.srec, 1, ASX_WS_BINARY, big, sizeof big);
      assert_msg(&p.crec, 0, ASX_WS_TEXT, "reply", 5);
    }
    pair_close(&p);
    cr_assert_eq(ta.live, 0, "leak at k=%ld", k);
    if (clean) return;
  }
  cr_assert_fail("allocation count never settled");
}

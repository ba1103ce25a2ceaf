/* permessage-deflate data path: round trips with and without context takeover, small windows,
 * decompression bombs (bounded memory, 1009), corrupt data (1007), compressed invalid UTF-8,
 * RSV1 misuse (1002), BFINAL blocks, split input, and allocation failures reaching zlib. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "asx/websocket.h"
#include "test_alloc.h"
#include "ws_test_util.h"

TestSuite(ws_deflate, .timeout = 60);

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

static void assert_msg(const ws_rec *r, size_t i, asx_ws_msg_type type, const void *data,
                       size_t len) {
  cr_assert_gt(r->nmsgs, i, "message %zu missing (have %zu)", i, r->nmsgs);
  cr_assert_eq(r->msgs[i].type, type);
  cr_assert_eq(r->msgs[i].len, len, "message %zu: len %zu, want %zu", i, r->msgs[i].len, len);
  cr_assert(len == 0 || memcmp(r->msgs[i].data, data, len) == 0);
}

/* Raw-deflates `in` the way a peer would: a sync flush with the 4-byte tail stripped, or
 * (finish) a final block. `z` may carry history (context takeover); NULL = fresh stream. */
static size_t peer_deflate(z_stream *z, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                           bool finish) {
  z_stream local;
  bool own = z == NULL;
  if (own) {
    memset(&local, 0, sizeof local);
    cr_assert_eq(deflateInit2(&local, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    z = &local;
  }
  z->next_in = (Bytef *)(uintptr_t)in;
  z->avail_in = (uInt)n;
  z->next_out = out;
  z->avail_out = (uInt)cap;
  int rc = deflate(z, finish ? Z_FINISH : Z_SYNC_FLUSH);
  cr_assert(rc == Z_OK || rc == Z_STREAM_END);
  cr_assert_eq(z->avail_in, 0);
  size_t len = cap - z->avail_out;
  if (!finish) {
    cr_assert(len >= 4 && memcmp(out + len - 4, "\x00\x00\xff\xff", 4) == 0);
    len -= 4;
  }
  if (own) deflateEnd(z);
  return len;
}

static asx_ws_deflate_params params(bool snct, bool cnct, int sbits, int cbits) {
  asx_ws_deflate_params p = {snct, cnct, (uint8_t)sbits, (uint8_t)cbits};
  return p;
}

/* Text, binary, empty, compressible and incompressible messages both ways. */
static void round_trip(const asx_ws_deflate_params *dp, size_t chunk) {
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, dp, NULL), 0);
  size_t big_n = 200000;
  uint8_t *big = malloc(big_n);
  for (size_t i = 0; i < big_n; i++) big[i] = (uint8_t)("abcabcabd"[i % 9]);
  uint8_t noise[3000];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof noise; i++) {
    x = x * 1103515245u + 12345u;
    noise[i] = (uint8_t)(x >> 16);
  }
  for (int round = 0; round < 2; round++) {
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("hello hello hello"), 17), 0);
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, big, big_n), 0);
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, NULL, 0), 0);
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, noise, sizeof noise), 0);
    cr_assert_eq(asx_ws_send(p.server, ASX_WS_TEXT, u8("caf\xc3\xa9 caf\xc3\xa9"), 11), 0);
    cr_assert_eq(asx_ws_send(p.server, ASX_WS_BINARY, big, big_n), 0);
  }
  pair_pump(&p, chunk);
  cr_assert_eq(p.server_rc, 0, "server rc %d: %s", p.server_rc, asx_ws_error_message(p.server));
  cr_assert_eq(p.client_rc, 0, "client rc %d: %s", p.client_rc, asx_ws_error_message(p.client));
  cr_assert_eq(p.srec.nmsgs, 8);
  cr_assert_eq(p.crec.nmsgs, 4);
  for (int round = 0; round < 2; round++) {
    assert_msg(&p.srec, 4 * round + 0, ASX_WS_TEXT, "hello hello hello", 17);
    assert_msg(&p.srec, 4 * round + 1, ASX_WS_BINARY, big, big_n);
    assert_msg(&p.srec, 4 * round + 2, ASX_WS_TEXT, "", 0);
    assert_msg(&p.srec, 4 * round + 3, ASX_WS_BINARY, noise, sizeof noise);
    assert_msg(&p.crec, 2 * round + 0, ASX_WS_TEXT, "caf\xc3\xa9 caf\xc3\xa9", 11);
    assert_msg(&p.crec, 2 * round + 1, ASX_WS_BINARY, big, big_n);
  }
  free(big);
  pair_close(&p);
}

Test(ws_deflate, round_trip_with_context_takeover) {
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  round_trip(&dp, 4096);
}

Test(ws_deflate, round_trip_without_context_takeover) {
  asx_ws_deflate_params dp = params(true, true, 15, 15);
  round_trip(&dp, 4096);
}

Test(ws_deflate, round_trip_small_windows) {
  asx_ws_deflate_params dp = params(false, true, 9, 8);
  round_trip(&dp, 4096);
  dp = params(true, false, 8, 10);
  round_trip(&dp, 4096);
}

Test(ws_deflate, round_trip_one_byte_at_a_time) {
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  round_trip(&dp, 1);
}

/* Sends the same message twice from the server and returns the two frame sizes. */
static void twice(const asx_ws_deflate_params *dp, size_t *first, size_t *second, uint8_t *hdr0) {
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, dp, NULL, &rec);
  const char *text = "the quick brown fox jumps over the lazy dog, again and again";
  uint8_t out[512];
  cr_assert_eq(asx_ws_send(s, ASX_WS_TEXT, u8(text), strlen(text)), 0);
  *first = drain(s, out, sizeof out);
  *hdr0 = out[0];
  cr_assert_eq(asx_ws_send(s, ASX_WS_TEXT, u8(text), strlen(text)), 0);
  *second = drain(s, out, sizeof out);
  asx_ws_free(s);
}

Test(ws_deflate, context_takeover_is_honoured_on_the_wire) {
  size_t a, b;
  uint8_t h;
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  twice(&dp, &a, &b, &h);
  cr_assert_eq(h, 0xC1, "FIN + RSV1 + text, got %02x", h);
  cr_assert_lt(b, a, "with takeover the repeat should reference history (%zu vs %zu)", b, a);
  dp = params(true, false, 15, 15);
  twice(&dp, &a, &b, &h);
  cr_assert_eq(a, b, "without takeover both messages compress alike (%zu vs %zu)", a, b);
}

/* Feeds a masked compressed message (optionally split in two frames) to a fresh server. */
static int feed_compressed(asx_ws *s, int opcode, const uint8_t *comp, size_t n, size_t split) {
  uint8_t *buf = malloc(n + 64);
  size_t len = 0;
  if (split && split < n) {
    len += build_frame(buf + len, 0, 4, opcode, 1, comp, split);
    len += build_frame(buf + len, 1, 0, 0x0, 1, comp + split, n - split);
  } else {
    len += build_frame(buf + len, 1, 4, opcode, 1, comp, n);
  }
  size_t used = 0;
  int rc = asx_ws_recv(s, buf, len, &used);
  free(buf);
  return rc;
}

static void assert_close_sent(asx_ws *ws, uint16_t code) {
  uint8_t out[256];
  drain(ws, out, sizeof out);
  cr_assert_eq(asx_ws_close_code_sent(ws), code, "close %u, want %u (%s)",
               asx_ws_close_code_sent(ws), code, asx_ws_error_message(ws));
}

Test(ws_deflate, decompression_bomb_is_1009_with_bounded_memory) {
  size_t n = 1 << 20;
  uint8_t *zeros = calloc(1, n);
  uint8_t *comp = malloc(n);
  size_t clen = peer_deflate(NULL, zeros, n, comp, n, false);
  cr_assert_lt(clen, 4096, "1 MiB of zeros should compress to ~1 KiB, got %zu", clen);
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  asx_ws_limits lim = asx_ws_limits_default();
  lim.max_message = 64 << 10;
  peak_alloc pa;
  peak_alloc_init(&pa);
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, &lim, &dp, &pa.base, &rec);
  cr_assert_eq(feed_compressed(s, 0x2, comp, clen, 0), ASX_ELIMIT);
  cr_assert_eq(rec.nmsgs, 0);
  /* 64 KiB message cap + zlib's inflate state and 32 KiB window + the session itself. */
  cr_assert_lt(pa.peak, (size_t)160 << 10, "peak %zu bytes", pa.peak);
  assert_close_sent(s, 1009);
  cr_assert_eq(asx_ws_error(s), ASX_ELIMIT);
  asx_ws_free(s);
  cr_assert_eq(pa.live, 0);
  free(zeros);
  free(comp);
}

static int decompressed_size_case(size_t size, ws_rec *rec, asx_ws **out) {
  uint8_t *data = malloc(size);
  for (size_t i = 0; i < size; i++) data[i] = (uint8_t)('a' + i % 3);
  uint8_t *comp = malloc(size + 1024);
  size_t clen = peer_deflate(NULL, data, size, comp, size + 1024, false);
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  asx_ws_limits lim = asx_ws_limits_default();
  lim.max_message = 100000;
  rec_reset(rec);
  *out = make_ws(ASX_WS_SERVER, &lim, &dp, NULL, rec);
  int rc = feed_compressed(*out, 0x1, comp, clen, clen / 2);
  if (rc == 0) assert_msg(rec, 0, ASX_WS_TEXT, data, size);
  free(data);
  free(comp);
  return rc;
}

Test(ws_deflate, decompressed_message_limit_boundaries) {
  ws_rec rec;
  asx_ws *s;
  cr_assert_eq(decompressed_size_case(99999, &rec, &s), 0);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(decompressed_size_case(100000, &rec, &s), 0);
  asx_ws_free(s);
  rec_free(&rec);
  cr_assert_eq(decompressed_size_case(100001, &rec, &s), ASX_ELIMIT);
  cr_assert_eq(rec.nmsgs, 0);
  assert_close_sent(s, 1009);
  asx_ws_free(s);
}

Test(ws_deflate, corrupt_deflate_data_is_1007) {
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x34};
  cr_assert_eq(feed_compressed(s, 0x2, garbage, sizeof garbage, 0), ASX_EDECOMPRESS);
  cr_assert_eq(rec.nmsgs, 0);
  assert_close_sent(s, 1007);
  asx_ws_free(s);
}

Test(ws_deflate, compressed_invalid_utf8_is_1007_even_split) {
  const char *bad = "valid prefix then \xed\xa0\x80 a surrogate";
  uint8_t comp[256];
  size_t clen = peer_deflate(NULL, u8(bad), strlen(bad), comp, sizeof comp, false);
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  for (size_t split = 0; split < clen; split++) {
    ws_rec rec;
    rec_reset(&rec);
    asx_ws *s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
    cr_assert_eq(feed_compressed(s, 0x1, comp, clen, split), ASX_EPROTO, "split %zu", split);
    cr_assert_eq(rec.nmsgs, 0);
    assert_close_sent(s, 1007);
    asx_ws_free(s);
  }
  /* Truncated sequence at the very end of the decompressed text. */
  clen = peer_deflate(NULL, u8("abc\xe2\x82"), 5, comp, sizeof comp, false);
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
  cr_assert_eq(feed_compressed(s, 0x1, comp, clen, 0), ASX_EPROTO);
  assert_close_sent(s, 1007);
  asx_ws_free(s);
}

Test(ws_deflate, rsv1_misuse_is_1002) {
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  uint8_t buf[64];
  /* RSV1 on a continuation frame. */
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
  size_t n = build_frame(buf, 0, 0, 0x2, 1, u8("ab"), 2);
  n += build_frame(buf + n, 1, 4, 0x0, 1, u8("cd"), 2);
  cr_assert_eq(asx_ws_recv(s, buf, n, NULL), ASX_EPROTO);
  assert_close_sent(s, 1002);
  asx_ws_free(s);
  /* RSV1 on a control frame. */
  rec_reset(&rec);
  s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
  n = build_frame(buf, 1, 4, 0x9, 1, u8("p"), 1);
  cr_assert_eq(asx_ws_recv(s, buf, n, NULL), ASX_EPROTO);
  assert_close_sent(s, 1002);
  asx_ws_free(s);
}

Test(ws_deflate, uncompressed_message_on_deflate_connection) {
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
  uint8_t buf[64];
  size_t n = build_frame(buf, 1, 0, 0x1, 1, u8("plain"), 5);
  cr_assert_eq(asx_ws_recv(s, buf, n, NULL), 0);
  assert_msg(&rec, 0, ASX_WS_TEXT, "plain", 5);
  asx_ws_free(s);
  rec_free(&rec);
}

/* A peer that ends a message with a BFINAL block and keeps its history for the next one
 * (RFC 7692 7.2.3.4): the window must survive the stream end. */
Test(ws_deflate, final_block_keeps_window_with_takeover) {
  const char *m1 = "a sentence that the second message will repeat exactly";
  char m2[256];
  snprintf(m2, sizeof m2, "%s!", m1);
  uint8_t c1[256], c2[256];
  size_t l1 = peer_deflate(NULL, u8(m1), strlen(m1), c1, sizeof c1, true);
  z_stream z;
  memset(&z, 0, sizeof z);
  cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  cr_assert_eq(deflateSetDictionary(&z, u8(m1), (uInt)strlen(m1)), Z_OK);
  size_t l2 = peer_deflate(&z, u8(m2), strlen(m2), c2, sizeof c2, false);
  deflateEnd(&z);
  cr_assert_lt(l2, strlen(m2) / 2, "second message should be mostly a back-reference");
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  ws_rec rec;
  rec_reset(&rec);
  asx_ws *s = make_ws(ASX_WS_SERVER, NULL, &dp, NULL, &rec);
  cr_assert_eq(feed_compressed(s, 0x1, c1, l1, 0), 0, "%s", asx_ws_error_message(s));
  cr_assert_eq(feed_compressed(s, 0x1, c2, l2, 0), 0, "%s", asx_ws_error_message(s));
  assert_msg(&rec, 0, ASX_WS_TEXT, m1, strlen(m1));
  assert_msg(&rec, 1, ASX_WS_TEXT, m2, strlen(m2));
  asx_ws_free(s);
  rec_free(&rec);
}

Test(ws_deflate, failing_allocator_reaches_zlib) {
  uint8_t big[20000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 17);
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  for (long k = 0; k < 300; k++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    ws_pair p;
    int rc = pair_open(&p, NULL, &dp, &ta.base);
    if (rc) {
      cr_assert_eq(rc, ASX_ENOMEM);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, u8("compress me, compress me"), 24), 0);
    cr_assert_eq(asx_ws_send(p.client, ASX_WS_BINARY, big, sizeof big), 0);
    int src = asx_ws_send(p.server, ASX_WS_BINARY, big, sizeof big);
    cr_assert(src == 0 || src == ASX_ENOMEM, "send rc %d", src);
    pair_pump(&p, 700);
    cr_assert(p.server_rc == 0 || p.server_rc == ASX_ENOMEM, "rc %d", p.server_rc);
    cr_assert_eq(p.client_rc, 0);
    bool clean = ta.failures == 0;
    if (p.server_rc == ASX_ENOMEM) cr_assert_neq(asx_ws_get_state(p.server), ASX_WS_OPEN);
    if (src == 0) {
      /* Whatever the server managed to queue arrived intact. */
      if (p.crec.nmsgs) assert_msg(&p.crec, 0, ASX_WS_BINARY, big, sizeof big);
    }
    if (clean) {
      assert_msg(&p.srec, 0, ASX_WS_TEXT, "compress me, compress me", 24);
      assert_msg(&p.srec, 1, ASX_WS_BINARY, big, sizeof big);
      assert_msg(&p.crec, 0, ASX_WS_BINARY, big, sizeof big);
    }
    pair_close(&p);
    cr_assert_eq(ta.live, 0, "leak at k=%ld", k);
    if (clean) return;
  }
  cr_assert_fail("allocation count never settled");
}

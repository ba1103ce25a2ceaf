/* gRPC message codec: round trips, split input at every offset, size limit boundaries,
 * malformed prefixes and allocation failures. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "asx/grpc.h"
#include "test_alloc.h"

TestSuite(grpc_frame, .timeout = 30);

typedef struct collected {
  int count;
  bool compressed[16];
  size_t len[16];
  uint8_t data[4096];
  size_t data_len;
} collected;

/* Feeds `in` in chunks of `chunk` bytes (0 = whole) and collects the messages. */
static int feed_all(asx_grpc_decoder *d, const uint8_t *in, size_t len, size_t chunk,
                    collected *out) {
  size_t pos = 0;
  while (pos < len) {
    size_t n = chunk && chunk < len - pos ? chunk : len - pos;
    size_t off = 0;
    while (off < n) {
      size_t used = 0;
      asx_grpc_message m;
      int rc = asx_grpc_decoder_decode(d, in + pos + off, n - off, &used, &m);
      off += used;
      if (rc == ASX_EAGAIN) {
        cr_assert_eq(off, n, "EAGAIN must consume all input");
        break;
      }
      if (rc) return rc;
      cr_assert_lt(out->count, 16);
      out->compressed[out->count] = m.compressed;
      out->len[out->count] = m.data.len;
      memcpy(out->data + out->data_len, m.data.ptr, m.data.len);
      out->data_len += m.data.len;
      out->count++;
    }
    pos += n;
  }
  return 0;
}

static size_t build_stream(uint8_t *buf) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_grpc_encode(&b, false, "hello", 5, NULL), 0);
  cr_assert_eq(asx_grpc_encode(&b, true, "", 0, NULL), 0);
  uint8_t big[300];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
  cr_assert_eq(asx_grpc_encode(&b, false, big, sizeof big, NULL), 0);
  cr_assert_eq(asx_grpc_encode(&b, true, "x", 1, NULL), 0);
  size_t n = b.len;
  memcpy(buf, b.data, n);
  asx_buf_free(&b);
  return n;
}

Test(grpc_frame, encode_layout) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_grpc_encode(&b, true, "abc", 3, NULL), 0);
  const uint8_t expect[] = {1, 0, 0, 0, 3, 'a', 'b', 'c'};
  cr_assert_eq(b.len, sizeof expect);
  cr_assert(memcmp(b.data, expect, sizeof expect) == 0);
  uint8_t h[5];
  cr_assert_eq(asx_grpc_encode_header(h, false, 0x01020304, SIZE_MAX), 0);
  cr_assert(memcmp(h, "\x00\x01\x02\x03\x04", 5) == 0);
  asx_buf_free(&b);
}

Test(grpc_frame, round_trip_whole_and_every_split) {
  uint8_t stream[1024];
  size_t n = build_stream(stream);
  collected whole = {0};
  asx_grpc_decoder *d;
  cr_assert_eq(asx_grpc_decoder_new(&d, NULL, NULL), 0);
  cr_assert_eq(feed_all(d, stream, n, 0, &whole), 0);
  cr_assert_eq(asx_grpc_decoder_finish(d), 0);
  asx_grpc_decoder_free(d);
  cr_assert_eq(whole.count, 4);
  cr_assert_eq(whole.len[0], 5);
  cr_assert(!whole.compressed[0]);
  cr_assert_eq(whole.len[1], 0);
  cr_assert(whole.compressed[1]);
  cr_assert_eq(whole.len[2], 300);
  cr_assert_eq(whole.len[3], 1);
  cr_assert(memcmp(whole.data, "hello", 5) == 0);

  /* Two pieces split at every offset, then one byte at a time. */
  for (size_t cut = 0; cut <= n; cut++) {
    collected got = {0};
    cr_assert_eq(asx_grpc_decoder_new(&d, NULL, NULL), 0);
    cr_assert_eq(feed_all(d, stream, cut, 0, &got), 0);
    cr_assert_eq(feed_all(d, stream + cut, n - cut, 0, &got), 0);
    cr_assert_eq(asx_grpc_decoder_finish(d), 0);
    asx_grpc_decoder_free(d);
    cr_assert_eq(got.count, whole.count, "cut %zu", cut);
    cr_assert(memcmp(got.len, whole.len, sizeof got.len) == 0);
    cr_assert(memcmp(got.compressed, whole.compressed, sizeof got.compressed) == 0);
    cr_assert_eq(got.data_len, whole.data_len);
    cr_assert(memcmp(got.data, whole.data, got.data_len) == 0, "cut %zu", cut);
  }
  collected bytes = {0};
  cr_assert_eq(asx_grpc_decoder_new(&d, NULL, NULL), 0);
  cr_assert_eq(feed_all(d, stream, n, 1, &bytes), 0);
  asx_grpc_decoder_free(d);
  cr_assert_eq(bytes.data_len, whole.data_len);
  cr_assert(memcmp(bytes.data, whole.data, bytes.data_len) == 0);
}

Test(grpc_frame, truncated_stream_is_reported_by_finish) {
  uint8_t stream[1024];
  build_stream(stream);
  /* The first message is 10 bytes long: every cut inside it leaves a partial message. */
  for (size_t cut = 1; cut < 10; cut++) {
    asx_grpc_decoder *d;
    collected got = {0};
    cr_assert_eq(asx_grpc_decoder_new(&d, NULL, NULL), 0);
    cr_assert_eq(feed_all(d, stream, cut, 0, &got), 0);
    cr_assert_eq(asx_grpc_decoder_finish(d), ASX_EPROTO, "cut %zu", cut);
    cr_assert_str_eq(asx_grpc_decoder_error_message(d), "grpc frame: stream ends inside a message");
    asx_grpc_decoder_free(d);
  }
}

/* Decodes a prefix announcing `len` (payload not supplied) with max_recv = limit. */
static int announce(size_t limit, uint32_t len, asx_grpc_decoder **out) {
  asx_grpc_limits l = asx_grpc_limits_default();
  l.max_recv_message = limit;
  cr_assert_eq(asx_grpc_decoder_new(out, &l, NULL), 0);
  uint8_t h[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  size_t used;
  asx_grpc_message m;
  return asx_grpc_decoder_decode(*out, h, 5, &used, &m);
}

Test(grpc_frame, recv_limit_boundaries) {
  asx_grpc_decoder *d;
  const size_t lim = ASX_GRPC_DEFAULT_MAX_MESSAGE;
  cr_assert_eq(announce(lim, lim - 1, &d), ASX_EAGAIN);
  asx_grpc_decoder_free(d);
  cr_assert_eq(announce(lim, lim, &d), ASX_EAGAIN);
  asx_grpc_decoder_free(d);
  cr_assert_eq(announce(lim, lim + 1, &d), ASX_ELIMIT);
  /* Sticky, and no allocation of the announced size happened. */
  size_t used;
  asx_grpc_message m;
  cr_assert_eq(asx_grpc_decoder_decode(d, (const uint8_t *)"x", 1, &used, &m), ASX_ELIMIT);
  cr_assert_eq(used, 0);
  cr_assert_eq(asx_grpc_decoder_finish(d), ASX_ELIMIT);
  cr_assert(strstr(asx_grpc_decoder_error_message(d), "RESOURCE_EXHAUSTED"));
  asx_grpc_decoder_free(d);
  /* The largest length a prefix can carry never allocates. */
  test_alloc ta;
  test_alloc_init(&ta);
  asx_grpc_decoder *d2;
  cr_assert_eq(asx_grpc_decoder_new(&d2, NULL, &ta.base), 0);
  long before = ta.allocs;
  uint8_t h[5] = {0, 0xff, 0xff, 0xff, 0xff};
  cr_assert_eq(asx_grpc_decoder_decode(d2, h, 5, &used, &m), ASX_ELIMIT);
  cr_assert_eq(ta.allocs, before);
  asx_grpc_decoder_free(d2);
  cr_assert_eq(ta.live, 0);
  cr_assert_eq(asx_grpc_status_from_error(ASX_ELIMIT), ASX_GRPC_RESOURCE_EXHAUSTED);
}

Test(grpc_frame, recv_limit_full_messages) {
  /* A small limit with real payloads at limit-1 / limit / limit+1. */
  asx_grpc_limits l = {16, 16};
  for (size_t len = 15; len <= 17; len++) {
    uint8_t buf[64];
    memset(buf, 'a', sizeof buf);
    cr_assert_eq(asx_grpc_encode_header(buf, false, len, SIZE_MAX), 0);
    asx_grpc_decoder *d;
    cr_assert_eq(asx_grpc_decoder_new(&d, &l, NULL), 0);
    size_t used;
    asx_grpc_message m;
    int rc = asx_grpc_decoder_decode(d, buf, 5 + len, &used, &m);
    if (len <= 16) {
      cr_assert_eq(rc, 0);
      cr_assert_eq(m.data.len, len);
      cr_assert_eq(used, 5 + len);
    } else {
      cr_assert_eq(rc, ASX_ELIMIT);
    }
    asx_grpc_decoder_free(d);
  }
}

Test(grpc_frame, send_limit_boundaries) {
  asx_grpc_limits l = {16, 16};
  uint8_t payload[32] = {0};
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_grpc_encode(&b, false, payload, 15, &l), 0);
  cr_assert_eq(asx_grpc_encode(&b, false, payload, 16, &l), 0);
  size_t before = b.len;
  cr_assert_eq(asx_grpc_encode(&b, false, payload, 17, &l), ASX_ELIMIT);
  cr_assert_eq(b.len, before);
  asx_buf_free(&b);
  uint8_t h[5];
  cr_assert_eq(asx_grpc_encode_header(h, false, (size_t)UINT32_MAX + 1, SIZE_MAX), ASX_ELIMIT);
  /* A bounded output buffer keeps its contents when the frame would not fit. */
  asx_buf small;
  asx_buf_init(&small, NULL, 8);
  cr_assert_eq(asx_grpc_encode(&small, false, payload, 4, &l), ASX_ELIMIT);
  cr_assert_eq(small.len, 0);
  asx_buf_free(&small);
}

Test(grpc_frame, bad_flag_is_protocol_error) {
  asx_grpc_decoder *d;
  cr_assert_eq(asx_grpc_decoder_new(&d, NULL, NULL), 0);
  size_t used;
  asx_grpc_message m;
  cr_assert_eq(asx_grpc_decoder_decode(d, (const uint8_t *)"\x02\0\0\0\0", 5, &used, &m),
               ASX_EPROTO);
  cr_assert(strstr(asx_grpc_decoder_error_message(d), "flag"));
  cr_assert_eq(asx_grpc_decoder_finish(d), ASX_EPROTO);
  asx_grpc_decoder_free(d);
}

Test(grpc_frame, failing_allocator_every_index) {
  /* Stream split so that every message goes through the buffered path. */
  uint8_t stream[1024];
  size_t n = build_stream(stream);
  collected ref = {0};
  asx_grpc_decoder *d;
  cr_assert_eq(asx_grpc_decoder_new(&d, NULL, NULL), 0);
  cr_assert_eq(feed_all(d, stream, n, 3, &ref), 0);
  asx_grpc_decoder_free(d);

  for (long fail_at = 0; fail_at < 12; fail_at++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, fail_at);
    int rc = asx_grpc_decoder_new(&d, NULL, &ta.base);
    if (rc) {
      cr_assert_eq(rc, ASX_ENOMEM);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    collected got = {0};
    size_t pos = 0;
    int nomem = 0;
    while (pos < n) {
      size_t chunk = n - pos < 3 ? n - pos : 3;
      size_t used = 0;
      asx_grpc_message m;
      rc = asx_grpc_decoder_decode(d, stream + pos, chunk, &used, &m);
      pos += used;
      if (rc == ASX_ENOMEM) {
        /* Nothing accepted is lost: allow allocations again and retry the rest. */
        nomem++;
        test_alloc_fail_after(&ta, -1);
        continue;
      }
      if (rc == ASX_EAGAIN) continue;
      cr_assert_eq(rc, 0);
      memcpy(got.data + got.data_len, m.data.ptr, m.data.len);
      got.len[got.count++] = m.data.len;
      got.data_len += m.data.len;
    }
    cr_assert_eq(asx_grpc_decoder_finish(d), 0);
    asx_grpc_decoder_free(d);
    cr_assert_eq(ta.live, 0, "leak with fail_at %ld", fail_at);
    cr_assert_eq(got.count, ref.count, "fail_at %ld", fail_at);
    cr_assert_eq(got.data_len, ref.data_len);
    cr_assert(memcmp(got.data, ref.data, got.data_len) == 0);
    if (fail_at >= 1 && fail_at <= 3) cr_assert_gt(nomem, 0);
  }
}

/* Kafka primitives: varint/zigzag vectors, CRC32C vectors, bounded reader (negative and oversized
 * lengths, limits at limit-1/limit/limit+1), writer, headers (byte-exact), framer (every split),
 * tracker, failing allocator. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/kafka.h"
#include "kafka_test_hex.h"
#include "test_alloc.h"

TestSuite(kafka_primitives, .timeout = 30);

typedef struct {
  int64_t v;
  const char *hex;
} vec;

Test(kafka_primitives, zigzag_varint_vectors, .timeout = 60) {
  static const vec v32[] = {{0, "00"},        {-1, "01"},         {1, "02"},
                            {-2, "03"},       {63, "7e"},         {-64, "7f"},
                            {64, "8001"},     {-65, "8101"},      {300, "d804"},
                            {INT32_MAX, "feffffff0f"}, {INT32_MIN, "ffffffff0f"}};
  for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++) {
    asx_buf b;
    asx_buf_init(&b, NULL, 0);
    asx_kafka_writer w;
    asx_kafka_writer_init(&w, &b);
    asx_kafka_write_varint(&w, (int32_t)v32[i].v);
    cr_assert_eq(w.err, 0);
    expect_bytes(&b, v32[i].hex);
    asx_kafka_reader r;
    asx_kafka_reader_init(&r, b.data, b.len, NULL);
    cr_assert_eq(asx_kafka_read_varint(&r, "v"), (int32_t)v32[i].v);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.pos, b.len);
    asx_buf_free(&b);
  }
  static const vec v64[] = {{0, "00"}, {-1, "01"}, {1, "02"}, {INT64_MAX, "feffffffffffffffff01"},
                            {INT64_MIN, "ffffffffffffffffff01"}, {1700000000000, "80a0abfef962"}};
  for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++) {
    asx_buf b;
    asx_buf_init(&b, NULL, 0);
    asx_kafka_writer w;
    asx_kafka_writer_init(&w, &b);
    asx_kafka_write_varlong(&w, v64[i].v);
    expect_bytes(&b, v64[i].hex);
    asx_kafka_reader r;
    asx_kafka_reader_init(&r, b.data, b.len, NULL);
    cr_assert_eq(asx_kafka_read_varlong(&r, "v"), v64[i].v);
    cr_assert_eq(r.err, 0);
    asx_buf_free(&b);
  }
}

Test(kafka_primitives, unsigned_varint_vectors_and_malformed, .timeout = 60) {
  uint8_t buf[16];
  size_t n = unhex("ac02", buf);
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, buf, n, NULL);
  cr_assert_eq(asx_kafka_read_uvarint(&r, "u"), 300u);
  n = unhex("ffffffff0f", buf);
  asx_kafka_reader_init(&r, buf, n, NULL);
  cr_assert_eq(asx_kafka_read_uvarint(&r, "u"), UINT32_MAX);
  cr_assert_eq(r.err, 0);
  /* 33 significant bits, six bytes, truncated: all errors, never a silent wrap. */
  const char *bad[] = {"ffffffff1f", "808080808001", "80", "ff"};
  for (size_t i = 0; i < 4; i++) {
    n = unhex(bad[i], buf);
    asx_kafka_reader_init(&r, buf, n, NULL);
    asx_kafka_read_uvarint(&r, "bad");
    cr_assert_eq(r.err, ASX_EPROTO, "%s", bad[i]);
    cr_assert_str_eq(r.err_field, "bad");
  }
  n = unhex("ffffffffffffffffff03", buf); /* 65 bits */
  asx_kafka_reader_init(&r, buf, n, NULL);
  asx_kafka_read_varlong(&r, "bad");
  cr_assert_eq(r.err, ASX_EPROTO);
}

Test(kafka_primitives, crc32c_known_vectors, .timeout = 60) {
  cr_assert_eq(asx_kafka_crc32c(0, "123456789", 9), 0xE3069283u);
  cr_assert_eq(asx_kafka_crc32c(0, "", 0), 0u);
  uint8_t zeros[32], ones[32], inc[32];
  memset(zeros, 0, 32);
  memset(ones, 0xff, 32);
  for (int i = 0; i < 32; i++) inc[i] = (uint8_t)i;
  /* RFC 3720 (iSCSI) appendix B.4 vectors. */
  cr_assert_eq(asx_kafka_crc32c(0, zeros, 32), 0x8A9136AAu);
  cr_assert_eq(asx_kafka_crc32c(0, ones, 32), 0x62A8AB43u);
  cr_assert_eq(asx_kafka_crc32c(0, inc, 32), 0x46DD794Eu);
  /* Continuation equals one pass. */
  cr_assert_eq(asx_kafka_crc32c(asx_kafka_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

Test(kafka_primitives, fixed_width_and_sticky_error, .timeout = 60) {
  uint8_t buf[] = {0x80, 0x00, 0xff, 0xff, 0xff, 0xfe, 0x01};
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, buf, sizeof buf, NULL);
  cr_assert_eq(asx_kafka_read_int16(&r, "a"), INT16_MIN);
  cr_assert_eq(asx_kafka_read_int32(&r, "b"), -2);
  cr_assert_eq(asx_kafka_read_bool(&r, "c"), true);
  cr_assert_eq(asx_kafka_read_int8(&r, "d"), 0);
  cr_assert_eq(r.err, ASX_EPROTO);
  cr_assert_str_eq(r.err_field, "d");
  size_t pos = r.pos;
  cr_assert_eq(asx_kafka_read_int64(&r, "e"), 0);
  cr_assert_eq(r.pos, pos, "no progress after an error");
  cr_assert_str_eq(r.err_field, "d", "first error wins");
  uint8_t two = 2;
  asx_kafka_reader_init(&r, &two, 1, NULL);
  asx_kafka_read_bool(&r, "flag");
  cr_assert_eq(r.err, ASX_EPROTO);
}

Test(kafka_primitives, negative_and_oversized_lengths_are_errors, .timeout = 60) {
  struct {
    const char *hex;
    int kind; /* 0 string, 1 nullable string, 2 bytes, 3 compact string, 4 array */
    int err;
  } cases[] = {
      {"fffe", 0, ASX_EPROTO},            /* int16 length -2 */
      {"ffff", 0, ASX_EPROTO},            /* null where not nullable */
      {"0005616263", 0, ASX_EPROTO},      /* length beyond input */
      {"fffffffe", 2, ASX_EPROTO},        /* int32 length -2 */
      {"7fffffff00", 2, ASX_EPROTO},      /* 2 GiB claimed, 1 byte present */
      {"00", 3, ASX_EPROTO},              /* compact null where not nullable */
      {"ffffffff0f", 3, ASX_EPROTO},      /* compact length 2^32-2 */
      {"fffffffe", 4, ASX_EPROTO},        /* array -2 */
      {"7fffffff", 4, ASX_ELIMIT},        /* array over max_array_elements */
      {"000f4240", 4, ASX_EPROTO},        /* 1e6 elements, no bytes for them */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[32];
    size_t n = unhex(cases[i].hex, buf);
    asx_kafka_reader r;
    asx_kafka_reader_init(&r, buf, n, NULL);
    switch (cases[i].kind) {
      case 0: asx_kafka_read_string(&r, false, false, "s"); break;
      case 1: asx_kafka_read_string(&r, false, true, "s"); break;
      case 2: asx_kafka_read_bytes(&r, false, true, "s"); break;
      case 3: asx_kafka_read_string(&r, true, false, "s"); break;
      case 4: asx_kafka_read_array_len(&r, false, false, 1, "s"); break;
    }
    cr_assert_eq(r.err, cases[i].err, "case %zu (%s): %d", i, cases[i].hex, r.err);
  }
  uint8_t nul[] = {0xff, 0xff};
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, nul, 2, NULL);
  asx_kafka_str s = asx_kafka_read_string(&r, false, true, "s");
  cr_assert_eq(r.err, 0);
  cr_assert_eq(s.len, -1);
  cr_assert_null(s.ptr);
}

/* Writes a string of length n (classic) and reads it with max_string_length = lim. */
static int read_string_of(size_t n, uint32_t lim, bool compact) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, &b);
  char s[64];
  memset(s, 'x', n);
  s[n] = 0;
  asx_kafka_write_string(&w, compact, false, s);
  asx_kafka_limits l = asx_kafka_limits_default();
  l.max_string_length = lim;
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, b.data, b.len, &l);
  asx_kafka_str got = asx_kafka_read_string(&r, compact, false, "name");
  if (!r.err) cr_assert_eq(got.len, (int32_t)n);
  asx_buf_free(&b);
  return r.err;
}

Test(kafka_primitives, string_limit_boundaries, .timeout = 60) {
  for (int c = 0; c < 2; c++) {
    cr_assert_eq(read_string_of(19, 20, c), 0);
    cr_assert_eq(read_string_of(20, 20, c), 0);
    cr_assert_eq(read_string_of(21, 20, c), ASX_ELIMIT);
  }
}

static int read_array_of(int32_t n, uint32_t lim) {
  uint8_t buf[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
  asx_kafka_limits l = asx_kafka_limits_default();
  l.max_array_elements = lim;
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, buf, 4, &l);
  asx_kafka_read_array_len(&r, false, false, 0, "arr");
  return r.err;
}

Test(kafka_primitives, array_limit_boundaries, .timeout = 60) {
  cr_assert_eq(read_array_of(99, 100), 0);
  cr_assert_eq(read_array_of(100, 100), 0);
  cr_assert_eq(read_array_of(101, 100), ASX_ELIMIT);
}

static int read_tags(uint32_t count, uint32_t lim) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, &b);
  asx_kafka_write_uvarint(&w, count);
  for (uint32_t i = 0; i < count; i++) {
    asx_kafka_write_uvarint(&w, i * 3);        /* ascending tags */
    asx_kafka_write_uvarint(&w, 2);            /* size */
    asx_kafka_write_raw(&w, "zz", 2);          /* skipped payload */
  }
  asx_kafka_write_int8(&w, 42);
  asx_kafka_limits l = asx_kafka_limits_default();
  l.max_tagged_fields = lim;
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, b.data, b.len, &l);
  asx_kafka_read_tagged_fields(&r, "tags");
  if (!r.err) cr_assert_eq(asx_kafka_read_int8(&r, "after"), 42, "unknown tags skipped exactly");
  asx_buf_free(&b);
  return r.err;
}

Test(kafka_primitives, tagged_fields_skipped_and_bounded, .timeout = 60) {
  cr_assert_eq(read_tags(0, 5), 0);
  cr_assert_eq(read_tags(4, 5), 0);
  cr_assert_eq(read_tags(5, 5), 0);
  cr_assert_eq(read_tags(6, 5), ASX_ELIMIT);
  uint8_t dup[] = {2, 1, 0, 1, 0}; /* tag 1 twice */
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, dup, sizeof dup, NULL);
  asx_kafka_read_tagged_fields(&r, "tags");
  cr_assert_eq(r.err, ASX_EPROTO);
  uint8_t big[] = {1, 0, 9, 1}; /* tag of size 9 with one byte left */
  asx_kafka_reader_init(&r, big, sizeof big, NULL);
  asx_kafka_read_tagged_fields(&r, "tags");
  cr_assert_eq(r.err, ASX_EPROTO);
}

Test(kafka_primitives, compact_types_and_uuid_round_trip, .timeout = 60) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, &b);
  asx_kafka_write_string(&w, true, true, NULL);
  asx_kafka_write_string(&w, true, false, "");
  asx_kafka_write_bytes(&w, true, true, "ab", 2);
  asx_kafka_write_array_len(&w, true, -1);
  asx_kafka_uuid u;
  for (int i = 0; i < 16; i++) u.b[i] = (uint8_t)(i * 7);
  asx_kafka_write_uuid(&w, &u);
  cr_assert_eq(w.err, 0);
  expect_bytes(&b, "00 01 03 6162 00 00070e151c232a31383f464d545b6269");
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, b.data, b.len, NULL);
  cr_assert_eq(asx_kafka_read_string(&r, true, true, "a").len, -1);
  cr_assert_eq(asx_kafka_read_string(&r, true, false, "b").len, 0);
  asx_kafka_bytes by = asx_kafka_read_bytes(&r, true, true, "c");
  cr_assert_eq(by.len, 2);
  cr_assert_eq(asx_kafka_read_array_len(&r, true, true, 1, "d"), -1);
  asx_kafka_uuid got = asx_kafka_read_uuid(&r, "e");
  cr_assert_eq(memcmp(got.b, u.b, 16), 0);
  cr_assert_eq(r.err, 0);
  cr_assert_eq(r.pos, r.len);
  /* Writer rejects a null where the schema forbids it. */
  asx_kafka_writer_init(&w, &b);
  asx_kafka_write_string(&w, false, false, NULL);
  cr_assert_eq(w.err, ASX_EINVAL);
  asx_buf_free(&b);
}

Test(kafka_primitives, header_versions, .timeout = 60) {
  cr_assert_eq(asx_kafka_request_header_version(ASX_KAFKA_API_VERSIONS, 3), 2);
  cr_assert_eq(asx_kafka_response_header_version(ASX_KAFKA_API_VERSIONS, 3), 0);
  cr_assert_eq(asx_kafka_request_header_version(ASX_KAFKA_METADATA, 8), 1);
  cr_assert_eq(asx_kafka_request_header_version(ASX_KAFKA_METADATA, 9), 2);
  cr_assert_eq(asx_kafka_response_header_version(ASX_KAFKA_METADATA, 9), 1);
  cr_assert_eq(asx_kafka_response_header_version(ASX_KAFKA_FETCH, 11), 0);
  cr_assert_eq(asx_kafka_response_header_version(ASX_KAFKA_FETCH, 12), 1);
  cr_assert_eq(asx_kafka_request_header_version(ASX_KAFKA_FETCH, 17), ASX_EUNSUPPORTED);
  cr_assert_eq(asx_kafka_request_header_version(99, 0), ASX_EUNSUPPORTED);
}

Test(kafka_primitives, request_header_v1_and_v2_byte_exact, .timeout = 60) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  /* ApiVersions v0: header v1 (key 18, version 0, correlation 1, client id "abc"), empty body. */
  asx_kafka_request_header h = {ASX_KAFKA_API_VERSIONS, 0, 1, "abc"};
  cr_assert_eq(asx_kafka_encode_api_versions_request(&b, &h, NULL), 0);
  expect_bytes(&b, "0000000d 0012 0000 00000001 0003616263");
  asx_buf_reset(&b);
  /* Null client id: int16 -1. */
  h.client_id = NULL;
  cr_assert_eq(asx_kafka_encode_api_versions_request(&b, &h, NULL), 0);
  expect_bytes(&b, "0000000a 0012 0000 00000001 ffff");
  asx_buf_reset(&b);
  /* ApiVersions v3: header v2 (client id stays int16-length, then empty tags), compact strings. */
  h = (asx_kafka_request_header){ASX_KAFKA_API_VERSIONS, 3, 7, "abc"};
  asx_kafka_api_versions_request req = {"asx", "0.1.0"};
  cr_assert_eq(asx_kafka_encode_api_versions_request(&b, &h, &req), 0);
  expect_bytes(&b, "00000019 0012 0003 00000007 0003616263 00 04617378 06302e312e30 00");
  /* Unsupported versions leave the buffer unchanged. */
  size_t len = b.len;
  h.api_version = 4;
  cr_assert_eq(asx_kafka_encode_api_versions_request(&b, &h, &req), ASX_EUNSUPPORTED);
  cr_assert_eq(b.len, len);
  asx_buf_free(&b);
}

Test(kafka_primitives, response_header_decode, .timeout = 60) {
  uint8_t v0[] = {0, 0, 0, 9, 0xaa};
  int32_t id;
  size_t used;
  cr_assert_eq(asx_kafka_response_header_decode(v0, sizeof v0, 0, &id, &used), 0);
  cr_assert_eq(id, 9);
  cr_assert_eq(used, 4);
  uint8_t v1[] = {0, 0, 0, 9, 1, 5, 1, 0xee, 0xaa}; /* one unknown tag (5) of 1 byte */
  cr_assert_eq(asx_kafka_response_header_decode(v1, sizeof v1, 1, &id, &used), 0);
  cr_assert_eq(used, 8);
  cr_assert_eq(asx_kafka_response_header_decode(v1, 3, 0, &id, &used), ASX_EPROTO);
  cr_assert_eq(asx_kafka_response_header_decode(v1, 4, 1, &id, &used), ASX_EPROTO);
}

Test(kafka_primitives, tracker_ids_and_unknown, .timeout = 60) {
  asx_kafka_tracker *t;
  cr_assert_eq(asx_kafka_tracker_new(&t, 2, NULL), 0);
  int32_t a, b, c;
  cr_assert_eq(asx_kafka_tracker_begin(t, ASX_KAFKA_METADATA, 9, &a), 0);
  cr_assert_eq(asx_kafka_tracker_begin(t, ASX_KAFKA_FETCH, 11, &b), 0);
  cr_assert_neq(a, b);
  cr_assert_eq(asx_kafka_tracker_begin(t, ASX_KAFKA_FETCH, 11, &c), ASX_ELIMIT);
  cr_assert_eq(asx_kafka_tracker_begin(t, ASX_KAFKA_FETCH, 99, &c), ASX_EUNSUPPORTED);
  int16_t key, ver;
  cr_assert_eq(asx_kafka_tracker_complete(t, b, &key, &ver), 0);
  cr_assert_eq(key, ASX_KAFKA_FETCH);
  cr_assert_eq(ver, 11);
  cr_assert_eq(asx_kafka_tracker_complete(t, b, &key, &ver), ASX_ENOTFOUND);
  cr_assert_eq(asx_kafka_tracker_complete(t, 12345, &key, &ver), ASX_ENOTFOUND);
  cr_assert_eq(asx_kafka_tracker_pending(t), 1);
  cr_assert_eq(asx_kafka_tracker_complete(t, a, &key, &ver), 0);
  cr_assert_eq(key, ASX_KAFKA_METADATA);
  cr_assert_eq(asx_kafka_tracker_pending(t), 0);
  asx_kafka_tracker_free(t);
}

/* A stream of three frames (one empty) split into two chunks at every offset must yield the same
 * frames as the whole stream. */
Test(kafka_primitives, framer_every_split, .timeout = 60) {
  uint8_t stream[64];
  size_t n = unhex("00000005 0102030405 00000000 00000003 aabbcc", stream);
  const size_t want_len[3] = {5, 0, 3};
  for (size_t split = 0; split <= n; split++) {
    asx_kafka_framer *f;
    cr_assert_eq(asx_kafka_framer_new(&f, 16, NULL), 0);
    const uint8_t *chunks[2] = {stream, stream + split};
    size_t lens[2] = {split, n - split};
    size_t frames = 0;
    for (int c = 0; c < 2; c++) {
      size_t off = 0;
      while (off < lens[c]) {
        size_t used;
        int rc = asx_kafka_framer_feed(f, chunks[c] + off, lens[c] - off, &used);
        off += used;
        if (rc == ASX_EAGAIN) {
          cr_assert_eq(off, lens[c]);
          break;
        }
        cr_assert_eq(rc, 0);
        const uint8_t *body;
        size_t blen;
        cr_assert_eq(asx_kafka_framer_frame(f, &body, &blen), 0);
        cr_assert_lt(frames, 3);
        cr_assert_eq(blen, want_len[frames], "split %zu frame %zu", split, frames);
        if (frames == 0) cr_assert_eq(memcmp(body, "\1\2\3\4\5", 5), 0);
        if (frames == 2) cr_assert_eq(memcmp(body, "\xaa\xbb\xcc", 3), 0);
        frames++;
        asx_kafka_framer_next(f);
      }
    }
    cr_assert_eq(frames, 3, "split %zu", split);
    asx_kafka_framer_free(f);
  }
}

static int frame_of_size(int32_t size, size_t max) {
  asx_kafka_framer *f;
  cr_assert_eq(asx_kafka_framer_new(&f, max, NULL), 0);
  uint8_t hdr[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8), (uint8_t)size};
  size_t used;
  int rc = asx_kafka_framer_feed(f, hdr, 4, &used);
  asx_kafka_framer_free(f);
  return rc;
}

Test(kafka_primitives, framer_limits_and_negative_size, .timeout = 60) {
  cr_assert_eq(frame_of_size(99, 100), ASX_EAGAIN);
  cr_assert_eq(frame_of_size(100, 100), ASX_EAGAIN);
  cr_assert_eq(frame_of_size(101, 100), ASX_ELIMIT);
  cr_assert_eq(frame_of_size(-1, 100), ASX_EPROTO);
  cr_assert_eq(frame_of_size(INT32_MIN, 100), ASX_EPROTO);
  /* The default limit is 100 MiB. */
  cr_assert_eq(frame_of_size((100 << 20) + 1, 0), ASX_ELIMIT);
}

Test(kafka_primitives, framer_and_tracker_failing_allocator, .timeout = 60) {
  uint8_t stream[] = {0, 0, 0, 3, 7, 8, 9};
  for (long fail = 0;; fail++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, fail);
    asx_kafka_framer *f = NULL;
    int rc = asx_kafka_framer_new(&f, 0, &ta.base);
    if (rc) {
      cr_assert_eq(rc, ASX_ENOMEM);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    size_t used;
    rc = asx_kafka_framer_feed(f, stream, sizeof stream, &used);
    if (rc == ASX_ENOMEM) {
      /* Nothing accepted is lost: feeding the rest again completes the frame. */
      test_alloc_fail_after(&ta, -1);
      size_t used2;
      cr_assert_eq(asx_kafka_framer_feed(f, stream + used, sizeof stream - used, &used2), 0);
      cr_assert_eq(used + used2, sizeof stream);
    } else {
      cr_assert_eq(rc, 0);
    }
    const uint8_t *body;
    size_t len;
    cr_assert_eq(asx_kafka_framer_frame(f, &body, &len), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq(body[2], 9);
    asx_kafka_framer_free(f);
    cr_assert_eq(ta.live, 0);
    if (ta.failures == 0) break;
  }
  for (long fail = 0;; fail++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, fail);
    asx_kafka_tracker *t = NULL;
    int rc = asx_kafka_tracker_new(&t, 4, &ta.base);
    cr_assert(rc == 0 || rc == ASX_ENOMEM);
    asx_kafka_tracker_free(t);
    cr_assert_eq(ta.live, 0);
    if (rc == 0) break;
  }
}

/* Request encoders: byte-exact encodings against bytes computed by hand from the protocol guide
 * (every Metadata layout, the other APIs at representative versions), argument errors that leave
 * the buffer unchanged, and a failing allocator over encoding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/kafka.h"
#include "kafka_test_hex.h"
#include "test_alloc.h"

TestSuite(kafka_requests, .timeout = 60);

Test(kafka_requests, metadata_request_bytes_every_layout, .timeout = 60) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  const char *topics[] = {"t1"};
  asx_kafka_metadata_request one = {topics, 1, true, false, false};
  asx_kafka_metadata_request all = {NULL, -1, false, false, false};
  struct {
    int16_t v;
    const asx_kafka_metadata_request *req;
    const char *hex;
  } cases[] = {
      {0, &all, "0000000f 0003 0000 00000005 000163 00000000"},
      {1, &all, "0000000f 0003 0001 00000005 000163 ffffffff"},
      {1, &one, "00000013 0003 0001 00000005 000163 00000001 00027431"},
      {4, &one, "00000014 0003 0004 00000005 000163 00000001 00027431 01"},
      {8, &one, "00000016 0003 0008 00000005 000163 00000001 00027431 01 00 00"},
      {9, &one, "00000015 0003 0009 00000005 000163 00 02 037431 00 01 00 00 00"},
      {10, &one, "00000025 0003 000a 00000005 000163 00 02 00000000000000000000000000000000 037431 00 01 00 00 00"},
      {11, &one, "00000024 0003 000b 00000005 000163 00 02 00000000000000000000000000000000 037431 00 01 00 00"},
      {12, &all, "00000010 0003 000c 00000005 000163 00 00 00 00 00"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    asx_buf_reset(&b);
    asx_kafka_request_header h = {0, cases[i].v, 5, "c"};
    cr_assert_eq(asx_kafka_encode_metadata_request(&b, &h, cases[i].req), 0);
    expect_bytes(&b, cases[i].hex);
  }
  asx_buf_free(&b);
}

Test(kafka_requests, other_request_bytes, .timeout = 60) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_kafka_request_header h = {0, 0, 1, NULL};

  asx_kafka_find_coordinator_request fc = {"g", 1, NULL, 0};
  cr_assert_eq(asx_kafka_encode_find_coordinator_request(&b, &h, &fc), 0);
  expect_bytes(&b, "0000000d 000a 0000 00000001 ffff 000167");
  asx_buf_reset(&b);
  h.api_version = 3;
  cr_assert_eq(asx_kafka_encode_find_coordinator_request(&b, &h, &fc), 0);
  expect_bytes(&b, "0000000f 000a 0003 00000001 ffff 00 0267 01 00");
  asx_buf_reset(&b);
  /* v4: key type, then a compact array of keys (the single key becomes a one-element array). */
  h.api_version = 4;
  cr_assert_eq(asx_kafka_encode_find_coordinator_request(&b, &h, &fc), 0);
  expect_bytes(&b, "00000010 000a 0004 00000001 ffff 00 01 02 0267 00");
  asx_buf_reset(&b);
  const char *keys[] = {"g1", "g2"};
  asx_kafka_find_coordinator_request fc2 = {NULL, 0, keys, 2};
  h.api_version = 6;
  cr_assert_eq(asx_kafka_encode_find_coordinator_request(&b, &h, &fc2), 0);
  expect_bytes(&b, "00000014 000a 0006 00000001 ffff 00 00 03 036731 036732 00");
  asx_buf_reset(&b);

  uint8_t rec[3] = {'a', 'b', 'c'};
  asx_kafka_produce_partition pp = {2, rec, 3};
  asx_kafka_produce_topic pt = {"t", &pp, 1};
  asx_kafka_produce_request pr = {NULL, -1, 5000, &pt, 1};
  h.api_version = 3;
  cr_assert_eq(asx_kafka_encode_produce_request(&b, &h, &pr), 0);
  expect_bytes(&b, "00000028 0000 0003 00000001 ffff ffff ffff 00001388 00000001 000174 00000001 "
                   "00000002 00000003 616263");
  asx_buf_reset(&b);
  h.api_version = 9;
  cr_assert_eq(asx_kafka_encode_produce_request(&b, &h, &pr), 0);
  expect_bytes(&b, "00000021 0000 0009 00000001 ffff 00 00 ffff 00001388 02 0274 02 00000002 04616263 00 00 00");
  asx_buf_reset(&b);

  asx_kafka_fetch_partition fp = {0, -1, 5, -1, -1, 65536};
  asx_kafka_fetch_topic ft = {"t", &fp, 1, {{0}}};
  asx_kafka_fetch_request fq;
  memset(&fq, 0, sizeof fq);
  fq.replica_id = -1;
  fq.max_wait_ms = 100;
  fq.min_bytes = 1;
  fq.max_bytes = 1 << 20;
  fq.topics = &ft;
  fq.topic_count = 1;
  h.api_version = 4;
  cr_assert_eq(asx_kafka_encode_fetch_request(&b, &h, &fq), 0);
  expect_bytes(&b, "00000036 0001 0004 00000001 ffff ffffffff 00000064 00000001 00100000 00 "
                   "00000001 000174 00000001 00000000 0000000000000005 00010000");
  asx_buf_reset(&b);

  /* v15: no replica_id, topic id instead of name, flexible everything. */
  fq.topics = &ft;
  for (int i = 0; i < 16; i++) ft.topic_id.b[i] = (uint8_t)i;
  h.api_version = 15;
  cr_assert_eq(asx_kafka_encode_fetch_request(&b, &h, &fq), 0);
  expect_bytes(&b, "00000057 0001 000f 00000001 ffff 00 00000064 00000001 00100000 00 00000000 00000000 "
                   "02 000102030405060708090a0b0c0d0e0f 02 00000000 ffffffff 0000000000000005 ffffffff "
                   "ffffffffffffffff 00010000 00 00 01 01 00");
  asx_buf_reset(&b);

  asx_kafka_list_offsets_partition lp = {0, -1, -2, 1};
  asx_kafka_list_offsets_topic lt = {"t", &lp, 1};
  asx_kafka_list_offsets_request lr = {-1, 0, &lt, 1};
  h.api_version = 0;
  cr_assert_eq(asx_kafka_encode_list_offsets_request(&b, &h, &lr), 0);
  expect_bytes(&b, "00000029 0002 0000 00000001 ffff ffffffff 00000001 000174 00000001 00000000 "
                   "fffffffffffffffe 00000001");
  asx_buf_reset(&b);

  asx_kafka_offset_commit_partition cp = {0, 9, -1, -1, NULL};
  asx_kafka_offset_commit_topic ct = {"t", &cp, 1};
  asx_kafka_offset_commit_request oc = {"g", 1, "m", NULL, -1, &ct, 1};
  h.api_version = 2;
  cr_assert_eq(asx_kafka_encode_offset_commit_request(&b, &h, &oc), 0);
  expect_bytes(&b, "00000035 0008 0002 00000001 ffff 000167 00000001 00016d ffffffffffffffff "
                   "00000001 000174 00000001 00000000 0000000000000009 ffff");
  asx_buf_reset(&b);

  asx_kafka_offset_fetch_request of = {"g", NULL, -1, true, NULL, 0};
  h.api_version = 1;
  cr_assert_eq(asx_kafka_encode_offset_fetch_request(&b, &h, &of), ASX_EINVAL, "all topics needs v2+");
  cr_assert_eq(b.len, 0);
  h.api_version = 7;
  cr_assert_eq(asx_kafka_encode_offset_fetch_request(&b, &h, &of), 0);
  expect_bytes(&b, "00000010 0009 0007 00000001 ffff 00 0267 00 01 00");
  asx_buf_reset(&b);
  /* v8: the single group becomes a one-element groups array. */
  h.api_version = 8;
  cr_assert_eq(asx_kafka_encode_offset_fetch_request(&b, &h, &of), 0);
  expect_bytes(&b, "00000012 0009 0008 00000001 ffff 00 02 0267 00 00 01 00");
  asx_buf_reset(&b);
  /* v9: member id (compact nullable) and epoch per group; topics listed. */
  int32_t parts[] = {0, 1};
  asx_kafka_offset_fetch_topic oft = {"t", parts, 2};
  asx_kafka_offset_fetch_group grp = {"g", "m", 5, &oft, 1};
  asx_kafka_offset_fetch_request of9 = {NULL, NULL, 0, false, &grp, 1};
  h.api_version = 9;
  cr_assert_eq(asx_kafka_encode_offset_fetch_request(&b, &h, &of9), 0);
  expect_bytes(&b, "00000024 0009 0009 00000001 ffff 00 02 0267 026d 00000005 02 0274 03 00000000 00000001 00 00 00 00");
  asx_buf_free(&b);
}

Test(kafka_requests, request_argument_errors_leave_buffer_unchanged, .timeout = 60) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_buf_append(&b, "xyz", 3);
  asx_kafka_request_header h = {0, 1, 1, "c"};
  asx_kafka_metadata_request bad = {NULL, 3, false, false, false}; /* count without items */
  cr_assert_eq(asx_kafka_encode_metadata_request(&b, &h, &bad), ASX_EINVAL);
  cr_assert_eq(b.len, 3);
  asx_kafka_metadata_request neg = {NULL, -2, false, false, false};
  cr_assert_eq(asx_kafka_encode_metadata_request(&b, &h, &neg), ASX_EINVAL);
  cr_assert_eq(b.len, 3);
  h.api_version = 13;
  asx_kafka_metadata_request all = {NULL, -1, false, false, false};
  cr_assert_eq(asx_kafka_encode_metadata_request(&b, &h, &all), ASX_EUNSUPPORTED);
  cr_assert_eq(b.len, 3);
  /* A capped buffer: ASX_ELIMIT, and still unchanged. */
  asx_buf small;
  asx_buf_init(&small, NULL, 10);
  h.api_version = 1;
  cr_assert_eq(asx_kafka_encode_metadata_request(&small, &h, &all), ASX_ELIMIT);
  cr_assert_eq(small.len, 0);
  asx_buf_free(&small);
  asx_buf_free(&b);
}

/* Encoders allocate only through the caller's buffer: at every failure point they report
 * ASX_ENOMEM and leave what the buffer already held intact. */
Test(kafka_requests, failing_allocator_over_request_encoding, .timeout = 60) {
  const char *topics[] = {"alpha", "beta", "gamma"};
  asx_kafka_metadata_request mr = {topics, 3, true, false, true};
  asx_buf ref;
  asx_buf_init(&ref, NULL, 0);
  asx_kafka_request_header h = {0, 9, 77, "client"};
  cr_assert_eq(asx_kafka_encode_metadata_request(&ref, &h, &mr), 0);
  for (long fail = 0;; fail++) {
    test_alloc ta;
    test_alloc_init(&ta);
    asx_buf b;
    asx_buf_init(&b, &ta.base, 0);
    cr_assert_eq(asx_buf_append(&b, "keep", 4), 0);
    test_alloc_fail_after(&ta, fail);
    int rc = asx_kafka_encode_metadata_request(&b, &h, &mr);
    if (rc == 0) {
      cr_assert_eq(b.len, 4 + ref.len);
      cr_assert_eq(memcmp(b.data + 4, ref.data, ref.len), 0);
    } else {
      cr_assert_eq(rc, ASX_ENOMEM);
      cr_assert_eq(b.len, 4);
      cr_assert_eq(memcmp(b.data, "keep", 4), 0);
    }
    asx_buf_free(&b);
    cr_assert_eq(ta.live, 0);
    if (ta.failures == 0) break;
  }
  asx_buf_free(&ref);
}

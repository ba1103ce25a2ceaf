/* Record batch v2: round trips for every codec (headers, null keys/values, negative deltas),
 * CRC coverage, partial input, malformed records, every limit at limit-1/limit/limit+1, a
 * decompression bomb, and failing allocators on encode and decode. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/kafka.h"
#include "test_alloc.h"

TestSuite(kafka_batch, .timeout = 60);

static asx_kafka_record_header hdrs[2] = {
    {{(const uint8_t *)"content-type", 12}, {(const uint8_t *)"text/plain", 10}},
    {{(const uint8_t *)"empty", 5}, {NULL, -1}},
};

/* n records: varied keys/values/headers; value of record i is `vsize` bytes of 'a'+i. */
static asx_kafka_record *make_records(int n, size_t vsize, uint8_t *valbuf) {
  asx_kafka_record *r = calloc((size_t)n, sizeof *r);
  memset(valbuf, 'v', vsize);
  for (int i = 0; i < n; i++) {
    r[i].attributes = 0;
    r[i].timestamp_delta = i % 3 == 2 ? -5 : i * 1000;
    r[i].offset_delta = i;
    r[i].key = i % 2 ? (asx_kafka_bytes){NULL, -1} : (asx_kafka_bytes){(const uint8_t *)"key", 3};
    r[i].value = i % 4 == 3 ? (asx_kafka_bytes){NULL, -1} : (asx_kafka_bytes){valbuf, (int32_t)vsize};
    r[i].headers = i % 2 ? hdrs : NULL;
    r[i].header_count = i % 2 ? 2 : 0;
  }
  return r;
}

static asx_kafka_record_batch make_batch(const asx_kafka_record *recs, int n, int codec) {
  asx_kafka_record_batch b;
  memset(&b, 0, sizeof b);
  b.base_offset = 1000;
  b.partition_leader_epoch = 7;
  b.attributes = (int16_t)(codec | ASX_KAFKA_ATTR_TRANSACTIONAL);
  b.base_timestamp = 1700000000000;
  b.max_timestamp = 1700000009000;
  b.producer_id = 42;
  b.producer_epoch = 3;
  b.base_sequence = 100;
  b.records = recs;
  b.record_count = n;
  return b;
}

static bool bytes_eq(asx_kafka_bytes a, asx_kafka_bytes b) {
  return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static void assert_same(const asx_kafka_record_batch *want, const asx_kafka_record_batch *got) {
  cr_assert_eq(got->base_offset, want->base_offset);
  cr_assert_eq(got->partition_leader_epoch, want->partition_leader_epoch);
  cr_assert_eq(got->magic, 2);
  cr_assert_eq(got->attributes, want->attributes);
  cr_assert_eq(got->base_timestamp, want->base_timestamp);
  cr_assert_eq(got->max_timestamp, want->max_timestamp);
  cr_assert_eq(got->producer_id, want->producer_id);
  cr_assert_eq(got->producer_epoch, want->producer_epoch);
  cr_assert_eq(got->base_sequence, want->base_sequence);
  cr_assert_eq(got->record_count, want->record_count);
  if (want->record_count)
    cr_assert_eq(got->last_offset_delta, want->records[want->record_count - 1].offset_delta);
  for (int32_t i = 0; i < want->record_count; i++) {
    const asx_kafka_record *a = &want->records[i], *b = &got->records[i];
    cr_assert_eq(b->timestamp_delta, a->timestamp_delta);
    cr_assert_eq(b->offset_delta, a->offset_delta);
    cr_assert(bytes_eq(a->key, b->key), "record %d key", i);
    cr_assert(bytes_eq(a->value, b->value), "record %d value", i);
    cr_assert_eq(b->header_count, a->header_count);
    for (int32_t h = 0; h < a->header_count; h++) {
      cr_assert(bytes_eq(a->headers[h].key, b->headers[h].key));
      cr_assert(bytes_eq(a->headers[h].value, b->headers[h].value));
    }
  }
}

static void round_trip(int codec, int n) {
  uint8_t val[300];
  asx_kafka_record *recs = make_records(n, sizeof val, val);
  asx_kafka_record_batch b = make_batch(recs, n, codec);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
  const char *dir = getenv("ASX_KAFKA_CAPTURE"); /* seeds for fuzz_kafka_record_batch */
  if (dir && n <= 4) {
    char path[512];
    snprintf(path, sizeof path, "%s/../fuzz_kafka_record_batch/built_codec%d_n%d", dir, codec, n);
    FILE *f = fopen(path, "wb");
    if (f) {
      fwrite(out.data, 1, out.len, f);
      fclose(f);
    }
  }
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  asx_kafka_record_batch got;
  size_t used;
  int rc = asx_kafka_record_batch_decode(d, out.data, out.len, &got, &used);
  cr_assert_eq(rc, 0, "codec %d: %s", codec, asx_kafka_decoder_error_message(d));
  cr_assert_eq(used, out.len);
  assert_same(&b, &got);
  if (codec != ASX_KAFKA_CODEC_NONE && n > 4) cr_assert_lt(out.len, (size_t)n * sizeof val / 2, "compressed");
  asx_kafka_decoder_free(d);
  asx_buf_free(&out);
  free(recs);
}

Test(kafka_batch, round_trip_every_codec, .timeout = 60) {
  int codecs[] = {ASX_KAFKA_CODEC_NONE, ASX_KAFKA_CODEC_GZIP, ASX_KAFKA_CODEC_LZ4, ASX_KAFKA_CODEC_ZSTD};
  for (int c = 0; c < 4; c++) {
    round_trip(codecs[c], 0);
    round_trip(codecs[c], 1);
    round_trip(codecs[c], 50);
  }
}

Test(kafka_batch, header_layout_and_crc_span, .timeout = 60) {
  uint8_t val[4];
  asx_kafka_record *recs = make_records(1, sizeof val, val);
  asx_kafka_record_batch b = make_batch(recs, 1, ASX_KAFKA_CODEC_NONE);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
  const uint8_t *p = out.data;
  /* base offset 1000, batch length = total - 12, magic 2 at byte 16, CRC32C over bytes 21.. */
  cr_assert_eq(p[6], 0x03);
  cr_assert_eq(p[7], 0xe8);
  uint32_t blen = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
  cr_assert_eq(blen, out.len - 12);
  cr_assert_eq(p[16], 2);
  uint32_t crc = ((uint32_t)p[17] << 24) | ((uint32_t)p[18] << 16) | ((uint32_t)p[19] << 8) | p[20];
  cr_assert_eq(crc, asx_kafka_crc32c(0, p + 21, out.len - 21));
  /* Record: attributes 1 + ts 1 + offset 1 + key (1+3) + value (1+4) + headers 1 = 13 -> zigzag
   * varint 0x1a, first record at byte 61. */
  cr_assert_eq(p[61], 0x1a);
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  /* Every byte covered by the CRC is protected; the fields before it are not (Kafka's rule). */
  for (size_t i = 21; i < out.len; i++) {
    out.data[i] ^= 0x01;
    asx_kafka_record_batch got;
    size_t used;
    cr_assert_eq(asx_kafka_record_batch_decode(d, out.data, out.len, &got, &used), ASX_ECHECKSUM,
                 "flip at %zu", i);
    out.data[i] ^= 0x01;
  }
  cr_assert(strstr(asx_kafka_decoder_error_message(d), "batch.crc"));
  asx_kafka_decoder_free(d);
  asx_buf_free(&out);
  free(recs);
}

Test(kafka_batch, partial_batches_ask_for_more, .timeout = 60) {
  uint8_t val[20];
  asx_kafka_record *recs = make_records(3, sizeof val, val);
  asx_kafka_record_batch b = make_batch(recs, 3, ASX_KAFKA_CODEC_GZIP);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
  size_t one = out.len;
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0); /* a record set of two */
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  asx_kafka_record_batch got;
  size_t used;
  for (size_t n = 0; n < one; n++)
    cr_assert_eq(asx_kafka_record_batch_decode(d, out.data, n, &got, &used), ASX_EAGAIN, "prefix %zu", n);
  cr_assert_eq(asx_kafka_record_batch_decode(d, out.data, out.len, &got, &used), 0);
  cr_assert_eq(used, one);
  cr_assert_eq(asx_kafka_record_batch_decode(d, out.data + one, out.len - one, &got, &used), 0);
  assert_same(&b, &got);
  asx_kafka_decoder_free(d);
  asx_buf_free(&out);
  free(recs);
}

/* Re-CRCs a hand-modified uncompressed batch. */
static void fix_crc(asx_buf *b) {
  uint32_t crc = asx_kafka_crc32c(0, b->data + 21, b->len - 21);
  b->data[17] = (uint8_t)(crc >> 24);
  b->data[18] = (uint8_t)(crc >> 16);
  b->data[19] = (uint8_t)(crc >> 8);
  b->data[20] = (uint8_t)crc;
}

Test(kafka_batch, malformed_records_rejected, .timeout = 60) {
  uint8_t val[4];
  asx_kafka_record *recs = make_records(2, sizeof val, val);
  asx_kafka_record_batch b = make_batch(recs, 2, ASX_KAFKA_CODEC_NONE);
  asx_buf good;
  asx_buf_init(&good, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&good, &b, NULL), 0);
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  asx_kafka_record_batch got;
  size_t used;
  struct {
    size_t at;
    uint8_t byte;
    int err;
    const char *field;
  } cases[] = {
      {61, 0x01, ASX_EPROTO, "record.length"},      /* record length -1 */
      {61, 0x18, ASX_EPROTO, "record.headers"},     /* length 12 instead of 13: fields overrun */
      {65, 0x05, ASX_EPROTO, "record.key"},         /* key length -3 */
      {16, 0x01, ASX_EUNSUPPORTED, NULL},           /* magic 1 */
      {57, 0xff, ASX_EPROTO, "records_count"},      /* record count negative */
      {60, 0x03, ASX_EPROTO, "record.length"},      /* 3 records, bytes for 2 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    asx_buf bad;
    asx_buf_init(&bad, NULL, 0);
    asx_buf_append(&bad, good.data, good.len);
    bad.data[cases[i].at] = cases[i].byte;
    if (cases[i].at == 57) bad.data[58] = bad.data[59] = bad.data[60] = 0xff;
    fix_crc(&bad);
    int rc = asx_kafka_record_batch_decode(d, bad.data, bad.len, &got, &used);
    cr_assert_eq(rc, cases[i].err, "case %zu: %d (%s)", i, rc, asx_kafka_decoder_error_message(d));
    if (cases[i].field)
      cr_assert(strstr(asx_kafka_decoder_error_message(d), cases[i].field), "case %zu: %s", i,
                asx_kafka_decoder_error_message(d));
    asx_buf_free(&bad);
  }
  /* Trailing garbage inside the batch after the declared records. */
  asx_buf bad;
  asx_buf_init(&bad, NULL, 0);
  asx_buf_append(&bad, good.data, good.len);
  asx_buf_append_byte(&bad, 0);
  uint32_t blen = (uint32_t)bad.len - 12;
  bad.data[8] = (uint8_t)(blen >> 24);
  bad.data[9] = (uint8_t)(blen >> 16);
  bad.data[10] = (uint8_t)(blen >> 8);
  bad.data[11] = (uint8_t)blen;
  fix_crc(&bad);
  cr_assert_eq(asx_kafka_record_batch_decode(d, bad.data, bad.len, &got, &used), ASX_EPROTO);
  asx_buf_free(&bad);
  asx_kafka_decoder_free(d);
  asx_buf_free(&good);
  free(recs);
}

static int decode_with(const asx_buf *b, asx_kafka_limits lim) {
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, &lim, NULL), 0);
  asx_kafka_record_batch got;
  size_t used;
  int rc = asx_kafka_record_batch_decode(d, b->data, b->len, &got, &used);
  if (rc) cr_assert_neq(asx_kafka_decoder_error_message(d)[0], '\0');
  asx_kafka_decoder_free(d);
  return rc;
}

Test(kafka_batch, batch_size_limit_boundaries, .timeout = 60) {
  uint8_t val[100];
  asx_kafka_record *recs = make_records(10, sizeof val, val);
  asx_kafka_record_batch b = make_batch(recs, 10, ASX_KAFKA_CODEC_NONE);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
  asx_kafka_limits lim = asx_kafka_limits_default();
  lim.max_record_batch_size = out.len + 1;
  cr_assert_eq(decode_with(&out, lim), 0);
  lim.max_record_batch_size = out.len;
  cr_assert_eq(decode_with(&out, lim), 0);
  lim.max_record_batch_size = out.len - 1;
  cr_assert_eq(decode_with(&out, lim), ASX_ELIMIT);
  /* Rejected from the 12-byte prefix alone: no waiting for a huge batch to arrive. */
  asx_buf head;
  asx_buf_init(&head, NULL, 0);
  asx_buf_append(&head, out.data, 12);
  cr_assert_eq(decode_with(&head, lim), ASX_ELIMIT);
  asx_buf_free(&head);
  asx_buf_free(&out);
  free(recs);
}

Test(kafka_batch, records_per_batch_limit_boundaries, .timeout = 60) {
  uint8_t val[1];
  asx_kafka_record *recs = make_records(20, sizeof val, val);
  asx_kafka_record_batch b = make_batch(recs, 20, ASX_KAFKA_CODEC_NONE);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
  asx_kafka_limits lim = asx_kafka_limits_default();
  lim.max_records_per_batch = 21;
  cr_assert_eq(decode_with(&out, lim), 0);
  lim.max_records_per_batch = 20;
  cr_assert_eq(decode_with(&out, lim), 0);
  lim.max_records_per_batch = 19;
  cr_assert_eq(decode_with(&out, lim), ASX_ELIMIT);
  asx_buf_free(&out);
  free(recs);
}

Test(kafka_batch, headers_per_record_limit_boundaries, .timeout = 60) {
  asx_kafka_record_header many[5];
  for (int i = 0; i < 5; i++) many[i] = hdrs[0];
  asx_kafka_record rec;
  memset(&rec, 0, sizeof rec);
  rec.key = rec.value = (asx_kafka_bytes){NULL, -1};
  rec.headers = many;
  rec.header_count = 5;
  asx_kafka_record_batch b = make_batch(&rec, 1, ASX_KAFKA_CODEC_NONE);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
  asx_kafka_limits lim = asx_kafka_limits_default();
  lim.max_headers_per_record = 6;
  cr_assert_eq(decode_with(&out, lim), 0);
  lim.max_headers_per_record = 5;
  cr_assert_eq(decode_with(&out, lim), 0);
  lim.max_headers_per_record = 4;
  cr_assert_eq(decode_with(&out, lim), ASX_ELIMIT);
  asx_buf_free(&out);
}

/* Decompressed size is capped by max_record_batch_size: exactly at the cap decodes, one byte over
 * is ASX_ELIMIT, for every codec. A 2 MiB run of zeros (a bomb of a few KiB) is refused. */
Test(kafka_batch, decompression_limit_and_bomb, .timeout = 60) {
  static uint8_t big[2 << 20];
  int codecs[] = {ASX_KAFKA_CODEC_GZIP, ASX_KAFKA_CODEC_LZ4, ASX_KAFKA_CODEC_ZSTD};
  for (int c = 0; c < 3; c++) {
    asx_kafka_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (asx_kafka_bytes){NULL, -1};
    rec.value = (asx_kafka_bytes){big, 4000};
    asx_kafka_record_batch b = make_batch(&rec, 1, ASX_KAFKA_CODEC_NONE);
    asx_buf plain;
    asx_buf_init(&plain, NULL, 0);
    cr_assert_eq(asx_kafka_record_batch_encode(&plain, &b, NULL), 0);
    size_t payload = plain.len - 61; /* uncompressed records bytes */
    b.attributes = (int16_t)codecs[c];
    asx_buf packed;
    asx_buf_init(&packed, NULL, 0);
    cr_assert_eq(asx_kafka_record_batch_encode(&packed, &b, NULL), 0);
    cr_assert_lt(packed.len, 1000);
    asx_kafka_limits lim = asx_kafka_limits_default();
    lim.max_record_batch_size = payload + 1;
    cr_assert_eq(decode_with(&packed, lim), 0);
    lim.max_record_batch_size = payload;
    cr_assert_eq(decode_with(&packed, lim), 0, "codec %d at the limit", codecs[c]);
    lim.max_record_batch_size = payload - 1;
    cr_assert_eq(decode_with(&packed, lim), ASX_ELIMIT, "codec %d over the limit", codecs[c]);

    rec.value = (asx_kafka_bytes){big, (int32_t)sizeof big};
    asx_buf bomb;
    asx_buf_init(&bomb, NULL, 0);
    cr_assert_eq(asx_kafka_record_batch_encode(&bomb, &b, NULL), 0);
    cr_assert_lt(bomb.len, 64 * 1024);
    cr_assert_eq(decode_with(&bomb, asx_kafka_limits_default()), ASX_ELIMIT);
    asx_buf_free(&bomb);
    asx_buf_free(&packed);
    asx_buf_free(&plain);
  }
}

Test(kafka_batch, corrupt_compressed_payload, .timeout = 60) {
  uint8_t val[200];
  asx_kafka_record *recs = make_records(5, sizeof val, val);
  int codecs[] = {ASX_KAFKA_CODEC_GZIP, ASX_KAFKA_CODEC_LZ4, ASX_KAFKA_CODEC_ZSTD};
  for (int c = 0; c < 3; c++) {
    asx_kafka_record_batch b = make_batch(recs, 5, codecs[c]);
    asx_buf out;
    asx_buf_init(&out, NULL, 0);
    cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), 0);
    /* Truncate the compressed stream (and fix length + CRC): must be an error, never a crash. */
    out.len -= 6;
    uint32_t blen = (uint32_t)out.len - 12;
    out.data[8] = (uint8_t)(blen >> 24);
    out.data[9] = (uint8_t)(blen >> 16);
    out.data[10] = (uint8_t)(blen >> 8);
    out.data[11] = (uint8_t)blen;
    fix_crc(&out);
    int rc = decode_with(&out, asx_kafka_limits_default());
    cr_assert(rc == ASX_EDECOMPRESS || rc == ASX_EPROTO, "codec %d: %d", codecs[c], rc);
    asx_buf_free(&out);
  }
  asx_kafka_record_batch b = make_batch(recs, 5, ASX_KAFKA_CODEC_SNAPPY);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&out, &b, NULL), ASX_EUNSUPPORTED);
  cr_assert_eq(out.len, 0);
  asx_buf_free(&out);
  free(recs);
}

Test(kafka_batch, failing_allocator_encode_and_decode, .timeout = 60) {
  uint8_t val[64];
  asx_kafka_record *recs = make_records(8, sizeof val, val);
  int codecs[] = {ASX_KAFKA_CODEC_NONE, ASX_KAFKA_CODEC_GZIP};
  for (int c = 0; c < 2; c++) {
    asx_kafka_record_batch b = make_batch(recs, 8, codecs[c]);
    asx_buf ref;
    asx_buf_init(&ref, NULL, 0);
    cr_assert_eq(asx_kafka_record_batch_encode(&ref, &b, NULL), 0);
    for (long fail = 0;; fail++) {
      test_alloc ta;
      test_alloc_init(&ta);
      test_alloc_fail_after(&ta, fail);
      asx_buf out;
      asx_buf_init(&out, &ta.base, 0);
      int rc = asx_kafka_record_batch_encode(&out, &b, &ta.base);
      if (rc == 0) {
        cr_assert_eq(out.len, ref.len);
        cr_assert_eq(memcmp(out.data, ref.data, ref.len), 0);
      } else {
        cr_assert_eq(rc, ASX_ENOMEM, "fail at %ld: %d", fail, rc);
        cr_assert_eq(out.len, 0);
      }
      asx_buf_free(&out);
      cr_assert_eq(ta.live, 0, "leak at %ld", fail);
      if (ta.failures == 0) break;
    }
    for (long fail = 0;; fail++) {
      test_alloc ta;
      test_alloc_init(&ta);
      test_alloc_fail_after(&ta, fail);
      asx_kafka_decoder *d = NULL;
      int rc = asx_kafka_decoder_new(&d, NULL, &ta.base);
      if (rc == 0) {
        asx_kafka_record_batch got;
        size_t used;
        rc = asx_kafka_record_batch_decode(d, ref.data, ref.len, &got, &used);
        if (rc == 0) assert_same(&b, &got);
        else cr_assert_eq(rc, ASX_ENOMEM, "fail at %ld: %d %s", fail, rc,
                          asx_kafka_decoder_error_message(d));
        /* The decoder stays usable: reset and decode again without failures. */
        asx_kafka_decoder_reset(d);
        test_alloc_fail_after(&ta, -1);
        cr_assert_eq(asx_kafka_record_batch_decode(d, ref.data, ref.len, &got, &used), 0);
        asx_kafka_decoder_free(d);
      } else {
        cr_assert_eq(rc, ASX_ENOMEM);
      }
      cr_assert_eq(ta.live, 0, "leak at %ld", fail);
      if (fail > 0 && ta.failures == 0) break;
    }
    asx_buf_free(&ref);
  }
  free(recs);
}

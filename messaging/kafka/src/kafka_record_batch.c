/* Record batch v2 (magic 2): decode with CRC32C verification, bounded decompression and strict
 * record framing; encode with computed length, CRC and optional compression. */
#include <string.h>

#include "kafka_internal.h"

/* Bytes from partition_leader_epoch (just after batch_length) through the record count. */
#define BATCH_FIXED_AFTER_LENGTH 49
#define BATCH_LOG_OVERHEAD 12 /* base_offset + batch_length */
#define CRC_START 21          /* attributes start: the CRC covers from here to the end */
#define MIN_RECORD_SIZE 7     /* length, attributes, ts delta, offset delta, key, value, headers */

/* Varint-length bytes as used inside records: -1 is null (if allowed). */
static asx_kafka_bytes read_var_bytes(asx_kafka_reader *r, bool nullable, const char *field) {
  asx_kafka_bytes b = {NULL, -1};
  int32_t n = asx_kafka_read_varint(r, field);
  if (r->err) {
    b.len = 0;
    return b;
  }
  if (n == -1 && nullable) return b;
  if (n < 0) {
    asx_kafka_reader_fail(r, ASX_EPROTO, field, n == -1 ? "null in a non-nullable field"
                                                        : "negative length");
    b.len = 0;
    return b;
  }
  b.ptr = asx_kafka_read_raw(r, (size_t)n, field);
  b.len = r->err ? 0 : n;
  return b;
}

static void decode_record(asx_kafka_decoder *d, asx_kafka_reader *outer, asx_kafka_record *rec) {
  int32_t length = asx_kafka_read_varint(outer, "record.length");
  if (outer->err) return;
  if (length < MIN_RECORD_SIZE - 1) {
    asx_kafka_reader_fail(outer, ASX_EPROTO, "record.length", "record shorter than its fields");
    return;
  }
  const uint8_t *body = asx_kafka_read_raw(outer, (size_t)length, "record.length");
  if (!body) return;
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, body, (size_t)length, outer->limits);
  rec->attributes = asx_kafka_read_int8(&r, "record.attributes");
  rec->timestamp_delta = asx_kafka_read_varlong(&r, "record.timestamp_delta");
  rec->offset_delta = asx_kafka_read_varint(&r, "record.offset_delta");
  rec->key = read_var_bytes(&r, true, "record.key");
  rec->value = read_var_bytes(&r, true, "record.value");
  int32_t nh = asx_kafka_read_varint(&r, "record.headers");
  if (!r.err) {
    if (nh < 0)
      asx_kafka_reader_fail(&r, ASX_EPROTO, "record.headers", "negative header count");
    else if ((uint32_t)nh > r.limits->max_headers_per_record)
      asx_kafka_reader_fail(&r, ASX_ELIMIT, "record.headers", "more than max_headers_per_record");
    else if ((size_t)nh > (r.len - r.pos) / 2) /* each header needs two length bytes */
      asx_kafka_reader_fail(&r, ASX_EPROTO, "record.headers", "header count exceeds the record");
  }
  asx_kafka_record_header *hs =
      asx_kafka_arena_array(d, &r, r.err ? 0 : nh, sizeof *hs, "record.headers");
  for (int32_t i = 0; i < nh && !r.err; i++) {
    hs[i].key = read_var_bytes(&r, false, "record.header.key");
    hs[i].value = read_var_bytes(&r, true, "record.header.value");
  }
  if (!r.err && r.pos != r.len)
    asx_kafka_reader_fail(&r, ASX_EPROTO, "record.length", "record length does not match its fields");
  if (r.err) {
    asx_kafka_reader_fail(outer, r.err, r.err_field, r.err_reason);
    return;
  }
  rec->headers = hs;
  rec->header_count = nh;
}

int asx_kafka_record_batch_decode(asx_kafka_decoder *d, const uint8_t *data, size_t len,
                                  asx_kafka_record_batch *out, size_t *consumed) {
  if (!d || !out || (!data && len)) return ASX_EINVAL;
  if (consumed) *consumed = 0;
  memset(out, 0, sizeof *out);
  const asx_kafka_limits *lim = asx_kafka_decoder_limits(d);
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, data, len, lim);
  if (len < BATCH_LOG_OVERHEAD)
    return asx_kafka_decoder_set_error(d, ASX_EAGAIN, "record batch: partial batch header");
  out->base_offset = asx_kafka_read_int64(&r, "batch.base_offset");
  out->batch_length = asx_kafka_read_int32(&r, "batch.batch_length");
  if (out->batch_length < 0)
    return asx_kafka_decoder_set_error(d, ASX_EPROTO, "batch.batch_length: negative length");
  /* Checked before waiting for the rest, so a huge declared length fails at once. */
  if ((size_t)out->batch_length + BATCH_LOG_OVERHEAD > lim->max_record_batch_size)
    return asx_kafka_decoder_set_error(d, ASX_ELIMIT,
                                       "batch.batch_length: %d exceeds max_record_batch_size %zu",
                                       out->batch_length, lim->max_record_batch_size);
  if (len > 16 && data[16] != 2)
    return asx_kafka_decoder_set_error(d, ASX_EUNSUPPORTED, "batch.magic: %d (only 2 supported)",
                                       (int8_t)data[16]);
  if (out->batch_length < BATCH_FIXED_AFTER_LENGTH)
    return asx_kafka_decoder_set_error(d, ASX_EPROTO, "batch.batch_length: %d is too short",
                                       out->batch_length);
  size_t total = BATCH_LOG_OVERHEAD + (size_t)out->batch_length;
  if (len < total) return asx_kafka_decoder_set_error(d, ASX_EAGAIN, "record batch: partial batch");
  r.len = total;
  out->partition_leader_epoch = asx_kafka_read_int32(&r, "batch.partition_leader_epoch");
  out->magic = asx_kafka_read_int8(&r, "batch.magic");
  out->crc = asx_kafka_read_uint32(&r, "batch.crc");
  uint32_t crc = asx_kafka_crc32c(0, data + CRC_START, total - CRC_START);
  if (crc != out->crc)
    return asx_kafka_decoder_set_error(d, ASX_ECHECKSUM, "batch.crc: 0x%08x, computed 0x%08x",
                                       out->crc, crc);
  out->attributes = asx_kafka_read_int16(&r, "batch.attributes");
  out->last_offset_delta = asx_kafka_read_int32(&r, "batch.last_offset_delta");
  out->base_timestamp = asx_kafka_read_int64(&r, "batch.base_timestamp");
  out->max_timestamp = asx_kafka_read_int64(&r, "batch.max_timestamp");
  out->producer_id = asx_kafka_read_int64(&r, "batch.producer_id");
  out->producer_epoch = asx_kafka_read_int16(&r, "batch.producer_epoch");
  out->base_sequence = asx_kafka_read_int32(&r, "batch.base_sequence");
  int32_t count = asx_kafka_read_int32(&r, "batch.records_count");
  if (r.err) return asx_kafka_decoder_finish(d, &r, false);
  if (count < 0)
    return asx_kafka_decoder_set_error(d, ASX_EPROTO, "batch.records_count: negative (%d)", count);
  if ((uint32_t)count > lim->max_records_per_batch)
    return asx_kafka_decoder_set_error(d, ASX_ELIMIT,
                                       "batch.records_count: %d exceeds max_records_per_batch %u",
                                       count, lim->max_records_per_batch);
  const uint8_t *payload = data + r.pos;
  size_t payload_len = total - r.pos;
  int codec = out->attributes & ASX_KAFKA_ATTR_CODEC_MASK;
  if (codec != ASX_KAFKA_CODEC_NONE) {
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = asx_kafka_decompress(codec, asx_kafka_decoder_allocator(d), payload, payload_len,
                                  lim->max_record_batch_size, &plain, &plain_len);
    if (rc)
      return asx_kafka_decoder_set_error(d, rc, "batch.records: codec %d: %s", codec,
                                         rc == ASX_ELIMIT ? "decompressed size exceeds "
                                                            "max_record_batch_size"
                                                          : asx_strerror(rc));
    rc = asx_kafka_arena_adopt(d, plain);
    if (rc) return asx_kafka_decoder_set_error(d, rc, "batch.records: out of memory");
    payload = plain;
    payload_len = plain_len;
  }
  asx_kafka_reader rr;
  asx_kafka_reader_init(&rr, payload, payload_len, lim);
  if ((size_t)count > payload_len / MIN_RECORD_SIZE)
    asx_kafka_reader_fail(&rr, ASX_EPROTO, "batch.records_count", "more records than bytes");
  asx_kafka_record *recs = asx_kafka_arena_array(d, &rr, count, sizeof *recs, "batch.records");
  for (int32_t i = 0; i < count && !rr.err; i++) decode_record(d, &rr, &recs[i]);
  int rc = asx_kafka_decoder_finish(d, &rr, false);
  if (!rc && rr.pos != rr.len)
    rc = asx_kafka_decoder_set_error(d, ASX_EPROTO, "batch.records: %zu trailing bytes",
                                     rr.len - rr.pos);
  if (rc) return rc;
  out->records = recs;
  out->record_count = count;
  if (consumed) *consumed = total;
  return 0;
}

static void write_var_bytes(asx_kafka_writer *w, asx_kafka_bytes b, bool nullable) {
  if (b.len < 0 || (!b.ptr && b.len > 0)) {
    if (!nullable || b.len != -1) {
      if (!w->err) w->err = ASX_EINVAL;
      return;
    }
    asx_kafka_write_varint(w, -1);
    return;
  }
  asx_kafka_write_varint(w, b.len);
  asx_kafka_write_raw(w, b.ptr, (size_t)b.len);
}

/* Appends one record (length-prefixed) to w, using scratch for the body. */
static void encode_record(asx_kafka_writer *w, asx_buf *scratch, const asx_kafka_record *rec) {
  if (w->err) return;
  if (rec->header_count < 0 || (rec->header_count > 0 && !rec->headers)) {
    w->err = ASX_EINVAL;
    return;
  }
  asx_buf_reset(scratch);
  asx_kafka_writer body;
  asx_kafka_writer_init(&body, scratch);
  asx_kafka_write_int8(&body, rec->attributes);
  asx_kafka_write_varlong(&body, rec->timestamp_delta);
  asx_kafka_write_varint(&body, rec->offset_delta);
  write_var_bytes(&body, rec->key, true);
  write_var_bytes(&body, rec->value, true);
  asx_kafka_write_varint(&body, rec->header_count);
  for (int32_t i = 0; i < rec->header_count; i++) {
    write_var_bytes(&body, rec->headers[i].key, false);
    write_var_bytes(&body, rec->headers[i].value, true);
  }
  if (body.err) {
    w->err = body.err;
    return;
  }
  if (scratch->len > INT32_MAX) {
    w->err = ASX_ELIMIT;
    return;
  }
  asx_kafka_write_varint(w, (int32_t)scratch->len);
  asx_kafka_write_raw(w, scratch->data, scratch->len);
}

static void put32_at(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int asx_kafka_record_batch_encode(asx_buf *out, const asx_kafka_record_batch *batch,
                                  const asx_allocator *alloc) {
  if (!out || !batch || batch->record_count < 0 || (batch->record_count > 0 && !batch->records))
    return ASX_EINVAL;
  int codec = batch->attributes & ASX_KAFKA_ATTR_CODEC_MASK;
  if (codec == ASX_KAFKA_CODEC_SNAPPY || codec > ASX_KAFKA_CODEC_ZSTD) return ASX_EUNSUPPORTED;
  asx_buf records, scratch, packed;
  asx_buf_init(&records, alloc, 0);
  asx_buf_init(&scratch, alloc, 0);
  asx_buf_init(&packed, alloc, 0);
  asx_kafka_writer rw;
  asx_kafka_writer_init(&rw, &records);
  for (int32_t i = 0; i < batch->record_count; i++) encode_record(&rw, &scratch, &batch->records[i]);
  int rc = rw.err;
  const asx_buf *payload = &records;
  if (!rc && codec != ASX_KAFKA_CODEC_NONE) {
    rc = asx_kafka_compress(codec, alloc, records.data, records.len, &packed);
    payload = &packed;
  }
  size_t start = out->len;
  if (!rc && payload->len > (size_t)INT32_MAX - BATCH_FIXED_AFTER_LENGTH) rc = ASX_ELIMIT;
  if (!rc) {
    asx_kafka_writer w;
    asx_kafka_writer_init(&w, out);
    int32_t last = batch->record_count > 0 ? batch->records[batch->record_count - 1].offset_delta
                                           : batch->last_offset_delta;
    asx_kafka_write_int64(&w, batch->base_offset);
    asx_kafka_write_int32(&w, (int32_t)(BATCH_FIXED_AFTER_LENGTH + payload->len));
    asx_kafka_write_int32(&w, batch->partition_leader_epoch);
    asx_kafka_write_int8(&w, 2);
    asx_kafka_write_uint32(&w, 0); /* CRC, patched below */
    asx_kafka_write_int16(&w, batch->attributes);
    asx_kafka_write_int32(&w, last);
    asx_kafka_write_int64(&w, batch->base_timestamp);
    asx_kafka_write_int64(&w, batch->max_timestamp);
    asx_kafka_write_int64(&w, batch->producer_id);
    asx_kafka_write_int16(&w, batch->producer_epoch);
    asx_kafka_write_int32(&w, batch->base_sequence);
    asx_kafka_write_int32(&w, batch->record_count);
    asx_kafka_write_raw(&w, payload->data, payload->len);
    rc = w.err;
    if (!rc) {
      uint8_t *b = out->data + start;
      put32_at(b + 17, asx_kafka_crc32c(0, b + CRC_START, out->len - start - CRC_START));
    } else {
      out->len = start;
    }
  }
  asx_buf_free(&records);
  asx_buf_free(&scratch);
  asx_buf_free(&packed);
  return rc;
}

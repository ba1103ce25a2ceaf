/* Fuzz the record batch v2 decoder over a record set (consecutive batches, the last possibly
 * partial). Each decoded batch is re-encoded with the same attributes and decoded again: the
 * records and batch fields must be identical, else abort(). The CRC of each complete batch is
 * recomputed in a copy first, otherwise nearly every mutation would stop at the checksum (the
 * mismatch path is covered by the unit tests). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/kafka.h"

static int bytes_eq(asx_kafka_bytes a, asx_kafka_bytes b) {
  if (a.len != b.len) return 0;
  return a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

static void check_same(const asx_kafka_record_batch *a, const asx_kafka_record_batch *b) {
  if (a->base_offset != b->base_offset || a->partition_leader_epoch != b->partition_leader_epoch ||
      a->attributes != b->attributes || a->base_timestamp != b->base_timestamp ||
      a->max_timestamp != b->max_timestamp || a->producer_id != b->producer_id ||
      a->producer_epoch != b->producer_epoch || a->base_sequence != b->base_sequence ||
      a->record_count != b->record_count)
    abort();
  if (a->record_count == 0 && a->last_offset_delta != b->last_offset_delta) abort();
  for (int32_t i = 0; i < a->record_count; i++) {
    const asx_kafka_record *x = &a->records[i], *y = &b->records[i];
    if (x->attributes != y->attributes || x->timestamp_delta != y->timestamp_delta ||
        x->offset_delta != y->offset_delta || !bytes_eq(x->key, y->key) ||
        !bytes_eq(x->value, y->value) || x->header_count != y->header_count)
      abort();
    for (int32_t h = 0; h < x->header_count; h++)
      if (!bytes_eq(x->headers[h].key, y->headers[h].key) ||
          !bytes_eq(x->headers[h].value, y->headers[h].value))
        abort();
  }
}

/* Rewrites the CRC field of every complete v2 batch in buf. */
static void fix_crcs(uint8_t *buf, size_t size) {
  size_t off = 0;
  while (size - off >= 61) {
    uint8_t *b = buf + off;
    uint32_t blen = ((uint32_t)b[8] << 24) | ((uint32_t)b[9] << 16) | ((uint32_t)b[10] << 8) | b[11];
    if (blen > size - off - 12 || blen < 49 || b[16] != 2) return;
    uint32_t crc = asx_kafka_crc32c(0, b + 21, (size_t)blen + 12 - 21);
    b[17] = (uint8_t)(crc >> 24);
    b[18] = (uint8_t)(crc >> 16);
    b[19] = (uint8_t)(crc >> 8);
    b[20] = (uint8_t)crc;
    off += (size_t)blen + 12;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
  uint8_t *data = malloc(size ? size : 1);
  if (!data) return 0;
  memcpy(data, input, size);
  fix_crcs(data, size);
  asx_kafka_limits lim = asx_kafka_limits_default();
  lim.max_record_batch_size = 256 * 1024;
  asx_kafka_decoder *d = NULL, *d2 = NULL;
  if (asx_kafka_decoder_new(&d, &lim, NULL)) {
    free(data);
    return 0;
  }
  if (asx_kafka_decoder_new(&d2, &lim, NULL)) {
    asx_kafka_decoder_free(d);
    free(data);
    return 0;
  }
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  size_t off = 0;
  while (off < size) {
    asx_kafka_record_batch b;
    size_t used = 0;
    int rc = asx_kafka_record_batch_decode(d, data + off, size - off, &b, &used);
    if (rc) {
      if (asx_kafka_decoder_error_message(d)[0] == '\0') abort();
      break;
    }
    if (used == 0 || used > size - off) abort();
    off += used;
    asx_buf_reset(&out);
    rc = asx_kafka_record_batch_encode(&out, &b, NULL);
    if (rc) abort(); /* whatever decoded must re-encode */
    asx_kafka_record_batch again;
    size_t used2 = 0;
    rc = asx_kafka_record_batch_decode(d2, out.data, out.len, &again, &used2);
    /* Recompression may legitimately grow past the batch limit; nothing else may fail. */
    if (rc == ASX_ELIMIT) continue;
    if (rc || used2 != out.len) abort();
    check_same(&b, &again);
    asx_kafka_decoder_reset(d2);
  }
  asx_buf_free(&out);
  asx_kafka_decoder_free(d);
  asx_kafka_decoder_free(d2);
  free(data);
  return 0;
}

/* The sticky-error writer: Kafka primitives appended to an asx_buf. */
#include <string.h>

#include "kafka_internal.h"

void asx_kafka_writer_init(asx_kafka_writer *w, asx_buf *buf) {
  w->buf = buf;
  w->err = 0;
}

void asx_kafka_write_raw(asx_kafka_writer *w, const void *p, size_t n) {
  if (w->err || n == 0) return;
  int rc = asx_buf_append(w->buf, p, n);
  if (rc) w->err = rc;
}

static void put_be(asx_kafka_writer *w, uint64_t v, int n) {
  uint8_t b[8];
  for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  asx_kafka_write_raw(w, b, (size_t)n);
}

void asx_kafka_write_int8(asx_kafka_writer *w, int8_t v) { put_be(w, (uint8_t)v, 1); }
void asx_kafka_write_int16(asx_kafka_writer *w, int16_t v) { put_be(w, (uint16_t)v, 2); }
void asx_kafka_write_int32(asx_kafka_writer *w, int32_t v) { put_be(w, (uint32_t)v, 4); }
void asx_kafka_write_uint32(asx_kafka_writer *w, uint32_t v) { put_be(w, v, 4); }
void asx_kafka_write_int64(asx_kafka_writer *w, int64_t v) { put_be(w, (uint64_t)v, 8); }
void asx_kafka_write_bool(asx_kafka_writer *w, bool v) { put_be(w, v ? 1 : 0, 1); }

static void put_leb(asx_kafka_writer *w, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    b[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
  } while (v);
  asx_kafka_write_raw(w, b, n);
}

void asx_kafka_write_uvarint(asx_kafka_writer *w, uint32_t v) { put_leb(w, v); }

void asx_kafka_write_varint(asx_kafka_writer *w, int32_t v) {
  put_leb(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void asx_kafka_write_varlong(asx_kafka_writer *w, int64_t v) {
  put_leb(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_len(asx_kafka_writer *w, bool compact, bool wide, int64_t n) {
  if (compact)
    put_leb(w, (uint64_t)(n + 1));
  else if (wide)
    asx_kafka_write_int32(w, (int32_t)n);
  else
    asx_kafka_write_int16(w, (int16_t)n);
}

void asx_kafka_write_string(asx_kafka_writer *w, bool compact, bool nullable, const char *s) {
  if (w->err) return;
  if (!s) {
    if (!nullable) {
      w->err = ASX_EINVAL;
      return;
    }
    put_len(w, compact, false, -1);
    return;
  }
  size_t n = strlen(s);
  if (n > INT16_MAX) {
    w->err = ASX_ELIMIT;
    return;
  }
  put_len(w, compact, false, (int64_t)n);
  asx_kafka_write_raw(w, s, n);
}

void asx_kafka_write_bytes(asx_kafka_writer *w, bool compact, bool nullable, const void *p,
                           size_t n) {
  if (w->err) return;
  if (!p) {
    if (!nullable) {
      w->err = ASX_EINVAL;
      return;
    }
    put_len(w, compact, true, -1);
    return;
  }
  if (n > INT32_MAX - 1) {
    w->err = ASX_ELIMIT;
    return;
  }
  put_len(w, compact, true, (int64_t)n);
  asx_kafka_write_raw(w, p, n);
}

void asx_kafka_write_array_len(asx_kafka_writer *w, bool compact, int32_t n) {
  if (n < -1) {
    if (!w->err) w->err = ASX_EINVAL;
    return;
  }
  put_len(w, compact, true, n);
}

void asx_kafka_write_empty_tags(asx_kafka_writer *w) { put_leb(w, 0); }

void asx_kafka_write_uuid(asx_kafka_writer *w, const asx_kafka_uuid *u) {
  static const asx_kafka_uuid zero;
  asx_kafka_write_raw(w, (u ? u : &zero)->b, 16);
}

/* The bounded reader: every primitive of the Kafka protocol, read from a borrowed slice with the
 * first error kept (sticky), so decoders read a whole structure and check once at the end. */
#include <string.h>

#include "kafka_internal.h"

asx_kafka_limits asx_kafka_limits_default(void) {
  asx_kafka_limits l;
  l.max_response_size = 100u << 20;
  l.max_record_batch_size = 1u << 20;
  l.max_records_per_batch = 100000;
  l.max_array_elements = 1000000;
  l.max_string_length = 32767;
  l.max_tagged_fields = 64;
  l.max_headers_per_record = 1024;
  return l;
}

/* Same values as asx_kafka_limits_default(), as a constant readers can point at. */
static const asx_kafka_limits default_limit_values = {100u << 20, 1u << 20, 100000, 1000000,
                                                      32767,      64,       1024};

static const asx_kafka_limits *default_limits(void) { return &default_limit_values; }

bool asx_kafka_str_eq(asx_kafka_str s, const char *c) {
  size_t n = strlen(c);
  return s.len >= 0 && (size_t)s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

void asx_kafka_reader_init(asx_kafka_reader *r, const void *data, size_t len,
                           const asx_kafka_limits *limits) {
  r->data = data;
  r->len = data ? len : 0;
  r->pos = 0;
  r->err = 0;
  r->err_field = NULL;
  r->err_reason = NULL;
  r->limits = limits ? limits : default_limits();
}

void asx_kafka_reader_fail(asx_kafka_reader *r, int err, const char *field, const char *reason) {
  if (r->err) return;
  r->err = err;
  r->err_field = field;
  r->err_reason = reason;
}

static size_t left(const asx_kafka_reader *r) { return r->len - r->pos; }

/* Returns a pointer to n bytes and advances, or NULL (with the error set). */
static const uint8_t *take(asx_kafka_reader *r, size_t n, const char *field) {
  if (r->err) return NULL;
  if (n > left(r)) {
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "truncated");
    return NULL;
  }
  if (!r->data) return (const uint8_t *)""; /* n == 0 on an empty reader: never NULL + 0 */
  const uint8_t *p = r->data + r->pos;
  r->pos += n;
  return p;
}

const uint8_t *asx_kafka_read_raw(asx_kafka_reader *r, size_t n, const char *field) {
  return take(r, n, field);
}

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

int8_t asx_kafka_read_int8(asx_kafka_reader *r, const char *field) {
  const uint8_t *p = take(r, 1, field);
  return p ? (int8_t)p[0] : 0;
}

int16_t asx_kafka_read_int16(asx_kafka_reader *r, const char *field) {
  const uint8_t *p = take(r, 2, field);
  return p ? (int16_t)(uint16_t)be(p, 2) : 0;
}

int32_t asx_kafka_read_int32(asx_kafka_reader *r, const char *field) {
  const uint8_t *p = take(r, 4, field);
  return p ? (int32_t)(uint32_t)be(p, 4) : 0;
}

uint32_t asx_kafka_read_uint32(asx_kafka_reader *r, const char *field) {
  const uint8_t *p = take(r, 4, field);
  return p ? (uint32_t)be(p, 4) : 0;
}

int64_t asx_kafka_read_int64(asx_kafka_reader *r, const char *field) {
  const uint8_t *p = take(r, 8, field);
  return p ? (int64_t)be(p, 8) : 0;
}

bool asx_kafka_read_bool(asx_kafka_reader *r, const char *field) {
  const uint8_t *p = take(r, 1, field);
  if (p && p[0] > 1) asx_kafka_reader_fail(r, ASX_EPROTO, field, "boolean is neither 0 nor 1");
  return p && p[0] == 1;
}

/* Unsigned LEB128 with at most max_bytes bytes; the last byte may only use the bits that fit. */
static uint64_t read_leb(asx_kafka_reader *r, int max_bytes, const char *field) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes; i++) {
    const uint8_t *p = take(r, 1, field);
    if (!p) return 0;
    v |= (uint64_t)(p[0] & 0x7f) << (7 * i);
    if (!(p[0] & 0x80)) {
      int used = 7 * i + 7;
      int bits = max_bytes == 5 ? 32 : 64;
      if (used > bits && (p[0] >> (bits - 7 * i)) != 0) break; /* overflowing high bits */
      return v;
    }
  }
  asx_kafka_reader_fail(r, ASX_EPROTO, field, "varint too long or out of range");
  return 0;
}

uint32_t asx_kafka_read_uvarint(asx_kafka_reader *r, const char *field) {
  return (uint32_t)read_leb(r, 5, field);
}

int32_t asx_kafka_read_varint(asx_kafka_reader *r, const char *field) {
  uint32_t u = (uint32_t)read_leb(r, 5, field);
  return (int32_t)((u >> 1) ^ (0u - (u & 1u)));
}

int64_t asx_kafka_read_varlong(asx_kafka_reader *r, const char *field) {
  uint64_t u = read_leb(r, 10, field);
  return (int64_t)((u >> 1) ^ (0u - (u & 1u)));
}

/* Reads a string/bytes length: returns -1 for null, -2 on error, else the length. */
static int64_t read_len(asx_kafka_reader *r, bool compact, bool wide, bool nullable,
                        const char *field) {
  int64_t n;
  if (compact) {
    n = (int64_t)asx_kafka_read_uvarint(r, field) - 1;
  } else {
    n = wide ? asx_kafka_read_int32(r, field) : asx_kafka_read_int16(r, field);
  }
  if (r->err) return -2;
  if (n == -1) {
    if (nullable) return -1;
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "null in a non-nullable field");
    return -2;
  }
  if (n < 0) {
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "negative length");
    return -2;
  }
  if ((uint64_t)n > left(r)) {
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "length exceeds the remaining input");
    return -2;
  }
  return n;
}

asx_kafka_str asx_kafka_read_string(asx_kafka_reader *r, bool compact, bool nullable,
                                    const char *field) {
  asx_kafka_str s = {NULL, -1};
  int64_t n = read_len(r, compact, false, nullable, field);
  if (n == -2) {
    s.len = 0;
    return s;
  }
  if (n == -1) return s;
  if ((uint64_t)n > r->limits->max_string_length) {
    asx_kafka_reader_fail(r, ASX_ELIMIT, field, "string longer than max_string_length");
    s.len = 0;
    return s;
  }
  s.ptr = (const char *)take(r, (size_t)n, field);
  s.len = (int32_t)n;
  return s;
}

asx_kafka_bytes asx_kafka_read_bytes(asx_kafka_reader *r, bool compact, bool nullable,
                                     const char *field) {
  asx_kafka_bytes b = {NULL, -1};
  int64_t n = read_len(r, compact, true, nullable, field);
  if (n == -2) {
    b.len = 0;
    return b;
  }
  if (n == -1) return b;
  b.ptr = take(r, (size_t)n, field);
  b.len = (int32_t)n;
  return b;
}

int32_t asx_kafka_read_array_len(asx_kafka_reader *r, bool compact, bool nullable,
                                 size_t min_elem_size, const char *field) {
  int64_t n = compact ? (int64_t)asx_kafka_read_uvarint(r, field) - 1
                      : (int64_t)asx_kafka_read_int32(r, field);
  if (r->err) return 0;
  if (n == -1) {
    if (nullable) return -1;
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "null array in a non-nullable field");
    return 0;
  }
  if (n < 0) {
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "negative array length");
    return 0;
  }
  if ((uint64_t)n > r->limits->max_array_elements) {
    asx_kafka_reader_fail(r, ASX_ELIMIT, field, "array longer than max_array_elements");
    return 0;
  }
  /* Every element occupies at least min_elem_size bytes, so a count the input cannot hold is a
   * lie detected before anything is allocated for it. */
  if (min_elem_size && (uint64_t)n > left(r) / min_elem_size) {
    asx_kafka_reader_fail(r, ASX_EPROTO, field, "array length exceeds the remaining input");
    return 0;
  }
  return (int32_t)n;
}

void asx_kafka_read_tagged_fields(asx_kafka_reader *r, const char *field) {
  uint32_t count = asx_kafka_read_uvarint(r, field);
  if (r->err) return;
  if (count > r->limits->max_tagged_fields) {
    asx_kafka_reader_fail(r, ASX_ELIMIT, field, "more tagged fields than max_tagged_fields");
    return;
  }
  int64_t prev = -1;
  for (uint32_t i = 0; i < count && !r->err; i++) {
    uint32_t tag = asx_kafka_read_uvarint(r, field);
    uint32_t size = asx_kafka_read_uvarint(r, field);
    if (r->err) return;
    if ((int64_t)tag <= prev) {
      asx_kafka_reader_fail(r, ASX_EPROTO, field, "tagged fields not in strictly ascending order");
      return;
    }
    prev = tag;
    take(r, size, field); /* unknown (or uninterpreted) tags are skipped */
  }
}

asx_kafka_uuid asx_kafka_read_uuid(asx_kafka_reader *r, const char *field) {
  asx_kafka_uuid u;
  const uint8_t *p = take(r, 16, field);
  if (p)
    memcpy(u.b, p, 16);
  else
    memset(u.b, 0, 16);
  return u;
}

/* Encoders: commands (arrays of bulk strings) for clients and every reply type for servers.
 * Each public function is all-or-nothing on the output buffer. */
#include <inttypes.h>
#include <string.h>

#include "redis_internal.h"

/* Deeper trees than this are refused rather than risking the stack. */
#define MAX_WRITE_DEPTH 1100

static int put(asx_buf *out, const void *p, size_t n) { return asx_buf_append(out, p, n); }

/* Type byte + decimal number + CRLF, e.g. "$5\r\n". Formatted by hand: snprintf showed up as ~10%
 * of a pipelining client's CPU time. */
static int put_header(asx_buf *out, char type, int64_t v) {
  char tmp[32];
  char *end = tmp + sizeof tmp;
  char *p = end;
  *--p = '\n';
  *--p = '\r';
  /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
  uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + mag % 10);
    mag /= 10;
  } while (mag);
  if (v < 0) *--p = '-';
  *--p = type;
  return put(out, p, (size_t)(end - p));
}

/* Restores the buffer when a multi-part write fails. */
static int finish(asx_buf *out, size_t start, int rc) {
  if (rc) out->len = start;
  return rc;
}

static int put_blob(asx_buf *out, char type, const void *p, size_t len) {
  if (len > INT64_MAX) return ASX_EINVAL;
  size_t start = out->len;
  /* One reservation up front: the final size is known and bounded by out->max. */
  int rc = asx_buf_reserve(out, len + 26);
  if (rc == 0) rc = put_header(out, type, (int64_t)len);
  if (rc == 0) rc = put(out, p, len);
  if (rc == 0) rc = put(out, "\r\n", 2);
  return finish(out, start, rc);
}

static int put_line(asx_buf *out, char type, const void *p, size_t len) {
  if (len && (memchr(p, '\r', len) || memchr(p, '\n', len))) return ASX_EINVAL;
  size_t start = out->len;
  int rc = put(out, &type, 1);
  if (rc == 0) rc = put(out, p, len);
  if (rc == 0) rc = put(out, "\r\n", 2);
  return finish(out, start, rc);
}

int asx_redis_encode_command_slices(asx_buf *out, size_t argc, const asx_slice *argv) {
  if (!out || (argc && !argv) || argc > INT64_MAX) return ASX_EINVAL;
  size_t start = out->len;
  int rc = put_header(out, '*', (int64_t)argc);
  for (size_t i = 0; rc == 0 && i < argc; i++) {
    if (argv[i].len && !argv[i].ptr) rc = ASX_EINVAL;
    else rc = put_blob(out, '$', argv[i].ptr, argv[i].len);
  }
  return finish(out, start, rc);
}

int asx_redis_encode_command(asx_buf *out, size_t argc, const char *const *argv,
                             const size_t *argvlen) {
  if (!out || (argc && !argv) || argc > INT64_MAX) return ASX_EINVAL;
  size_t start = out->len;
  int rc = put_header(out, '*', (int64_t)argc);
  for (size_t i = 0; rc == 0 && i < argc; i++) {
    if (!argv[i]) rc = ASX_EINVAL;
    else rc = put_blob(out, '$', argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
  }
  return finish(out, start, rc);
}

int asx_redis_write_simple(asx_buf *out, const char *s, size_t len) {
  if (!out || (len && !s)) return ASX_EINVAL;
  return put_line(out, '+', s, len);
}

int asx_redis_write_error(asx_buf *out, const char *s, size_t len) {
  if (!out || (len && !s)) return ASX_EINVAL;
  return put_line(out, '-', s, len);
}

int asx_redis_write_integer(asx_buf *out, int64_t v) {
  if (!out) return ASX_EINVAL;
  return put_header(out, ':', v);
}

int asx_redis_write_bulk(asx_buf *out, const void *p, size_t len) {
  if (!out || (len && !p)) return ASX_EINVAL;
  return put_blob(out, '$', p, len);
}

int asx_redis_write_bulk_error(asx_buf *out, const void *p, size_t len) {
  if (!out || (len && !p)) return ASX_EINVAL;
  return put_blob(out, '!', p, len);
}

int asx_redis_write_verbatim(asx_buf *out, const char *fmt, const void *p, size_t len) {
  if (!out || !fmt || (len && !p) || len > INT64_MAX - 4) return ASX_EINVAL;
  for (int i = 0; i < 3; i++)
    if ((unsigned char)fmt[i] <= ' ' || (unsigned char)fmt[i] >= 0x7f || fmt[i] == ':') return ASX_EINVAL;
  size_t start = out->len;
  int rc = asx_buf_reserve(out, len + 30);
  if (rc == 0) rc = put_header(out, '=', (int64_t)len + 4);
  if (rc == 0) rc = put(out, fmt, 3);
  if (rc == 0) rc = put(out, ":", 1);
  if (rc == 0) rc = put(out, p, len);
  if (rc == 0) rc = put(out, "\r\n", 2);
  return finish(out, start, rc);
}

int asx_redis_write_null(asx_buf *out) { return out ? put(out, "_\r\n", 3) : ASX_EINVAL; }
int asx_redis_write_null_bulk(asx_buf *out) { return out ? put(out, "$-1\r\n", 5) : ASX_EINVAL; }
int asx_redis_write_null_array(asx_buf *out) { return out ? put(out, "*-1\r\n", 5) : ASX_EINVAL; }

int asx_redis_write_bool(asx_buf *out, bool v) {
  return out ? put(out, v ? "#t\r\n" : "#f\r\n", 4) : ASX_EINVAL;
}

int asx_redis_write_double(asx_buf *out, double v) {
  if (!out) return ASX_EINVAL;
  char tmp[64];
  size_t n = asx_redis_i_format_double(tmp, sizeof tmp, v);
  return put_line(out, ',', tmp, n);
}

int asx_redis_write_bignum(asx_buf *out, const char *digits, size_t len) {
  if (!out || !digits || !asx_redis_i_valid_bignum((const uint8_t *)digits, len)) return ASX_EINVAL;
  return put_line(out, '(', digits, len);
}

static char aggregate_byte(asx_redis_type type) {
  switch (type) {
    case ASX_REDIS_ARRAY: return '*';
    case ASX_REDIS_MAP: return '%';
    case ASX_REDIS_SET: return '~';
    case ASX_REDIS_ATTRIBUTE: return '|';
    case ASX_REDIS_PUSH: return '>';
    default: return 0;
  }
}

int asx_redis_write_aggregate(asx_buf *out, asx_redis_type type, size_t count) {
  char b = aggregate_byte(type);
  if (!out || !b || count > INT64_MAX) return ASX_EINVAL;
  return put_header(out, b, (int64_t)count);
}

static int write_tree(asx_buf *out, const asx_redis_reply *r, unsigned depth) {
  if (!r || depth > MAX_WRITE_DEPTH) return ASX_EINVAL;
  int rc = 0;
  if (r->attribute) {
    if (r->attribute->type != ASX_REDIS_ATTRIBUTE) return ASX_EINVAL;
    rc = write_tree(out, r->attribute, depth + 1);
    if (rc) return rc;
  }
  switch (r->type) {
    case ASX_REDIS_STRING: return asx_redis_write_simple(out, r->str, r->len);
    case ASX_REDIS_ERROR: return asx_redis_write_error(out, r->str, r->len);
    case ASX_REDIS_INTEGER: return asx_redis_write_integer(out, r->integer);
    case ASX_REDIS_BULK: return asx_redis_write_bulk(out, r->str, r->len);
    case ASX_REDIS_BULK_ERROR: return asx_redis_write_bulk_error(out, r->str, r->len);
    case ASX_REDIS_VERBATIM: return asx_redis_write_verbatim(out, r->format, r->str, r->len);
    case ASX_REDIS_BOOL: return asx_redis_write_bool(out, r->integer != 0);
    case ASX_REDIS_DOUBLE: return asx_redis_write_double(out, r->dbl);
    case ASX_REDIS_BIGNUM: return asx_redis_write_bignum(out, r->str, r->len);
    case ASX_REDIS_NULL:
      if (r->wire == '$') return asx_redis_write_null_bulk(out);
      if (r->wire == '*') return asx_redis_write_null_array(out);
      return asx_redis_write_null(out);
    case ASX_REDIS_ARRAY:
    case ASX_REDIS_MAP:
    case ASX_REDIS_SET:
    case ASX_REDIS_ATTRIBUTE:
    case ASX_REDIS_PUSH: {
      bool pairs = r->type == ASX_REDIS_MAP || r->type == ASX_REDIS_ATTRIBUTE;
      if ((pairs && r->n % 2) || (r->n && !r->elements)) return ASX_EINVAL;
      rc = asx_redis_write_aggregate(out, r->type, pairs ? r->n / 2 : r->n);
      for (size_t i = 0; rc == 0 && i < r->n; i++) rc = write_tree(out, r->elements[i], depth + 1);
      return rc;
    }
  }
  return ASX_EINVAL;
}

int asx_redis_write_reply(asx_buf *out, const asx_redis_reply *r) {
  if (!out) return ASX_EINVAL;
  size_t start = out->len;
  return finish(out, start, write_tree(out, r, 0));
}

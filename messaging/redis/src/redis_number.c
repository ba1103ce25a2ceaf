/* Number grammars of RESP and locale-independent double conversion. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Accumulates digits into a magnitude, refusing anything above `limit`. */
static asx_redis_i_num digits_to_u64(const uint8_t *p, size_t n, uint64_t limit, uint64_t *out) {
  if (n == 0) return ASX_REDIS_I_NUM_SYNTAX;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(p[i])) return ASX_REDIS_I_NUM_SYNTAX;
    uint64_t d = (uint64_t)(p[i] - '0');
    if (v > (limit - d) / 10) {
      /* keep checking the syntax so a non-digit is reported as such, not as an overflow */
      for (size_t j = i + 1; j < n; j++)
        if (!is_digit(p[j])) return ASX_REDIS_I_NUM_SYNTAX;
      return ASX_REDIS_I_NUM_OVERFLOW;
    }
    v = v * 10 + d;
  }
  *out = v;
  return ASX_REDIS_I_NUM_OK;
}

asx_redis_i_num asx_redis_i_parse_len(const uint8_t *p, size_t n, int64_t *out) {
  if (n == 2 && p[0] == '-' && p[1] == '1') {
    *out = -1;
    return ASX_REDIS_I_NUM_OK;
  }
  if (n == 0 || (p[0] == '0' && n > 1)) return ASX_REDIS_I_NUM_SYNTAX;
  uint64_t v;
  asx_redis_i_num rc = digits_to_u64(p, n, (uint64_t)INT64_MAX, &v);
  if (rc == ASX_REDIS_I_NUM_OK) *out = (int64_t)v;
  return rc;
}

asx_redis_i_num asx_redis_i_parse_int(const uint8_t *p, size_t n, int64_t *out) {
  bool neg = false;
  if (n > 0 && (p[0] == '-' || p[0] == '+')) {
    neg = p[0] == '-';
    p++;
    n--;
  }
  uint64_t v;
  asx_redis_i_num rc = digits_to_u64(p, n, neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX, &v);
  if (rc != ASX_REDIS_I_NUM_OK) return rc;
  if (!neg)
    *out = (int64_t)v;
  else /* -(2^63) has no positive int64 counterpart */
    *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
  return ASX_REDIS_I_NUM_OK;
}

bool asx_redis_i_valid_bignum(const uint8_t *p, size_t n) {
  size_t i = (n > 0 && (p[0] == '-' || p[0] == '+')) ? 1 : 0;
  if (i == n) return false;
  for (; i < n; i++)
    if (!is_digit(p[i])) return false;
  return true;
}

/* The "C" locale, created once: the process locale may use ',' as decimal point and the wire
 * format never does. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static size_t span_digits(const uint8_t *p, size_t n, size_t i) {
  while (i < n && is_digit(p[i])) i++;
  return i;
}

bool asx_redis_i_parse_double(const uint8_t *p, size_t n, double *out) {
  if (n == 3 && memcmp(p, "inf", 3) == 0) {
    *out = INFINITY;
    return true;
  }
  if (n == 4 && memcmp(p, "-inf", 4) == 0) {
    *out = -INFINITY;
    return true;
  }
  if (n == 3 && memcmp(p, "nan", 3) == 0) {
    *out = NAN;
    return true;
  }
  /* [+-]?digits[.digits][(e|E)[+-]?digits] */
  size_t i = (n > 0 && (p[0] == '-' || p[0] == '+')) ? 1 : 0;
  size_t j = span_digits(p, n, i);
  if (j == i) return false;
  i = j;
  if (i < n && p[i] == '.') {
    j = span_digits(p, n, i + 1);
    if (j == i + 1) return false;
    i = j;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '-' || p[i] == '+')) i++;
    j = span_digits(p, n, i);
    if (j == i) return false;
    i = j;
  }
  if (i != n) return false;
  /* The grammar is checked; strtod needs a NUL-terminated copy. Lines are bounded by max_line,
   * but a double needs no more than a few hundred significant characters to be exact. */
  char tmp[512];
  if (n >= sizeof tmp) {
    /* Very long mantissas: strtod's result depends only on the digits, so convert from a heap
     * copy would be exact; refuse instead to keep this path allocation-free. */
    return false;
  }
  memcpy(tmp, p, n);
  tmp[n] = '\0';
  pthread_once(&c_locale_once, c_locale_init);
  if (c_locale == (locale_t)0) return false;
  *out = strtod_l(tmp, NULL, c_locale);
  return true;
}

size_t asx_redis_i_format_double(char *buf, size_t cap, double v) {
  int n;
  if (isnan(v)) {
    n = snprintf(buf, cap, "nan");
  } else if (isinf(v)) {
    n = snprintf(buf, cap, v > 0 ? "inf" : "-inf");
  } else {
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = (locale_t)0;
    if (c_locale != (locale_t)0) old = uselocale(c_locale);
    n = snprintf(buf, cap, "%.17g", v);
    if (c_locale != (locale_t)0) uselocale(old);
  }
  if (n < 0) return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

bool asx_redis_i_is_aggregate(asx_redis_type t) {
  return t == ASX_REDIS_ARRAY || t == ASX_REDIS_MAP || t == ASX_REDIS_SET ||
         t == ASX_REDIS_ATTRIBUTE || t == ASX_REDIS_PUSH;
}

const char *asx_redis_type_name(asx_redis_type t) {
  switch (t) {
    case ASX_REDIS_STRING: return "simple string";
    case ASX_REDIS_ERROR: return "simple error";
    case ASX_REDIS_INTEGER: return "integer";
    case ASX_REDIS_BULK: return "bulk string";
    case ASX_REDIS_ARRAY: return "array";
    case ASX_REDIS_NULL: return "null";
    case ASX_REDIS_BOOL: return "boolean";
    case ASX_REDIS_DOUBLE: return "double";
    case ASX_REDIS_BIGNUM: return "big number";
    case ASX_REDIS_BULK_ERROR: return "bulk error";
    case ASX_REDIS_VERBATIM: return "verbatim string";
    case ASX_REDIS_MAP: return "map";
    case ASX_REDIS_SET: return "set";
    case ASX_REDIS_ATTRIBUTE: return "attribute";
    case ASX_REDIS_PUSH: return "push";
  }
  return "?";
}

asx_redis_limits asx_redis_limits_default(void) {
  asx_redis_limits l;
  l.max_bulk = (size_t)512 << 20;
  l.max_elements = (size_t)1 << 20;
  l.max_depth = 32;
  l.max_line = (size_t)64 << 10;
  l.max_total = (size_t)1 << 30;
  return l;
}

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "asx/base.h"

bool asx_slice_eq(asx_slice s, const char *str) {
  size_t n = strlen(str);
  return s.len == n && (n == 0 || memcmp(s.ptr, str, n) == 0);
}

static unsigned char ascii_lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool asx_slice_eq_nocase(asx_slice s, const char *str) {
  size_t n = strlen(str);
  if (s.len != n) return false;
  for (size_t i = 0; i < n; i++) {
    if (ascii_lower(s.ptr[i]) != ascii_lower((unsigned char)str[i])) return false;
  }
  return true;
}

void asx_buf_init(asx_buf *b, const asx_allocator *a, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max ? max : SIZE_MAX;
  b->alloc = a;
}

int asx_buf_reserve(asx_buf *b, size_t extra) {
  if (extra > b->max || b->len > b->max - extra) return ASX_ELIMIT;
  size_t need = b->len + extra;
  if (need <= b->cap) return 0;
  /* Grow geometrically but never beyond the cap, so a limit of N never costs more than N. */
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  if (cap > b->max) cap = b->max;
  uint8_t *p = asx_realloc(b->alloc, b->data, cap);
  if (!p) return ASX_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int asx_buf_append(asx_buf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  int rc = asx_buf_reserve(b, n);
  if (rc) return rc;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int asx_buf_append_byte(asx_buf *b, uint8_t byte) { return asx_buf_append(b, &byte, 1); }

int asx_buf_append_str(asx_buf *b, const char *s) { return asx_buf_append(b, s, strlen(s)); }

int asx_buf_appendf(asx_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return ASX_EINVAL;
  int rc = asx_buf_reserve(b, (size_t)n);
  if (rc) return rc;
  if (b->cap - b->len > (size_t)n) {
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
  }
  /* No room for vsnprintf's NUL inside the cap: format aside, then copy without it. */
  char *tmp = asx_alloc(b->alloc, (size_t)n + 1);
  if (!tmp) return ASX_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(tmp, (size_t)n + 1, fmt, ap);
  va_end(ap);
  memcpy(b->data + b->len, tmp, (size_t)n);
  b->len += (size_t)n;
  asx_free(b->alloc, tmp);
  return 0;
}

void asx_buf_consume(asx_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void asx_buf_reset(asx_buf *b) { b->len = 0; }

void asx_buf_free(asx_buf *b) {
  asx_free(b->alloc, b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

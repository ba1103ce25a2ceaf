/* Strict, bounded JSON cursor used for INFO. See nats_json.h for the contract. */
#include "nats_json.h"

#include <stdio.h>
#include <string.h>

void asx_nats_json_init(asx_nats_json *j, const uint8_t *s, size_t len, size_t max_depth,
                        char *err, size_t err_len) {
  j->s = s;
  j->len = len;
  j->pos = 0;
  j->depth = 0;
  j->max_depth = max_depth;
  j->err = err;
  j->err_len = err_len;
  if (err && err_len) err[0] = '\0';
}

int asx_nats_json_fail(asx_nats_json *j, int code, const char *what) {
  if (j->err && j->err_len && j->err[0] == '\0')
    snprintf(j->err, j->err_len, "JSON at offset %zu: %s", j->pos, what);
  return code;
}

static void skip_ws(asx_nats_json *j) {
  while (j->pos < j->len) {
    uint8_t c = j->s[j->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    j->pos++;
  }
}

asx_nats_json_type asx_nats_json_peek(asx_nats_json *j) {
  skip_ws(j);
  if (j->pos >= j->len) return ASX_NATS_JSON_END;
  switch (j->s[j->pos]) {
    case '{': return ASX_NATS_JSON_OBJECT;
    case '[': return ASX_NATS_JSON_ARRAY;
    case '"': return ASX_NATS_JSON_STRING;
    case 't': return ASX_NATS_JSON_TRUE;
    case 'f': return ASX_NATS_JSON_FALSE;
    case 'n': return ASX_NATS_JSON_NULL;
    default:
      if (j->s[j->pos] == '-' || (j->s[j->pos] >= '0' && j->s[j->pos] <= '9'))
        return ASX_NATS_JSON_NUMBER;
      return ASX_NATS_JSON_INVALID;
  }
}

int asx_nats_json_open(asx_nats_json *j, uint8_t bracket) {
  skip_ws(j);
  if (j->pos >= j->len || j->s[j->pos] != bracket)
    return asx_nats_json_fail(j, ASX_EPROTO, bracket == '{' ? "expected '{'" : "expected '['");
  if (j->depth >= j->max_depth) return asx_nats_json_fail(j, ASX_ELIMIT, "nesting too deep");
  j->depth++;
  j->pos++;
  return 0;
}

/* Shared by objects and arrays: handles the closing bracket and the separating commas. */
static int next_item(asx_nats_json *j, bool *first, uint8_t close, bool *done) {
  skip_ws(j);
  *done = false;
  if (j->pos >= j->len) return asx_nats_json_fail(j, ASX_EPROTO, "unterminated object or array");
  uint8_t c = j->s[j->pos];
  if (c == close) {
    j->pos++;
    j->depth--;
    *done = true;
    return 0;
  }
  if (!*first) {
    if (c != ',') return asx_nats_json_fail(j, ASX_EPROTO, "expected ',' or closing bracket");
    j->pos++;
    skip_ws(j);
    /* A comma must be followed by an item: "[1,]" is not JSON. */
    if (j->pos < j->len && j->s[j->pos] == close)
      return asx_nats_json_fail(j, ASX_EPROTO, "trailing comma");
  }
  *first = false;
  return 0;
}

int asx_nats_json_member(asx_nats_json *j, bool *first, asx_nats_json_sink *key, bool *done) {
  int rc = next_item(j, first, '}', done);
  if (rc || *done) return rc;
  if (asx_nats_json_peek(j) != ASX_NATS_JSON_STRING)
    return asx_nats_json_fail(j, ASX_EPROTO, "object key must be a string");
  rc = asx_nats_json_string(j, key);
  if (rc) return rc;
  skip_ws(j);
  if (j->pos >= j->len || j->s[j->pos] != ':')
    return asx_nats_json_fail(j, ASX_EPROTO, "expected ':' after key");
  j->pos++;
  return 0;
}

int asx_nats_json_element(asx_nats_json *j, bool *first, bool *done) {
  return next_item(j, first, ']', done);
}

static int sink_put(asx_nats_json *j, asx_nats_json_sink *sink, const uint8_t *p, size_t n) {
  if (!sink) return 0;
  if (sink->buf) {
    int rc = asx_buf_append(sink->buf, p, n);
    if (rc == ASX_ELIMIT) return asx_nats_json_fail(j, rc, "string too long");
    if (rc) return asx_nats_json_fail(j, rc, "out of memory");
    return 0;
  }
  if (n > sink->fixed_cap - sink->fixed_len) {
    sink->truncated = true;
    return 0;
  }
  memcpy(sink->fixed + sink->fixed_len, p, n);
  sink->fixed_len += n;
  return 0;
}

static int hex4(asx_nats_json *j, uint32_t *out) {
  if (j->len - j->pos < 4) return asx_nats_json_fail(j, ASX_EPROTO, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t c = j->s[j->pos++];
    uint32_t d;
    if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
    else return asx_nats_json_fail(j, ASX_EPROTO, "bad hex digit in \\u escape");
    v = (v << 4) | d;
  }
  *out = v;
  return 0;
}

static size_t utf8_encode(uint32_t cp, uint8_t out[4]) {
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xc0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (uint8_t)(0xe0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (uint8_t)(0xf0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (uint8_t)(0x80 | (cp & 0x3f));
  return 4;
}

/* \uXXXX, with a high surrogate required to be followed by a \u low surrogate. */
static int unicode_escape(asx_nats_json *j, asx_nats_json_sink *sink) {
  uint32_t cp;
  int rc = hex4(j, &cp);
  if (rc) return rc;
  if (cp >= 0xdc00 && cp <= 0xdfff) return asx_nats_json_fail(j, ASX_EPROTO, "lone low surrogate");
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (j->len - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
      return asx_nats_json_fail(j, ASX_EPROTO, "high surrogate without low surrogate");
    j->pos += 2;
    uint32_t lo;
    rc = hex4(j, &lo);
    if (rc) return rc;
    if (lo < 0xdc00 || lo > 0xdfff)
      return asx_nats_json_fail(j, ASX_EPROTO, "high surrogate without low surrogate");
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  uint8_t enc[4];
  return sink_put(j, sink, enc, utf8_encode(cp, enc));
}

/* Length of the strict UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  size_t len;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1fu;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0fu;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t k = 1; k < len; k++) {
    if ((s[k] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

int asx_nats_json_string(asx_nats_json *j, asx_nats_json_sink *sink) {
  skip_ws(j);
  if (j->pos >= j->len || j->s[j->pos] != '"')
    return asx_nats_json_fail(j, ASX_EPROTO, "expected string");
  j->pos++;
  for (;;) {
    /* Copy the longest run of plain ASCII at once. */
    size_t run = j->pos;
    while (run < j->len && j->s[run] >= 0x20 && j->s[run] < 0x80 && j->s[run] != '"' &&
           j->s[run] != '\\')
      run++;
    int rc = sink_put(j, sink, j->s + j->pos, run - j->pos);
    if (rc) return rc;
    j->pos = run;
    if (j->pos >= j->len) return asx_nats_json_fail(j, ASX_EPROTO, "unterminated string");
    uint8_t c = j->s[j->pos];
    if (c == '"') {
      j->pos++;
      return 0;
    }
    if (c < 0x20) return asx_nats_json_fail(j, ASX_EPROTO, "control character in string");
    if (c >= 0x80) {
      size_t n = utf8_seq(j->s + j->pos, j->len - j->pos);
      if (n == 0) return asx_nats_json_fail(j, ASX_EPROTO, "invalid UTF-8 in string");
      rc = sink_put(j, sink, j->s + j->pos, n);
      if (rc) return rc;
      j->pos += n;
      continue;
    }
    /* Backslash escape. */
    if (j->len - j->pos < 2) return asx_nats_json_fail(j, ASX_EPROTO, "unterminated escape");
    uint8_t e = j->s[j->pos + 1];
    j->pos += 2;
    uint8_t out;
    switch (e) {
      case '"': out = '"'; break;
      case '\\': out = '\\'; break;
      case '/': out = '/'; break;
      case 'b': out = '\b'; break;
      case 'f': out = '\f'; break;
      case 'n': out = '\n'; break;
      case 'r': out = '\r'; break;
      case 't': out = '\t'; break;
      case 'u':
        rc = unicode_escape(j, sink);
        if (rc) return rc;
        continue;
      default:
        j->pos -= 2;
        return asx_nats_json_fail(j, ASX_EPROTO, "invalid escape");
    }
    rc = sink_put(j, sink, &out, 1);
    if (rc) return rc;
  }
}

static size_t digits(asx_nats_json *j) {
  size_t start = j->pos;
  while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') j->pos++;
  return j->pos - start;
}

int asx_nats_json_number(asx_nats_json *j, asx_slice *text, bool *is_int) {
  skip_ws(j);
  size_t start = j->pos;
  *is_int = true;
  if (j->pos < j->len && j->s[j->pos] == '-') j->pos++;
  if (j->pos >= j->len) return asx_nats_json_fail(j, ASX_EPROTO, "truncated number");
  if (j->s[j->pos] == '0') {
    j->pos++;
    if (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
      return asx_nats_json_fail(j, ASX_EPROTO, "leading zero in number");
  } else if (digits(j) == 0) {
    return asx_nats_json_fail(j, ASX_EPROTO, "bad number");
  }
  if (j->pos < j->len && j->s[j->pos] == '.') {
    j->pos++;
    *is_int = false;
    if (digits(j) == 0) return asx_nats_json_fail(j, ASX_EPROTO, "bad fraction in number");
  }
  if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
    j->pos++;
    *is_int = false;
    if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-')) j->pos++;
    if (digits(j) == 0) return asx_nats_json_fail(j, ASX_EPROTO, "bad exponent in number");
  }
  *text = (asx_slice){j->s + start, j->pos - start};
  return 0;
}

int asx_nats_json_literal(asx_nats_json *j, asx_nats_json_type *t) {
  asx_nats_json_type type = asx_nats_json_peek(j);
  const char *word = type == ASX_NATS_JSON_TRUE    ? "true"
                     : type == ASX_NATS_JSON_FALSE ? "false"
                     : type == ASX_NATS_JSON_NULL  ? "null"
                                                   : NULL;
  size_t n = word ? strlen(word) : 0;
  if (!word || j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
    return asx_nats_json_fail(j, ASX_EPROTO, "invalid literal");
  j->pos += n;
  *t = type;
  return 0;
}

int asx_nats_json_skip(asx_nats_json *j) {
  asx_nats_json_type t = asx_nats_json_peek(j);
  bool first = true, done = false;
  asx_slice text;
  bool is_int;
  int rc;
  switch (t) {
    case ASX_NATS_JSON_OBJECT:
      rc = asx_nats_json_open(j, '{');
      while (!rc) {
        rc = asx_nats_json_member(j, &first, NULL, &done);
        if (rc || done) break;
        rc = asx_nats_json_skip(j);
      }
      return rc;
    case ASX_NATS_JSON_ARRAY:
      rc = asx_nats_json_open(j, '[');
      while (!rc) {
        rc = asx_nats_json_element(j, &first, &done);
        if (rc || done) break;
        rc = asx_nats_json_skip(j);
      }
      return rc;
    case ASX_NATS_JSON_STRING:
      return asx_nats_json_string(j, NULL);
    case ASX_NATS_JSON_NUMBER:
      return asx_nats_json_number(j, &text, &is_int);
    case ASX_NATS_JSON_TRUE:
    case ASX_NATS_JSON_FALSE:
    case ASX_NATS_JSON_NULL:
      return asx_nats_json_literal(j, &t);
    case ASX_NATS_JSON_END:
      return asx_nats_json_fail(j, ASX_EPROTO, "unexpected end of input");
    default:
      return asx_nats_json_fail(j, ASX_EPROTO, "unexpected character");
  }
}

int asx_nats_json_finish(asx_nats_json *j) {
  skip_ws(j);
  if (j->pos != j->len) return asx_nats_json_fail(j, ASX_EPROTO, "trailing characters after JSON");
  return 0;
}

/* Encoders for the client-to-server operations. Each validates everything first, then appends;
 * if an append fails half-way the buffer's length is rolled back, so `out` never holds half an
 * operation. */
#include <string.h>

#include "nats_internal.h"

#define ASX_NATS_CLIENT_VERSION "0.1.0"

static const asx_nats_limits *limits_or_default(const asx_nats_limits *l, asx_nats_limits *tmp) {
  if (l) return l;
  asx_nats_limits_default(tmp);
  return tmp;
}

/* Appends a run of pieces; rolls back on the first failure. */
static int append_all(asx_buf *out, size_t start, const asx_slice *parts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int rc = asx_buf_append(out, parts[i].ptr, parts[i].len);
    if (rc) {
      out->len = start;
      return rc;
    }
  }
  return 0;
}

static asx_slice str_slice(const char *s) { return (asx_slice){(const uint8_t *)s, strlen(s)}; }

static int rollback(asx_buf *out, size_t start, int rc) {
  out->len = start;
  return rc;
}

/* ---- CONNECT ---- */

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
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
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

static int json_string(asx_buf *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  int rc = asx_buf_append_byte(out, '"');
  for (const uint8_t *p = (const uint8_t *)s; !rc && *p; p++) {
    uint8_t c = *p;
    if (c == '"' || c == '\\') {
      uint8_t esc[2] = {'\\', c};
      rc = asx_buf_append(out, esc, 2);
    } else if (c < 0x20) {
      const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                        : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
      if (named) {
        rc = asx_buf_append(out, named, 2);
      } else {
        uint8_t esc[6] = {'\\', 'u', '0', '0', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
        rc = asx_buf_append(out, esc, 6);
      }
    } else {
      rc = asx_buf_append_byte(out, c);
    }
  }
  if (!rc) rc = asx_buf_append_byte(out, '"');
  return rc;
}

static int json_field_str(asx_buf *out, bool *first, const char *key, const char *val) {
  if (!val) return 0;
  int rc = asx_buf_appendf(out, "%s\"%s\":", *first ? "" : ",", key);
  *first = false;
  return rc ? rc : json_string(out, val);
}

static int json_field_bool(asx_buf *out, bool *first, const char *key, bool val) {
  int rc = asx_buf_appendf(out, "%s\"%s\":%s", *first ? "" : ",", key, val ? "true" : "false");
  *first = false;
  return rc;
}

void asx_nats_connect_opts_default(asx_nats_connect_opts *o) {
  memset(o, 0, sizeof *o);
  o->echo = true;
  o->headers = true;
  o->no_responders = true;
  o->protocol = 1;
  o->lang = "C";
  o->version = ASX_NATS_CLIENT_VERSION;
}

int asx_nats_encode_connect(asx_buf *out, const asx_nats_connect_opts *o) {
  if (!out || !o) return ASX_EINVAL;
  if (o->protocol != 0 && o->protocol != 1) return ASX_EINVAL;
  /* nats-server refuses no_responders from a client that did not announce headers. */
  if (o->no_responders && !o->headers) return ASX_EINVAL;
  const char *strs[] = {o->name, o->lang, o->version, o->user, o->pass,
                        o->auth_token, o->jwt, o->nkey, o->sig};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (strs[i] && !utf8_valid((const uint8_t *)strs[i], strlen(strs[i]))) return ASX_EINVAL;

  size_t start = out->len;
  bool first = true;
  int rc = asx_buf_append_str(out, "CONNECT {");
  if (!rc) rc = json_field_bool(out, &first, "verbose", o->verbose);
  if (!rc) rc = json_field_bool(out, &first, "pedantic", o->pedantic);
  if (!rc) rc = json_field_bool(out, &first, "tls_required", o->tls_required);
  if (!rc) rc = json_field_str(out, &first, "name", o->name);
  if (!rc) rc = json_field_str(out, &first, "lang", o->lang ? o->lang : "C");
  if (!rc)
    rc = json_field_str(out, &first, "version", o->version ? o->version : ASX_NATS_CLIENT_VERSION);
  if (!rc) rc = asx_buf_appendf(out, ",\"protocol\":%d", o->protocol);
  if (!rc) rc = json_field_bool(out, &first, "echo", o->echo);
  if (!rc && o->headers) rc = json_field_bool(out, &first, "headers", true);
  if (!rc && o->no_responders) rc = json_field_bool(out, &first, "no_responders", true);
  if (!rc) rc = json_field_str(out, &first, "user", o->user);
  if (!rc) rc = json_field_str(out, &first, "pass", o->pass);
  if (!rc) rc = json_field_str(out, &first, "auth_token", o->auth_token);
  if (!rc) rc = json_field_str(out, &first, "jwt", o->jwt);
  if (!rc) rc = json_field_str(out, &first, "nkey", o->nkey);
  if (!rc) rc = json_field_str(out, &first, "sig", o->sig);
  if (!rc) rc = asx_buf_append_str(out, "}\r\n");
  return rc ? rollback(out, start, rc) : 0;
}

/* ---- PUB / HPUB / SUB / UNSUB ---- */

static bool subject_ok(const char *s, unsigned flags) {
  return s && asx_nats_subject_valid(s, strlen(s), flags);
}

/* Formats a decimal into buf (at least 21 bytes); returns the slice. */
static asx_slice u64_slice(char *buf, uint64_t v) {
  char *end = buf + 21, *p = end;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return (asx_slice){(const uint8_t *)p, (size_t)(end - p)};
}

/* Length of a control line given as parts (called before its CRLF is added). */
static size_t control_len(const asx_slice *parts, size_t n) {
  size_t sum = 0;
  for (size_t i = 0; i < n; i++) sum += parts[i].len;
  return sum;
}

static int encode_publish(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                          const char *reply, const asx_nats_hdr *h, const void *payload,
                          size_t len) {
  asx_nats_limits tmp;
  const asx_nats_limits *l = limits_or_default(limits, &tmp);
  if (!out || !subject_ok(subject, 0) || (reply && !subject_ok(reply, 0)) || (!payload && len))
    return ASX_EINVAL;
  if (h && !h->buf.data) return ASX_EINVAL;
  size_t hdr_len = h ? asx_nats_hdr_block_len(h) : 0;
  if (h && hdr_len > l->max_header_block) return ASX_ELIMIT;
  if (len > l->max_payload || hdr_len > l->max_payload - len) return ASX_ELIMIT;
  char nb1[21], nb2[21];
  asx_slice parts[16];
  size_t n = 0;
  parts[n++] = str_slice(h ? "HPUB " : "PUB ");
  parts[n++] = str_slice(subject);
  if (reply) {
    parts[n++] = str_slice(" ");
    parts[n++] = str_slice(reply);
  }
  parts[n++] = str_slice(" ");
  if (h) {
    parts[n++] = u64_slice(nb1, hdr_len);
    parts[n++] = str_slice(" ");
  }
  parts[n++] = u64_slice(nb2, (uint64_t)(hdr_len + len));
  if (control_len(parts, n) > l->max_control_line) return ASX_ELIMIT;
  parts[n++] = str_slice("\r\n");
  if (h) {
    parts[n++] = (asx_slice){h->buf.data, h->buf.len};
    parts[n++] = str_slice("\r\n");
  }
  parts[n++] = (asx_slice){payload, len};
  parts[n++] = str_slice("\r\n");
  return append_all(out, out->len, parts, n);
}

int asx_nats_encode_pub(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                        const char *reply, const void *payload, size_t len) {
  return encode_publish(out, limits, subject, reply, NULL, payload, len);
}

int asx_nats_encode_hpub(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                         const char *reply, const asx_nats_hdr *headers, const void *payload,
                         size_t len) {
  if (!headers) return ASX_EINVAL;
  return encode_publish(out, limits, subject, reply, headers, payload, len);
}

int asx_nats_encode_sub(asx_buf *out, const asx_nats_limits *limits, const char *subject,
                        const char *queue, const char *sid) {
  asx_nats_limits tmp;
  const asx_nats_limits *l = limits_or_default(limits, &tmp);
  if (!out || !subject_ok(subject, ASX_NATS_SUBJECT_WILDCARDS) || !sid ||
      !asx_nats_token_valid(sid, strlen(sid)) || (queue && !asx_nats_token_valid(queue, strlen(queue))))
    return ASX_EINVAL;
  asx_slice parts[7];
  size_t n = 0;
  parts[n++] = str_slice("SUB ");
  parts[n++] = str_slice(subject);
  if (queue) {
    parts[n++] = str_slice(" ");
    parts[n++] = str_slice(queue);
  }
  parts[n++] = str_slice(" ");
  parts[n++] = str_slice(sid);
  if (control_len(parts, n) > l->max_control_line) return ASX_ELIMIT;
  parts[n++] = str_slice("\r\n");
  return append_all(out, out->len, parts, n);
}

int asx_nats_encode_unsub(asx_buf *out, const asx_nats_limits *limits, const char *sid,
                          uint64_t max_msgs) {
  asx_nats_limits tmp;
  const asx_nats_limits *l = limits_or_default(limits, &tmp);
  if (!out || !sid || !asx_nats_token_valid(sid, strlen(sid))) return ASX_EINVAL;
  char nb[21];
  asx_slice parts[5];
  size_t n = 0;
  parts[n++] = str_slice("UNSUB ");
  parts[n++] = str_slice(sid);
  if (max_msgs) {
    parts[n++] = str_slice(" ");
    parts[n++] = u64_slice(nb, max_msgs);
  }
  if (control_len(parts, n) > l->max_control_line) return ASX_ELIMIT;
  parts[n++] = str_slice("\r\n");
  return append_all(out, out->len, parts, n);
}

int asx_nats_encode_ping(asx_buf *out) { return out ? asx_buf_append_str(out, "PING\r\n") : ASX_EINVAL; }

int asx_nats_encode_pong(asx_buf *out) { return out ? asx_buf_append_str(out, "PONG\r\n") : ASX_EINVAL; }

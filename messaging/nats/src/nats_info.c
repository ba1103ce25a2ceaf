/* INFO payload -> asx_nats_server_info, on top of the strict JSON cursor. Known fields must have
 * the JSON type nats-server gives them (null counts as absent); unknown fields are validated and
 * skipped, so a newer server's extra fields never break an older client. */
#include <stdio.h>
#include <string.h>

#include "nats_internal.h"
#include "nats_json.h"

/* Generous enough for any realistic INFO; each check still names the field. */
#define MAX_DEPTH_CONFIGURABLE 256

typedef enum field_kind { F_STR, F_I64, F_U64, F_BOOL, F_URLS } field_kind;

typedef struct field {
  const char *name;
  field_kind kind;
  size_t offset;
} field;

#define FIELD(n, k) {#n, k, offsetof(asx_nats_server_info, n)}
static const field fields[] = {
    FIELD(server_id, F_STR),     FIELD(server_name, F_STR),   FIELD(version, F_STR),
    FIELD(go, F_STR),            FIELD(host, F_STR),          FIELD(nonce, F_STR),
    FIELD(cluster, F_STR),       FIELD(domain, F_STR),        FIELD(client_ip, F_STR),
    FIELD(port, F_I64),          FIELD(proto, F_I64),         FIELD(max_payload, F_I64),
    FIELD(client_id, F_U64),     FIELD(headers, F_BOOL),      FIELD(auth_required, F_BOOL),
    FIELD(tls_required, F_BOOL), FIELD(tls_verify, F_BOOL),   FIELD(tls_available, F_BOOL),
    FIELD(jetstream, F_BOOL),    FIELD(ldm, F_BOOL),          FIELD(connect_urls, F_URLS),
};

typedef struct info_ctx {
  asx_nats_json j;
  asx_nats_server_info *info;
  const asx_allocator *alloc;
  const asx_nats_limits *lim;
  const char *field;
  char *err;
  size_t err_len;
} info_ctx;

static int field_fail(info_ctx *c, int code, const char *what) {
  if (c->err && c->err_len && c->err[0] == '\0')
    snprintf(c->err, c->err_len, "INFO field %s: %s", c->field, what);
  return code;
}

/* Reads a JSON string into a fresh NUL-terminated C string owned by the allocator. */
static int read_cstring(info_ctx *c, char **out) {
  asx_buf b;
  asx_buf_init(&b, c->alloc, c->lim->max_json_length + 1);
  asx_nats_json_sink sink = {.buf = &b};
  int rc = asx_nats_json_string(&c->j, &sink);
  if (!rc && b.len && memchr(b.data, '\0', b.len)) rc = field_fail(c, ASX_EPROTO, "NUL in string");
  if (!rc) rc = asx_buf_append_byte(&b, '\0');
  if (rc) {
    if (rc == ASX_ENOMEM) field_fail(c, rc, "out of memory");
    asx_buf_free(&b);
    return rc;
  }
  *out = (char *)b.data;
  return 0;
}

static int read_int(info_ctx *c, bool is_unsigned, void *dst) {
  asx_slice text;
  bool is_int;
  int rc = asx_nats_json_number(&c->j, &text, &is_int);
  if (rc) return rc;
  if (!is_int) return field_fail(c, ASX_EPROTO, "expected an integer");
  bool neg = text.ptr[0] == '-';
  if (neg && is_unsigned) return field_fail(c, ASX_EPROTO, "expected an unsigned integer");
  uint64_t v = 0;
  uint64_t limit = is_unsigned ? UINT64_MAX : (uint64_t)INT64_MAX + (neg ? 1u : 0u);
  for (size_t i = neg ? 1 : 0; i < text.len; i++) {
    unsigned d = (unsigned)(text.ptr[i] - '0');
    if (v > (limit - d) / 10) return field_fail(c, ASX_EPROTO, "integer out of range");
    v = v * 10 + d;
  }
  if (is_unsigned) {
    *(uint64_t *)dst = v;
  } else {
    /* Negate in unsigned arithmetic so that INT64_MIN does not overflow. */
    *(int64_t *)dst = neg ? (int64_t)(0 - v) : (int64_t)v;
  }
  return 0;
}

static void free_urls(asx_nats_server_info *info) {
  for (size_t i = 0; i < info->connect_urls_len; i++) asx_free(info->alloc, info->connect_urls[i]);
  asx_free(info->alloc, info->connect_urls);
  info->connect_urls = NULL;
  info->connect_urls_len = 0;
}

static int read_urls(info_ctx *c) {
  asx_nats_server_info *info = c->info;
  free_urls(info); /* a repeated key replaces the earlier list */
  int rc = asx_nats_json_open(&c->j, '[');
  bool first = true, done = false;
  size_t cap = 0;
  while (!rc) {
    rc = asx_nats_json_element(&c->j, &first, &done);
    if (rc || done) break;
    if (asx_nats_json_peek(&c->j) != ASX_NATS_JSON_STRING)
      return field_fail(c, ASX_EPROTO, "expected an array of strings");
    if (info->connect_urls_len == c->lim->max_connect_urls)
      return field_fail(c, ASX_ELIMIT, "too many entries");
    if (info->connect_urls_len == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      if (ncap > c->lim->max_connect_urls) ncap = c->lim->max_connect_urls;
      char **n = asx_realloc(c->alloc, info->connect_urls, ncap * sizeof *n);
      if (!n) return field_fail(c, ASX_ENOMEM, "out of memory");
      info->connect_urls = n;
      cap = ncap;
    }
    char *s = NULL;
    rc = read_cstring(c, &s);
    if (!rc) info->connect_urls[info->connect_urls_len++] = s;
  }
  return rc;
}

static int read_field(info_ctx *c, const field *f) {
  asx_nats_json_type t = asx_nats_json_peek(&c->j);
  if (t == ASX_NATS_JSON_NULL) return asx_nats_json_literal(&c->j, &t);
  void *dst = (char *)c->info + f->offset;
  switch (f->kind) {
    case F_STR: {
      if (t != ASX_NATS_JSON_STRING) return field_fail(c, ASX_EPROTO, "expected a string");
      char *s = NULL;
      int rc = read_cstring(c, &s);
      if (rc) return rc;
      asx_free(c->alloc, *(char **)dst);
      *(char **)dst = s;
      return 0;
    }
    case F_I64:
    case F_U64:
      if (t != ASX_NATS_JSON_NUMBER) return field_fail(c, ASX_EPROTO, "expected an integer");
      return read_int(c, f->kind == F_U64, dst);
    case F_BOOL: {
      if (t != ASX_NATS_JSON_TRUE && t != ASX_NATS_JSON_FALSE)
        return field_fail(c, ASX_EPROTO, "expected a boolean");
      int rc = asx_nats_json_literal(&c->j, &t);
      if (!rc) *(bool *)dst = t == ASX_NATS_JSON_TRUE;
      return rc;
    }
    case F_URLS:
      if (t != ASX_NATS_JSON_ARRAY) return field_fail(c, ASX_EPROTO, "expected an array of strings");
      return read_urls(c);
  }
  return ASX_ECORRUPT;
}

static const field *find_field(const asx_nats_json_sink *key) {
  if (key->truncated) return NULL;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (asx_slice_eq((asx_slice){key->fixed, key->fixed_len}, fields[i].name)) return &fields[i];
  }
  return NULL;
}

int asx_nats_info_parse(asx_nats_server_info *info, asx_slice json, const asx_nats_limits *limits,
                        const asx_allocator *alloc, char *errmsg, size_t errmsg_len) {
  if (!info) return ASX_EINVAL;
  memset(info, 0, sizeof *info);
  info->alloc = alloc;
  if (errmsg && errmsg_len) errmsg[0] = '\0';
  asx_nats_limits def;
  if (!limits) {
    asx_nats_limits_default(&def);
    limits = &def;
  }
  if (!json.ptr && json.len) return ASX_EINVAL;
  if (limits->max_json_depth == 0 || limits->max_json_depth > MAX_DEPTH_CONFIGURABLE)
    return ASX_EINVAL;
  if (json.len > limits->max_json_length) {
    if (errmsg && errmsg_len)
      snprintf(errmsg, errmsg_len, "INFO JSON of %zu bytes exceeds limit %zu", json.len,
               limits->max_json_length);
    return ASX_ELIMIT;
  }
  info_ctx c = {.info = info, .alloc = alloc, .lim = limits, .field = "?", .err = errmsg,
                .err_len = errmsg_len};
  asx_nats_json_init(&c.j, json.ptr, json.len, limits->max_json_depth, errmsg, errmsg_len);
  int rc = asx_nats_json_peek(&c.j) == ASX_NATS_JSON_OBJECT
               ? asx_nats_json_open(&c.j, '{')
               : asx_nats_json_fail(&c.j, ASX_EPROTO, "INFO is not a JSON object");
  bool first = true, done = false;
  uint8_t keybuf[32];
  while (!rc) {
    asx_nats_json_sink key = {.fixed = keybuf, .fixed_cap = sizeof keybuf};
    rc = asx_nats_json_member(&c.j, &first, &key, &done);
    if (rc || done) break;
    const field *f = find_field(&key);
    if (f) {
      c.field = f->name;
      rc = read_field(&c, f);
    } else {
      rc = asx_nats_json_skip(&c.j);
    }
  }
  if (!rc) rc = asx_nats_json_finish(&c.j);
  if (rc) asx_nats_server_info_free(info);
  return rc;
}

void asx_nats_server_info_free(asx_nats_server_info *info) {
  if (!info) return;
  const asx_allocator *a = info->alloc;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (fields[i].kind == F_STR) asx_free(a, *(char **)((char *)info + fields[i].offset));
  }
  free_urls(info);
  memset(info, 0, sizeof *info);
  info->alloc = a;
}

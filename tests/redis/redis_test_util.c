#include "redis_test_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *buf_str(asx_buf *b) {
  if (asx_buf_reserve(b, 1) != 0) abort();
  b->data[b->len] = '\0';
  return (const char *)b->data;
}

static void put_escaped(asx_buf *out, const void *p, size_t n) {
  const uint8_t *s = p;
  asx_buf_append_byte(out, '"');
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= 32 && s[i] < 127 && s[i] != '"' && s[i] != '\\')
      asx_buf_append_byte(out, s[i]);
    else
      asx_buf_appendf(out, "\\x%02x", s[i]);
  }
  asx_buf_append_byte(out, '"');
}

void dump_reply(asx_buf *out, const asx_redis_reply *r) {
  if (r->attribute) {
    asx_buf_append_str(out, "attr");
    dump_reply(out, r->attribute);
    asx_buf_append_byte(out, ' ');
  }
  asx_buf_appendf(out, "%s/%c", asx_redis_type_name(r->type), r->wire);
  switch (r->type) {
    case ASX_REDIS_INTEGER:
    case ASX_REDIS_BOOL: asx_buf_appendf(out, "(%" PRId64 ")", r->integer); break;
    case ASX_REDIS_DOUBLE:
      if (isnan(r->dbl))
        asx_buf_append_str(out, "(nan)");
      else
        asx_buf_appendf(out, "(%.17g)", r->dbl);
      break;
    case ASX_REDIS_VERBATIM: asx_buf_appendf(out, "[%s]", r->format); /* fall through */
    case ASX_REDIS_STRING:
    case ASX_REDIS_ERROR:
    case ASX_REDIS_BULK:
    case ASX_REDIS_BULK_ERROR:
    case ASX_REDIS_BIGNUM:
      put_escaped(out, r->str, r->len);
      if (r->str[r->len] != '\0') asx_buf_append_str(out, "<NOT NUL-TERMINATED>");
      break;
    default: break;
  }
  if (r->type == ASX_REDIS_ARRAY || r->type == ASX_REDIS_MAP || r->type == ASX_REDIS_SET ||
      r->type == ASX_REDIS_ATTRIBUTE || r->type == ASX_REDIS_PUSH) {
    asx_buf_appendf(out, "%zu{", r->n);
    for (size_t i = 0; i < r->n; i++) {
      if (i) asx_buf_append_byte(out, ',');
      dump_reply(out, r->elements[i]);
    }
    asx_buf_append_byte(out, '}');
  }
}

int decode_pieces(const void *in, size_t n, const size_t *cuts, size_t ncuts,
                  const asx_redis_limits *lim, const asx_allocator *alloc, asx_buf *out,
                  void (*on_enomem)(void *), void *ud) {
  asx_redis_decoder *d = NULL;
  int rc;
  while ((rc = asx_redis_decoder_new(&d, lim, alloc)) == ASX_ENOMEM && on_enomem) on_enomem(ud);
  if (rc) return rc;
  const uint8_t *p = in;
  size_t pos = 0;
  rc = ASX_EAGAIN;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : n;
    while (pos < end || rc == ASX_ENOMEM) {
      size_t used = 0;
      asx_redis_reply *r = NULL;
      rc = asx_redis_decoder_feed(d, p + pos, end - pos, &used, &r);
      pos += used;
      if (rc == 0) {
        dump_reply(out, r);
        asx_buf_append_byte(out, '\n');
        asx_redis_reply_free(r);
        continue;
      }
      if (rc == ASX_ENOMEM && on_enomem) {
        on_enomem(ud);
        continue;
      }
      if (rc != ASX_EAGAIN) goto done;
      if (pos != end) {
        rc = ASX_ECORRUPT; /* EAGAIN must mean everything was consumed */
        goto done;
      }
    }
  }
done:
  asx_redis_decoder_free(d);
  return rc;
}

int decode_whole(const void *in, size_t n, const asx_redis_limits *lim, asx_buf *out) {
  return decode_pieces(in, n, NULL, 0, lim, NULL, out, NULL, NULL);
}

int decode_bytewise(const void *in, size_t n, const asx_redis_limits *lim, asx_buf *out) {
  size_t *cuts = malloc((n ? n : 1) * sizeof *cuts);
  for (size_t i = 0; i < n; i++) cuts[i] = i + 1;
  int rc = decode_pieces(in, n, cuts, n ? n - 1 : 0, lim, NULL, out, NULL, NULL);
  free(cuts);
  return rc;
}

asx_redis_reply *decode_one(const char *s) {
  asx_redis_decoder *d = NULL;
  if (asx_redis_decoder_new(&d, NULL, NULL)) return NULL;
  size_t used = 0;
  asx_redis_reply *r = NULL;
  int rc = asx_redis_decoder_feed(d, (const uint8_t *)s, strlen(s), &used, &r);
  asx_redis_decoder_free(d);
  if (rc != 0 || used != strlen(s)) {
    asx_redis_reply_free(r);
    return NULL;
  }
  return r;
}

int commands_pieces(const void *in, size_t n, const size_t *cuts, size_t ncuts,
                    const asx_redis_limits *lim, const asx_allocator *alloc, asx_buf *out,
                    void (*on_enomem)(void *), void *ud) {
  asx_redis_cmd_decoder *d = NULL;
  int rc;
  while ((rc = asx_redis_cmd_decoder_new(&d, lim, alloc)) == ASX_ENOMEM && on_enomem) on_enomem(ud);
  if (rc) return rc;
  const uint8_t *p = in;
  size_t pos = 0;
  rc = ASX_EAGAIN;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : n;
    while (pos < end || rc == ASX_ENOMEM) {
      size_t used = 0;
      const asx_redis_command *c = NULL;
      rc = asx_redis_cmd_decoder_feed(d, p + pos, end - pos, &used, &c);
      pos += used;
      if (rc == 0) {
        asx_buf_append_str(out, c->inline_form ? "inline" : "resp");
        for (size_t i = 0; i < c->argc; i++) {
          asx_buf_append_byte(out, ' ');
          put_escaped(out, c->argv[i].ptr, c->argv[i].len);
        }
        asx_buf_append_byte(out, '\n');
        continue;
      }
      if (rc == ASX_ENOMEM && on_enomem) {
        on_enomem(ud);
        continue;
      }
      if (rc != ASX_EAGAIN) goto done;
      if (pos != end) {
        rc = ASX_ECORRUPT;
        goto done;
      }
    }
  }
done:
  asx_redis_cmd_decoder_free(d);
  return rc;
}

#include "http1_test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct recorder {
  asx_buf log;
  size_t base;      /* absolute offset of the current feed */
  int last_type;    /* merges consecutive DATA events: splits change how body bytes are cut */
  int messages;
  int upgraded;
} recorder;

static void put_slice(asx_buf *b, asx_slice s) { asx_buf_append(b, s.ptr, s.len); }

static int record(void *ud, const asx_http1_event *ev) {
  recorder *r = ud;
  asx_buf *b = &r->log;
  if (ev->type == ASX_HTTP1_EV_DATA && r->last_type == ASX_HTTP1_EV_DATA) {
    put_slice(b, ev->u.data.bytes);
    return 0;
  }
  if (r->last_type == ASX_HTTP1_EV_DATA) asx_buf_append_str(b, "\n");
  r->last_type = (int)ev->type;
  switch (ev->type) {
    case ASX_HTTP1_EV_REQUEST_LINE:
      asx_buf_append_str(b, "REQ ");
      put_slice(b, ev->u.request.method_name);
      asx_buf_appendf(b, "(%d) ", (int)ev->u.request.method);
      put_slice(b, ev->u.request.target);
      asx_buf_appendf(b, " 1.%d\n", ev->u.request.minor);
      break;
    case ASX_HTTP1_EV_STATUS_LINE:
      asx_buf_appendf(b, "STATUS 1.%d %d ", ev->u.status.minor, ev->u.status.code);
      put_slice(b, ev->u.status.reason);
      asx_buf_append_str(b, "\n");
      break;
    case ASX_HTTP1_EV_HEADER:
    case ASX_HTTP1_EV_TRAILER:
      asx_buf_append_str(b, ev->type == ASX_HTTP1_EV_HEADER ? "H " : "T ");
      put_slice(b, ev->u.field.name);
      asx_buf_append_str(b, "=[");
      put_slice(b, ev->u.field.value);
      asx_buf_append_str(b, "]\n");
      break;
    case ASX_HTTP1_EV_HEADERS_DONE:
      asx_buf_appendf(b, "HD body=%d cl=%llu ka=%d expect=%d upgrade=%d proto=%d\n", (int)ev->u.head.body,
                      (unsigned long long)ev->u.head.content_length, ev->u.head.keep_alive,
                      ev->u.head.expect_continue, ev->u.head.upgrade, (int)ev->u.head.proto);
      break;
    case ASX_HTTP1_EV_DATA:
      asx_buf_append_str(b, "D ");
      put_slice(b, ev->u.data.bytes);
      break;
    case ASX_HTTP1_EV_MESSAGE_DONE:
      asx_buf_appendf(b, "END ka=%d\n", ev->u.done.keep_alive);
      r->messages++;
      break;
    case ASX_HTTP1_EV_UPGRADE:
      asx_buf_appendf(b, "UPGRADE kind=%d proto=%d at=%zu\n", (int)ev->u.upgrade.kind,
                      (int)ev->u.upgrade.proto, r->base + ev->u.upgrade.offset);
      r->upgraded = 1;
      break;
  }
  return 0;
}

static h1_run run_pieces(const h1_opts *o, const char *in, size_t len, const size_t *cuts, size_t ncuts) {
  h1_run out;
  memset(&out, 0, sizeof out);
  recorder r;
  memset(&r, 0, sizeof r);
  r.last_type = -1;
  asx_buf_init(&r.log, NULL, 0);
  asx_http1_decoder *d = NULL;
  int rc = asx_http1_decoder_new(&d, o->kind, o->limits, record, &r, o->alloc);
  cr_assert_eq(rc, 0, "decoder_new: %d", rc);
  if (o->kind == ASX_HTTP1_RESPONSE && o->method) asx_http1_decoder_set_request_method(d, o->method);
  size_t pos = 0;
  for (size_t k = 0; k <= ncuts && rc == 0 && !r.upgraded; k++) {
    size_t end = k < ncuts ? cuts[k] : len;
    if (end < pos) continue;
    while (pos < end && rc == 0 && !r.upgraded) {
      size_t c = 0;
      r.base = pos;
      rc = asx_http1_decoder_feed(d, (const uint8_t *)in + pos, end - pos, &c);
      pos += c;
      if (rc == 0 && c == 0) {
        asx_buf_append_str(&r.log, "STALL\n");
        rc = -9999;
      }
    }
  }
  if (rc == 0 && !r.upgraded && o->finish) rc = asx_http1_decoder_finish(d);
  if (r.last_type == ASX_HTTP1_EV_DATA) asx_buf_append_str(&r.log, "\n");
  if (rc) asx_buf_appendf(&r.log, "ERR %s\n", asx_http1_error_name(asx_http1_decoder_error(d)));
  asx_buf_append_byte(&r.log, 0);
  out.log = strdup((const char *)r.log.data);
  out.rc = rc;
  out.error = asx_http1_decoder_error(d);
  snprintf(out.message, sizeof out.message, "%s", asx_http1_decoder_error_message(d));
  out.consumed = pos;
  out.messages = r.messages;
  out.upgraded = r.upgraded;
  asx_buf_free(&r.log);
  asx_http1_decoder_free(d);
  return out;
}

h1_run h1_decode(const h1_opts *o, const char *in, size_t len, size_t step) {
  if (step == 0 || step >= len) return run_pieces(o, in, len, NULL, 0);
  size_t n = (len - 1) / step;
  size_t *cuts = malloc(n * sizeof *cuts);
  for (size_t i = 0; i < n; i++) cuts[i] = (i + 1) * step;
  h1_run r = run_pieces(o, in, len, cuts, n);
  free(cuts);
  return r;
}

h1_run h1_decode_split(const h1_opts *o, const char *in, size_t len, size_t split) {
  return run_pieces(o, in, len, &split, 1);
}

void h1_run_free(h1_run *r) {
  free(r->log);
  r->log = NULL;
}

h1_run h1_req(const char *s) {
  h1_opts o = {.kind = ASX_HTTP1_REQUEST, .finish = 1};
  return h1_decode(&o, s, strlen(s), 0);
}

h1_run h1_resp(const char *s, asx_http1_method m) {
  h1_opts o = {.kind = ASX_HTTP1_RESPONSE, .method = m, .finish = 1};
  return h1_decode(&o, s, strlen(s), 0);
}

void h1_assert_split_invariant(const h1_opts *o, const char *in, size_t len, int every_split) {
  h1_run whole = h1_decode(o, in, len, 0);
  h1_run bytes = h1_decode(o, in, len, 1);
  cr_assert_str_eq(bytes.log, whole.log, "one byte at a time differs:\n%s\nwhole:\n%s", bytes.log, whole.log);
  cr_assert_eq(bytes.error, whole.error);
  h1_run_free(&bytes);
  for (size_t s = 1; every_split && s < len; s++) {
    h1_run split = h1_decode_split(o, in, len, s);
    cr_assert_str_eq(split.log, whole.log, "split at %zu differs:\n%s\nwhole:\n%s", s, split.log, whole.log);
    h1_run_free(&split);
  }
  h1_run_free(&whole);
}

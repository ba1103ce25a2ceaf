/* Fuzz harness for the HTTP/1.1 request decoder (fuzz_http1_response.c reuses it for responses).
 * Each input is one byte stream decoded whole and split in two at a position derived from the
 * input (and, when small, one byte at a time). The event streams (body bytes merged, since splits cut DATA differently),
 * the final error and the bytes accepted must be identical, and cheap invariants must hold;
 * any difference is a decoder bug and abort()s. Half of the inputs run with tiny limits so the
 * limit paths are reached by small inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/http1.h"

#ifndef H1_FUZZ_RESPONSE
#define H1_FUZZ_RESPONSE 0
#endif

typedef struct trace {
  uint64_t hash;       /* FNV-1a over the event stream */
  int last_type;
  uint64_t body;       /* body bytes of the current message */
  int upgraded;
  const asx_http1_limits *limits;
} trace;

static void mix(trace *t, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    t->hash ^= b[i];
    t->hash *= 1099511628211ull;
  }
}

static void mix_slice(trace *t, asx_slice s) {
  if (s.len > 0 && !s.ptr) abort();
  mix(t, &s.len, sizeof s.len);
  mix(t, s.ptr, s.len);
}

static int on_event(void *ud, const asx_http1_event *ev) {
  trace *t = ud;
  if (t->upgraded) abort(); /* nothing may follow an upgrade */
  if (ev->type == ASX_HTTP1_EV_DATA) {
    if (ev->u.data.bytes.len == 0 || !ev->u.data.bytes.ptr) abort();
    t->body += ev->u.data.bytes.len;
    if (t->body > t->limits->max_body) abort();
    if (t->last_type != ASX_HTTP1_EV_DATA) mix(t, "D", 1);
    mix(t, ev->u.data.bytes.ptr, ev->u.data.bytes.len);
    t->last_type = ASX_HTTP1_EV_DATA;
    return 0;
  }
  t->last_type = (int)ev->type;
  int type = (int)ev->type;
  mix(t, &type, sizeof type);
  switch (ev->type) {
    case ASX_HTTP1_EV_REQUEST_LINE:
      if (ev->u.request.target.len > t->limits->max_target) abort();
      mix_slice(t, ev->u.request.method_name);
      mix_slice(t, ev->u.request.target);
      mix(t, &ev->u.request.minor, sizeof(int));
      break;
    case ASX_HTTP1_EV_STATUS_LINE:
      if (ev->u.status.code < 100 || ev->u.status.code > 999) abort();
      mix_slice(t, ev->u.status.reason);
      mix(t, &ev->u.status.code, sizeof(int));
      break;
    case ASX_HTTP1_EV_HEADER:
    case ASX_HTTP1_EV_TRAILER:
      if (ev->u.field.name.len == 0) abort();
      for (size_t i = 0; i < ev->u.field.value.len; i++) {
        uint8_t c = ev->u.field.value.ptr[i];
        if (c == '\r' || c == '\n' || c == 0) abort(); /* never passed on to users */
      }
      mix_slice(t, ev->u.field.name);
      mix_slice(t, ev->u.field.value);
      break;
    case ASX_HTTP1_EV_HEADERS_DONE: {
      int v[5] = {(int)ev->u.head.body, ev->u.head.keep_alive, ev->u.head.expect_continue,
                  ev->u.head.upgrade, (int)ev->u.head.proto};
      mix(t, v, sizeof v);
      mix(t, &ev->u.head.content_length, sizeof(uint64_t));
      if (ev->u.head.content_length > t->limits->max_body) abort();
      break;
    }
    case ASX_HTTP1_EV_MESSAGE_DONE:
      mix(t, &ev->u.done.keep_alive, sizeof(bool));
      t->body = 0;
      break;
    case ASX_HTTP1_EV_UPGRADE:
      mix(t, &ev->u.upgrade.kind, sizeof ev->u.upgrade.kind);
      t->upgraded = 1;
      break;
    default:
      abort();
  }
  return 0;
}

typedef struct outcome {
  uint64_t hash;
  size_t consumed;
  int rc;
  asx_http1_error error;
} outcome;

/* Decodes `data` in two pieces cut at `split`, or one byte at a time when `bytewise`. */
static outcome run(const uint8_t *data, size_t len, size_t split, int bytewise,
                   const asx_http1_limits *limits, asx_http1_method method) {
  trace t = {.hash = 1469598103934665603ull, .last_type = -1, .limits = limits};
  asx_http1_decoder *d = NULL;
  if (asx_http1_decoder_new(&d, H1_FUZZ_RESPONSE ? ASX_HTTP1_RESPONSE : ASX_HTTP1_REQUEST, limits,
                            on_event, &t, NULL) != 0) {
    abort();
  }
  if (H1_FUZZ_RESPONSE) asx_http1_decoder_set_request_method(d, method);
  size_t pos = 0;
  int rc = 0;
  size_t cuts[2] = {split, len};
  for (int k = 0; k < 2 && rc == 0 && !t.upgraded; k++) {
    while (pos < cuts[k] && rc == 0 && !t.upgraded) {
      size_t c = (size_t)-1;
      size_t avail = bytewise ? 1 : cuts[k] - pos;
      rc = asx_http1_decoder_feed(d, data + pos, avail, &c);
      if (c > avail) abort();
      if (rc == 0 && c < avail && !t.upgraded && !asx_http1_decoder_idle(d)) abort(); /* stopped mid-message */
      if (rc == 0 && c == 0) abort(); /* no progress */
      pos += c;
    }
  }
  if (rc == 0 && !t.upgraded) rc = asx_http1_decoder_finish(d);
  if (rc == ASX_ENOMEM) abort(); /* the libc allocator does not fail here */
  asx_http1_error e = asx_http1_decoder_error(d);
  if ((rc != 0) != (e != ASX_HTTP1_OK)) abort();
  if (e != ASX_HTTP1_OK && asx_http1_decoder_error_message(d)[0] == '\0') abort();
  mix(&t, &e, sizeof e);
  outcome o = {t.hash, pos, rc, e};
  asx_http1_decoder_free(d);
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t h = 0;
  for (size_t i = 0; i < size; i++) h = h * 31 + data[i];
  asx_http1_limits limits = asx_http1_limits_default();
  if (h & 8) {
    limits.max_target = 64;
    limits.max_header_block = 256;
    limits.max_headers = 8;
    limits.max_body = 512;
    limits.max_chunk_ext = 16;
  }
  static const asx_http1_method methods[4] = {ASX_HTTP1_GET, ASX_HTTP1_HEAD, ASX_HTTP1_CONNECT, ASX_HTTP1_POST};
  asx_http1_method method = methods[(h >> 4) & 3];
  size_t split = size ? (size_t)((h >> 8) % (size + 1)) : 0;
  outcome whole = run(data, size, size, 0, &limits, method);
  outcome cut = run(data, size, split, 0, &limits, method);
  /* Small inputs are also fed one byte at a time (the hardest split of all). */
  outcome bytes = size <= 512 ? run(data, size, size, 1, &limits, method) : whole;
  if (bytes.hash != whole.hash || bytes.rc != whole.rc || bytes.error != whole.error ||
      (whole.rc == 0 && whole.consumed != bytes.consumed)) {
    abort();
  }
  /* On error the position reached may differ (a limit can be noticed at a split), the events
   * may not. */
  if (whole.hash != cut.hash || whole.rc != cut.rc || whole.error != cut.error ||
      (whole.rc == 0 && whole.consumed != cut.consumed)) {
    abort();
  }
  return 0;
}

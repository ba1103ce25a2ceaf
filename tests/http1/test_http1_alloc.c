/* Failing-allocator tests: decoder creation and decoding with every allocation index failing in
 * turn. A failed feed returns ASX_ENOMEM with *consumed = what was accepted; feeding the rest
 * again after the allocator recovers gives exactly the events of an undisturbed run. */
#include <criterion/criterion.h>
#include <string.h>

#include "http1_test_util.h"
#include "test_alloc.h"

TestSuite(http1_alloc, .timeout = 120);

/* Decodes `in` with allocations failing after `fail` successes; each ASX_ENOMEM lets the
 * allocator recover and resumes from the reported position. */
static h1_run decode_with_failures(const char *in, size_t len, long fail, size_t step, int *saw_nomem) {
  test_alloc ta;
  test_alloc_init(&ta);
  h1_run r;
  memset(&r, 0, sizeof r);
  asx_http1_decoder *d = NULL;
  test_alloc_fail_after(&ta, fail);
  int rc = asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, NULL, NULL, &ta.base);
  if (rc) {
    cr_assert_eq(rc, ASX_ENOMEM);
    cr_assert_null(d);
    cr_assert_eq(ta.live, 0);
    *saw_nomem = 1;
    test_alloc_fail_after(&ta, -1);
    cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, NULL, NULL, &ta.base), 0);
  }
  size_t pos = 0;
  while (pos < len && rc != ASX_EPROTO) {
    size_t end = step && pos + step < len ? pos + step : len;
    size_t c = 0;
    rc = asx_http1_decoder_feed(d, (const uint8_t *)in + pos, end - pos, &c);
    cr_assert_leq(c, end - pos);
    pos += c;
    if (rc == ASX_ENOMEM) {
      *saw_nomem = 1;
      test_alloc_fail_after(&ta, -1); /* recover, then retry the unaccepted bytes */
      rc = 0;
    } else {
      cr_assert_eq(rc, 0, "rc %d at %zu: %s", rc, pos, asx_http1_decoder_error_message(d));
    }
  }
  r.consumed = pos;
  asx_http1_decoder_free(d);
  cr_assert_eq(ta.live, 0, "leak with fail=%ld", fail);
  return r;
}

Test(http1_alloc, every_allocation_index_fails_in_turn) {
  static const char *in =
      "POST /upload/a/rather/long/target/to/force/growth?x=1&y=2 HTTP/1.1\r\n"
      "Host: example.com\r\nX-Long: 0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nabcd\r\n0\r\nX-Trailer: 012345678901234567890123456789012345678901234567890123456789012345678901234\r\n\r\n"
      "GET /next HTTP/1.1\r\n\r\n";
  size_t len = strlen(in);
  for (size_t step = 0; step <= 7; step += 7) {
    int saw = 1;
    long fail;
    for (fail = 0; saw; fail++) {
      saw = 0;
      h1_run r = decode_with_failures(in, len, fail, step, &saw);
      cr_assert_eq(r.consumed, len, "fail=%ld step=%zu consumed %zu", fail, step, r.consumed);
      cr_assert_lt(fail, 200, "allocation count does not converge");
    }
    cr_assert_gt(fail, 3, "the input must make the decoder allocate several times");
  }
}

/* Same, but checking the delivered events: recorded through the callback, compared with an
 * undisturbed run, so a retried feed neither loses nor repeats an event. */
typedef struct ev_log {
  asx_buf b;
} ev_log;

static int log_event(void *ud, const asx_http1_event *ev) {
  ev_log *l = ud;
  asx_buf_appendf(&l->b, "%d:", (int)ev->type);
  switch (ev->type) {
    case ASX_HTTP1_EV_HEADER:
    case ASX_HTTP1_EV_TRAILER:
      asx_buf_append(&l->b, ev->u.field.name.ptr, ev->u.field.name.len);
      asx_buf_append(&l->b, "=", 1);
      asx_buf_append(&l->b, ev->u.field.value.ptr, ev->u.field.value.len);
      break;
    case ASX_HTTP1_EV_REQUEST_LINE:
      asx_buf_append(&l->b, ev->u.request.target.ptr, ev->u.request.target.len);
      break;
    case ASX_HTTP1_EV_DATA:
      asx_buf_append(&l->b, ev->u.data.bytes.ptr, ev->u.data.bytes.len);
      break;
    default: break;
  }
  asx_buf_append(&l->b, "\n", 1);
  return 0;
}

Test(http1_alloc, events_identical_after_enomem_retries) {
  static const char *in = "PUT /t0123456789 HTTP/1.1\r\nA: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                          "Content-Length: 3\r\n\r\nxyzGET / HTTP/1.1\r\nB: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n";
  size_t len = strlen(in);
  ev_log ref;
  asx_buf_init(&ref.b, NULL, 0);
  asx_http1_decoder *d;
  cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, log_event, &ref, NULL), 0);
  size_t pos = 0, c;
  while (pos < len) {
    cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in + pos, len - pos, &c), 0);
    pos += c;
  }
  asx_http1_decoder_free(d);
  for (long fail = 0; fail < 40; fail++) {
    test_alloc ta;
    test_alloc_init(&ta);
    ev_log got;
    asx_buf_init(&got.b, NULL, 0);
    cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, log_event, &got, &ta.base), 0);
    test_alloc_fail_after(&ta, fail);
    pos = 0;
    int nomem = 0;
    while (pos < len) {
      int rc = asx_http1_decoder_feed(d, (const uint8_t *)in + pos, len - pos, &c);
      pos += c;
      if (rc == ASX_ENOMEM) {
        nomem++;
        test_alloc_fail_after(&ta, fail); /* keep failing from time to time */
        if (nomem > 50) test_alloc_fail_after(&ta, -1);
        continue;
      }
      cr_assert_eq(rc, 0);
    }
    cr_assert_eq(got.b.len, ref.b.len, "fail=%ld:\n%.*s", fail, (int)got.b.len, (const char *)got.b.data);
    cr_assert(memcmp(got.b.data, ref.b.data, ref.b.len) == 0, "fail=%ld", fail);
    asx_http1_decoder_free(d);
    cr_assert_eq(ta.live, 0);
    asx_buf_free(&got.b);
  }
  asx_buf_free(&ref.b);
}

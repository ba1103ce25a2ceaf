/* Encoders: exact bytes, round trips through the decoder, validation against header injection,
 * and "buffer unchanged on error" (invalid input, hard cap, allocation failure). */
#include <criterion/criterion.h>
#include <string.h>

#include "http1_test_util.h"
#include "test_alloc.h"

TestSuite(http1_encode, .timeout = 60);

#define S(str) ((asx_slice){(const uint8_t *)(str), sizeof(str) - 1})

static void assert_buf(const asx_buf *b, const char *expected) {
  cr_assert_eq(b->len, strlen(expected), "len %zu: %.*s", b->len, (int)b->len, (const char *)b->data);
  cr_assert(memcmp(b->data, expected, b->len) == 0, "got %.*s", (int)b->len, (const char *)b->data);
}

Test(http1_encode, request_head_exact_bytes) {
  asx_http1_header h[] = {{S("Host"), S("example.com")}, {S("Accept"), S("*/*")}};
  asx_http1_request_head req = {.method = S("POST"), .target = S("/up?x=1"), .minor = 1,
                                .headers = h, .header_count = 2,
                                .framing = ASX_HTTP1_FRAMING_LENGTH, .content_length = 5};
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_http1_encode_request_head(&b, &req), 0);
  assert_buf(&b, "POST /up?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nContent-Length: 5\r\n\r\n");
  asx_buf_free(&b);
}

Test(http1_encode, response_head_default_reason_and_chunks) {
  asx_http1_header t[] = {{S("X-Checksum"), S("abc")}};
  asx_http1_response_head resp = {.code = 200, .minor = 1, .framing = ASX_HTTP1_FRAMING_CHUNKED};
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_http1_encode_response_head(&b, &resp), 0);
  cr_assert_eq(asx_http1_encode_chunk(&b, "hello world, chunked!", 21), 0);
  cr_assert_eq(asx_http1_encode_chunk(&b, "", 0), 0);
  cr_assert_eq(asx_http1_encode_last_chunk(&b, t, 1), 0);
  assert_buf(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n15\r\nhello world, chunked!\r\n"
                 "0\r\nX-Checksum: abc\r\n\r\n");
  asx_buf_free(&b);
}

static int body_sink(void *ud, const asx_http1_event *ev) {
  asx_buf *b = ud;
  if (ev->type == ASX_HTTP1_EV_DATA) return asx_buf_append(b, ev->u.data.bytes.ptr, ev->u.data.bytes.len);
  return 0;
}

Test(http1_encode, round_trip_request_length_and_chunked) {
  asx_http1_header h[] = {{S("Host"), S("h")}, {S("X-Tab"), S("a\tb c")}, {S("X-Obs"), S("caf\xc3\xa9")}};
  for (int chunked = 0; chunked <= 1; chunked++) {
    asx_buf b;
    asx_buf_init(&b, NULL, 0);
    asx_http1_request_head req = {.method = S("PUT"), .target = S("/r"), .minor = 1, .headers = h,
                                  .header_count = 3,
                                  .framing = chunked ? ASX_HTTP1_FRAMING_CHUNKED : ASX_HTTP1_FRAMING_LENGTH,
                                  .content_length = 10};
    cr_assert_eq(asx_http1_encode_request_head(&b, &req), 0);
    if (chunked) {
      cr_assert_eq(asx_http1_encode_chunk(&b, "01234", 5), 0);
      cr_assert_eq(asx_http1_encode_chunk(&b, "56789", 5), 0);
      asx_http1_header t[] = {{S("X-T"), S("1")}};
      cr_assert_eq(asx_http1_encode_last_chunk(&b, t, 1), 0);
    } else {
      cr_assert_eq(asx_buf_append(&b, "0123456789", 10), 0);
    }
    h1_opts o = {.kind = ASX_HTTP1_REQUEST, .finish = 1};
    h1_run r = h1_decode(&o, (const char *)b.data, b.len, 0);
    const char *expect = chunked
        ? "REQ PUT(4) /r 1.1\nH Host=[h]\nH X-Tab=[a\tb c]\nH X-Obs=[caf\xc3\xa9]\nH Transfer-Encoding=[chunked]\n"
          "HD body=2 cl=0 ka=1 expect=0 upgrade=0 proto=0\nD 0123456789\nT X-T=[1]\nEND ka=1\n"
        : "REQ PUT(4) /r 1.1\nH Host=[h]\nH X-Tab=[a\tb c]\nH X-Obs=[caf\xc3\xa9]\nH Content-Length=[10]\n"
          "HD body=1 cl=10 ka=1 expect=0 upgrade=0 proto=0\nD 0123456789\nEND ka=1\n";
    cr_assert_str_eq(r.log, expect, "%s", r.log);
    h1_run_free(&r);
    h1_assert_split_invariant(&o, (const char *)b.data, b.len, 1);
    asx_buf_free(&b);
  }
}

Test(http1_encode, round_trip_response_large_body) {
  static char body[70000];
  for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
  asx_buf b, got;
  asx_buf_init(&b, NULL, 0);
  asx_buf_init(&got, NULL, 0);
  asx_http1_response_head resp = {.code = 404, .reason = S("Nope"), .minor = 1,
                                  .framing = ASX_HTTP1_FRAMING_CHUNKED};
  cr_assert_eq(asx_http1_encode_response_head(&b, &resp), 0);
  for (size_t off = 0; off < sizeof body; off += 4096) {
    size_t n = sizeof body - off < 4096 ? sizeof body - off : 4096;
    cr_assert_eq(asx_http1_encode_chunk(&b, body + off, n), 0);
  }
  cr_assert_eq(asx_http1_encode_last_chunk(&b, NULL, 0), 0);
  asx_http1_decoder *d;
  cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_RESPONSE, NULL, body_sink, &got, NULL), 0);
  size_t c;
  cr_assert_eq(asx_http1_decoder_feed(d, b.data, b.len, &c), 0);
  cr_assert_eq(c, b.len);
  cr_assert_eq(got.len, sizeof body);
  cr_assert(memcmp(got.data, body, sizeof body) == 0);
  asx_http1_decoder_free(d);
  asx_buf_free(&b);
  asx_buf_free(&got);
}

Test(http1_encode, rejects_injection_and_leaves_buffer_unchanged) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_buf_append_str(&b, "previous"), 0);
  static const asx_http1_header bad[][1] = {
    {{S("X"), S("a\r\nInjected: 1")}}, {{S("X"), S("a\nb")}}, {{S("X"), S("a\rb")}},
    {{S("X"), {(const uint8_t *)"a\0b", 3}}}, {{S("X"), S("a\x7f")}}, {{S("X"), S(" lead")}},
    {{S("X"), S("trail\t")}}, {{S("X Y"), S("v")}}, {{S("X:"), S("v")}}, {{S(""), S("v")}},
    {{S("X\r\n"), S("v")}}, {{S("Content-Length"), S("5")}}, {{S("transfer-encoding"), S("chunked")}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    asx_http1_request_head req = {.method = S("GET"), .target = S("/"), .minor = 1, .headers = bad[i], .header_count = 1};
    cr_assert_eq(asx_http1_encode_request_head(&b, &req), ASX_EINVAL, "case %zu", i);
    asx_http1_response_head resp = {.code = 200, .minor = 1, .headers = bad[i], .header_count = 1};
    cr_assert_eq(asx_http1_encode_response_head(&b, &resp), ASX_EINVAL, "case %zu", i);
    cr_assert_eq(asx_http1_encode_last_chunk(&b, bad[i], 1), ASX_EINVAL, "case %zu", i);
    assert_buf(&b, "previous");
  }
  asx_http1_request_head req = {.method = S("GET"), .target = S("/a b"), .minor = 1};
  cr_assert_eq(asx_http1_encode_request_head(&b, &req), ASX_EINVAL);
  req.target = S("/a\r\n");
  cr_assert_eq(asx_http1_encode_request_head(&b, &req), ASX_EINVAL);
  req.target = S("/");
  req.method = S("GE T");
  cr_assert_eq(asx_http1_encode_request_head(&b, &req), ASX_EINVAL);
  req.method = S("GET");
  req.minor = 2;
  cr_assert_eq(asx_http1_encode_request_head(&b, &req), ASX_EINVAL);
  req.minor = 0;
  req.framing = ASX_HTTP1_FRAMING_CHUNKED;
  cr_assert_eq(asx_http1_encode_request_head(&b, &req), ASX_EINVAL, "chunked needs HTTP/1.1");
  asx_http1_response_head resp = {.code = 200, .reason = S("O\r\nK"), .minor = 1};
  cr_assert_eq(asx_http1_encode_response_head(&b, &resp), ASX_EINVAL);
  resp.reason = S("OK");
  resp.code = 99;
  cr_assert_eq(asx_http1_encode_response_head(&b, &resp), ASX_EINVAL);
  resp.code = 204;
  resp.framing = ASX_HTTP1_FRAMING_LENGTH;
  cr_assert_eq(asx_http1_encode_response_head(&b, &resp), ASX_EINVAL, "204 cannot carry framing");
  resp.code = 304;
  resp.framing = ASX_HTTP1_FRAMING_CHUNKED;
  cr_assert_eq(asx_http1_encode_response_head(&b, &resp), ASX_EINVAL);
  assert_buf(&b, "previous");
  asx_buf_free(&b);
}

Test(http1_encode, cap_and_allocation_failure_leave_buffer_unchanged) {
  asx_http1_header h[] = {{S("Host"), S("example.com")}};
  asx_http1_request_head req = {.method = S("GET"), .target = S("/"), .minor = 1, .headers = h, .header_count = 1};
  const char *full = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  size_t need = strlen(full);
  for (size_t cap = 3; cap <= need + 3; cap++) {
    asx_buf b;
    asx_buf_init(&b, NULL, cap);
    cr_assert_eq(asx_buf_append_str(&b, "ab"), 0);
    int rc = asx_http1_encode_request_head(&b, &req);
    if (cap >= need + 2) {
      cr_assert_eq(rc, 0, "cap %zu", cap);
    } else {
      cr_assert_eq(rc, ASX_ELIMIT, "cap %zu", cap);
      assert_buf(&b, "ab");
    }
    asx_buf_free(&b);
  }
  for (long fail = 0; fail < 20; fail++) {
    test_alloc ta;
    test_alloc_init(&ta);
    asx_buf b;
    asx_buf_init(&b, &ta.base, 0);
    test_alloc_fail_after(&ta, fail);
    int rc = asx_http1_encode_request_head(&b, &req);
    if (rc == 0) {
      assert_buf(&b, full);
    } else {
      cr_assert_eq(rc, ASX_ENOMEM);
      cr_assert_eq(b.len, 0);
    }
    rc = asx_http1_encode_chunk(&b, "xyz", 3);
    cr_assert(rc == 0 || rc == ASX_ENOMEM);
    asx_buf_free(&b);
    cr_assert_eq(ta.live, 0);
  }
}

Test(http1_encode, helpers) {
  cr_assert_str_eq(asx_http1_reason_phrase(431), "Request Header Fields Too Large");
  cr_assert_str_eq(asx_http1_reason_phrase(299), "");
  cr_assert_eq(asx_http1_method_from_name(S("CONNECT")), ASX_HTTP1_CONNECT);
  cr_assert_eq(asx_http1_method_from_name(S("get")), ASX_HTTP1_OTHER);
}

/* Decoder behaviour on valid traffic: events, framing, keep-alive, pipelining, upgrades,
 * 100-continue, trailers, HEAD/1xx/204/304 responses, and split-input invariance. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http1_test_util.h"

TestSuite(http1_decode, .timeout = 60);

#define EXPECT_LOG(run, expected)                                                        \
  do {                                                                                   \
    h1_run r_ = (run);                                                                   \
    cr_assert_str_eq(r_.log, expected, "log:\n%s\nexpected:\n%s", r_.log, expected);     \
    h1_run_free(&r_);                                                                    \
  } while (0)

Test(http1_decode, simple_get) {
  EXPECT_LOG(h1_req("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept:   */*  \r\n\r\n"),
             "REQ GET(1) /index.html?q=1 1.1\n"
             "H Host=[example.com]\n"
             "H Accept=[*/*]\n"
             "HD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\n"
             "END ka=1\n");
}

Test(http1_decode, post_content_length) {
  EXPECT_LOG(h1_req("POST /f HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
             "REQ POST(3) /f 1.1\nH Content-Length=[5]\n"
             "HD body=1 cl=5 ka=1 expect=0 upgrade=0 proto=0\nD hello\nEND ka=1\n");
}

Test(http1_decode, chunked_with_trailers_and_extensions) {
  const char *in = "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                   "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nX-Other: a b\r\n\r\n";
  EXPECT_LOG(h1_req(in),
             "REQ POST(3) /u 1.1\nH Transfer-Encoding=[chunked]\nH Trailer=[X-Sum]\n"
             "HD body=2 cl=0 ka=1 expect=0 upgrade=0 proto=0\nD hello world\n"
             "T X-Sum=[42]\nT X-Other=[a b]\nEND ka=1\n");
  h1_opts o = {.kind = ASX_HTTP1_REQUEST, .finish = 1};
  h1_assert_split_invariant(&o, in, strlen(in), 1);
}

Test(http1_decode, http10_keep_alive_rules) {
  EXPECT_LOG(h1_req("GET / HTTP/1.0\r\n\r\n"),
             "REQ GET(1) / 1.0\nHD body=0 cl=0 ka=0 expect=0 upgrade=0 proto=0\nEND ka=0\n");
  EXPECT_LOG(h1_req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
             "REQ GET(1) / 1.0\nH Connection=[keep-alive]\nHD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\nEND ka=1\n");
  EXPECT_LOG(h1_req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
             "REQ GET(1) / 1.1\nH Connection=[close]\nHD body=0 cl=0 ka=0 expect=0 upgrade=0 proto=0\nEND ka=0\n");
}

Test(http1_decode, pipelining_stops_after_each_message) {
  const char *in = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\n\r\n";
  asx_http1_decoder *d;
  cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, NULL, NULL, NULL), 0);
  size_t len = strlen(in), pos = 0, c = 0, msgs = 0;
  size_t ends[3] = {19, 19 + 41, len};
  while (pos < len) {
    cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in + pos, len - pos, &c), 0);
    pos += c;
    cr_assert(asx_http1_decoder_idle(d));
    cr_assert_eq(pos, ends[msgs], "message %zu ended at %zu", msgs, pos);
    msgs++;
  }
  cr_assert_eq(msgs, 3);
  asx_http1_decoder_free(d);
  h1_opts o = {.kind = ASX_HTTP1_REQUEST, .finish = 1};
  h1_assert_split_invariant(&o, in, len, 1);
}

Test(http1_decode, expect_100_continue) {
  EXPECT_LOG(h1_req("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nz"),
             "REQ PUT(4) /x 1.1\nH Expect=[100-Continue]\nH Content-Length=[1]\n"
             "HD body=1 cl=1 ka=1 expect=1 upgrade=0 proto=0\nD z\nEND ka=1\n");
  /* Not meaningful in HTTP/1.0 (RFC 9110 10.1.1). */
  EXPECT_LOG(h1_req("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"),
             "REQ PUT(4) /x 1.0\nH Expect=[100-continue]\nHD body=0 cl=0 ka=0 expect=0 upgrade=0 proto=0\nEND ka=0\n");
}

Test(http1_decode, websocket_upgrade_reports_offset) {
  const char *in = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
  size_t head = strlen("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  h1_run r = h1_req(in);
  char expect[512];
  snprintf(expect, sizeof expect,
           "REQ GET(1) /ws 1.1\nH Connection=[Upgrade]\nH Upgrade=[websocket]\n"
           "HD body=0 cl=0 ka=0 expect=0 upgrade=1 proto=1\nEND ka=0\nUPGRADE kind=0 proto=1 at=%zu\n", head);
  cr_assert_str_eq(r.log, expect, "%s", r.log);
  cr_assert_eq(r.consumed, head);
  h1_run_free(&r);
  h1_opts o = {.kind = ASX_HTTP1_REQUEST, .finish = 1};
  h1_assert_split_invariant(&o, in, strlen(in), 1);
}

Test(http1_decode, h2c_upgrade_after_body) {
  const char *in = "POST / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                   "HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 3\r\n\r\nabcPRI";
  h1_run r = h1_req(in);
  cr_assert(strstr(r.log, "HD body=1 cl=3 ka=0 expect=0 upgrade=1 proto=2\nD abc\nEND ka=0\nUPGRADE kind=0 proto=2"), "%s", r.log);
  cr_assert_eq(r.consumed, strlen(in) - 3);
  h1_run_free(&r);
}

Test(http1_decode, upgrade_without_connection_token_is_not_an_upgrade) {
  h1_run r = h1_req("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
  cr_assert_eq(r.messages, 2, "%s", r.log);
  cr_assert_eq(r.upgraded, 0);
  h1_run_free(&r);
}

Test(http1_decode, connect_is_a_tunnel) {
  const char *in = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";
  h1_run r = h1_req(in);
  cr_assert(strstr(r.log, "UPGRADE kind=1 proto=0 at="), "%s", r.log);
  cr_assert_eq(r.consumed, strlen(in) - 3);
  h1_run_free(&r);
}

Test(http1_decode, h2_prior_knowledge_preface) {
  const char *in = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04";
  h1_opts o = {.kind = ASX_HTTP1_REQUEST};
  h1_run r = h1_decode(&o, in, 28, 0);
  cr_assert_str_eq(r.log, "UPGRADE kind=2 proto=0 at=24\n");
  h1_run_free(&r);
  h1_assert_split_invariant(&o, in, 28, 1);
}

Test(http1_decode, declined_upgrade_continues_http1) {
  const char *in = "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
  asx_http1_decoder *d;
  cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, NULL, NULL, NULL), 0);
  size_t len = strlen(in), c = 0;
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in, len, &c), 0);
  cr_assert_lt(c, len);
  size_t c2 = 0;
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in + c, len - c, &c2), ASX_ESTATE);
  cr_assert_eq(asx_http1_decoder_decline_upgrade(d), 0);
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in + c, len - c, &c2), 0);
  cr_assert_eq(c + c2, len);
  cr_assert_eq(asx_http1_decoder_decline_upgrade(d), ASX_ESTATE);
  asx_http1_decoder_free(d);
}

Test(http1_decode, simple_response_and_until_close) {
  EXPECT_LOG(h1_resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", ASX_HTTP1_GET),
             "STATUS 1.1 200 OK\nH Content-Length=[2]\nHD body=1 cl=2 ka=1 expect=0 upgrade=0 proto=0\nD hi\nEND ka=1\n");
  EXPECT_LOG(h1_resp("HTTP/1.1 200 OK\r\n\r\nstream until close", ASX_HTTP1_GET),
             "STATUS 1.1 200 OK\nHD body=3 cl=0 ka=0 expect=0 upgrade=0 proto=0\nD stream until close\nEND ka=0\n");
}

Test(http1_decode, response_to_head_has_no_body) {
  const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  EXPECT_LOG(h1_resp(in, ASX_HTTP1_HEAD),
             "STATUS 1.1 200 OK\nH Content-Length=[1000]\nHD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\nEND ka=1\n"
             "STATUS 1.1 404 Not Found\nH Content-Length=[0]\nHD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\nEND ka=1\n");
  h1_opts o = {.kind = ASX_HTTP1_RESPONSE, .method = ASX_HTTP1_HEAD, .finish = 1};
  h1_assert_split_invariant(&o, in, strlen(in), 1);
}

Test(http1_decode, bodiless_statuses) {
  EXPECT_LOG(h1_resp("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
                     "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", ASX_HTTP1_GET),
             "STATUS 1.1 100 Continue\nHD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\nEND ka=1\n"
             "STATUS 1.1 204 No Content\nHD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\nEND ka=1\n"
             "STATUS 1.1 304 Not Modified\nH Content-Length=[10]\nHD body=0 cl=0 ka=1 expect=0 upgrade=0 proto=0\nEND ka=1\n");
}

Test(http1_decode, switching_protocols_and_connect_response) {
  h1_run r = h1_resp("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00", ASX_HTTP1_GET);
  cr_assert(strstr(r.log, "UPGRADE kind=0 proto=1 at=77"), "%s", r.log);
  h1_run_free(&r);
  r = h1_resp("HTTP/1.1 200 Connection Established\r\n\r\nTLS", ASX_HTTP1_CONNECT);
  cr_assert(strstr(r.log, "UPGRADE kind=1 proto=0 at=39"), "%s", r.log);
  h1_run_free(&r);
}

Test(http1_decode, chunked_response_split_everywhere) {
  const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                   "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: end\r\n\r\n";
  h1_opts o = {.kind = ASX_HTTP1_RESPONSE, .finish = 1};
  h1_assert_split_invariant(&o, in, strlen(in), 1);
  h1_run r = h1_decode(&o, in, strlen(in), 0);
  cr_assert(strstr(r.log, "D abc0123456789abcdef\nT X-T=[end]\nEND ka=1\n"), "%s", r.log);
  h1_run_free(&r);
}

Test(http1_decode, finish_reports_truncation) {
  h1_run r = h1_req("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  cr_assert_eq(r.error, ASX_HTTP1_ERR_TRUNCATED, "%s", r.log);
  cr_assert_eq(r.rc, ASX_EPROTO);
  h1_run_free(&r);
  r = h1_req("GET / HTTP/1.1\r\nHost: a");
  cr_assert_eq(r.error, ASX_HTTP1_ERR_TRUNCATED, "%s", r.log);
  h1_run_free(&r);
  r = h1_req("GET / HTTP/1.1\r\n\r\n");
  cr_assert_eq(r.rc, 0);
  h1_run_free(&r);
}

static int fail_on_header(void *ud, const asx_http1_event *ev) {
  (void)ud;
  return ev->type == ASX_HTTP1_EV_HEADER ? ASX_ECANCELED : 0;
}

Test(http1_decode, callback_error_stops_and_sticks) {
  asx_http1_decoder *d;
  cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, fail_on_header, NULL, NULL), 0);
  const char *in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t c;
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in, strlen(in), &c), ASX_ECANCELED);
  cr_assert_eq(asx_http1_decoder_error(d), ASX_HTTP1_ERR_CALLBACK);
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in, strlen(in), &c), ASX_ECANCELED);
  cr_assert_eq(c, 0);
  asx_http1_decoder_free(d);
}

Test(http1_decode, split_invariance_for_assorted_messages) {
  static const char *reqs[] = {
    "GET /a HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Sp:   \r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    "POST /p HTTP/1.1\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\nhello world",
    "PATCH /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;a=b;c\r\nx\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",          /* obs-fold: same error everywhere */
    "GET / HTTP/1.1\r\nX:\r\n b\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\r\n \r\n\r\n",
    "GET / HTTP/1.1\r\nA: 1\r\nX: \t\r\n\tz\r\n\r\n",
  };
  h1_opts o = {.kind = ASX_HTTP1_REQUEST, .finish = 1};
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) h1_assert_split_invariant(&o, reqs[i], strlen(reqs[i]), 1);
}

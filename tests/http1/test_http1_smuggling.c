/* Request smuggling and malformed input: each case must fail with its specific error (and the
 * status a server would answer), deliver no event past the offending field, and do so the
 * same way whether the input arrives whole or one byte at a time. */
#include <criterion/criterion.h>
#include <string.h>

#include "http1_test_util.h"

TestSuite(http1_smuggling, .timeout = 60);

typedef struct bad_case {
  const char *name;
  asx_http1_kind kind;
  const char *input;
  asx_http1_error error;
  int status;
  int rc;
} bad_case;

#define REQ ASX_HTTP1_REQUEST
#define RESP ASX_HTTP1_RESPONSE

static const bad_case cases[] = {
  {"CL and TE together", REQ, "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_CL_AND_TE, 400, ASX_EPROTO},
  {"TE then CL", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_CL_AND_TE, 400, ASX_EPROTO},
  {"duplicate differing CL", REQ, "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
   ASX_HTTP1_ERR_DUP_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"duplicate identical CL", REQ, "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
   ASX_HTTP1_ERR_DUP_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"CL list 5, 5", REQ, "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
   ASX_HTTP1_ERR_BAD_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"CL negative", REQ, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", ASX_HTTP1_ERR_BAD_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"CL plus sign", REQ, "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", ASX_HTTP1_ERR_BAD_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"CL overflow", REQ, "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
   ASX_HTTP1_ERR_BAD_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"chunk size overflow", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
   ASX_HTTP1_ERR_BAD_CHUNK, 400, ASX_EPROTO},
  {"chunk size not hex", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
   ASX_HTTP1_ERR_BAD_CHUNK, 400, ASX_EPROTO},
  {"chunk size with space", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_BAD_CHUNK, 400, ASX_EPROTO},
  {"chunk data too long", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_BAD_CHUNK, 400, ASX_EPROTO},
  {"chunk size bare LF", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_BAD_CHUNK, 400, ASX_EPROTO},
  {"obs-fold", REQ, "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
  {"obs-fold tab", REQ, "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
  {"obs-fold empty first line", REQ, "GET / HTTP/1.1\r\nX:\r\n b\r\n\r\n", ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
  {"obs-fold whitespace only", REQ, "GET / HTTP/1.1\r\nX: a\r\n \r\n\r\n", ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
  {"obs-fold in TE", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
  {"obs-fold in trailer", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n",
   ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
  {"space before first header", REQ, "GET / HTTP/1.1\r\n X: a\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"bare LF in value", REQ, "GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_VALUE, 400, ASX_EPROTO},
  {"bare CR in value", REQ, "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_VALUE, 400, ASX_EPROTO},
  {"bare LF line ends", REQ, "GET / HTTP/1.1\nHost: a\n\n", ASX_HTTP1_ERR_BAD_HEADER_VALUE, 400, ASX_EPROTO},
  {"NUL in value", REQ, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_VALUE, 400, ASX_EPROTO},
  {"control byte in value", REQ, "GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_VALUE, 400, ASX_EPROTO},
  {"NUL in name", REQ, "GET / HTTP/1.1\r\nX\0Y: ab\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"space before colon", REQ, "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"tab before colon", REQ, "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"space inside name", REQ, "GET / HTTP/1.1\r\nX Y: a\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"CL with space before colon", REQ, "POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"empty name", REQ, "GET / HTTP/1.1\r\n: a\r\n\r\n", ASX_HTTP1_ERR_BAD_HEADER_NAME, 400, ASX_EPROTO},
  {"TE gzip", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", ASX_HTTP1_ERR_UNSUPPORTED_TE, 501, ASX_EUNSUPPORTED},
  {"TE gzip, chunked", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_UNSUPPORTED_TE, 501, ASX_EUNSUPPORTED},
  {"TE identity", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", ASX_HTTP1_ERR_UNSUPPORTED_TE, 501, ASX_EUNSUPPORTED},
  {"TE chunked, chunked", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_BAD_TE, 400, ASX_EPROTO},
  {"TE repeated", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_BAD_TE, 400, ASX_EPROTO},
  {"TE empty element", REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", ASX_HTTP1_ERR_BAD_TE, 400, ASX_EPROTO},
  {"TE in HTTP/1.0", REQ, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ASX_HTTP1_ERR_BAD_TE, 400, ASX_EPROTO},
  {"version 1.2", REQ, "GET / HTTP/1.2\r\n\r\n", ASX_HTTP1_ERR_BAD_VERSION, 505, ASX_EUNSUPPORTED},
  {"version 2.0 not as preface", REQ, "GET / HTTP/2.0\r\n\r\n", ASX_HTTP1_ERR_BAD_VERSION, 505, ASX_EUNSUPPORTED},
  {"version 0.9", REQ, "GET / HTTP/0.9\r\n\r\n", ASX_HTTP1_ERR_BAD_VERSION, 505, ASX_EUNSUPPORTED},
  {"unknown method", REQ, "FOO / HTTP/1.1\r\n\r\n", ASX_HTTP1_ERR_BAD_METHOD, 400, ASX_EPROTO},
  {"lower-case method", REQ, "get / HTTP/1.1\r\n\r\n", ASX_HTTP1_ERR_BAD_METHOD, 400, ASX_EPROTO},
  {"control byte in target", REQ, "GET /\x01 HTTP/1.1\r\n\r\n", ASX_HTTP1_ERR_BAD_TARGET, 400, ASX_EPROTO},
  {"space in target", REQ, "GET /a b HTTP/1.1\r\n\r\n", ASX_HTTP1_ERR_SYNTAX, 400, ASX_EPROTO},
  {"bad preface", REQ, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", ASX_HTTP1_ERR_SYNTAX, 400, ASX_EPROTO},
  {"response CL and TE", RESP, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
   ASX_HTTP1_ERR_CL_AND_TE, 400, ASX_EPROTO},
  {"response duplicate CL", RESP, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
   ASX_HTTP1_ERR_DUP_CONTENT_LENGTH, 400, ASX_EPROTO},
  {"response TE gzip", RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", ASX_HTTP1_ERR_UNSUPPORTED_TE, 501, ASX_EUNSUPPORTED},
  {"response status 099", RESP, "HTTP/1.1 099 Odd\r\n\r\n", ASX_HTTP1_ERR_BAD_STATUS, 502, ASX_EPROTO},
  {"response status 4 digits", RESP, "HTTP/1.1 2000 OK\r\n\r\n", ASX_HTTP1_ERR_BAD_STATUS, 502, ASX_EPROTO},
  {"response not HTTP", RESP, "ICY 200 OK\r\n\r\n", ASX_HTTP1_ERR_BAD_STATUS, 502, ASX_EPROTO},
  {"response version 2", RESP, "HTTP/2.0 200 OK\r\n\r\n", ASX_HTTP1_ERR_BAD_VERSION, 505, ASX_EUNSUPPORTED},
  {"response obs-fold", RESP, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", ASX_HTTP1_ERR_OBS_FOLD, 400, ASX_EPROTO},
};

Test(http1_smuggling, every_case_has_its_error_status_and_split_invariance) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const bad_case *c = &cases[i];
    /* Inputs may contain NUL: their length is the literal's, found by scanning to "\r\n\r\n". */
    size_t len = strlen(c->input);
    if (strstr(c->name, "NUL")) len += 1 + strlen(c->input + len + 1);
    h1_opts o = {.kind = c->kind, .finish = 1};
    h1_run r = h1_decode(&o, c->input, len, 0);
    cr_assert_eq(r.error, c->error, "%s: got %s (%s)\n%s", c->name, asx_http1_error_name(r.error), r.message, r.log);
    cr_assert_eq(r.rc, c->rc, "%s: rc %d", c->name, r.rc);
    cr_assert_eq(asx_http1_error_status(r.error), c->status, "%s", c->name);
    cr_assert_eq(r.messages, 0, "%s: a message completed:\n%s", c->name, r.log);
    cr_assert_neq(r.message[0], '\0', "%s: empty error message", c->name);
    h1_run_free(&r);
    h1_assert_split_invariant(&o, c->input, len, 1);
  }
}

Test(http1_smuggling, error_message_names_problem_and_llhttp_reason) {
  h1_run r = h1_req("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  cr_assert(strstr(r.message, "ASX_HTTP1_ERR_CL_AND_TE"), "%s", r.message);
  cr_assert(strstr(r.message, "Transfer-Encoding"), "%s", r.message);
  h1_run_free(&r);
  r = h1_req("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
  cr_assert(strstr(r.message, "folding"), "%s", r.message);
  h1_run_free(&r);
}

Test(http1_smuggling, error_is_sticky_and_events_stop_before_bad_field) {
  const char *in = "GET / HTTP/1.1\r\nA: 1\r\nB: x\r\n y\r\nC: 3\r\n\r\n";
  h1_run r = h1_req(in);
  cr_assert_str_eq(r.log, "REQ GET(1) / 1.1\nH A=[1]\nERR ASX_HTTP1_ERR_OBS_FOLD\n", "%s", r.log);
  h1_run_free(&r);
  asx_http1_decoder *d;
  cr_assert_eq(asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, NULL, NULL, NULL), 0);
  size_t c = 99;
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)in, strlen(in), &c), ASX_EPROTO);
  cr_assert_lt(c, strlen(in));
  cr_assert_eq(asx_http1_decoder_feed(d, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &c), ASX_EPROTO);
  cr_assert_eq(c, 0);
  cr_assert_eq(asx_http1_decoder_finish(d), ASX_EPROTO);
  asx_http1_decoder_free(d);
}

Test(http1_smuggling, error_status_table) {
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_TARGET_TOO_LONG), 414);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_HEADERS_TOO_LARGE), 431);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_TOO_MANY_HEADERS), 431);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_BODY_TOO_LARGE), 413);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_UNSUPPORTED_TE), 501);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_BAD_VERSION), 505);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_ERR_SYNTAX), 400);
  cr_assert_eq(asx_http1_error_status(ASX_HTTP1_OK), 0);
  cr_assert_str_eq(asx_http1_error_name(ASX_HTTP1_ERR_OBS_FOLD), "ASX_HTTP1_ERR_OBS_FOLD");
  cr_assert_str_eq(asx_http1_error_name((asx_http1_error)999), "ASX_HTTP1_ERR_?");
}

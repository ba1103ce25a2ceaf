/* gRPC framing carried by the asx HTTP/2 server session, with an nghttp2 client as the peer:
 * a unary call with grpc-timeout and percent-encoded grpc-message trailers, and a request
 * message over max_recv_message answered with RESOURCE_EXHAUSTED (trailers-only response). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/grpc.h"
#include "h2_util.h"

TestSuite(grpc_over_http2, .timeout = 60);

typedef struct server_app {
  asx_grpc_decoder *dec;
  asx_grpc_limits limits;
  int32_t stream;
  uint64_t timeout_ns;
  bool have_timeout;
  char request[64];
  size_t request_len;
  int messages;
  int error; /* first decoder error, answered at once */
  bool answered;
} server_app;

static void trailers_only(asx_http2_session *s, int32_t id, asx_grpc_status code,
                          const char *text) {
  char status[ASX_GRPC_STATUS_TEXT_MAX];
  size_t sl = asx_grpc_status_format((int)code, status);
  asx_buf msg;
  asx_buf_init(&msg, NULL, 0);
  cr_assert_eq(asx_grpc_message_encode(&msg, text, strlen(text)), 0);
  asx_http2_header h[] = {HDR(":status", "200"), HDR("content-type", "application/grpc"),
                          {{(const uint8_t *)"grpc-status", 11}, {(const uint8_t *)status, sl}},
                          {{(const uint8_t *)"grpc-message", 12}, {msg.data, msg.len}}};
  cr_assert_eq(asx_http2_submit_response(s, id, h, 4, true), 0);
  asx_buf_free(&msg);
}

static void reply(asx_http2_session *s, server_app *a) {
  asx_http2_header h[] = {HDR(":status", "200"), HDR("content-type", "application/grpc")};
  cr_assert_eq(asx_http2_submit_response(s, a->stream, h, 2, false), 0);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  char echo[80];
  int n = snprintf(echo, sizeof echo, "echo:%.*s", (int)a->request_len, a->request);
  cr_assert_eq(asx_grpc_encode(&out, false, echo, (size_t)n, &a->limits), 0);
  cr_assert_eq(asx_http2_submit_data(s, a->stream, out.data, out.len, false), 0);
  asx_buf_free(&out);
  char status[ASX_GRPC_STATUS_TEXT_MAX];
  size_t sl = asx_grpc_status_format(ASX_GRPC_OK, status);
  asx_buf msg;
  asx_buf_init(&msg, NULL, 0);
  cr_assert_eq(asx_grpc_message_encode(&msg, "done 100% \xe2\x9c\x93", 13), 0);
  asx_http2_header tr[] = {{{(const uint8_t *)"grpc-status", 11}, {(const uint8_t *)status, sl}},
                           {{(const uint8_t *)"grpc-message", 12}, {msg.data, msg.len}}};
  cr_assert_eq(asx_http2_submit_trailers(s, a->stream, tr, 2), 0);
  asx_buf_free(&msg);
}

static void on_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  server_app *a = ud;
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    a->stream = ev->stream_id;
    for (size_t i = 0; i < ev->header_count; i++)
      if (asx_slice_eq(ev->headers[i].name, "grpc-timeout"))
        a->have_timeout = asx_grpc_timeout_parse(ev->headers[i].value, &a->timeout_ns) == 0;
    break;
  case ASX_HTTP2_EV_DATA: {
    asx_http2_session_consume(s, ev->stream_id, ev->data.len);
    size_t pos = 0;
    while (!a->error && pos < ev->data.len) {
      size_t used;
      asx_grpc_message m;
      int rc = asx_grpc_decoder_decode(a->dec, ev->data.ptr + pos, ev->data.len - pos, &used, &m);
      pos += used;
      if (rc == ASX_EAGAIN) break;
      if (rc) {
        a->error = rc;
        /* Fail fast: answer before the oversized body is even received. */
        trailers_only(s, ev->stream_id, asx_grpc_status_from_error(rc),
                      asx_grpc_decoder_error_message(a->dec));
        a->answered = true;
        break;
      }
      a->messages++;
      memcpy(a->request, m.data.ptr, m.data.len < sizeof a->request ? m.data.len : 0);
      a->request_len = m.data.len;
    }
    break;
  }
  case ASX_HTTP2_EV_END_STREAM:
    if (!a->answered) {
      a->answered = true;
      if (asx_grpc_decoder_finish(a->dec) != 0)
        trailers_only(s, ev->stream_id, ASX_GRPC_INTERNAL, "truncated message");
      else
        reply(s, a);
    }
    break;
  default:
    break;
  }
}

static ssize_t body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  (void)ng;
  (void)id;
  (void)ud;
  asx_buf *b = src->ptr;
  size_t n = b->len < len ? b->len : len;
  memcpy(buf, b->data, n);
  asx_buf_consume(b, n);
  if (b->len == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static nghttp2_nv request_headers[] = {
    NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "t"),
    NV(":path", "/echo.Echo/Say"), NV("content-type", "application/grpc"), NV("te", "trailers"),
    NV("grpc-timeout", "250m")};

Test(grpc_over_http2, unary_call_round_trip) {
  server_app a;
  memset(&a, 0, sizeof a);
  a.limits = asx_grpc_limits_default();
  cr_assert_eq(asx_grpc_decoder_new(&a.dec, &a.limits, NULL), 0);
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, on_event, &a), 0);
  peer p;
  peer_init(&p, false);
  asx_buf body;
  asx_buf_init(&body, NULL, 0);
  cr_assert_eq(asx_grpc_encode(&body, false, "ping", 4, NULL), 0);
  nghttp2_data_provider prd = {{.ptr = &body}, body_read};
  cr_assert_eq(nghttp2_submit_request(p.ng, NULL, request_headers, 7, &prd, NULL), 1);
  cr_assert_eq(pump(s, &p), 0);

  cr_assert(a.have_timeout);
  cr_assert_eq(a.timeout_ns, 250000000ull);
  cr_assert_eq(a.messages, 1);
  cr_assert_eq(a.request_len, 4);
  cr_assert_str_eq(p.last_status, "200");
  cr_assert_str_eq(p.grpc_status, "0");
  cr_assert_str_eq(p.grpc_message, "done 100%25 %E2%9C%93");
  asx_buf decoded;
  asx_buf_init(&decoded, NULL, 0);
  asx_slice gm = {(const uint8_t *)p.grpc_message, strlen(p.grpc_message)};
  cr_assert_eq(asx_grpc_message_decode(&decoded, gm), 0);
  cr_assert_eq(decoded.len, 13);
  cr_assert(memcmp(decoded.data, "done 100% \xe2\x9c\x93", 13) == 0);
  asx_buf_free(&decoded);

  /* The response body is one gRPC message. */
  asx_grpc_decoder *cd;
  cr_assert_eq(asx_grpc_decoder_new(&cd, NULL, NULL), 0);
  size_t used;
  asx_grpc_message m;
  cr_assert_eq(asx_grpc_decoder_decode(cd, p.body, p.body_bytes, &used, &m), 0);
  cr_assert_eq(used, p.body_bytes);
  cr_assert_eq(m.data.len, 9);
  cr_assert(memcmp(m.data.ptr, "echo:ping", 9) == 0);
  asx_grpc_decoder_free(cd);

  asx_buf_free(&body);
  asx_grpc_decoder_free(a.dec);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(grpc_over_http2, oversized_request_is_resource_exhausted) {
  server_app a;
  memset(&a, 0, sizeof a);
  a.limits = asx_grpc_limits_default();
  a.limits.max_recv_message = 1024;
  cr_assert_eq(asx_grpc_decoder_new(&a.dec, &a.limits, NULL), 0);
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, on_event, &a), 0);
  peer p;
  peer_init(&p, false);
  /* Far more than one flow-control window: the client is still sending when we answer. */
  static uint8_t big[100 * 1024];
  memset(big, 'q', sizeof big);
  asx_buf body;
  asx_buf_init(&body, NULL, 0);
  cr_assert_eq(asx_grpc_encode(&body, false, big, sizeof big, NULL), 0);
  nghttp2_data_provider prd = {{.ptr = &body}, body_read};
  cr_assert_eq(nghttp2_submit_request(p.ng, NULL, request_headers, 7, &prd, NULL), 1);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(a.error, ASX_ELIMIT);
  cr_assert_eq(a.messages, 0);
  cr_assert_str_eq(p.last_status, "200");
  cr_assert_str_eq(p.grpc_status, "8"); /* RESOURCE_EXHAUSTED */
  cr_assert(strstr(p.grpc_message, "RESOURCE_EXHAUSTED"));
  cr_assert_eq(p.body_bytes, 0);
  /* Complete response while the request was still arriving: RST_STREAM(NO_ERROR) after it. */
  cr_assert_eq(p.rst_count, 1);
  cr_assert_eq(p.last_rst_code, NGHTTP2_NO_ERROR);
  cr_assert_eq(p.responses, 1);
  asx_buf_free(&body);
  asx_grpc_decoder_free(a.dec);
  asx_http2_session_free(s);
  peer_free(&p);
}

/* HTTP/2 session interop in memory: nghttp2 client -> asx server, asx client -> nghttp2
 * server, flow control driven by consumption, graceful shutdown, h2c upgrade. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "h2_util.h"
#include "test_alloc.h"

TestSuite(http2_session, .timeout = 60);

static rec R;

Test(http2_session, nghttp2_client_to_asx_server) {
  rec_init(&R);
  R.auto_respond = true;
  R.auto_consume = true;
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  /* One GET and one POST with a body. */
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "t"),
                      NV(":path", "/hello")};
  cr_assert_gt(nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL), 0);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.headers, 1);
  cr_assert_eq(R.last_kind, ASX_HTTP2_REQUEST);
  cr_assert_str_eq(R.last_path, "/hello");
  cr_assert_eq(R.ends, 1);
  cr_assert_eq(p.responses, 1);
  cr_assert_str_eq(p.last_status, "200");
  cr_assert_eq(p.body_bytes, strlen("hello from asx"));
  cr_assert(memcmp(p.body, "hello from asx", p.body_bytes) == 0);
  cr_assert_eq(p.trailers, 1);
  cr_assert_str_eq(p.last_trailer, "done");
  cr_assert_eq(R.closed, 1);
  cr_assert_eq(R.last_close_code, 0);

  asx_http2_stats st;
  asx_http2_session_stats(s, &st);
  cr_assert_eq(st.streams_opened, 1);
  cr_assert_gt(st.bytes_sent, 0);
  cr_assert_gt(st.bytes_received, 0);
  asx_http2_session_free(s);
  peer_free(&p);
}

static ssize_t post_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  (void)ng;
  (void)id;
  (void)ud;
  size_t *left = src->ptr;
  size_t n = *left < len ? *left : len;
  memset(buf, 'p', n);
  *left -= n;
  if (*left == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

Test(http2_session, post_body_and_request_trailers_reach_server) {
  rec_init(&R);
  R.auto_respond = true;
  R.auto_consume = true;
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "t"),
                       NV(":path", "/upload")};
  size_t left = 100000;
  nghttp2_data_provider prd = {{.ptr = &left}, post_read};
  cr_assert_gt(nghttp2_submit_request(p.ng, NULL, post, 4, &prd, NULL), 0);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.data_bytes, 100000);
  cr_assert_eq(R.data[0], 'p');
  cr_assert_eq(R.data[99999], 'p');
  cr_assert_eq(R.ends, 1);
  cr_assert_eq(p.responses, 1);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_session, asx_client_to_nghttp2_server) {
  rec_init(&R);
  R.auto_consume = true;
  asx_http2_session *c;
  cr_assert_eq(asx_http2_session_new(&c, ASX_HTTP2_CLIENT, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, true);
  asx_http2_header req[] = {HDR(":method", "GET"), HDR(":scheme", "http"),
                            HDR(":authority", "t"), HDR(":path", "/a")};
  int32_t id1, id2;
  cr_assert_eq(asx_http2_submit_request(c, req, 4, true, &id1), 0);
  asx_http2_header post[] = {HDR(":method", "POST"), HDR(":scheme", "http"),
                             HDR(":authority", "t"), HDR(":path", "/b")};
  cr_assert_eq(asx_http2_submit_request(c, post, 4, false, &id2), 0);
  cr_assert_eq(id1, 1);
  cr_assert_eq(id2, 3);
  cr_assert_eq(asx_http2_submit_data(c, id2, "abc", 3, false), 0);
  asx_http2_header tr[] = {HDR("x-checksum", "42")};
  cr_assert_eq(asx_http2_submit_trailers(c, id2, tr, 1), 0);
  cr_assert_eq(asx_http2_submit_data(c, id2, "late", 4, false), ASX_ESTATE);
  cr_assert_eq(pump(c, &p), 0);
  cr_assert_eq(p.requests, 2);
  cr_assert_eq(p.body_bytes, 3);
  /* Each response: RESPONSE headers, data, trailers, end, close. */
  cr_assert_eq(R.headers, 4);
  cr_assert_str_eq(R.last_status, "200");
  cr_assert_str_eq(R.last_trailer_value, "peer-done");
  cr_assert_eq(R.data_bytes, 2 * strlen("hello from nghttp2"));
  cr_assert_eq(R.ends, 2);
  cr_assert_eq(R.closed, 2);
  cr_assert_eq(R.last_close_code, 0);
  /* A server-only call on a client session. */
  cr_assert_eq(asx_http2_submit_response(c, 1, req, 1, true), ASX_ESTATE);
  asx_http2_session_free(c);
  peer_free(&p);
}

Test(http2_session, informational_then_final_response) {
  rec_init(&R);
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "t"),
                      NV(":path", "/")};
  int32_t id = nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL);
  cr_assert_eq(pump(s, &p), 0);
  asx_http2_header cont[] = {HDR(":status", "103"), HDR("link", "</a.css>")};
  cr_assert_eq(asx_http2_submit_informational(s, id, cont, 2), 0);
  asx_http2_header ok[] = {HDR(":status", "204")};
  cr_assert_eq(asx_http2_submit_response(s, id, ok, 1, true), 0);
  cr_assert_eq(asx_http2_submit_response(s, id, ok, 1, true), ASX_ESTATE);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_str_eq(p.last_status, "204");
  cr_assert_eq(p.closed, 1);
  cr_assert_eq(asx_http2_submit_response(s, 99, ok, 1, true), ASX_ENOTFOUND);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_session, flow_control_window_respected_until_consumed) {
  rec_init(&R); /* no auto_consume */
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "t"),
                       NV(":path", "/big")};
  size_t left = 200000;
  nghttp2_data_provider prd = {{.ptr = &left}, post_read};
  int32_t id = nghttp2_submit_request(p.ng, NULL, post, 4, &prd, NULL);
  cr_assert_eq(pump(s, &p), 0);
  /* Exactly the initial stream window arrives, then the peer must wait. */
  cr_assert_eq(R.data_bytes, 65535);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.data_bytes, 65535);
  size_t consumed = 0;
  int rounds = 0;
  while (R.ends == 0 && rounds++ < 100) {
    size_t before = R.data_bytes;
    cr_assert_eq(asx_http2_session_consume(s, id, R.data_bytes - consumed), 0);
    consumed = R.data_bytes;
    cr_assert_eq(pump(s, &p), 0);
    /* Never more outstanding than one window. */
    cr_assert_leq(R.data_bytes - consumed, 65535);
    cr_assert(R.data_bytes > before || R.ends == 1);
  }
  cr_assert_eq(R.ends, 1);
  cr_assert_eq(R.data_bytes, 200000);
  cr_assert_eq(asx_http2_session_consume(s, id, R.data_bytes - consumed), 0);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_session, send_buffer_limit_and_deferred_body) {
  rec_init(&R);
  asx_http2_limits l = asx_http2_limits_default();
  l.max_send_buffer = 100;
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, &l, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "t"),
                      NV(":path", "/")};
  int32_t id = nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL);
  cr_assert_eq(pump(s, &p), 0);
  asx_http2_header ok[] = {HDR(":status", "200")};
  cr_assert_eq(asx_http2_submit_response(s, id, ok, 1, false), 0);
  char chunk[101];
  memset(chunk, 'z', sizeof chunk);
  cr_assert_eq(asx_http2_submit_data(s, id, chunk, 99, false), 0);   /* limit - 1 */
  cr_assert_eq(asx_http2_submit_data(s, id, chunk, 2, false), ASX_ELIMIT); /* limit + 1 */
  cr_assert_eq(asx_http2_submit_data(s, id, chunk, 1, false), 0);    /* exactly the limit */
  cr_assert_eq(asx_http2_stream_send_buffered(s, id), 100);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(p.body_bytes, 100);
  cr_assert_eq(p.closed, 0); /* body not ended: the provider is deferred */
  cr_assert_eq(asx_http2_submit_data(s, id, chunk, 5, true), 0);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(p.body_bytes, 105);
  cr_assert_eq(p.closed, 1);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_session, graceful_shutdown_and_peer_goaway) {
  rec_init(&R);
  R.auto_respond = true;
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "t"),
                      NV(":path", "/")};
  nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(asx_http2_session_shutdown(s), 0);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(p.goaways, 1);
  cr_assert_eq(p.goaway_code, NGHTTP2_NO_ERROR);
  cr_assert_eq(asx_http2_session_error(s), 0);
  cr_assert(!asx_http2_session_want_read(s));
  asx_http2_session_free(s);
  peer_free(&p);

  /* The peer's GOAWAY becomes an event. */
  rec_init(&R);
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer_init(&p, false);
  nghttp2_submit_goaway(p.ng, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, (const uint8_t *)"bye", 3);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.goaways, 1);
  cr_assert_eq(R.goaway_code, 0);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_session, client_reset_is_delivered) {
  rec_init(&R);
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "t"),
                       NV(":path", "/")};
  size_t left = 10;
  nghttp2_data_provider prd = {{.ptr = &left}, post_read};
  int32_t id = nghttp2_submit_request(p.ng, NULL, post, 4, &prd, NULL);
  cr_assert_eq(pump(s, &p), 0);
  nghttp2_submit_rst_stream(p.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.resets, 1);
  cr_assert_eq(R.reset_code, NGHTTP2_CANCEL);
  cr_assert_eq(R.closed, 1);
  cr_assert_eq(R.last_close_code, NGHTTP2_CANCEL);
  /* Consuming after close still credits the connection window. */
  cr_assert_eq(asx_http2_session_consume(s, id, R.data_bytes), 0);
  asx_http2_session_free(s);
  peer_free(&p);
}

/* ---- h2c --------------------------------------------------------------------------------- */

Test(http2_session, preface_detection) {
  const uint8_t *pre = (const uint8_t *)ASX_HTTP2_PREFACE;
  cr_assert_eq(asx_http2_detect_preface(pre, ASX_HTTP2_PREFACE_LEN), 1);
  cr_assert_eq(asx_http2_detect_preface(pre, 10), 0);
  cr_assert_eq(asx_http2_detect_preface(pre, 0), 0);
  cr_assert_eq(asx_http2_detect_preface((const uint8_t *)"GET / HTTP/1.1\r\n", 16), -1);
  cr_assert_eq(asx_http2_detect_preface((const uint8_t *)"PRI * HTTP/1.1", 14), -1);
}

static size_t b64url_decode_test(const char *in, uint8_t *out) {
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (const char *c = in; *c; c++) {
    acc = acc << 6 | (uint32_t)(strchr(a, *c) - a);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  return o;
}

Test(http2_session, h2c_upgrade_nghttp2_client_to_asx_server) {
  /* The client's HTTP2-Settings value (made by asx's helper, checked by nghttp2). */
  asx_buf v;
  asx_buf_init(&v, NULL, 0);
  cr_assert_eq(asx_http2_h2c_settings_value(NULL, &v), 0);
  cr_assert_eq(asx_buf_append_byte(&v, 0), 0);
  uint8_t payload[64];
  size_t plen = b64url_decode_test((const char *)v.data, payload);
  cr_assert_eq(plen % 6, 0);
  cr_assert_eq(plen, 36); /* 6 entries for a client */

  rec_init(&R);
  R.auto_consume = true;
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, rec_on_event, &R), 0);
  peer p;
  peer_init(&p, false);
  cr_assert_eq(nghttp2_session_upgrade2(p.ng, payload, plen, 0, NULL), 0);
  asx_slice sv = {v.data, v.len - 1};
  cr_assert_eq(asx_http2_session_upgrade_server(s, sv, false), 0);
  cr_assert_eq(asx_http2_session_upgrade_server(s, sv, false), ASX_ESTATE);
  asx_http2_header ok[] = {HDR(":status", "200")};
  cr_assert_eq(asx_http2_submit_response(s, 1, ok, 1, false), 0);
  cr_assert_eq(asx_http2_submit_data(s, 1, "upgraded", 8, true), 0);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(p.responses, 1);
  cr_assert_str_eq(p.last_status, "200");
  cr_assert_eq(p.body_bytes, 8);
  cr_assert(memcmp(p.body, "upgraded", 8) == 0);
  /* The connection continues as ordinary HTTP/2. */
  R.auto_respond = true;
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "t"),
                      NV(":path", "/next")};
  cr_assert_eq(nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL), 3);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_str_eq(R.last_path, "/next");
  cr_assert_eq(p.responses, 2);
  asx_http2_session_free(s);
  peer_free(&p);
  asx_buf_free(&v);
}

Test(http2_session, h2c_upgrade_asx_client_to_nghttp2_server) {
  asx_buf v;
  asx_buf_init(&v, NULL, 0);
  cr_assert_eq(asx_http2_h2c_settings_value(NULL, &v), 0);
  asx_buf_append_byte(&v, 0);
  uint8_t payload[64];
  size_t plen = b64url_decode_test((const char *)v.data, payload);
  asx_buf_free(&v);

  rec_init(&R);
  R.auto_consume = true;
  asx_http2_session *c;
  cr_assert_eq(asx_http2_session_new(&c, ASX_HTTP2_CLIENT_UPGRADE, NULL, NULL, rec_on_event, &R),
               0);
  peer p;
  peer_init(&p, true);
  cr_assert_eq(nghttp2_session_upgrade2(p.ng, payload, plen, 0, NULL), 0);
  cr_assert_eq(asx_http2_session_upgrade_client(c, false), 0);
  /* The HTTP/1.1 request is answered on stream 1 by the server. */
  nghttp2_nv ok[] = {NV(":status", "200")};
  cr_assert_eq(nghttp2_submit_response(p.ng, 1, ok, 1, NULL), 0);
  cr_assert_eq(pump(c, &p), 0);
  cr_assert_eq(R.headers, 1);
  cr_assert_eq(R.last_kind, ASX_HTTP2_RESPONSE);
  cr_assert_str_eq(R.last_status, "200");
  cr_assert_eq(R.ends, 1);
  cr_assert_eq(R.closed, 1);
  asx_http2_session_free(c);
  peer_free(&p);
}

Test(http2_session, h2c_bad_settings_value) {
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, NULL, NULL, NULL), 0);
  asx_slice bad = {(const uint8_t *)"AAM*AAAA", 8};
  cr_assert_eq(asx_http2_session_upgrade_server(s, bad, false), ASX_EPROTO);
  cr_assert(strstr(asx_http2_session_error_message(s), "base64url"));
  asx_slice odd = {(const uint8_t *)"AAMAAA", 6}; /* 4 bytes: not a multiple of 6 */
  cr_assert_eq(asx_http2_session_upgrade_server(s, odd, false), ASX_EPROTO);
  asx_http2_session_free(s);
  asx_http2_session *c;
  cr_assert_eq(asx_http2_session_new(&c, ASX_HTTP2_CLIENT, NULL, NULL, NULL, NULL), 0);
  cr_assert_eq(asx_http2_session_upgrade_client(c, false), ASX_ESTATE);
  asx_http2_session_free(c);
}

Test(http2_session, allocation_failures_are_reported) {
  /* Session creation fails cleanly at every allocation index. */
  for (long i = 0; i < 40; i++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, i);
    asx_http2_session *s = NULL;
    int rc = asx_http2_session_new(&s, ASX_HTTP2_SERVER, NULL, &ta.base, NULL, NULL);
    if (rc == 0) {
      test_alloc_fail_after(&ta, -1);
      asx_http2_session_free(s);
    } else {
      cr_assert_eq(rc, ASX_ENOMEM);
    }
    cr_assert_eq(ta.live, 0, "leak at index %ld", i);
  }
}

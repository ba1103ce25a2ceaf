/* HTTP/2 limits at limit-1 / limit / limit+1 and the attacks they exist for: header list
 * size, concurrent streams, frame size, rapid reset (CVE-2023-44487), CONTINUATION flood and
 * deadline, PING/SETTINGS ACK floods, bad preface. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "h2_util.h"

TestSuite(http2_limits, .timeout = 60);

#define SEC 1000000000ull

static rec R;
static uint8_t OUT[1 << 20];

static asx_http2_session *server(const asx_http2_limits *l) {
  rec_init(&R);
  asx_http2_session *s;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, l, NULL, rec_on_event, &R), 0);
  return s;
}

/* ---- header list size -------------------------------------------------------------------- */

/* A request whose header list size (RFC 9113: name + value + 32 per field) is exactly `size`. */
static int32_t request_with_list_size(peer *p, size_t size) {
  static char val[128 * 1024];
  /* Fixed part: 4 pseudo-headers (42+43+43+38) + "x-big" (5 + 32). */
  size_t fixed = 42 + 43 + 43 + 38 + 37;
  cr_assert_gt(size, fixed);
  size_t vlen = size - fixed;
  memset(val, 'v', vlen);
  nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                     NV(":path", "/"),
                     {(uint8_t *)"x-big", (uint8_t *)val, 5, vlen, NGHTTP2_NV_FLAG_NONE}};
  int32_t id = nghttp2_submit_request(p->ng, NULL, nv, 5, NULL, NULL);
  cr_assert_gt(id, 0);
  return id;
}

Test(http2_limits, request_header_list_boundaries) {
  asx_http2_session *s = server(NULL);
  peer p;
  peer_init(&p, false);
  const size_t lim = 65536;
  request_with_list_size(&p, lim - 1);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.headers, 1);
  cr_assert_eq(R.last_header_count, 5);
  request_with_list_size(&p, lim);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.headers, 2);
  int32_t id = request_with_list_size(&p, lim + 1);
  cr_assert_eq(pump(s, &p), 0);
  /* Not delivered; the peer gets 431 on that stream and the connection lives on. */
  cr_assert_eq(R.headers, 2);
  cr_assert_str_eq(p.last_status, "431");
  cr_assert_eq(p.responses, 1);
  asx_http2_stats st;
  asx_http2_session_stats(s, &st);
  cr_assert_eq(st.header_limit_hits, 1);
  cr_assert_eq(st.streams_refused, 1);
  cr_assert_eq(asx_http2_session_error(s), 0);
  cr_assert(asx_http2_session_want_read(s));
  (void)id;
  /* A later ordinary request on the same connection still works. */
  R.auto_respond = true;
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                      NV(":path", "/after")};
  nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_str_eq(R.last_path, "/after");
  cr_assert_str_eq(p.last_status, "200");
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_limits, oversized_request_with_body_in_flight_gets_431_then_rst) {
  asx_http2_limits l = asx_http2_limits_default();
  l.max_header_list = 1024;
  asx_http2_session *s = server(&l);
  R.auto_consume = true;
  raw r;
  raw_init(&r);
  raw_preface(&r);
  static char val[2000];
  memset(val, 'h', sizeof val);
  nghttp2_nv nv[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "x"),
                     NV(":path", "/"),
                     {(uint8_t *)"x-big", (uint8_t *)val, 5, sizeof val, NGHTTP2_NV_FLAG_NONE}};
  uint8_t block[4096];
  size_t bl = raw_hpack(&r, nv, 5, block, sizeof block);
  raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, block, bl); /* body follows */
  raw_frame(&r, NGHTTP2_DATA, 0, 1, "part", 4);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  size_t n = drain(s, OUT, sizeof OUT);
  /* The 431 goes out first, then RST_STREAM(NO_ERROR) tells the client to stop sending. */
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_HEADERS, 1, NULL), 1);
  uint32_t code = 99;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_RST_STREAM, 1, &code), 1);
  cr_assert_eq(code, NGHTTP2_NO_ERROR);
  cr_assert_eq(R.headers, 0);
  cr_assert_eq(R.data_events, 0);
  cr_assert_eq(asx_http2_session_error(s), 0);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, response_header_list_over_limit_resets_client_stream) {
  for (int over = 0; over <= 1; over++) {
    rec_init(&R);
    asx_http2_limits l = asx_http2_limits_default();
    l.max_header_list = 4096;
    asx_http2_session *c;
    cr_assert_eq(asx_http2_session_new(&c, ASX_HTTP2_CLIENT, &l, NULL, rec_on_event, &R), 0);
    peer p;
    peer_init(&p, true);
    /* Response list: ":status 200" (42) + content-type text/plain (12+10+32=54) + x-big. */
    p.big_response_header = 4096 - 42 - 54 - 37 + (size_t)over;
    asx_http2_header req[] = {HDR(":method", "GET"), HDR(":scheme", "http"),
                              HDR(":authority", "t"), HDR(":path", "/")};
    int32_t id;
    cr_assert_eq(asx_http2_submit_request(c, req, 4, true, &id), 0);
    cr_assert_eq(pump(c, &p), 0);
    if (!over) {
      cr_assert_eq(R.headers, 2); /* response + trailers */
      cr_assert_eq(R.last_close_code, 0);
    } else {
      cr_assert_eq(R.headers, 0);
      cr_assert_eq(R.closed, 1);
      cr_assert_eq(R.last_close_code, NGHTTP2_CANCEL);
      cr_assert_eq(R.last_close_asx, ASX_ELIMIT);
      cr_assert_eq(p.rst_count, 1);
    }
    asx_http2_session_free(c);
    peer_free(&p);
  }
}

/* ---- concurrent streams ------------------------------------------------------------------ */

Test(http2_limits, concurrent_streams_refused_before_ack) {
  asx_http2_session *s = server(NULL);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  /* 101 streams before acknowledging the server's SETTINGS: #101 is refused. */
  for (int i = 0; i < 101; i++) raw_get(&r, 1 + 2 * i, "/");
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  size_t n = drain(s, OUT, sizeof OUT);
  cr_assert_eq(R.headers, 100);
  uint32_t code = 0;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_RST_STREAM, 201, &code), 1);
  cr_assert_eq(code, NGHTTP2_REFUSED_STREAM);
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_RST_STREAM, -1, NULL), 1);
  cr_assert_eq(asx_http2_session_error(s), 0);
  /* After one stream finishes, a new one is accepted again (limit - 1 + 1). */
  asx_http2_header ok[] = {HDR(":status", "200")};
  cr_assert_eq(asx_http2_submit_response(s, 1, ok, 1, true), 0);
  drain(s, NULL, 0);
  raw_reset(&r);
  raw_get(&r, 203, "/again");
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  cr_assert_eq(R.headers, 101);
  cr_assert_str_eq(R.last_path, "/again");
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, concurrent_streams_well_behaved_peer_waits) {
  asx_http2_limits l = asx_http2_limits_default();
  l.max_concurrent_streams = 3;
  asx_http2_session *s = server(&l);
  peer p;
  peer_init(&p, false);
  /* Let the peer learn the limit first, as a real client does. */
  cr_assert_eq(pump(s, &p), 0);
  nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                      NV(":path", "/")};
  for (int i = 0; i < 4; i++) nghttp2_submit_request(p.ng, NULL, get, 4, NULL, NULL);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.headers, 3);
  asx_http2_header ok[] = {HDR(":status", "200")};
  cr_assert_eq(asx_http2_submit_response(s, 1, ok, 1, true), 0);
  cr_assert_eq(pump(s, &p), 0);
  cr_assert_eq(R.headers, 4);
  asx_http2_session_free(s);
  peer_free(&p);
}

Test(http2_limits, concurrent_streams_over_acked_limit_is_connection_error) {
  asx_http2_limits l = asx_http2_limits_default();
  l.max_concurrent_streams = 2;
  asx_http2_session *s = server(&l);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  raw_frame(&r, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, NULL, 0);
  for (int i = 0; i < 3; i++) raw_get(&r, 1 + 2 * i, "/");
  int rc = asx_http2_session_recv(s, r.buf, r.len);
  size_t n = drain(s, OUT, sizeof OUT);
  cr_assert_eq(R.headers, 2);
  uint32_t code = 0;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
  cr_assert(code == NGHTTP2_PROTOCOL_ERROR || code == NGHTTP2_ENHANCE_YOUR_CALM, "code %u", code);
  cr_assert(rc == ASX_EPROTO || rc == ASX_ELIMIT);
  cr_assert(strstr(asx_http2_session_error_message(s), "GOAWAY"));
  cr_assert(!asx_http2_session_want_read(s));
  raw_free(&r);
  asx_http2_session_free(s);
}

/* ---- frame size -------------------------------------------------------------------------- */

Test(http2_limits, frame_size_boundaries) {
  static uint8_t payload[16385];
  memset(payload, 'd', sizeof payload);
  size_t sizes[] = {16383, 16384, 16385};
  for (int i = 0; i < 3; i++) {
    asx_http2_session *s = server(NULL);
    R.auto_consume = true;
    raw r;
    raw_init(&r);
    raw_preface(&r);
    nghttp2_nv nv[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "x"),
                       NV(":path", "/")};
    uint8_t block[128];
    size_t bl = raw_hpack(&r, nv, 4, block, sizeof block);
    raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, block, bl);
    raw_frame(&r, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, payload, sizes[i]);
    int rc = asx_http2_session_recv(s, r.buf, r.len);
    size_t n = drain(s, OUT, sizeof OUT);
    uint32_t code = 0;
    if (sizes[i] <= 16384) {
      cr_assert_eq(rc, 0);
      cr_assert_eq(R.data_bytes, sizes[i]);
      cr_assert_eq(R.ends, 1);
      cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, NULL), 0);
    } else {
      cr_assert_eq(rc, ASX_EPROTO);
      cr_assert_eq(R.data_bytes, 0);
      cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
      cr_assert_eq(code, NGHTTP2_FRAME_SIZE_ERROR);
      cr_assert(strstr(asx_http2_session_error_message(s), "FRAME_SIZE_ERROR"));
      /* Sticky: further input is refused with the same error. */
      cr_assert_eq(asx_http2_session_recv(s, r.buf, 9), ASX_EPROTO);
    }
    raw_free(&r);
    asx_http2_session_free(s);
  }
}

/* ---- rapid reset ------------------------------------------------------------------------- */

/* Opens and immediately resets `count` streams starting at *next_id. */
static void open_and_reset(raw *r, int count, int32_t *next_id) {
  static const uint8_t cancel[4] = {0, 0, 0, NGHTTP2_CANCEL};
  for (int i = 0; i < count; i++) {
    nghttp2_nv nv[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "x"),
                       NV(":path", "/")};
    uint8_t block[128];
    size_t bl = raw_hpack(r, nv, 4, block, sizeof block);
    raw_frame(r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, *next_id, block, bl);
    raw_frame(r, NGHTTP2_RST_STREAM, 0, *next_id, cancel, 4);
    *next_id += 2;
  }
}

Test(http2_limits, rapid_reset_triggers_goaway) {
  asx_http2_session *s = server(NULL); /* burst 200, 33/s */
  cr_assert_eq(asx_http2_session_check_timeouts(s, 1000 * SEC), 0);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  int32_t id = 1;
  open_and_reset(&r, 200, &id); /* exactly the burst: allowed */
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  cr_assert_eq(asx_http2_session_error(s), 0);
  size_t n = drain(s, OUT, sizeof OUT);
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, NULL), 0);
  raw_reset(&r);
  open_and_reset(&r, 1, &id); /* burst + 1 at the same instant */
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_ELIMIT);
  n = drain(s, OUT, sizeof OUT);
  uint32_t code = 0;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
  cr_assert_eq(code, NGHTTP2_ENHANCE_YOUR_CALM);
  cr_assert(strstr(asx_http2_session_error_message(s), "rapid reset"));
  asx_http2_stats st;
  asx_http2_session_stats(s, &st);
  cr_assert_eq(st.resets_received, 201);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, provoked_stream_errors_count_as_resets) {
  /* MadeYouReset (CVE-2025-8671): malformed requests that make the server reset streams
   * drain the same bucket as RST_STREAM frames from the peer. */
  asx_http2_session *s = server(NULL);
  cr_assert_eq(asx_http2_session_check_timeouts(s, 1000 * SEC), 0);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  nghttp2_nv bad[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                      NV(":path", "/"), NV("X-Upper", "case")};
  int32_t id = 1;
  /* Batches of 50 stay under the concurrency limit while the resets are still queued. */
  for (int batch = 0; batch < 4; batch++) {
    for (int i = 0; i < 50; i++, id += 2) {
      uint8_t block[128];
      size_t bl = raw_hpack(&r, bad, 5, block, sizeof block);
      raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id,
                block, bl);
    }
    cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
    size_t n = drain(s, OUT, sizeof OUT);
    uint32_t code = 0;
    cr_assert_eq(frames_find(OUT, n, NGHTTP2_RST_STREAM, -1, &code), 50);
    cr_assert_eq(code, NGHTTP2_PROTOCOL_ERROR);
    raw_reset(&r);
  }
  cr_assert_eq(R.headers, 0);
  uint8_t block[128];
  size_t bl = raw_hpack(&r, bad, 5, block, sizeof block);
  raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, block,
            bl);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_ELIMIT);
  size_t n = drain(s, OUT, sizeof OUT);
  uint32_t code = 0;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
  cr_assert_eq(code, NGHTTP2_ENHANCE_YOUR_CALM);
  asx_http2_stats st;
  asx_http2_session_stats(s, &st);
  cr_assert_eq(st.resets_provoked, 201);
  cr_assert_eq(st.resets_received, 0);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, resets_below_the_rate_are_fine) {
  asx_http2_session *s = server(NULL);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  int32_t id = 1;
  uint64_t now = 5 * SEC;
  /* 600 resets at 30 per second (below 33/s): never limited, whatever the burst. */
  for (int i = 0; i < 600; i++) {
    now += SEC / 30;
    cr_assert_eq(asx_http2_session_check_timeouts(s, now), 0);
    raw_reset(&r);
    open_and_reset(&r, 1, &id);
    cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0, "reset %d", i);
    drain(s, NULL, 0);
  }
  cr_assert_eq(asx_http2_session_error(s), 0);
  raw_free(&r);
  asx_http2_session_free(s);
}

/* ---- CONTINUATION ------------------------------------------------------------------------ */

static size_t request_block(raw *r, uint8_t *block, size_t cap) {
  nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                     NV(":path", "/cont")};
  return raw_hpack(r, nv, 4, block, cap);
}

Test(http2_limits, continuation_deadline) {
  asx_http2_session *s = server(NULL);
  cr_assert_eq(asx_http2_session_check_timeouts(s, 10 * SEC), 0);
  cr_assert_eq(asx_http2_session_next_deadline(s), UINT64_MAX);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  uint8_t block[128];
  size_t bl = request_block(&r, block, sizeof block);
  raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block, 3); /* no END_HEADERS */
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  cr_assert_eq(asx_http2_session_next_deadline(s), 15 * SEC);
  cr_assert_eq(asx_http2_session_check_timeouts(s, 15 * SEC - 1), 0); /* limit - 1 ns */
  cr_assert_eq(asx_http2_session_check_timeouts(s, 15 * SEC), ASX_ETIMEDOUT);
  size_t n = drain(s, OUT, sizeof OUT);
  uint32_t code = 0;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
  cr_assert_eq(code, NGHTTP2_ENHANCE_YOUR_CALM);
  cr_assert(strstr(asx_http2_session_error_message(s), "CONTINUATION"));
  /* The late CONTINUATION is not processed. */
  raw_reset(&r);
  raw_frame(&r, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block + 3, bl - 3);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_ETIMEDOUT);
  cr_assert_eq(R.headers, 0);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, continuation_completed_in_time) {
  asx_http2_session *s = server(NULL);
  cr_assert_eq(asx_http2_session_check_timeouts(s, 1 * SEC), 0);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  uint8_t block[128];
  size_t bl = request_block(&r, block, sizeof block);
  raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block, 2);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  cr_assert_eq(asx_http2_session_check_timeouts(s, 5 * SEC), 0);
  raw_reset(&r);
  raw_frame(&r, NGHTTP2_CONTINUATION, 0, 1, block + 2, 2);
  raw_frame(&r, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block + 4, bl - 4);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  cr_assert_eq(R.headers, 1);
  cr_assert_str_eq(R.last_path, "/cont");
  cr_assert_eq(asx_http2_session_next_deadline(s), UINT64_MAX);
  cr_assert_eq(asx_http2_session_check_timeouts(s, 100 * SEC), 0);
  raw_free(&r);
  asx_http2_session_free(s);
}

/* A long header block made of many distinct, unindexed fields (valid HPACK throughout). */
static size_t big_block(raw *r, uint8_t *out, size_t cap, int fields) {
  static char val[1000];
  size_t len = request_block(r, out, cap);
  nghttp2_nv nv[1];
  for (int i = 0; i < fields; i++) {
    memset(val, 'a' + i % 26, sizeof val);
    nv[0] = (nghttp2_nv){(uint8_t *)"x-f", (uint8_t *)val, 3, sizeof val, NGHTTP2_NV_FLAG_NO_INDEX};
    len += raw_hpack(r, nv, 1, out + len, cap - len);
  }
  return len;
}

static void send_fragmented(raw *r, const uint8_t *block, size_t len, size_t frag) {
  size_t off = 0;
  bool first = true;
  while (off < len) {
    size_t n = len - off < frag ? len - off : frag;
    uint8_t flags = off + n == len ? NGHTTP2_FLAG_END_HEADERS : 0;
    if (first) flags |= NGHTTP2_FLAG_END_STREAM;
    raw_frame(r, first ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION, flags, 1, block + off, n);
    first = false;
    off += n;
  }
}

Test(http2_limits, header_fragment_byte_cap) {
  static uint8_t block[400 * 1024];
  asx_http2_limits l = asx_http2_limits_default();
  l.max_continuations = 1000; /* isolate the byte cap from the frame count cap */
  l.max_header_fragments = 64 * 1024;
  asx_http2_session *s = server(&l);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  size_t len = big_block(&r, block, sizeof block, 100); /* ~100 KB of HPACK */
  cr_assert_gt(len, 64 * 1024);
  send_fragmented(&r, block, len, 8192);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_ELIMIT);
  size_t n = drain(s, OUT, sizeof OUT);
  uint32_t code = 0;
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
  cr_assert_eq(code, NGHTTP2_ENHANCE_YOUR_CALM);
  cr_assert(strstr(asx_http2_session_error_message(s), "max_header_fragments"));
  cr_assert_eq(R.headers, 0);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, header_fragment_cap_boundaries) {
  /* Fragments totalling cap-1 / cap pass the fragment check (the header list itself is over
   * max_header_list, so the request is answered 431); cap+1 fails the connection. */
  static uint8_t block[400 * 1024];
  raw r;
  raw_init(&r);
  size_t len = big_block(&r, block, sizeof block, 70);
  raw_free(&r);
  size_t caps[] = {len + 1, len, len - 1};
  for (int i = 0; i < 3; i++) {
    raw_init(&r);
    asx_http2_limits l = asx_http2_limits_default();
    l.max_continuations = 1000;
    l.max_header_fragments = caps[i];
    asx_http2_session *s = server(&l);
    raw_preface(&r);
    /* Re-encode with a fresh deflater so the block is byte-identical. */
    size_t len2 = big_block(&r, block, sizeof block, 70);
    cr_assert_eq(len2, len);
    send_fragmented(&r, block, len, 4096);
    int rc = asx_http2_session_recv(s, r.buf, r.len);
    asx_http2_stats st;
    asx_http2_session_stats(s, &st);
    if (caps[i] >= len) {
      cr_assert_eq(rc, 0, "cap %zu len %zu", caps[i], len);
      cr_assert_eq(st.header_limit_hits, 1);
      size_t n = drain(s, OUT, sizeof OUT);
      cr_assert_eq(frames_find(OUT, n, NGHTTP2_HEADERS, 1, NULL), 1); /* the 431 */
    } else {
      cr_assert_eq(rc, ASX_ELIMIT);
    }
    cr_assert_eq(R.headers, 0);
    raw_free(&r);
    asx_http2_session_free(s);
  }
}

Test(http2_limits, continuation_frame_count_flood_is_fatal) {
  asx_http2_session *s = server(NULL);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  uint8_t block[128];
  size_t bl = request_block(&r, block, sizeof block);
  raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block, 1);
  /* Empty CONTINUATION frames cost no fragment bytes; the frame-count cap catches them. */
  for (int i = 0; i < 100; i++) raw_frame(&r, NGHTTP2_CONTINUATION, 0, 1, NULL, 0);
  raw_frame(&r, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block + 1, bl - 1);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_EFATAL);
  cr_assert(strstr(asx_http2_session_error_message(s), "CONTINUATION"));
  cr_assert_eq(R.headers, 0);
  asx_slice o;
  cr_assert_eq(asx_http2_session_pending(s, &o), ASX_EFATAL);
  cr_assert(!asx_http2_session_want_read(s));
  raw_free(&r);
  asx_http2_session_free(s);
}

/* ---- floods ------------------------------------------------------------------------------ */

Test(http2_limits, ping_flood_in_one_read_is_fatal) {
  asx_http2_session *s = server(NULL);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  uint8_t opaque[8] = {0};
  for (int i = 0; i < 2000; i++) raw_frame(&r, NGHTTP2_PING, 0, 0, opaque, 8);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_EFATAL);
  cr_assert(strstr(asx_http2_session_error_message(s), "flood"));
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, ping_flood_with_undrained_output_is_bounded) {
  asx_http2_limits l = asx_http2_limits_default();
  l.max_outbound_ack = 100;
  asx_http2_session *s = server(&l);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  uint8_t opaque[8] = {0};
  int rc = 0, batches = 0;
  /* The caller never writes: output stops at the high-water mark, then ACKs queue inside
   * nghttp2 until the flood limit trips. */
  while (rc == 0 && batches < 1000) {
    raw_reset(&r);
    for (int i = 0; i < 50; i++) raw_frame(&r, NGHTTP2_PING, 0, 0, opaque, 8);
    rc = asx_http2_session_recv(s, r.buf, r.len);
    batches++;
  }
  cr_assert_eq(rc, ASX_EFATAL);
  cr_assert_lt(batches, 200);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, settings_flood_is_fatal) {
  asx_http2_session *s = server(NULL);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  for (int i = 0; i < 2000; i++) raw_frame(&r, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), ASX_EFATAL);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, pings_below_the_flood_limit_are_answered) {
  asx_http2_session *s = server(NULL);
  raw r;
  raw_init(&r);
  raw_preface(&r);
  uint8_t opaque[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int i = 0; i < 999; i++) raw_frame(&r, NGHTTP2_PING, 0, 0, opaque, 8);
  cr_assert_eq(asx_http2_session_recv(s, r.buf, r.len), 0);
  size_t n = drain(s, OUT, sizeof OUT);
  cr_assert_eq(frames_find(OUT, n, NGHTTP2_PING, 0, NULL), 999);
  raw_free(&r);
  asx_http2_session_free(s);
}

Test(http2_limits, bad_preface_is_fatal) {
  asx_http2_session *s = server(NULL);
  const char *h1 = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(asx_http2_session_recv(s, (const uint8_t *)h1, strlen(h1)), ASX_EFATAL);
  cr_assert(strstr(asx_http2_session_error_message(s), "preface"));
  asx_http2_session_free(s);
}

Test(http2_limits, invalid_limits_rejected) {
  asx_http2_limits l = asx_http2_limits_default();
  l.max_frame_size = 16383;
  asx_http2_session *s = NULL;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, &l, NULL, NULL, NULL), ASX_EINVAL);
  l = asx_http2_limits_default();
  l.initial_stream_window = 0x80000000u;
  cr_assert_eq(asx_http2_session_new(&s, ASX_HTTP2_SERVER, &l, NULL, NULL, NULL), ASX_EINVAL);
  cr_assert_null(s);
  cr_assert_str_eq(asx_http2_error_code_name(11), "ENHANCE_YOUR_CALM");
  cr_assert_str_eq(asx_http2_error_code_name(99), "UNKNOWN");
}

Test(http2_limits, settings_entries_boundaries) {
  for (int entries = 31; entries <= 33; entries++) {
    asx_http2_session *s = server(NULL); /* max_settings_entries = 32 */
    raw r;
    raw_init(&r);
    raw_bytes(&r, ASX_HTTP2_PREFACE, ASX_HTTP2_PREFACE_LEN);
    uint8_t iv[33 * 6];
    for (int i = 0; i < entries; i++) {
      /* Repeated SETTINGS_ENABLE_PUSH = 0 entries: each one is valid on its own. */
      uint8_t e[6] = {0, 2, 0, 0, 0, 0};
      memcpy(iv + 6 * i, e, 6);
    }
    raw_frame(&r, NGHTTP2_SETTINGS, 0, 0, iv, (size_t)entries * 6);
    int rc = asx_http2_session_recv(s, r.buf, r.len);
    size_t n = drain(s, OUT, sizeof OUT);
    uint32_t code = 0;
    if (entries <= 32) {
      cr_assert_eq(rc, 0, "entries %d", entries);
      cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, NULL), 0);
    } else {
      cr_assert_eq(rc, ASX_ELIMIT, "entries %d: %s", entries, asx_http2_session_error_message(s));
      cr_assert_eq(frames_find(OUT, n, NGHTTP2_GOAWAY, 0, &code), 1);
      cr_assert_eq(code, NGHTTP2_ENHANCE_YOUR_CALM);
    }
    raw_free(&r);
    asx_http2_session_free(s);
  }
}

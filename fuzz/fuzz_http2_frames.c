/* Fuzz target: an asx HTTP/2 server session fed the client preface and then arbitrary bytes,
 * in chunks whose sizes come from the input, with the clock advancing between chunks. The
 * application side answers requests, consumes data and sometimes resets streams, so the
 * submit paths run against whatever state the peer's frames created.
 * Input layout: [chunk-size seed][flags][frames...]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/http2.h"

typedef struct app {
  uint8_t flags;
  unsigned events;
} app;

static void on_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  app *a = ud;
  a->events++;
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    /* Borrowed views must be readable for their whole length. */
    for (size_t i = 0; i < ev->header_count; i++) {
      volatile uint8_t sink = 0;
      if (ev->headers[i].name.len) sink ^= ev->headers[i].name.ptr[ev->headers[i].name.len - 1];
      if (ev->headers[i].value.len) sink ^= ev->headers[i].value.ptr[ev->headers[i].value.len - 1];
      (void)sink;
    }
    if (ev->kind == ASX_HTTP2_REQUEST && (a->flags & 1)) {
      asx_http2_header h[] = {{{(const uint8_t *)":status", 7}, {(const uint8_t *)"200", 3}}};
      if (asx_http2_submit_response(s, ev->stream_id, h, 1, false) == 0) {
        asx_http2_submit_data(s, ev->stream_id, "fuzz", 4, false);
        asx_http2_header t[] = {{{(const uint8_t *)"x-t", 3}, {(const uint8_t *)"1", 1}}};
        asx_http2_submit_trailers(s, ev->stream_id, t, 1);
      }
    }
    if (ev->kind == ASX_HTTP2_REQUEST && (a->flags & 2))
      asx_http2_submit_rst(s, ev->stream_id, ASX_HTTP2_CANCEL);
    break;
  case ASX_HTTP2_EV_DATA:
    if (!(a->flags & 4)) asx_http2_session_consume(s, ev->stream_id, ev->data.len);
    break;
  default:
    break;
  }
}

static void drain(asx_http2_session *s) {
  for (int i = 0; i < 64; i++) {
    asx_slice out;
    if (asx_http2_session_pending(s, &out) != 0 || out.len == 0) return;
    asx_http2_session_written(s, out.len);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t chunk = (size_t)data[0] * 7 + 1;
  app a = {data[1], 0};
  data += 2;
  size -= 2;

  asx_http2_limits l = asx_http2_limits_default();
  /* Smaller limits reach the limit paths with small inputs. */
  if (a.flags & 8) {
    l.max_header_list = 512;
    l.max_concurrent_streams = 4;
    l.reset_burst = 8;
    l.max_outbound_ack = 16;
    l.initial_stream_window = 1024;
  }
  asx_http2_session *s;
  if (asx_http2_session_new(&s, ASX_HTTP2_SERVER, &l, NULL, on_event, &a) != 0) return 0;
  uint64_t now = 1000000000ull;
  asx_http2_session_check_timeouts(s, now);
  int rc = asx_http2_session_recv(s, (const uint8_t *)ASX_HTTP2_PREFACE, ASX_HTTP2_PREFACE_LEN);
  size_t pos = 0;
  while (rc == 0 && pos < size) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    rc = asx_http2_session_recv(s, data + pos, n);
    pos += n;
    if (!(a.flags & 16)) drain(s);
    now += (a.flags & 32) ? 3000000000ull : 1000000ull;
    if (rc == 0) rc = asx_http2_session_check_timeouts(s, now);
  }
  /* After an error: the message exists, the session stays freeable, output is drainable. */
  if (rc != 0 && asx_http2_session_error_message(s)[0] == '\0') abort();
  drain(s);
  asx_http2_session_free(s);
  return 0;
}

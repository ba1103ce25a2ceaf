/* The HTTP/2 session I/O loop for the lab scenarios (see lab_h2_loop.h). */
#include "lab_h2_loop.h"

#include <string.h>

int lh2_open(lh2_conn *c, asx_cx *cx, lc_side *side, asx_http2_role role, asx_http2_event_cb on_event,
             bool (*done)(lh2_conn *), void *app) {
  memset(c, 0, sizeof(*c));
  c->cx = cx;
  c->side = side;
  c->done = done;
  c->app = app;
  return asx_http2_session_new(&c->s, role, NULL, NULL, on_event, c);
}

static int flush(lh2_conn *c) {
  asx_slice out;
  for (;;) {
    int rc = asx_http2_session_pending(c->s, &out);
    if (rc) return rc;
    if (out.len == 0) return 0;
    size_t w = 0;
    rc = lc_write(c->cx, c->side, out.ptr, out.len, &w);
    asx_http2_session_written(c->s, w);
    if (rc) return rc;
  }
}

int lh2_run(lh2_conn *c) {
  uint8_t buf[1500];
  for (;;) {
    int rc = asx_http2_session_check_timeouts(c->s, asx_now(c->cx));
    if (rc == 0) rc = flush(c);
    if (c->err) return c->err;
    if (rc) return rc;
    if (!c->until_eof && c->done(c)) return 0;
    if (!c->until_eof && !asx_http2_session_want_read(c->s) && !asx_http2_session_want_write(c->s)) {
      lc_fail(c->cx, c->side, "h2", "session ended before the exchange did");
      return ASX_EPROTO;
    }
    size_t n = 0;
    rc = asx_stream_read(c->cx, c->side->s, buf, sizeof(buf), &n);
    if (rc == ASX_ECLOSED && c->done(c)) return 0;
    if (rc) return rc;
    rc = asx_http2_session_recv(c->s, buf, n);
    if (c->err) return c->err;
    if (rc) {
      lc_fail(c->cx, c->side, "decode", "%s: %s", asx_errname(rc), asx_http2_session_error_message(c->s));
      return rc;
    }
  }
}

int lh2_client_finish(lh2_conn *c) {
  int rc = asx_http2_session_shutdown(c->s);
  if (rc == 0) rc = flush(c);
  if (rc == 0) rc = lc_shutdown(c->cx, c->side);
  uint8_t buf[1500];
  while (rc == 0) { /* the server closes once it has seen our FIN */
    size_t n = 0;
    rc = asx_stream_read(c->cx, c->side->s, buf, sizeof(buf), &n);
  }
  return rc == ASX_ECLOSED ? 0 : rc;
}

void lh2_close(lh2_conn *c) {
  asx_http2_session_free(c->s);
  c->s = NULL;
}

asx_http2_header lh2_hdr(const char *name, const char *value) {
  asx_http2_header h = {{(const uint8_t *)name, strlen(name)}, {(const uint8_t *)value, strlen(value)}};
  return h;
}

asx_slice lh2_find(const asx_http2_event *ev, const char *name) {
  for (size_t i = 0; i < ev->header_count; i++)
    if (asx_slice_eq(ev->headers[i].name, name)) return ev->headers[i].value;
  return (asx_slice){NULL, 0};
}

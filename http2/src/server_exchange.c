/* The handler's view of one exchange: request accessors, the body reader (which returns
 * flow-control credit as it reads) and the response writer (back-pressure from the peer's
 * window through the session's per-stream send buffer). */
#include <string.h>

#include "server_internal.h"

int32_t asx_http2_req_stream_id(const asx_http2_exchange *ex) { return ex->id; }
asx_slice asx_http2_req_method(const asx_http2_exchange *ex) { return ex->method; }
asx_slice asx_http2_req_path(const asx_http2_exchange *ex) { return ex->path; }
asx_slice asx_http2_req_authority(const asx_http2_exchange *ex) { return ex->authority; }
asx_slice asx_http2_req_scheme(const asx_http2_exchange *ex) { return ex->scheme; }
size_t asx_http2_req_header_count(const asx_http2_exchange *ex) { return ex->nheaders; }

int asx_http2_req_header(const asx_http2_exchange *ex, size_t i, asx_slice *name, asx_slice *value) {
  if (i >= ex->nheaders) return ASX_ENOTFOUND;
  if (name) *name = ex->names[i];
  if (value) *value = ex->values[i];
  return 0;
}

asx_slice asx_http2_req_header_get(const asx_http2_exchange *ex, const char *name) {
  for (size_t i = 0; i < ex->nheaders; i++)
    if (asx_slice_eq(ex->names[i], name)) return ex->values[i];
  return (asx_slice){NULL, 0};
}

/* Why the stream cannot carry more (mutex held): 0 when it still can. */
static int ex_gone(const asx_http2_exchange *e) {
  if (e->reset || e->closed || e->c->dead) return ASX_ECONNRESET;
  return 0;
}

int asx_http2_req_read(asx_cx *cx, asx_http2_exchange *ex, void *buf, size_t cap, size_t *n) {
  size_t dummy;
  if (!n) n = &dummy;
  *n = 0;
  if (!ex || !buf || cap == 0) return ASX_EINVAL;
  h2s_conn *c = ex->c;
  int rc = asx_checkpoint(cx);
  if (rc) return rc;
  h2s_lock(c);
  for (;;) {
    if (ex->body.len) {
      size_t k = ex->body.len < cap ? ex->body.len : cap;
      memcpy(buf, ex->body.data, k);
      asx_buf_consume(&ex->body, k);
      if (!ex->h1_body && !c->dead) {
        asx_http2_session_consume(c->sess, ex->id, k);
        h2s_kick_writer(c);
      }
      *n = k;
      rc = 0;
      break;
    }
    if (ex->in_end) {
      rc = ASX_ECLOSED;
      break;
    }
    rc = ex_gone(ex);
    if (rc) break;
    rc = h2s_wake_wait(c, cx, &ex->wake);
    if (rc) break;
  }
  h2s_unlock(c);
  return rc;
}

int asx_http2_req_read_all(asx_cx *cx, asx_http2_exchange *ex, asx_buf *out) {
  if (!ex || !out) return ASX_EINVAL;
  uint8_t chunk[4096];
  for (;;) {
    size_t room = out->max ? out->max - out->len : sizeof(chunk);
    if (room == 0) {
      /* Full: only the end of the body may follow. */
      h2s_lock(ex->c);
      bool done = ex->in_end && ex->body.len == 0;
      h2s_unlock(ex->c);
      if (done) return 0;
      if (ex->body.len == 0 && !ex->in_end) {
        /* Wait for either more bytes (over the limit) or the end. */
        size_t n = 0;
        int rc = asx_http2_req_read(cx, ex, chunk, 1, &n);
        if (rc == ASX_ECLOSED) return 0;
        return rc ? rc : ASX_ELIMIT;
      }
      return ASX_ELIMIT;
    }
    size_t n = 0;
    int rc = asx_http2_req_read(cx, ex, chunk, room < sizeof(chunk) ? room : sizeof(chunk), &n);
    if (rc == ASX_ECLOSED) return 0;
    if (rc) return rc;
    rc = asx_buf_append(out, chunk, n);
    if (rc) return rc;
  }
}

static size_t status_text(int status, char out[4]) {
  out[0] = (char)('0' + status / 100 % 10);
  out[1] = (char)('0' + status / 10 % 10);
  out[2] = (char)('0' + status % 10);
  out[3] = '\0';
  return 3;
}

asx_slice h2s_date(h2s_conn *c) {
  return asx_imf_date_cached(&c->date, asx_runtime_wall_now(c->rt) / 1000000000ull);
}

static bool has_date(const asx_http2_header *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (asx_slice_eq_nocase(h[i].name, "date")) return true;
  return false;
}

/* Submits the response header block (mutex held). */
static int submit_headers(asx_http2_exchange *ex, int status, const asx_http2_header *headers,
                          size_t n, bool end_stream) {
  h2s_conn *c = ex->c;
  if (status < 100 || status > 999 || (n && !headers)) return ASX_EINVAL;
  if (ex->res_started) return ASX_ESTATE;
  int rc = ex_gone(ex);
  if (rc) return rc;
  asx_http2_header stack[16];
  asx_http2_header *h = stack;
  if (n + 2 > 16) {
    h = asx_calloc(c->cfg.alloc, n + 2, sizeof(*h));
    if (!h) return ASX_ENOMEM;
  }
  char st[4];
  h[0].name = (asx_slice){(const uint8_t *)":status", 7};
  h[0].value = (asx_slice){(const uint8_t *)st, status_text(status, st)};
  for (size_t i = 0; i < n; i++) h[i + 1] = headers[i];
  size_t total = n + 1;
  if (c->cfg.date_header && !has_date(headers, n))
    h[total++] = (asx_http2_header){{(const uint8_t *)"date", 4}, h2s_date(c)};
  rc = asx_http2_submit_response(c->sess, ex->id, h, total, end_stream);
  if (h != stack) asx_free(c->cfg.alloc, h);
  if (rc == ASX_ENOTFOUND) rc = ASX_ECONNRESET;
  if (rc) return rc;
  ex->res_started = true;
  if (end_stream) ex->res_ended = true;
  h2s_kick_writer(c);
  return 0;
}

int asx_http2_res_headers(asx_http2_exchange *ex, int status, const asx_http2_header *headers,
                          size_t n, bool end_stream) {
  if (!ex) return ASX_EINVAL;
  h2s_lock(ex->c);
  int rc = submit_headers(ex, status, headers, n, end_stream);
  h2s_unlock(ex->c);
  return rc;
}

int asx_http2_res_write(asx_cx *cx, asx_http2_exchange *ex, const void *data, size_t len,
                        bool end_stream) {
  if (!ex || (!data && len)) return ASX_EINVAL;
  h2s_conn *c = ex->c;
  const uint8_t *p = data;
  int rc = asx_checkpoint(cx);
  if (rc) return rc;
  h2s_lock(c);
  if (!ex->res_started) rc = submit_headers(ex, 200, NULL, 0, false);
  /* A response to HEAD has no content (RFC 9110 §9.3.2): the bytes are taken and dropped, and
   * only the end of the stream goes out (a DATA frame with content is a protocol error there). */
  if (rc == 0 && asx_slice_eq(ex->method, "HEAD")) {
    len = 0;
    if (!end_stream) {
      h2s_unlock(c);
      return 0;
    }
  }
  while (rc == 0) {
    if (ex->res_ended) {
      rc = ASX_ESTATE;
      break;
    }
    rc = ex_gone(ex);
    if (rc) break;
    size_t buffered = asx_http2_stream_send_buffered(c->sess, ex->id);
    size_t high = c->cfg.send_high_water;
    if (len && buffered >= high) {
      ex->waiting_room = true;
      rc = h2s_wake_wait(c, cx, &ex->wake);
      ex->waiting_room = false;
      continue;
    }
    size_t k = len;
    if (k > high - buffered) k = high - buffered;
    bool last = k == len && end_stream;
    rc = asx_http2_submit_data(c->sess, ex->id, k ? (const void *)p : "", k, last);
    if (rc == ASX_ENOTFOUND) rc = ASX_ECONNRESET;
    if (rc) break;
    h2s_kick_writer(c);
    p += k;
    len -= k;
    if (last) ex->res_ended = true;
    if (len == 0) break;
  }
  h2s_unlock(c);
  return rc;
}

int asx_http2_res_trailers(asx_http2_exchange *ex, const asx_http2_header *headers, size_t n) {
  if (!ex || (n && !headers)) return ASX_EINVAL;
  h2s_conn *c = ex->c;
  h2s_lock(c);
  int rc = 0;
  if (!ex->res_started) rc = submit_headers(ex, 200, NULL, 0, false);
  if (rc == 0 && ex->res_ended) rc = ASX_ESTATE;
  if (rc == 0) rc = ex_gone(ex);
  if (rc == 0) {
    rc = asx_http2_submit_trailers(c->sess, ex->id, headers, n);
    if (rc == ASX_ENOTFOUND) rc = ASX_ECONNRESET;
    if (rc == 0) {
      ex->res_ended = true;
      h2s_kick_writer(c);
    }
  }
  h2s_unlock(c);
  return rc;
}

int asx_http2_res_reset(asx_http2_exchange *ex, uint32_t error_code) {
  if (!ex) return ASX_EINVAL;
  h2s_conn *c = ex->c;
  h2s_lock(c);
  int rc = ex_gone(ex);
  if (rc == 0) {
    rc = asx_http2_submit_rst(c->sess, ex->id, error_code);
    if (rc == ASX_ENOTFOUND) rc = ASX_ECONNRESET;
    /* Our own reset must not cancel the handler when STREAM_CLOSED arrives. */
    ex->res_started = ex->res_ended = true;
    ex->reset = true;
    h2s_kick_writer(c);
  }
  h2s_unlock(c);
  return rc;
}

bool asx_http2_res_started(const asx_http2_exchange *ex) { return ex->res_started; }
bool asx_http2_res_ended(const asx_http2_exchange *ex) { return ex->res_ended; }

bool asx_http2_exchange_reset(const asx_http2_exchange *ex) {
  h2s_lock(ex->c);
  bool r = ex->reset || ex->c->dead;
  h2s_unlock(ex->c);
  return r;
}

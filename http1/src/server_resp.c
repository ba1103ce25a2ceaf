/* The response side of the HTTP/1.1 server glue: status and header fields collected until the
 * head is written, sized or chunked bodies (close-delimited for HTTP/1.0 clients), trailers, and
 * the server's own minimal error responses. Small writes are gathered in the connection's output
 * buffer; large ones go straight to the stream with writev. */
#include <stdio.h>
#include <string.h>

#include "server_internal.h"

#define OUT_GATHER (64u * 1024u) /* gather response bytes up to this much before writing */

#define LIT(s) ((asx_slice){(const uint8_t *)(s), sizeof(s) - 1})

static asx_slice cstr(const char *s) { return (asx_slice){(const uint8_t *)s, strlen(s)}; }

asx_slice h1_date(h1conn *c) { return asx_imf_date_cached(&c->date, asx_wall_now(c->cx) / 1000000000ull); }

/* True when the handler set a field named `name` itself. */
static bool resp_has_field(const asx_http1_resp *r, const char *name) {
  for (size_t i = 0; i < r->field_count; i++) {
    asx_slice n = {r->store.data + r->fields[i].name.off, r->fields[i].name.len};
    if (asx_slice_eq_nocase(n, name)) return true;
  }
  return false;
}

void h1_resp_reset(asx_http1_resp *r, h1conn *c) {
  asx_buf store = r->store;
  memset(r, 0, sizeof *r);
  r->store = store;
  asx_buf_reset(&r->store);
  r->c = c;
  r->code = 200;
}

bool asx_http1_resp_started(const asx_http1_resp *resp) { return resp->started; }

int asx_http1_resp_status(asx_http1_resp *resp, int code) {
  if (resp->started) return ASX_ESTATE;
  if (code < 200 || code > 999) return ASX_EINVAL;
  resp->code = code;
  return 0;
}

void asx_http1_resp_close(asx_http1_resp *resp) { resp->close_after = true; }

int asx_http1_resp_header_slice(asx_http1_resp *resp, asx_slice name, asx_slice value) {
  if (resp->started) return ASX_ESTATE;
  if (name.len == 0 || asx_slice_eq_nocase(name, "content-length") ||
      asx_slice_eq_nocase(name, "transfer-encoding") || asx_slice_eq_nocase(name, "connection"))
    return ASX_EINVAL;
  if (resp->field_count == H1_MAX_RESP_HEADERS) return ASX_ELIMIT;
  h1_field f;
  size_t start = resp->store.len;
  f.name = (h1_ref){(uint32_t)start, (uint32_t)name.len};
  f.value = (h1_ref){(uint32_t)(start + name.len), (uint32_t)value.len};
  int rc = asx_buf_append(&resp->store, name.ptr, name.len);
  if (rc == 0 && value.len) rc = asx_buf_append(&resp->store, value.ptr, value.len);
  if (rc) {
    resp->store.len = start;
    return rc;
  }
  resp->fields[resp->field_count++] = f;
  return 0;
}

int asx_http1_resp_header(asx_http1_resp *resp, const char *name, const char *value) {
  if (!name || !value) return ASX_EINVAL;
  return asx_http1_resp_header_slice(resp, cstr(name), cstr(value));
}

static bool status_has_no_body(int code) { return code < 200 || code == 204 || code == 304; }

int asx_http1_resp_start(asx_cx *cx, asx_http1_resp *r, int64_t content_length) {
  h1conn *c = r->c;
  asx_http1_req *req = &c->req;
  if (r->started) return ASX_ESTATE;
  if (c->io_err) return c->io_err;
  /* Close after this response when the client wants it, when the server is shutting down,
   * when the request body failed, or when the client awaits a 100 Continue we never sent
   * (it may or may not send the body now: the framing of the connection is lost). */
  if (!req->keep_alive || asx_cancel_requested(cx) || req->body_err ||
      (!req->msg_done && req->expect_continue && !req->continue_sent))
    r->close_after = true;
  asx_http1_response_head h;
  memset(&h, 0, sizeof h);
  h.code = r->code;
  h.minor = 1;
  bool no_body_status = status_has_no_body(r->code);
  r->no_body = no_body_status || req->method == ASX_HTTP1_HEAD;
  if (no_body_status) {
    h.framing = ASX_HTTP1_FRAMING_NONE;
  } else if (content_length >= 0) {
    h.framing = ASX_HTTP1_FRAMING_LENGTH;
    h.content_length = (uint64_t)content_length;
    r->remaining = r->no_body ? 0 : (uint64_t)content_length;
  } else if (req->minor >= 1) {
    h.framing = ASX_HTTP1_FRAMING_CHUNKED;
    r->chunked = !r->no_body;
  } else {
    h.framing = ASX_HTTP1_FRAMING_NONE;
    r->close_delimited = true;
    r->close_after = true;
  }
  asx_http1_header hdrs[H1_MAX_RESP_HEADERS + 3];
  size_t n = 0;
  for (size_t i = 0; i < r->field_count; i++) {
    hdrs[n].name = (asx_slice){r->store.data + r->fields[i].name.off, r->fields[i].name.len};
    hdrs[n].value = (asx_slice){r->store.data + r->fields[i].value.off, r->fields[i].value.len};
    n++;
  }
  if (c->cfg->server_header) hdrs[n++] = (asx_http1_header){LIT("Server"), cstr(c->cfg->server_header)};
  if (c->cfg->date_header && !resp_has_field(r, "Date")) hdrs[n++] = (asx_http1_header){LIT("Date"), h1_date(c)};
  if (r->close_after)
    hdrs[n++] = (asx_http1_header){LIT("Connection"), LIT("close")};
  else if (req->minor == 0)
    hdrs[n++] = (asx_http1_header){LIT("Connection"), LIT("keep-alive")};
  h.headers = hdrs;
  h.header_count = n;
  int rc = asx_http1_encode_response_head(&c->out, &h);
  if (rc) return rc;
  r->started = true;
  return 0;
}

int asx_http1_resp_write(asx_cx *cx, asx_http1_resp *r, const void *data, size_t len) {
  (void)cx;
  h1conn *c = r->c;
  if (!r->started || r->finished) return ASX_ESTATE;
  if (c->io_err) return c->io_err;
  if (len == 0 || r->no_body) return 0;
  if (!r->chunked && !r->close_delimited) {
    if (len > r->remaining) return ASX_EOVERFLOW;
    r->remaining -= len;
  }
  if (c->out.len + len <= OUT_GATHER) {
    return r->chunked ? asx_http1_encode_chunk(&c->out, data, len) : asx_buf_append(&c->out, data, len);
  }
  /* Large: the gathered bytes, the chunk header, the data and the chunk's CRLF in one writev. */
  if (r->chunked) {
    int rc = asx_buf_appendf(&c->out, "%zx\r\n", len);
    if (rc) return rc;
  }
  struct iovec iov[3] = {{c->out.data, c->out.len}, {(void *)data, len}, {(void *)"\r\n", 2}};
  return h1_write_direct(c, iov, r->chunked ? 3 : 2);
}

int asx_http1_resp_finish(asx_cx *cx, asx_http1_resp *r, const asx_http1_header *trailers,
                          size_t count) {
  (void)cx;
  h1conn *c = r->c;
  if (!r->started || r->finished) return ASX_ESTATE;
  if (c->io_err) return c->io_err;
  if (!r->chunked && !r->close_delimited && r->remaining > 0) return ASX_ESTATE;
  if (r->chunked) {
    int rc = asx_http1_encode_last_chunk(&c->out, trailers, count);
    if (rc) return rc;
  }
  r->finished = true;
  /* Pipelining: when the next request is already buffered, its response can share a write. */
  if (r->close_after || c->in_pos >= c->in_len || c->out.len >= OUT_GATHER) return h1_flush(c);
  return 0;
}

int asx_http1_resp_send(asx_cx *cx, asx_http1_resp *r, const void *body, size_t len) {
  int rc = asx_http1_resp_start(cx, r, (int64_t)len);
  if (rc == 0 && len) rc = asx_http1_resp_write(cx, r, body, len);
  if (rc == 0) rc = asx_http1_resp_finish(cx, r, NULL, 0);
  return rc;
}

bool h1_resp_complete(asx_http1_resp *r, int handler_rc) {
  h1conn *c = r->c;
  if (c->io_err) return false;
  if (!r->started) {
    int code = 500;
    int berr = c->req.body_err;
    if ((berr == ASX_ELIMIT || berr == ASX_EPROTO || berr == ASX_EUNSUPPORTED) &&
        asx_http1_decoder_error(c->dec) != ASX_HTTP1_OK)
      code = asx_http1_error_status(asx_http1_decoder_error(c->dec));
    else if (berr)
      return false; /* the stream failed under the body: nobody to answer */
    h1_send_error(c, code);
    return false;
  }
  if (!r->finished) {
    if (handler_rc != 0 || !r->chunked || asx_http1_resp_finish(c->cx, r, NULL, 0) != 0) {
      h1_flush(c);
      return false;
    }
  }
  return !r->close_after && !c->req.body_err;
}

int h1_send_error(h1conn *c, int code) {
  if (c->io_err) return c->io_err;
  const char *reason = asx_http1_reason_phrase(code);
  char body[96];
  int blen = snprintf(body, sizeof body, "%d %s\n", code, reason);
  asx_http1_header hdrs[4];
  size_t n = 0;
  hdrs[n++] = (asx_http1_header){LIT("Content-Type"), LIT("text/plain")};
  if (c->cfg->server_header) hdrs[n++] = (asx_http1_header){LIT("Server"), cstr(c->cfg->server_header)};
  if (c->cfg->date_header) hdrs[n++] = (asx_http1_header){LIT("Date"), h1_date(c)};
  hdrs[n++] = (asx_http1_header){LIT("Connection"), LIT("close")};
  asx_http1_response_head h = {.code = code, .minor = 1, .headers = hdrs, .header_count = n,
                               .framing = ASX_HTTP1_FRAMING_LENGTH, .content_length = (uint64_t)blen};
  int rc = asx_http1_encode_response_head(&c->out, &h);
  if (rc == 0 && c->req.method != ASX_HTTP1_HEAD) rc = asx_buf_append(&c->out, body, (size_t)blen);
  if (rc) return rc;
  c->resp.started = c->resp.finished = true;
  return h1_flush(c);
}

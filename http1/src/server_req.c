/* The request side of the HTTP/1.1 server glue: decoder events copied into per-connection
 * storage (the decoder's slices are borrowed for one callback only), the request accessors and
 * the streaming body reader. */
#include <string.h>

#include "server_internal.h"

static asx_slice ref_slice(const asx_buf *store, h1_ref r) {
  return (asx_slice){store->data ? store->data + r.off : (const uint8_t *)"", r.len};
}

static int store_put(asx_buf *store, asx_slice s, h1_ref *out) {
  out->off = (uint32_t)store->len;
  out->len = (uint32_t)s.len;
  return s.len ? asx_buf_append(store, s.ptr, s.len) : 0;
}

static int field_put(asx_buf *store, asx_buf *fields, asx_slice name, asx_slice value) {
  h1_field f;
  int rc = store_put(store, name, &f.name);
  if (rc == 0) rc = store_put(store, value, &f.value);
  if (rc == 0) rc = asx_buf_append(fields, &f, sizeof f);
  return rc;
}

void h1_req_reset(asx_http1_req *r, h1conn *c, uint64_t index) {
  memset(r, 0, sizeof *r);
  r->c = c;
  r->index = index;
  asx_buf_reset(&c->store);
  asx_buf_reset(&c->fields);
  asx_buf_reset(&c->tstore);
  asx_buf_reset(&c->tfields);
  asx_buf_reset(&c->body);
  c->body_pos = 0;
  c->upgrade_ev = false;
}

int h1_on_event(void *ud, const asx_http1_event *ev) {
  h1conn *c = ud;
  asx_http1_req *r = &c->req;
  switch (ev->type) {
    case ASX_HTTP1_EV_REQUEST_LINE:
      r->method = ev->u.request.method;
      r->minor = ev->u.request.minor;
      if (store_put(&c->store, ev->u.request.method_name, &r->method_name)) return ASX_ENOMEM;
      return store_put(&c->store, ev->u.request.target, &r->target) ? ASX_ENOMEM : 0;
    case ASX_HTTP1_EV_HEADER:
      return field_put(&c->store, &c->fields, ev->u.field.name, ev->u.field.value) ? ASX_ENOMEM : 0;
    case ASX_HTTP1_EV_TRAILER:
      return field_put(&c->tstore, &c->tfields, ev->u.field.name, ev->u.field.value) ? ASX_ENOMEM : 0;
    case ASX_HTTP1_EV_HEADERS_DONE:
      r->body = ev->u.head.body;
      r->content_length = ev->u.head.content_length;
      r->keep_alive = ev->u.head.keep_alive;
      r->expect_continue = ev->u.head.expect_continue;
      r->upgrade = ev->u.head.upgrade;
      r->proto = ev->u.head.upgrade ? ev->u.head.proto : ASX_HTTP1_PROTO_NONE;
      r->head_done = true;
      return 0;
    case ASX_HTTP1_EV_DATA:
      return asx_buf_append(&c->body, ev->u.data.bytes.ptr, ev->u.data.bytes.len) ? ASX_ENOMEM : 0;
    case ASX_HTTP1_EV_MESSAGE_DONE:
      r->msg_done = true;
      /* The head's keep-alive may be refined at the end (e.g. an upgrade that happens). */
      r->keep_alive = r->keep_alive && ev->u.done.keep_alive;
      return 0;
    case ASX_HTTP1_EV_UPGRADE:
      c->upgrade_ev = true;
      c->upgrade_kind = ev->u.upgrade.kind;
      return 0;
    default:
      return 0;
  }
}

asx_http1_method asx_http1_req_method(const asx_http1_req *req) { return req->method; }
asx_slice asx_http1_req_method_name(const asx_http1_req *req) {
  return ref_slice(&req->c->store, req->method_name);
}
asx_slice asx_http1_req_target(const asx_http1_req *req) {
  return ref_slice(&req->c->store, req->target);
}
asx_slice asx_http1_req_path(const asx_http1_req *req) {
  asx_slice t = asx_http1_req_target(req);
  const uint8_t *q = t.len ? memchr(t.ptr, '?', t.len) : NULL;
  if (q) t.len = (size_t)(q - t.ptr);
  return t;
}
int asx_http1_req_minor(const asx_http1_req *req) { return req->minor; }
asx_http1_upgrade_proto asx_http1_req_upgrade(const asx_http1_req *req) { return req->proto; }
uint64_t asx_http1_req_index(const asx_http1_req *req) { return req->index; }
asx_http1_body asx_http1_req_body_kind(const asx_http1_req *req) { return req->body; }
uint64_t asx_http1_req_content_length(const asx_http1_req *req) { return req->content_length; }

size_t asx_http1_req_header_count(const asx_http1_req *req) {
  return req->c->fields.len / sizeof(h1_field);
}

static void field_at(const asx_buf *store, const asx_buf *fields, size_t i, asx_slice *name,
                     asx_slice *value) {
  h1_field f;
  memcpy(&f, fields->data + i * sizeof f, sizeof f);
  if (name) *name = ref_slice(store, f.name);
  if (value) *value = ref_slice(store, f.value);
}

void asx_http1_req_header_at(const asx_http1_req *req, size_t i, asx_slice *name, asx_slice *value) {
  field_at(&req->c->store, &req->c->fields, i, name, value);
}

bool asx_http1_req_header(const asx_http1_req *req, const char *name, asx_slice *value) {
  size_t n = asx_http1_req_header_count(req);
  for (size_t i = 0; i < n; i++) {
    asx_slice k, v;
    asx_http1_req_header_at(req, i, &k, &v);
    if (asx_slice_eq_nocase(k, name)) {
      if (value) *value = v;
      return true;
    }
  }
  return false;
}

int asx_http1_req_header_join(const asx_http1_req *req, const char *name, asx_buf *out) {
  size_t n = asx_http1_req_header_count(req), start = out->len;
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    asx_slice k, v;
    asx_http1_req_header_at(req, i, &k, &v);
    if (!asx_slice_eq_nocase(k, name)) continue;
    int rc = found ? asx_buf_append(out, ", ", 2) : 0;
    if (rc == 0 && v.len) rc = asx_buf_append(out, v.ptr, v.len);
    if (rc) {
      out->len = start;
      return rc;
    }
    found = true;
  }
  return found ? 0 : ASX_ENOTFOUND;
}

size_t asx_http1_req_trailer_count(const asx_http1_req *req) {
  return req->c->tfields.len / sizeof(h1_field);
}

void asx_http1_req_trailer_at(const asx_http1_req *req, size_t i, asx_slice *name, asx_slice *value) {
  field_at(&req->c->tstore, &req->c->tfields, i, name, value);
}

/* The client waits for "100 Continue" before sending a body it announced with Expect. */
static int send_continue(asx_http1_req *r) {
  h1conn *c = r->c;
  r->continue_sent = true;
  if (c->resp.started) return 0;
  static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
  int rc = asx_buf_append(&c->out, cont, sizeof cont - 1);
  return rc ? rc : h1_flush(c);
}

int asx_http1_req_read(asx_cx *cx, asx_http1_req *r, void *buf, size_t cap, size_t *n) {
  (void)cx; /* the connection's own cx is used: the handler runs in the connection task */
  h1conn *c = r->c;
  *n = 0;
  for (;;) {
    if (c->body_pos < c->body.len) {
      size_t avail = c->body.len - c->body_pos, k = avail < cap ? avail : cap;
      memcpy(buf, c->body.data + c->body_pos, k);
      c->body_pos += k;
      if (c->body_pos == c->body.len) {
        asx_buf_reset(&c->body);
        c->body_pos = 0;
      }
      r->body_read += k;
      *n = k;
      return 0;
    }
    if (r->msg_done || cap == 0) return 0;
    if (r->body_err) return r->body_err;
    if (r->expect_continue && !r->continue_sent) {
      int rc = send_continue(r);
      if (rc) return r->body_err = rc;
    }
    int rc = c->in_pos < c->in_len ? h1_feed(c) : h1_fill(c);
    if (rc) return r->body_err = rc;
  }
}

int asx_http1_req_read_all(asx_cx *cx, asx_http1_req *r, asx_buf *out) {
  uint8_t tmp[16384];
  for (;;) {
    size_t n = 0;
    int rc = asx_http1_req_read(cx, r, tmp, sizeof tmp, &n);
    if (rc) return rc;
    if (n == 0) return 0;
    rc = asx_buf_append(out, tmp, n);
    if (rc) return rc;
  }
}

int h1_req_drain(asx_http1_req *r, uint64_t limit) {
  uint8_t tmp[4096];
  uint64_t dropped = 0;
  while (!r->msg_done || r->c->body_pos < r->c->body.len) {
    size_t n = 0;
    int rc = asx_http1_req_read(r->c->cx, r, tmp, sizeof tmp, &n);
    if (rc) return rc;
    if (n == 0) break;
    dropped += n;
    if (dropped > limit) return ASX_ELIMIT;
  }
  return 0;
}

/* True when a Connection field lists `token` (comma-separated, case-insensitive). */
static bool connection_has(const asx_http1_req *r, const char *token) {
  size_t n = asx_http1_req_header_count(r), tl = strlen(token);
  for (size_t i = 0; i < n; i++) {
    asx_slice k, v;
    asx_http1_req_header_at(r, i, &k, &v);
    if (!asx_slice_eq_nocase(k, "connection")) continue;
    size_t p = 0;
    while (p < v.len) {
      while (p < v.len && (v.ptr[p] == ' ' || v.ptr[p] == '\t' || v.ptr[p] == ',')) p++;
      size_t s = p;
      while (p < v.len && v.ptr[p] != ',') p++;
      size_t e = p;
      while (e > s && (v.ptr[e - 1] == ' ' || v.ptr[e - 1] == '\t')) e--;
      if (asx_slice_eq_nocase((asx_slice){v.ptr + s, e - s}, token) && e - s == tl) return true;
    }
  }
  return false;
}

void h1_req_upgrade_declined(asx_http1_req *r) {
  /* The decoder called the upgrade request non-persistent; as a plain request it persists by
   * the usual version/Connection rules. */
  r->keep_alive = r->minor >= 1 ? !connection_has(r, "close") : connection_has(r, "keep-alive");
  r->upgrade = false;
}

size_t h1_req_host_count(const asx_http1_req *r) {
  size_t n = asx_http1_req_header_count(r), count = 0;
  for (size_t i = 0; i < n; i++) {
    asx_slice k;
    asx_http1_req_header_at(r, i, &k, NULL);
    if (asx_slice_eq_nocase(k, "host")) count++;
  }
  return count;
}

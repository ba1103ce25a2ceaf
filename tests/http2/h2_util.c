#include "h2_util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* ---- asx event recorder ------------------------------------------------------------------ */

void rec_init(rec *r) {
  memset(r, 0, sizeof *r);
  r->respond_body = "hello from asx";
}

static void copy_str(char *dst, size_t cap, asx_slice v) {
  size_t n = v.len < cap - 1 ? v.len : cap - 1;
  memcpy(dst, v.ptr, n);
  dst[n] = '\0';
}

void rec_on_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  rec *r = ud;
  r->last_stream = ev->stream_id;
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    r->headers++;
    r->last_kind = ev->kind;
    r->last_header_count = ev->header_count;
    for (size_t i = 0; i < ev->header_count; i++) {
      const asx_http2_header *h = &ev->headers[i];
      if (asx_slice_eq(h->name, ":path")) copy_str(r->last_path, sizeof r->last_path, h->value);
      if (asx_slice_eq(h->name, ":status"))
        copy_str(r->last_status, sizeof r->last_status, h->value);
      if (ev->kind == ASX_HTTP2_TRAILERS)
        copy_str(r->last_trailer_value, sizeof r->last_trailer_value, h->value);
    }
    break;
  case ASX_HTTP2_EV_DATA:
    r->data_events++;
    if (r->data_bytes + ev->data.len <= sizeof r->data)
      memcpy(r->data + r->data_bytes, ev->data.ptr, ev->data.len);
    r->data_bytes += ev->data.len;
    if (r->auto_consume) cr_assert_eq(asx_http2_session_consume(s, ev->stream_id, ev->data.len), 0);
    break;
  case ASX_HTTP2_EV_END_STREAM:
    r->ends++;
    if (r->auto_respond) {
      asx_http2_header resp[] = {HDR(":status", "200"), HDR("content-type", "text/plain")};
      cr_assert_eq(asx_http2_submit_response(s, ev->stream_id, resp, 2, false), 0);
      cr_assert_eq(asx_http2_submit_data(s, ev->stream_id, r->respond_body,
                                         strlen(r->respond_body), false), 0);
      asx_http2_header tr[] = {HDR("x-trailer", "done")};
      cr_assert_eq(asx_http2_submit_trailers(s, ev->stream_id, tr, 1), 0);
    }
    break;
  case ASX_HTTP2_EV_RESET:
    r->resets++;
    r->reset_code = ev->error_code;
    break;
  case ASX_HTTP2_EV_STREAM_CLOSED:
    r->closed++;
    r->last_close_code = ev->error_code;
    r->last_close_asx = ev->asx_error;
    break;
  case ASX_HTTP2_EV_GOAWAY:
    r->goaways++;
    r->goaway_code = ev->error_code;
    r->goaway_last_stream = ev->last_stream_id;
    break;
  }
}

/* ---- nghttp2 peer ------------------------------------------------------------------------ */

static const char peer_body[] = "hello from nghttp2";

static ssize_t peer_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  (void)ud;
  size_t *off = src->ptr;
  size_t left = sizeof peer_body - 1 - *off;
  size_t n = left < len ? left : len;
  memcpy(buf, peer_body + *off, n);
  *off += n;
  if (*off == sizeof peer_body - 1) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv tr[] = {NV("x-trailer", "peer-done")};
    cr_assert_eq(nghttp2_submit_trailer(ng, id, tr, 1), 0);
    free(off);
  }
  return (ssize_t)n;
}

static void peer_respond(peer *p, int32_t id) {
  static char big[300 * 1024];
  nghttp2_nv nv[3] = {NV(":status", "200"), NV("content-type", "text/plain")};
  size_t n = 2;
  if (p->big_response_header) {
    cr_assert_leq(p->big_response_header, sizeof big);
    memset(big, 'b', p->big_response_header);
    nv[2] = (nghttp2_nv){(uint8_t *)"x-big", (uint8_t *)big, 5, p->big_response_header,
                         NGHTTP2_NV_FLAG_NONE};
    n = 3;
  }
  size_t *off = calloc(1, sizeof *off);
  nghttp2_data_provider prd = {{.ptr = off}, peer_read};
  cr_assert_eq(nghttp2_submit_response(p->ng, id, nv, n, &prd), 0);
}

static int peer_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                          size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                          void *ud) {
  (void)ng;
  (void)flags;
  peer *p = ud;
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    size_t n = valuelen < 7 ? valuelen : 7;
    memcpy(p->last_status, value, n);
    p->last_status[n] = '\0';
  }
  if (namelen == 9 && memcmp(name, "x-trailer", 9) == 0) {
    size_t n = valuelen < 63 ? valuelen : 63;
    memcpy(p->last_trailer, value, n);
    p->last_trailer[n] = '\0';
  }
  return 0;
}

static int peer_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
  (void)ng;
  peer *p = ud;
  switch (f->hd.type) {
  case NGHTTP2_HEADERS:
    if (f->headers.cat == NGHTTP2_HCAT_RESPONSE) p->responses++;
    if (f->headers.cat == NGHTTP2_HCAT_HEADERS) p->trailers++;
    if (p->server && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      p->requests++;
      if (p->respond) peer_respond(p, f->hd.stream_id);
    }
    break;
  case NGHTTP2_DATA:
    if (p->server && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      p->requests++;
      if (p->respond) peer_respond(p, f->hd.stream_id);
    }
    break;
  case NGHTTP2_RST_STREAM:
    p->rst_count++;
    p->last_rst_code = f->rst_stream.error_code;
    p->last_rst_stream = f->hd.stream_id;
    break;
  case NGHTTP2_GOAWAY:
    p->goaways++;
    p->goaway_code = f->goaway.error_code;
    break;
  }
  return 0;
}

static int peer_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                        size_t len, void *ud) {
  (void)ng;
  (void)flags;
  (void)id;
  peer *p = ud;
  if (p->body_bytes + len <= sizeof p->body) memcpy(p->body + p->body_bytes, data, len);
  p->body_bytes += len;
  return 0;
}

static int peer_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
  (void)ng;
  (void)id;
  (void)code;
  ((peer *)ud)->closed++;
  return 0;
}

void peer_init(peer *p, bool server) {
  memset(p, 0, sizeof *p);
  p->server = server;
  p->respond = true;
  nghttp2_session_callbacks *cbs;
  cr_assert_eq(nghttp2_session_callbacks_new(&cbs), 0);
  nghttp2_session_callbacks_set_on_header_callback(cbs, peer_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, peer_on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, peer_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, peer_on_close);
  nghttp2_option *opt;
  cr_assert_eq(nghttp2_option_new(&opt), 0);
  nghttp2_option_set_max_send_header_block_length(opt, 1024 * 1024);
  int rv = server ? nghttp2_session_server_new2(&p->ng, cbs, p, opt)
                  : nghttp2_session_client_new2(&p->ng, cbs, p, opt);
  cr_assert_eq(rv, 0);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
  cr_assert_eq(nghttp2_submit_settings(p->ng, NGHTTP2_FLAG_NONE, iv, 1), 0);
}

void peer_free(peer *p) { nghttp2_session_del(p->ng); }

int pump(asx_http2_session *s, peer *p) {
  int last = 0;
  for (int i = 0; i < 100000; i++) {
    bool progress = false;
    asx_slice out;
    int rc = asx_http2_session_pending(s, &out);
    if (rc) return rc;
    if (out.len) {
      ssize_t n = nghttp2_session_mem_recv(p->ng, out.ptr, out.len);
      cr_assert_eq(n, (ssize_t)out.len, "peer rejected asx output: %zd", n);
      asx_http2_session_written(s, out.len);
      progress = true;
    }
    const uint8_t *d;
    ssize_t n = nghttp2_session_mem_send(p->ng, &d);
    cr_assert_geq(n, 0);
    if (n > 0) {
      last = asx_http2_session_recv(s, d, (size_t)n);
      progress = true;
      if (last && asx_err_is_fatal(last)) return last;
    }
    if (!progress) return last;
  }
  cr_assert_fail("pump did not settle");
  return last;
}

size_t drain(asx_http2_session *s, uint8_t *out, size_t cap) {
  size_t total = 0;
  for (;;) {
    asx_slice o;
    if (asx_http2_session_pending(s, &o) != 0 || o.len == 0) break;
    if (out && total + o.len <= cap) memcpy(out + total, o.ptr, o.len);
    total += o.len;
    asx_http2_session_written(s, o.len);
  }
  return total;
}

/* ---- raw frames -------------------------------------------------------------------------- */

void raw_init(raw *r) {
  memset(r, 0, sizeof *r);
  cr_assert_eq(nghttp2_hd_deflate_new(&r->hd, 4096), 0);
}

void raw_free(raw *r) {
  free(r->buf);
  nghttp2_hd_deflate_del(r->hd);
}

void raw_reset(raw *r) { r->len = 0; }

void raw_bytes(raw *r, const void *p, size_t n) {
  if (r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n) cap *= 2;
    r->buf = realloc(r->buf, cap);
    cr_assert_not_null(r->buf);
    r->cap = cap;
  }
  if (n) memcpy(r->buf + r->len, p, n);
  r->len += n;
}

void raw_frame(raw *r, uint8_t type, uint8_t flags, int32_t id, const void *payload, size_t n) {
  uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                  (uint8_t)((uint32_t)id >> 24 & 0x7f), (uint8_t)(id >> 16), (uint8_t)(id >> 8),
                  (uint8_t)id};
  raw_bytes(r, h, 9);
  raw_bytes(r, payload, n);
}

void raw_preface(raw *r) {
  raw_bytes(r, ASX_HTTP2_PREFACE, ASX_HTTP2_PREFACE_LEN);
  raw_frame(r, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

size_t raw_hpack(raw *r, const nghttp2_nv *nv, size_t n, uint8_t *out, size_t cap) {
  ssize_t len = nghttp2_hd_deflate_hd(r->hd, out, cap, nv, n);
  cr_assert_geq(len, 0);
  return (size_t)len;
}

void raw_get(raw *r, int32_t id, const char *path) {
  nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                     {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE}};
  uint8_t block[256];
  size_t n = raw_hpack(r, nv, 4, block, sizeof block);
  raw_frame(r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, block, n);
}

int frames_find(const uint8_t *p, size_t len, uint8_t type, int32_t id, uint32_t *code) {
  int found = 0;
  size_t pos = 0;
  while (pos + 9 <= len) {
    size_t n = (size_t)p[pos] << 16 | (size_t)p[pos + 1] << 8 | p[pos + 2];
    uint8_t t = p[pos + 3];
    int32_t sid = (int32_t)(((uint32_t)p[pos + 5] & 0x7f) << 24 | (uint32_t)p[pos + 6] << 16 |
                            (uint32_t)p[pos + 7] << 8 | p[pos + 8]);
    const uint8_t *pl = p + pos + 9;
    if (pos + 9 + n > len) break;
    if (t == type && (id < 0 || sid == id)) {
      found++;
      if (code && t == NGHTTP2_RST_STREAM && n >= 4)
        *code = (uint32_t)pl[0] << 24 | (uint32_t)pl[1] << 16 | (uint32_t)pl[2] << 8 | pl[3];
      if (code && t == NGHTTP2_GOAWAY && n >= 8)
        *code = (uint32_t)pl[4] << 24 | (uint32_t)pl[5] << 16 | (uint32_t)pl[6] << 8 | pl[7];
    }
    pos += 9 + n;
  }
  return found;
}

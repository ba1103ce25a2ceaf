/* Outgoing side: streams, header blocks, buffered bodies, trailers, resets. */
#include <string.h>

#include "internal.h"

h2_stream *h2_stream_new(asx_http2_session *s, int32_t id) {
  h2_stream *st = asx_calloc(s->alloc, 1, sizeof *st);
  if (!st) return NULL;
  st->id = id;
  asx_buf_init(&st->out, s->alloc, s->limits.max_send_buffer);
  st->next = s->streams;
  if (s->streams) s->streams->prev = st;
  s->streams = st;
  return st;
}

void h2_stream_free(asx_http2_session *s, h2_stream *st) {
  if (st->prev) st->prev->next = st->next;
  else s->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  asx_buf_free(&st->out);
  asx_free(s->alloc, st->trailers);
  asx_free(s->alloc, st);
}

h2_stream *h2_stream_get(const asx_http2_session *s, int32_t id) {
  if (id <= 0) return NULL;
  return nghttp2_session_get_stream_user_data(s->ng, id);
}

/* nghttp2 copies names and values on submit, so the array can be temporary. */
int h2_nv_build(asx_http2_session *s, const asx_http2_header *h, size_t n, nghttp2_nv **out) {
  if (n && !h) return ASX_EINVAL;
  for (size_t i = 0; i < n; i++)
    if ((!h[i].name.ptr && h[i].name.len) || (!h[i].value.ptr && h[i].value.len) ||
        h[i].name.len == 0)
      return ASX_EINVAL;
  nghttp2_nv *nv = asx_calloc(s->alloc, n ? n : 1, sizeof *nv);
  if (!nv) return ASX_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    nv[i].name = (uint8_t *)(uintptr_t)h[i].name.ptr;
    nv[i].namelen = h[i].name.len;
    nv[i].value = (uint8_t *)(uintptr_t)(h[i].value.ptr ? h[i].value.ptr : (const uint8_t *)"");
    nv[i].valuelen = h[i].value.len;
    nv[i].flags = NGHTTP2_NV_FLAG_NONE;
  }
  *out = nv;
  return 0;
}

void h2_nv_release(asx_http2_session *s, nghttp2_nv *nv) { asx_free(s->alloc, nv); }

static int from_lib(asx_http2_session *s, int rv, const char *where) {
  if (rv >= 0) return 0;
  if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, where);
  switch (rv) {
  case NGHTTP2_ERR_INVALID_ARGUMENT:
  case NGHTTP2_ERR_HEADER_COMP: return ASX_EINVAL;
  case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE:
  case NGHTTP2_ERR_SESSION_CLOSING:
  case NGHTTP2_ERR_STREAM_CLOSED:
  case NGHTTP2_ERR_STREAM_SHUT_WR:
  case NGHTTP2_ERR_DATA_EXIST:
  case NGHTTP2_ERR_PROTO: return ASX_ESTATE;
  default: return ASX_EPROTO;
  }
}

ssize_t h2_data_read(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length,
                     uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
  asx_http2_session *s = user_data;
  h2_stream *st = source->ptr;
  size_t n = st->out.len < length ? st->out.len : length;
  if (n) {
    memcpy(buf, st->out.data, n);
    asx_buf_consume(&st->out, n);
  }
  if (st->out.len == 0 && st->out_eof) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->trailers) {
      /* Trailers end the stream instead of this DATA frame. */
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      int rv = nghttp2_submit_trailer(ng, stream_id, st->trailers, st->trailer_count);
      asx_free(s->alloc, st->trailers);
      st->trailers = NULL;
      st->trailer_count = 0;
      if (rv != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
  }
  if (n == 0) {
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

static int check_usable(asx_http2_session *s) {
  if (s->fatal) return ASX_EFATAL;
  if (s->error) return s->error;
  return 0;
}

int asx_http2_submit_request(asx_http2_session *s, const asx_http2_header *headers, size_t n,
                             bool end_stream, int32_t *stream_id) {
  if (!s || !stream_id) return ASX_EINVAL;
  int rc = check_usable(s);
  if (rc) return rc;
  if (s->role == ASX_HTTP2_SERVER) return ASX_ESTATE;
  nghttp2_nv *nv;
  rc = h2_nv_build(s, headers, n, &nv);
  if (rc) return rc;
  h2_stream *st = h2_stream_new(s, 0);
  if (!st) {
    h2_nv_release(s, nv);
    return ASX_ENOMEM;
  }
  st->announced = true;
  st->out_eof = end_stream;
  nghttp2_data_provider prd = {{.ptr = st}, h2_data_read};
  st->has_provider = !end_stream;
  int32_t id = nghttp2_submit_request(s->ng, NULL, nv, n, end_stream ? NULL : &prd, st);
  h2_nv_release(s, nv);
  if (id < 0) {
    h2_stream_free(s, st);
    return from_lib(s, id, "submitting a request");
  }
  st->id = id;
  s->stats.streams_opened++;
  *stream_id = id;
  return 0;
}

static int server_stream(asx_http2_session *s, int32_t stream_id, h2_stream **out) {
  int rc = check_usable(s);
  if (rc) return rc;
  if (s->role != ASX_HTTP2_SERVER) return ASX_ESTATE;
  h2_stream *st = h2_stream_get(s, stream_id);
  if (!st || st->refused) return ASX_ENOTFOUND;
  if (st->responded) return ASX_ESTATE;
  *out = st;
  return 0;
}

int asx_http2_submit_response(asx_http2_session *s, int32_t stream_id,
                              const asx_http2_header *headers, size_t n, bool end_stream) {
  if (!s) return ASX_EINVAL;
  h2_stream *st;
  int rc = server_stream(s, stream_id, &st);
  if (rc) return rc;
  nghttp2_nv *nv;
  rc = h2_nv_build(s, headers, n, &nv);
  if (rc) return rc;
  nghttp2_data_provider prd = {{.ptr = st}, h2_data_read};
  int rv = nghttp2_submit_response(s->ng, stream_id, nv, n, end_stream ? NULL : &prd);
  h2_nv_release(s, nv);
  if (rv != 0) return from_lib(s, rv, "submitting a response");
  st->responded = true;
  st->has_provider = !end_stream;
  st->out_eof = end_stream;
  return 0;
}

int asx_http2_submit_informational(asx_http2_session *s, int32_t stream_id,
                                   const asx_http2_header *headers, size_t n) {
  if (!s) return ASX_EINVAL;
  h2_stream *st;
  int rc = server_stream(s, stream_id, &st);
  if (rc) return rc;
  nghttp2_nv *nv;
  rc = h2_nv_build(s, headers, n, &nv);
  if (rc) return rc;
  int rv = nghttp2_submit_headers(s->ng, NGHTTP2_FLAG_NONE, stream_id, NULL, nv, n, NULL);
  h2_nv_release(s, nv);
  return from_lib(s, rv, "submitting informational headers");
}

static int writable_stream(asx_http2_session *s, int32_t stream_id, h2_stream **out) {
  int rc = check_usable(s);
  if (rc) return rc;
  h2_stream *st = h2_stream_get(s, stream_id);
  if (!st) {
    /* A client stream whose HEADERS are still queued has no nghttp2 stream yet. */
    for (h2_stream *it = s->streams; it; it = it->next)
      if (it->id == stream_id && stream_id > 0) st = it;
  }
  if (!st || st->refused) return ASX_ENOTFOUND;
  if (!st->has_provider || st->out_eof) return ASX_ESTATE;
  *out = st;
  return 0;
}

static int resume(asx_http2_session *s, h2_stream *st) {
  if (!st->deferred) return 0;
  st->deferred = false;
  int rv = nghttp2_session_resume_data(s->ng, st->id);
  /* INVALID_ARGUMENT: not deferred any more (already resumed) - harmless. */
  if (rv == 0 || rv == NGHTTP2_ERR_INVALID_ARGUMENT) return 0;
  return from_lib(s, rv, "resuming data");
}

int asx_http2_submit_data(asx_http2_session *s, int32_t stream_id, const void *data, size_t len,
                          bool end_stream) {
  if (!s || (!data && len)) return ASX_EINVAL;
  h2_stream *st;
  int rc = writable_stream(s, stream_id, &st);
  if (rc) return rc;
  if (len) {
    rc = asx_buf_append(&st->out, data, len);
    if (rc) return rc; /* ELIMIT (max_send_buffer) or ENOMEM: nothing appended */
  }
  if (end_stream) st->out_eof = true;
  return resume(s, st);
}

int asx_http2_submit_trailers(asx_http2_session *s, int32_t stream_id,
                              const asx_http2_header *headers, size_t n) {
  if (!s || (n && !headers)) return ASX_EINVAL;
  h2_stream *st;
  int rc = writable_stream(s, stream_id, &st);
  if (rc) return rc;
  if (n == 0) {
    st->out_eof = true;
    return resume(s, st);
  }
  /* Keep our own copy: the trailers leave only after every buffered DATA byte. */
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) {
    if ((!headers[i].name.ptr || headers[i].name.len == 0) ||
        (!headers[i].value.ptr && headers[i].value.len))
      return ASX_EINVAL;
    bytes += headers[i].name.len + headers[i].value.len;
  }
  nghttp2_nv *nv = asx_alloc(s->alloc, n * sizeof *nv + bytes + 1);
  if (!nv) return ASX_ENOMEM;
  uint8_t *p = (uint8_t *)(nv + n);
  for (size_t i = 0; i < n; i++) {
    memcpy(p, headers[i].name.ptr, headers[i].name.len);
    nv[i].name = p;
    nv[i].namelen = headers[i].name.len;
    p += headers[i].name.len;
    if (headers[i].value.len) memcpy(p, headers[i].value.ptr, headers[i].value.len);
    nv[i].value = p;
    nv[i].valuelen = headers[i].value.len;
    p += headers[i].value.len;
    nv[i].flags = NGHTTP2_NV_FLAG_NONE;
  }
  st->trailers = nv;
  st->trailer_count = n;
  st->out_eof = true;
  return resume(s, st);
}

int asx_http2_submit_rst(asx_http2_session *s, int32_t stream_id, uint32_t error_code) {
  if (!s || stream_id <= 0) return ASX_EINVAL;
  int rc = check_usable(s);
  if (rc) return rc;
  int rv = nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, stream_id, error_code);
  return from_lib(s, rv, "submitting RST_STREAM");
}

size_t asx_http2_stream_send_buffered(const asx_http2_session *s, int32_t stream_id) {
  if (!s) return 0;
  const h2_stream *st = h2_stream_get(s, stream_id);
  return st ? st->out.len : 0;
}

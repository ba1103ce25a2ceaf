/* nghttp2 callbacks: turn frames into asx events and enforce the limits nghttp2 does not
 * (header list size, header fragment bytes, CONTINUATION deadline, rapid reset). */
#include <string.h>

#include "internal.h"

static asx_http2_session *S(void *ud) { return ud; }

static void reset_header_block(asx_http2_session *s) {
  asx_buf_reset(&s->hdr_bytes);
  asx_buf_reset(&s->hdr_fields);
  s->hdr_list_size = 0;
  s->hdr_overflow = false;
  s->hdr_nomem = false;
  s->hdr_status = -1;
}

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *ud) {
  (void)ng;
  asx_http2_session *s = S(ud);
  switch (hd->type) {
  case NGHTTP2_HEADERS:
  case NGHTTP2_PUSH_PROMISE:
    s->block_bytes = hd->length;
    s->block_open = (hd->flags & NGHTTP2_FLAG_END_HEADERS) == 0;
    s->block_started_ns = s->now_ns;
    break;
  case NGHTTP2_CONTINUATION:
    s->block_bytes += hd->length;
    if (hd->flags & NGHTTP2_FLAG_END_HEADERS) s->block_open = false;
    break;
  default:
    return 0;
  }
  /* Counting compressed bytes bounds the work HPACK does even when every field is tiny or
   * rejected (CONTINUATION flood, CVE-2024-27316 class). */
  if (s->block_bytes > s->fragment_cap) {
    s->block_open = false;
    h2_connection_fail(s, ASX_ELIMIT, NGHTTP2_ENHANCE_YOUR_CALM,
                       "header block fragments exceed max_header_fragments");
  }
  return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
  asx_http2_session *s = S(ud);
  reset_header_block(s);
  if (s->role == ASX_HTTP2_SERVER && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    h2_stream *st = h2_stream_new(s, frame->hd.stream_id);
    /* Without memory for the stream, refuse it (nghttp2 resets it); the session lives on. */
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st) != 0) {
      h2_stream_free(s, st);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    s->stats.streams_opened++;
  }
  return 0;
}

static int parse_status(const uint8_t *p, size_t n) {
  if (n != 3) return 0;
  int v = 0;
  for (size_t i = 0; i < 3; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, nghttp2_rcbuf *name,
                     nghttp2_rcbuf *value, uint8_t flags, void *ud) {
  (void)flags;
  asx_http2_session *s = S(ud);
  h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (!st || st->refused || s->error) return 0;
  nghttp2_vec nb = nghttp2_rcbuf_get_buf(name), vb = nghttp2_rcbuf_get_buf(value);
  /* RFC 9113 section 6.5.2 size: name + value + 32 per field. */
  s->hdr_list_size += nb.len + vb.len + 32;
  if (s->hdr_list_size > s->limits.max_header_list) s->hdr_overflow = true;
  if (s->hdr_overflow || s->hdr_nomem) return 0; /* keep decoding (HPACK state), drop fields */
  if (nb.len == 7 && memcmp(nb.base, ":status", 7) == 0) s->hdr_status = parse_status(vb.base, vb.len);
  if (asx_buf_reserve(&s->hdr_bytes, nb.len + vb.len) != 0 ||
      asx_buf_reserve(&s->hdr_fields, sizeof(h2_field)) != 0) {
    s->hdr_nomem = true;
    return 0;
  }
  h2_field f = {(uint32_t)s->hdr_bytes.len, (uint32_t)nb.len, (uint32_t)(s->hdr_bytes.len + nb.len),
                (uint32_t)vb.len};
  asx_buf_append(&s->hdr_bytes, nb.base, nb.len);
  asx_buf_append(&s->hdr_bytes, vb.base, vb.len);
  asx_buf_append(&s->hdr_fields, &f, sizeof f);
  return 0;
}

/* The request header list was too large: answer 431 and stop reading the stream. */
static void refuse_request(asx_http2_session *s, h2_stream *st, const nghttp2_frame *frame) {
  static const nghttp2_nv status431[] = {
      {(uint8_t *)":status", (uint8_t *)"431", 7, 3, NGHTTP2_NV_FLAG_NONE}};
  st->refused = true;
  st->responded = true;
  s->stats.streams_refused++;
  int rv = nghttp2_submit_response(s->ng, st->id, status431, 1, NULL);
  if (rv == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    rv = nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
  if (nghttp2_is_fatal(rv)) h2_fatal_from_lib(s, rv, "refusing a request");
}

static void reset_stream(asx_http2_session *s, h2_stream *st, int reason, uint32_t code) {
  st->close_reason = reason;
  int rv = nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, code);
  if (nghttp2_is_fatal(rv)) h2_fatal_from_lib(s, rv, "resetting a stream");
}

static void complete_header_block(asx_http2_session *s, h2_stream *st, const nghttp2_frame *frame) {
  bool request = s->role == ASX_HTTP2_SERVER && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
  if (s->hdr_overflow) {
    s->stats.header_limit_hits++;
    if (request)
      refuse_request(s, st, frame);
    else
      reset_stream(s, st, ASX_ELIMIT, NGHTTP2_CANCEL);
    return;
  }
  size_t count = s->hdr_fields.len / sizeof(h2_field);
  asx_buf_reset(&s->hdr_view);
  if (s->hdr_nomem || asx_buf_reserve(&s->hdr_view, count * sizeof(asx_http2_header) + 1) != 0) {
    if (request) {
      /* The application never saw this stream: a plain refusal is honest. */
      st->refused = true;
      s->stats.streams_refused++;
      reset_stream(s, st, ASX_ENOMEM, NGHTTP2_REFUSED_STREAM);
    } else {
      reset_stream(s, st, ASX_ENOMEM, NGHTTP2_INTERNAL_ERROR);
    }
    return;
  }
  asx_http2_header *hv = (asx_http2_header *)s->hdr_view.data;
  const h2_field *fv = (const h2_field *)s->hdr_fields.data;
  for (size_t i = 0; i < count; i++) {
    hv[i].name.ptr = s->hdr_bytes.data + fv[i].name_off;
    hv[i].name.len = fv[i].name_len;
    hv[i].value.ptr = s->hdr_bytes.data + fv[i].value_off;
    hv[i].value.len = fv[i].value_len;
  }
  asx_http2_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP2_EV_HEADERS;
  ev.stream_id = st->id;
  ev.headers = hv;
  ev.header_count = count;
  if (s->role == ASX_HTTP2_SERVER)
    ev.kind = request ? ASX_HTTP2_REQUEST : ASX_HTTP2_TRAILERS;
  else if (s->hdr_status >= 200)
    ev.kind = ASX_HTTP2_RESPONSE;
  else if (s->hdr_status >= 100)
    ev.kind = ASX_HTTP2_INFORMATIONAL;
  else
    ev.kind = ASX_HTTP2_TRAILERS;
  if (request) st->announced = true;
  h2_emit(s, &ev);
}

static void emit_simple(asx_http2_session *s, asx_http2_event_type type, int32_t id,
                        uint32_t code, int asx_error) {
  asx_http2_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.stream_id = id;
  ev.error_code = code;
  ev.asx_error = asx_error;
  h2_emit(s, &ev);
}

static bool visible(const h2_stream *st) { return st && st->announced && !st->refused; }

static void count_reset(asx_http2_session *s) {
  s->stats.resets_received++;
  if (s->role != ASX_HTTP2_SERVER) return;
  h2_refill_reset_tokens(s);
  if (s->reset_tokens == 0) {
    h2_connection_fail(s, ASX_ELIMIT, NGHTTP2_ENHANCE_YOUR_CALM,
                       "rapid reset: RST_STREAM rate above reset_burst/reset_rate_per_sec");
    return;
  }
  s->reset_tokens--;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
  asx_http2_session *s = S(ud);
  int32_t id = frame->hd.stream_id;
  h2_stream *st = id ? nghttp2_session_get_stream_user_data(ng, id) : NULL;
  switch (frame->hd.type) {
  case NGHTTP2_HEADERS:
    s->block_open = false;
    if (st && !st->refused && !s->error) complete_header_block(s, st, frame);
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && visible(st))
      emit_simple(s, ASX_HTTP2_EV_END_STREAM, id, 0, 0);
    break;
  case NGHTTP2_DATA:
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && visible(st))
      emit_simple(s, ASX_HTTP2_EV_END_STREAM, id, 0, 0);
    break;
  case NGHTTP2_RST_STREAM:
    count_reset(s);
    if (visible(st)) emit_simple(s, ASX_HTTP2_EV_RESET, id, frame->rst_stream.error_code, 0);
    break;
  case NGHTTP2_GOAWAY: {
    asx_http2_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ASX_HTTP2_EV_GOAWAY;
    ev.error_code = frame->goaway.error_code;
    ev.last_stream_id = frame->goaway.last_stream_id;
    ev.data.ptr = frame->goaway.opaque_data;
    ev.data.len = frame->goaway.opaque_data_len;
    h2_emit(s, &ev);
    break;
  }
  default:
    break;
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  (void)flags;
  asx_http2_session *s = S(ud);
  h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
  if (!visible(st) || s->error) {
    /* Nobody will consume these bytes: credit them now so the connection window does not
     * shrink for data the application never saw. */
    int rv = nghttp2_session_consume(ng, id, len);
    return nghttp2_is_fatal(rv) ? rv : 0;
  }
  asx_http2_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP2_EV_DATA;
  ev.stream_id = id;
  ev.data.ptr = data;
  ev.data.len = len;
  h2_emit(s, &ev);
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
  asx_http2_session *s = S(ud);
  h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
  if (!st) return 0;
  if (visible(st)) emit_simple(s, ASX_HTTP2_EV_STREAM_CLOSED, id, code, st->close_reason);
  nghttp2_session_set_stream_user_data(ng, id, NULL);
  h2_stream_free(s, st);
  return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
  (void)ng;
  asx_http2_session *s = S(ud);
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
      !s->error && !s->fatal && !s->local_goaway) {
    /* nghttp2 detected a connection error in the peer's input. */
    uint32_t code = frame->goaway.error_code;
    int err = code == NGHTTP2_ENHANCE_YOUR_CALM ? ASX_ELIMIT : ASX_EPROTO;
    h2_set_error(s, err, "http2: peer violated the protocol, sent GOAWAY %s: %.*s",
                 asx_http2_error_code_name(code), (int)frame->goaway.opaque_data_len,
                 frame->goaway.opaque_data ? (const char *)frame->goaway.opaque_data : "");
  }
  return 0;
}

static int on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame, int lib_error,
                             void *ud) {
  (void)ng;
  (void)lib_error;
  asx_http2_session *s = S(ud);
  if (frame->hd.type != NGHTTP2_HEADERS || s->role == ASX_HTTP2_SERVER) return 0;
  /* A request that never left (GOAWAY received, session closing): its stream object was
   * never attached to an nghttp2 stream, so find it in our list. */
  for (h2_stream *st = s->streams; st; st = st->next) {
    if (st->id != frame->hd.stream_id) continue;
    if (nghttp2_session_get_stream_user_data(s->ng, st->id) == st) return 0;
    emit_simple(s, ASX_HTTP2_EV_STREAM_CLOSED, st->id, NGHTTP2_REFUSED_STREAM, ASX_ECLOSED);
    h2_stream_free(s, st);
    break;
  }
  return 0;
}

int h2_callbacks_new(nghttp2_session_callbacks **out) {
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return ASX_ENOMEM;
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback2(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
  *out = cbs;
  return 0;
}

/* Session lifecycle, byte I/O (recv / pending / written), clock-driven limits, errors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define NS_PER_SEC 1000000000ull

asx_http2_limits asx_http2_limits_default(void) {
  asx_http2_limits l;
  memset(&l, 0, sizeof l);
  l.max_frame_size = 16384;
  l.max_header_list = 65536;
  l.max_concurrent_streams = 100;
  l.initial_stream_window = 65535;
  l.initial_connection_window = 1024 * 1024;
  l.header_table_size = 4096;
  l.max_header_fragments = 0;
  l.max_continuations = 0;
  l.continuation_timeout_ns = 5 * NS_PER_SEC;
  l.reset_burst = 200;
  l.reset_rate_per_sec = 33;
  l.max_outbound_ack = 1000;
  l.max_settings_entries = 32;
  l.max_send_buffer = 8u * 1024 * 1024;
  return l;
}

const char *asx_http2_error_code_name(uint32_t code) {
  static const char *const names[] = {
      "NO_ERROR",       "PROTOCOL_ERROR", "INTERNAL_ERROR",     "FLOW_CONTROL_ERROR",
      "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR",  "REFUSED_STREAM",
      "CANCEL",         "COMPRESSION_ERROR", "CONNECT_ERROR",   "ENHANCE_YOUR_CALM",
      "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
  return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN";
}

/* ---- errors ------------------------------------------------------------------------------ */

void h2_set_error(asx_http2_session *s, int err, const char *fmt, ...) {
  s->error = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->message, sizeof s->message, fmt, ap);
  va_end(ap);
}

/* A connection error detected by asx: queue GOAWAY(h2_code) and make the error sticky. The
 * first error wins; later ones would only hide the cause. */
void h2_connection_fail(asx_http2_session *s, int err, uint32_t h2_code, const char *reason) {
  if (s->error || s->fatal) return;
  h2_set_error(s, err, "http2: %s (GOAWAY %s)", reason, asx_http2_error_code_name(h2_code));
  /* nghttp2's public API sends no debug text with a terminating GOAWAY; the reason stays
   * available locally through asx_http2_session_error_message(). */
  int rv = nghttp2_session_terminate_session(s->ng, h2_code);
  if (nghttp2_is_fatal(rv)) h2_fatal_from_lib(s, rv, "queueing GOAWAY");
}

int h2_fatal_from_lib(asx_http2_session *s, int lib_rv, const char *where) {
  const char *why;
  switch (lib_rv) {
  case NGHTTP2_ERR_FLOODED:
    why = "peer flooded frames that need acknowledgement (PING/SETTINGS) or the output was "
          "not drained";
    break;
  case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS: why = "too many CONTINUATION frames in one block"; break;
  case NGHTTP2_ERR_BAD_CLIENT_MAGIC: why = "input is not an HTTP/2 client connection preface"; break;
  case NGHTTP2_ERR_NOMEM: why = "out of memory inside nghttp2"; break;
  default: why = nghttp2_strerror(lib_rv); break;
  }
  s->fatal = true;
  h2_set_error(s, ASX_EFATAL, "http2: fatal while %s: %s", where, why);
  return ASX_EFATAL;
}

void h2_emit(asx_http2_session *s, const asx_http2_event *ev) {
  /* After a connection error the peer's remaining frames are not the application's concern. */
  if (s->error || s->fatal || !s->on_event) return;
  s->on_event(s->ud, s, ev);
}

/* ---- nghttp2 memory through the asx allocator --------------------------------------------- */

static void *ng_malloc(size_t size, void *ud) { return asx_alloc(ud, size); }
static void ng_free(void *ptr, void *ud) { asx_free(ud, ptr); }
static void *ng_calloc(size_t n, size_t size, void *ud) { return asx_calloc(ud, n, size); }
static void *ng_realloc(void *ptr, size_t size, void *ud) { return asx_realloc(ud, ptr, size); }

/* ---- creation ---------------------------------------------------------------------------- */

static size_t settings_entries(const asx_http2_limits *l, bool client, nghttp2_settings_entry *iv) {
  size_t n = 0;
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                     l->max_concurrent_streams};
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                     l->initial_stream_window};
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_FRAME_SIZE, l->max_frame_size};
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, l->max_header_list};
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, l->header_table_size};
  /* asx never pushes and never accepts pushes. */
  if (client) iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  return n;
}

int h2_pack_settings(const asx_http2_limits *l, bool client, nghttp2_settings_entry *iv,
                     size_t *niv) {
  *niv = settings_entries(l, client, iv);
  return 0;
}

static bool limits_valid(const asx_http2_limits *l) {
  return l->max_frame_size >= 16384 && l->max_frame_size <= 16777215 && l->max_header_list > 0 &&
         l->initial_stream_window <= 0x7fffffff && l->initial_connection_window <= 0x7fffffff &&
         l->max_settings_entries > 0 && l->max_outbound_ack > 0;
}

static int make_options(asx_http2_session *s, nghttp2_option **out) {
  nghttp2_option *opt;
  if (nghttp2_option_new(&opt) != 0) return ASX_ENOMEM;
  const asx_http2_limits *l = &s->limits;
  /* Flow control is driven by what the application consumed, not by what arrived. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, l->max_outbound_ack);
  nghttp2_option_set_max_settings(opt, l->max_settings_entries);
  nghttp2_option_set_max_send_header_block_length(opt, l->max_header_list);
  size_t conts = l->max_continuations;
  if (conts == 0) conts = (s->fragment_cap + l->max_frame_size - 1) / l->max_frame_size;
  nghttp2_option_set_max_continuations(opt, conts);
  /* Our own limiter (caller's clock, deterministic under the lab) acts first; nghttp2's
   * wall-clock limiter stays as a looser backstop. */
  nghttp2_option_set_stream_reset_rate_limit(opt, (uint64_t)l->reset_burst * 4 + 1000,
                                             (uint64_t)l->reset_rate_per_sec * 4 + 100);
  nghttp2_option_set_no_closed_streams(opt, 1);
  *out = opt;
  return 0;
}

int asx_http2_session_new(asx_http2_session **out, asx_http2_role role,
                          const asx_http2_limits *limits, const asx_allocator *alloc,
                          asx_http2_event_cb on_event, void *ud) {
  if (!out || role < ASX_HTTP2_SERVER || role > ASX_HTTP2_CLIENT_UPGRADE) return ASX_EINVAL;
  asx_http2_limits l = limits ? *limits : asx_http2_limits_default();
  if (!limits_valid(&l)) return ASX_EINVAL;
  asx_http2_session *s = asx_calloc(alloc, 1, sizeof *s);
  if (!s) return ASX_ENOMEM;
  s->alloc = alloc;
  s->role = role;
  s->limits = l;
  s->fragment_cap = l.max_header_fragments ? l.max_header_fragments : (size_t)l.max_header_list * 4;
  s->on_event = on_event;
  s->ud = ud;
  s->hdr_status = -1;
  s->reset_tokens = l.reset_burst;
  asx_buf_init(&s->out, alloc, 0);
  /* The accumulator holds at most one header list (plus one field that crosses the limit). */
  asx_buf_init(&s->hdr_bytes, alloc, 0);
  asx_buf_init(&s->hdr_fields, alloc, 0);
  asx_buf_init(&s->hdr_view, alloc, 0);

  nghttp2_mem mem = {(void *)alloc, ng_malloc, ng_free, ng_calloc, ng_realloc};
  nghttp2_session_callbacks *cbs = NULL;
  nghttp2_option *opt = NULL;
  int rc = h2_callbacks_new(&cbs);
  if (rc == 0) rc = make_options(s, &opt);
  if (rc == 0) {
    int rv = role == ASX_HTTP2_SERVER ? nghttp2_session_server_new3(&s->ng, cbs, s, opt, &mem)
                                      : nghttp2_session_client_new3(&s->ng, cbs, s, opt, &mem);
    if (rv != 0) rc = ASX_ENOMEM;
  }
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rc == 0 && role != ASX_HTTP2_CLIENT_UPGRADE) {
    /* An upgrading client sends these SETTINGS through nghttp2_session_upgrade2 instead. */
    nghttp2_settings_entry iv[8];
    size_t niv = settings_entries(&l, role != ASX_HTTP2_SERVER, iv);
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, niv) != 0) rc = ASX_ENOMEM;
  }
  if (rc == 0 && role != ASX_HTTP2_CLIENT_UPGRADE && l.initial_connection_window > 65535) {
    if (nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)l.initial_connection_window) != 0)
      rc = ASX_ENOMEM;
  }
  if (rc) {
    asx_http2_session_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void asx_http2_session_free(asx_http2_session *s) {
  if (!s) return;
  /* nghttp2_session_del does not call on_stream_close, so streams still open are released
   * from our own list. */
  s->on_event = NULL;
  if (s->ng) nghttp2_session_del(s->ng);
  while (s->streams) h2_stream_free(s, s->streams);
  asx_buf_free(&s->out);
  asx_buf_free(&s->hdr_bytes);
  asx_buf_free(&s->hdr_fields);
  asx_buf_free(&s->hdr_view);
  asx_free(s->alloc, s);
}

/* ---- byte I/O ---------------------------------------------------------------------------- */

/* Moves serialized frames from nghttp2 into s->out until the high-water mark. */
int h2_fill_output(asx_http2_session *s) {
  if (s->fatal) return ASX_EFATAL;
  while (s->out.len < H2_OUTPUT_HIGH_WATER) {
    const uint8_t *p;
    ssize_t n = nghttp2_session_mem_send(s->ng, &p);
    if (n < 0) return h2_fatal_from_lib(s, (int)n, "producing output");
    if (n == 0) break;
    /* nghttp2 has already committed these bytes: losing them would corrupt the stream. */
    if (asx_buf_append(&s->out, p, (size_t)n) != 0) {
      s->fatal = true;
      h2_set_error(s, ASX_EFATAL, "http2: out of memory while buffering output");
      return ASX_EFATAL;
    }
  }
  return 0;
}

int asx_http2_session_recv(asx_http2_session *s, const uint8_t *in, size_t len) {
  if (!s || (!in && len)) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  if (s->error) return s->error;
  s->stats.bytes_received += len;
  ssize_t rv = nghttp2_session_mem_recv(s->ng, in, len);
  if (rv < 0) return h2_fatal_from_lib(s, (int)rv, "reading input");
  /* Producing output now makes a GOAWAY that nghttp2 queued for a protocol error visible as
   * this call's result (the send callback records it). */
  int rc = h2_fill_output(s);
  if (rc) return rc;
  return s->fatal ? ASX_EFATAL : s->error;
}

int asx_http2_session_pending(asx_http2_session *s, asx_slice *out) {
  if (!s || !out) return ASX_EINVAL;
  out->ptr = s->out.data;
  out->len = 0;
  if (s->fatal) return ASX_EFATAL;
  if (s->out.len == 0) {
    int rc = h2_fill_output(s);
    if (rc) return rc;
  }
  out->ptr = s->out.data;
  out->len = s->out.len;
  return 0;
}

void asx_http2_session_written(asx_http2_session *s, size_t n) {
  if (!s) return;
  if (n > s->out.len) n = s->out.len;
  s->stats.bytes_sent += n;
  asx_buf_consume(&s->out, n);
}

bool asx_http2_session_want_read(const asx_http2_session *s) {
  if (!s || s->fatal || s->error) return false;
  return nghttp2_session_want_read(s->ng) != 0;
}

bool asx_http2_session_want_write(const asx_http2_session *s) {
  if (!s || s->fatal) return false;
  return s->out.len > 0 || nghttp2_session_want_write(s->ng) != 0;
}

/* ---- clock ------------------------------------------------------------------------------- */

void h2_refill_reset_tokens(asx_http2_session *s) {
  const uint64_t burst = s->limits.reset_burst, rate = s->limits.reset_rate_per_sec;
  if (s->now_ns <= s->reset_refill_ns) return;
  uint64_t elapsed = s->now_ns - s->reset_refill_ns;
  if (rate == 0) {
    s->reset_refill_ns = s->now_ns;
    return;
  }
  /* Past the time to refill completely, the bucket is simply full; below it the product
   * elapsed * rate stays under NS_PER_SEC * burst and cannot overflow. */
  if (elapsed >= NS_PER_SEC * burst / rate + NS_PER_SEC) {
    s->reset_tokens = burst;
    s->reset_refill_ns = s->now_ns;
    return;
  }
  uint64_t add = elapsed * rate / NS_PER_SEC;
  if (add == 0) return;
  s->reset_tokens = s->reset_tokens + add > burst ? burst : s->reset_tokens + add;
  s->reset_refill_ns += add * NS_PER_SEC / rate;
}

int asx_http2_session_check_timeouts(asx_http2_session *s, uint64_t now_ns) {
  if (!s) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  if (now_ns > s->now_ns) s->now_ns = now_ns;
  h2_refill_reset_tokens(s);
  if (s->error) return s->error;
  if (s->block_open && s->now_ns - s->block_started_ns >= s->limits.continuation_timeout_ns) {
    h2_connection_fail(s, ASX_ETIMEDOUT, NGHTTP2_ENHANCE_YOUR_CALM,
                       "header block not completed by CONTINUATION within the deadline");
    int rc = h2_fill_output(s);
    if (rc) return rc;
    return s->error;
  }
  return 0;
}

uint64_t asx_http2_session_next_deadline(const asx_http2_session *s) {
  if (!s || !s->block_open || s->error || s->fatal) return UINT64_MAX;
  uint64_t t = s->block_started_ns + s->limits.continuation_timeout_ns;
  return t < s->block_started_ns ? UINT64_MAX : t;
}

/* ---- flow control and shutdown ------------------------------------------------------------ */

int asx_http2_session_consume(asx_http2_session *s, int32_t stream_id, size_t n) {
  if (!s || stream_id < 0) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  if (n == 0) return 0;
  int rv = stream_id == 0 ? nghttp2_session_consume_connection(s->ng, n)
                          : nghttp2_session_consume(s->ng, stream_id, n);
  if (rv == 0) return 0;
  if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, "consuming data");
  return ASX_EINVAL;
}

int asx_http2_session_shutdown(asx_http2_session *s) {
  if (!s) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  s->local_goaway = true;
  int rv = nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                                 nghttp2_session_get_last_proc_stream_id(s->ng),
                                 NGHTTP2_NO_ERROR, NULL, 0);
  if (rv == 0) return 0;
  if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, "queueing GOAWAY");
  return ASX_ESTATE;
}

int asx_http2_session_terminate(asx_http2_session *s, uint32_t error_code) {
  if (!s) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  s->local_goaway = true;
  int rv = nghttp2_session_terminate_session(s->ng, error_code);
  if (rv == 0) return 0;
  if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, "queueing GOAWAY");
  return ASX_ESTATE;
}

const char *asx_http2_session_error_message(const asx_http2_session *s) {
  return s ? s->message : "";
}

int asx_http2_session_error(const asx_http2_session *s) { return s ? s->error : ASX_EINVAL; }

void asx_http2_session_stats(const asx_http2_session *s, asx_http2_stats *out) {
  if (s && out) *out = s->stats;
}

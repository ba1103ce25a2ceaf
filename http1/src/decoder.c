/* The HTTP/1.1 decoder: llhttp callbacks turned into asx_http1 events, limits, and the feed
 * loop. Every callback that delivers an event pauses llhttp (HPE_PAUSED); the loop resumes
 * from llhttp_get_error_pos. Each pause is a commit point where a copy of the parser state is
 * taken, so an allocation failure later in the same feed rolls back to the last event
 * delivered instead of losing bytes llhttp had already swallowed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "decoder_internal.h"

asx_http1_limits asx_http1_limits_default(void) {
  asx_http1_limits l;
  l.max_target = 8 * 1024;
  l.max_header_block = 64 * 1024;
  l.max_headers = 128;
  l.max_body = 16u * 1024 * 1024;
  l.max_chunk_ext = 1024;
  return l;
}

static int error_code(asx_http1_error e) {
  switch (e) {
    case ASX_HTTP1_ERR_TARGET_TOO_LONG:
    case ASX_HTTP1_ERR_HEADERS_TOO_LARGE:
    case ASX_HTTP1_ERR_TOO_MANY_HEADERS:
    case ASX_HTTP1_ERR_BODY_TOO_LARGE:
    case ASX_HTTP1_ERR_CHUNK_EXT_TOO_LONG: return ASX_ELIMIT;
    case ASX_HTTP1_ERR_BAD_VERSION:
    case ASX_HTTP1_ERR_UNSUPPORTED_TE: return ASX_EUNSUPPORTED;
    default: return ASX_EPROTO;
  }
}

int dec_fail(asx_http1_decoder *d, asx_http1_error e, const char *fmt, ...) {
  if (d->error != ASX_HTTP1_OK) return -1;
  d->error = e;
  d->err = error_code(e);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->message, sizeof d->message, fmt, ap);
  va_end(ap);
  return -1;
}

int dec_limit(asx_http1_decoder *d, bool flush, asx_http1_error e, const char *what, uint64_t limit) {
  if (!flush) {
    return dec_fail(d, e, "%s over the %llu-byte limit", what, (unsigned long long)limit);
  }
  if (d->st.pending == ASX_HTTP1_OK) {
    d->st.pending = e;
    d->st.pending_what = what;
    d->st.pending_limit = limit;
  }
  return 0;
}

int dec_pending(asx_http1_decoder *d, bool flush) {
  if (d->st.pending == ASX_HTTP1_OK || flush) return 0;
  return dec_limit(d, false, d->st.pending, d->st.pending_what, d->st.pending_limit);
}

int dec_emit(asx_http1_decoder *d, const asx_http1_event *ev) {
  int rc = d->cb ? d->cb(d->ud, ev) : 0;
  if (rc == 0) return 0;
  if (d->error == ASX_HTTP1_OK) {
    d->error = ASX_HTTP1_ERR_CALLBACK;
    d->err = rc < 0 ? rc : ASX_EINVAL;
    snprintf(d->message, sizeof d->message, "event callback failed: %s", asx_errname(d->err));
  }
  return -1;
}

static asx_http1_decoder *dec_of(llhttp_t *p) { return p->data; }

static asx_http1_method method_of(uint8_t m) {
  switch (m) {
    case HTTP_GET: return ASX_HTTP1_GET;
    case HTTP_HEAD: return ASX_HTTP1_HEAD;
    case HTTP_POST: return ASX_HTTP1_POST;
    case HTTP_PUT: return ASX_HTTP1_PUT;
    case HTTP_DELETE: return ASX_HTTP1_DELETE;
    case HTTP_CONNECT: return ASX_HTTP1_CONNECT;
    case HTTP_OPTIONS: return ASX_HTTP1_OPTIONS;
    case HTTP_TRACE: return ASX_HTTP1_TRACE;
    case HTTP_PATCH: return ASX_HTTP1_PATCH;
    default: return ASX_HTTP1_OTHER;
  }
}

static void reset_message(asx_http1_decoder *d) {
  memset(&d->st, 0, sizeof d->st);
  asx_buf_reset(&d->field);
  d->last_span_end = NULL;
}

/* ---- start line ------------------------------------------------------------------------ */

static int on_message_begin(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  reset_message(d);
  d->st.in_message = true;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  return dec_field_append(dec_of(p), at, len, dec_of(p)->limits.max_target,
                          ASX_HTTP1_ERR_TARGET_TOO_LONG, "request-target");
}

static int on_status(llhttp_t *p, const char *at, size_t len) {
  return dec_field_append(dec_of(p), at, len, dec_of(p)->limits.max_target,
                          ASX_HTTP1_ERR_TARGET_TOO_LONG, "reason phrase");
}

static int on_version_complete(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  if (dec_pending(d, false)) return -1;
  /* The HTTP/2 preface looks like a request "PRI * HTTP/2.0": llhttp reports it separately. */
  if (d->kind == ASX_HTTP1_REQUEST && p->method == HTTP_PRI) return 0;
  if (p->http_major != 1 || p->http_minor > 1) {
    return dec_fail(d, ASX_HTTP1_ERR_BAD_VERSION, "HTTP version %u.%u not supported",
                    p->http_major, p->http_minor);
  }
  if (d->kind != ASX_HTTP1_REQUEST) return 0;
  const char *name = llhttp_method_name((llhttp_method_t)p->method);
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP1_EV_REQUEST_LINE;
  ev.u.request.method = method_of(p->method);
  ev.u.request.method_name = (asx_slice){(const uint8_t *)name, strlen(name)};
  ev.u.request.target = (asx_slice){d->field.data, d->field.len};
  ev.u.request.minor = p->http_minor;
  if (dec_emit(d, &ev)) return -1;
  asx_buf_reset(&d->field);
  d->pause = PAUSE_EVENT;
  return HPE_PAUSED;
}

static int on_status_complete(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  if (dec_pending(d, false)) return -1;
  if (p->status_code < 100) {
    return dec_fail(d, ASX_HTTP1_ERR_BAD_STATUS, "status code %u out of range", p->status_code);
  }
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP1_EV_STATUS_LINE;
  ev.u.status.code = p->status_code;
  ev.u.status.reason = (asx_slice){d->field.data, d->field.len};
  ev.u.status.minor = p->http_minor;
  if (dec_emit(d, &ev)) return -1;
  asx_buf_reset(&d->field);
  d->pause = PAUSE_EVENT;
  return HPE_PAUSED;
}

/* ---- header block end, body ------------------------------------------------------------ */

/* Keep-alive as llhttp decides it from version and Connection, without its "needs EOF" part
 * (we know better for HEAD/1xx/204/304, whose bodies we skip). */
static bool connection_persists(const llhttp_t *p) {
  if (p->http_minor >= 1) return (p->flags & F_CONNECTION_CLOSE) == 0;
  return (p->flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

static int on_headers_complete(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  int ret = 0; /* 0: read the body; 1: no body; 2: no body, then the stream is upgraded */
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP1_EV_HEADERS_DONE;
  asx_http1_body body = ASX_HTTP1_BODY_NONE;
  bool chunked = (p->flags & F_CHUNKED) != 0, has_cl = (p->flags & F_CONTENT_LENGTH) != 0;
  bool upgrade = p->upgrade != 0;
  if (d->kind == ASX_HTTP1_REQUEST) {
    if (p->method == HTTP_CONNECT) {
      ret = 2;
    } else {
      body = chunked ? ASX_HTTP1_BODY_CHUNKED : has_cl ? ASX_HTTP1_BODY_LENGTH : ASX_HTTP1_BODY_NONE;
    }
  } else {
    int code = p->status_code;
    bool tunnel = code == 101 || (d->request_method == ASX_HTTP1_CONNECT && code / 100 == 2);
    bool skip = d->request_method == ASX_HTTP1_HEAD || code / 100 == 1 || code == 204 || code == 304;
    upgrade = tunnel;
    if (tunnel) {
      ret = 2;
    } else if (skip) {
      ret = 1;
    } else {
      body = chunked ? ASX_HTTP1_BODY_CHUNKED
             : has_cl ? ASX_HTTP1_BODY_LENGTH : ASX_HTTP1_BODY_UNTIL_CLOSE;
    }
  }
  if (body == ASX_HTTP1_BODY_LENGTH && p->content_length > d->limits.max_body) {
    return dec_fail(d, ASX_HTTP1_ERR_BODY_TOO_LARGE, "Content-Length %llu over the %llu-byte limit",
                    (unsigned long long)p->content_length, (unsigned long long)d->limits.max_body);
  }
  ev.u.head.body = body;
  ev.u.head.content_length = body == ASX_HTTP1_BODY_LENGTH ? p->content_length : 0;
  ev.u.head.keep_alive = connection_persists(p) && body != ASX_HTTP1_BODY_UNTIL_CLOSE && !upgrade;
  d->st.keep_alive = ev.u.head.keep_alive;
  ev.u.head.expect_continue = d->st.expect_continue && p->http_minor == 1;
  ev.u.head.upgrade = upgrade;
  ev.u.head.proto = d->st.proto;
  d->st.field_count = 0;
  d->st.block_bytes = 0;
  d->st.chunk_ext_bytes = 0;
  if (dec_emit(d, &ev)) return -1;
  /* No allocation can happen before the next pause (body, chunk header or message end), so
   * this event needs no commit point of its own. */
  return ret;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  asx_http1_decoder *d = dec_of(p);
  if (len == 0) return 0;
  /* Only a close-delimited body can overrun here (lengths and chunk sizes are checked when
   * announced). Deliver up to the limit first, so the events do not depend on input splits. */
  uint64_t room = d->limits.max_body - d->st.body_bytes;
  size_t take = len > room ? (size_t)room : len;
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP1_EV_DATA;
  ev.u.data.bytes = (asx_slice){(const uint8_t *)at, take};
  d->st.body_bytes += take;
  if (take > 0 && dec_emit(d, &ev)) return -1;
  if (take < len) {
    return dec_fail(d, ASX_HTTP1_ERR_BODY_TOO_LARGE, "body over the %llu-byte limit",
                    (unsigned long long)d->limits.max_body);
  }
  d->pause = PAUSE_EVENT;
  return HPE_PAUSED;
}

static int on_chunk_header(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  if (dec_pending(d, false)) return -1;
  uint64_t size = p->content_length;
  if (size > d->limits.max_body - d->st.body_bytes) {
    return dec_fail(d, ASX_HTTP1_ERR_BODY_TOO_LARGE, "chunked body over the %llu-byte limit",
                    (unsigned long long)d->limits.max_body);
  }
  if (size == 0) {
    d->st.in_trailers = true;
    d->st.field_count = 0;
    d->st.block_bytes = 0;
  }
  d->pause = PAUSE_EVENT;
  return HPE_PAUSED;
}

static int count_chunk_ext(llhttp_t *p, const char *at, size_t len) {
  asx_http1_decoder *d = dec_of(p);
  bool flush = at + len == d->exec_end;
  if (d->st.pending) return dec_pending(d, flush);
  size_t max = d->limits.max_chunk_ext;
  if (d->st.chunk_ext_bytes > max || len > max - d->st.chunk_ext_bytes) {
    return dec_limit(d, flush, ASX_HTTP1_ERR_CHUNK_EXT_TOO_LONG, "chunk extensions", max);
  }
  d->st.chunk_ext_bytes += len;
  return 0;
}

/* A chunk-extension name or value has really ended. A limit its span crossed may have been
 * deferred although the span was not cut: the closing quote of a quoted value is part of the
 * value's span, so when the input ends right after that quote the span callback sees its end
 * at the end of the input and cannot tell it from a cut span. llhttp calls this before it
 * looks at the next byte, so raising the deferred error here keeps the verdict the same as
 * with the input uncut (where the span callback raised it). */
static int on_chunk_extension_complete(llhttp_t *p) {
  return dec_pending(dec_of(p), false);
}

static int on_chunk_complete(llhttp_t *p) {
  dec_of(p)->st.chunk_ext_bytes = 0;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP1_EV_MESSAGE_DONE;
  bool upgrade = p->upgrade != 0;
  ev.u.done.keep_alive = d->st.keep_alive && !upgrade;
  asx_http1_upgrade_proto proto = d->st.proto;
  if (dec_emit(d, &ev)) return -1;
  reset_message(d);
  d->st.proto = proto; /* kept for the UPGRADE event */
  d->upgrade_declinable = upgrade;
  d->pause = PAUSE_MESSAGE_DONE;
  return HPE_PAUSED;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

int asx_http1_decoder_new(asx_http1_decoder **out, asx_http1_kind kind, const asx_http1_limits *limits,
                          asx_http1_event_cb cb, void *ud, const asx_allocator *a) {
  if (!out || (kind != ASX_HTTP1_REQUEST && kind != ASX_HTTP1_RESPONSE)) return ASX_EINVAL;
  *out = NULL;
  asx_http1_decoder *d = asx_calloc(a, 1, sizeof *d);
  if (!d) return ASX_ENOMEM;
  d->alloc = a;
  d->kind = kind;
  d->limits = limits ? *limits : asx_http1_limits_default();
  d->cb = cb;
  d->ud = ud;
  d->request_method = ASX_HTTP1_GET;
  size_t field_max = d->limits.max_target > d->limits.max_header_block ? d->limits.max_target
                                                                       : d->limits.max_header_block;
  asx_buf_init(&d->field, a, field_max ? field_max : 1);
  llhttp_settings_init(&d->settings);
  d->settings.on_message_begin = on_message_begin;
  d->settings.on_url = on_url;
  d->settings.on_status = on_status;
  d->settings.on_version_complete = on_version_complete;
  d->settings.on_status_complete = on_status_complete;
  d->settings.on_header_field = dec_on_header_field;
  d->settings.on_header_field_complete = dec_on_header_field_complete;
  d->settings.on_header_value = dec_on_header_value;
  d->settings.on_header_value_complete = dec_on_header_value_complete;
  d->settings.on_headers_complete = on_headers_complete;
  d->settings.on_body = on_body;
  d->settings.on_chunk_header = on_chunk_header;
  d->settings.on_chunk_extension_name = count_chunk_ext;
  d->settings.on_chunk_extension_value = count_chunk_ext;
  d->settings.on_chunk_extension_name_complete = on_chunk_extension_complete;
  d->settings.on_chunk_extension_value_complete = on_chunk_extension_complete;
  d->settings.on_chunk_complete = on_chunk_complete;
  d->settings.on_message_complete = on_message_complete;
  llhttp_init(&d->parser, kind == ASX_HTTP1_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE, &d->settings);
  d->parser.data = d;
  *out = d;
  return 0;
}

void asx_http1_decoder_free(asx_http1_decoder *d) {
  if (!d) return;
  asx_buf_free(&d->field);
  asx_free(d->alloc, d);
}

int asx_http1_decoder_set_request_method(asx_http1_decoder *d, asx_http1_method method) {
  if (!d || d->kind != ASX_HTTP1_RESPONSE) return ASX_EINVAL;
  d->request_method = method;
  return 0;
}

bool asx_http1_decoder_idle(const asx_http1_decoder *d) { return d && !d->st.in_message; }

asx_http1_error asx_http1_decoder_error(const asx_http1_decoder *d) {
  return d ? d->error : ASX_HTTP1_OK;
}

const char *asx_http1_decoder_error_message(const asx_http1_decoder *d) {
  return d ? d->message : "";
}

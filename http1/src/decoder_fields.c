/* Header and trailer fields: collecting names/values that may span feeds into a bounded buffer,
 * the block-size and field-count limits, obs-fold detection, and the semantic checks llhttp
 * leaves to us (Transfer-Encoding codings, Expect, Upgrade, empty names). */
#include <string.h>

#include "decoder_internal.h"

static asx_http1_decoder *dec_of(llhttp_t *p) { return p->data; }

static bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

int dec_field_append(asx_http1_decoder *d, const char *at, size_t len, size_t limit,
                     asx_http1_error limit_error, const char *what) {
  bool flush = at + len == d->exec_end;
  if (d->st.pending) return dec_pending(d, flush);
  if (len == 0) return 0;
  if (d->field.len > limit || len > limit - d->field.len) {
    return dec_limit(d, flush, limit_error, what, limit);
  }
  int rc = asx_buf_append(&d->field, at, len);
  if (rc == ASX_ENOMEM) {
    d->nomem = true;
    return -1;
  }
  if (rc) return dec_limit(d, flush, limit_error, what, limit);
  return 0;
}

/* Counts bytes against the header (or trailer) block limit before they are buffered. */
static int count_block(asx_http1_decoder *d, size_t n, bool flush) {
  size_t max = d->limits.max_header_block;
  if (d->st.block_bytes > max || n > max - d->st.block_bytes) {
    return dec_limit(d, flush, ASX_HTTP1_ERR_HEADERS_TOO_LARGE,
                     d->st.in_trailers ? "trailer block" : "header block", max);
  }
  d->st.block_bytes += n;
  return 0;
}

/* obs-fold is "LF followed by SP or HT" inside a field. llhttp accepts it and hides it (the
 * folded whitespace is skipped between value spans), so we scan the bytes between consecutive
 * spans of one field; the scan carries across llhttp_execute calls, so the verdict does not
 * depend on how the input was split. */
static void scan_gap(asx_http1_decoder *d, const char *from, const char *to) {
  for (const char *q = from; q < to; q++) {
    uint8_t c = (uint8_t)*q;
    if (d->st.gap_lf && is_ows(c)) d->st.gap_fold = true;
    d->st.gap_lf = (c == '\n');
  }
}

static const char *gap_start(asx_http1_decoder *d) {
  return d->last_span_end ? d->last_span_end : d->exec_begin;
}

void dec_fields_end_of_input(asx_http1_decoder *d, const char *end) {
  if (d->st.in_value) scan_gap(d, gap_start(d), end);
}

int dec_on_header_field(llhttp_t *p, const char *at, size_t len) {
  asx_http1_decoder *d = dec_of(p);
  bool flush = at + len == d->exec_end;
  d->last_span_end = at + len;
  if (d->st.pending) return dec_pending(d, flush);
  if (count_block(d, len, flush)) return -1;
  if (d->st.pending) return 0; /* over the limit: stop buffering, fail at the span's end */
  if (dec_field_append(d, at, len, d->limits.max_header_block, ASX_HTTP1_ERR_HEADERS_TOO_LARGE,
                       d->st.in_trailers ? "trailer block" : "header block")) {
    return -1;
  }
  d->st.name_len += len;
  return 0;
}

/* The name is complete: from here to the value's end, bytes between spans are scanned. */
int dec_on_header_field_complete(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  d->st.in_value = true;
  d->st.gap_lf = false;
  d->st.gap_fold = false;
  return 0;
}

int dec_on_header_value(llhttp_t *p, const char *at, size_t len) {
  asx_http1_decoder *d = dec_of(p);
  bool flush = at + len == d->exec_end;
  scan_gap(d, gap_start(d), at);
  if (d->st.gap_lf && len > 0 && is_ows((uint8_t)at[0])) d->st.gap_fold = true;
  if (len > 0) d->st.gap_lf = false;
  d->last_span_end = at + len;
  /* Errors are raised when the span really ends (not where the input was cut), so that
   * llhttp's own verdict on bytes further inside the span comes first either way. */
  if (d->st.gap_fold) {
    if (flush) return 0;
    return dec_fail(d, ASX_HTTP1_ERR_OBS_FOLD, "obsolete line folding in a %s value",
                    d->st.in_trailers ? "trailer" : "header");
  }
  if (d->st.pending) return dec_pending(d, flush);
  if (count_block(d, len, flush)) return -1;
  if (d->st.pending) return 0;
  if (dec_field_append(d, at, len, d->limits.max_header_block, ASX_HTTP1_ERR_HEADERS_TOO_LARGE,
                       d->st.in_trailers ? "trailer block" : "header block")) {
    return -1;
  }
  return 0;
}

/* Splits a comma-separated list and checks the transfer codings: only "chunked", once, last.
 * A coding we do not implement is 501; a malformed list is 400. */
static int check_transfer_encoding(asx_http1_decoder *d, asx_slice v) {
  if (d->st.te_seen) {
    return dec_fail(d, ASX_HTTP1_ERR_BAD_TE, "Transfer-Encoding repeated");
  }
  d->st.te_seen = true;
  if (llhttp_get_http_minor(&d->parser) == 0) {
    return dec_fail(d, ASX_HTTP1_ERR_BAD_TE, "Transfer-Encoding in an HTTP/1.0 message");
  }
  size_t i = 0, chunked = 0, tokens = 0;
  bool chunked_last = false;
  while (i <= v.len) {
    size_t start = i;
    while (i < v.len && v.ptr[i] != ',') i++;
    size_t a = start, b = i;
    while (a < b && is_ows(v.ptr[a])) a++;
    while (b > a && is_ows(v.ptr[b - 1])) b--;
    asx_slice tok = {v.ptr + a, b - a};
    if (tok.len == 0) return dec_fail(d, ASX_HTTP1_ERR_BAD_TE, "empty transfer coding");
    tokens++;
    chunked_last = asx_slice_eq_nocase(tok, "chunked");
    if (chunked_last) {
      chunked++;
    } else {
      return dec_fail(d, ASX_HTTP1_ERR_UNSUPPORTED_TE, "unsupported transfer coding \"%.*s\"",
                      (int)(tok.len > 40 ? 40 : tok.len), (const char *)tok.ptr);
    }
    i++;
  }
  if (chunked != 1 || !chunked_last || tokens != 1) {
    return dec_fail(d, ASX_HTTP1_ERR_BAD_TE, "chunked must appear once, as the last coding");
  }
  return 0;
}

static asx_http1_upgrade_proto classify_upgrade(asx_slice v) {
  size_t n = 0;
  while (n < v.len && v.ptr[n] != ',' && !is_ows(v.ptr[n])) n++;
  asx_slice first = {v.ptr, n};
  if (asx_slice_eq_nocase(first, "websocket")) return ASX_HTTP1_PROTO_WEBSOCKET;
  if (asx_slice_eq_nocase(first, "h2c")) return ASX_HTTP1_PROTO_H2C;
  return n ? ASX_HTTP1_PROTO_OTHER : ASX_HTTP1_PROTO_NONE;
}

static int check_header(asx_http1_decoder *d, asx_slice name, asx_slice value) {
  if (asx_slice_eq_nocase(name, "transfer-encoding")) return check_transfer_encoding(d, value);
  if (asx_slice_eq_nocase(name, "expect") && d->kind == ASX_HTTP1_REQUEST &&
      asx_slice_eq_nocase(value, "100-continue")) {
    d->st.expect_continue = true;
  } else if (asx_slice_eq_nocase(name, "upgrade") && d->st.proto == ASX_HTTP1_PROTO_NONE) {
    d->st.proto = classify_upgrade(value);
  }
  return 0;
}

int dec_on_header_value_complete(llhttp_t *p) {
  asx_http1_decoder *d = dec_of(p);
  const char *what = d->st.in_trailers ? "trailer" : "header";
  if (d->st.gap_fold) {
    return dec_fail(d, ASX_HTTP1_ERR_OBS_FOLD, "obsolete line folding in a %s value", what);
  }
  if (dec_pending(d, false)) return -1;
  asx_slice name = {d->field.data, d->st.name_len};
  asx_slice value = {d->field.data + d->st.name_len, d->field.len - d->st.name_len};
  while (value.len > 0 && is_ows(value.ptr[value.len - 1])) value.len--;
  if (name.len == 0) return dec_fail(d, ASX_HTTP1_ERR_BAD_HEADER_NAME, "empty %s name", what);
  if (d->st.field_count >= d->limits.max_headers) {
    return dec_fail(d, ASX_HTTP1_ERR_TOO_MANY_HEADERS, "more than %zu %s fields",
                    d->limits.max_headers, what);
  }
  d->st.field_count++;
  if (count_block(d, 4, false)) return -1; /* ": " and CRLF of the field line */
  if (!d->st.in_trailers && check_header(d, name, value)) return -1;
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = d->st.in_trailers ? ASX_HTTP1_EV_TRAILER : ASX_HTTP1_EV_HEADER;
  ev.u.field.name = name;
  ev.u.field.value = value;
  if (dec_emit(d, &ev)) return -1;
  asx_buf_reset(&d->field);
  d->st.name_len = 0;
  d->st.in_value = false;
  d->st.gap_lf = false;
  d->st.gap_fold = false;
  d->last_span_end = NULL;
  d->pause = PAUSE_EVENT;
  return HPE_PAUSED;
}

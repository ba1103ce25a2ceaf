/* HTTP/1.1 encoders: message heads and chunked framing written into an asx_buf. Every field is
 * validated before anything is written, so a hostile value cannot inject a CR/LF (response
 * splitting) and a failed call leaves the buffer exactly as it was. */
#include <string.h>

#include "asx/http1.h"

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(asx_slice s) {
  if (s.len == 0 || !s.ptr) return false;
  for (size_t i = 0; i < s.len; i++) {
    if (!is_tchar(s.ptr[i])) return false;
  }
  return true;
}

/* field-value: VCHAR, obs-text, SP and HTAB inside, no leading or trailing whitespace (the
 * decoder trims it, so it would not survive a round trip). */
static bool is_field_value(asx_slice s) {
  if (s.len > 0 && !s.ptr) return false;
  for (size_t i = 0; i < s.len; i++) {
    uint8_t c = s.ptr[i];
    bool ws = c == ' ' || c == '\t';
    if (!ws && (c < 0x21 || c == 0x7f)) return false;
    if (ws && (i == 0 || i + 1 == s.len)) return false;
  }
  return true;
}

/* request-target: visible ASCII only. */
static bool is_target(asx_slice s) {
  if (s.len == 0 || !s.ptr) return false;
  for (size_t i = 0; i < s.len; i++) {
    if (s.ptr[i] < 0x21 || s.ptr[i] > 0x7e) return false;
  }
  return true;
}

/* reason-phrase: HTAB, SP, VCHAR, obs-text. */
static bool is_reason(asx_slice s) {
  if (s.len > 0 && !s.ptr) return false;
  for (size_t i = 0; i < s.len; i++) {
    uint8_t c = s.ptr[i];
    if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;
  }
  return true;
}

static bool fields_valid(const asx_http1_header *h, size_t n, bool forbid_framing) {
  if (n > 0 && !h) return false;
  for (size_t i = 0; i < n; i++) {
    if (!is_token(h[i].name) || !is_field_value(h[i].value)) return false;
    if (forbid_framing && (asx_slice_eq_nocase(h[i].name, "content-length") ||
                           asx_slice_eq_nocase(h[i].name, "transfer-encoding"))) {
      return false;
    }
  }
  return true;
}

static int put_fields(asx_buf *out, const asx_http1_header *h, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    rc = asx_buf_append(out, h[i].name.ptr, h[i].name.len);
    if (!rc) rc = asx_buf_append(out, ": ", 2);
    if (!rc) rc = asx_buf_append(out, h[i].value.ptr, h[i].value.len);
    if (!rc) rc = asx_buf_append(out, "\r\n", 2);
  }
  return rc;
}

static int put_framing_and_end(asx_buf *out, asx_http1_framing f, uint64_t length) {
  int rc = 0;
  if (f == ASX_HTTP1_FRAMING_LENGTH) {
    rc = asx_buf_appendf(out, "Content-Length: %llu\r\n", (unsigned long long)length);
  } else if (f == ASX_HTTP1_FRAMING_CHUNKED) {
    rc = asx_buf_append_str(out, "Transfer-Encoding: chunked\r\n");
  }
  if (!rc) rc = asx_buf_append(out, "\r\n", 2);
  return rc;
}

static bool framing_valid(asx_http1_framing f) {
  return f == ASX_HTTP1_FRAMING_NONE || f == ASX_HTTP1_FRAMING_LENGTH || f == ASX_HTTP1_FRAMING_CHUNKED;
}

/* Runs on the whole write; on failure truncates back so the buffer is unchanged. */
static int finish(asx_buf *out, size_t mark, int rc) {
  if (rc) out->len = mark;
  return rc;
}

int asx_http1_encode_request_head(asx_buf *out, const asx_http1_request_head *h) {
  if (!out || !h || !is_token(h->method) || !is_target(h->target) || h->minor < 0 || h->minor > 1 ||
      !framing_valid(h->framing) || !fields_valid(h->headers, h->header_count, true)) {
    return ASX_EINVAL;
  }
  if (h->framing == ASX_HTTP1_FRAMING_CHUNKED && h->minor == 0) return ASX_EINVAL;
  size_t mark = out->len;
  int rc = asx_buf_append(out, h->method.ptr, h->method.len);
  if (!rc) rc = asx_buf_append_byte(out, ' ');
  if (!rc) rc = asx_buf_append(out, h->target.ptr, h->target.len);
  if (!rc) rc = asx_buf_appendf(out, " HTTP/1.%d\r\n", h->minor);
  if (!rc) rc = put_fields(out, h->headers, h->header_count);
  if (!rc) rc = put_framing_and_end(out, h->framing, h->content_length);
  return finish(out, mark, rc);
}

int asx_http1_encode_response_head(asx_buf *out, const asx_http1_response_head *h) {
  if (!out || !h || h->code < 100 || h->code > 999 || h->minor < 0 || h->minor > 1 ||
      !is_reason(h->reason) || !framing_valid(h->framing) ||
      !fields_valid(h->headers, h->header_count, true)) {
    return ASX_EINVAL;
  }
  bool bodiless = h->code / 100 == 1 || h->code == 204 || h->code == 304;
  if (bodiless && h->framing != ASX_HTTP1_FRAMING_NONE) return ASX_EINVAL;
  if (h->framing == ASX_HTTP1_FRAMING_CHUNKED && h->minor == 0) return ASX_EINVAL;
  asx_slice reason = h->reason;
  if (reason.len == 0) {
    const char *std = asx_http1_reason_phrase(h->code);
    reason = (asx_slice){(const uint8_t *)std, strlen(std)};
  }
  size_t mark = out->len;
  int rc = asx_buf_appendf(out, "HTTP/1.%d %03d ", h->minor, h->code);
  if (!rc) rc = asx_buf_append(out, reason.ptr, reason.len);
  if (!rc) rc = asx_buf_append(out, "\r\n", 2);
  if (!rc) rc = put_fields(out, h->headers, h->header_count);
  if (!rc) rc = put_framing_and_end(out, h->framing, h->content_length);
  return finish(out, mark, rc);
}

int asx_http1_encode_chunk(asx_buf *out, const void *data, size_t len) {
  if (!out || (len > 0 && !data)) return ASX_EINVAL;
  if (len == 0) return 0; /* a zero-size chunk would end the body */
  size_t mark = out->len;
  int rc = asx_buf_appendf(out, "%zx\r\n", len);
  if (!rc) rc = asx_buf_append(out, data, len);
  if (!rc) rc = asx_buf_append(out, "\r\n", 2);
  return finish(out, mark, rc);
}

int asx_http1_encode_last_chunk(asx_buf *out, const asx_http1_header *trailers, size_t count) {
  if (!out || !fields_valid(trailers, count, true)) return ASX_EINVAL;
  size_t mark = out->len;
  int rc = asx_buf_append(out, "0\r\n", 3);
  if (!rc) rc = put_fields(out, trailers, count);
  if (!rc) rc = asx_buf_append(out, "\r\n", 2);
  return finish(out, mark, rc);
}

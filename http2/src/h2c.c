/* Cleartext HTTP/2: prior-knowledge preface detection and the HTTP/1.1 Upgrade path
 * (HTTP2-Settings is the base64url form of a SETTINGS payload, RFC 7540 section 3.2.1). */
#include <string.h>

#include "internal.h"

int asx_http2_detect_preface(const uint8_t *in, size_t len) {
  if (!in && len) return -1;
  size_t n = len < ASX_HTTP2_PREFACE_LEN ? len : ASX_HTTP2_PREFACE_LEN;
  if (memcmp(in, ASX_HTTP2_PREFACE, n) != 0) return -1;
  return len >= ASX_HTTP2_PREFACE_LEN ? 1 : 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* Decodes unpadded (or '='-padded) base64url into out (capacity >= len * 3 / 4). Returns the
 * decoded length or -1 for an invalid character or length. */
static long b64url_decode(const uint8_t *in, size_t len, uint8_t *out) {
  while (len && in[len - 1] == '=') len--;
  if (len % 4 == 1) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64url_value(in[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  /* Leftover bits must be zero in a canonical encoding. */
  if (bits && (acc & ((1u << bits) - 1))) return -1;
  return (long)o;
}

int asx_http2_h2c_settings_value(const asx_http2_limits *limits, asx_buf *out) {
  if (!out) return ASX_EINVAL;
  asx_http2_limits l = limits ? *limits : asx_http2_limits_default();
  nghttp2_settings_entry iv[8];
  size_t niv;
  h2_pack_settings(&l, true, iv, &niv);
  uint8_t payload[8 * 6];
  ssize_t n = nghttp2_pack_settings_payload(payload, sizeof payload, iv, niv);
  if (n < 0) return ASX_EINVAL;
  size_t need = ((size_t)n * 4 + 2) / 3;
  int rc = asx_buf_reserve(out, need);
  if (rc) return rc;
  uint32_t acc = 0;
  int bits = 0;
  for (ssize_t i = 0; i < n; i++) {
    acc = acc << 8 | payload[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      asx_buf_append_byte(out, (uint8_t)b64url[(acc >> bits) & 63]);
    }
  }
  if (bits) asx_buf_append_byte(out, (uint8_t)b64url[(acc << (6 - bits)) & 63]);
  return 0;
}

int asx_http2_session_upgrade_server(asx_http2_session *s, asx_slice http2_settings,
                                     bool head_request) {
  if (!s || (!http2_settings.ptr && http2_settings.len)) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  if (s->role != ASX_HTTP2_SERVER) return ASX_ESTATE;
  /* A SETTINGS payload is a multiple of 6 bytes; 64 entries is far beyond any real client
   * and keeps the decode buffer on the stack. */
  uint8_t payload[64 * 6];
  if (http2_settings.len > sizeof payload * 4 / 3 + 2) {
    h2_set_error(s, ASX_EPROTO, "http2: HTTP2-Settings value too long");
    return ASX_EPROTO;
  }
  long n = b64url_decode(http2_settings.ptr, http2_settings.len, payload);
  if (n < 0 || n % 6 != 0) {
    h2_set_error(s, ASX_EPROTO, "http2: HTTP2-Settings is not a base64url SETTINGS payload");
    return ASX_EPROTO;
  }
  h2_stream *st = h2_stream_new(s, 1);
  if (!st) return ASX_ENOMEM;
  int rv = nghttp2_session_upgrade2(s->ng, payload, (size_t)n, head_request, NULL);
  if (rv != 0) {
    h2_stream_free(s, st);
    if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, "applying HTTP2-Settings");
    if (rv == NGHTTP2_ERR_INVALID_ARGUMENT) {
      h2_set_error(s, ASX_EPROTO, "http2: HTTP2-Settings carries an invalid SETTINGS payload");
      return ASX_EPROTO;
    }
    return ASX_ESTATE;
  }
  /* The request arrived over HTTP/1.1, so the application already knows stream 1. */
  st->announced = true;
  nghttp2_session_set_stream_user_data(s->ng, 1, st);
  s->stats.streams_opened++;
  return 0;
}

int asx_http2_session_upgrade_client(asx_http2_session *s, bool head_request) {
  if (!s) return ASX_EINVAL;
  if (s->fatal) return ASX_EFATAL;
  if (s->role != ASX_HTTP2_CLIENT_UPGRADE) return ASX_ESTATE;
  nghttp2_settings_entry iv[8];
  size_t niv;
  h2_pack_settings(&s->limits, true, iv, &niv);
  uint8_t payload[8 * 6];
  ssize_t n = nghttp2_pack_settings_payload(payload, sizeof payload, iv, niv);
  if (n < 0) return ASX_EINVAL;
  h2_stream *st = h2_stream_new(s, 1);
  if (!st) return ASX_ENOMEM;
  st->announced = true;
  st->out_eof = true; /* the request body, if any, went over HTTP/1.1 */
  int rv = nghttp2_session_upgrade2(s->ng, payload, (size_t)n, head_request, st);
  if (rv != 0) {
    h2_stream_free(s, st);
    if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, "upgrading");
    return ASX_ESTATE;
  }
  if (s->limits.initial_connection_window > 65535) {
    rv = nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                               (int32_t)s->limits.initial_connection_window);
    if (nghttp2_is_fatal(rv)) return h2_fatal_from_lib(s, rv, "upgrading");
  }
  s->stats.streams_opened++;
  return 0;
}

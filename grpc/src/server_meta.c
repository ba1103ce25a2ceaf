/* Response metadata (initial headers and trailers) set by handlers, and "-bin" request metadata
 * decoded from base64. Names and values are checked here, so a handler cannot emit a header that
 * HTTP/2 forbids or that would break the gRPC framing (grpc-*, pseudo-headers, CR/LF). */
#include <string.h>

#include "server_internal.h"

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static bool ends_with_bin(const char *name, size_t n) { return n > 4 && memcmp(name + n - 4, "-bin", 4) == 0; }

/* Lower-case token, and not one the transport or gRPC itself owns. */
static bool name_ok(const char *name, size_t n) {
  static const char *const reserved[] = {"content-type", "te", "host", "connection", "keep-alive",
                                         "proxy-connection", "transfer-encoding", "upgrade"};
  if (n == 0 || n > 256 || name[0] == ':' || (n >= 5 && memcmp(name, "grpc-", 5) == 0)) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  }
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strlen(reserved[i]) == n && memcmp(reserved[i], name, n) == 0) return false;
  return true;
}

static int b64_encode(asx_buf *out, const uint8_t *p, size_t n) {
  /* gRPC sends -bin values unpadded (decoders must accept both). */
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {kB64[v >> 18 & 63], kB64[v >> 12 & 63], kB64[v >> 6 & 63], kB64[v & 63]};
    size_t k = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
    int rc = asx_buf_append(out, q, k);
    if (rc) return rc;
  }
  return 0;
}

static int b64_value(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62; /* the URL-safe alphabet too */
  if (c == '/' || c == '_') return 63;
  return -1;
}

static int b64_decode(asx_buf *out, asx_slice in) {
  size_t n = in.len;
  while (n > 0 && in.ptr[n - 1] == '=') n--;
  if (in.len - n > 2 || n % 4 == 1) return ASX_EPROTO;
  size_t before = out->len;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(in.ptr[i]);
    if (v < 0) {
      out->len = before;
      return ASX_EPROTO;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      int rc = asx_buf_append_byte(out, (uint8_t)(acc >> bits));
      if (rc) {
        out->len = before;
        return rc;
      }
    }
  }
  return 0;
}

static int add(asx_grpc_call *call, grpc_md *list, size_t *count, const char *name, const void *value,
               size_t len) {
  if (!name || (len && !value)) return ASX_EINVAL;
  size_t n = strlen(name);
  if (!name_ok(name, n)) return ASX_EINVAL;
  bool bin = ends_with_bin(name, n);
  const uint8_t *v = value;
  for (size_t i = 0; !bin && i < len; i++)
    if (v[i] < 0x20 || v[i] > 0x7e) return ASX_EINVAL;
  if (*count == GRPC_MAX_MD) return ASX_ELIMIT;
  asx_buf *st = &call->md_store;
  size_t mark = st->len;
  grpc_md md = {.name_off = st->len, .name_len = n};
  int rc = asx_buf_append(st, name, n);
  md.val_off = st->len;
  if (rc == 0) rc = bin ? b64_encode(st, v, len) : asx_buf_append(st, v, len);
  md.val_len = st->len - md.val_off;
  if (rc) {
    st->len = mark;
    return rc;
  }
  list[(*count)++] = md;
  return 0;
}

int asx_grpc_call_add_header(asx_grpc_call *call, const char *name, const void *value, size_t len) {
  if (!call) return ASX_EINVAL;
  if (call->headers_sent || call->finished) return ASX_ESTATE;
  return add(call, call->hdr, &call->nhdr, name, value, len);
}

int asx_grpc_call_add_trailer(asx_grpc_call *call, const char *name, const void *value, size_t len) {
  if (!call) return ASX_EINVAL;
  if (call->finished) return ASX_ESTATE;
  return add(call, call->trl, &call->ntrl, name, value, len);
}

int asx_grpc_call_metadata_bin(const asx_grpc_call *call, const char *name, asx_buf *out) {
  if (!call || !name || !out || !ends_with_bin(name, strlen(name))) return ASX_EINVAL;
  asx_slice v = asx_grpc_call_metadata(call, name);
  if (!v.ptr) return ASX_ENOTFOUND;
  return b64_decode(out, v);
}

size_t grpc_md_headers(const asx_grpc_call *call, const grpc_md *list, size_t count, asx_http2_header *out) {
  const uint8_t *base = call->md_store.data;
  for (size_t i = 0; i < count; i++) {
    out[i].name = (asx_slice){base + list[i].name_off, list[i].name_len};
    out[i].value = (asx_slice){base + list[i].val_off, list[i].val_len};
  }
  return count;
}

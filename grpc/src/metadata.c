/* gRPC metadata helpers and the grpc.health.v1 messages, sans-I/O: base64 for "-bin" values
 * (sent unpadded; both alphabets and padding accepted), and the two one-field protobuf messages of
 * the health service, read by hand (unknown fields skipped, every length checked). */
#include <string.h>

#include "asx/grpc.h"

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int asx_grpc_bin_encode(asx_buf *out, const void *data, size_t n) {
  const uint8_t *p = data;
  if (!out || (n && !p)) return ASX_EINVAL;
  size_t before = out->len;
  /* gRPC sends -bin values unpadded (decoders must accept both). */
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {kB64[v >> 18 & 63], kB64[v >> 12 & 63], kB64[v >> 6 & 63], kB64[v & 63]};
    size_t k = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
    int rc = asx_buf_append(out, q, k);
    if (rc) {
      out->len = before;
      return rc;
    }
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

int asx_grpc_bin_decode(asx_slice in, asx_buf *out) {
  if (!out || (in.len && !in.ptr)) return ASX_EINVAL;
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


/* HealthCheckRequest { string service = 1; }: the service name, or ASX_EPROTO. */
int asx_grpc_health_request_parse(asx_slice req, asx_slice *service) {
  if (!service || (req.len && !req.ptr)) return ASX_EINVAL;
  *service = (asx_slice){(const uint8_t *)"", 0};
  size_t i = 0;
  while (i < req.len) {
    uint64_t key = 0, v = 0;
    int shift = 0;
    do { /* varint key */
      if (i >= req.len || shift > 63) return ASX_EPROTO;
      key |= (uint64_t)(req.ptr[i] & 0x7f) << shift;
      shift += 7;
    } while (req.ptr[i++] & 0x80);
    unsigned wire = key & 7;
    shift = 0;
    if (wire == 0 || wire == 2) {
      do { /* varint value or length */
        if (i >= req.len || shift > 63) return ASX_EPROTO;
        v |= (uint64_t)(req.ptr[i] & 0x7f) << shift;
        shift += 7;
      } while (req.ptr[i++] & 0x80);
    }
    if (wire == 2) {
      if (v > req.len - i) return ASX_EPROTO;
      if (key >> 3 == 1) *service = (asx_slice){req.ptr + i, (size_t)v};
      i += (size_t)v;
    } else if (wire == 1 || wire == 5) {
      size_t w = wire == 1 ? 8 : 4;
      if (w > req.len - i) return ASX_EPROTO;
      i += w;
    } else if (wire != 0) {
      return ASX_EPROTO; /* groups (3, 4) are not in this message */
    }
  }
  return service->len > ASX_GRPC_HEALTH_MAX_SERVICE ? ASX_EPROTO : 0;
}

/* HealthCheckResponse { ServingStatus status = 1; } (omitted when 0, as proto3 does). */
size_t asx_grpc_health_response_encode(int status, uint8_t out[2]) {
  if (status <= 0 || status > 127) return 0;
  out[0] = 0x08;
  out[1] = (uint8_t)status;
  return 2;
}


/* Response metadata (initial headers and trailers) set by handlers, and "-bin" request metadata
 * decoded from base64 (asx_grpc_bin_*, in the codec). Names and values are checked here, so a handler cannot emit a header that
 * HTTP/2 forbids or that would break the gRPC framing (grpc-*, pseudo-headers, CR/LF). */
#include <string.h>

#include "server_internal.h"


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
  if (rc == 0) rc = bin ? asx_grpc_bin_encode(st, v, len) : asx_buf_append(st, v, len);
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
  return asx_grpc_bin_decode(v, out);
}

size_t grpc_md_headers(const asx_grpc_call *call, const grpc_md *list, size_t count, asx_http2_header *out) {
  const uint8_t *base = call->md_store.data;
  for (size_t i = 0; i < count; i++) {
    out[i].name = (asx_slice){base + list[i].name_off, list[i].name_len};
    out[i].value = (asx_slice){base + list[i].val_off, list[i].val_len};
  }
  return count;
}

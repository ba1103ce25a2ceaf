/* gRPC status codes: names, mappings from asx outcomes / errors / HTTP statuses, grpc-status
 * text and the grpc-message percent-encoding. */
#include <string.h>

#include "asx/grpc.h"

static const char *const status_names[] = {
    "OK",           "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",    "ALREADY_EXISTS", "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",    "DATA_LOSS",
    "UNAUTHENTICATED"};

#define STATUS_COUNT ((int)(sizeof status_names / sizeof status_names[0]))

const char *asx_grpc_status_name(int code) {
  if (code < 0 || code >= STATUS_COUNT) return NULL;
  return status_names[code];
}

int asx_grpc_status_from_name(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < STATUS_COUNT; i++)
    if (strcmp(name, status_names[i]) == 0) return i;
  return -1;
}

asx_grpc_status asx_grpc_status_from_outcome(asx_grpc_outcome outcome) {
  switch (outcome) {
  case ASX_GRPC_OUTCOME_OK: return ASX_GRPC_OK;
  case ASX_GRPC_OUTCOME_ERR: return ASX_GRPC_UNKNOWN;
  case ASX_GRPC_OUTCOME_CANCELLED: return ASX_GRPC_CANCELLED;
  case ASX_GRPC_OUTCOME_PANICKED: return ASX_GRPC_INTERNAL;
  case ASX_GRPC_OUTCOME_DEADLINE: return ASX_GRPC_DEADLINE_EXCEEDED;
  case ASX_GRPC_OUTCOME_BUDGET: return ASX_GRPC_RESOURCE_EXHAUSTED;
  }
  return ASX_GRPC_UNKNOWN;
}

asx_grpc_status asx_grpc_status_from_error(int asx_err) {
  switch (asx_err) {
  case ASX_OK: return ASX_GRPC_OK;
  case ASX_EINVAL: return ASX_GRPC_INVALID_ARGUMENT;
  case ASX_ENOMEM: return ASX_GRPC_RESOURCE_EXHAUSTED;
  case ASX_ECANCELED: return ASX_GRPC_CANCELLED;
  case ASX_ETIMEDOUT: return ASX_GRPC_DEADLINE_EXCEEDED;
  case ASX_EDEADLINE: return ASX_GRPC_DEADLINE_EXCEEDED;
  case ASX_EBUDGET: return ASX_GRPC_RESOURCE_EXHAUSTED;
  case ASX_ELIMIT: return ASX_GRPC_RESOURCE_EXHAUSTED;
  case ASX_ENOTFOUND: return ASX_GRPC_NOT_FOUND;
  case ASX_EEXIST: return ASX_GRPC_ALREADY_EXISTS;
  case ASX_ESTATE: return ASX_GRPC_FAILED_PRECONDITION;
  case ASX_EUNSUPPORTED: return ASX_GRPC_UNIMPLEMENTED;
  case ASX_EOVERFLOW: return ASX_GRPC_OUT_OF_RANGE;
  case ASX_ECLOSED:
  case ASX_ECONNRESET:
  case ASX_EPIPE:
  case ASX_EIO:
  case ASX_EBUSY: return ASX_GRPC_UNAVAILABLE;
  case ASX_ECHECKSUM: return ASX_GRPC_DATA_LOSS;
  case ASX_ETLS: return ASX_GRPC_UNAVAILABLE;
  case ASX_EPROTO:
  case ASX_EDECOMPRESS:
  case ASX_EPANIC: return ASX_GRPC_INTERNAL;
  default: return asx_err_is_fatal(asx_err) ? ASX_GRPC_INTERNAL : ASX_GRPC_UNKNOWN;
  }
}

asx_grpc_status asx_grpc_status_from_http(int http_status) {
  switch (http_status) {
  case 200: return ASX_GRPC_UNKNOWN; /* 200 without grpc-status is itself a protocol error */
  case 400: return ASX_GRPC_INTERNAL;
  case 401: return ASX_GRPC_UNAUTHENTICATED;
  case 403: return ASX_GRPC_PERMISSION_DENIED;
  case 404: return ASX_GRPC_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504: return ASX_GRPC_UNAVAILABLE;
  default: return ASX_GRPC_UNKNOWN;
  }
}

size_t asx_grpc_status_format(int code, char out[ASX_GRPC_STATUS_TEXT_MAX]) {
  if (!out || code < 0) return 0;
  char rev[ASX_GRPC_STATUS_TEXT_MAX];
  size_t n = 0;
  unsigned v = (unsigned)code;
  do {
    rev[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = rev[n - 1 - i];
  out[n] = '\0';
  return n;
}

int asx_grpc_status_parse(asx_slice value, int *code) {
  if (!code || !value.ptr || value.len == 0 || value.len > 10) return ASX_EPROTO;
  uint64_t v = 0;
  for (size_t i = 0; i < value.len; i++) {
    uint8_t c = value.ptr[i];
    if (c < '0' || c > '9') return ASX_EPROTO;
    v = v * 10 + (uint64_t)(c - '0');
  }
  if (v > INT32_MAX) return ASX_EPROTO;
  *code = (int)v;
  return 0;
}

static const char hex_upper[] = "0123456789ABCDEF";

static bool needs_escape(uint8_t c) { return c < 0x20 || c > 0x7E || c == '%'; }

int asx_grpc_message_encode(asx_buf *out, const void *msg, size_t len) {
  if (!out || (!msg && len)) return ASX_EINVAL;
  const uint8_t *p = msg;
  size_t need = 0;
  for (size_t i = 0; i < len; i++) need += needs_escape(p[i]) ? 3 : 1;
  /* Reserving the exact size first keeps `out` unchanged on failure. */
  int rc = asx_buf_reserve(out, need);
  if (rc) return rc;
  for (size_t i = 0; i < len; i++) {
    if (needs_escape(p[i])) {
      uint8_t esc[3] = {'%', (uint8_t)hex_upper[p[i] >> 4], (uint8_t)hex_upper[p[i] & 15]};
      asx_buf_append(out, esc, 3);
    } else {
      asx_buf_append_byte(out, p[i]);
    }
  }
  return 0;
}

static int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int asx_grpc_message_decode(asx_buf *out, asx_slice value) {
  if (!out || (!value.ptr && value.len)) return ASX_EINVAL;
  /* Decoding never grows the text, so reserving len up front makes the rest infallible. */
  int rc = asx_buf_reserve(out, value.len);
  if (rc) return rc;
  const uint8_t *p = value.ptr;
  for (size_t i = 0; i < value.len; i++) {
    if (p[i] == '%' && i + 2 < value.len && hex_value(p[i + 1]) >= 0 &&
        hex_value(p[i + 2]) >= 0) {
      asx_buf_append_byte(out, (uint8_t)(hex_value(p[i + 1]) << 4 | hex_value(p[i + 2])));
      i += 2;
    } else {
      asx_buf_append_byte(out, p[i]);
    }
  }
  return 0;
}

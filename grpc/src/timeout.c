/* grpc-timeout: "<1..8 ASCII digits><unit>", unit one of H M S m u n. */
#include "asx/grpc.h"

#define MAX_DIGITS 8u
#define MAX_VALUE 99999999ull

static uint64_t unit_ns(uint8_t unit) {
  switch (unit) {
  case 'H': return 3600ull * 1000000000ull;
  case 'M': return 60ull * 1000000000ull;
  case 'S': return 1000000000ull;
  case 'm': return 1000000ull;
  case 'u': return 1000ull;
  case 'n': return 1ull;
  default: return 0;
  }
}

int asx_grpc_timeout_parse(asx_slice value, uint64_t *ns) {
  if (!ns || !value.ptr || value.len < 2 || value.len > MAX_DIGITS + 1) return ASX_EPROTO;
  uint64_t mult = unit_ns(value.ptr[value.len - 1]);
  if (!mult) return ASX_EPROTO;
  uint64_t v = 0;
  for (size_t i = 0; i + 1 < value.len; i++) {
    uint8_t c = value.ptr[i];
    if (c < '0' || c > '9') return ASX_EPROTO;
    v = v * 10 + (uint64_t)(c - '0');
  }
  /* 99999999H does not fit in 64 bits of nanoseconds: saturate (an effectively infinite
   * deadline) rather than wrap to a short one. */
  *ns = v > UINT64_MAX / mult ? UINT64_MAX : v * mult;
  return 0;
}

size_t asx_grpc_timeout_format(uint64_t ns, char out[ASX_GRPC_TIMEOUT_TEXT_MAX]) {
  static const uint8_t units[] = {'n', 'u', 'm', 'S', 'M', 'H'};
  uint64_t value = MAX_VALUE;
  uint8_t unit = 'H';
  for (size_t i = 0; i < sizeof units; i++) {
    uint64_t m = unit_ns(units[i]);
    /* Round up: a peer must never see a shorter deadline than ours. */
    uint64_t v = ns / m + (ns % m != 0);
    if (v <= MAX_VALUE) {
      value = v;
      unit = units[i];
      break;
    }
  }
  char rev[MAX_DIGITS];
  size_t n = 0;
  do {
    rev[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  for (size_t i = 0; i < n; i++) out[i] = rev[n - 1 - i];
  out[n++] = (char)unit;
  out[n] = '\0';
  return n;
}

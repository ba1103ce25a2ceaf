/* Strict incremental UTF-8 validation (RFC 3629) for text messages, which may arrive split
 * across frames and across decompression steps at any byte. */
#include "ws_internal.h"

void ws_utf8_init(ws_utf8 *u) {
  u->need = 0;
  u->lo = 0x80;
  u->hi = 0xBF;
}

/* Sets the expectations after a lead byte; false for bytes that can never lead. */
static bool utf8_lead(ws_utf8 *u, uint8_t c) {
  u->lo = 0x80;
  u->hi = 0xBF;
  if (c < 0xC2) return false; /* stray continuation, or C0/C1 (always overlong) */
  if (c <= 0xDF) {
    u->need = 1;
  } else if (c <= 0xEF) {
    u->need = 2;
    if (c == 0xE0) u->lo = 0xA0; /* below would be an overlong 3-byte form */
    if (c == 0xED) u->hi = 0x9F; /* above would be a UTF-16 surrogate */
  } else if (c <= 0xF4) {
    u->need = 3;
    if (c == 0xF0) u->lo = 0x90; /* overlong 4-byte form */
    if (c == 0xF4) u->hi = 0x8F; /* beyond U+10FFFF */
  } else {
    return false;
  }
  return true;
}

bool ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (u->need == 0) {
      if (c < 0x80) continue;
      if (!utf8_lead(u, c)) return false;
      continue;
    }
    if (c < u->lo || c > u->hi) return false;
    u->need--;
    u->lo = 0x80;
    u->hi = 0xBF;
  }
  return true;
}

bool asx_ws_utf8_valid(const uint8_t *data, size_t len) {
  ws_utf8 u;
  ws_utf8_init(&u);
  return ws_utf8_feed(&u, data, len) && ws_utf8_complete(&u);
}

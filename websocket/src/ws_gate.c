/* The input gate between the caller's bytes and wslay's frame reader. It follows frame
 * boundaries (it reads headers; payload bytes pass straight through) for three reasons:
 *  - wslay's reader rejects a few header forms (control frame over 125 bytes or fragmented,
 *    non-minimal or >= 2^63 lengths) by closing without a status code; RFC 6455 wants 1002, so
 *    the gate checks headers first and reports them itself;
 *  - for the other header rules (masking, reserved bits, opcodes, fragment sequence, close
 *    codes) wslay only says "1002": checking them here too gives the caller a precise reason;
 *  - wslay checks a close frame's reason for UTF-8 per read chunk, skipping the first two bytes
 *    of *each* chunk, so a close frame split across reads is misjudged either way. The gate
 *    hands every control frame (at most 139 bytes) to wslay in a single read.
 * Decoding proper (masking, opcodes, sequencing) stays with wslay. */
#include <string.h>

#include "ws_internal.h"

void ws_gate_init(ws_gate *g, bool expect_mask, bool rsv1_allowed) {
  memset(g, 0, sizeof *g);
  g->expect_mask = expect_mask;
  g->rsv1_allowed = rsv1_allowed;
}

/* Rules decidable from the first two header bytes. */
static const char *check_first_bytes(ws_gate *g, uint8_t b0, uint8_t b1) {
  uint8_t opcode = b0 & 0x0f, rsv = (b0 >> 4) & 7, len7 = b1 & 0x7f;
  bool fin = (b0 & 0x80) != 0, masked = (b1 & 0x80) != 0, control = (opcode & 0x08) != 0;
  if (control && len7 > 125) return "control frame payload over 125 bytes";
  if (control && !fin) return "fragmented control frame";
  if ((opcode >= 3 && opcode <= 7) || opcode >= 0xB) return "reserved opcode";
  if (rsv & 3) return "RSV2/RSV3 set without a negotiated extension";
  if (rsv & 4) {
    if (!g->rsv1_allowed) return "RSV1 set without permessage-deflate";
    if (control || opcode == 0) return "RSV1 on a control or continuation frame";
  }
  if (g->expect_mask && !masked) return "unmasked frame from the client";
  if (!g->expect_mask && masked) return "masked frame from the server";
  if (!control) {
    if (opcode == 0 && !g->in_message) return "continuation frame without a message in progress";
    if (opcode != 0 && g->in_message) return "new data message inside a fragmented message";
  }
  return NULL;
}

/* A complete close frame: a 1-byte payload, or a code that may not appear on the wire. */
static const char *check_close(const ws_gate *g, size_t hdr) {
  size_t len = g->acc_len - hdr;
  if (len == 0) return NULL;
  if (len == 1) return "close frame with a 1-byte payload";
  uint8_t b[2] = {g->acc[hdr], g->acc[hdr + 1]};
  if (g->acc[1] & 0x80) {
    b[0] ^= g->acc[hdr - 4];
    b[1] ^= g->acc[hdr - 3];
  }
  unsigned code = (unsigned)b[0] << 8 | b[1];
  bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
            (code >= 3000 && code <= 4999);
  return ok ? NULL : "close frame with a status code not allowed on the wire";
}

static void gate_release(ws_gate *g) {
  memcpy(g->hold, g->acc, g->acc_len);
  g->hold_len = g->acc_len;
  g->hold_off = 0;
  g->acc_len = 0;
  g->need = 0;
}

/* Takes one header (or control payload) byte into the accumulator. */
static void gate_byte(ws_gate *g, uint8_t c) {
  g->acc[g->acc_len++] = c;
  size_t have = g->acc_len;
  if (have < 2) return;
  uint8_t b0 = g->acc[0], len7 = g->acc[1] & 0x7f;
  bool control = (b0 & 0x08) != 0;
  size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  size_t hdr = 2 + ext + ((g->acc[1] & 0x80) ? 4 : 0);
  if (have == 2) {
    g->error = check_first_bytes(g, b0, g->acc[1]);
    if (g->error) return;
  }
  if (ext && have == 2 + ext) {
    uint64_t v = 0;
    for (size_t k = 0; k < ext; k++) v = v << 8 | g->acc[2 + k];
    if (ext == 2 && v < 126) g->error = "16-bit payload length below 126";
    if (ext == 8 && v < 65536) g->error = "64-bit payload length below 65536";
    if (ext == 8 && (v >> 63)) g->error = "64-bit payload length with the top bit set";
    if (g->error) return;
  }
  if (have == hdr) {
    uint64_t len = len7;
    if (ext) {
      len = 0;
      for (size_t k = 0; k < ext; k++) len = len << 8 | g->acc[2 + k];
    }
    if (!control) {
      g->in_message = !(b0 & 0x80);
      gate_release(g); /* the header; its payload streams through */
      g->skip = len;
      return;
    }
    g->need = hdr + len7;
  }
  if (control && have >= hdr && have == g->need) {
    if ((b0 & 0x0f) == 0x8) g->error = check_close(g, hdr);
    if (!g->error) gate_release(g);
  }
}

size_t ws_gate_pull(ws_gate *g, const uint8_t **in, size_t *in_len, uint8_t *out, size_t cap) {
  size_t produced = 0;
  while (produced < cap) {
    if (g->hold_off < g->hold_len) {
      size_t left = g->hold_len - g->hold_off;
      /* A held frame goes out in one read unless it can never fit in one. */
      if (left > cap - produced && produced > 0) break;
      size_t k = left < cap - produced ? left : cap - produced;
      memcpy(out + produced, g->hold + g->hold_off, k);
      g->hold_off += k;
      produced += k;
      continue;
    }
    if (g->error || *in_len == 0) break;
    if (g->skip) {
      size_t k = cap - produced;
      if (k > *in_len) k = *in_len;
      if (k > g->skip) k = (size_t)g->skip;
      memcpy(out + produced, *in, k);
      *in += k;
      *in_len -= k;
      g->skip -= k;
      produced += k;
      continue;
    }
    gate_byte(g, **in);
    (*in)++;
    (*in_len)--;
  }
  return produced;
}

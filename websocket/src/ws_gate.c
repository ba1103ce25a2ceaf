/* The input gate between the caller's bytes and wslay's frame reader. It follows frame
 * boundaries (it reads headers; payload bytes pass straight through) for two reasons:
 *  - wslay's reader rejects a few header forms (control frame over 125 bytes or fragmented,
 *    non-minimal or >= 2^63 lengths) by closing without a status code; RFC 6455 wants 1002, so
 *    the gate checks headers first and reports them itself;
 *  - wslay checks a close frame's reason for UTF-8 per read chunk, skipping the first two bytes
 *    of *each* chunk, so a close frame split across reads is misjudged either way. The gate
 *    hands every control frame (at most 139 bytes) to wslay in a single read.
 * Decoding proper (masking, opcodes, sequencing) stays with wslay. */
#include <string.h>

#include "ws_internal.h"

void ws_gate_init(ws_gate *g) { memset(g, 0, sizeof *g); }

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
    if (control && len7 > 125) {
      g->error = "control frame payload over 125 bytes";
      return;
    }
    if (control && !(b0 & 0x80)) {
      g->error = "fragmented control frame";
      return;
    }
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
      gate_release(g); /* the header; its payload streams through */
      g->skip = len;
      return;
    }
    g->need = hdr + len7;
  }
  if (control && have >= hdr && have == g->need) gate_release(g);
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

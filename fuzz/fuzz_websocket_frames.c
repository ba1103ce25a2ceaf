/* Fuzz target: arbitrary bytes into an asx_ws session (server or client role), optionally with
 * permessage-deflate. The first input byte picks the configuration:
 *   bit 0  role: 0 server (expects masked frames), 1 client (expects unmasked frames)
 *   bit 1  permessage-deflate on
 *   bit 2  server_no_context_takeover      bit 3  client_no_context_takeover
 *   bits 4-5  feeding: whole input / one byte at a time / chunk sizes taken from the input
 *   bit 6  tiny limits (frame 512, message 1024, 4 fragments) instead of small ones
 *   bit 7  small windows (server 9, client 8 bits)
 * Every delivered message is echoed back; the session's output is fed to a second session of
 * the other role with the same agreement, which must decode exactly the echoed messages and
 * never report an error (encode/decode round trip under context takeover). Other invariants:
 * delivered messages respect max_message, text is valid UTF-8, every error is a documented
 * one and leaves the session not OPEN. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/websocket.h"

#define MAX_EXPECTED 32

typedef struct fuzz_state {
  asx_ws *a;             /* the session under test */
  asx_ws *b;             /* its peer, decoding what `a` sends */
  size_t max_message;
  uint8_t *expected[MAX_EXPECTED]; /* messages `a` queued, in order */
  size_t expected_len[MAX_EXPECTED];
  asx_ws_msg_type expected_type[MAX_EXPECTED];
  size_t head, count;
  bool overflowed;       /* more echoes than we track: stop checking order */
} fuzz_state;

static int fixed_random(void *ud, uint8_t *buf, size_t len) {
  (void)ud;
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(0xA5 + 3 * i);
  return 0;
}

static int a_on_message(void *ud, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  fuzz_state *st = ud;
  if (len > st->max_message) abort();
  if (type == ASX_WS_TEXT && !asx_ws_utf8_valid(data, len)) abort();
  int rc = asx_ws_send(st->a, type, data, len);
  if (rc == 0) {
    if (st->count == MAX_EXPECTED) {
      st->overflowed = true;
      return 0;
    }
    size_t slot = (st->head + st->count) % MAX_EXPECTED;
    st->expected[slot] = malloc(len ? len : 1);
    if (!st->expected[slot]) abort();
    memcpy(st->expected[slot], data, len);
    st->expected_len[slot] = len;
    st->expected_type[slot] = type;
    st->count++;
  } else if (rc != ASX_ECLOSED && rc != ASX_ENOMEM && rc != ASX_EBUSY) {
    abort();
  }
  return 0;
}

static int b_on_message(void *ud, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  fuzz_state *st = ud;
  if (st->overflowed) return 0;
  if (st->count == 0) abort(); /* the peer decoded a message nobody sent */
  size_t slot = st->head;
  if (st->expected_type[slot] != type || st->expected_len[slot] != len ||
      (len && memcmp(st->expected[slot], data, len) != 0))
    abort();
  free(st->expected[slot]);
  st->expected[slot] = NULL;
  st->head = (st->head + 1) % MAX_EXPECTED;
  st->count--;
  return 0;
}

static bool documented_error(int rc) {
  return rc == ASX_EPROTO || rc == ASX_ELIMIT || rc == ASX_EDECOMPRESS || rc == ASX_ENOMEM ||
         rc == ASX_ECLOSED;
}

/* Moves everything `a` wants to send into `b`; `b` must accept all of it. */
static void flush_a_to_b(fuzz_state *st) {
  uint8_t out[4096];
  for (int guard = 0; guard < 100000; guard++) {
    size_t n = 0;
    if (asx_ws_pull(st->a, out, sizeof out, &n) != 0) abort();
    if (n == 0) return;
    int rc = asx_ws_recv(st->b, out, n, NULL);
    if (rc != 0 && rc != ASX_ECLOSED) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t cfgb = data[0];
  data++;
  size--;
  asx_ws_limits lim = asx_ws_limits_default();
  if (cfgb & 0x40) {
    lim.max_frame_payload = 512;
    lim.max_message = 1024;
    lim.max_fragments = 4;
  } else {
    lim.max_frame_payload = 64 << 10;
    lim.max_message = 128 << 10;
    lim.max_fragments = 64;
  }
  lim.close_timeout_ns = 1000;
  asx_ws_deflate_params dp = asx_ws_deflate_params_default();
  dp.server_no_context_takeover = cfgb & 0x04;
  dp.client_no_context_takeover = cfgb & 0x08;
  if (cfgb & 0x80) {
    dp.server_max_window_bits = 9;
    dp.client_max_window_bits = 8;
  }
  fuzz_state st;
  memset(&st, 0, sizeof st);
  st.max_message = lim.max_message;

  asx_ws_config cfg = asx_ws_config_default((cfgb & 1) ? ASX_WS_CLIENT : ASX_WS_SERVER);
  cfg.limits = lim;
  cfg.deflate = (cfgb & 2) ? &dp : NULL;
  cfg.random = fixed_random;
  asx_ws_callbacks acb = {a_on_message, NULL, NULL, NULL};
  if (asx_ws_new(&st.a, &cfg, &acb, &st) != 0) abort();
  asx_ws_config pcfg = cfg;
  pcfg.role = (cfgb & 1) ? ASX_WS_SERVER : ASX_WS_CLIENT;
  pcfg.limits = asx_ws_limits_default(); /* the peer must accept whatever `a` legally sends */
  asx_ws_callbacks bcb = {b_on_message, NULL, NULL, NULL};
  if (asx_ws_new(&st.b, &pcfg, &bcb, &st) != 0) abort();

  int mode = (cfgb >> 4) & 3;
  size_t off = 0;
  uint64_t now = 0;
  while (off < size) {
    size_t chunk = size - off;
    if (mode == 1) {
      chunk = 1;
    } else if (mode >= 2) {
      chunk = (size_t)(data[off] % 64) + 1; /* the size byte is also part of the stream */
      if (chunk > size - off) chunk = size - off;
    }
    size_t used = 0;
    int rc = asx_ws_recv(st.a, data + off, chunk, &used);
    if (used > chunk) abort();
    if (rc != 0) {
      if (!documented_error(rc)) abort();
      if (asx_ws_get_state(st.a) == ASX_WS_OPEN) abort();
      if (rc != ASX_ECLOSED && asx_ws_error(st.a) == 0) abort();
      if (rc != ASX_ECLOSED && asx_ws_error_message(st.a)[0] == '\0') abort();
    }
    flush_a_to_b(&st);
    int trc = asx_ws_check_timeouts(st.a, now);
    if (trc != 0 && trc != ASX_ETIMEDOUT) abort();
    now += 100;
    if (rc != 0) break;
    off += chunk;
  }
  /* Every header rule is checked before wslay, so wslay alone may only find bad UTF-8. */
  if (strstr(asx_ws_error_message(st.a), "beyond the header checks")) abort();
  int crc = asx_ws_close(st.a, 1000, (const uint8_t *)"fuzz", 4);
  if (crc != 0 && crc != ASX_ECLOSED) abort();
  flush_a_to_b(&st);
  if (!st.overflowed && asx_ws_error(st.b) != 0) abort();

  asx_ws_free(st.a);
  asx_ws_free(st.b);
  for (size_t i = 0; i < MAX_EXPECTED; i++) free(st.expected[i]);
  return 0;
}

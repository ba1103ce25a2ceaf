/* WebSocket in the lab: an HTTP/1.1 upgrade (http1 codec for both heads, the websocket handshake
 * helpers with a permessage-deflate offer and a key drawn from asx_random), then a session: the
 * server greets in the same write as its 101 (the client must hand those bytes to the session),
 * the client sends a compressed text and a compressed 3000-byte binary message, a hand-built
 * uncompressed message in three fragments with a ping between them, another ping, and the
 * server echoes every message; then the client closes (1000) and the server answers the close.
 * Every message each side receives must equal what the other sent, in order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/http1.h"
#include "asx/websocket.h"
#include "lab_codec_util.h"

#define BIN 3000
#define NMSG 4 /* welcome + three echoes seen by the client */

typedef struct ws_state {
  int server_msgs, client_msgs, client_pongs;
  uint16_t server_close, client_close;
} ws_state;

static ws_state G;

static uint8_t bin_byte(size_t k) { return (uint8_t)((k / 7) % 11 + 'A'); } /* compressible */

static const char FRAG[3][12] = {"frag-one ", "frag-two ", "frag-three"};

/* Message i the server receives (it echoes it; the client then expects it at index i + 1). */
static bool msg_is(int i, asx_ws_msg_type t, const uint8_t *d, size_t n) {
  switch (i) {
  case 0: return t == ASX_WS_TEXT && n == 5 && memcmp(d, "hello", 5) == 0;
  case 1:
    if (t != ASX_WS_BINARY || n != BIN) return false;
    for (size_t k = 0; k < n; k++)
      if (d[k] != bin_byte(k)) return false;
    return true;
  case 2: return t == ASX_WS_TEXT && n == 28 && memcmp(d, "frag-one frag-two frag-three", 28) == 0;
  default: return false;
  }
}

/* ---- shared I/O glue ---- */

typedef struct ws_side {
  asx_cx *cx;
  lc_side *side;
  asx_ws *ws;
  int err;
} ws_side;

static int mask_random(void *ud, uint8_t *buf, size_t len) {
  ws_side *w = ud;
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(asx_random(w->cx) >> 17);
  return 0;
}

/* Pulls everything the session wants to send and writes it. */
static int ws_flush(ws_side *w) {
  uint8_t buf[1024];
  while (asx_ws_want_write(w->ws)) {
    size_t n = 0;
    int rc = asx_ws_pull(w->ws, buf, sizeof(buf), &n);
    if (rc) return rc;
    if (n == 0) break;
    rc = lc_write(w->cx, w->side, buf, n, NULL);
    if (rc) return rc;
  }
  return 0;
}

static int ws_feed(ws_side *w, const uint8_t *d, size_t n) {
  int rc = asx_ws_recv(w->ws, d, n, NULL);
  if (rc == ASX_ECLOSED) return 0; /* reading is over (close exchanged): ignore the rest */
  if (rc) {
    if (w->err) return w->err; /* a transcript failure reported from a callback */
    lc_fail(w->cx, w->side, "decode", "%s: %s", asx_errname(rc), asx_ws_error_message(w->ws));
  }
  return rc;
}

/* ---- server ---- */

typedef struct head_acc {
  char upgrade[32], connection[32], key[40], version[8], ext[160];
  bool done, upgraded;
  size_t upgrade_offset;
} head_acc;

static void keep(char *dst, size_t cap, asx_slice v) {
  size_t n = v.len < cap - 1 ? v.len : cap - 1;
  memcpy(dst, v.ptr, n);
  dst[n] = 0;
}

static int on_head(void *ud, const asx_http1_event *ev) {
  head_acc *h = ud;
  if (ev->type == ASX_HTTP1_EV_HEADER) {
    asx_slice n = ev->u.field.name, v = ev->u.field.value;
    if (asx_slice_eq_nocase(n, "upgrade")) keep(h->upgrade, sizeof(h->upgrade), v);
    if (asx_slice_eq_nocase(n, "connection")) keep(h->connection, sizeof(h->connection), v);
    if (asx_slice_eq_nocase(n, "sec-websocket-key")) keep(h->key, sizeof(h->key), v);
    if (asx_slice_eq_nocase(n, "sec-websocket-version")) keep(h->version, sizeof(h->version), v);
    if (asx_slice_eq_nocase(n, "sec-websocket-extensions")) keep(h->ext, sizeof(h->ext), v);
  } else if (ev->type == ASX_HTTP1_EV_MESSAGE_DONE) {
    h->done = true;
  } else if (ev->type == ASX_HTTP1_EV_UPGRADE) {
    h->upgraded = true;
  }
  return 0;
}

static asx_slice sl(const char *s) { return (asx_slice){(const uint8_t *)s, strlen(s)}; }

static int srv_on_message(void *ud, asx_ws_msg_type t, const uint8_t *d, size_t n) {
  ws_side *w = ud;
  if (!msg_is(G.server_msgs, t, d, n)) {
    lc_fail(w->cx, w->side, "transcript", "message %d (%zu bytes) differs from what was sent",
            G.server_msgs, n);
    return w->err = ASX_EPROTO;
  }
  lc_note(w->cx, "ws.server_msg", d, n);
  G.server_msgs++;
  return asx_ws_send(w->ws, t, d, n); /* echo */
}

static void srv_on_close(void *ud, uint16_t code, const uint8_t *r, size_t n) {
  (void)ud;
  (void)r;
  (void)n;
  G.server_close = code;
}

/* Reads the upgrade request (the client sends no frame before the 101). */
static int server_handshake(asx_cx *cx, lc_side *side, head_acc *h) {
  asx_http1_decoder *d = NULL;
  int rc = asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, on_head, h, NULL);
  uint8_t buf[256];
  while (rc == 0 && !h->upgraded) {
    size_t n = 0, used = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (rc) break;
    rc = asx_http1_decoder_feed(d, buf, n, &used);
    if (rc) lc_fail(cx, side, "decode", "%s", asx_http1_decoder_error_message(d));
    else if (h->upgraded && used != n) lc_fail(cx, side, "transcript", "frames before the 101"), rc = ASX_EPROTO;
  }
  asx_http1_decoder_free(d);
  return rc;
}

static int server_fn(asx_cx *cx, lc_side *side) {
  head_acc h;
  memset(&h, 0, sizeof(h));
  int rc = server_handshake(cx, side, &h);
  if (rc) return rc;
  asx_ws_request req = {sl("GET"), sl(h.upgrade), sl(h.connection), sl(h.key), sl(h.version),
                        {NULL, 0}, sl(h.ext), {NULL, 0}};
  asx_ws_deflate_offer policy_deflate;
  memset(&policy_deflate, 0, sizeof(policy_deflate));
  asx_ws_server_policy policy = {NULL, 0, NULL, NULL, &policy_deflate};
  asx_ws_server_handshake hs;
  rc = asx_ws_server_accept(&req, &policy, &hs);
  if (rc || !hs.deflate) {
    lc_fail(cx, side, "handshake", "accept: %s, deflate %d", hs.error ? hs.error : "-", hs.deflate);
    return rc ? rc : ASX_EPROTO;
  }
  asx_ws_header wh[5];
  size_t nh = 0;
  asx_ws_server_response_headers(&hs, wh, 5, &nh);
  asx_http1_header hh[5];
  for (size_t i = 0; i < nh; i++) hh[i] = (asx_http1_header){sl(wh[i].name), sl(wh[i].value)};
  asx_http1_response_head resp = {101, {NULL, 0}, 1, hh, nh, ASX_HTTP1_FRAMING_NONE, 0};
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  rc = asx_http1_encode_response_head(&out, &resp);
  ws_side w = {cx, side, NULL, 0};
  asx_ws_config cfg = asx_ws_config_default(ASX_WS_SERVER);
  cfg.deflate = &hs.deflate_params;
  asx_ws_callbacks cb = {srv_on_message, NULL, NULL, srv_on_close};
  if (!rc) rc = asx_ws_new(&w.ws, &cfg, &cb, &w);
  if (!rc) rc = asx_ws_send(w.ws, ASX_WS_TEXT, (const uint8_t *)"welcome", 7);
  uint8_t buf[1024];
  while (!rc && asx_ws_want_write(w.ws)) { /* the greeting rides in the same write as the 101 */
    size_t n = 0;
    rc = asx_ws_pull(w.ws, buf, sizeof(buf), &n);
    if (!rc) rc = asx_buf_append(&out, buf, n);
    if (n == 0) break;
  }
  if (!rc) rc = lc_flush(cx, side, &out);
  asx_buf_free(&out);
  while (!rc && asx_ws_get_state(w.ws) != ASX_WS_CLOSED) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (!rc) rc = ws_feed(&w, buf, n);
    if (!rc) rc = ws_flush(&w);
  }
  asx_ws_stats st;
  if (w.ws) asx_ws_get_stats(w.ws, &st);
  if (!rc && (G.server_close != 1000 || st.compressed_in != 2 || st.compressed_out < 3)) {
    lc_fail(cx, side, "transcript", "close %u, compressed in %llu out %llu", G.server_close,
            (unsigned long long)st.compressed_in, (unsigned long long)st.compressed_out);
    rc = ASX_EPROTO;
  }
  asx_ws_free(w.ws);
  return rc;
}

/* ---- client ---- */

static int cli_on_message(void *ud, asx_ws_msg_type t, const uint8_t *d, size_t n) {
  ws_side *w = ud;
  int i = G.client_msgs;
  bool ok = i == 0 ? t == ASX_WS_TEXT && n == 7 && memcmp(d, "welcome", 7) == 0 : msg_is(i - 1, t, d, n);
  if (!ok) {
    lc_fail(w->cx, w->side, "transcript", "message %d (%zu bytes) differs from what was sent", i, n);
    return w->err = ASX_EPROTO;
  }
  lc_note(w->cx, "ws.client_msg", d, n);
  G.client_msgs++;
  return 0;
}

static void cli_on_pong(void *ud, const uint8_t *d, size_t n) {
  ws_side *w = ud;
  bool ok = (n == 1 && d[0] == 'p') || (n == 13 && memcmp(d, "are you there", 13) == 0);
  if (!ok) lc_fail(w->cx, w->side, "transcript", "unexpected pong payload (%zu bytes)", n);
  G.client_pongs++;
}

static void cli_on_close(void *ud, uint16_t code, const uint8_t *r, size_t n) {
  (void)ud;
  (void)r;
  (void)n;
  G.client_close = code;
}

/* A masked client frame built by hand (the session has no API to fragment). */
static void raw_frame(asx_cx *cx, asx_buf *o, bool fin, uint8_t opcode, const char *payload) {
  size_t n = strlen(payload);
  uint8_t mask[4];
  uint64_t r = asx_random(cx);
  memcpy(mask, &r, 4);
  asx_buf_append_byte(o, (uint8_t)((fin ? 0x80 : 0) | opcode));
  asx_buf_append_byte(o, (uint8_t)(0x80 | n));
  asx_buf_append(o, mask, 4);
  for (size_t i = 0; i < n; i++) asx_buf_append_byte(o, (uint8_t)(payload[i] ^ mask[i % 4]));
}

typedef struct resp_acc {
  int status;
  char upgrade[32], connection[32], accept[40], ext[160];
  bool upgraded;
} resp_acc;

static int on_resp(void *ud, const asx_http1_event *ev) {
  resp_acc *h = ud;
  if (ev->type == ASX_HTTP1_EV_STATUS_LINE) h->status = ev->u.status.code;
  if (ev->type == ASX_HTTP1_EV_HEADER) {
    asx_slice n = ev->u.field.name, v = ev->u.field.value;
    if (asx_slice_eq_nocase(n, "upgrade")) keep(h->upgrade, sizeof(h->upgrade), v);
    if (asx_slice_eq_nocase(n, "connection")) keep(h->connection, sizeof(h->connection), v);
    if (asx_slice_eq_nocase(n, "sec-websocket-accept")) keep(h->accept, sizeof(h->accept), v);
    if (asx_slice_eq_nocase(n, "sec-websocket-extensions")) keep(h->ext, sizeof(h->ext), v);
  }
  if (ev->type == ASX_HTTP1_EV_UPGRADE) h->upgraded = true;
  return 0;
}

static int client_fn(asx_cx *cx, lc_side *side) {
  uint8_t rnd[16];
  for (int i = 0; i < 16; i++) rnd[i] = (uint8_t)asx_random(cx);
  asx_ws_deflate_offer offer;
  memset(&offer, 0, sizeof(offer));
  offer.client_max_window_bits_any = true;
  asx_ws_client_handshake ch;
  int rc = asx_ws_client_handshake_init(&ch, rnd, NULL, &offer);
  asx_ws_header wh[7];
  size_t nh = 0;
  if (!rc) rc = asx_ws_client_request_headers(&ch, NULL, wh, 7, &nh);
  asx_http1_header hh[8] = {{sl("Host"), sl("lab")}};
  for (size_t i = 0; i < nh; i++) hh[i + 1] = (asx_http1_header){sl(wh[i].name), sl(wh[i].value)};
  asx_http1_request_head req = {sl("GET"), sl("/ws"), 1, hh, nh + 1, ASX_HTTP1_FRAMING_NONE, 0};
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  if (!rc) rc = asx_http1_encode_request_head(&out, &req);
  if (!rc) rc = lc_flush(cx, side, &out);
  /* The 101, and whatever frames follow it in the same reads. */
  resp_acc h;
  memset(&h, 0, sizeof(h));
  asx_http1_decoder *d = NULL;
  if (!rc) rc = asx_http1_decoder_new(&d, ASX_HTTP1_RESPONSE, NULL, on_resp, &h, NULL);
  uint8_t buf[1024];
  size_t n = 0, used = 0;
  while (!rc && !h.upgraded) {
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (rc) break;
    rc = asx_http1_decoder_feed(d, buf, n, &used);
    if (rc) lc_fail(cx, side, "decode", "%s", asx_http1_decoder_error_message(d));
  }
  asx_http1_decoder_free(d);
  ws_side w = {cx, side, NULL, 0};
  asx_ws_client_result res;
  if (!rc) {
    asx_ws_response resp = {h.status, sl(h.upgrade), sl(h.connection), sl(h.accept), {NULL, 0}, sl(h.ext)};
    const char *why = NULL;
    rc = asx_ws_client_verify_response(&ch, &resp, &res, &why);
    if (rc || !res.deflate) {
      lc_fail(cx, side, "handshake", "verify: %s, deflate %d", why ? why : "-", res.deflate);
      rc = rc ? rc : ASX_EPROTO;
    }
  }
  asx_ws_config cfg = asx_ws_config_default(ASX_WS_CLIENT);
  cfg.deflate = &res.deflate_params;
  cfg.random = mask_random;
  cfg.random_ud = &w;
  asx_ws_callbacks cb = {cli_on_message, NULL, cli_on_pong, cli_on_close};
  if (!rc) rc = asx_ws_new(&w.ws, &cfg, &cb, &w);
  if (!rc) rc = ws_feed(&w, buf + used, n - used); /* frames that came with the 101 */
  uint8_t bin[BIN];
  for (size_t k = 0; k < BIN; k++) bin[k] = bin_byte(k);
  if (!rc) rc = asx_ws_send(w.ws, ASX_WS_TEXT, (const uint8_t *)"hello", 5);
  if (!rc) rc = asx_ws_send(w.ws, ASX_WS_BINARY, bin, BIN);
  if (!rc) rc = ws_flush(&w);
  if (!rc) {
    raw_frame(cx, &out, false, 0x1, FRAG[0]);
    raw_frame(cx, &out, true, 0x9, "p"); /* a ping between fragments */
    raw_frame(cx, &out, false, 0x0, FRAG[1]);
    raw_frame(cx, &out, true, 0x0, FRAG[2]);
    rc = lc_flush(cx, side, &out);
  }
  if (!rc) rc = asx_ws_ping(w.ws, (const uint8_t *)"are you there", 13);
  if (!rc) rc = ws_flush(&w);
  bool closing = false;
  while (!rc && asx_ws_get_state(w.ws) != ASX_WS_CLOSED) {
    if (!closing && G.client_msgs == NMSG && G.client_pongs == 2) {
      rc = asx_ws_close(w.ws, 1000, (const uint8_t *)"bye", 3);
      if (!rc) rc = ws_flush(&w);
      closing = true;
      continue;
    }
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (!rc) rc = ws_feed(&w, buf, n);
    if (!rc) rc = ws_flush(&w);
  }
  if (!rc && G.client_close != 1000) {
    lc_fail(cx, side, "transcript", "close code %u", G.client_close);
    rc = ASX_EPROTO;
  }
  asx_buf_free(&out);
  asx_ws_free(w.ws);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  int rc = lc_run_pair(cx, lab, mode, client_fn, server_fn, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.server_msgs != 3 || G.client_msgs != NMSG || G.client_pongs != 2))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_websocket, "websocket_session", "websocket", "upgrade, deflate, fragments, pings, close")

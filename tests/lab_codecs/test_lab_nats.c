/* NATS in the lab. The client uses the codec (parser for what a server sends, encoders for
 * CONNECT/SUB/PUB/HPUB/UNSUB/PING, the INFO JSON reader); asx has no server-side NATS codec, so
 * the server here is a small hand-written line parser that answers like nats-server with echo on:
 * INFO first, PONG for PING, MSG/HMSG for each publication on a subscribed subject, and a 503
 * no-responders HMSG. The client checks every operation it decodes, in order, against what the
 * server sent; the server checks every operation against what the client encoded. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/nats.h"
#include "lab_codec_util.h"

#define PAYLOAD 600

typedef struct nats_state {
  int server_ops, client_events;
} nats_state;

static nats_state G;

static uint8_t pat(size_t k) { return (uint8_t)(k * 17 + 3); }

static const char INFO[] =
    "INFO {\"server_id\":\"LAB1\",\"version\":\"2.10.7\",\"proto\":1,\"headers\":true,"
    "\"max_payload\":1048576,\"port\":4222,\"connect_urls\":[\"10.0.0.1:4222\"]}\r\n";

/* ---- server: a minimal hand-written protocol reader ---- */

/* What the server expects, op by op: the verb, the subject (or sid for UNSUB). */
static const char *const SERVER_EXPECT[][2] = {
    {"CONNECT", ""},         {"SUB", "orders.*"},   {"SUB", "results.>"}, {"PING", ""},
    {"PUB", "orders.new"},   {"HPUB", "orders.hdr"}, {"PUB", "results.x"}, {"UNSUB", "1"},
    {"PING", ""}};
#define NSERVER_OPS (int)(sizeof(SERVER_EXPECT) / sizeof(SERVER_EXPECT[0]))

static int split(char *line, char *tok[6]) {
  int n = 0;
  for (char *p = strtok(line, " "); p && n < 6; p = strtok(NULL, " ")) tok[n++] = p;
  return n;
}

/* Handles one complete op in `in` (control line + payload); returns bytes used, 0 = need more,
 * -1 = protocol violation (already reported). */
static long server_op(asx_cx *cx, lc_side *side, asx_buf *in, asx_buf *out) {
  uint8_t *crlf = memmem(in->data, in->len, "\r\n", 2);
  if (!crlf) return 0;
  size_t line_len = (size_t)(crlf - in->data);
  char line[512];
  if (line_len >= sizeof(line)) {
    lc_fail(cx, side, "decode", "control line too long");
    return -1;
  }
  memcpy(line, in->data, line_len);
  line[line_len] = 0;
  bool is_connect = strncmp(line, "CONNECT ", 8) == 0;
  char *tok[6] = {0};
  int nt = is_connect ? 1 : split(line, tok);
  if (is_connect) tok[0] = "CONNECT";
  size_t used = line_len + 2, hdr = 0, total = 0;
  const char *subject = nt > 1 ? tok[1] : "", *reply = NULL;
  if (nt >= 1 && strcmp(tok[0], "PUB") == 0) {
    total = strtoul(tok[nt - 1], NULL, 10);
    if (nt == 4) reply = tok[2];
  } else if (nt >= 1 && strcmp(tok[0], "HPUB") == 0) {
    hdr = strtoul(tok[nt - 2], NULL, 10);
    total = strtoul(tok[nt - 1], NULL, 10);
    if (nt == 5) reply = tok[2];
  }
  bool has_payload = nt >= 1 && (strcmp(tok[0], "PUB") == 0 || strcmp(tok[0], "HPUB") == 0);
  if (has_payload && in->len < used + total + 2) return 0;
  int i = G.server_ops;
  if (nt < 1 || i >= NSERVER_OPS || strcmp(tok[0], SERVER_EXPECT[i][0]) ||
      strcmp(subject, SERVER_EXPECT[i][1])) {
    lc_fail(cx, side, "transcript", "op %d: got \"%s\", expected %s %s", i, line,
            i < NSERVER_OPS ? SERVER_EXPECT[i][0] : "-", i < NSERVER_OPS ? SERVER_EXPECT[i][1] : "-");
    return -1;
  }
  const uint8_t *payload = in->data + used + hdr;
  size_t plen = total - hdr;
  if (strcmp(tok[0], "PUB") == 0 && strcmp(subject, "orders.new") == 0) {
    bool ok = plen == PAYLOAD && reply && strcmp(reply, "reply.1") == 0;
    for (size_t k = 0; ok && k < plen; k++) ok = payload[k] == pat(k);
    if (!ok) {
      lc_fail(cx, side, "transcript", "PUB orders.new payload differs");
      return -1;
    }
  }
  lc_note(cx, "nats.server_op", in->data, used + (has_payload ? total + 2 : 0));
  G.server_ops++;
  /* Answer like nats-server (echo on). */
  char head[256];
  if (strcmp(tok[0], "PING") == 0) {
    asx_buf_append_str(out, "PONG\r\n");
  } else if (strcmp(tok[0], "PUB") == 0) {
    const char *sid = strncmp(subject, "orders.", 7) == 0 ? "1" : "2";
    int k = reply ? snprintf(head, sizeof(head), "MSG %s %s %s %zu\r\n", subject, sid, reply, plen)
                  : snprintf(head, sizeof(head), "MSG %s %s %zu\r\n", subject, sid, plen);
    asx_buf_append(out, head, (size_t)k);
    asx_buf_append(out, payload, plen);
    asx_buf_append_str(out, "\r\n");
    if (strcmp(subject, "results.x") == 0) /* then a request nobody answered */
      asx_buf_append_str(out, "HMSG _INBOX.lab 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  } else if (strcmp(tok[0], "HPUB") == 0) {
    int k = snprintf(head, sizeof(head), "HMSG %s 1 %zu %zu\r\n", subject, hdr, total);
    asx_buf_append(out, head, (size_t)k);
    asx_buf_append(out, in->data + used, total);
    asx_buf_append_str(out, "\r\n");
  }
  return (long)(used + (has_payload ? total + 2 : 0));
}

static int server_fn(asx_cx *cx, lc_side *side) {
  asx_buf in, out;
  asx_buf_init(&in, NULL, 1 << 20);
  asx_buf_init(&out, NULL, 0);
  asx_buf_append(&out, INFO, sizeof(INFO) - 1);
  int rc = lc_flush(cx, side, &out);
  uint8_t buf[211];
  while (rc == 0) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (rc) break;
    rc = asx_buf_append(&in, buf, n);
    long used;
    while (rc == 0 && (used = server_op(cx, side, &in, &out)) != 0) {
      if (used < 0) {
        rc = ASX_EPROTO;
        break;
      }
      asx_buf_consume(&in, (size_t)used);
    }
    if (rc == 0 && out.len) rc = lc_flush(cx, side, &out);
  }
  if (rc == ASX_ECLOSED) rc = G.server_ops == NSERVER_OPS && in.len == 0 ? 0 : side->reset_mode ? 0 : ASX_EPROTO;
  asx_buf_free(&in);
  asx_buf_free(&out);
  return rc;
}

/* ---- client: the codec ---- */

static bool slice_is(asx_slice s, const char *str) { return asx_slice_eq(s, str); }

/* Checks event number i of what the server sent. */
static bool client_expect(int i, const asx_nats_event *ev, const asx_nats_limits *lim) {
  (void)lim;
  switch (i) {
  case 0: {
    if (ev->op != ASX_NATS_OP_INFO) return false;
    asx_nats_server_info info;
    memset(&info, 0, sizeof(info));
    int rc = asx_nats_info_parse(&info, ev->info_json, NULL, NULL, NULL, 0);
    bool ok = rc == 0 && info.server_id && strcmp(info.server_id, "LAB1") == 0 && info.headers &&
              info.max_payload == 1048576 && info.connect_urls_len == 1 && info.proto == 1;
    asx_nats_server_info_free(&info);
    return ok;
  }
  case 1: return ev->op == ASX_NATS_OP_PONG;
  case 2: {
    if (ev->op != ASX_NATS_OP_MSG || !slice_is(ev->subject, "orders.new") || !slice_is(ev->sid, "1") ||
        !slice_is(ev->reply, "reply.1") || ev->payload.len != PAYLOAD)
      return false;
    for (size_t k = 0; k < PAYLOAD; k++)
      if (ev->payload.ptr[k] != pat(k)) return false;
    return true;
  }
  case 3: {
    asx_slice v;
    return ev->op == ASX_NATS_OP_HMSG && slice_is(ev->subject, "orders.hdr") && ev->status == 0 &&
           asx_nats_hdr_get(ev->header_block, "X-Id", 0, &v) == 0 && slice_is(v, "7") &&
           asx_nats_hdr_count(ev->header_block, "X-Tag") == 2 && slice_is(ev->payload, "hello headers");
  }
  case 4: return ev->op == ASX_NATS_OP_MSG && slice_is(ev->subject, "results.x") && ev->payload.len == 0;
  case 5:
    return ev->op == ASX_NATS_OP_HMSG && ev->status == 503 && slice_is(ev->subject, "_INBOX.lab") &&
           ev->payload.len == 0;
  case 6: return ev->op == ASX_NATS_OP_PONG;
  default: return false;
  }
}
#define NCLIENT_EVENTS 7

static int client_send_all(asx_buf *o, const asx_nats_limits *lim) {
  asx_nats_connect_opts co;
  asx_nats_connect_opts_default(&co);
  co.name = "lab";
  int rc = asx_nats_encode_connect(o, &co);
  if (!rc) rc = asx_nats_encode_sub(o, lim, "orders.*", NULL, "1");
  if (!rc) rc = asx_nats_encode_sub(o, lim, "results.>", "workers", "2");
  if (!rc) rc = asx_nats_encode_ping(o);
  uint8_t payload[PAYLOAD];
  for (size_t k = 0; k < PAYLOAD; k++) payload[k] = pat(k);
  if (!rc) rc = asx_nats_encode_pub(o, lim, "orders.new", "reply.1", payload, PAYLOAD);
  asx_nats_hdr h;
  if (!rc) rc = asx_nats_hdr_init(&h, NULL, 0);
  if (!rc) {
    rc = asx_nats_hdr_add(&h, "X-Id", "7");
    if (!rc) rc = asx_nats_hdr_add(&h, "X-Tag", "a");
    if (!rc) rc = asx_nats_hdr_add(&h, "X-Tag", "b");
    if (!rc) rc = asx_nats_encode_hpub(o, lim, "orders.hdr", NULL, &h, "hello headers", 13);
    asx_nats_hdr_free(&h);
  }
  if (!rc) rc = asx_nats_encode_pub(o, lim, "results.x", NULL, "", 0);
  return rc;
}

static int client_fn(asx_cx *cx, lc_side *side) {
  asx_nats_parser *p = NULL;
  int rc = asx_nats_parser_new(&p, NULL, NULL);
  if (rc) return rc;
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  uint8_t buf[173];
  while (rc == 0 && G.client_events < NCLIENT_EVENTS) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    size_t off = 0;
    while (rc == 0 && off < n) {
      size_t used = 0;
      asx_nats_event ev;
      int f = asx_nats_parser_feed(p, buf + off, n - off, &used, &ev);
      off += used;
      if (f == ASX_EAGAIN) break;
      if (f) {
        lc_fail(cx, side, "decode", "%s: %s", asx_errname(f), asx_nats_parser_error_message(p));
        rc = f;
        break;
      }
      int i = G.client_events;
      if (!client_expect(i, &ev, asx_nats_parser_limits(p))) {
        lc_fail(cx, side, "transcript", "event %d (op %d) differs from what the server sent", i, ev.op);
        rc = ASX_EPROTO;
        break;
      }
      lc_note(cx, "nats.client_event", ev.payload.ptr, ev.payload.len);
      G.client_events++;
      if (i == 0) { /* INFO: the whole session is pipelined behind CONNECT */
        rc = client_send_all(&out, asx_nats_parser_limits(p));
        if (!rc) rc = lc_flush(cx, side, &out);
      } else if (i == 5) {
        rc = asx_nats_encode_unsub(&out, asx_nats_parser_limits(p), "1", 0);
        if (!rc) rc = asx_nats_encode_ping(&out);
        if (!rc) rc = lc_flush(cx, side, &out);
      }
    }
  }
  if (!rc) rc = lc_shutdown(cx, side);
  asx_buf_free(&out);
  asx_nats_parser_free(p);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  int rc = lc_run_pair(cx, lab, mode, client_fn, server_fn, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.server_ops != NSERVER_OPS || G.client_events != NCLIENT_EVENTS))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_nats, "nats_session", "nats", "NATS INFO/CONNECT/SUB/PUB/HPUB/MSG/HMSG/PING")

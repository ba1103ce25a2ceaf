/* gRPC framing over HTTP/2 in the lab: four concurrent calls on one connection (unary with a
 * grpc-timeout, client streaming with three messages one of them empty, server streaming with
 * four, and a call that fails with NOT_FOUND and a percent-encoded grpc-message). Messages are
 * framed with asx_grpc_encode and decoded with asx_grpc_decoder from DATA chunks that the
 * simulated network cuts anywhere; grpc-status / grpc-message / grpc-timeout go through the
 * codec's formatters and parsers. The client-streaming call's requests and the server-streaming
 * call's replies travel gzip-compressed (flag 1, asx_grpc_compress / asx_grpc_decompress). Each
 * side checks every message, in order, per call. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/grpc.h"
#include "lab_h2_loop.h"

#define NCALLS 4
#define MAXMSG 4

typedef struct call_spec {
  const char *path;
  size_t req[MAXMSG];
  int nreq;
  size_t resp[MAXMSG];
  int nresp;
  int status;
  const char *message; /* grpc-message (NULL = none) */
  bool gzip;           /* this call's messages are compressed (both directions) */
} call_spec;

static const call_spec CALLS[NCALLS] = {
    {"/lab.Echo/Unary", {10}, 1, {10}, 1, ASX_GRPC_OK, NULL, false},
    {"/lab.Echo/ClientStream", {10, 5000, 0}, 3, {8}, 1, ASX_GRPC_OK, NULL, true},
    {"/lab.Echo/ServerStream", {3}, 1, {1, 300, 3000, 2}, 4, ASX_GRPC_OK, NULL, true},
    {"/lab.Echo/Missing", {7}, 1, {0}, 0, ASX_GRPC_NOT_FOUND, "no such method: caf\xc3\xa9 100%\n", false},
};

static uint8_t pat(int call, int msg, size_t k) { return (uint8_t)(call * 41 + msg * 13 + k); }

typedef struct call_rx {
  int32_t id;
  asx_grpc_decoder *dec;
  int msgs;
  bool headers, trailers, ended, closed;
} call_rx;

typedef struct grpc_state {
  call_rx srv[NCALLS], cli[NCALLS];
  int calls_served, calls_done;
} grpc_state;

static grpc_state G;

static int call_of(asx_slice path) {
  for (int i = 0; i < NCALLS; i++)
    if (asx_slice_eq(path, CALLS[i].path)) return i;
  return -1;
}

static int slot_of(call_rx *t, int32_t id) {
  for (int i = 0; i < NCALLS; i++)
    if (t[i].id == id && id) return i;
  return -1;
}

static void bad(lh2_conn *c, const char *what, int32_t id) {
  if (c->err) return;
  lc_fail(c->cx, c->side, "transcript", "stream %d: %s", id, what);
  c->err = ASX_EPROTO;
}

/* Decodes a DATA chunk into messages and checks each against the spec (sizes[], `which`). */
static void take_data(lh2_conn *c, call_rx *r, int call, asx_slice d, const size_t *sizes, int n,
                      int which) {
  size_t off = 0;
  while (off < d.len) {
    size_t used = 0;
    asx_grpc_message m;
    int rc = asx_grpc_decoder_decode(r->dec, d.ptr + off, d.len - off, &used, &m);
    off += used;
    if (rc == ASX_EAGAIN) break;
    if (rc) {
      lc_fail(c->cx, c->side, "decode", "%s: %s", asx_errname(rc), asx_grpc_decoder_error_message(r->dec));
      c->err = rc;
      return;
    }
    if (m.compressed != CALLS[call].gzip) return bad(c, "compressed flag differs from the call's", r->id);
    asx_buf plain;
    asx_buf_init(&plain, NULL, 0);
    asx_slice got = m.data;
    if (m.compressed) {
      rc = asx_grpc_decompress(ASX_GRPC_GZIP, m.data.ptr, m.data.len, 1u << 20, &plain);
      if (rc) {
        asx_buf_free(&plain);
        return bad(c, "message does not decompress", r->id);
      }
      got = (asx_slice){plain.data, plain.len};
    }
    bool ok = r->msgs < n && got.len == sizes[r->msgs];
    for (size_t k = 0; ok && k < got.len; k++) ok = got.ptr[k] == pat(call, which + r->msgs, k);
    if (ok) lc_note(c->cx, "grpc.message", got.ptr, got.len);
    asx_buf_free(&plain);
    if (!ok) return bad(c, "message differs from what was sent", r->id);
    r->msgs++;
  }
}

static int encode_msgs(asx_buf *o, int call, const size_t *sizes, int n, int which) {
  uint8_t payload[5000];
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    for (size_t k = 0; k < sizes[i]; k++) payload[k] = pat(call, which + i, k);
    if (!CALLS[call].gzip) {
      rc = asx_grpc_encode(o, false, payload, sizes[i], NULL);
      continue;
    }
    asx_buf z;
    asx_buf_init(&z, NULL, 0);
    rc = asx_grpc_compress(ASX_GRPC_GZIP, payload, sizes[i], &z);
    if (!rc) rc = asx_grpc_encode(o, true, z.data ? z.data : (const uint8_t *)"", z.len, NULL);
    asx_buf_free(&z);
  }
  return rc;
}

/* ---- server ---- */

static void serve(lh2_conn *c, int i) {
  const call_spec *q = &CALLS[i];
  call_rx *r = &G.srv[i];
  asx_http2_header h[3] = {lh2_hdr(":status", "200"), lh2_hdr("content-type", "application/grpc"),
                           lh2_hdr("grpc-encoding", "gzip")};
  int rc = asx_http2_submit_response(c->s, r->id, h, q->gzip ? 3 : 2, false);
  asx_buf body, msg;
  asx_buf_init(&body, NULL, 0);
  asx_buf_init(&msg, NULL, 0);
  if (!rc) rc = encode_msgs(&body, i, q->resp, q->nresp, 100);
  if (!rc && body.len) rc = asx_http2_submit_data(c->s, r->id, body.data, body.len, false);
  char st[ASX_GRPC_STATUS_TEXT_MAX];
  asx_grpc_status_format(q->status, st);
  asx_http2_header t[2] = {lh2_hdr("grpc-status", st)};
  size_t nt = 1;
  if (!rc && q->message) {
    rc = asx_grpc_message_encode(&msg, q->message, strlen(q->message));
    if (!rc) rc = asx_buf_append_byte(&msg, 0);
    t[nt++] = lh2_hdr("grpc-message", (const char *)msg.data);
  }
  if (!rc) rc = asx_http2_submit_trailers(c->s, r->id, t, nt);
  asx_buf_free(&body);
  asx_buf_free(&msg);
  if (rc) {
    lc_fail(c->cx, c->side, "h2", "serving call %d: %s", i, asx_errname(rc));
    c->err = rc;
  }
  G.calls_served++;
}

static void server_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  lh2_conn *c = ud;
  int i = slot_of(G.srv, ev->stream_id);
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS: {
    i = call_of(lh2_find(ev, ":path"));
    uint64_t ns = 0;
    bool ok = ev->kind == ASX_HTTP2_REQUEST && i >= 0 && !G.srv[i].id &&
              asx_slice_eq(lh2_find(ev, "content-type"), "application/grpc") &&
              asx_slice_eq(lh2_find(ev, "te"), "trailers");
    if (ok && i == 0) /* the unary call carries a deadline */
      ok = asx_grpc_timeout_parse(lh2_find(ev, "grpc-timeout"), &ns) == 0 && ns == 1500000000ull;
    asx_grpc_encoding enc = ASX_GRPC_IDENTITY;
    asx_slice es = lh2_find(ev, "grpc-encoding");
    if (ok && es.ptr) ok = asx_grpc_encoding_parse(es, &enc) == 0;
    if (ok) ok = (enc == ASX_GRPC_GZIP) == CALLS[i].gzip;
    if (!ok) return bad(c, "unexpected request head", ev->stream_id);
    G.srv[i].id = ev->stream_id;
    if (asx_grpc_decoder_new(&G.srv[i].dec, NULL, NULL)) c->err = ASX_ENOMEM;
    break;
  }
  case ASX_HTTP2_EV_DATA:
    if (i < 0) return bad(c, "data on an unknown stream", ev->stream_id);
    take_data(c, &G.srv[i], i, ev->data, CALLS[i].req, CALLS[i].nreq, 0);
    asx_http2_session_consume(s, ev->stream_id, ev->data.len);
    break;
  case ASX_HTTP2_EV_END_STREAM:
    if (i < 0 || G.srv[i].msgs != CALLS[i].nreq || asx_grpc_decoder_finish(G.srv[i].dec) != 0)
      return bad(c, "request ended incomplete", ev->stream_id);
    serve(c, i);
    break;
  case ASX_HTTP2_EV_STREAM_CLOSED:
    if (i >= 0) G.srv[i].closed = true;
    if (ev->error_code) bad(c, "closed with an error", ev->stream_id);
    break;
  case ASX_HTTP2_EV_RESET: bad(c, "reset by the peer", ev->stream_id); break;
  case ASX_HTTP2_EV_GOAWAY: break;
  }
}

static bool server_done(lh2_conn *c) {
  (void)c;
  return G.calls_served == NCALLS;
}

static void free_decoders(call_rx *t) {
  for (int i = 0; i < NCALLS; i++) {
    asx_grpc_decoder_free(t[i].dec);
    t[i].dec = NULL;
  }
}

static int server_fn(asx_cx *cx, lc_side *side) {
  lh2_conn c;
  int rc = lh2_open(&c, cx, side, ASX_HTTP2_SERVER, server_event, server_done, NULL);
  if (rc) return rc;
  c.until_eof = true;
  rc = lh2_run(&c);
  if (rc == ASX_ECLOSED && !side->reset_mode) {
    lc_fail(cx, side, "transcript", "client left after %d calls", G.calls_served);
    rc = ASX_EPROTO;
  }
  lh2_close(&c);
  free_decoders(G.srv);
  return rc;
}

/* ---- client ---- */

static void client_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  lh2_conn *c = ud;
  int i = slot_of(G.cli, ev->stream_id);
  if (i < 0 && ev->type != ASX_HTTP2_EV_GOAWAY) return bad(c, "event on an unknown stream", ev->stream_id);
  call_rx *r = i >= 0 ? &G.cli[i] : NULL;
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    if (ev->kind == ASX_HTTP2_RESPONSE && !r->headers) {
      if (!asx_slice_eq(lh2_find(ev, ":status"), "200") ||
          !asx_slice_eq(lh2_find(ev, "content-type"), "application/grpc"))
        return bad(c, "response head differs", ev->stream_id);
      r->headers = true;
    } else if (ev->kind == ASX_HTTP2_TRAILERS) {
      int code = -1;
      if (asx_grpc_status_parse(lh2_find(ev, "grpc-status"), &code) || code != CALLS[i].status)
        return bad(c, "grpc-status differs", ev->stream_id);
      asx_slice m = lh2_find(ev, "grpc-message");
      if (CALLS[i].message) {
        asx_buf dec;
        asx_buf_init(&dec, NULL, 0);
        asx_grpc_message_decode(&dec, m);
        bool same = dec.len == strlen(CALLS[i].message) && memcmp(dec.data, CALLS[i].message, dec.len) == 0;
        asx_buf_free(&dec);
        if (!same) return bad(c, "grpc-message differs", ev->stream_id);
      } else if (m.len) {
        return bad(c, "unexpected grpc-message", ev->stream_id);
      }
      r->trailers = true;
    } else {
      bad(c, "unexpected header block", ev->stream_id);
    }
    break;
  case ASX_HTTP2_EV_DATA:
    take_data(c, r, i, ev->data, CALLS[i].resp, CALLS[i].nresp, 100);
    asx_http2_session_consume(s, ev->stream_id, ev->data.len);
    break;
  case ASX_HTTP2_EV_END_STREAM:
    if (!r->headers || !r->trailers || r->msgs != CALLS[i].nresp || asx_grpc_decoder_finish(r->dec))
      return bad(c, "call ended incomplete", ev->stream_id);
    r->ended = true;
    break;
  case ASX_HTTP2_EV_STREAM_CLOSED:
    if (ev->error_code || !r->ended) return bad(c, "closed before the call ended", ev->stream_id);
    G.calls_done++;
    break;
  case ASX_HTTP2_EV_RESET: bad(c, "reset by the peer", ev->stream_id); break;
  case ASX_HTTP2_EV_GOAWAY: bad(c, "unexpected GOAWAY", 0); break;
  }
}

static bool client_done(lh2_conn *c) {
  (void)c;
  return G.calls_done == NCALLS;
}

static int client_fn(asx_cx *cx, lc_side *side) {
  lh2_conn c;
  int rc = lh2_open(&c, cx, side, ASX_HTTP2_CLIENT, client_event, client_done, NULL);
  if (rc) return rc;
  char tmo[ASX_GRPC_TIMEOUT_TEXT_MAX];
  asx_grpc_timeout_format(1500000000ull, tmo);
  asx_buf body;
  asx_buf_init(&body, NULL, 0);
  for (int i = 0; i < NCALLS && !rc; i++) {
    asx_http2_header h[8] = {lh2_hdr(":method", "POST"), lh2_hdr(":scheme", "http"),
                             lh2_hdr(":authority", "lab"), lh2_hdr(":path", CALLS[i].path),
                             lh2_hdr("content-type", "application/grpc"), lh2_hdr("te", "trailers")};
    size_t nh = 6;
    if (i == 0) h[nh++] = lh2_hdr("grpc-timeout", tmo);
    if (CALLS[i].gzip) h[nh++] = lh2_hdr("grpc-encoding", "gzip");
    rc = asx_http2_submit_request(c.s, h, nh, false, &G.cli[i].id);
    if (!rc) rc = asx_grpc_decoder_new(&G.cli[i].dec, NULL, NULL);
    asx_buf_reset(&body);
    if (!rc) rc = encode_msgs(&body, i, CALLS[i].req, CALLS[i].nreq, 0);
    if (!rc) rc = asx_http2_submit_data(c.s, G.cli[i].id, body.data, body.len, true);
  }
  asx_buf_free(&body);
  if (!rc) rc = lh2_run(&c);
  if (!rc) rc = lh2_client_finish(&c);
  lh2_close(&c);
  free_decoders(G.cli);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  int rc = lc_run_pair(cx, lab, mode, client_fn, server_fn, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.calls_served != NCALLS || G.calls_done != NCALLS))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_grpc, "grpc_calls", "grpc", "four concurrent gRPC calls over HTTP/2")

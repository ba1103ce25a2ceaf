/* HTTP/2 in the lab: a client opens four concurrent streams at once (two GETs, a POST with a
 * 20000-byte body and trailers that outruns nothing but spans many DATA frames, a POST with
 * 5000 bytes); the server answers each when its request ends, with a body whose size and bytes
 * depend on the stream (one of 70000 bytes: more than the initial 64 KiB stream window, so
 * flow control must move credit both ways) and trailers on one. Both sides run
 * asx_http2_session over a simulated stream with delays and partial I/O; each checks every
 * header block and body it receives against what the other side submitted. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/http2.h"
#include "lab_h2_loop.h"

#define NSTREAMS 4

typedef struct req_spec {
  const char *method, *path;
  size_t body;          /* request body bytes (0 = end_stream on HEADERS) */
  bool req_trailers;
  int status;
  size_t answer;        /* response body bytes */
  bool resp_trailers;
} req_spec;

static const req_spec REQ[NSTREAMS] = {
    {"GET", "/", 0, false, 200, 1200, false},
    {"POST", "/upload", 20000, true, 201, 300, true},
    {"POST", "/small", 5000, false, 200, 70000, false},
    {"GET", "/missing", 0, false, 404, 0, false},
};

static uint8_t pat(int which, size_t k) { return (uint8_t)(which * 29 + k * 7 + k / 251); }

/* Per-stream reception state (index = spec number). */
typedef struct rx {
  int32_t id;
  int spec;
  bool headers, trailers, ended, closed, bad;
  size_t got;
  int status;
} rx;

typedef struct h2_state {
  rx srv[NSTREAMS], cli[NSTREAMS];
  int srv_requests, responses_done;
} h2_state;

static h2_state G;

static int spec_of_path(asx_slice path) {
  for (int i = 0; i < NSTREAMS; i++)
    if (asx_slice_eq(path, REQ[i].path)) return i;
  return -1;
}

static rx *find(rx *t, int32_t id) {
  for (int i = 0; i < NSTREAMS; i++)
    if (t[i].id == id && id != 0) return &t[i];
  return NULL;
}

static void bad(lh2_conn *c, const char *what, int32_t id) {
  lc_fail(c->cx, c->side, "transcript", "stream %d: %s", id, what);
  c->err = ASX_EPROTO;
}

static void body_bytes(lh2_conn *c, rx *r, asx_slice d, size_t expect_total, int which) {
  for (size_t k = 0; k < d.len; k++)
    if (r->got + k >= expect_total || d.ptr[k] != pat(which, r->got + k)) {
      bad(c, "body differs from what was sent", r->id);
      return;
    }
  r->got += d.len;
}

static void respond(lh2_conn *c, rx *r) {
  const req_spec *q = &REQ[r->spec];
  char st[8];
  snprintf(st, sizeof(st), "%d", q->status);
  asx_http2_header h[3] = {lh2_hdr(":status", st), lh2_hdr("content-type", "application/octet-stream"),
                           lh2_hdr("server", "asx-lab")};
  bool no_body = q->answer == 0 && !q->resp_trailers;
  int rc = asx_http2_submit_response(c->s, r->id, h, 3, no_body);
  static uint8_t body[70000];
  for (size_t k = 0; k < q->answer; k++) body[k] = pat(10 + r->spec, k);
  if (!rc && q->answer) rc = asx_http2_submit_data(c->s, r->id, body, q->answer, !q->resp_trailers);
  if (!rc && q->resp_trailers) {
    asx_http2_header t[1] = {lh2_hdr("x-digest", "ok")};
    rc = asx_http2_submit_trailers(c->s, r->id, t, 1);
  }
  if (rc) {
    lc_fail(c->cx, c->side, "h2", "respond on %d: %s", r->id, asx_errname(rc));
    c->err = rc;
  }
}

static void server_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  lh2_conn *c = ud;
  rx *r = find(G.srv, ev->stream_id);
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    if (ev->kind == ASX_HTTP2_REQUEST) {
      int i = spec_of_path(lh2_find(ev, ":path"));
      if (i < 0 || G.srv[i].id || !asx_slice_eq(lh2_find(ev, ":method"), REQ[i].method) ||
          !asx_slice_eq(lh2_find(ev, "x-req"), REQ[i].path)) {
        bad(c, "unexpected request", ev->stream_id);
        return;
      }
      G.srv[i].id = ev->stream_id;
      G.srv[i].spec = i;
      G.srv[i].headers = true;
      G.srv_requests++;
    } else if (ev->kind == ASX_HTTP2_TRAILERS && r && REQ[r->spec].req_trailers &&
               asx_slice_eq(lh2_find(ev, "x-digest"), "ok")) {
      r->trailers = true;
    } else {
      bad(c, "unexpected header block", ev->stream_id);
    }
    break;
  case ASX_HTTP2_EV_DATA:
    if (!r) return bad(c, "data on an unknown stream", ev->stream_id);
    body_bytes(c, r, ev->data, REQ[r->spec].body, r->spec);
    asx_http2_session_consume(s, ev->stream_id, ev->data.len);
    break;
  case ASX_HTTP2_EV_END_STREAM:
    if (!r || r->got != REQ[r->spec].body || r->trailers != REQ[r->spec].req_trailers)
      return bad(c, "request ended incomplete", ev->stream_id);
    lc_note(c->cx, "h2.request", REQ[r->spec].path, strlen(REQ[r->spec].path));
    r->ended = true;
    respond(c, r);
    break;
  case ASX_HTTP2_EV_RESET: bad(c, "reset by the peer", ev->stream_id); break;
  case ASX_HTTP2_EV_STREAM_CLOSED:
    if (r) r->closed = true;
    if (!r || ev->error_code != 0) bad(c, "closed with an error", ev->stream_id);
    break;
  case ASX_HTTP2_EV_GOAWAY:
    if (ev->error_code != 0) bad(c, "GOAWAY with an error", 0);
    break;
  }
}

static bool server_done(lh2_conn *c) {
  (void)c;
  for (int i = 0; i < NSTREAMS; i++)
    if (!G.srv[i].closed) return false;
  return true;
}

static int server_fn(asx_cx *cx, lc_side *side) {
  lh2_conn c;
  int rc = lh2_open(&c, cx, side, ASX_HTTP2_SERVER, server_event, server_done, NULL);
  if (rc) return rc;
  c.until_eof = true;
  rc = lh2_run(&c);
  if (rc == ASX_ECLOSED && !side->reset_mode) {
    lc_fail(cx, side, "transcript", "client left after %d requests", G.srv_requests);
    rc = ASX_EPROTO;
  }
  lh2_close(&c);
  return rc;
}

static void client_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  lh2_conn *c = ud;
  rx *r = find(G.cli, ev->stream_id);
  if (!r && ev->type != ASX_HTTP2_EV_GOAWAY) return bad(c, "event on an unknown stream", ev->stream_id);
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    if (ev->kind == ASX_HTTP2_RESPONSE && !r->headers) {
      char st[8];
      snprintf(st, sizeof(st), "%d", REQ[r->spec].status);
      if (!asx_slice_eq(lh2_find(ev, ":status"), st) || !asx_slice_eq(lh2_find(ev, "server"), "asx-lab"))
        return bad(c, "response head differs", ev->stream_id);
      r->headers = true;
    } else if (ev->kind == ASX_HTTP2_TRAILERS && REQ[r->spec].resp_trailers &&
               asx_slice_eq(lh2_find(ev, "x-digest"), "ok")) {
      r->trailers = true;
    } else {
      bad(c, "unexpected header block", ev->stream_id);
    }
    break;
  case ASX_HTTP2_EV_DATA:
    body_bytes(c, r, ev->data, REQ[r->spec].answer, 10 + r->spec);
    asx_http2_session_consume(s, ev->stream_id, ev->data.len);
    break;
  case ASX_HTTP2_EV_END_STREAM:
    if (!r->headers || r->got != REQ[r->spec].answer || r->trailers != REQ[r->spec].resp_trailers)
      return bad(c, "response ended incomplete", ev->stream_id);
    lc_note(c->cx, "h2.response", REQ[r->spec].path, strlen(REQ[r->spec].path));
    r->ended = true;
    break;
  case ASX_HTTP2_EV_RESET: bad(c, "reset by the peer", ev->stream_id); break;
  case ASX_HTTP2_EV_STREAM_CLOSED:
    if (ev->error_code != 0 || !r->ended) return bad(c, "closed before its response ended", ev->stream_id);
    r->closed = true;
    G.responses_done++;
    break;
  case ASX_HTTP2_EV_GOAWAY: bad(c, "unexpected GOAWAY", 0); break;
  }
}

static bool client_done(lh2_conn *c) {
  (void)c;
  return G.responses_done == NSTREAMS;
}

static int client_fn(asx_cx *cx, lc_side *side) {
  lh2_conn c;
  int rc = lh2_open(&c, cx, side, ASX_HTTP2_CLIENT, client_event, client_done, NULL);
  if (rc) return rc;
  static uint8_t body[20000];
  for (int i = 0; i < NSTREAMS && !rc; i++) { /* all four before the first byte is written */
    const req_spec *q = &REQ[i];
    asx_http2_header h[6] = {lh2_hdr(":method", q->method), lh2_hdr(":scheme", "http"),
                             lh2_hdr(":authority", "lab"), lh2_hdr(":path", q->path),
                             lh2_hdr("x-req", q->path), lh2_hdr("accept", "*/*")};
    rc = asx_http2_submit_request(c.s, h, 6, q->body == 0, &G.cli[i].id);
    G.cli[i].spec = i;
    for (size_t k = 0; k < q->body; k++) body[k] = pat(i, k);
    if (!rc && q->body) rc = asx_http2_submit_data(c.s, G.cli[i].id, body, q->body, !q->req_trailers);
    if (!rc && q->req_trailers) {
      asx_http2_header t[1] = {lh2_hdr("x-digest", "ok")};
      rc = asx_http2_submit_trailers(c.s, G.cli[i].id, t, 1);
    }
  }
  if (!rc) rc = lh2_run(&c);
  if (!rc) rc = lh2_client_finish(&c);
  lh2_close(&c);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  int rc = lc_run_pair(cx, lab, mode, client_fn, server_fn, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.srv_requests != NSTREAMS || G.responses_done != NSTREAMS))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_http2, "http2_streams", "http2", "four concurrent HTTP/2 streams, flow control")

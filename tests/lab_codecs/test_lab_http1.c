/* HTTP/1.1 in the lab: a client pipelines four requests (GET, a chunked POST with a trailer, a
 * Content-Length PUT, DELETE) and a server answers each in order (one answer chunked), both
 * through the sans-I/O codec over a simulated stream with delays and partial I/O. The transcript
 * each side decodes must be exactly what the other encoded, every oracle must pass for 50 seeds,
 * one seed must give one trace, a replay the same digest; with resets injected, every run ends
 * with a clean transport error and nothing decoded that was not sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/http1.h"
#include "lab_codec_util.h"

#define NREQ 4

typedef struct req_spec {
  const char *method, *target;
  asx_http1_framing framing;
  size_t body_len;
  size_t chunks[3]; /* chunk sizes when chunked */
  int code;         /* the answer */
  bool chunked_answer;
  size_t answer_len;
} req_spec;

static const req_spec REQS[NREQ] = {
    {"GET", "/index.html", ASX_HTTP1_FRAMING_NONE, 0, {0}, 200, false, 700},
    {"POST", "/upload?x=1", ASX_HTTP1_FRAMING_CHUNKED, 1007, {100, 7, 900}, 201, true, 1500},
    {"PUT", "/items/42", ASX_HTTP1_FRAMING_LENGTH, 1500, {0}, 204, false, 0},
    {"DELETE", "/items/7", ASX_HTTP1_FRAMING_NONE, 0, {0}, 404, false, 9},
};

static uint8_t pattern(int which, size_t k) { return (uint8_t)('a' + (which * 7 + k * 13) % 26); }

/* What one side has decoded of the message in progress. */
typedef struct msg_acc {
  char method[16], target[64];
  int code;
  uint8_t body[2048];
  size_t body_len;
  bool overflow, done, trailer_ok;
} msg_acc;

typedef struct h1_state {
  int requests_seen, responses_seen;
} h1_state;

static h1_state G;

static void copy_slice(char *dst, size_t cap, asx_slice s) {
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  memcpy(dst, s.ptr, n);
  dst[n] = 0;
}

static int on_event(void *ud, const asx_http1_event *ev) {
  msg_acc *m = ud;
  switch (ev->type) {
  case ASX_HTTP1_EV_REQUEST_LINE:
    copy_slice(m->method, sizeof(m->method), ev->u.request.method_name);
    copy_slice(m->target, sizeof(m->target), ev->u.request.target);
    break;
  case ASX_HTTP1_EV_STATUS_LINE: m->code = ev->u.status.code; break;
  case ASX_HTTP1_EV_DATA:
    if (m->body_len + ev->u.data.bytes.len > sizeof(m->body)) {
      m->overflow = true;
    } else {
      memcpy(m->body + m->body_len, ev->u.data.bytes.ptr, ev->u.data.bytes.len);
      m->body_len += ev->u.data.bytes.len;
    }
    break;
  case ASX_HTTP1_EV_TRAILER:
    if (asx_slice_eq_nocase(ev->u.field.name, "x-checksum") && asx_slice_eq(ev->u.field.value, "ok"))
      m->trailer_ok = true;
    break;
  case ASX_HTTP1_EV_MESSAGE_DONE: m->done = true; break;
  default: break;
  }
  return 0;
}

static bool body_is(const msg_acc *m, int which, size_t len) {
  if (m->overflow || m->body_len != len) return false;
  for (size_t k = 0; k < len; k++)
    if (m->body[k] != pattern(which, k)) return false;
  return true;
}

static int encode_request(asx_buf *out, int i) {
  const req_spec *r = &REQS[i];
  asx_http1_header hs[2] = {{{(const uint8_t *)"Host", 4}, {(const uint8_t *)"lab", 3}},
                            {{(const uint8_t *)"Accept", 6}, {(const uint8_t *)"*/*", 3}}};
  asx_http1_request_head h = {{(const uint8_t *)r->method, strlen(r->method)},
                              {(const uint8_t *)r->target, strlen(r->target)},
                              1, hs, 2, r->framing, r->body_len};
  int rc = asx_http1_encode_request_head(out, &h);
  if (rc) return rc;
  uint8_t body[2048];
  for (size_t k = 0; k < r->body_len; k++) body[k] = pattern(100 + i, k);
  if (r->framing == ASX_HTTP1_FRAMING_LENGTH) return asx_buf_append(out, body, r->body_len);
  if (r->framing == ASX_HTTP1_FRAMING_CHUNKED) {
    size_t at = 0;
    for (int c = 0; c < 3 && rc == 0; c++) {
      rc = asx_http1_encode_chunk(out, body + at, r->chunks[c]);
      at += r->chunks[c];
    }
    asx_http1_header tr = {{(const uint8_t *)"X-Checksum", 10}, {(const uint8_t *)"ok", 2}};
    if (rc == 0) rc = asx_http1_encode_last_chunk(out, &tr, 1);
  }
  return rc;
}

static int encode_response(asx_buf *out, int i) {
  const req_spec *r = &REQS[i];
  uint8_t body[2048];
  for (size_t k = 0; k < r->answer_len; k++) body[k] = pattern(200 + i, k);
  asx_http1_header hs[1] = {{{(const uint8_t *)"Server", 6}, {(const uint8_t *)"asx-lab", 7}}};
  asx_http1_framing f = r->code == 204 ? ASX_HTTP1_FRAMING_NONE
                        : r->chunked_answer ? ASX_HTTP1_FRAMING_CHUNKED
                                            : ASX_HTTP1_FRAMING_LENGTH;
  asx_http1_response_head h = {r->code, {NULL, 0}, 1, hs, 1, f, r->answer_len};
  int rc = asx_http1_encode_response_head(out, &h);
  if (rc || f == ASX_HTTP1_FRAMING_NONE) return rc;
  if (f == ASX_HTTP1_FRAMING_LENGTH) return asx_buf_append(out, body, r->answer_len);
  for (size_t at = 0; at < r->answer_len && rc == 0; at += 500) /* three chunks */
    rc = asx_http1_encode_chunk(out, body + at, r->answer_len - at < 500 ? r->answer_len - at : 500);
  return rc ? rc : asx_http1_encode_last_chunk(out, NULL, 0);
}

/* Feeds everything in buf to d, calling `done` for each complete message. */
static int feed_all(asx_cx *cx, lc_side *side, asx_http1_decoder *d, msg_acc *m, const uint8_t *buf,
                    size_t n, int (*done)(asx_cx *, lc_side *, msg_acc *)) {
  size_t off = 0;
  while (off < n) {
    size_t used = 0;
    int rc = asx_http1_decoder_feed(d, buf + off, n - off, &used);
    if (rc) {
      lc_fail(cx, side, "decode", "%s: %s", asx_errname(rc), asx_http1_decoder_error_message(d));
      return rc;
    }
    off += used;
    if (m->done) {
      rc = done(cx, side, m);
      memset(m, 0, sizeof(*m));
      if (rc) return rc;
    } else if (used == 0) {
      lc_fail(cx, side, "decode", "decoder made no progress");
      return ASX_EPROTO;
    }
  }
  return 0;
}

static int server_got_request(asx_cx *cx, lc_side *side, msg_acc *m) {
  int i = G.requests_seen;
  if (i >= NREQ) {
    lc_fail(cx, side, "transcript", "unexpected request %d", i);
    return ASX_EPROTO;
  }
  const req_spec *r = &REQS[i];
  if (strcmp(m->method, r->method) || strcmp(m->target, r->target) || !body_is(m, 100 + i, r->body_len) ||
      (r->framing == ASX_HTTP1_FRAMING_CHUNKED && !m->trailer_ok)) {
    lc_fail(cx, side, "transcript", "request %d: got %s %s body %zu, sent %s %s body %zu", i, m->method,
            m->target, m->body_len, r->method, r->target, r->body_len);
    return ASX_EPROTO;
  }
  lc_note(cx, "h1.request", m->body, m->body_len);
  G.requests_seen++;
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  int rc = encode_response(&out, i);
  if (rc == 0) rc = lc_flush(cx, side, &out);
  asx_buf_free(&out);
  return rc;
}

static int client_got_response(asx_cx *cx, lc_side *side, msg_acc *m) {
  int i = G.responses_seen;
  if (i >= NREQ || m->code != REQS[i].code || !body_is(m, 200 + i, REQS[i].answer_len)) {
    lc_fail(cx, side, "transcript", "response %d: got %d with %zu body bytes", i, m->code, m->body_len);
    return ASX_EPROTO;
  }
  lc_note(cx, "h1.response", m->body, m->body_len);
  G.responses_seen++;
  return 0;
}

static int h1_server(asx_cx *cx, lc_side *side) {
  msg_acc m;
  memset(&m, 0, sizeof(m));
  asx_http1_decoder *d = NULL;
  int rc = asx_http1_decoder_new(&d, ASX_HTTP1_REQUEST, NULL, on_event, &m, NULL);
  if (rc) return rc;
  uint8_t buf[700];
  for (;;) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (rc) break;
    rc = feed_all(cx, side, d, &m, buf, n, server_got_request);
    if (rc) break;
  }
  if (rc == ASX_ECLOSED && !side->reset_mode) { /* the client is done: a clean end between requests */
    rc = asx_http1_decoder_finish(d);
    if (rc || G.requests_seen != NREQ || !asx_http1_decoder_idle(d)) {
      lc_fail(cx, side, "transcript", "end of stream after %d of %d requests", G.requests_seen, NREQ);
      rc = ASX_EPROTO;
    }
  } else if (rc == ASX_ECLOSED) {
    rc = 0;
  }
  asx_http1_decoder_free(d);
  return rc;
}

static int h1_client(asx_cx *cx, lc_side *side) {
  msg_acc m;
  memset(&m, 0, sizeof(m));
  asx_http1_decoder *d = NULL;
  int rc = asx_http1_decoder_new(&d, ASX_HTTP1_RESPONSE, NULL, on_event, &m, NULL);
  if (rc) return rc;
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  for (int i = 0; i < NREQ && rc == 0; i++) rc = encode_request(&out, i);
  if (rc == 0) rc = lc_flush(cx, side, &out); /* all four pipelined in one write */
  asx_buf_free(&out);
  uint8_t buf[500];
  while (rc == 0 && G.responses_seen < NREQ) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (rc == 0) rc = feed_all(cx, side, d, &m, buf, n, client_got_response);
  }
  if (rc == 0) rc = lc_shutdown(cx, side);
  asx_http1_decoder_free(d);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  int rc = lc_run_pair(cx, lab, mode, h1_client, h1_server, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.requests_seen != NREQ || G.responses_seen != NREQ))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_http1, "http1_pipeline", "http1", "pipelined HTTP/1.1 over a faulty sim stream")

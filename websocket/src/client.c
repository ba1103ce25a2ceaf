/* The client side of the WebSocket glue: writes the upgrade request, reads the response head with
 * the HTTP/1.1 decoder (bounded), verifies it with the handshake helpers, then runs the session
 * in the client role (masked frames) with the same conn API as the server. */
#include <stdio.h>
#include <string.h>

#include "asx/websocket_client.h"
#include "server_internal.h"

enum { F_UPGRADE, F_CONNECTION, F_ACCEPT, F_PROTOCOL, F_EXTENSIONS, F_COUNT };
static const char *const kFields[F_COUNT] = {"upgrade", "connection", "sec-websocket-accept",
                                             "sec-websocket-protocol", "sec-websocket-extensions"};

#define FIELD_MAX 512u /* longest value kept for a handshake field */

typedef struct resp_state {
  int status;
  bool head_done, upgrade;
  char values[F_COUNT][FIELD_MAX];
  size_t lens[F_COUNT];
  bool too_long;
} resp_state;

void asx_ws_client_opts_default(asx_ws_client_opts *o) {
  memset(o, 0, sizeof(*o));
  o->path = "/";
  o->limits = asx_ws_limits_default();
  o->handshake_timeout_ns = 10000000000ull;
  o->max_response_head = 16 * 1024;
  o->read_chunk = 16 * 1024;
  o->write_timeout_ns = 30000000000ull;
}

static int on_event(void *ud, const asx_http1_event *ev) {
  resp_state *r = ud;
  if (ev->type == ASX_HTTP1_EV_STATUS_LINE) {
    r->status = ev->u.status.code;
  } else if (ev->type == ASX_HTTP1_EV_HEADER) {
    for (int i = 0; i < F_COUNT; i++) {
      if (!asx_slice_eq_nocase(ev->u.field.name, kFields[i])) continue;
      size_t n = ev->u.field.value.len;
      if (r->lens[i]) n += 2; /* a repeated field: joined with ", " as HTTP allows */
      if (r->lens[i] + n > FIELD_MAX) {
        r->too_long = true;
        return 0;
      }
      if (r->lens[i]) {
        memcpy(r->values[i] + r->lens[i], ", ", 2);
        r->lens[i] += 2;
        n -= 2;
      }
      memcpy(r->values[i] + r->lens[i], ev->u.field.value.ptr, n);
      r->lens[i] += n;
    }
  } else if (ev->type == ASX_HTTP1_EV_HEADERS_DONE) {
    r->head_done = true;
  } else if (ev->type == ASX_HTTP1_EV_UPGRADE) {
    r->upgrade = true;
  }
  return 0;
}

/* err = what, with a number when n >= 0. */
static void set_err(char *err, size_t errlen, const char *what, long n) {
  if (!err || !errlen) return;
  if (n >= 0) snprintf(err, errlen, "%s %ld", what, n);
  else snprintf(err, errlen, "%s", what);
}

/* Writes the request. */
static int send_request(asx_cx *cx, asx_stream *s, const asx_ws_client_opts *o,
                        const asx_ws_client_handshake *hs) {
  asx_ws_header h[8];
  size_t n = 0;
  int rc = asx_ws_client_request_headers(hs, o->origin, h, 8, &n);
  asx_buf b;
  asx_buf_init(&b, o->alloc, 64 * 1024);
  if (rc == 0) rc = asx_buf_appendf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", o->path, o->host);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    rc = asx_buf_appendf(&b, "%s: %s\r\n", h[i].name, h[i].value);
  }
  if (rc == 0) rc = asx_buf_append(&b, "\r\n", 2);
  if (rc == 0) rc = asx_stream_write_all(cx, s, b.data, b.len, NULL);
  asx_buf_free(&b);
  return rc;
}

/* Reads the response head; *rest / *rest_len = bytes after it (in buf). */
static int read_response(asx_cx *cx, asx_stream *s, const asx_ws_client_opts *o, resp_state *r,
                         uint8_t *buf, size_t cap, size_t *rest_off, size_t *have, char *err,
                         size_t errlen) {
  asx_http1_decoder *d = NULL;
  int rc = asx_http1_decoder_new(&d, ASX_HTTP1_RESPONSE, NULL, on_event, r, o->alloc);
  if (rc) return rc;
  size_t len = 0, used_total = 0;
  while (rc == 0 && !r->upgrade && !(r->head_done && r->status != 101)) {
    if (len == cap) {
      set_err(err, errlen, "response head longer than (bytes):", (long)cap);
      rc = ASX_ELIMIT;
      break;
    }
    size_t n = 0;
    rc = asx_stream_read(cx, s, buf + len, cap - len, &n);
    if (rc == ASX_ECLOSED) {
      set_err(err, errlen, "the server closed before answering", -1);
      rc = ASX_EPROTO;
    }
    if (rc) break;
    len += n;
    size_t used = 0;
    rc = asx_http1_decoder_feed(d, buf + used_total, len - used_total, &used);
    used_total += used;
    if (rc == ASX_EAGAIN) rc = 0;
    if (rc == ASX_EPROTO || rc == ASX_ELIMIT || rc == ASX_EUNSUPPORTED) set_err(err, errlen, "bad HTTP response, error", (long)-rc);
  }
  asx_http1_decoder_free(d);
  *rest_off = used_total;
  *have = len;
  return rc;
}

int asx_ws_client_run(asx_cx *cx, asx_stream *s, const asx_ws_client_opts *o, asx_ws_handler_fn fn,
                      void *ud, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!cx || !s || !o || !o->host || !o->path || !fn || o->max_response_head == 0) return ASX_EINVAL;
  uint8_t key_random[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = asx_random(cx);
    memcpy(key_random + i, &v, 8);
  }
  asx_ws_deflate_offer offer;
  memset(&offer, 0, sizeof offer);
  asx_ws_client_handshake hs;
  int rc = asx_ws_client_handshake_init(&hs, key_random, o->subprotocols, o->offer_deflate ? &offer : NULL);
  if (rc) return rc == ASX_EOVERFLOW ? ASX_EINVAL : rc;
  uint64_t deadline = o->handshake_timeout_ns ? asx_now(cx) + o->handshake_timeout_ns : ASX_UNLIMITED;
  asx_stream_set_read_deadline(s, deadline);
  asx_stream_set_write_deadline(s, deadline);
  resp_state *r = asx_calloc(o->alloc, 1, sizeof *r);
  uint8_t *buf = asx_alloc(o->alloc, o->max_response_head);
  size_t rest_off = 0, have = 0;
  rc = r && buf ? send_request(cx, s, o, &hs) : ASX_ENOMEM;
  if (rc == 0) rc = read_response(cx, s, o, r, buf, o->max_response_head, &rest_off, &have, err, errlen);
  asx_stream_set_read_deadline(s, ASX_UNLIMITED);
  asx_stream_set_write_deadline(s, ASX_UNLIMITED);
  asx_ws_client_result res;
  char subprotocol[FIELD_MAX + 1] = "";
  if (rc == 0) {
    if (r->too_long) {
      set_err(err, errlen, "a handshake field longer than (bytes):", (long)FIELD_MAX);
      rc = ASX_ELIMIT;
    } else {
      asx_ws_response resp = {.status = r->status};
      asx_slice *f[F_COUNT] = {&resp.upgrade, &resp.connection, &resp.accept, &resp.protocol, &resp.extensions};
      for (int i = 0; i < F_COUNT; i++) *f[i] = (asx_slice){(const uint8_t *)r->values[i], r->lens[i]};
      const char *why = NULL;
      rc = asx_ws_client_verify_response(&hs, &resp, &res, &why);
      if (rc) {
        if (err && errlen) snprintf(err, errlen, "handshake refused (HTTP %d): %s", r->status, why ? why : "");
        rc = ASX_EPROTO;
      } else if (res.subprotocol.len) {
        memcpy(subprotocol, res.subprotocol.ptr, res.subprotocol.len);
        subprotocol[res.subprotocol.len] = 0;
      }
    }
  }
  if (rc == 0) {
    asx_ws_server_config cfg;
    asx_ws_server_config_default(&cfg);
    cfg.limits = o->limits;
    cfg.handler = fn;
    cfg.handler_ud = ud;
    cfg.read_chunk = o->read_chunk;
    cfg.write_timeout_ns = o->write_timeout_ns;
    cfg.alloc = o->alloc;
    rc = ws_conn_run(cx, s, ASX_WS_CLIENT, subprotocol[0] ? subprotocol : NULL,
                     res.deflate ? &res.deflate_params : NULL, buf + rest_off, have - rest_off, &cfg);
  }
  asx_free(o->alloc, buf);
  asx_free(o->alloc, r);
  return rc;
}

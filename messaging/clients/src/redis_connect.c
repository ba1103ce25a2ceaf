/* Opening a Redis connection: TCP connect, then HELLO 3 / AUTH / SELECT exchanged synchronously
 * by the connecting task (nothing else uses the connection yet), then the reader and writer. */
#include <stdio.h>
#include <string.h>

#include "redis_client_internal.h"

static void set_err(char *err, size_t errlen, const char *what, const asx_redis_reply *r) {
  if (!err || errlen == 0) return;
  if (r)
    snprintf(err, errlen, "%s refused: %.*s", what, (int)(r->len > 200 ? 200 : r->len), r->str);
  else
    snprintf(err, errlen, "%s", what);
}

/* Sends one command and reads its reply with the connection's decoder. */
static int roundtrip(asx_cx *cx, asx_redis_client *c, size_t argc, const char *const *argv,
                     asx_redis_reply **reply) {
  asx_buf b;
  asx_buf_init(&b, c->alloc, 0);
  int rc = asx_redis_encode_command(&b, argc, argv, NULL);
  if (rc == 0) rc = asx_stream_write_all(cx, c->stream, b.data, b.len, NULL);
  asx_buf_free(&b);
  uint8_t buf[512];
  while (rc == 0) {
    size_t n = 0;
    rc = asx_stream_read(cx, c->stream, buf, sizeof(buf), &n);
    if (rc) break;
    size_t used = 0;
    rc = asx_redis_decoder_feed(c->dec, buf, n, &used, reply);
    if (rc == ASX_EAGAIN) {
      rc = 0;
      continue;
    }
    if (rc == 0 && used != n) rc = ASX_EPROTO; /* the server answered more than we asked */
    break;
  }
  return rc;
}

static bool is_error(const asx_redis_reply *r) {
  return r->type == ASX_REDIS_ERROR || r->type == ASX_REDIS_BULK_ERROR;
}

static int handshake(asx_cx *cx, asx_redis_client *c, const asx_redis_client_opts *o, char *err,
                     size_t errlen) {
  asx_redis_reply *r = NULL;
  int rc = 0;
  const char *user = o->username ? o->username : "default";
  if (o->resp == 3) {
    const char *argv[5] = {"HELLO", "3", "AUTH", user, o->password};
    rc = roundtrip(cx, c, o->password ? 5 : 2, argv, &r);
    if (rc == 0 && is_error(r)) {
      set_err(err, errlen, "HELLO 3", r);
      rc = ASX_EPROTO;
    }
  } else if (o->password) {
    const char *argv[3] = {"AUTH", o->username ? o->username : o->password, o->password};
    rc = roundtrip(cx, c, o->username ? 3 : 2, argv, &r);
    if (rc == 0 && is_error(r)) {
      set_err(err, errlen, "AUTH", r);
      rc = ASX_EPROTO;
    }
  }
  asx_redis_reply_free(r);
  r = NULL;
  if (rc == 0 && o->db > 0) {
    char db[24];
    snprintf(db, sizeof(db), "%d", o->db);
    const char *argv[2] = {"SELECT", db};
    rc = roundtrip(cx, c, 2, argv, &r);
    if (rc == 0 && is_error(r)) {
      set_err(err, errlen, "SELECT", r);
      rc = ASX_EPROTO;
    }
    asx_redis_reply_free(r);
  }
  return rc;
}

static bool opts_valid(const asx_redis_client_opts *o) {
  return (o->resp == 2 || o->resp == 3) && o->max_inflight > 0 && o->db >= 0 &&
         (o->on_push || o->push_queue > 0);
}

int rc_connect_in(asx_cx *cx, asx_region *region, asx_stream *given,
                  const asx_redis_client_opts *o, asx_redis_client **out, char *err,
                  size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!cx || !o || !out || !opts_valid(o) || (!given && !o->host)) {
    set_err(err, errlen, "invalid options", NULL);
    asx_stream_close(given);
    return ASX_EINVAL;
  }
  asx_redis_client *c = NULL;
  int rc = rc_alloc(o, &c);
  if (rc) {
    asx_stream_close(given);
    return rc;
  }
  c->stream = given;
  if (!region) {
    asx_region_opts ro = asx_region_opts_default();
    ro.name = "redis.client";
    ro.propagate_outcome = false; /* the client's own tasks are not the caller's outcome */
    rc = asx_region_open(cx, &ro, &c->region);
    c->owns_region = rc == 0;
  } else {
    c->region = region;
  }
  uint64_t deadline = o->connect_timeout_ns ? asx_now(cx) + o->connect_timeout_ns : ASX_UNLIMITED;
  if (rc == 0 && !given) {
    asx_connect_opts co;
    asx_connect_opts_default(&co);
    co.timeout_ns = o->connect_timeout_ns;
    co.alloc = o->alloc;
    rc = asx_tcp_connect(cx, o->host, o->port, &co, &c->stream);
    if (rc) set_err(err, errlen, rc == ASX_ETIMEDOUT ? "connect timed out" : "connect failed", NULL);
    if (rc == 0 && o->tls) { /* Redis TLS starts at the first byte: handshake, then RESP */
      uint64_t now = asx_now(cx);
      uint64_t budget = deadline == ASX_UNLIMITED ? 0 : deadline > now ? deadline - now : 1;
      char msg[200] = "";
      asx_stream *tls = NULL;
      rc = asx_tls_connect(cx, c->stream, o->tls, o->tls_server_name ? o->tls_server_name : o->host,
                           budget, &tls, msg, sizeof msg);
      if (rc && err && errlen) snprintf(err, errlen, "TLS handshake failed: %s", msg[0] ? msg : asx_strerror(rc));
      else c->stream = tls; /* owns the TCP stream now */
    }
  }
  if (rc == 0) {
    asx_stream_set_read_deadline(c->stream, deadline);
    asx_stream_set_write_deadline(c->stream, deadline);
    rc = handshake(cx, c, o, err, errlen);
    if (rc && err && errlen && !err[0]) set_err(err, errlen, asx_strerror(rc), NULL);
    asx_stream_set_read_deadline(c->stream, ASX_UNLIMITED);
    asx_stream_set_write_deadline(c->stream, ASX_UNLIMITED);
  }
  if (rc == 0) rc = rc_start(cx, c);
  if (rc) {
    asx_region *r = c->owns_region ? c->region : NULL;
    rc_destroy(cx, c);
    if (r) asx_region_close(cx, r, NULL);
    return cl_cancel_code(cx, rc);
  }
  *out = c;
  return 0;
}

int asx_redis_client_connect(asx_cx *cx, const asx_redis_client_opts *o, asx_redis_client **out,
                             char *err, size_t errlen) {
  return rc_connect_in(cx, NULL, NULL, o, out, err, errlen);
}

int asx_redis_client_attach(asx_cx *cx, asx_stream *s, const asx_redis_client_opts *o,
                            asx_redis_client **out, char *err, size_t errlen) {
  if (!s) return ASX_EINVAL;
  return rc_connect_in(cx, NULL, s, o, out, err, errlen);
}

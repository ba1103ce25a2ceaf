/* A TLS stream: the sans-I/O engine over any inner asx_stream. The reader and the writer may be
 * two tasks on two workers, so every engine call happens under `lock` (held only for the
 * non-blocking engine call, never across a wait). Ciphertext taken from the engine waits in
 * `out` until the inner stream accepted it, so a cancelled write never loses a partial record:
 * the next write or shutdown sends it first. The reader never writes: output the engine makes
 * while reading (TLS 1.3 key-update replies) goes out with the next write. */
#include <pthread.h>
#include <string.h>

#include "net_internal.h"

#define TLS_IO_CHUNK 16384       /* one TLS record of plaintext per engine write */
#define TLS_OUT_CAP (TLS_IO_CHUNK + 1024)

typedef struct tls_stream {
  asx_stream base;
  asx_stream *inner;
  asx_tls_conn *conn;
  pthread_mutex_t lock;
  unsigned char in[TLS_IO_CHUNK];
  unsigned char out[TLS_OUT_CAP];
  size_t out_off, out_len;
} tls_stream;

/* Sends the ciphertext already taken from the engine, then whatever the engine holds. */
static int flush_out(asx_cx *cx, tls_stream *ts, uint64_t until) {
  for (;;) {
    if (ts->out_off == ts->out_len) {
      pthread_mutex_lock(&ts->lock);
      ts->out_len = asx_tls_conn_take_output(ts->conn, ts->out, sizeof(ts->out));
      pthread_mutex_unlock(&ts->lock);
      ts->out_off = 0;
      if (ts->out_len == 0) return 0;
    }
    struct iovec iov = {.iov_base = ts->out + ts->out_off, .iov_len = ts->out_len - ts->out_off};
    size_t k = 0;
    int rc = net_stream_writev_until(cx, ts->inner, &iov, 1, &k, until);
    ts->out_off += k;
    if (rc) return rc;
  }
}

static int tls_read(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n, uint64_t until) {
  tls_stream *ts = (tls_stream *)s;
  for (;;) {
    pthread_mutex_lock(&ts->lock);
    int rc = asx_tls_conn_read(ts->conn, buf, cap, n);
    pthread_mutex_unlock(&ts->lock);
    if (rc != ASX_EAGAIN) return rc;
    size_t got = 0;
    rc = net_stream_read_until(cx, ts->inner, ts->in, sizeof(ts->in), &got, until);
    if (rc == ASX_ECLOSED) return ASX_ECONNRESET; /* TCP ended without close_notify: truncation */
    if (rc) return rc;
    pthread_mutex_lock(&ts->lock);
    rc = asx_tls_conn_feed(ts->conn, ts->in, got);
    pthread_mutex_unlock(&ts->lock);
    if (rc) return rc;
  }
}

static int tls_writev(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt, size_t *n,
                      uint64_t until) {
  tls_stream *ts = (tls_stream *)s;
  *n = 0;
  int rc = flush_out(cx, ts, until); /* what an earlier, interrupted write left */
  if (rc) return rc;
  size_t take = 0;
  int err = 0;
  pthread_mutex_lock(&ts->lock);
  for (int i = 0; i < iovcnt && take < TLS_IO_CHUNK && !err; i++) {
    size_t k = iov[i].iov_len;
    if (k > TLS_IO_CHUNK - take) k = TLS_IO_CHUNK - take;
    err = asx_tls_conn_write(ts->conn, iov[i].iov_base, k);
    if (!err) take += k;
  }
  pthread_mutex_unlock(&ts->lock);
  /* The engine now owns `take` bytes: they count as written even if the flush is cut short. */
  *n = take;
  if (err) return err;
  return flush_out(cx, ts, until);
}

static int tls_shutdown(asx_cx *cx, asx_stream *s) {
  tls_stream *ts = (tls_stream *)s;
  pthread_mutex_lock(&ts->lock);
  int rc = asx_tls_conn_close_notify(ts->conn);
  pthread_mutex_unlock(&ts->lock);
  if (rc) return rc;
  rc = flush_out(cx, ts, net_write_until(cx, s));
  if (rc) return rc;
  return asx_stream_shutdown(cx, ts->inner);
}

static void tls_close(asx_stream *s) {
  tls_stream *ts = (tls_stream *)s;
  asx_stream_close(ts->inner);
  asx_tls_conn_free(ts->conn);
  pthread_mutex_destroy(&ts->lock);
  asx_free(s->alloc, ts);
}

static int tls_fd(const asx_stream *s) { return asx_stream_fd(((const tls_stream *)s)->inner); }

static void tls_abort(asx_stream *s) { net_stream_abort(((tls_stream *)s)->inner); }

static const stream_ops tls_ops = {
    .read = tls_read,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .fd = tls_fd,
    .abort = tls_abort,
};

static int handshake(asx_cx *cx, asx_stream *inner, asx_tls_config *cfg, const char *server_name,
                     uint64_t timeout_ns, asx_stream **out, char *err, size_t errlen) {
  net_strlcpy(err, "", errlen);
  if (!inner || !cfg || !out) return ASX_EINVAL;
  *out = NULL;
  tls_stream *ts = asx_calloc(cfg->alloc, 1, sizeof(*ts));
  if (!ts) return ASX_ENOMEM;
  int rc = asx_tls_conn_new(cfg, server_name, &ts->conn);
  if (rc) {
    net_strlcpy(err, rc == ASX_EINVAL ? "invalid server name for this configuration"
                                      : "cannot create the TLS connection", errlen);
    asx_free(cfg->alloc, ts);
    return rc;
  }
  net_stream_init(&ts->base, &tls_ops, cfg->alloc);
  pthread_mutex_init(&ts->lock, NULL);
  ts->inner = inner;
  ts->base.tls = ts->conn;
  uint64_t until = ASX_UNLIMITED;
  if (timeout_ns) {
    uint64_t now = asx_now(cx);
    until = timeout_ns > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + timeout_ns;
  }
  for (;;) {
    int hs = asx_tls_conn_handshake(ts->conn);
    if (hs == ASX_ETLS) {
      net_strlcpy(err, asx_tls_conn_error_message(ts->conn), errlen);
      /* Tell the peer why (the alert), briefly: the failure is already decided. */
      uint64_t now = asx_now(cx), alert_until = now + 100000000;
      asx_mask_push(cx);
      flush_out(cx, ts, alert_until < until ? alert_until : until);
      asx_mask_pop(cx);
      rc = ASX_ETLS;
      break;
    }
    rc = flush_out(cx, ts, until);
    if (rc || hs == 0) break;
    size_t got = 0;
    rc = net_stream_read_until(cx, inner, ts->in, sizeof(ts->in), &got, until);
    if (rc) break;
    rc = asx_tls_conn_feed(ts->conn, ts->in, got);
    if (rc) break;
  }
  if (rc) {
    if (rc != ASX_ETLS)
      net_strlcpy(err, rc == ASX_ETIMEDOUT ? "TLS handshake timed out" : asx_strerror(rc), errlen);
    asx_tls_conn_free(ts->conn);
    pthread_mutex_destroy(&ts->lock);
    asx_free(cfg->alloc, ts);
    return rc;
  }
  *out = &ts->base;
  return 0;
}

int asx_tls_connect(asx_cx *cx, asx_stream *inner, asx_tls_config *cfg, const char *server_name,
                    uint64_t handshake_timeout_ns, asx_stream **out, char *err, size_t errlen) {
  if (cfg && cfg->role != ASX_TLS_CLIENT) return ASX_EINVAL;
  return handshake(cx, inner, cfg, server_name, handshake_timeout_ns, out, err, errlen);
}

int asx_tls_accept(asx_cx *cx, asx_stream *inner, asx_tls_config *cfg,
                   uint64_t handshake_timeout_ns, asx_stream **out, char *err, size_t errlen) {
  if (cfg && cfg->role != ASX_TLS_SERVER) return ASX_EINVAL;
  return handshake(cx, inner, cfg, NULL, handshake_timeout_ns, out, err, errlen);
}

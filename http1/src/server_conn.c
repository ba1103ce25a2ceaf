/* The connection loop of the HTTP/1.1 server glue: read -> decode -> handler -> respond, with
 * keep-alive, pipelining, timeouts, upgrades and graceful shutdown. Every request is handled to
 * completion before the next one is decoded, so responses leave in request order. */
#include <string.h>

#include "server_internal.h"

static const uint8_t h2_preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

void asx_http1_server_config_default(asx_http1_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->limits = asx_http1_limits_default();
  cfg->header_timeout_ns = 10ull * 1000000000ull;
  cfg->idle_timeout_ns = 60ull * 1000000000ull;
  cfg->write_timeout_ns = 60ull * 1000000000ull;
  cfg->read_chunk = 16 * 1024;
  cfg->max_upgrade_body = 64 * 1024;
  cfg->max_drain_body = 1024 * 1024;
  cfg->date_header = true;
}

/* ---- byte movement ---- */

int h1_flush(h1conn *c) {
  if (c->io_err) return c->io_err;
  if (c->out.len == 0) return 0;
  if (c->cfg->write_timeout_ns)
    asx_stream_set_write_deadline(c->s, asx_now(c->cx) + c->cfg->write_timeout_ns);
  size_t done = 0;
  int rc = asx_stream_write_all(c->cx, c->s, c->out.data, c->out.len, &done);
  asx_buf_reset(&c->out);
  if (rc) c->io_err = rc;
  return rc;
}

/* iov[0] is expected to be the output buffer (or empty); it is emptied. */
int h1_write_direct(h1conn *c, const struct iovec *iov, int iovcnt) {
  if (c->cfg->write_timeout_ns)
    asx_stream_set_write_deadline(c->s, asx_now(c->cx) + c->cfg->write_timeout_ns);
  size_t done = 0;
  int rc = asx_stream_writev(c->cx, c->s, iov, iovcnt, &done);
  asx_buf_reset(&c->out);
  if (rc) c->io_err = rc;
  return rc;
}

/* Feeds buffered input to the decoder. 0 or the decoder's error. */
int h1_feed(h1conn *c) {
  size_t used = 0;
  int rc = asx_http1_decoder_feed(c->dec, c->in + c->in_pos, c->in_len - c->in_pos, &used);
  c->in_pos += used;
  return rc;
}

/* Reads more input (only called once the decoder has taken everything buffered). Pending
 * output goes first: the client may be waiting for it before it sends more. */
int h1_fill(h1conn *c) {
  int rc = h1_flush(c);
  if (rc) return rc;
  c->in_pos = c->in_len = 0;
  size_t n = 0;
  rc = asx_stream_read(c->cx, c->s, c->in, c->in_cap, &n);
  if (rc) return rc;
  c->in_len = n;
  return 0;
}

/* ---- the request head ---- */

enum head_result {
  HEAD_OK = 0,        /* a complete head (and maybe more) is decoded */
  HEAD_END = 1,       /* orderly end: nothing more to serve */
  HEAD_H2_PRIOR = 2   /* the HTTP/2 preface arrived instead of a request */
};

/* Decodes the next request head. `first`: the connection's first request (its header timeout
 * runs from the start, not from its first byte). Negative: an error already answered or a
 * stream error. */
static int read_head(h1conn *c, bool first) {
  const asx_http1_server_config *cfg = c->cfg;
  bool seen = false;
  /* Deadlines are only armed before a read that has to wait: a head that is already buffered
   * (the common case with keep-alive and pipelining) costs no clock reads. */
  enum { ARMED_NONE, ARMED_IDLE, ARMED_HEADER } armed = ARMED_NONE;
  for (;;) {
    if (c->in_pos < c->in_len) {
      seen = true;
      int rc = h1_feed(c);
      if (c->upgrade_ev && c->upgrade_kind == ASX_HTTP1_UPGRADE_H2_PRIOR) return HEAD_H2_PRIOR;
      if (rc) {
        asx_http1_error e = asx_http1_decoder_error(c->dec);
        h1_send_error(c, e != ASX_HTTP1_OK ? asx_http1_error_status(e) : 500);
        return HEAD_END;
      }
      if (c->req.head_done) return HEAD_OK;
      continue;
    }
    if ((seen || first) && armed != ARMED_HEADER) {
      /* The head has begun (or this is the connection's first): it must complete in time. */
      asx_stream_set_read_deadline(c->s, cfg->header_timeout_ns ? asx_now(c->cx) + cfg->header_timeout_ns
                                                               : ASX_UNLIMITED);
      armed = ARMED_HEADER;
    } else if (armed == ARMED_NONE) {
      asx_stream_set_read_deadline(c->s, cfg->idle_timeout_ns ? asx_now(c->cx) + cfg->idle_timeout_ns
                                                             : ASX_UNLIMITED);
      armed = ARMED_IDLE;
    }
    int rc = h1_fill(c);
    if (rc == ASX_ETIMEDOUT) {
      /* Slowloris (a head that does not complete in time): tell it, then hang up. An idle
       * keep-alive connection is simply closed. */
      if (seen || !asx_http1_decoder_idle(c->dec)) h1_send_error(c, 408);
      return HEAD_END;
    }
    if (rc == ASX_ECLOSED) {
      if (!asx_http1_decoder_idle(c->dec)) h1_send_error(c, 400); /* cut inside a head */
      return HEAD_END;
    }
    if (rc) return rc;
  }
}

/* ---- upgrades ---- */

static int h2_prior(h1conn *c) {
  const asx_http1_server_config *cfg = c->cfg;
  if (!cfg->upgrade) return 0;
  size_t rest = c->in_len - c->in_pos;
  uint8_t *buf = asx_alloc(cfg->alloc, sizeof h2_preface + rest);
  if (!buf) return ASX_ENOMEM;
  memcpy(buf, h2_preface, sizeof h2_preface);
  if (rest) memcpy(buf + sizeof h2_preface, c->in + c->in_pos, rest);
  asx_stream_set_read_deadline(c->s, ASX_UNLIMITED);
  int rc = cfg->upgrade(c->cx, c->s, NULL, buf, sizeof h2_preface + rest, cfg->upgrade_ud);
  asx_free(cfg->alloc, buf);
  return rc == ASX_HTTP1_DECLINE ? 0 : rc;
}

/* Buffers the whole (bounded) body of an upgrade request, so the hook sees a complete request
 * and `rest` starts where the new protocol does. 0, HEAD_END (answered), or a stream error. */
static int read_upgrade_body(h1conn *c) {
  while (!c->req.msg_done) {
    if (c->body.len > c->cfg->max_upgrade_body) {
      h1_send_error(c, 413);
      return HEAD_END;
    }
    int rc = c->in_pos < c->in_len ? h1_feed(c) : h1_fill(c);
    if (rc == ASX_ELIMIT || rc == ASX_EPROTO || rc == ASX_EUNSUPPORTED) {
      h1_send_error(c, asx_http1_error_status(asx_http1_decoder_error(c->dec)));
      return HEAD_END;
    }
    if (rc) return rc == ASX_ECLOSED || rc == ASX_ETIMEDOUT ? HEAD_END : rc;
  }
  return 0;
}

/* ---- one exchange ---- */

/* Runs the handler for the decoded head; true = the connection may carry another request. */
static bool run_exchange(h1conn *c) {
  const asx_http1_server_config *cfg = c->cfg;
  asx_http1_req *req = &c->req;
  /* The previous pipelined response goes out before this handler runs: a handler that waits
   * (a slow backend) must not hold back an answer that is already complete. */
  if (h1_flush(c)) return false;
  h1_resp_reset(&c->resp, c);
  /* In flight: shutdown must not interrupt the handler (drain), only end the connection after. */
  asx_mask_push(c->cx);
  int rc = cfg->handler ? cfg->handler(c->cx, req, &c->resp, cfg->handler_ud) : 0;
  bool keep = h1_resp_complete(&c->resp, rc);
  if (keep && !req->msg_done) {
    int drc = h1_req_drain(req, cfg->max_drain_body);
    keep = drc == 0;
  }
  if (!keep || asx_cancel_requested(c->cx)) h1_flush(c);
  asx_mask_pop(c->cx);
  return keep && !c->io_err && !asx_cancel_requested(c->cx);
}

int asx_http1_serve(asx_cx *cx, asx_stream *s, const asx_http1_server_config *cfg,
                    const uint8_t *pre, size_t pre_len) {
  if (!cx || !s || !cfg || (pre_len && !pre)) return ASX_EINVAL;
  h1conn *c = asx_calloc(cfg->alloc, 1, sizeof *c);
  if (!c) return ASX_ENOMEM;
  c->cx = cx;
  c->s = s;
  c->cfg = cfg;
  asx_imf_date_cache_init(&c->date);
  c->in_cap = cfg->read_chunk ? cfg->read_chunk : 16 * 1024;
  if (pre_len > c->in_cap) c->in_cap = pre_len;
  size_t field_max = cfg->limits.max_target + cfg->limits.max_header_block + 1024;
  asx_buf_init(&c->out, cfg->alloc, 0);
  asx_buf_init(&c->store, cfg->alloc, field_max);
  asx_buf_init(&c->fields, cfg->alloc, (cfg->limits.max_headers + 1) * sizeof(h1_field));
  asx_buf_init(&c->tstore, cfg->alloc, field_max);
  asx_buf_init(&c->tfields, cfg->alloc, (cfg->limits.max_headers + 1) * sizeof(h1_field));
  asx_buf_init(&c->body, cfg->alloc, 0);
  asx_buf_init(&c->resp.store, cfg->alloc, 64 * 1024);
  c->in = asx_alloc(cfg->alloc, c->in_cap);
  int rc = c->in ? asx_http1_decoder_new(&c->dec, ASX_HTTP1_REQUEST, &cfg->limits, h1_on_event, c,
                                         cfg->alloc)
                 : ASX_ENOMEM;
  if (rc == 0 && pre_len) {
    memcpy(c->in, pre, pre_len);
    c->in_len = pre_len;
  }
  for (uint64_t index = 0; rc == 0; index++) {
    h1_req_reset(&c->req, c, index);
    int hr = read_head(c, index == 0);
    if (hr == HEAD_H2_PRIOR) {
      rc = h2_prior(c);
      break;
    }
    if (hr != HEAD_OK) {
      if (hr < 0) rc = hr;
      break;
    }
    /* RFC 9112 section 3.2: an HTTP/1.1 request without exactly one Host field is refused. */
    if (c->req.minor >= 1 && h1_req_host_count(&c->req) != 1) {
      h1_send_error(c, 400);
      break;
    }
    /* Body reads are bounded by the stream's idle timeout, not by the head's deadline. */
    asx_stream_set_read_deadline(s, ASX_UNLIMITED);
    if (c->req.upgrade) {
      int ur = read_upgrade_body(c);
      if (ur) {
        if (ur < 0) rc = ur;
        break;
      }
      if (c->upgrade_ev && c->upgrade_kind == ASX_HTTP1_UPGRADE_CONNECT) {
        h1_send_error(c, 501);
        break;
      }
      if (c->upgrade_ev && cfg->upgrade) {
        rc = h1_flush(c);
        if (rc) break;
        int hook = cfg->upgrade(cx, s, &c->req, c->in + c->in_pos, c->in_len - c->in_pos,
                                cfg->upgrade_ud);
        if (hook != ASX_HTTP1_DECLINE) {
          rc = hook;
          break;
        }
      }
      if (c->upgrade_ev) asx_http1_decoder_decline_upgrade(c->dec);
      h1_req_upgrade_declined(&c->req);
    }
    if (!run_exchange(c)) break;
  }
  if (rc == 0 && c->io_err && c->io_err != ASX_ECLOSED && c->io_err != ASX_EPIPE &&
      c->io_err != ASX_ECONNRESET && c->io_err != ASX_ETIMEDOUT)
    rc = c->io_err;
  asx_http1_decoder_free(c->dec);
  asx_free(cfg->alloc, c->in);
  asx_buf_free(&c->out);
  asx_buf_free(&c->store);
  asx_buf_free(&c->fields);
  asx_buf_free(&c->tstore);
  asx_buf_free(&c->tfields);
  asx_buf_free(&c->body);
  asx_buf_free(&c->resp.store);
  asx_free(cfg->alloc, c);
  return rc;
}

int asx_http1_conn_fn(asx_cx *cx, asx_stream *s, void *arg) {
  return asx_http1_serve(cx, s, (const asx_http1_server_config *)arg, NULL, 0);
}

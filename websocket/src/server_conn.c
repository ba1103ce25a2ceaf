/* The session side of the WebSocket server glue: one task reads from the stream into asx_ws_recv,
 * queues the complete messages the session delivers, and writes whatever asx_ws_pull produces
 * (data frames, automatic pongs, close frames). The handler consumes the queue one message at a
 * time; all I/O happens in the handler's own task, so the session needs no locking. */
#include <string.h>

#include "server_internal.h"

#define PULL_CHUNK (64u * 1024u)

typedef struct ws_msg {
  struct ws_msg *next;
  asx_ws_msg_type type;
  size_t len;
  uint8_t data[];
} ws_msg;

struct asx_ws_conn {
  asx_cx *cx;
  asx_stream *s;
  const asx_ws_server_config *cfg;
  asx_ws *ws;
  const char *subprotocol;
  uint8_t *in;
  size_t in_cap;
  uint8_t *out;
  ws_msg *head, *tail;  /* messages delivered by the session, not yet received by the handler */
  ws_msg *cur;          /* the message last returned by recv */
  bool peer_closed;
  bool eof;             /* the stream ended or failed: nothing more to read or write */
  int err;              /* the error that failed the session (sticky) */
};

static int on_message(void *ud, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  asx_ws_conn *c = ud;
  ws_msg *m = asx_alloc(c->cfg->alloc, sizeof *m + len);
  if (!m) return ASX_ENOMEM;
  m->next = NULL;
  m->type = type;
  m->len = len;
  if (len) memcpy(m->data, data, len);
  if (c->tail) c->tail->next = m;
  else c->head = m;
  c->tail = m;
  return 0;
}

static void on_close(void *ud, uint16_t code, const uint8_t *reason, size_t reason_len) {
  (void)code, (void)reason, (void)reason_len;
  ((asx_ws_conn *)ud)->peer_closed = true;
}

/* Writes everything the session wants sent. */
static int pump(asx_ws_conn *c) {
  if (c->eof) return ASX_ECLOSED;
  while (asx_ws_want_write(c->ws)) {
    size_t n = 0;
    int rc = asx_ws_pull(c->ws, c->out, PULL_CHUNK, &n);
    if (rc) return rc;
    if (n == 0) break;
    if (c->cfg->write_timeout_ns)
      asx_stream_set_write_deadline(c->s, asx_now(c->cx) + c->cfg->write_timeout_ns);
    rc = asx_stream_write_all(c->cx, c->s, c->out, n, NULL);
    if (rc) {
      c->eof = true;
      return rc;
    }
  }
  return 0;
}

/* Reads once and feeds the session. 0, or the read/session error. */
static int read_once(asx_ws_conn *c) {
  size_t n = 0;
  int rc = asx_stream_read(c->cx, c->s, c->in, c->in_cap, &n);
  if (rc) {
    if (rc != ASX_ECANCELED && rc != ASX_ETIMEDOUT) c->eof = true;
    return rc;
  }
  rc = asx_ws_recv(c->ws, c->in, n, NULL);
  if (rc && rc != ASX_ECLOSED && !c->err) c->err = rc;
  int prc = pump(c);
  return rc ? rc : prc;
}

/* Waits (masked, bounded) for the close handshake to complete after our close frame. */
static void await_close(asx_ws_conn *c) {
  uint64_t until = asx_now(c->cx) + c->cfg->limits.close_timeout_ns;
  uint64_t cleanup = asx_cleanup_deadline(c->cx);
  if (cleanup < until) until = cleanup;
  asx_mask_push(c->cx);
  pump(c);
  asx_stream_set_read_deadline(c->s, until);
  while (!c->eof && asx_ws_get_state(c->ws) != ASX_WS_CLOSED) {
    if (asx_ws_check_timeouts(c->ws, asx_now(c->cx)) == ASX_ETIMEDOUT) break;
    int rc = read_once(c);
    if (rc == ASX_ETIMEDOUT || rc == ASX_ECLOSED || c->eof) break;
    if (rc && rc != ASX_EPROTO && rc != ASX_ELIMIT && rc != ASX_EDECOMPRESS && rc != ASX_ENOMEM) break;
    if (asx_now(c->cx) >= until) break;
  }
  asx_stream_set_read_deadline(c->s, ASX_UNLIMITED);
  asx_mask_pop(c->cx);
}

int asx_ws_conn_close(asx_cx *cx, asx_ws_conn *c, uint16_t code, const char *reason) {
  (void)cx;
  if (asx_ws_get_state(c->ws) != ASX_WS_OPEN) {
    if (asx_ws_get_state(c->ws) == ASX_WS_CLOSING) await_close(c);
    return ASX_ECLOSED;
  }
  int rc = asx_ws_close(c->ws, code, (const uint8_t *)(reason ? reason : ""), reason ? strlen(reason) : 0);
  if (rc) return rc;
  await_close(c);
  return 0;
}

static void free_msg(asx_ws_conn *c, ws_msg *m) { asx_free(c->cfg->alloc, m); }

int asx_ws_conn_recv(asx_cx *cx, asx_ws_conn *c, asx_ws_msg_type *type, const uint8_t **data,
                     size_t *len) {
  (void)cx;
  if (c->cur) {
    free_msg(c, c->cur);
    c->cur = NULL;
  }
  for (;;) {
    if (c->head) {
      ws_msg *m = c->head;
      c->head = m->next;
      if (!c->head) c->tail = NULL;
      c->cur = m;
      *type = m->type;
      *data = m->data;
      *len = m->len;
      return 0;
    }
    if (c->err) {
      pump(c); /* the failing close frame */
      return c->err;
    }
    if (c->peer_closed || c->eof || asx_ws_get_state(c->ws) == ASX_WS_CLOSED) {
      pump(c);
      return ASX_ECLOSED;
    }
    int rc = pump(c);
    if (rc) return rc;
    if (c->cfg->idle_timeout_ns)
      asx_stream_set_read_deadline(c->s, asx_now(c->cx) + c->cfg->idle_timeout_ns);
    rc = read_once(c);
    if (rc == ASX_ECANCELED) {
      /* Shutdown (or any cancellation): say goodbye properly, within the cleanup budget. */
      asx_ws_conn_close(c->cx, c, ASX_WS_CLOSE_GOING_AWAY, "going away");
      return ASX_ECANCELED;
    }
    if (rc == ASX_ETIMEDOUT) {
      asx_ws_conn_close(c->cx, c, ASX_WS_CLOSE_GOING_AWAY, "idle timeout");
      return rc;
    }
    if (rc && rc != ASX_ECLOSED && c->head == NULL) return rc;
  }
}

static int send_common(asx_ws_conn *c, int (*queue)(asx_ws *, asx_ws_msg_type, const uint8_t *, size_t),
                       asx_ws_msg_type type, const void *data, size_t len) {
  for (;;) {
    int rc = queue(c->ws, type, data, len);
    if (rc == ASX_EBUSY) {
      rc = pump(c); /* backlog full: write some out, then queue */
      if (rc) return rc;
      if (asx_ws_output_backlog(c->ws) == 0) return ASX_EBUSY; /* the message alone is too big */
      continue;
    }
    if (rc) return rc;
    return pump(c);
  }
}

static int queue_ping(asx_ws *ws, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  (void)type;
  return asx_ws_ping(ws, data, len);
}

int asx_ws_conn_send(asx_cx *cx, asx_ws_conn *c, asx_ws_msg_type type, const void *data, size_t len) {
  (void)cx;
  if (c->eof) return ASX_ECLOSED;
  return send_common(c, asx_ws_send, type, data, len);
}

int asx_ws_conn_ping(asx_cx *cx, asx_ws_conn *c, const void *data, size_t len) {
  (void)cx;
  if (c->eof) return ASX_ECLOSED;
  return send_common(c, queue_ping, ASX_WS_BINARY, data, len);
}

uint16_t asx_ws_conn_close_code(const asx_ws_conn *c) { return asx_ws_close_code_received(c->ws); }
const char *asx_ws_conn_subprotocol(const asx_ws_conn *c) { return c->subprotocol; }
asx_ws *asx_ws_conn_session(asx_ws_conn *c) { return c->ws; }

int ws_srv_run(asx_cx *cx, asx_stream *s, const asx_ws_server_handshake *hs, const uint8_t *rest,
               size_t rest_len, const asx_ws_server_config *cfg) {
  return ws_conn_run(cx, s, ASX_WS_SERVER, hs->subprotocol, hs->deflate ? &hs->deflate_params : NULL,
                     rest, rest_len, cfg);
}

/* Masking keys for the client role, from the runtime's PRNG (seeded: lab runs stay replayable;
 * RFC 6455 asks for unpredictable keys against proxy cache poisoning, which a seeded xoshiro of
 * a real run provides to the same degree as any non-cryptographic source). */
static int mask_random(void *ud, uint8_t *buf, size_t len) {
  asx_cx *cx = ud;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v = asx_random(cx);
    memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
  }
  return 0;
}

int ws_conn_run(asx_cx *cx, asx_stream *s, asx_ws_role role, const char *subprotocol,
                const asx_ws_deflate_params *deflate, const uint8_t *rest, size_t rest_len,
                const asx_ws_server_config *cfg) {
  asx_ws_conn *c = asx_calloc(cfg->alloc, 1, sizeof *c);
  if (!c) return ASX_ENOMEM;
  c->cx = cx;
  c->s = s;
  c->cfg = cfg;
  c->subprotocol = subprotocol;
  c->in_cap = cfg->read_chunk ? cfg->read_chunk : 16 * 1024;
  c->in = asx_alloc(cfg->alloc, c->in_cap);
  c->out = asx_alloc(cfg->alloc, PULL_CHUNK);
  asx_ws_config wc = asx_ws_config_default(role);
  wc.limits = cfg->limits;
  wc.alloc = cfg->alloc;
  wc.deflate = deflate;
  if (role == ASX_WS_CLIENT) {
    wc.random = mask_random;
    wc.random_ud = cx;
  }
  asx_ws_callbacks cb = {.on_message = on_message, .on_close = on_close};
  int rc = c->in && c->out ? asx_ws_new(&c->ws, &wc, &cb, c) : ASX_ENOMEM;
  if (rc == 0) {
    /* The upgrade's own deadlines (header timeout) no longer apply; idle is ours to set. */
    asx_stream_set_read_deadline(s, ASX_UNLIMITED);
    asx_stream_set_idle_timeout(s, 0);
    if (rest_len) {
      int r = asx_ws_recv(c->ws, rest, rest_len, NULL);
      if (r && r != ASX_ECLOSED) c->err = r;
    }
    rc = cfg->handler ? cfg->handler(cx, c, cfg->handler_ud) : 0;
    if (!c->eof && asx_ws_get_state(c->ws) != ASX_WS_CLOSED) {
      uint16_t code = rc == 0 ? ASX_WS_CLOSE_NORMAL
                      : rc == ASX_ECANCELED ? ASX_WS_CLOSE_GOING_AWAY : ASX_WS_CLOSE_INTERNAL_ERROR;
      asx_ws_conn_close(cx, c, code, NULL);
    }
    if (rc == ASX_ECLOSED) rc = 0; /* the peer ended it: an orderly end for the connection */
  }
  while (c->head) {
    ws_msg *m = c->head;
    c->head = m->next;
    free_msg(c, m);
  }
  if (c->cur) free_msg(c, c->cur);
  asx_ws_free(c->ws);
  asx_free(cfg->alloc, c->in);
  asx_free(cfg->alloc, c->out);
  asx_free(cfg->alloc, c);
  return rc;
}

int asx_ws_echo_handler(asx_cx *cx, asx_ws_conn *ws, void *ud) {
  (void)ud;
  for (;;) {
    asx_ws_msg_type type;
    const uint8_t *data;
    size_t len;
    int rc = asx_ws_conn_recv(cx, ws, &type, &data, &len);
    if (rc == ASX_ECLOSED) return 0;
    if (rc) return rc;
    rc = asx_ws_conn_send(cx, ws, type, data, len);
    if (rc) return rc == ASX_ECLOSED ? 0 : rc;
  }
}

/* The NATS connection: handshake (INFO -> CONNECT + PING -> PONG) by the connecting task, then a
 * reader (parser events to subscriptions, requests and flushes; server PINGs answered), a writer
 * (everything queued since its last write in one write) and a keepalive task. */
#include <stdio.h>
#include <string.h>

#include "cl_pump.h"
#include "nats_client_internal.h"

void asx_nats_client_opts_default(asx_nats_client_opts *o) {
  memset(o, 0, sizeof(*o));
  o->host = "127.0.0.1";
  o->port = 4222;
  o->echo = true;
  o->connect_timeout_ns = 5000000000ull;
  o->ping_interval_ns = 120000000000ull;
  o->max_pings_out = 2;
  o->max_output = (size_t)8 << 20;
  asx_nats_limits_default(&o->limits);
}

void nc_fail(asx_nats_client *c, int err) {
  pthread_mutex_lock(&c->mu);
  if (c->err == 0) c->err = err ? err : ASX_ECLOSED;
  for (nc_pong *p = c->pong_head, *next; p; p = next) {
    next = p->next;
    if (p->task && !p->abandoned) {
      p->err = c->err;
      p->done = true;
      asx_task_wake(p->task); /* the flusher frees it */
    } else {
      asx_free(c->alloc, p);
    }
  }
  c->pong_head = c->pong_tail = NULL;
  for (nc_reqw *r = c->reqs, *next; r; r = next) {
    next = r->next;
    r->next = NULL;
    r->err = c->err;
    r->done = true;
    asx_task_wake(r->task);
  }
  c->reqs = NULL;
  asx_buf_reset(&c->out);
  cl_wake_all(&c->space_wq);
  cl_wake_all(&c->writer_wq);
  /* Under the lock: close drops the handles under it before joining (which frees them). */
  if (c->reader) asx_task_cancel(c->reader, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  if (c->writer) asx_task_cancel(c->writer, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  if (c->pinger) asx_task_cancel(c->pinger, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  pthread_mutex_unlock(&c->mu);
  nc_detach_subs(c); /* consumers read what is queued, then see ASX_ECLOSED */
}

void nc_kick_locked(asx_nats_client *c, size_t len_before) {
  if (len_before == 0 && c->out.len > 0) cl_wake_one(&c->writer_wq);
}

int nc_wait_space_locked(asx_cx *cx, asx_nats_client *c) {
  int rc = 0;
  while (rc == 0 && c->err == 0 && c->out.len >= c->opts.max_output)
    rc = cl_wait(cx, &c->mu, &c->space_wq, ASX_UNLIMITED);
  if (rc) cl_wake_one(&c->space_wq); /* pass on a wakeup we may have taken */
  return rc ? rc : c->err;
}

int nc_ping_locked(asx_nats_client *c, nc_pong *node) {
  size_t before = c->out.len;
  int rc = asx_nats_encode_ping(&c->out);
  if (rc) return rc;
  node->next = NULL;
  if (c->pong_tail)
    c->pong_tail->next = node;
  else
    c->pong_head = node;
  c->pong_tail = node;
  nc_kick_locked(c, before);
  return 0;
}

void nc_on_pong(asx_nats_client *c) {
  atomic_fetch_add(&c->st_pongs, 1);
  pthread_mutex_lock(&c->mu);
  c->pings_out = 0; /* any answer proves the connection alive */
  nc_pong *p = c->pong_head;
  if (p) {
    c->pong_head = p->next;
    if (!c->pong_head) c->pong_tail = NULL;
    if (p->task && !p->abandoned) {
      p->done = true;
      asx_task_wake(p->task);
      p = NULL; /* the flusher frees it */
    }
  }
  pthread_mutex_unlock(&c->mu);
  asx_free(c->alloc, p);
}

static void queue_pong(asx_nats_client *c) {
  pthread_mutex_lock(&c->mu);
  size_t before = c->out.len;
  if (c->err == 0 && asx_nats_encode_pong(&c->out) == 0) {
    atomic_fetch_add(&c->st_pings, 1);
    nc_kick_locked(c, before);
  }
  pthread_mutex_unlock(&c->mu);
}

/* One parsed operation. Returns 0 or an error that ends the connection. */
static int on_event(asx_cx *cx, asx_nats_client *c, const asx_nats_event *ev) {
  switch (ev->op) {
  case ASX_NATS_OP_PING: queue_pong(c); break;
  case ASX_NATS_OP_PONG: nc_on_pong(c); break;
  case ASX_NATS_OP_MSG:
  case ASX_NATS_OP_HMSG:
    atomic_fetch_add(&c->st_msgs_in, 1);
    atomic_fetch_add(&c->st_bytes_in, ev->payload.len);
    return nc_on_msg(cx, c, ev);
  case ASX_NATS_OP_ERR: {
    atomic_fetch_add(&c->st_errs, 1);
    pthread_mutex_lock(&c->mu);
    size_t n = ev->err_text.len < sizeof(c->last_err) - 1 ? ev->err_text.len : sizeof(c->last_err) - 1;
    memcpy(c->last_err, ev->err_text.ptr, n);
    c->last_err[n] = 0;
    pthread_mutex_unlock(&c->mu);
    break; /* the server closes the connection itself when the error is fatal */
  }
  default: break; /* +OK, async INFO */
  }
  return 0;
}

/* Feeds bytes to the parser and dispatches every complete operation. */
static int consume(asx_cx *cx, asx_nats_client *c, const uint8_t *p, size_t n) {
  int nomem = 0; /* ENOMEM from the parser: nothing was lost, call again (even with 0 bytes) */
  while (n > 0 || nomem > 0) {
    asx_nats_event ev;
    size_t used = 0;
    int rc = asx_nats_parser_feed(c->parser, p, n, &used, &ev);
    p += used;
    n -= used;
    if (rc == ASX_EAGAIN) return 0;
    if (rc == ASX_ENOMEM) {
      if (++nomem > 3) return ASX_ENOMEM; /* memory is not coming back: end the connection */
      asx_yield(cx);
      continue;
    }
    nomem = 0;
    if (rc) return rc == ASX_ELIMIT ? ASX_ELIMIT : ASX_EPROTO;
    rc = on_event(cx, c, &ev);
    if (rc) return rc;
  }
  return 0;
}

static int reader_task(asx_cx *cx, void *arg) {
  asx_nats_client *c = arg;
  int rc = consume(cx, c, c->rbuf + c->rpos, c->rlen - c->rpos);
  while (rc == 0) {
    size_t n = 0;
    rc = asx_stream_read(cx, c->stream, c->rbuf, NC_READ_CHUNK, &n);
    if (rc == 0) rc = consume(cx, c, c->rbuf, n);
  }
  nc_fail(c, rc == ASX_ECANCELED ? ASX_ECLOSED : rc);
  return 0;
}

static int writer_task(asx_cx *cx, void *arg) {
  asx_nats_client *c = arg;
  cl_pump p = {c->stream, &c->mu, &c->out, &c->err, &c->writer_wq, &c->space_wq, NULL, &c->st_bytes_out, c->alloc};
  int rc = cl_pump_run(cx, &p);
  nc_fail(c, rc == 0 || rc == ASX_ECANCELED ? ASX_ECLOSED : rc);
  return 0;
}

static int pinger_task(asx_cx *cx, void *arg) {
  asx_nats_client *c = arg;
  while (asx_sleep(cx, c->opts.ping_interval_ns) == 0) {
    nc_pong *node = asx_calloc(c->alloc, 1, sizeof(*node));
    if (!node) continue;
    pthread_mutex_lock(&c->mu);
    unsigned max = c->opts.max_pings_out ? c->opts.max_pings_out : 1;
    bool stale = c->pings_out >= max;
    int rc = c->err ? c->err : (stale ? ASX_ETIMEDOUT : nc_ping_locked(c, node));
    if (rc == 0) c->pings_out++;
    pthread_mutex_unlock(&c->mu);
    if (rc) {
      asx_free(c->alloc, node);
      if (stale) nc_fail(c, ASX_ETIMEDOUT);
      if (stale || rc != ASX_ENOMEM) break;
    }
  }
  return 0;
}

/* ---- connect ---- */

/* err = prefix + detail (either may be empty). */
static void set_err(char *err, size_t errlen, const char *prefix, const char *detail) {
  if (err && errlen) snprintf(err, errlen, "%s%s", prefix, detail ? detail : "");
}

/* Reads until the parser yields one operation; leftover bytes stay in rbuf[rpos..rlen). */
static int next_op(asx_cx *cx, asx_nats_client *c, asx_nats_event *ev) {
  for (;;) {
    if (c->rpos < c->rlen) {
      size_t used = 0;
      int rc = asx_nats_parser_feed(c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &used, ev);
      c->rpos += used;
      if (rc != ASX_EAGAIN) return rc;
    }
    size_t n = 0;
    int rc = asx_stream_read(cx, c->stream, c->rbuf, NC_READ_CHUNK, &n);
    if (rc) return rc;
    c->rpos = 0;
    c->rlen = n;
  }
}

static int handshake(asx_cx *cx, asx_nats_client *c, const asx_nats_client_opts *o, char *err,
                     size_t errlen) {
  asx_nats_event ev;
  int rc = next_op(cx, c, &ev);
  if (rc == 0 && ev.op != ASX_NATS_OP_INFO) rc = ASX_EPROTO;
  if (rc) {
    set_err(err, errlen, "no INFO from the server", NULL);
    return rc;
  }
  asx_nats_server_info info;
  memset(&info, 0, sizeof(info));
  char msg[160];
  rc = asx_nats_info_parse(&info, ev.info_json, &c->limits, c->alloc, msg, sizeof(msg));
  if (rc) set_err(err, errlen, "bad INFO: ", msg);
  if (rc == 0 && !info.headers) {
    set_err(err, errlen, "server does not support headers", NULL);
    rc = ASX_EUNSUPPORTED;
  }
  if (rc == 0 && info.max_payload > 0) {
    uint64_t mp = (uint64_t)info.max_payload;
    if (asx_nats_parser_set_max_payload(c->parser, mp) == 0) c->limits.max_payload = (size_t)mp;
  }
  asx_nats_server_info_free(&info);
  if (rc) return rc;

  asx_nats_connect_opts co;
  asx_nats_connect_opts_default(&co);
  co.echo = o->echo;
  co.name = o->name;
  co.user = o->user;
  co.pass = o->pass;
  co.auth_token = o->token;
  asx_buf b;
  asx_buf_init(&b, c->alloc, 0);
  rc = asx_nats_encode_connect(&b, &co);
  if (rc == 0) rc = asx_nats_encode_ping(&b);
  if (rc == 0) rc = asx_stream_write_all(cx, c->stream, b.data, b.len, NULL);
  asx_buf_free(&b);
  while (rc == 0) {
    rc = next_op(cx, c, &ev);
    if (rc) break;
    if (ev.op == ASX_NATS_OP_PONG) return 0;
    if (ev.op == ASX_NATS_OP_ERR) {
      char text[200];
      size_t n = ev.err_text.len < sizeof(text) - 1 ? ev.err_text.len : sizeof(text) - 1;
      memcpy(text, ev.err_text.ptr, n);
      text[n] = 0;
      set_err(err, errlen, "server refused CONNECT: ", text);
      return ASX_EPROTO;
    }
    if (ev.op == ASX_NATS_OP_PING) { /* answer a PING that crossed ours */
      uint8_t pong[] = "PONG\r\n";
      rc = asx_stream_write_all(cx, c->stream, pong, 6, NULL);
    }
  }
  if (err && errlen && !err[0]) set_err(err, errlen, "handshake failed: ", asx_strerror(rc));
  return rc;
}

static void random_inbox(asx_cx *cx, char *out, size_t cap) {
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  /* The runtime's PRNG alone repeats across processes started with the same seed: mix in the
   * clock and an address so that two clients on one server never share an inbox. */
  uint64_t x = asx_random(cx) ^ (asx_now(cx) * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)out;
  char tok[23];
  for (int i = 0; i < 22; i++) {
    x ^= asx_random(cx);
    tok[i] = alphabet[x % 62];
    x = x / 62 + (x << 13);
  }
  tok[22] = 0;
  snprintf(out, cap, "_INBOX.%s.", tok);
}

static int spawn_one(asx_cx *cx, asx_nats_client *c, const char *name, asx_task_fn fn,
                     asx_task **slot) {
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = name;
  asx_task *t = NULL;
  int rc = asx_spawn(cx, c->region, fn, c, &so, &t);
  if (rc) return rc;
  pthread_mutex_lock(&c->mu);
  *slot = t;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* graceful: subscription handler tasks finish what is queued; otherwise they are cancelled. */
static void destroy(asx_cx *cx, asx_nats_client *c, bool graceful) {
  nc_fail(c, ASX_ECLOSED);
  pthread_mutex_lock(&c->mu);
  asx_task *t[3] = {c->reader, c->writer, c->pinger};
  c->reader = c->writer = c->pinger = NULL;
  pthread_mutex_unlock(&c->mu);
  asx_mask_push(cx); /* the tasks were cancelled: these joins are short and must complete */
  for (int i = 0; i < 3; i++)
    if (t[i]) asx_task_join(cx, t[i], NULL, NULL);
  asx_mask_pop(cx);
  nc_detach_subs(c);
  /* Handler tasks may still look at c (unsubscribe): the region closes before c is freed. */
  if (c->region) {
    if (!graceful) asx_region_cancel(c->region, ASX_CANCEL_USER);
    asx_region_close(cx, c->region, NULL);
  }
  asx_stream_close(c->stream);
  asx_nats_parser_free(c->parser);
  asx_buf_free(&c->out);
  asx_free(c->alloc, c->subs);
  asx_free(c->alloc, c->rbuf);
  pthread_mutex_destroy(&c->mu);
  asx_free(c->alloc, c);
}

void nc_destroy(asx_cx *cx, asx_nats_client *c, bool graceful) { destroy(cx, c, graceful); }

static int connect_in(asx_cx *cx, asx_stream *given, const asx_nats_client_opts *o,
                      asx_nats_client **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!cx || !o || !out || (!given && !o->host) || o->max_output == 0) {
    asx_stream_close(given);
    return ASX_EINVAL;
  }
  asx_nats_client *c = asx_calloc(o->alloc, 1, sizeof(*c));
  if (!c) {
    asx_stream_close(given);
    return ASX_ENOMEM;
  }
  c->stream = given;
  c->alloc = o->alloc;
  c->opts = *o;
  c->opts.host = c->opts.name = c->opts.user = c->opts.pass = c->opts.token = NULL;
  c->limits = o->limits;
  c->next_sid = 1;
  c->next_token = 1;
  pthread_mutex_init(&c->mu, NULL);
  asx_buf_init(&c->out, c->alloc, 0);
  random_inbox(cx, c->inbox, sizeof(c->inbox));
  c->rbuf = asx_alloc(c->alloc, NC_READ_CHUNK);
  int rc = c->rbuf ? asx_nats_parser_new(&c->parser, &c->limits, c->alloc) : ASX_ENOMEM;
  if (rc == 0) {
    asx_region_opts ro = asx_region_opts_default();
    ro.name = "nats.client";
    ro.propagate_outcome = false; /* the client's own tasks are not the caller's outcome */
    rc = asx_region_open(cx, &ro, &c->region);
  }
  if (rc == 0 && !given) {
    asx_connect_opts co;
    asx_connect_opts_default(&co);
    co.timeout_ns = o->connect_timeout_ns;
    co.alloc = o->alloc;
    rc = asx_tcp_connect(cx, o->host, o->port, &co, &c->stream);
    if (rc) set_err(err, errlen, "connect failed: ", asx_strerror(rc));
  }
  if (rc == 0) {
    uint64_t deadline = o->connect_timeout_ns ? asx_now(cx) + o->connect_timeout_ns : ASX_UNLIMITED;
    asx_stream_set_read_deadline(c->stream, deadline);
    asx_stream_set_write_deadline(c->stream, deadline);
    rc = handshake(cx, c, o, err, errlen);
    asx_stream_set_read_deadline(c->stream, ASX_UNLIMITED);
    asx_stream_set_write_deadline(c->stream, ASX_UNLIMITED);
  }
  if (rc == 0) rc = spawn_one(cx, c, "nats.reader", reader_task, &c->reader);
  if (rc == 0) rc = spawn_one(cx, c, "nats.writer", writer_task, &c->writer);
  if (rc == 0 && o->ping_interval_ns) rc = spawn_one(cx, c, "nats.keepalive", pinger_task, &c->pinger);
  if (rc) {
    destroy(cx, c, false);
    return cl_cancel_code(cx, rc);
  }
  *out = c;
  return 0;
}

int asx_nats_client_connect(asx_cx *cx, const asx_nats_client_opts *o, asx_nats_client **out,
                            char *err, size_t errlen) {
  return connect_in(cx, NULL, o, out, err, errlen);
}

int asx_nats_client_attach(asx_cx *cx, asx_stream *s, const asx_nats_client_opts *o,
                           asx_nats_client **out, char *err, size_t errlen) {
  if (!s) return ASX_EINVAL;
  return connect_in(cx, s, o, out, err, errlen);
}

void asx_nats_client_close(asx_cx *cx, asx_nats_client *c) {
  if (c) destroy(cx, c, false);
}

int asx_nats_client_status(const asx_nats_client *c) {
  asx_nats_client *m = (asx_nats_client *)c;
  pthread_mutex_lock(&m->mu);
  int e = m->err;
  pthread_mutex_unlock(&m->mu);
  return e;
}

void asx_nats_client_last_error(const asx_nats_client *c, char *buf, size_t len) {
  if (!buf || len == 0) return;
  asx_nats_client *m = (asx_nats_client *)c;
  pthread_mutex_lock(&m->mu);
  snprintf(buf, len, "%s", m->last_err);
  pthread_mutex_unlock(&m->mu);
}

size_t asx_nats_client_max_payload(const asx_nats_client *c) { return c->limits.max_payload; }

void asx_nats_client_stats_get(const asx_nats_client *c, asx_nats_client_stats *o) {
  asx_nats_client *m = (asx_nats_client *)c;
  o->msgs_in = atomic_load(&m->st_msgs_in);
  o->msgs_out = atomic_load(&m->st_msgs_out);
  o->bytes_in = atomic_load(&m->st_bytes_in);
  o->bytes_out = atomic_load(&m->st_bytes_out);
  o->dropped = atomic_load(&m->st_dropped);
  o->pings_answered = atomic_load(&m->st_pings);
  o->pongs = atomic_load(&m->st_pongs);
  o->server_errors = atomic_load(&m->st_errs);
}

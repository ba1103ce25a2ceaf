/* The NATS connection: handshake (INFO -> CONNECT + PING -> PONG) by the connecting task, then a
 * connection task that runs, for each connection, a reader (parser events to subscriptions,
 * requests and flushes; server PINGs answered), a writer (everything queued since its last write
 * in one write) and a keepalive task in a region of its own. When that connection breaks it stops
 * them and either ends the client or dials again (reconnect), re-subscribes and starts over. */
#include <stdio.h>
#include <stdlib.h>
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
  o->max_reconnects = 60;
  o->reconnect_wait_ns = 2000000000ull;
  o->reconnect_jitter_ns = 100000000ull;
}

bool nc_online_locked(const asx_nats_client *c) {
  return c->err == 0 && c->state == ASX_NATS_STATE_CONNECTED && c->lost == 0;
}

static void emit(asx_nats_client *c, asx_nats_conn_event ev, int err) {
  if (c->opts.on_event) c->opts.on_event(c->opts.event_ud, ev, err);
}

/* With c->mu held: every PING in flight is answered with err (its flusher frees the node). */
static void fail_pongs_locked(asx_nats_client *c, int err) {
  for (nc_pong *p = c->pong_head, *next; p; p = next) {
    next = p->next;
    if (p->task && !p->abandoned) {
      p->err = err;
      p->done = true;
      asx_task_wake(p->task); /* the flusher frees it */
    } else {
      asx_free(c->alloc, p);
    }
  }
  c->pong_head = c->pong_tail = NULL;
}

void nc_conn_lost(asx_nats_client *c, int err) {
  pthread_mutex_lock(&c->mu);
  if (c->lost == 0) c->lost = err ? err : ASX_ECONNRESET;
  cl_wake_all(&c->super_wq);
  pthread_mutex_unlock(&c->mu);
}

void nc_fail(asx_nats_client *c, int err) {
  pthread_mutex_lock(&c->mu);
  bool first = c->err == 0;
  if (c->err == 0) c->err = err ? err : ASX_ECLOSED;
  c->state = ASX_NATS_STATE_CLOSED;
  int final = c->err;
  fail_pongs_locked(c, c->err);
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
  /* Under the lock: close drops the handle under it before joining (which frees it). */
  if (c->super) asx_task_cancel(c->super, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  pthread_mutex_unlock(&c->mu);
  nc_detach_subs(c); /* consumers read what is queued, then see ASX_ECLOSED */
  if (first) emit(c, ASX_NATS_CLOSED, final);
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
  case ASX_NATS_OP_INFO: { /* async INFO: a cluster announcing its members */
    asx_nats_server_info info;
    memset(&info, 0, sizeof(info));
    if (asx_nats_info_parse(&info, ev->info_json, &c->limits, c->alloc, NULL, 0) == 0) {
      nc_learn_servers(c, &info);
      if (info.ldm) {
        atomic_fetch_add(&c->st_lame_ducks, 1);
        emit(c, ASX_NATS_LAME_DUCK, 0);
      }
    }
    asx_nats_server_info_free(&info);
    break;
  }
  default: break; /* +OK */
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
  if (rc != ASX_ECANCELED) nc_conn_lost(c, rc); /* cancelled: the connection task stopped us */
  return 0;
}

static int writer_task(asx_cx *cx, void *arg) {
  asx_nats_client *c = arg;
  cl_pump p = {c->stream, &c->mu, &c->out, &c->err, &c->writer_wq, &c->space_wq, NULL, &c->st_bytes_out, c->alloc};
  int rc = cl_pump_run(cx, &p);
  if (rc != 0 && rc != ASX_ECANCELED) nc_conn_lost(c, rc); /* 0: the client is ending */
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
      if (stale) nc_conn_lost(c, ASX_ETIMEDOUT);
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

/* INFO said TLS (or the options ask for it): the handshake runs over the plain stream, which the
 * TLS stream then owns; the rest of the NATS handshake goes through it. Never a silent downgrade:
 * TLS asked on one side only is an error. */
static int upgrade_tls(asx_cx *cx, asx_nats_client *c, const asx_nats_server_info *info,
                       uint64_t deadline, char *err, size_t errlen) {
  bool offered = info->tls_required || info->tls_available;
  if (!c->opts.tls && info->tls_required) {
    set_err(err, errlen, "the server requires TLS: set opts.tls", NULL);
    return ASX_EPROTO;
  }
  if (!c->opts.tls) return 0;
  if (!offered) {
    set_err(err, errlen, "TLS asked but the server does not offer it", NULL);
    return ASX_EPROTO;
  }
  if (c->rpos != c->rlen) { /* nothing may follow INFO before the TLS handshake */
    set_err(err, errlen, "bytes after INFO before the TLS handshake", NULL);
    return ASX_EPROTO;
  }
  uint64_t now = asx_now(cx);
  uint64_t budget = deadline == ASX_UNLIMITED ? 0 : deadline > now ? deadline - now : 1;
  asx_stream_set_read_deadline(c->stream, ASX_UNLIMITED); /* the TLS layer times itself */
  asx_stream_set_write_deadline(c->stream, ASX_UNLIMITED);
  char msg[200] = "";
  asx_stream *tls = NULL;
  int rc = asx_tls_connect(cx, c->stream, c->opts.tls, c->tls_name ? c->tls_name : c->dial_host, budget,
                           &tls, msg, sizeof msg);
  if (rc) {
    set_err(err, errlen, "TLS handshake failed: ", msg[0] ? msg : asx_strerror(rc));
    return rc;
  }
  c->stream = tls;
  asx_stream_set_read_deadline(c->stream, deadline);
  asx_stream_set_write_deadline(c->stream, deadline);
  return 0;
}

static int handshake(asx_cx *cx, asx_nats_client *c, uint64_t deadline, char *err, size_t errlen) {
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
  if (rc == 0) nc_learn_servers(c, &info);
  if (rc == 0) rc = upgrade_tls(cx, c, &info, deadline, err, errlen);
  asx_nats_server_info_free(&info);
  if (rc) return rc;

  asx_nats_connect_opts co;
  asx_nats_connect_opts_default(&co);
  co.tls_required = c->opts.tls != NULL;
  co.echo = c->opts.echo;
  co.name = c->name;
  co.user = c->user;
  co.pass = c->pass;
  co.auth_token = c->token;
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

/* "host:port", "[v6]:port" or "host" (port 4222) into a server entry (host copied). */
static int parse_server(const asx_allocator *a, const char *s, nc_server *out) {
  const char *host = s, *colon = NULL;
  size_t hlen;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || (end[1] != 0 && end[1] != ':')) return ASX_EINVAL;
    host = s + 1;
    hlen = (size_t)(end - host);
    colon = end[1] == ':' ? end + 1 : NULL;
  } else {
    colon = strrchr(s, ':');
    if (colon && strchr(s, ':') != colon) return ASX_EINVAL; /* a bare IPv6 address: use [...] */
    hlen = colon ? (size_t)(colon - s) : strlen(s);
  }
  unsigned long port = 4222;
  if (colon) {
    char *endp = NULL;
    port = strtoul(colon + 1, &endp, 10);
    if (!colon[1] || *endp || port == 0 || port > 65535) return ASX_EINVAL;
  }
  if (hlen == 0 || hlen > 255) return ASX_EINVAL;
  out->host = asx_alloc(a, hlen + 1);
  if (!out->host) return ASX_ENOMEM;
  memcpy(out->host, host, hlen);
  out->host[hlen] = 0;
  out->port = (uint16_t)port;
  return 0;
}

void nc_learn_servers(asx_nats_client *c, const asx_nats_server_info *info) {
  if (c->opts.ignore_discovered || c->nservers == 0) return; /* attached: nothing to dial */
  for (size_t i = 0; i < info->connect_urls_len; i++) {
    nc_server sv;
    if (parse_server(c->alloc, info->connect_urls[i], &sv) != 0) continue; /* not fatal: skip it */
    pthread_mutex_lock(&c->mu);
    bool known = false;
    for (size_t k = 0; k < c->nservers && !known; k++)
      known = c->servers[k].port == sv.port && strcmp(c->servers[k].host, sv.host) == 0;
    if (!known && c->nservers < NC_MAX_SERVERS) {
      if (c->nservers == c->servers_cap) {
        size_t cap = c->servers_cap * 2;
        nc_server *t = asx_realloc(c->alloc, c->servers, cap * sizeof(*t));
        if (t) c->servers = t, c->servers_cap = cap;
      }
      if (c->nservers < c->servers_cap) {
        c->servers[c->nservers++] = sv;
        sv.host = NULL;
      }
    }
    pthread_mutex_unlock(&c->mu);
    asx_free(c->alloc, sv.host);
  }
}

/* Dials the current server and runs the handshake; on success c->stream is the new connection. */
static int dial(asx_cx *cx, asx_nats_client *c, char *err, size_t errlen) {
  asx_connect_opts co;
  asx_connect_opts_default(&co);
  co.timeout_ns = c->opts.connect_timeout_ns;
  co.alloc = c->alloc;
  pthread_mutex_lock(&c->mu); /* the reader may append discovered servers meanwhile */
  nc_server sv = c->servers[c->cur];
  pthread_mutex_unlock(&c->mu);
  c->dial_host = sv.host; /* entries are only ever appended: the string stays valid */
  int rc = asx_tcp_connect(cx, sv.host, sv.port, &co, &c->stream);
  if (rc) {
    set_err(err, errlen, "connect failed: ", asx_strerror(rc));
    return rc;
  }
  asx_nats_parser_reset(c->parser); /* a reconnect: the old connection may have stopped mid-op */
  asx_nats_parser_set_max_payload(c->parser, c->limits.max_payload);
  c->rpos = c->rlen = 0;
  uint64_t deadline = c->opts.connect_timeout_ns ? asx_now(cx) + c->opts.connect_timeout_ns : ASX_UNLIMITED;
  asx_stream_set_read_deadline(c->stream, deadline);
  asx_stream_set_write_deadline(c->stream, deadline);
  rc = handshake(cx, c, deadline, err, errlen);
  asx_stream_set_read_deadline(c->stream, ASX_UNLIMITED);
  asx_stream_set_write_deadline(c->stream, ASX_UNLIMITED);
  if (rc) {
    asx_stream_close(c->stream);
    c->stream = NULL;
  }
  return rc;
}

static int spawn_in(asx_cx *cx, asx_region *r, asx_nats_client *c, const char *name, asx_task_fn fn) {
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = name;
  return asx_spawn(cx, r, fn, c, &so, NULL);
}

/* Runs one connection: its reader, writer and keepalive in a region of their own, until it breaks
 * or this task is cancelled; then stops them. The loss, or ASX_ECANCELED. */
static int run_connection(asx_cx *cx, asx_nats_client *c) {
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "nats.connection";
  ro.propagate_outcome = false;
  asx_region *r;
  int rc = asx_region_open(cx, &ro, &r);
  if (rc) return rc;
  rc = spawn_in(cx, r, c, "nats.reader", reader_task);
  if (rc == 0) rc = spawn_in(cx, r, c, "nats.writer", writer_task);
  if (rc == 0 && c->opts.ping_interval_ns) rc = spawn_in(cx, r, c, "nats.keepalive", pinger_task);
  pthread_mutex_lock(&c->mu);
  while (rc == 0 && c->lost == 0) rc = cl_wait(cx, &c->mu, &c->super_wq, ASX_UNLIMITED);
  if (rc == 0) rc = c->lost;
  pthread_mutex_unlock(&c->mu);
  asx_mask_push(cx); /* also when cancelled: the tasks must be stopped and joined */
  asx_region_cancel(r, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  asx_region_close(cx, r, NULL);
  asx_mask_pop(cx);
  return rc;
}

/* The connection broke: what was queued and the PINGs in flight go with it. */
static void disconnected(asx_nats_client *c, int why) {
  pthread_mutex_lock(&c->mu);
  c->state = ASX_NATS_STATE_RECONNECTING;
  fail_pongs_locked(c, ASX_ECONNRESET);
  c->pings_out = 0;
  asx_buf_reset(&c->out);
  cl_wake_all(&c->space_wq);
  pthread_mutex_unlock(&c->mu);
  asx_stream_close(c->stream); /* its reader and writer are gone */
  c->stream = NULL;
  emit(c, ASX_NATS_DISCONNECTED, why);
}

/* A new connection is up: subscriptions first, then what was published meanwhile. */
static int resume(asx_nats_client *c) {
  asx_buf b;
  asx_buf_init(&b, c->alloc, 0);
  pthread_mutex_lock(&c->mu);
  int rc = nc_resubscribe_locked(c, &b);
  if (rc == 0 && c->out.len) rc = asx_buf_append(&b, c->out.data, c->out.len);
  if (rc == 0) {
    asx_buf t = c->out;
    c->out = b;
    b = t;
    c->state = ASX_NATS_STATE_CONNECTED; /* with the table sent, SUB/UNSUB go out directly again */
    c->lost = 0;
  }
  pthread_mutex_unlock(&c->mu);
  asx_buf_free(&b);
  return rc;
}

/* Dials until a connection is up, the attempts run out or the task is cancelled. Each attempt
 * takes the next server of the list; the pause comes after a whole pass failed. */
static int reconnect(asx_cx *cx, asx_nats_client *c) {
  int last = ASX_ECONNRESET;
  for (int attempt = 0; c->opts.max_reconnects < 0 || attempt < c->opts.max_reconnects; attempt++) {
    pthread_mutex_lock(&c->mu); /* asx_nats_client_server reads it, the reader may grow the list */
    c->cur = (c->cur + 1) % c->nservers;
    size_t n = c->nservers;
    pthread_mutex_unlock(&c->mu);
    if (attempt > 0 && attempt % (int)n == 0) {
      uint64_t j = c->opts.reconnect_jitter_ns;
      int rc = asx_sleep(cx, c->opts.reconnect_wait_ns + (j ? asx_random(cx) % (j + 1) : 0));
      if (rc) return rc;
    }
    int rc = dial(cx, c, NULL, 0);
    if (rc == 0) rc = resume(c);
    if (rc == 0) {
      atomic_fetch_add(&c->st_reconnects, 1);
      emit(c, ASX_NATS_RECONNECTED, 0);
      return 0;
    }
    asx_stream_close(c->stream); /* resume failed after a good dial */
    c->stream = NULL;
    if (rc == ASX_ECANCELED) return rc;
    last = rc;
  }
  return last;
}

/* The connection task: one connection after the other until the client ends. */
static int super_task(asx_cx *cx, void *arg) {
  asx_nats_client *c = arg;
  for (;;) {
    int lost = run_connection(cx, c);
    bool again = lost != ASX_ECANCELED && lost != ASX_ENOMEM && c->servers && c->opts.max_reconnects != 0;
    if (!again) {
      nc_fail(c, lost == ASX_ECANCELED ? ASX_ECLOSED : lost);
      return 0;
    }
    disconnected(c, lost);
    int rc = reconnect(cx, c);
    if (rc) {
      nc_fail(c, rc == ASX_ECANCELED ? ASX_ECLOSED : rc);
      return 0;
    }
  }
}

char *nc_strdup(const asx_allocator *a, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = asx_alloc(a, n);
  if (d) memcpy(d, s, n);
  return d;
}

static char *dup_or_null(const asx_allocator *a, const char *s, int *rc) {
  char *d = nc_strdup(a, s);
  if (s && !d) *rc = ASX_ENOMEM;
  return d;
}

/* graceful: subscription handler tasks finish what is queued; otherwise they are cancelled. */
static void destroy(asx_cx *cx, asx_nats_client *c, bool graceful) {
  nc_fail(c, ASX_ECLOSED);
  pthread_mutex_lock(&c->mu);
  asx_task *t = c->super;
  c->super = NULL;
  pthread_mutex_unlock(&c->mu);
  asx_mask_push(cx); /* the task was cancelled: this join is short and must complete */
  if (t) asx_task_join(cx, t, NULL, NULL);
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
  for (size_t i = 0; i < c->nservers; i++) asx_free(c->alloc, c->servers[i].host);
  asx_free(c->alloc, c->servers);
  char *strs[] = {c->name, c->user, c->pass, c->token, c->tls_name};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) asx_free(c->alloc, strs[i]);
  pthread_mutex_destroy(&c->mu);
  asx_free(c->alloc, c);
}

void nc_destroy(asx_cx *cx, asx_nats_client *c, bool graceful) { destroy(cx, c, graceful); }

static int connect_in(asx_cx *cx, asx_stream *given, const asx_nats_client_opts *o,
                      asx_nats_client **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!cx || !o || !out || (!given && !o->host && !o->nservers) || (o->nservers && !o->servers) ||
      o->max_output == 0 ||
      (given && o->tls && !o->tls_server_name)) {
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
  c->opts.tls_server_name = NULL;
  int rc = 0;
  if (!given) { /* the servers to dial (none for an attached stream: no reconnect) */
    size_t n = o->nservers ? o->nservers : 1;
    c->servers = asx_calloc(c->alloc, n, sizeof(*c->servers));
    if (!c->servers) rc = ASX_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
      if (o->nservers) {
        rc = o->servers[i] ? parse_server(c->alloc, o->servers[i], &c->servers[i]) : ASX_EINVAL;
        if (rc == ASX_EINVAL) set_err(err, errlen, "bad server address: ", o->servers[i]);
      } else {
        c->servers[i].host = nc_strdup(c->alloc, o->host);
        c->servers[i].port = o->port;
        if (!c->servers[i].host) rc = ASX_ENOMEM;
      }
      if (rc == 0) c->nservers++;
    }
    c->servers_cap = n;
  }
  c->name = dup_or_null(c->alloc, o->name, &rc);
  c->user = dup_or_null(c->alloc, o->user, &rc);
  c->pass = dup_or_null(c->alloc, o->pass, &rc);
  c->token = dup_or_null(c->alloc, o->token, &rc);
  c->tls_name = dup_or_null(c->alloc, o->tls_server_name, &rc);
  c->limits = o->limits;
  c->next_sid = 1;
  c->next_token = 1;
  pthread_mutex_init(&c->mu, NULL);
  asx_buf_init(&c->out, c->alloc, 0);
  random_inbox(cx, c->inbox, sizeof(c->inbox));
  c->rbuf = asx_alloc(c->alloc, NC_READ_CHUNK);
  if (rc == 0) rc = c->rbuf ? asx_nats_parser_new(&c->parser, &c->limits, c->alloc) : ASX_ENOMEM;
  if (rc == 0) {
    asx_region_opts ro = asx_region_opts_default();
    ro.name = "nats.client";
    ro.propagate_outcome = false; /* the client's own tasks are not the caller's outcome */
    rc = asx_region_open(cx, &ro, &c->region);
  }
  if (rc == 0 && !given) {
    for (c->cur = 0; c->cur < c->nservers; c->cur++) /* the first one that answers */
      if ((rc = dial(cx, c, err, errlen)) == 0 || rc == ASX_ECANCELED || c->cur + 1 == c->nservers) break;
  } else if (rc == 0) {
    uint64_t deadline = o->connect_timeout_ns ? asx_now(cx) + o->connect_timeout_ns : ASX_UNLIMITED;
    asx_stream_set_read_deadline(c->stream, deadline);
    asx_stream_set_write_deadline(c->stream, deadline);
    rc = handshake(cx, c, deadline, err, errlen);
    asx_stream_set_read_deadline(c->stream, ASX_UNLIMITED);
    asx_stream_set_write_deadline(c->stream, ASX_UNLIMITED);
  }
  if (rc == 0) {
    asx_spawn_opts so = asx_spawn_opts_default();
    so.name = "nats.connection";
    asx_task *t = NULL;
    rc = asx_spawn(cx, c->region, super_task, c, &so, &t);
    pthread_mutex_lock(&c->mu);
    c->super = t;
    pthread_mutex_unlock(&c->mu);
  }
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

void asx_nats_client_server(const asx_nats_client *c, char *buf, size_t len) {
  if (!buf || len == 0) return;
  asx_nats_client *m = (asx_nats_client *)c;
  pthread_mutex_lock(&m->mu);
  if (m->nservers == 0) snprintf(buf, len, "%s", "");
  else if (strchr(m->servers[m->cur].host, ':')) snprintf(buf, len, "[%s]:%u", m->servers[m->cur].host, m->servers[m->cur].port);
  else snprintf(buf, len, "%s:%u", m->servers[m->cur].host, m->servers[m->cur].port);
  pthread_mutex_unlock(&m->mu);
}

asx_nats_conn_state asx_nats_client_state(const asx_nats_client *c) {
  asx_nats_client *m = (asx_nats_client *)c;
  pthread_mutex_lock(&m->mu);
  asx_nats_conn_state s = m->state;
  pthread_mutex_unlock(&m->mu);
  return s;
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
  pthread_mutex_lock(&m->mu);
  o->known_servers = m->nservers;
  pthread_mutex_unlock(&m->mu);
  o->reconnects = atomic_load(&m->st_reconnects);
  o->lame_ducks = atomic_load(&m->st_lame_ducks);
}

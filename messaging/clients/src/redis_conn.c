/* The pipelined Redis connection: callers encode their command into one shared output buffer and
 * take the next FIFO slot (both under one lock, so wire order == slot order); a writer task sends
 * whatever accumulated in one write; a reader task decodes replies and hands each to the slot at
 * the FIFO head. A caller that gives up leaves its slot behind with no owner: the reply is still
 * read and dropped, so later replies stay matched. */
#include <string.h>

#include "cl_pump.h"
#include "redis_client_internal.h"

#define READ_CHUNK 16384

void asx_redis_client_opts_default(asx_redis_client_opts *o) {
  memset(o, 0, sizeof(*o));
  o->host = "127.0.0.1";
  o->port = 6379;
  o->resp = 2;
  o->connect_timeout_ns = 5000000000ull;
  o->max_inflight = 1024;
  o->max_output = (size_t)64 << 20;
  o->limits = asx_redis_limits_default();
  o->push_queue = 1024;
}

/* ---- failing and finishing requests (c->mu held) ---- */

static void finish_locked(rc_req *r, asx_redis_reply *reply, int err) {
  r->reply = reply;
  r->err = err;
  r->finished = true;
  asx_task_wake(r->task);
}

void rc_fail(asx_redis_client *c, int err) {
  pthread_mutex_lock(&c->mu);
  if (c->err == 0) c->err = err ? err : ASX_ECLOSED;
  while (c->head != c->tail) {
    rc_slot *s = &c->ring[c->head % c->ring_cap];
    if (s->req) finish_locked(s->req, NULL, c->err);
    c->head++;
  }
  asx_buf_reset(&c->out);
  cl_wake_all(&c->space_wq);
  cl_wake_all(&c->writer_wq);
  /* The other task may be blocked in a read or a write: cancellation ends that wait. Under the
   * lock, because rc_destroy drops the handles (joins free them) under the same lock. */
  if (c->reader) asx_task_cancel(c->reader, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  if (c->writer) asx_task_cancel(c->writer, ASX_CANCEL_RESOURCE_UNAVAILABLE);
  pthread_mutex_unlock(&c->mu);
}

/* ---- pub/sub bookkeeping ---- */

static const char *const sub_names[] = {"", "subscribe", "psubscribe", "ssubscribe",
                                        "unsubscribe", "punsubscribe", "sunsubscribe"};

static int sub_kind_of(const char *s, size_t len) {
  for (int k = SUB_SUBSCRIBE; k <= SUB_SUNSUBSCRIBE; k++) {
    size_t n = strlen(sub_names[k]);
    if (n != len) continue;
    size_t i = 0;
    while (i < n && (s[i] | 0x20) == sub_names[k][i]) i++;
    if (i == n) return k;
  }
  return SUB_NONE;
}

/* A push confirming a pub/sub command: [kind, channel, count]. */
static int push_sub_kind(const asx_redis_reply *p) {
  if (p->type != ASX_REDIS_PUSH || p->n < 1) return SUB_NONE;
  const asx_redis_reply *k = p->elements[0];
  if (k->type != ASX_REDIS_BULK && k->type != ASX_REDIS_STRING) return SUB_NONE;
  return sub_kind_of(k->str, k->len);
}

static void deliver_push(asx_cx *cx, asx_redis_client *c, asx_redis_reply *p) {
  atomic_fetch_add(&c->st_pushes, 1);
  if (c->opts.on_push) {
    c->opts.on_push(c->opts.push_ud, p);
    return;
  }
  /* The reader is the only sender, so with a free slot the send cannot block. */
  if (asx_chan_len(c->pushq) < c->opts.push_queue && asx_chan_send(cx, c->pushq, &p) == 0) return;
  atomic_fetch_add(&c->st_dropped, 1);
  asx_redis_reply_free(p);
}

/* One decoded top-level value. Returns 0 or an error that breaks the connection. */
static int on_reply(asx_cx *cx, asx_redis_client *c, asx_redis_reply *r) {
  int sub = push_sub_kind(r);
  if (r->type == ASX_REDIS_PUSH && sub == SUB_NONE) {
    deliver_push(cx, c, r);
    return 0;
  }
  pthread_mutex_lock(&c->mu);
  if (sub != SUB_NONE) {
    bool head_matches = c->head != c->tail && c->ring[c->head % c->ring_cap].sub == sub;
    if (!head_matches) {
      if (c->skip_n > 0 && c->skip_sub == sub) {
        c->skip_n--;
        pthread_mutex_unlock(&c->mu);
        asx_redis_reply_free(r);
      } else { /* e.g. the trailing confirmations of an UNSUBSCRIBE without arguments */
        pthread_mutex_unlock(&c->mu);
        deliver_push(cx, c, r);
      }
      return 0;
    }
  }
  if (c->head == c->tail) {
    pthread_mutex_unlock(&c->mu);
    asx_redis_reply_free(r);
    return ASX_EPROTO; /* a reply nobody asked for: the stream cannot be trusted any more */
  }
  rc_slot *s = &c->ring[c->head % c->ring_cap];
  c->head++;
  /* Confirmations of a pub/sub command all come before the next command's reply: a normal
   * reply ends any swallowing left over. */
  c->skip_sub = (uint8_t)sub;
  c->skip_n = sub != SUB_NONE && s->sub_n > 0 ? s->sub_n - 1 : 0;
  rc_req *req = s->req;
  s->req = NULL;
  cl_wake_one(&c->space_wq);
  if (req) {
    atomic_fetch_add(&c->st_replies, 1); /* before the caller can wake and look */
    finish_locked(req, r, 0);
    r = NULL;
  } else {
    atomic_fetch_add(&c->st_abandoned, 1);
  }
  pthread_mutex_unlock(&c->mu);
  asx_redis_reply_free(r);
  return 0;
}

static int reader_task(asx_cx *cx, void *arg) {
  asx_redis_client *c = arg;
  uint8_t *buf = asx_alloc(c->alloc, READ_CHUNK);
  int rc = buf ? 0 : ASX_ENOMEM;
  while (rc == 0) {
    size_t n = 0;
    rc = asx_stream_read(cx, c->stream, buf, READ_CHUNK, &n);
    if (rc) break;
    const uint8_t *p = buf;
    int nomem = 0; /* ENOMEM from the decoder: nothing was lost, call again (even with 0 bytes) */
    while (rc == 0 && (n > 0 || nomem > 0)) {
      size_t used = 0;
      asx_redis_reply *reply = NULL;
      int f = asx_redis_decoder_feed(c->dec, p, n, &used, &reply);
      p += used;
      n -= used;
      if (f == ASX_EAGAIN) break;
      if (f == ASX_ENOMEM) {
        if (++nomem > 3) rc = ASX_ENOMEM; /* memory is not coming back: end the connection */
        else asx_yield(cx);
        continue;
      }
      nomem = 0;
      if (f < 0) rc = f == ASX_ELIMIT ? ASX_ELIMIT : ASX_EPROTO;
      else rc = on_reply(cx, c, reply);
    }
  }
  asx_free(c->alloc, buf);
  rc_fail(c, rc == ASX_ECANCELED ? ASX_ECLOSED : rc);
  if (c->pushq) asx_chan_close(c->pushq);
  return 0;
}

static int writer_task(asx_cx *cx, void *arg) {
  asx_redis_client *c = arg;
  cl_pump p = {c->stream, &c->mu, &c->out, &c->err, &c->writer_wq, NULL, &c->st_batches, NULL, c->alloc};
  int rc = cl_pump_run(cx, &p);
  rc_fail(c, rc == 0 || rc == ASX_ECANCELED ? ASX_ECLOSED : rc);
  return 0;
}

int rc_start(asx_cx *cx, asx_redis_client *c) {
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = "redis.reader";
  asx_task *t = NULL;
  int rc = asx_spawn(cx, c->region, reader_task, c, &so, &t);
  if (rc) return rc;
  pthread_mutex_lock(&c->mu);
  c->reader = t;
  pthread_mutex_unlock(&c->mu);
  so.name = "redis.writer";
  rc = asx_spawn(cx, c->region, writer_task, c, &so, &t);
  if (rc) {
    rc_fail(c, rc);
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  c->writer = t;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* ---- the caller's side ---- */

typedef struct cmd_args {
  asx_redis_client *c;
  size_t argc;
  const char *const *argv;
  const size_t *lens;
  asx_redis_reply **reply;
} cmd_args;

static size_t arg_len(const cmd_args *a, size_t i) { return a->lens ? a->lens[i] : strlen(a->argv[i]); }

static bool arg_is(const cmd_args *a, size_t i, const char *word) {
  return i < a->argc &&
         asx_slice_eq_nocase((asx_slice){(const uint8_t *)a->argv[i], arg_len(a, i)}, word);
}

/* Commands after which replies no longer come one per command (MONITOR streams, CLIENT REPLY
 * OFF/SKIP suppresses them): on a shared connection the FIFO matching would break. */
static bool breaks_reply_order(const cmd_args *a) {
  return arg_is(a, 0, "MONITOR") || (arg_is(a, 0, "CLIENT") && arg_is(a, 1, "REPLY"));
}

/* With c->mu held: appends the command to the shared output. */
static int encode(asx_redis_client *c, const cmd_args *a) {
  asx_slice small[8], *sv = a->argc <= 8 ? small : asx_alloc(c->alloc, a->argc * sizeof(asx_slice));
  if (!sv) return ASX_ENOMEM;
  for (size_t i = 0; i < a->argc; i++) sv[i] = (asx_slice){(const uint8_t *)a->argv[i], arg_len(a, i)};
  int rc = asx_redis_encode_command_slices(&c->out, a->argc, sv);
  if (sv != small) asx_free(c->alloc, sv);
  return rc;
}

int asx_redis_client_command(asx_cx *cx, asx_redis_client *c, size_t argc,
                             const char *const *argv, const size_t *lens, asx_redis_reply **reply) {
  if (!cx || !c || argc == 0 || !argv || !reply) return ASX_EINVAL;
  *reply = NULL;
  cmd_args a = {c, argc, argv, lens, reply};
  int sub = sub_kind_of(argv[0], arg_len(&a, 0));
  if (sub != SUB_NONE && c->opts.resp != 3) return ASX_EUNSUPPORTED;
  if (breaks_reply_order(&a)) return ASX_EUNSUPPORTED;
  uint64_t until = cl_deadline(cx, c->opts.command_timeout_ns);
  rc_req r = {.task = asx_cx_task(cx), .reply = NULL, .err = 0, .finished = false};
  asx_obligation *ob = NULL;
  int rc = asx_obligation_reserve(cx, "redis.request", &ob);
  if (rc) return rc;
  pthread_mutex_lock(&c->mu);
  while (rc == 0 && c->err == 0 && c->tail - c->head >= c->ring_cap)
    rc = cl_wait(cx, &c->mu, &c->space_wq, until);
  if (rc == 0) rc = c->err;
  size_t before = c->out.len;
  if (rc == 0) rc = encode(c, &a);
  if (rc) {
    if (rc != c->err) cl_wake_one(&c->space_wq); /* pass on a wakeup we may have taken */
    pthread_mutex_unlock(&c->mu);
    asx_obligation_abort(ob);
    return cl_cancel_code(cx, rc);
  }
  uint64_t pos = c->tail++;
  c->ring[pos % c->ring_cap] = (rc_slot){&r, (uint8_t)sub, (uint32_t)(argc > 1 ? argc - 1 : 1)};
  if (before == 0) cl_wake_one(&c->writer_wq);
  atomic_fetch_add(&c->st_commands, 1);
  rc = cl_wait_flag(cx, &c->mu, &r.finished, until);
  if (rc) /* give up: the slot stays (the reply will still come) but nobody owns it any more */
    c->ring[pos % c->ring_cap].req = NULL;
  pthread_mutex_unlock(&c->mu);
  if (rc == 0) rc = r.err;
  if (rc) {
    asx_obligation_abort(ob);
    asx_redis_reply_free(r.reply);
    return cl_cancel_code(cx, rc);
  }
  asx_obligation_commit(ob);
  *reply = r.reply;
  return 0;
}

int asx_redis_client_next_push(asx_cx *cx, asx_redis_client *c, asx_redis_reply **push) {
  if (!cx || !c || !push) return ASX_EINVAL;
  if (!c->pushq) return ASX_ESTATE;
  *push = NULL;
  return cl_cancel_code(cx, asx_chan_recv(cx, c->pushq, push));
}

int asx_redis_client_status(const asx_redis_client *c) {
  asx_redis_client *m = (asx_redis_client *)c;
  pthread_mutex_lock(&m->mu);
  int e = m->err;
  pthread_mutex_unlock(&m->mu);
  return e;
}

void asx_redis_client_stats_get(const asx_redis_client *c, asx_redis_client_stats *o) {
  asx_redis_client *m = (asx_redis_client *)c;
  o->commands = atomic_load(&m->st_commands);
  o->replies = atomic_load(&m->st_replies);
  o->abandoned = atomic_load(&m->st_abandoned);
  o->batches = atomic_load(&m->st_batches);
  o->pushes = atomic_load(&m->st_pushes);
  o->pushes_dropped = atomic_load(&m->st_dropped);
}

int rc_alloc(const asx_redis_client_opts *o, asx_redis_client **out) {
  asx_redis_client *c = asx_calloc(o->alloc, 1, sizeof(*c));
  if (!c) return ASX_ENOMEM;
  c->alloc = o->alloc;
  c->opts = *o;
  c->opts.host = NULL;
  c->opts.username = NULL;
  c->opts.password = NULL;
  c->ring_cap = o->max_inflight;
  c->ring = asx_calloc(o->alloc, c->ring_cap, sizeof(rc_slot));
  asx_buf_init(&c->out, o->alloc, o->max_output);
  pthread_mutex_init(&c->mu, NULL);
  int rc = c->ring ? asx_redis_decoder_new(&c->dec, &o->limits, o->alloc) : ASX_ENOMEM;
  if (rc == 0 && !o->on_push)
    rc = asx_chan_new(o->alloc, sizeof(asx_redis_reply *), o->push_queue, &c->pushq);
  if (rc) {
    asx_redis_decoder_free(c->dec);
    asx_free(o->alloc, c->ring);
    pthread_mutex_destroy(&c->mu);
    asx_free(o->alloc, c);
    return rc;
  }
  *out = c;
  return 0;
}

void rc_destroy(asx_cx *cx, asx_redis_client *c) {
  rc_fail(c, ASX_ECLOSED);
  pthread_mutex_lock(&c->mu);
  asx_task *rd = c->reader, *wr = c->writer;
  c->reader = c->writer = NULL;
  pthread_mutex_unlock(&c->mu);
  asx_mask_push(cx); /* the tasks were cancelled: these joins are short and must complete */
  if (rd) asx_task_join(cx, rd, NULL, NULL);
  if (wr) asx_task_join(cx, wr, NULL, NULL);
  asx_mask_pop(cx);
  if (c->pushq) {
    asx_redis_reply *p;
    while (asx_chan_try_recv(c->pushq, &p) == 0) asx_redis_reply_free(p);
    asx_chan_free(c->pushq);
  }
  asx_stream_close(c->stream);
  asx_redis_decoder_free(c->dec);
  asx_buf_free(&c->out);
  asx_free(c->alloc, c->ring);
  pthread_mutex_destroy(&c->mu);
  asx_free(c->alloc, c);
}

void asx_redis_client_close(asx_cx *cx, asx_redis_client *c) {
  if (!c) return;
  asx_region *r = c->owns_region ? c->region : NULL;
  rc_destroy(cx, c);
  if (r) asx_region_close(cx, r, NULL);
}

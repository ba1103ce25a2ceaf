/* Simulated streams: each direction is a bounded runtime channel of segments. Everything random
 * (segment sizes, partial reads, delivery delays, resets) comes from asx_random, so under the
 * deterministic driver one seed gives one network behaviour. Only public runtime calls are used:
 * waits are channel sends/receives and sleeps, hence cancellation checkpoints; a deadline wraps
 * the wait in asx_timeout, whose "a finished body's result stands" rule keeps counts exact. */
#include <stdatomic.h>
#include <string.h>

#include "net_internal.h"

typedef struct sim_seg {
  uint32_t len, off;
  uint64_t deliver_at;
  unsigned char data[]; /* max_segment bytes */
} sim_seg;

typedef struct sim_shared {
  asx_sim_opts o;
  size_t seg_size;     /* sizeof(sim_seg) + max_segment */
  asx_chan *dir[2];    /* dir[i] carries what side i writes */
  _Atomic bool reset;
  _Atomic int refs;
} sim_shared;

typedef struct sim_stream {
  asx_stream base;
  sim_shared *sh;
  int side;
  bool pend_valid;
  bool wr_closed;
  sim_seg *pend; /* the segment being read */
  sim_seg *out;  /* scratch for the segment being written */
} sim_stream;

void asx_sim_opts_default(asx_sim_opts *o) {
  memset(o, 0, sizeof(*o));
  o->capacity = 65536;
  o->max_segment = 1460;
}

static bool chance(asx_cx *cx, uint32_t permille) {
  return permille && asx_random(cx) % 1000 < permille;
}

static void sim_reset(sim_shared *sh) {
  atomic_store(&sh->reset, true);
  asx_chan_close(sh->dir[0]);
  asx_chan_close(sh->dir[1]);
}

typedef struct chan_op {
  asx_chan *ch;
  void *elem;
} chan_op;

static int do_recv(asx_cx *cx, void *arg) {
  chan_op *op = arg;
  return asx_chan_recv(cx, op->ch, op->elem);
}

static int do_send(asx_cx *cx, void *arg) {
  chan_op *op = arg;
  return asx_chan_send(cx, op->ch, op->elem);
}

/* Runs a channel operation bounded by `until`. */
static int bounded(asx_cx *cx, asx_task_fn fn, chan_op *op, uint64_t until) {
  if (until == ASX_UNLIMITED) return fn(cx, op);
  uint64_t now = asx_now(cx);
  if (now >= until) return ASX_ETIMEDOUT;
  return asx_timeout(cx, until - now, fn, op);
}

static int sim_read(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n, uint64_t until) {
  sim_stream *ss = (sim_stream *)s;
  sim_shared *sh = ss->sh;
  for (;;) {
    if (atomic_load(&sh->reset)) return ASX_ECONNRESET; /* a reset drops unread data, as TCP */
    if (ss->pend_valid) {
      sim_seg *g = ss->pend;
      if (asx_now(cx) < g->deliver_at) { /* still "on the wire" */
        uint64_t when = g->deliver_at < until ? g->deliver_at : until;
        int rc = asx_sleep_until(cx, when);
        if (rc) return rc;
        if (asx_now(cx) < g->deliver_at) return ASX_ETIMEDOUT;
        continue;
      }
      size_t k = g->len - g->off;
      if (k > cap) k = cap;
      if (k > 1 && chance(cx, sh->o.partial_permille)) k = 1 + (size_t)(asx_random(cx) % k);
      memcpy(buf, g->data + g->off, k);
      g->off += (uint32_t)k;
      if (g->off == g->len) ss->pend_valid = false;
      *n = k;
      return 0;
    }
    chan_op op = {sh->dir[1 - ss->side], ss->pend};
    int rc = bounded(cx, do_recv, &op, until);
    if (rc == ASX_ECLOSED) return atomic_load(&sh->reset) ? ASX_ECONNRESET : ASX_ECLOSED;
    if (rc) return rc;
    ss->pend_valid = ss->pend->len > 0;
  }
}

static int sim_writev(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt, size_t *n,
                      uint64_t until) {
  sim_stream *ss = (sim_stream *)s;
  sim_shared *sh = ss->sh;
  *n = 0;
  if (atomic_load(&sh->reset)) return ASX_ECONNRESET;
  if (ss->wr_closed) return ASX_EPIPE;
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
  size_t k = total < sh->o.max_segment ? total : sh->o.max_segment;
  if (k > 1 && chance(cx, sh->o.partial_permille)) k = 1 + (size_t)(asx_random(cx) % k);
  if (chance(cx, sh->o.reset_permille)) {
    sim_reset(sh);
    return ASX_ECONNRESET;
  }
  sim_seg *g = ss->out;
  g->len = (uint32_t)k;
  g->off = 0;
  g->deliver_at = asx_now(cx) + (sh->o.max_delay_ns ? asx_random(cx) % (sh->o.max_delay_ns + 1) : 0);
  size_t at = 0;
  for (int i = 0; i < iovcnt && at < k; i++) {
    size_t c = iov[i].iov_len < k - at ? iov[i].iov_len : k - at;
    memcpy(g->data + at, iov[i].iov_base, c);
    at += c;
  }
  chan_op op = {sh->dir[ss->side], g};
  int rc = bounded(cx, do_send, &op, until);
  if (rc == ASX_ECLOSED) return atomic_load(&sh->reset) ? ASX_ECONNRESET : ASX_EPIPE;
  if (rc) return rc;
  *n = k;
  return 0;
}

static int sim_shutdown(asx_cx *cx, asx_stream *s) {
  (void)cx;
  sim_stream *ss = (sim_stream *)s;
  ss->wr_closed = true;
  asx_chan_close(ss->sh->dir[ss->side]); /* queued segments still arrive, then end of stream */
  return 0;
}

static void shared_unref(sim_shared *sh) {
  if (atomic_fetch_sub(&sh->refs, 1) != 1) return;
  const asx_allocator *a = sh->o.alloc;
  asx_chan_free(sh->dir[0]);
  asx_chan_free(sh->dir[1]);
  asx_free(a, sh);
}

static void sim_close(asx_stream *s) {
  sim_stream *ss = (sim_stream *)s;
  asx_chan_close(ss->sh->dir[ss->side]);
  asx_chan_close(ss->sh->dir[1 - ss->side]); /* the peer's writes now fail with EPIPE */
  shared_unref(ss->sh);
  asx_free(s->alloc, ss->pend);
  asx_free(s->alloc, ss->out);
  asx_free(s->alloc, ss);
}

static void sim_abort(asx_stream *s) { sim_reset(((sim_stream *)s)->sh); }

static const stream_ops sim_ops = {
    .read = sim_read,
    .writev = sim_writev,
    .shutdown = sim_shutdown,
    .close = sim_close,
    .fd = NULL,
    .abort = sim_abort,
};

static sim_stream *end_new(sim_shared *sh, int side) {
  const asx_allocator *a = sh->o.alloc;
  sim_stream *ss = asx_calloc(a, 1, sizeof(*ss));
  if (!ss) return NULL;
  ss->pend = asx_alloc(a, sh->seg_size);
  ss->out = asx_alloc(a, sh->seg_size);
  if (!ss->pend || !ss->out) {
    asx_free(a, ss->pend);
    asx_free(a, ss->out);
    asx_free(a, ss);
    return NULL;
  }
  net_stream_init(&ss->base, &sim_ops, a);
  ss->sh = sh;
  ss->side = side;
  return ss;
}

static int pair_new(const asx_sim_opts *o, asx_stream **a, asx_stream **b) {
  asx_sim_opts def;
  if (!o) {
    asx_sim_opts_default(&def);
    o = &def;
  }
  if (!a || !b || o->max_segment == 0 || o->max_segment > UINT32_MAX || o->capacity == 0)
    return ASX_EINVAL;
  *a = *b = NULL;
  sim_shared *sh = asx_calloc(o->alloc, 1, sizeof(*sh));
  if (!sh) return ASX_ENOMEM;
  sh->o = *o;
  sh->seg_size = sizeof(sim_seg) + o->max_segment;
  size_t segs = (o->capacity + o->max_segment - 1) / o->max_segment;
  atomic_init(&sh->refs, 2);
  if (asx_chan_new(o->alloc, sh->seg_size, segs, &sh->dir[0]) != 0 ||
      asx_chan_new(o->alloc, sh->seg_size, segs, &sh->dir[1]) != 0)
    goto fail;
  sim_stream *x = end_new(sh, 0);
  if (!x) goto fail;
  sim_stream *y = end_new(sh, 1);
  if (!y) {
    asx_free(o->alloc, x->pend);
    asx_free(o->alloc, x->out);
    asx_free(o->alloc, x);
    goto fail;
  }
  *a = &x->base;
  *b = &y->base;
  return 0;
fail:
  asx_chan_free(sh->dir[0]);
  asx_chan_free(sh->dir[1]);
  asx_free(o->alloc, sh);
  return ASX_ENOMEM;
}

int asx_sim_pair(asx_cx *cx, const asx_sim_opts *o, asx_stream **a, asx_stream **b) {
  (void)cx;
  return pair_new(o, a, b);
}

/* ---- listener ---- */
struct sim_listener {
  asx_sim_opts o;
  asx_chan *pending; /* asx_stream * of the accepting end */
};

int asx_sim_listen(const asx_sim_opts *o, size_t backlog, asx_listener **out) {
  asx_sim_opts def;
  if (!o) {
    asx_sim_opts_default(&def);
    o = &def;
  }
  if (!out || backlog == 0) return ASX_EINVAL;
  *out = NULL;
  sim_listener *l = asx_calloc(o->alloc, 1, sizeof(*l));
  if (!l) return ASX_ENOMEM;
  l->o = *o;
  if (asx_chan_new(o->alloc, sizeof(asx_stream *), backlog, &l->pending) != 0) {
    asx_free(o->alloc, l);
    return ASX_ENOMEM;
  }
  return net_listener_from_sim(l, o->alloc, out);
}

int net_sim_accept(asx_cx *cx, sim_listener *l, asx_stream **out) {
  *out = NULL;
  return asx_chan_recv(cx, l->pending, out);
}

int asx_sim_connect(asx_cx *cx, asx_listener *listener, asx_stream **out) {
  sim_listener *l = listener ? net_listener_sim(listener) : NULL;
  if (!l || !out) return ASX_EINVAL;
  *out = NULL;
  asx_stream *mine, *theirs;
  int rc = pair_new(&l->o, &mine, &theirs);
  if (rc) return rc;
  /* Two-phase: once a slot is reserved the hand-over cannot fail or be cancelled. */
  asx_chan_permit p;
  rc = asx_chan_reserve(cx, l->pending, &p);
  if (rc) {
    asx_stream_close(mine);
    asx_stream_close(theirs);
    return rc == ASX_ECLOSED ? ASX_ECONNRESET : rc;
  }
  asx_chan_commit(&p, &theirs);
  *out = mine;
  return 0;
}

void net_sim_listener_free(sim_listener *l) {
  if (!l) return;
  asx_chan_close(l->pending);
  asx_stream *s;
  while (asx_chan_try_recv(l->pending, &s) == 0) { /* never accepted: the connector sees a reset */
    sim_reset(((sim_stream *)s)->sh);
    asx_stream_close(s);
  }
  asx_chan_free(l->pending);
  asx_free(l->o.alloc, l);
}

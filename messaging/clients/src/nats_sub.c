/* Subscriptions: SUB/UNSUB, the per-subscription bounded channel with its slow-consumer policy,
 * and turning parser events into owned messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_client_internal.h"

void asx_nats_msg_free(asx_nats_msg *m) {
  if (!m) return;
  /* The allocator is stored just before the message (one allocation holds everything). */
  const asx_allocator **a = (const asx_allocator **)m - 1;
  asx_free(*a, a);
}

/* One allocation: [allocator][msg][subject\0][reply\0][headers][payload\0]. */
static asx_nats_msg *msg_new(const asx_allocator *alloc, const asx_nats_event *ev) {
  size_t need = sizeof(const asx_allocator *) + sizeof(asx_nats_msg) + ev->subject.len + 1 +
                ev->reply.len + 1 + ev->header_block.len + ev->payload.len + 1;
  const asx_allocator **a = asx_alloc(alloc, need);
  if (!a) return NULL;
  *a = alloc;
  asx_nats_msg *m = (asx_nats_msg *)(a + 1);
  char *p = (char *)(m + 1);
  memcpy(p, ev->subject.ptr, ev->subject.len);
  p[ev->subject.len] = 0;
  m->subject = p;
  p += ev->subject.len + 1;
  if (ev->reply.len) {
    memcpy(p, ev->reply.ptr, ev->reply.len);
    m->reply = p;
  } else {
    m->reply = NULL;
  }
  p[ev->reply.len] = 0;
  p += ev->reply.len + 1;
  if (ev->header_block.len) memcpy(p, ev->header_block.ptr, ev->header_block.len);
  m->headers = (asx_slice){(const uint8_t *)p, ev->header_block.len};
  p += ev->header_block.len;
  if (ev->payload.len) memcpy(p, ev->payload.ptr, ev->payload.len);
  p[ev->payload.len] = 0;
  m->data = (const uint8_t *)p;
  m->len = ev->payload.len;
  m->status = ev->status;
  return m;
}

static bool parse_u64(asx_slice s, uint64_t *out) {
  if (s.len == 0 || s.len > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
    v = v * 10 + (uint64_t)(s.ptr[i] - '0');
  }
  *out = v;
  return true;
}

/* With c->mu held: index of sid in the sorted table, or nsubs. */
static size_t find_sub(const asx_nats_client *c, uint64_t sid) {
  size_t lo = 0, hi = c->nsubs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->subs[mid]->sid < sid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < c->nsubs && c->subs[lo]->sid == sid ? lo : c->nsubs;
}

/* With c->mu held: takes s out of the table; the table's reference moves to the caller. */
static void remove_sub_locked(asx_nats_client *c, asx_nats_sub *s) {
  size_t i = find_sub(c, s->sid);
  if (i == c->nsubs) return;
  memmove(&c->subs[i], &c->subs[i + 1], (c->nsubs - i - 1) * sizeof(*c->subs));
  c->nsubs--;
  s->active = false;
  atomic_store(&s->c, NULL);
}

void nc_sub_unref(asx_nats_sub *s) {
  if (atomic_fetch_sub(&s->refs, 1) != 1) return;
  asx_nats_msg *m;
  while (asx_chan_try_recv(s->ch, &m) == 0) asx_nats_msg_free(m);
  asx_chan_free(s->ch);
  asx_free(s->alloc, s->subject);
  asx_free(s->alloc, s->queue);
  asx_free(s->alloc, s);
}

static void deliver(asx_cx *cx, asx_nats_client *c, asx_nats_sub *s, asx_nats_msg *m) {
  /* The reader is the only producer: with a free slot the send does not block. */
  if (asx_chan_len(s->ch) >= s->capacity) {
    atomic_fetch_add(&s->dropped, 1);
    atomic_fetch_add(&c->st_dropped, 1);
    if (s->policy == ASX_NATS_DROP_NEWEST) {
      asx_nats_msg_free(m);
      return;
    }
    asx_nats_msg *old;
    if (asx_chan_try_recv(s->ch, &old) == 0) asx_nats_msg_free(old);
  }
  if (asx_chan_send(cx, s->ch, &m) != 0) asx_nats_msg_free(m); /* closed meanwhile */
}

static void on_inbox_msg(asx_nats_client *c, const asx_nats_event *ev, asx_nats_msg *m) {
  size_t plen = strlen(c->inbox);
  uint64_t token = 0;
  bool ok = ev->subject.len > plen &&
            parse_u64((asx_slice){ev->subject.ptr + plen, ev->subject.len - plen}, &token);
  pthread_mutex_lock(&c->mu);
  nc_reqw **pp = &c->reqs;
  while (ok && *pp && (*pp)->token != token) pp = &(*pp)->next;
  nc_reqw *r = ok ? *pp : NULL;
  if (r) {
    *pp = r->next;
    r->next = NULL;
    if (m->status == 503) {
      r->err = ASX_ENOTFOUND; /* no responders */
    } else {
      r->msg = m;
      m = NULL;
    }
    r->done = true;
    asx_task_wake(r->task);
  }
  pthread_mutex_unlock(&c->mu);
  asx_nats_msg_free(m); /* a late reply (its requester gave up) or a duplicate */
}

int nc_on_msg(asx_cx *cx, asx_nats_client *c, const asx_nats_event *ev) {
  uint64_t sid = 0;
  if (!parse_u64(ev->sid, &sid)) return 0;
  asx_nats_msg *m = msg_new(c->alloc, ev);
  if (!m) return ASX_ENOMEM; /* never a silent loss: the connection ends with ASX_ENOMEM */
  pthread_mutex_lock(&c->mu);
  if (c->inbox_sid != 0 && sid == c->inbox_sid) {
    pthread_mutex_unlock(&c->mu);
    on_inbox_msg(c, ev, m);
    return 0;
  }
  size_t i = find_sub(c, sid);
  if (i == c->nsubs) {
    pthread_mutex_unlock(&c->mu);
    asx_nats_msg_free(m); /* arrived after UNSUB */
    return 0;
  }
  asx_nats_sub *s = c->subs[i];
  uint64_t n = atomic_fetch_add(&s->received, 1) + 1;
  bool last = s->max_msgs && n >= s->max_msgs;
  if (last)
    remove_sub_locked(c, s); /* its table reference is now ours */
  else
    atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&c->mu);
  deliver(cx, c, s, m);
  if (last) asx_chan_close(s->ch);
  nc_sub_unref(s);
  return 0;
}

int asx_nats_subscribe(asx_cx *cx, asx_nats_client *c, const char *subject, const char *queue,
                       const asx_nats_sub_opts *opts, asx_nats_sub **out) {
  if (!cx || !c || !subject || !out) return ASX_EINVAL;
  size_t cap = opts && opts->capacity ? opts->capacity : 1024;
  asx_nats_sub *s = asx_calloc(c->alloc, 1, sizeof(*s));
  if (!s) return ASX_ENOMEM;
  s->alloc = c->alloc;
  s->capacity = cap;
  s->policy = opts ? opts->policy : ASX_NATS_DROP_NEWEST;
  atomic_store(&s->refs, 2); /* the user's and the table's */
  s->subject = nc_strdup(c->alloc, subject);
  s->queue = nc_strdup(c->alloc, queue);
  int rc = !s->subject || (queue && !s->queue) ? ASX_ENOMEM
                                                : asx_chan_new(c->alloc, sizeof(asx_nats_msg *), cap, &s->ch);
  if (rc) {
    asx_free(c->alloc, s->subject);
    asx_free(c->alloc, s->queue);
    asx_free(c->alloc, s);
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  rc = nc_wait_space_locked(cx, c);
  if (rc == 0 && c->nsubs == c->subs_cap) {
    size_t ncap = c->subs_cap ? c->subs_cap * 2 : 8;
    asx_nats_sub **t = asx_realloc(c->alloc, c->subs, ncap * sizeof(*t));
    if (!t)
      rc = ASX_ENOMEM;
    else
      c->subs = t, c->subs_cap = ncap;
  }
  size_t before = c->out.len;
  if (rc == 0) {
    s->sid = c->next_sid;
    snprintf(s->sid_str, sizeof(s->sid_str), "%llu", (unsigned long long)s->sid);
    if (nc_online_locked(c)) {
      rc = asx_nats_encode_sub(&c->out, &c->limits, subject, queue, s->sid_str);
    } else { /* reconnecting: only check it now, the reconnect sends it from the table */
      asx_buf scratch;
      asx_buf_init(&scratch, c->alloc, 0);
      rc = asx_nats_encode_sub(&scratch, &c->limits, subject, queue, s->sid_str);
      asx_buf_free(&scratch);
    }
  }
  if (rc == 0) {
    c->next_sid++;
    atomic_store(&s->c, c);
    s->active = true;
    c->subs[c->nsubs++] = s; /* sids only grow: the table stays sorted */
    nc_kick_locked(c, before);
  }
  pthread_mutex_unlock(&c->mu);
  if (rc) {
    asx_chan_free(s->ch);
    asx_free(c->alloc, s->subject);
    asx_free(c->alloc, s->queue);
    asx_free(c->alloc, s);
    return cl_cancel_code(cx, rc);
  }
  *out = s;
  return 0;
}

int asx_nats_sub_next(asx_cx *cx, asx_nats_sub *s, asx_nats_msg **msg) {
  if (!cx || !s || !msg) return ASX_EINVAL;
  *msg = NULL;
  int rc = asx_chan_recv(cx, s->ch, msg);
  if (rc == 0) atomic_fetch_add(&s->delivered, 1);
  return cl_cancel_code(cx, rc);
}

/* With c->mu held. */
static int unsub_locked(asx_nats_client *c, asx_nats_sub *s, uint64_t max_msgs, bool *close_now) {
  *close_now = false;
  if (!s->active) return 0;
  if (c->err) return c->err;
  if (nc_online_locked(c)) { /* reconnecting: the table decides what is re-sent */
    size_t before = c->out.len;
    int rc = asx_nats_encode_unsub(&c->out, &c->limits, s->sid_str, max_msgs);
    if (rc) return rc;
    nc_kick_locked(c, before);
  }
  if (max_msgs == 0 || atomic_load(&s->received) >= max_msgs) {
    remove_sub_locked(c, s);
    *close_now = true;
  } else {
    s->max_msgs = max_msgs;
  }
  return 0;
}

int asx_nats_unsubscribe(asx_cx *cx, asx_nats_sub *s, uint64_t max_msgs) {
  if (!cx || !s) return ASX_EINVAL;
  asx_nats_client *c = atomic_load(&s->c);
  if (!c) return 0; /* already ended (UNSUB, max reached, drain or close) */
  bool close_now = false;
  pthread_mutex_lock(&c->mu);
  int rc = nc_wait_space_locked(cx, c);
  if (rc == 0) rc = unsub_locked(c, s, max_msgs, &close_now);
  pthread_mutex_unlock(&c->mu);
  if (close_now) {
    asx_chan_close(s->ch);
    nc_sub_unref(s); /* the table's reference */
  }
  return cl_cancel_code(cx, rc);
}

void asx_nats_sub_stats_get(asx_nats_sub *s, asx_nats_sub_stats *out) {
  out->received = atomic_load(&s->received);
  out->delivered = atomic_load(&s->delivered);
  out->dropped = atomic_load(&s->dropped);
  out->pending = asx_chan_len(s->ch);
}

void asx_nats_sub_free(asx_nats_sub *s) {
  if (!s) return;
  asx_nats_client *c = atomic_load(&s->c);
  if (c) {
    bool close_now = false;
    pthread_mutex_lock(&c->mu);
    if (s->active && unsub_locked(c, s, 0, &close_now) != 0) {
      remove_sub_locked(c, s); /* could not queue UNSUB: stop delivering anyway */
      close_now = true;
    }
    atomic_store(&s->c, NULL);
    pthread_mutex_unlock(&c->mu);
    if (close_now) {
      asx_chan_close(s->ch);
      nc_sub_unref(s);
    }
  }
  nc_sub_unref(s);
}

int nc_resubscribe_locked(asx_nats_client *c, asx_buf *b) {
  int rc = 0;
  if (c->inbox_sid) {
    char subject[64], sid[24];
    snprintf(subject, sizeof(subject), "%s*", c->inbox);
    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)c->inbox_sid);
    rc = asx_nats_encode_sub(b, &c->limits, subject, NULL, sid);
  }
  for (size_t i = 0; rc == 0 && i < c->nsubs; i++) {
    asx_nats_sub *s = c->subs[i];
    rc = asx_nats_encode_sub(b, &c->limits, s->subject, s->queue, s->sid_str);
    uint64_t got = atomic_load(&s->received);
    if (rc == 0 && s->max_msgs && s->max_msgs > got) /* the server counts afresh */
      rc = asx_nats_encode_unsub(b, &c->limits, s->sid_str, s->max_msgs - got);
  }
  return rc;
}

void nc_detach_subs(asx_nats_client *c) {
  pthread_mutex_lock(&c->mu);
  asx_nats_sub **subs = c->subs;
  size_t n = c->nsubs;
  for (size_t i = 0; i < n; i++) {
    subs[i]->active = false;
    atomic_store(&subs[i]->c, NULL);
  }
  c->nsubs = 0;
  pthread_mutex_unlock(&c->mu);
  for (size_t i = 0; i < n; i++) {
    asx_chan_close(subs[i]->ch);
    nc_sub_unref(subs[i]);
  }
}

/* ---- handler tasks ---- */

typedef struct handler_args {
  asx_nats_sub *s;
  asx_nats_msg_fn fn;
  void *ud;
} handler_args;

/* Runs in the client's region: one message at a time until the subscription ends (ECLOSED),
 * the client closes (cancelled) or fn asks to stop (negative: unsubscribe). */
static int handler_task(asx_cx *cx, void *arg) {
  handler_args a = *(handler_args *)arg;
  asx_free(a.s->alloc, arg);
  int rc = 0;
  for (;;) {
    asx_nats_msg *m = NULL;
    rc = asx_nats_sub_next(cx, a.s, &m);
    if (rc) break;
    if (a.fn(cx, m, a.ud) < 0) {
      asx_nats_unsubscribe(cx, a.s, 0);
      break;
    }
  }
  nc_sub_unref(a.s);
  (void)rc; /* ECLOSED (ended) or ECANCELED (client closed): both a normal end */
  return 0;
}

int asx_nats_subscribe_handler(asx_cx *cx, asx_nats_client *c, const char *subject,
                               const char *queue, const asx_nats_sub_opts *opts,
                               asx_nats_msg_fn fn, void *ud, asx_nats_sub **out) {
  if (!fn || !out) return ASX_EINVAL;
  handler_args *a = asx_alloc(c ? c->alloc : NULL, sizeof(*a));
  if (!a) return ASX_ENOMEM;
  asx_nats_sub *s = NULL;
  int rc = asx_nats_subscribe(cx, c, subject, queue, opts, &s);
  if (rc) {
    asx_free(c ? c->alloc : NULL, a);
    return rc;
  }
  *a = (handler_args){s, fn, ud};
  atomic_fetch_add(&s->refs, 1); /* the handler's */
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = "nats.handler";
  rc = asx_spawn(cx, c->region, handler_task, a, &so, NULL);
  if (rc) {
    nc_sub_unref(s);
    asx_free(c->alloc, a);
    asx_nats_sub_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

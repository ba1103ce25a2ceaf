/* Bounded MPSC channel with two-phase send. A reservation (an obligation) holds one slot, so a
 * commit never blocks and never fails: once a sender commits, the message is in the queue, even
 * if the sender is cancelled right after or the channel is closed. Slots freed by the receiver or
 * by an abort are handed directly to the first waiting sender (no barging, no lost wakeup). */
#include <pthread.h>
#include <string.h>

#include "rt_internal.h"

struct asx_chan {
  const asx_allocator *alloc;
  pthread_mutex_t lock;
  size_t elem_size, cap;
  size_t head, len;   /* ring of committed messages */
  size_t reserved;    /* slots held by permits; len + reserved <= cap */
  bool closed;
  rt_link senders;    /* rt_waiter: waiting for a slot */
  rt_link receivers;  /* rt_waiter: waiting for a message */
  uint8_t *buf;
};

int asx_chan_new(const asx_allocator *a, size_t elem_size, size_t capacity, asx_chan **out) {
  if (!out || elem_size == 0 || capacity == 0) return ASX_EINVAL;
  if (capacity > SIZE_MAX / elem_size) return ASX_EOVERFLOW;
  asx_chan *ch = asx_calloc(a, 1, sizeof(*ch));
  if (!ch) return ASX_ENOMEM;
  ch->buf = asx_alloc(a, elem_size * capacity);
  if (!ch->buf) {
    asx_free(a, ch);
    return ASX_ENOMEM;
  }
  ch->alloc = a;
  ch->elem_size = elem_size;
  ch->cap = capacity;
  rt_list_init(&ch->senders);
  rt_list_init(&ch->receivers);
  pthread_mutex_init(&ch->lock, NULL);
  *out = ch;
  return 0;
}

void asx_chan_free(asx_chan *ch) {
  if (!ch) return;
  pthread_mutex_destroy(&ch->lock);
  asx_free(ch->alloc, ch->buf);
  asx_free(ch->alloc, ch);
}

/* Lock held: a slot became free; give it to the first waiting sender if any. */
static void slot_freed(asx_chan *ch, rt_worker *w) {
  if (!ch->closed && !rt_list_empty(&ch->senders)) {
    ch->reserved++;
    rt_waiters_grant_one(&ch->senders, w);
  }
}

/* Lock held: a receiver waiting on a closed, drained channel must learn it. */
static void maybe_wake_closed(asx_chan *ch, rt_worker *w) {
  if (ch->closed && ch->len == 0 && ch->reserved == 0) rt_waiters_wake_all(&ch->receivers, w);
}

/* The obligation's abort action: the reserved slot goes back. */
static void permit_abort(void *arg) {
  asx_chan *ch = arg;
  pthread_mutex_lock(&ch->lock);
  ch->reserved--;
  slot_freed(ch, NULL);
  maybe_wake_closed(ch, NULL);
  pthread_mutex_unlock(&ch->lock);
}

int asx_chan_reserve_at(asx_cx *cx, asx_chan *ch, asx_chan_permit *p, const char *file, int line) {
  if (!cx || !ch || !p) return ASX_EINVAL;
  asx_task *t = cx->task;
  p->chan = NULL;
  p->ob = NULL;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  /* Allocate the obligation first so that a granted slot never has to be rolled back. */
  asx_obligation *ob;
  int err = asx_obligation_reserve_at(cx, "chan.permit", permit_abort, ch, &ob, file, line);
  if (err) return err;
  rt_waiter wt = {.task = t, .granted = false};
  rt_list_init(&wt.link);
  pthread_mutex_lock(&ch->lock);
  if (ch->closed) {
    err = ASX_ECLOSED;
  } else if (ch->len + ch->reserved < ch->cap && rt_list_empty(&ch->senders)) {
    ch->reserved++;
  } else {
    rt_list_push_back(&ch->senders, &wt.link);
    for (;;) {
      pthread_mutex_unlock(&ch->lock);
      int werr = rt_wait_unlimited(t);
      pthread_mutex_lock(&ch->lock);
      if (wt.granted) break;
      if (ch->closed) err = ASX_ECLOSED;
      else if (werr) err = werr;
      if (err) {
        rt_list_remove(&wt.link);
        break;
      }
    }
  }
  pthread_mutex_unlock(&ch->lock);
  if (err) {
    /* Nothing was reserved: resolve the obligation without running its abort action. */
    asx_obligation_commit(ob);
    return err;
  }
  p->chan = ch;
  p->ob = ob;
  return 0;
}

void asx_chan_commit(asx_chan_permit *p, const void *elem) {
  asx_chan *ch = p->chan;
  if (!ch) return;
  rt_worker *w = p->ob->owner->worker;
  pthread_mutex_lock(&ch->lock);
  size_t tail = (ch->head + ch->len) % ch->cap;
  memcpy(ch->buf + tail * ch->elem_size, elem, ch->elem_size);
  ch->len++;
  ch->reserved--;
  rt_waiters_grant_one(&ch->receivers, w);
  pthread_mutex_unlock(&ch->lock);
  asx_obligation_commit(p->ob);
  p->chan = NULL;
  p->ob = NULL;
}

void asx_chan_abort(asx_chan_permit *p) {
  if (!p->chan) return;
  asx_obligation_abort(p->ob); /* runs permit_abort */
  p->chan = NULL;
  p->ob = NULL;
}

int asx_chan_send_at(asx_cx *cx, asx_chan *ch, const void *elem, const char *file, int line) {
  if (!cx || !ch || !elem) return ASX_EINVAL;
  asx_task *t = cx->task;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  /* Fast path: a free slot, nobody queued before us. Reserve and commit happen under one lock
   * hold, so there is no window for an obligation to cover. */
  pthread_mutex_lock(&ch->lock);
  if (!ch->closed && ch->len + ch->reserved < ch->cap && rt_list_empty(&ch->senders)) {
    size_t tail = (ch->head + ch->len) % ch->cap;
    memcpy(ch->buf + tail * ch->elem_size, elem, ch->elem_size);
    ch->len++;
    rt_waiters_grant_one(&ch->receivers, t->worker);
    pthread_mutex_unlock(&ch->lock);
    return 0;
  }
  pthread_mutex_unlock(&ch->lock);
  asx_chan_permit p;
  int err = asx_chan_reserve_at(cx, ch, &p, file, line);
  if (err) return err;
  asx_chan_commit(&p, elem);
  return 0;
}

/* Lock held: pops the oldest message. */
static void take(asx_chan *ch, void *elem, rt_worker *w) {
  memcpy(elem, ch->buf + ch->head * ch->elem_size, ch->elem_size);
  ch->head = (ch->head + 1) % ch->cap;
  ch->len--;
  slot_freed(ch, w);
  maybe_wake_closed(ch, w);
}

int asx_chan_recv(asx_cx *cx, asx_chan *ch, void *elem) {
  if (!cx || !ch || !elem) return ASX_EINVAL;
  asx_task *t = cx->task;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  rt_waiter wt = {.task = t, .granted = false};
  rt_list_init(&wt.link);
  int err = 0;
  pthread_mutex_lock(&ch->lock);
  for (;;) {
    if (ch->len > 0) {
      take(ch, elem, t->worker);
      break;
    }
    if (ch->closed && ch->reserved == 0) {
      err = ASX_ECLOSED;
      break;
    }
    if (err) break; /* cancelled while waiting: nothing taken */
    wt.granted = false;
    if (!rt_linked(&wt.link)) rt_list_push_back(&ch->receivers, &wt.link);
    pthread_mutex_unlock(&ch->lock);
    err = rt_wait_unlimited(t);
    pthread_mutex_lock(&ch->lock);
  }
  if (rt_linked(&wt.link)) rt_list_remove(&wt.link);
  /* A wake-up meant for us but not consumed goes to the next receiver. */
  if (wt.granted && err && ch->len > 0) rt_waiters_grant_one(&ch->receivers, t->worker);
  pthread_mutex_unlock(&ch->lock);
  return err;
}

int asx_chan_try_recv(asx_chan *ch, void *elem) {
  int err = ASX_EAGAIN;
  pthread_mutex_lock(&ch->lock);
  if (ch->len > 0) {
    take(ch, elem, NULL);
    err = 0;
  } else if (ch->closed && ch->reserved == 0) {
    err = ASX_ECLOSED;
  }
  pthread_mutex_unlock(&ch->lock);
  return err;
}

void asx_chan_close(asx_chan *ch) {
  pthread_mutex_lock(&ch->lock);
  ch->closed = true;
  rt_waiters_wake_all(&ch->senders, NULL);
  maybe_wake_closed(ch, NULL);
  pthread_mutex_unlock(&ch->lock);
}

size_t asx_chan_len(asx_chan *ch) {
  pthread_mutex_lock(&ch->lock);
  size_t n = ch->len;
  pthread_mutex_unlock(&ch->lock);
  return n;
}

/* Lock held: drops our waiter; a wakeup it received but did not use goes to the next receiver. */
static void select_unlink(asx_chan *ch, rt_waiter *wt, rt_worker *w) {
  if (rt_linked(&wt->link)) rt_list_remove(&wt->link);
  if (wt->granted && ch->len > 0) rt_waiters_grant_one(&ch->receivers, w);
  wt->granted = false;
}

int asx_chan_select_recv(asx_cx *cx, size_t n, asx_chan *const *chans, void *const *outs,
                         size_t *index) {
  if (!cx || !chans || !outs || !index || n == 0 || n > ASX_SELECT_MAX) return ASX_EINVAL;
  asx_task *t = cx->task;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  rt_waiter wt[ASX_SELECT_MAX];
  for (size_t i = 0; i < n; i++) {
    wt[i] = (rt_waiter){.task = t, .granted = false};
    rt_list_init(&wt[i].link);
  }
  int err = 0;
  size_t taken = SIZE_MAX;
  for (;;) {
    /* Register everywhere BEFORE looking, so a commit between the look and the park finds us. */
    for (size_t i = 0; i < n; i++) {
      pthread_mutex_lock(&chans[i]->lock);
      wt[i].granted = false;
      if (!rt_linked(&wt[i].link)) rt_list_push_back(&chans[i]->receivers, &wt[i].link);
      pthread_mutex_unlock(&chans[i]->lock);
    }
    size_t closed = 0;
    for (size_t i = 0; i < n && taken == SIZE_MAX; i++) {
      asx_chan *ch = chans[i];
      pthread_mutex_lock(&ch->lock);
      if (ch->len > 0) {
        rt_list_remove(&wt[i].link);
        take(ch, outs[i], t->worker);
        taken = i;
      } else if (ch->closed && ch->reserved == 0) {
        closed++;
      }
      pthread_mutex_unlock(&ch->lock);
    }
    if (taken != SIZE_MAX) break;
    if (closed == n) {
      err = ASX_ECLOSED;
      break;
    }
    if (err) break; /* cancelled on the previous round and nothing arrived since */
    err = rt_wait_unlimited(t);
    if (err && err != ASX_ECANCELED) break;
  }
  for (size_t i = 0; i < n; i++) {
    pthread_mutex_lock(&chans[i]->lock);
    select_unlink(chans[i], &wt[i], t->worker);
    pthread_mutex_unlock(&chans[i]->lock);
  }
  if (taken != SIZE_MAX) {
    *index = taken;
    return 0;
  }
  return err;
}

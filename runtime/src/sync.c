/* Task-aware mutex, counting semaphore and oneshot. All three hand the resource directly to the
 * first waiter (FIFO, no barging) and are cancel-correct: a waiter that observes cancellation
 * leaves the queue holding nothing, unless the resource was already handed to it, in which case
 * the acquisition stands and is reported as success (the effect happened). */
#include <pthread.h>
#include <string.h>

#include "rt_internal.h"

/* Shared wait loop: enqueue, park until granted/cancelled/closed. Lock held on entry and exit.
 * Returns 0 when granted; otherwise the waiter is off the queue. */
static int wait_granted(pthread_mutex_t *lock, rt_link *q, asx_task *t, const bool *closed) {
  rt_waiter wt = {.task = t, .granted = false};
  rt_list_init(&wt.link);
  rt_list_push_back(q, &wt.link);
  for (;;) {
    pthread_mutex_unlock(lock);
    int err = rt_wait_unlimited(t);
    pthread_mutex_lock(lock);
    if (wt.granted) return 0;
    if (closed && *closed) err = ASX_ECLOSED;
    if (err) {
      rt_list_remove(&wt.link);
      return err;
    }
  }
}

/* ---- Mutex ---- */
struct asx_mutex {
  const asx_allocator *alloc;
  pthread_mutex_t lock;
  bool locked;
  asx_obligation *held; /* the holder's obligation (NULL after a trylock) */
  rt_link waiters;
};

int asx_mutex_new(const asx_allocator *a, asx_mutex **out) {
  if (!out) return ASX_EINVAL;
  asx_mutex *m = asx_calloc(a, 1, sizeof(*m));
  if (!m) return ASX_ENOMEM;
  m->alloc = a;
  pthread_mutex_init(&m->lock, NULL);
  rt_list_init(&m->waiters);
  *out = m;
  return 0;
}

void asx_mutex_free(asx_mutex *m) {
  if (!m) return;
  pthread_mutex_destroy(&m->lock);
  asx_free(m->alloc, m);
}

/* Lock held: ownership passes straight to the first waiter (`locked` stays true), or ends. */
static void mutex_release_locked(asx_mutex *m, rt_worker *w) {
  m->held = NULL;
  if (!rt_waiters_grant_one(&m->waiters, w)) m->locked = false;
}

/* The obligation's abort action: the holder ended without unlocking. */
static void mutex_abort(void *arg) {
  asx_mutex *m = arg;
  pthread_mutex_lock(&m->lock);
  mutex_release_locked(m, NULL);
  pthread_mutex_unlock(&m->lock);
}

int asx_mutex_lock_at(asx_cx *cx, asx_mutex *m, const char *file, int line) {
  asx_task *t = cx->task;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  asx_obligation *ob;
  int err = asx_obligation_reserve_at(cx, "mutex.lock", mutex_abort, m, &ob, file, line);
  if (err) return err;
  pthread_mutex_lock(&m->lock);
  if (!m->locked)
    m->locked = true;
  else
    err = wait_granted(&m->lock, &m->waiters, t, NULL);
  if (!err) m->held = ob;
  pthread_mutex_unlock(&m->lock);
  if (err) asx_obligation_commit(ob); /* not acquired: nothing to release */
  return err;
}

int asx_mutex_trylock(asx_mutex *m) {
  pthread_mutex_lock(&m->lock);
  int err = m->locked ? ASX_EBUSY : 0;
  m->locked = true;
  pthread_mutex_unlock(&m->lock);
  return err;
}

void asx_mutex_unlock(asx_mutex *m) {
  pthread_mutex_lock(&m->lock);
  asx_obligation *ob = m->held;
  rt_worker *w = ob ? ob->owner->worker : NULL; /* the holder is the caller */
  mutex_release_locked(m, w);
  pthread_mutex_unlock(&m->lock);
  if (ob) asx_obligation_commit(ob);
}

/* ---- Semaphore ---- */
struct asx_sem {
  const asx_allocator *alloc;
  pthread_mutex_t lock;
  uint64_t avail;
  rt_link waiters;
};

int asx_sem_new(const asx_allocator *a, uint64_t permits, asx_sem **out) {
  if (!out) return ASX_EINVAL;
  asx_sem *s = asx_calloc(a, 1, sizeof(*s));
  if (!s) return ASX_ENOMEM;
  s->alloc = a;
  s->avail = permits;
  pthread_mutex_init(&s->lock, NULL);
  rt_list_init(&s->waiters);
  *out = s;
  return 0;
}

void asx_sem_free(asx_sem *s) {
  if (!s) return;
  pthread_mutex_destroy(&s->lock);
  asx_free(s->alloc, s);
}

static void sem_put(asx_sem *s, rt_worker *w) {
  pthread_mutex_lock(&s->lock);
  if (!rt_waiters_grant_one(&s->waiters, w)) s->avail++;
  pthread_mutex_unlock(&s->lock);
}

static void sem_permit_abort(void *arg) { sem_put(arg, NULL); }

int asx_sem_acquire_at(asx_cx *cx, asx_sem *s, asx_sem_permit *p, const char *file, int line) {
  asx_task *t = cx->task;
  p->sem = NULL;
  p->ob = NULL;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  asx_obligation *ob;
  int err = asx_obligation_reserve_at(cx, "sem.permit", sem_permit_abort, s, &ob, file, line);
  if (err) return err;
  pthread_mutex_lock(&s->lock);
  if (s->avail > 0 && rt_list_empty(&s->waiters))
    s->avail--;
  else
    err = wait_granted(&s->lock, &s->waiters, t, NULL);
  pthread_mutex_unlock(&s->lock);
  if (err) {
    asx_obligation_commit(ob); /* nothing acquired: resolve without giving anything back */
    return err;
  }
  p->sem = s;
  p->ob = ob;
  return 0;
}

void asx_sem_release(asx_sem_permit *p) {
  if (!p->sem) return;
  sem_put(p->sem, p->ob->owner->worker);
  asx_obligation_commit(p->ob);
  p->sem = NULL;
  p->ob = NULL;
}

uint64_t asx_sem_available(asx_sem *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t n = s->avail;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* ---- Oneshot ---- */
enum { OS_EMPTY, OS_FULL, OS_TAKEN, OS_CLOSED };

struct asx_oneshot {
  const asx_allocator *alloc;
  pthread_mutex_t lock;
  int state;
  size_t size;
  rt_link waiters;
  uint8_t value[];
};

int asx_oneshot_new(const asx_allocator *a, size_t size, asx_oneshot **out) {
  if (!out || size > SIZE_MAX / 2) return ASX_EINVAL;
  asx_oneshot *o = asx_calloc(a, 1, sizeof(*o) + size);
  if (!o) return ASX_ENOMEM;
  o->alloc = a;
  o->size = size;
  o->state = OS_EMPTY;
  pthread_mutex_init(&o->lock, NULL);
  rt_list_init(&o->waiters);
  *out = o;
  return 0;
}

void asx_oneshot_free(asx_oneshot *o) {
  if (!o) return;
  pthread_mutex_destroy(&o->lock);
  asx_free(o->alloc, o);
}

int asx_oneshot_send(asx_oneshot *o, const void *value) {
  int err = 0;
  pthread_mutex_lock(&o->lock);
  if (o->state == OS_CLOSED) {
    err = ASX_ECLOSED;
  } else if (o->state != OS_EMPTY) {
    err = ASX_ESTATE;
  } else {
    if (o->size) memcpy(o->value, value, o->size);
    o->state = OS_FULL;
    rt_waiters_wake_all(&o->waiters, NULL);
  }
  pthread_mutex_unlock(&o->lock);
  return err;
}

int asx_oneshot_recv(asx_cx *cx, asx_oneshot *o, void *value) {
  asx_task *t = cx->task;
  if (rt_checkpoint(t, false)) return ASX_ECANCELED;
  int err = 0;
  pthread_mutex_lock(&o->lock);
  for (;;) {
    if (o->state == OS_FULL) {
      if (o->size) memcpy(value, o->value, o->size);
      o->state = OS_TAKEN;
      err = 0;
      break;
    }
    if (o->state == OS_CLOSED || o->state == OS_TAKEN) {
      err = o->state == OS_TAKEN ? ASX_ESTATE : ASX_ECLOSED;
      break;
    }
    if (err) break;
    rt_waiter wt = {.task = t, .granted = false};
    rt_list_init(&wt.link);
    rt_list_push_back(&o->waiters, &wt.link);
    pthread_mutex_unlock(&o->lock);
    err = rt_wait_unlimited(t);
    pthread_mutex_lock(&o->lock);
    if (rt_linked(&wt.link)) rt_list_remove(&wt.link);
  }
  pthread_mutex_unlock(&o->lock);
  return err;
}

void asx_oneshot_close(asx_oneshot *o) {
  pthread_mutex_lock(&o->lock);
  if (o->state == OS_EMPTY) {
    o->state = OS_CLOSED;
    rt_waiters_wake_all(&o->waiters, NULL);
  }
  pthread_mutex_unlock(&o->lock);
}

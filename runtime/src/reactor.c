/* See reactor.h. Registrations live in a table indexed by descriptor, guarded by one mutex that
 * is also held while a waiter is woken: once rt_reactor_unregister returns, no poller can still
 * be about to touch the task. A wake that raced with a timeout or cancellation is at worst a
 * spurious wake of a later wait, which asx_io_wait's callers tolerate by retrying. */
#include "reactor.h"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define WAKE_TAG UINT64_MAX
#define EVENTS_PER_POLL 64

typedef struct io_slot {
  struct asx_task *rd, *wr;
} io_slot;

struct rt_reactor {
  const asx_allocator *alloc;
  int epfd, evfd;
  pthread_mutex_t lock;
  io_slot *slots;
  size_t nslots;
  _Atomic bool used;
};

int rt_reactor_new(const asx_allocator *a, rt_reactor **out) {
  rt_reactor *r = asx_calloc(a, 1, sizeof(*r));
  if (!r) return ASX_ENOMEM;
  r->alloc = a;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
  if (r->epfd < 0 || r->evfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) != 0) {
    if (r->epfd >= 0) close(r->epfd);
    if (r->evfd >= 0) close(r->evfd);
    asx_free(a, r);
    return ASX_EIO;
  }
  pthread_mutex_init(&r->lock, NULL);
  *out = r;
  return 0;
}

void rt_reactor_free(rt_reactor *r) {
  if (!r) return;
  close(r->epfd);
  close(r->evfd);
  pthread_mutex_destroy(&r->lock);
  asx_free(r->alloc, r->slots);
  asx_free(r->alloc, r);
}

bool rt_reactor_in_use(rt_reactor *r) { return atomic_load_explicit(&r->used, memory_order_relaxed); }

/* Lock held. Arms the descriptor for the directions that still have a waiter. */
static int arm(rt_reactor *r, int fd, const io_slot *s) {
  uint32_t want = 0;
  if (s->rd) want |= EPOLLIN | EPOLLRDHUP;
  if (s->wr) want |= EPOLLOUT;
  if (!want) return 0; /* a oneshot registration with nobody waiting fires at most once, harmlessly */
  struct epoll_event ev = {.events = want | EPOLLONESHOT, .data.u64 = (uint64_t)fd};
  if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno == ENOENT && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  return errno == ENOMEM || errno == ENOSPC ? ASX_ENOMEM : ASX_EINVAL;
}

int rt_reactor_register(rt_reactor *r, int fd, unsigned events, asx_task *t) {
  pthread_mutex_lock(&r->lock);
  if ((size_t)fd >= r->nslots) {
    size_t n = r->nslots ? r->nslots : 64;
    while (n <= (size_t)fd) n *= 2;
    io_slot *s = asx_realloc(r->alloc, r->slots, n * sizeof(*s));
    if (!s) {
      pthread_mutex_unlock(&r->lock);
      return ASX_ENOMEM;
    }
    for (size_t i = r->nslots; i < n; i++) s[i].rd = s[i].wr = NULL;
    r->slots = s;
    r->nslots = n;
  }
  io_slot *s = &r->slots[fd];
  if (((events & ASX_IO_READ) && s->rd && s->rd != t) ||
      ((events & ASX_IO_WRITE) && s->wr && s->wr != t)) {
    pthread_mutex_unlock(&r->lock);
    return ASX_EBUSY;
  }
  io_slot before = *s;
  if (events & ASX_IO_READ) s->rd = t;
  if (events & ASX_IO_WRITE) s->wr = t;
  int err = arm(r, fd, s);
  if (err) *s = before;
  pthread_mutex_unlock(&r->lock);
  if (!err) atomic_store_explicit(&r->used, true, memory_order_relaxed);
  return err;
}

bool rt_reactor_unregister(rt_reactor *r, int fd, unsigned events, asx_task *t) {
  bool fired = false;
  pthread_mutex_lock(&r->lock);
  io_slot *s = &r->slots[fd];
  /* The poller clears a direction when it reports it: still set means not reported. */
  if (events & ASX_IO_READ) {
    if (s->rd == t) s->rd = NULL;
    else fired = true;
  }
  if (events & ASX_IO_WRITE) {
    if (s->wr == t) s->wr = NULL;
    else fired = true;
  }
  pthread_mutex_unlock(&r->lock);
  return fired;
}

int rt_reactor_poll(rt_reactor *r, rt_worker *w, int timeout_ms) {
  struct epoll_event evs[EVENTS_PER_POLL];
  int n = epoll_wait(r->epfd, evs, EVENTS_PER_POLL, timeout_ms);
  if (n <= 0) return 0; /* EINTR or timeout */
  int woken = 0;
  pthread_mutex_lock(&r->lock);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.u64 == WAKE_TAG) {
      uint64_t v;
      ssize_t rc = read(r->evfd, &v, sizeof(v)); /* drain; EAGAIN when someone else did */
      (void)rc;
      continue;
    }
    int fd = (int)evs[i].data.u64;
    if ((size_t)fd >= r->nslots) continue;
    io_slot *s = &r->slots[fd];
    uint32_t e = evs[i].events;
    bool err = (e & (EPOLLERR | EPOLLHUP)) != 0;
    if (s->rd && (err || (e & (EPOLLIN | EPOLLRDHUP)))) {
      rt_wake(s->rd, w);
      s->rd = NULL;
      woken++;
    }
    if (s->wr && (err || (e & EPOLLOUT))) {
      rt_wake(s->wr, w);
      s->wr = NULL;
      woken++;
    }
    /* Oneshot disarmed the whole descriptor: re-arm for a direction still waiting. */
    if ((s->rd || s->wr) && arm(r, fd, s) != 0) {
      /* Could not re-arm: wake them all rather than leave one waiting forever; they retry. */
      if (s->rd) rt_wake(s->rd, w);
      if (s->wr) rt_wake(s->wr, w);
      s->rd = s->wr = NULL;
    }
  }
  pthread_mutex_unlock(&r->lock);
  return woken;
}

void rt_reactor_interrupt(rt_reactor *r) {
  uint64_t one = 1;
  ssize_t rc = write(r->evfd, &one, sizeof(one)); /* EAGAIN only at 2^64-2 pending: fine */
  (void)rc;
}

/* The epoll reactor, plugged into the threads driver through asx_io_hooks: the runtime's idle
 * worker (one at a time) calls reactor_wait instead of sleeping on its futex, and
 * reactor_interrupt (an eventfd write) gets it out when work arrives for it.
 *
 * Registrations are EPOLLONESHOT, re-armed by every wait with EPOLL_CTL_MOD (ADD on ENOENT, so a
 * recycled descriptor number just works). MOD re-checks readiness, so bytes that arrived between
 * the failed syscall and the wait are never missed. A table indexed by fd holds the waiting
 * reader/writer under one mutex; the poller wakes a task while holding it, and asx_io_wait
 * withdraws its registration under it before returning, so the poller never touches a task that
 * moved on. A stale event at worst wakes a later wait spuriously; callers retry the syscall. */
#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net_internal.h"

#define WAKE_TAG UINT64_MAX
#define EVENTS_PER_POLL 64

typedef struct io_slot {
  asx_task *rd, *wr;
} io_slot;

struct asx_net_reactor {
  const asx_allocator *alloc;
  int epfd, evfd;
  pthread_mutex_t lock;
  io_slot *slots;
  size_t nslots;
};

static void reactor_wait(void *ud, int64_t timeout_ns);
static void reactor_interrupt(void *ud);

int asx_net_reactor_new(const asx_allocator *a, asx_net_reactor **out) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_net_reactor *r = asx_calloc(a, 1, sizeof(*r));
  if (!r) return ASX_ENOMEM;
  r->alloc = a;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
  if (r->epfd < 0 || r->evfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) != 0) {
    int e = errno;
    if (r->epfd >= 0) close(r->epfd);
    if (r->evfd >= 0) close(r->evfd);
    asx_free(a, r);
    return net_errno_to_asx(e) == ASX_ENOMEM ? ASX_ENOMEM : ASX_EIO;
  }
  pthread_mutex_init(&r->lock, NULL);
  *out = r;
  return 0;
}

void asx_net_reactor_configure(asx_net_reactor *r, asx_runtime_config *cfg) {
  cfg->io.wait = reactor_wait;
  cfg->io.interrupt = reactor_interrupt;
  cfg->io.ud = r;
}

void asx_net_reactor_free(asx_net_reactor *r) {
  if (!r) return;
  close(r->epfd);
  close(r->evfd);
  pthread_mutex_destroy(&r->lock);
  asx_free(r->alloc, r->slots);
  asx_free(r->alloc, r);
}

/* Lock held. Arms the descriptor for the directions that still have a waiter. */
static int arm(asx_net_reactor *r, int fd, const io_slot *s) {
  uint32_t want = 0;
  if (s->rd) want |= EPOLLIN | EPOLLRDHUP;
  if (s->wr) want |= EPOLLOUT;
  if (!want) return 0; /* a oneshot registration nobody waits on fires at most once, harmlessly */
  struct epoll_event ev = {.events = want | EPOLLONESHOT, .data.u64 = (uint64_t)fd};
  if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno == ENOENT && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  return errno == ENOMEM || errno == ENOSPC ? ASX_ENOMEM : ASX_EINVAL;
}

static int reactor_register(asx_net_reactor *r, int fd, unsigned events, asx_task *t) {
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
  return err;
}

/* True when the poller reported readiness for t (it clears a direction when it reports it). */
static bool reactor_unregister(asx_net_reactor *r, int fd, unsigned events, asx_task *t) {
  bool fired = false;
  pthread_mutex_lock(&r->lock);
  io_slot *s = &r->slots[fd];
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

static void reactor_wait(void *ud, int64_t timeout_ns) {
  asx_net_reactor *r = ud;
  struct epoll_event evs[EVENTS_PER_POLL];
  /* Round up: waking before the next timer is due would spin. */
  int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
  int n = epoll_wait(r->epfd, evs, EVENTS_PER_POLL, ms);
  if (n <= 0) return; /* timeout or EINTR */
  pthread_mutex_lock(&r->lock);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.u64 == WAKE_TAG) {
      uint64_t v;
      ssize_t rc = read(r->evfd, &v, sizeof(v)); /* drain; EAGAIN if another poll did */
      (void)rc;
      continue;
    }
    int fd = (int)evs[i].data.u64;
    if ((size_t)fd >= r->nslots) continue;
    io_slot *s = &r->slots[fd];
    uint32_t e = evs[i].events;
    bool err = (e & (EPOLLERR | EPOLLHUP)) != 0;
    if (s->rd && (err || (e & (EPOLLIN | EPOLLRDHUP)))) {
      asx_task_wake(s->rd);
      s->rd = NULL;
    }
    if (s->wr && (err || (e & EPOLLOUT))) {
      asx_task_wake(s->wr);
      s->wr = NULL;
    }
    /* Oneshot disarmed the whole descriptor: re-arm for a direction still waiting. */
    if ((s->rd || s->wr) && arm(r, fd, s) != 0) {
      /* Could not re-arm: wake them rather than leave one waiting forever; they retry. */
      if (s->rd) asx_task_wake(s->rd);
      if (s->wr) asx_task_wake(s->wr);
      s->rd = s->wr = NULL;
    }
  }
  pthread_mutex_unlock(&r->lock);
}

static void reactor_interrupt(void *ud) {
  asx_net_reactor *r = ud;
  uint64_t one = 1;
  ssize_t rc = write(r->evfd, &one, sizeof(one)); /* EAGAIN only with 2^64-2 pending: fine */
  (void)rc;
}

int asx_io_wait(asx_cx *cx, int fd, unsigned events, uint64_t deadline) {
  if (fd < 0 || events == 0 || (events & ~(ASX_IO_READ | ASX_IO_WRITE)) != 0) return ASX_EINVAL;
  const asx_io_hooks *h = asx_cx_io(cx);
  if (h->wait != reactor_wait) return ASX_EUNSUPPORTED;
  asx_net_reactor *r = h->ud;
  asx_task *t = asx_cx_task(cx);
  int err = reactor_register(r, fd, events, t);
  if (err) return err;
  /* Woken by readiness, or spuriously (a stale wake from an earlier wait): either way the
   * caller retries its operation and, on EAGAIN, waits again. */
  err = asx_park(cx, deadline);
  bool fired = reactor_unregister(r, fd, events, t);
  if (err == ASX_ECANCELED || err == ASX_ENOMEM) return err;
  if (fired) return 0;
  return err;
}

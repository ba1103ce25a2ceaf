/* The epoll reactor, plugged into the threads driver through asx_io_hooks: the runtime's idle
 * worker (one at a time) calls reactor_wait instead of sleeping on its futex, and
 * reactor_interrupt (an eventfd write) gets it out when work arrives for it.
 *
 * A table indexed by fd holds the waiting reader/writer under one mutex; the poller wakes a task
 * while holding it, and asx_io_wait withdraws its registration under it before returning, so the
 * poller never touches a task that moved on. A stale event at worst wakes a later wait
 * spuriously; callers retry the syscall. Two registration modes (docs/net.md, "Reactor modes"):
 *
 * ONESHOT: every wait re-arms with EPOLL_CTL_MOD (ADD on ENOENT, so a recycled descriptor number
 * just works). MOD re-checks readiness, so bytes that arrived between the failed syscall and the
 * wait are never missed.
 *
 * EDGE (default): descriptors net/ owns (streams, listeners, connects) are added for both
 * directions with EPOLLET at their first wait and stay registered until their owner closes them
 * (net_reactor_forget: the kernel drops a closed fd silently, so a reused number would otherwise
 * look registered and never fire). A caller's own descriptor passed to asx_io_wait has no close
 * hook, so it is waited on oneshot unless its owner registered it already. An edge that arrives while nobody waits is latched in the slot;
 * the next wait in that direction consumes it and returns at once, which closes the race between
 * the caller's EAGAIN and its registration (at the price of one spurious retry when the latched
 * edge was already consumed by a read). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net_internal.h"

#define WAKE_TAG UINT64_MAX
#define EVENTS_PER_POLL 64

typedef struct io_slot {
  asx_task *rd, *wr;
  uint8_t registered; /* EDGE: in the epoll set */
  uint8_t latched;    /* EDGE: ASX_IO_READ/WRITE edges seen with nobody waiting */
} io_slot;

struct asx_net_reactor {
  const asx_allocator *alloc;
  asx_net_reactor_mode mode;
  int epfd, evfd;
  pthread_mutex_t lock;
  io_slot *slots;
  size_t nslots;
  /* EDGE: streams and listeners that keep this reactor to forget their fd at close. The memory
   * lives until the last of them is closed, so closing one after asx_net_reactor_free is safe. */
  size_t owners;
  bool freed;
};

static void reactor_wait(void *ud, int64_t timeout_ns);
static void reactor_interrupt(void *ud);

/* ASX_REACTOR=oneshot|edge picks the initial mode (how CI runs the socket suites in both). */
static int mode_from_env(asx_net_reactor_mode *m) {
  const char *v = getenv("ASX_REACTOR");
  if (!v || !*v) return 0;
  if (strcmp(v, "oneshot") == 0) *m = ASX_REACTOR_ONESHOT;
  else if (strcmp(v, "edge") == 0) *m = ASX_REACTOR_EDGE;
  else return ASX_EINVAL;
  return 0;
}

int asx_net_reactor_new(const asx_allocator *a, asx_net_reactor **out) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_net_reactor_mode mode = ASX_REACTOR_EDGE;
  if (mode_from_env(&mode) != 0) return ASX_EINVAL;
  asx_net_reactor *r = asx_calloc(a, 1, sizeof(*r));
  if (!r) return ASX_ENOMEM;
  r->alloc = a;
  r->mode = mode;
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

int asx_net_reactor_set_mode(asx_net_reactor *r, asx_net_reactor_mode mode) {
  if (!r || (mode != ASX_REACTOR_ONESHOT && mode != ASX_REACTOR_EDGE)) return ASX_EINVAL;
  r->mode = mode;
  return 0;
}

asx_net_reactor_mode asx_net_reactor_get_mode(const asx_net_reactor *r) { return r->mode; }

void asx_net_reactor_configure(asx_net_reactor *r, asx_runtime_config *cfg) {
  cfg->io.wait = reactor_wait;
  cfg->io.interrupt = reactor_interrupt;
  cfg->io.ud = r;
}

static void reactor_destroy(asx_net_reactor *r) {
  pthread_mutex_destroy(&r->lock);
  asx_free(r->alloc, r->slots);
  asx_free(r->alloc, r);
}

void asx_net_reactor_free(asx_net_reactor *r) {
  if (!r) return;
  pthread_mutex_lock(&r->lock);
  close(r->epfd);
  close(r->evfd);
  r->epfd = r->evfd = -1; /* a later forget must not touch a number reused by someone else */
  r->freed = true;
  bool last = r->owners == 0;
  pthread_mutex_unlock(&r->lock);
  if (last) reactor_destroy(r);
}

static int epoll_errno_to_asx(int e) { return e == ENOMEM || e == ENOSPC ? ASX_ENOMEM : ASX_EINVAL; }

/* Lock held. EDGE: puts fd in the epoll set for both directions, once. EEXIST: an earlier oneshot
 * wait on fd (a caller's asx_io_wait before wrapping it in a stream) left its disarmed
 * registration; MOD turns it into this one. */
static int edge_register(asx_net_reactor *r, int fd, io_slot *s) {
  if (s->registered) return 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = (uint64_t)fd};
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 &&
      (errno != EEXIST || epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) != 0))
    return epoll_errno_to_asx(errno);
  s->registered = 1;
  s->latched = 0; /* ADD reports the current readiness as a fresh edge */
  return 0;
}

/* Lock held. ONESHOT: arms the descriptor for the directions that still have a waiter. */
static int arm(asx_net_reactor *r, int fd, const io_slot *s) {
  uint32_t want = 0;
  if (s->rd) want |= EPOLLIN | EPOLLRDHUP;
  if (s->wr) want |= EPOLLOUT;
  if (!want) return 0; /* a oneshot registration nobody waits on fires at most once, harmlessly */
  struct epoll_event ev = {.events = want | EPOLLONESHOT, .data.u64 = (uint64_t)fd};
  if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno == ENOENT && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  return epoll_errno_to_asx(errno);
}

/* Lock held. Grows the table so fd has a slot. */
static int ensure_slot(asx_net_reactor *r, int fd) {
  if ((size_t)fd < r->nslots) return 0;
  size_t n = r->nslots ? r->nslots : 64;
  while (n <= (size_t)fd) n *= 2;
  io_slot *s = asx_realloc(r->alloc, r->slots, n * sizeof(*s));
  if (!s) return ASX_ENOMEM;
  memset(s + r->nslots, 0, (n - r->nslots) * sizeof(*s));
  r->slots = s;
  r->nslots = n;
  return 0;
}

/* 0: t now waits; READY_NOW (EDGE): an edge latched for `events` was consumed, do not park. */
enum { READY_NOW = 1 };

/* owned: the caller (a stream, listener or connect of net/) forgets fd before closing it, so in
 * EDGE mode fd may stay registered; a descriptor of unknown lifetime is waited on oneshot, unless
 * its owner has already registered it edge-triggered. */
static int reactor_register(asx_net_reactor *r, int fd, unsigned events, asx_task *t, bool owned) {
  pthread_mutex_lock(&r->lock);
  int err = ensure_slot(r, fd);
  if (err) {
    pthread_mutex_unlock(&r->lock);
    return err;
  }
  io_slot *s = &r->slots[fd];
  if (((events & ASX_IO_READ) && s->rd && s->rd != t) ||
      ((events & ASX_IO_WRITE) && s->wr && s->wr != t)) {
    pthread_mutex_unlock(&r->lock);
    return ASX_EBUSY;
  }
  if (s->registered || (owned && r->mode == ASX_REACTOR_EDGE)) {
    err = edge_register(r, fd, s);
    if (!err && (s->latched & events)) {
      s->latched &= (uint8_t)~events;
      err = READY_NOW;
    } else if (!err) {
      if (events & ASX_IO_READ) s->rd = t;
      if (events & ASX_IO_WRITE) s->wr = t;
    }
    pthread_mutex_unlock(&r->lock);
    return err;
  }
  io_slot before = *s;
  if (events & ASX_IO_READ) s->rd = t;
  if (events & ASX_IO_WRITE) s->wr = t;
  err = arm(r, fd, s);
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
    unsigned ready = (err || (e & (EPOLLIN | EPOLLRDHUP)) ? ASX_IO_READ : 0u) |
                     (err || (e & EPOLLOUT) ? ASX_IO_WRITE : 0u);
    if (s->rd && (ready & ASX_IO_READ)) {
      asx_task_wake(s->rd);
      s->rd = NULL;
      ready &= ~ASX_IO_READ;
    }
    if (s->wr && (ready & ASX_IO_WRITE)) {
      asx_task_wake(s->wr);
      s->wr = NULL;
      ready &= ~ASX_IO_WRITE;
    }
    if (s->registered) {
      s->latched |= (uint8_t)ready; /* nobody waited: keep the edge */
      continue;
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

static asx_net_reactor *reactor_of(asx_cx *cx) {
  const asx_io_hooks *h = asx_cx_io(cx);
  return h->wait == reactor_wait ? h->ud : NULL;
}

void net_reactor_forget(asx_net_reactor *r, int fd) {
  if (!r) return;
  pthread_mutex_lock(&r->lock);
  if (fd >= 0 && (size_t)fd < r->nslots) {
    io_slot *s = &r->slots[fd];
    /* DEL, not just forgetting: a dup of fd would keep the registration (and its events) alive. */
    if (s->registered && r->epfd >= 0) epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
    /* A task still waiting on a descriptor being closed is woken to find it gone. */
    if (s->rd) asx_task_wake(s->rd);
    if (s->wr && s->wr != s->rd) asx_task_wake(s->wr);
    memset(s, 0, sizeof(*s));
  }
  bool last = --r->owners == 0 && r->freed;
  pthread_mutex_unlock(&r->lock);
  if (last) reactor_destroy(r);
}

/* EDGE: makes *owner hold r (one reference, dropped by net_reactor_forget). A descriptor moved to
 * another runtime's reactor first forgets the old one. */
static void owner_attach(asx_net_reactor *r, asx_net_reactor **owner, int fd) {
  if (*owner == r) return;
  net_reactor_forget(*owner, fd);
  pthread_mutex_lock(&r->lock);
  r->owners++;
  pthread_mutex_unlock(&r->lock);
  *owner = r;
}

/* owner: NULL for a caller's descriptor; else where an owner keeps the reactor to forget fd
 * with (set before registering, so a failed wait is forgotten too). */
static int io_wait(asx_cx *cx, int fd, unsigned events, uint64_t deadline, asx_net_reactor **owner) {
  if (fd < 0 || events == 0 || (events & ~(ASX_IO_READ | ASX_IO_WRITE)) != 0) return ASX_EINVAL;
  asx_net_reactor *r = reactor_of(cx);
  if (!r) return ASX_EUNSUPPORTED;
  if (owner && r->mode == ASX_REACTOR_EDGE) owner_attach(r, owner, fd);
  asx_task *t = asx_cx_task(cx);
  int err = reactor_register(r, fd, events, t, owner != NULL);
  if (err == READY_NOW) return asx_checkpoint(cx); /* still a cancellation checkpoint */
  if (err) return err;
  /* Woken by readiness, or spuriously (a stale wake from an earlier wait): either way the
   * caller retries its operation and, on EAGAIN, waits again. */
  err = asx_park(cx, deadline);
  bool fired = reactor_unregister(r, fd, events, t);
  if (err == ASX_ECANCELED || err == ASX_ENOMEM) return err;
  if (fired) return 0;
  return err;
}

int asx_io_wait(asx_cx *cx, int fd, unsigned events, uint64_t deadline) {
  return io_wait(cx, fd, events, deadline, NULL);
}

int net_io_wait_owned(asx_cx *cx, int fd, unsigned events, uint64_t deadline, asx_net_reactor **owner) {
  return io_wait(cx, fd, events, deadline, owner);
}

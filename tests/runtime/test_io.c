/* I/O readiness through asx_io_hooks: a minimal epoll reactor (what net/ will provide) driven by
 * the idle worker; tasks wait for pipes written by a foreign thread; cancellation of a waiter. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rt_test.h"

TestSuite(rt_io, .timeout = 60);

#define NPIPES 4
#define MAXFD 1024

typedef struct reactor {
  int epfd, efd;
  pthread_mutex_t mu;
  asx_task *waiter[MAXFD]; /* under mu */
  _Atomic int waits, interrupts;
} reactor;

static reactor g_re = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void re_wait(void *ud, int64_t timeout_ns) {
  reactor *re = ud;
  atomic_fetch_add(&re->waits, 1);
  int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
  struct epoll_event ev[16];
  int n = epoll_wait(re->epfd, ev, 16, ms);
  for (int i = 0; i < n; i++) {
    int fd = ev[i].data.fd;
    if (fd == re->efd) {
      uint64_t v;
      ssize_t r = read(re->efd, &v, sizeof(v));
      (void)r;
      continue;
    }
    pthread_mutex_lock(&re->mu);
    asx_task *t = re->waiter[fd];
    re->waiter[fd] = NULL;
    if (t) asx_task_wake(t);
    pthread_mutex_unlock(&re->mu);
  }
}

static void re_interrupt(void *ud) {
  reactor *re = ud;
  atomic_fetch_add(&re->interrupts, 1);
  uint64_t one = 1;
  ssize_t r = write(re->efd, &one, sizeof(one));
  (void)r;
}

/* Waits until fd is readable: publish the waiter and re-arm one-shot interest (level-triggered,
 * so data already there is reported at once), park; loop on spurious wakes. */
static int wait_readable(asx_cx *cx, int fd) {
  for (;;) {
    pthread_mutex_lock(&g_re.mu);
    g_re.waiter[fd] = asx_cx_task(cx);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = fd};
    epoll_ctl(g_re.epfd, EPOLL_CTL_MOD, fd, &ev);
    pthread_mutex_unlock(&g_re.mu);
    int err = asx_park(cx, ASX_UNLIMITED);
    pthread_mutex_lock(&g_re.mu);
    bool woken = g_re.waiter[fd] == NULL;
    g_re.waiter[fd] = NULL;
    pthread_mutex_unlock(&g_re.mu);
    if (woken) return 0;
    if (err) return err;
  }
}

static int g_pipes[NPIPES][2];
static _Atomic int g_bytes;

static int pipe_reader(asx_cx *cx, void *arg) {
  int fd = g_pipes[(uintptr_t)arg][0];
  int err = wait_readable(cx, fd);
  if (err) return err;
  char buf[16];
  ssize_t n = read(fd, buf, sizeof(buf));
  cr_assert_gt(n, 0);
  atomic_fetch_add(&g_bytes, (int)n);
  return 0;
}

static void *writer(void *arg) {
  (void)arg;
  for (int i = 0; i < NPIPES; i++) {
    struct timespec ts = {0, 2 * 1000000};
    nanosleep(&ts, NULL);
    ssize_t r = write(g_pipes[i][1], "hello", 5);
    (void)r;
  }
  return NULL;
}

static int never_fed(asx_cx *cx, void *arg) {
  (void)arg;
  return wait_readable(cx, g_pipes[NPIPES - 1][0]);
}

static int io_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (uintptr_t i = 0; i < NPIPES - 1; i++) asx_spawn(cx, r, pipe_reader, (void *)i, NULL, NULL);
  asx_region_close(cx, r, NULL);
  cr_assert_eq(atomic_load(&g_bytes), 5 * (NPIPES - 1));
  /* A reader that never gets data leaves on cancellation and unregisters itself. */
  asx_task *h;
  asx_spawn(cx, NULL, never_fed, NULL, NULL, &h);
  asx_sleep(cx, 1 * MS_NS);
  asx_task_cancel(h, ASX_CANCEL_USER);
  int rc;
  asx_task_join(cx, h, &rc, NULL);
  cr_assert_eq(rc, ASX_ECANCELED);
  return 0;
}

Test(rt_io, idle_worker_drives_io_hooks) {
  g_re.epfd = epoll_create1(EPOLL_CLOEXEC);
  g_re.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = g_re.efd};
  cr_assert_eq(epoll_ctl(g_re.epfd, EPOLL_CTL_ADD, g_re.efd, &ev), 0);
  for (int i = 0; i < NPIPES; i++) {
    cr_assert_eq(pipe(g_pipes[i]), 0);
    struct epoll_event pe = {.events = 0, .data.fd = g_pipes[i][0]};
    cr_assert_eq(epoll_ctl(g_re.epfd, EPOLL_CTL_ADD, g_pipes[i][0], &pe), 0);
  }
  pthread_t th;
  pthread_create(&th, NULL, writer, NULL);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  c.io = (asx_io_hooks){re_wait, re_interrupt, &g_re};
  rt_test_run(&c, io_main, NULL, NULL, NULL);
  pthread_join(th, NULL);
  cr_assert_gt(atomic_load(&g_re.waits), 0, "an idle worker waited in the I/O hook");
  for (int i = 0; i < NPIPES; i++) {
    close(g_pipes[i][0]);
    close(g_pipes[i][1]);
  }
  close(g_re.epfd);
  close(g_re.efd);
}

Test(rt_io, hooks_must_come_in_pairs) {
  asx_runtime_config c;
  asx_runtime_config_default(&c);
  c.io.wait = re_wait;
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&c, &rt), ASX_EINVAL);
  cr_assert_null(rt);
}

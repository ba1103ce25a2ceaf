/* Primitives: channel (FIFO, MPSC, close, two-phase send under cancellation), oneshot, mutex,
 * semaphore; all on both drivers. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "rt_test.h"

TestSuite(rt_prims, .timeout = 90);

static const asx_driver_kind DRIVERS[] = {ASX_DRIVER_THREADS, ASX_DRIVER_DETERMINISTIC};

/* ---- channel: MPSC with per-producer order, then close ---- */
#define PRODUCERS 4
#define PER_PRODUCER 500

static asx_chan *g_ch;

static int producer(asx_cx *cx, void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  for (uint32_t i = 0; i < PER_PRODUCER; i++) {
    uint32_t msg = id << 16 | i;
    cr_assert_eq(asx_chan_send(cx, g_ch, &msg), 0);
    if (i % 7 == 0) asx_yield(cx);
  }
  return 0;
}

static int mpsc_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (uintptr_t p = 0; p < PRODUCERS; p++) asx_spawn(cx, r, producer, (void *)p, NULL, NULL);
  uint32_t next[PRODUCERS] = {0};
  for (int n = 0; n < PRODUCERS * PER_PRODUCER; n++) {
    uint32_t msg;
    cr_assert_eq(asx_chan_recv(cx, g_ch, &msg), 0);
    uint32_t id = msg >> 16, seq = msg & 0xffff;
    cr_assert_lt(id, PRODUCERS);
    cr_assert_eq(seq, next[id], "producer %u: got %u, expected %u", id, seq, next[id]);
    next[id]++;
  }
  asx_region_close(cx, r, NULL);
  asx_chan_close(g_ch);
  uint32_t msg;
  cr_assert_eq(asx_chan_recv(cx, g_ch, &msg), ASX_ECLOSED);
  cr_assert_eq(asx_chan_send(cx, g_ch, &msg), ASX_ECLOSED);
  return 0;
}

Test(rt_prims, channel_mpsc_fifo_and_close) {
  for (size_t d = 0; d < 2; d++) {
    cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 4, &g_ch), 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, mpsc_main, NULL, NULL, NULL);
    asx_chan_free(g_ch);
  }
}

/* ---- channel: a cancelled sender never loses a committed message ---- */
#define SENDERS 6

static _Atomic uint64_t g_committed;
static _Atomic int g_reserve_cancelled;

static int eager_sender(asx_cx *cx, void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (uint32_t i = 0;; i++) {
    asx_chan_permit p;
    int err = asx_chan_reserve(cx, g_ch, &p);
    if (err == ASX_ECANCELED) {
      atomic_fetch_add(&g_reserve_cancelled, 1);
      return err;
    }
    cr_assert_eq(err, 0);
    /* Between reserve and commit the sender may be cancelled: the commit still delivers. */
    if (i % 3 == id % 3) asx_yield(cx);
    uint64_t msg = (uint64_t)id << 32 | i;
    asx_chan_commit(&p, &msg);
    atomic_fetch_add(&g_committed, 1);
  }
}

static int slow_receiver(asx_cx *cx, void *arg) {
  uint64_t *received = arg;
  uint64_t msg;
  for (;;) {
    int err = asx_chan_recv(cx, g_ch, &msg);
    if (err == ASX_ECLOSED) return 0;
    cr_assert_eq(err, 0);
    (*received)++;
    if (*received % 5 == 0) asx_sleep(cx, 100000);
  }
}

static int cancel_send_main(asx_cx *cx, void *arg) {
  (void)arg;
  uint64_t received = 0;
  asx_region *rx;
  asx_region_open(cx, NULL, &rx);
  asx_spawn(cx, rx, slow_receiver, &received, NULL, NULL);
  asx_region *senders;
  asx_region_open(cx, NULL, &senders);
  for (uintptr_t i = 0; i < SENDERS; i++) asx_spawn(cx, senders, eager_sender, (void *)i, NULL, NULL);
  asx_sleep(cx, 3 * MS_NS);
  asx_region_cancel(senders, ASX_CANCEL_USER);
  asx_region_close(cx, senders, NULL);
  asx_chan_close(g_ch); /* the receiver drains what was committed, then sees ECLOSED */
  asx_region_close(cx, rx, NULL);
  cr_assert_eq(atomic_load(&g_reserve_cancelled), SENDERS, "every sender ended in reserve");
  cr_assert_gt(received, 0);
  cr_assert_eq(received, atomic_load(&g_committed), "committed %llu, received %llu",
               (unsigned long long)atomic_load(&g_committed), (unsigned long long)received);
  return 0;
}

Test(rt_prims, cancelled_sender_never_loses_committed_message) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_committed, 0);
    atomic_store(&g_reserve_cancelled, 0);
    cr_assert_eq(asx_chan_new(NULL, sizeof(uint64_t), 3, &g_ch), 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, cancel_send_main, NULL, NULL, &s);
    cr_assert_eq(s.obligation_leaks, 0);
    asx_chan_free(g_ch);
  }
}

/* A receiver cancelled while waiting takes nothing; the message stays for the next recv. */
static int cancelled_receiver(asx_cx *cx, void *arg) {
  (void)arg;
  uint64_t m;
  return asx_chan_recv(cx, g_ch, &m);
}

static int recv_cancel_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_task *h;
  asx_spawn(cx, NULL, cancelled_receiver, NULL, NULL, &h);
  asx_sleep(cx, 1 * MS_NS);
  asx_task_cancel(h, ASX_CANCEL_USER);
  int rc;
  asx_task_join(cx, h, &rc, NULL);
  cr_assert_eq(rc, ASX_ECANCELED);
  uint64_t v = 77, out = 0;
  asx_chan_send(cx, g_ch, &v);
  cr_assert_eq(asx_chan_try_recv(g_ch, &out), 0);
  cr_assert_eq(out, 77);
  cr_assert_eq(asx_chan_try_recv(g_ch, &out), ASX_EAGAIN);
  return 0;
}

Test(rt_prims, cancelled_receiver_takes_nothing) {
  for (size_t d = 0; d < 2; d++) {
    cr_assert_eq(asx_chan_new(NULL, sizeof(uint64_t), 2, &g_ch), 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    cr_assert_eq(rt_test_run(&c, recv_cancel_main, NULL, NULL, NULL), ASX_OUTCOME_CANCELLED);
    asx_chan_free(g_ch);
  }
}

Test(rt_prims, channel_bad_arguments) {
  asx_chan *ch = NULL;
  cr_assert_eq(asx_chan_new(NULL, 0, 4, &ch), ASX_EINVAL);
  cr_assert_eq(asx_chan_new(NULL, 4, 0, &ch), ASX_EINVAL);
  cr_assert_eq(asx_chan_new(NULL, SIZE_MAX / 2, 4, &ch), ASX_EOVERFLOW);
  cr_assert_null(ch);
}

/* ---- oneshot ---- */
static asx_oneshot *g_os;

static int os_sender(asx_cx *cx, void *arg) {
  (void)arg;
  asx_sleep(cx, 1 * MS_NS);
  int v = 1234;
  cr_assert_eq(asx_oneshot_send(g_os, &v), 0);
  cr_assert_eq(asx_oneshot_send(g_os, &v), ASX_ESTATE);
  return 0;
}

static int os_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_spawn(cx, NULL, os_sender, NULL, NULL, NULL);
  int v = 0;
  cr_assert_eq(asx_oneshot_recv(cx, g_os, &v), 0);
  cr_assert_eq(v, 1234);
  asx_oneshot *o2;
  asx_oneshot_new(NULL, sizeof(int), &o2);
  asx_oneshot_close(o2);
  cr_assert_eq(asx_oneshot_recv(cx, o2, &v), ASX_ECLOSED);
  asx_oneshot_free(o2);
  return 0;
}

Test(rt_prims, oneshot) {
  for (size_t d = 0; d < 2; d++) {
    asx_oneshot_new(NULL, sizeof(int), &g_os);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, os_main, NULL, NULL, NULL);
    asx_oneshot_free(g_os);
  }
}

/* ---- mutex: mutual exclusion across yields; cancel while waiting ---- */
static asx_mutex *g_mu;
static int g_inside, g_counter;

static int locker(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < 50; i++) {
    cr_assert_eq(asx_mutex_lock(cx, g_mu), 0);
    cr_assert_eq(g_inside, 0, "two tasks inside the critical section");
    g_inside = 1;
    int c = g_counter;
    asx_yield(cx);
    g_counter = c + 1;
    g_inside = 0;
    asx_mutex_unlock(g_mu);
  }
  return 0;
}

static int stuck_locker(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_mutex_lock(cx, g_mu);
}

static int mutex_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (int i = 0; i < 4; i++) asx_spawn(cx, r, locker, NULL, NULL, NULL);
  asx_region_close(cx, r, NULL);
  cr_assert_eq(g_counter, 200);
  /* Held by us: a waiter that is cancelled gives up without the lock. */
  cr_assert_eq(asx_mutex_trylock(g_mu), 0);
  cr_assert_eq(asx_mutex_trylock(g_mu), ASX_EBUSY);
  asx_task *h;
  asx_spawn(cx, NULL, stuck_locker, NULL, NULL, &h);
  asx_sleep(cx, 1 * MS_NS);
  asx_task_cancel(h, ASX_CANCEL_USER);
  int rc;
  asx_task_join(cx, h, &rc, NULL);
  cr_assert_eq(rc, ASX_ECANCELED);
  asx_mutex_unlock(g_mu);
  cr_assert_eq(asx_mutex_trylock(g_mu), 0, "the cancelled waiter must not hold it");
  asx_mutex_unlock(g_mu);
  return 0;
}

Test(rt_prims, mutex) {
  for (size_t d = 0; d < 2; d++) {
    g_inside = g_counter = 0;
    asx_mutex_new(NULL, &g_mu);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, mutex_main, NULL, NULL, NULL);
    asx_mutex_free(g_mu);
  }
}

/* ---- semaphore: never more than N inside; a leaked permit comes back ---- */
static asx_sem *g_sem;
static _Atomic int g_sem_inside, g_sem_max;

static int sem_user(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    asx_sem_permit p;
    cr_assert_eq(asx_sem_acquire(cx, g_sem, &p), 0);
    int now = atomic_fetch_add(&g_sem_inside, 1) + 1;
    int m = atomic_load(&g_sem_max);
    while (now > m && !atomic_compare_exchange_weak(&g_sem_max, &m, now)) {
    }
    asx_yield(cx);
    atomic_fetch_sub(&g_sem_inside, 1);
    asx_sem_release(&p);
  }
  return 0;
}

static int sem_leaker(asx_cx *cx, void *arg) {
  (void)arg;
  asx_sem_permit p;
  return asx_sem_acquire(cx, g_sem, &p); /* never released: the runtime returns it */
}

static int sem_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (int i = 0; i < 6; i++) asx_spawn(cx, r, sem_user, NULL, NULL, NULL);
  asx_region_close(cx, r, NULL);
  cr_assert_leq(atomic_load(&g_sem_max), 2);
  cr_assert_eq(asx_sem_available(g_sem), 2);
  asx_task *h;
  asx_spawn(cx, NULL, sem_leaker, NULL, NULL, &h);
  asx_task_join(cx, h, NULL, NULL);
  cr_assert_eq(asx_sem_available(g_sem), 2, "the leaked permit was given back");
  return 0;
}

Test(rt_prims, semaphore) {
  for (size_t d = 0; d < 2; d++) {
    atomic_store(&g_sem_inside, 0);
    atomic_store(&g_sem_max, 0);
    asx_sem_new(NULL, 2, &g_sem);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, sem_main, NULL, NULL, &s);
    cr_assert_eq(s.obligation_leaks, 1);
    asx_sem_free(g_sem);
  }
}

/* ---- select over channels ---- */
#define SEL 3
static asx_chan *g_sel[SEL];

static int sel_producer(asx_cx *cx, void *arg) {
  uintptr_t k = (uintptr_t)arg;
  for (uint32_t i = 0; i < 300; i++) {
    cr_assert_eq(asx_chan_send(cx, g_sel[k], &i), 0);
    if (i % (k + 2) == 0) asx_sleep(cx, 10000);
  }
  asx_chan_close(g_sel[k]);
  return 0;
}

static int sel_cancelled(asx_cx *cx, void *arg) {
  (void)arg;
  uint32_t a, b, c;
  void *outs[SEL] = {&a, &b, &c};
  size_t idx;
  return asx_chan_select_recv(cx, SEL, g_sel, outs, &idx);
}

static int select_main(asx_cx *cx, void *arg) {
  (void)arg;
  /* First: a select on empty channels is cancelled and takes nothing. */
  asx_task *h;
  asx_spawn(cx, NULL, sel_cancelled, NULL, NULL, &h);
  asx_sleep(cx, 1 * MS_NS);
  asx_task_cancel(h, ASX_CANCEL_USER);
  int rc;
  asx_task_join(cx, h, &rc, NULL);
  cr_assert_eq(rc, ASX_ECANCELED);

  asx_region *r;
  asx_region_open(cx, NULL, &r);
  for (uintptr_t k = 0; k < SEL; k++) asx_spawn(cx, r, sel_producer, (void *)k, NULL, NULL);
  uint32_t next[SEL] = {0}, vals[SEL];
  void *outs[SEL] = {&vals[0], &vals[1], &vals[2]};
  size_t total = 0, idx;
  int err;
  while ((err = asx_chan_select_recv(cx, SEL, g_sel, outs, &idx)) == 0) {
    cr_assert_lt(idx, SEL);
    cr_assert_eq(vals[idx], next[idx], "channel %zu out of order", idx);
    next[idx]++;
    total++;
  }
  cr_assert_eq(err, ASX_ECLOSED);
  cr_assert_eq(total, SEL * 300);
  asx_region_close(cx, r, NULL);
  size_t dummy;
  cr_assert_eq(asx_chan_select_recv(cx, 0, g_sel, outs, &dummy), ASX_EINVAL);
  return 0;
}

Test(rt_prims, select_over_channels) {
  for (size_t d = 0; d < 2; d++) {
    for (int k = 0; k < SEL; k++) cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 2, &g_sel[k]), 0);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    rt_test_run(&c, select_main, NULL, NULL, NULL);
    for (int k = 0; k < SEL; k++) asx_chan_free(g_sel[k]);
  }
}

/* A task that ends holding the mutex: reported as an obligation leak at its lock site, and the
 * waiter gets the lock instead of waiting forever. */
static int g_mutex_line;

static int dies_holding(asx_cx *cx, void *arg) {
  (void)arg;
  g_mutex_line = __LINE__ + 1;
  cr_assert_eq(asx_mutex_lock(cx, g_mu), 0);
  asx_sleep(cx, 1 * MS_NS);
  asx_panic(cx, "while holding the mutex");
}

static int waits_for_it(asx_cx *cx, void *arg) {
  (void)arg;
  asx_sleep(cx, 100000);
  cr_assert_eq(asx_mutex_lock(cx, g_mu), 0);
  asx_mutex_unlock(g_mu);
  return 0;
}

static int mutex_leak_main(asx_cx *cx, void *arg) {
  (void)arg;
  asx_region *r;
  asx_region_open(cx, NULL, &r);
  asx_spawn(cx, r, dies_holding, NULL, NULL, NULL);
  asx_spawn(cx, r, waits_for_it, NULL, NULL, NULL);
  asx_region_close(cx, r, NULL);
  return 0;
}

Test(rt_prims, mutex_released_when_holder_dies) {
  for (size_t d = 0; d < 2; d++) {
    asx_mutex_new(NULL, &g_mu);
    asx_runtime_config c = rt_test_config(DRIVERS[d], 2);
    asx_runtime_stats s;
    rt_test_run(&c, mutex_leak_main, NULL, NULL, &s);
    cr_assert_eq(s.obligation_leaks, 1);
    const rec_event *e = rec_find(ASX_TRACE_OBLIGATION_LEAK);
    cr_assert_not_null(e);
    cr_assert_str_eq(e->name, "mutex.lock");
    cr_assert_eq(e->line, g_mutex_line);
    cr_assert_eq(asx_mutex_trylock(g_mu), 0, "released");
    asx_mutex_unlock(g_mu);
    asx_mutex_free(g_mu);
  }
}

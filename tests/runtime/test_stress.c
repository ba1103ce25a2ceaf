/* Lost-wakeup and duplicate-scheduling stress on the threads driver with 2 workers.
 * ASX_STRESS_SCALE (env, default 1) multiplies the iteration counts. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "rt_internal.h" /* cx->task->worker: which worker a task resumed on */
#include "rt_test.h"

TestSuite(rt_stress, .timeout = 200);

static unsigned scale(void) {
  const char *s = getenv("ASX_STRESS_SCALE");
  int v = s ? atoi(s) : 1;
  return v > 0 ? (unsigned)v : 1u;
}

/* ---- ping-pong: each wakeup carries a sequence number, checked on arrival ---- */
#define PAIRS 4

typedef struct pair {
  asx_chan *ping, *pong;
  uint32_t rounds;
  _Atomic uint64_t delivered;
  _Atomic uint64_t migrations; /* times the pinger resumed on another worker */
} pair;

static pair g_pairs[PAIRS];
static int g_npairs = PAIRS;

static int pinger(asx_cx *cx, void *arg) {
  pair *p = arg;
  const void *last = cx->task->worker;
  for (uint32_t i = 0; i < p->rounds; i++) {
    if (cx->task->worker != last) {
      atomic_fetch_add_explicit(&p->migrations, 1, memory_order_relaxed);
      last = cx->task->worker;
    }
    cr_assert_eq(asx_chan_send(cx, p->ping, &i), 0);
    uint32_t back;
    cr_assert_eq(asx_chan_recv(cx, p->pong, &back), 0);
    cr_assert_eq(back, i, "lost or duplicated wakeup: sent %u got %u", i, back);
    atomic_fetch_add_explicit(&p->delivered, 1, memory_order_relaxed);
  }
  return 0;
}

static int ponger(asx_cx *cx, void *arg) {
  pair *p = arg;
  for (uint32_t i = 0; i < p->rounds; i++) {
    uint32_t v;
    cr_assert_eq(asx_chan_recv(cx, p->ping, &v), 0);
    cr_assert_eq(v, i);
    atomic_fetch_add_explicit(&p->delivered, 1, memory_order_relaxed);
    cr_assert_eq(asx_chan_send(cx, p->pong, &v), 0);
  }
  return 0;
}

static int pingpong_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < g_npairs; i++) {
    asx_spawn(cx, NULL, pinger, &g_pairs[i], NULL, NULL);
    asx_spawn(cx, NULL, ponger, &g_pairs[i], NULL, NULL);
  }
  return 0;
}

static void pingpong(uint32_t rounds, int npairs, int disable_lifo) {
  g_npairs = npairs;
  for (int i = 0; i < npairs; i++) {
    cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 1, &g_pairs[i].ping), 0);
    cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 1, &g_pairs[i].pong), 0);
    g_pairs[i].rounds = rounds;
    atomic_store(&g_pairs[i].delivered, 0);
    atomic_store(&g_pairs[i].migrations, 0);
  }
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  c.disable_lifo_slot = disable_lifo;
  asx_runtime_stats s;
  rt_test_run(&c, pingpong_main, NULL, NULL, &s);
  uint64_t migrations = 0;
  for (int i = 0; i < npairs; i++) {
    cr_assert_eq(atomic_load(&g_pairs[i].delivered), 2ull * rounds);
    migrations += atomic_load(&g_pairs[i].migrations);
    asx_chan_free(g_pairs[i].ping);
    asx_chan_free(g_pairs[i].pong);
  }
  cr_log_info("ping-pong: %u rounds x %d pairs, lifo %s: %llu switches, %llu steals, %llu parks, "
              "%llu pinger migrations", rounds, npairs, disable_lifo ? "off" : "on",
              (unsigned long long)s.switches, (unsigned long long)s.steals,
              (unsigned long long)s.parks, (unsigned long long)migrations);
}

Test(rt_stress, pingpong_wakeups_delivered_exactly_once) {
  /* 4 pairs x 2 wakeups per round x 125k rounds = 1e6 wakeups per scale unit. With the LIFO slot
   * a pair mostly stays on one worker (the fast path). */
  pingpong(125000 * scale(), PAIRS, 0);
}

Test(rt_stress, pingpong_cross_worker_wakeups) {
  /* One pair on two workers without the LIFO slot: every wakeup is stealable and the idle worker
   * is unparked for it, so wake and block race across threads (steal vs local pop, park vs
   * unpark) on every round. */
  pingpong(50000 * scale(), 1, 1);
}

/* ---- wake storm: many tasks block on one oneshot each, woken from another task ---- */
#define STORM 256

static asx_oneshot *g_shots[STORM];
static _Atomic int g_woken;

static int storm_waiter(asx_cx *cx, void *arg) {
  uintptr_t i = (uintptr_t)arg;
  int v = -1;
  cr_assert_eq(asx_oneshot_recv(cx, g_shots[i], &v), 0);
  cr_assert_eq(v, (int)i);
  atomic_fetch_add(&g_woken, 1);
  return 0;
}

static int storm_waker(asx_cx *cx, void *arg) {
  (void)cx;
  (void)arg;
  for (int i = STORM - 1; i >= 0; i--) cr_assert_eq(asx_oneshot_send(g_shots[i], &i), 0);
  return 0;
}

static int storm_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (unsigned round = 0; round < 20 * scale(); round++) {
    for (int i = 0; i < STORM; i++) asx_oneshot_new(NULL, sizeof(int), &g_shots[i]);
    asx_region *r;
    asx_region_open(cx, NULL, &r);
    for (uintptr_t i = 0; i < STORM; i++) asx_spawn(cx, r, storm_waiter, (void *)i, NULL, NULL);
    asx_spawn(cx, r, storm_waker, NULL, NULL, NULL);
    asx_region_close(cx, r, NULL);
    for (int i = 0; i < STORM; i++) asx_oneshot_free(g_shots[i]);
  }
  return 0;
}

Test(rt_stress, wake_storm_every_waiter_woken_once) {
  atomic_store(&g_woken, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, storm_main, NULL, NULL, NULL);
  cr_assert_eq(atomic_load(&g_woken), (int)(20 * scale() * STORM));
}

/* ---- timers: many short sleeps across workers all complete, none early ---- */
static _Atomic int g_slept;

static int sleeper(asx_cx *cx, void *arg) {
  uint64_t ns = ((uintptr_t)arg % 5 + 1) * 200000;
  uint64_t t0 = asx_now(cx);
  cr_assert_eq(asx_sleep(cx, ns), 0);
  cr_assert_geq(asx_now(cx) - t0, ns, "woke early");
  atomic_fetch_add(&g_slept, 1);
  return 0;
}

static int sleep_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (uintptr_t i = 0; i < 2000; i++) asx_spawn(cx, NULL, sleeper, (void *)i, NULL, NULL);
  return 0;
}

Test(rt_stress, many_sleepers) {
  atomic_store(&g_slept, 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, sleep_main, NULL, NULL, NULL);
  cr_assert_eq(atomic_load(&g_slept), 2000);
}

/* ---- cancel racing with wakeups: cancel arrives while tasks block and wake constantly ---- */
static asx_chan *g_cc;

static int churn(asx_cx *cx, void *arg) {
  (void)arg;
  uint32_t v = 0;
  for (;;) {
    int err = asx_chan_send(cx, g_cc, &v);
    if (err) return err;
    err = asx_chan_recv(cx, g_cc, &v);
    if (err) return err;
    v++;
  }
}

static int cancel_race_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (int round = 0; round < 50; round++) {
    asx_region *r;
    asx_region_open(cx, NULL, &r);
    for (int i = 0; i < 8; i++) asx_spawn(cx, r, churn, NULL, NULL, NULL);
    asx_sleep(cx, 200000);
    asx_region_cancel(r, ASX_CANCEL_USER);
    asx_outcome o;
    asx_region_close(cx, r, &o);
    cr_assert_eq(o, ASX_OUTCOME_CANCELLED);
    uint32_t v;
    while (asx_chan_try_recv(g_cc, &v) == 0) {
    }
  }
  return 0;
}

Test(rt_stress, cancel_while_waking) {
  cr_assert_eq(asx_chan_new(NULL, sizeof(uint32_t), 2, &g_cc), 0);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, cancel_race_main, NULL, NULL, NULL);
  asx_chan_free(g_cc);
}

/* ---- foreign-thread wakeups: an OS thread that is not a worker wakes a task at the moment it
 * is deciding to block (the injection-queue + unpark path), round after round ---- */
#define FOREIGN 2

typedef struct foreign_pair {
  asx_oneshot **shots;
  uint32_t rounds;
  _Atomic uint32_t announced; /* the task is about to wait for shots[announced - 1] */
  _Atomic uint32_t received;
} foreign_pair;

static foreign_pair g_fp[FOREIGN];

static int foreign_waiter(asx_cx *cx, void *arg) {
  foreign_pair *fp = arg;
  for (uint32_t i = 0; i < fp->rounds; i++) {
    atomic_store(&fp->announced, i + 1);
    uint32_t v = 0;
    cr_assert_eq(asx_oneshot_recv(cx, fp->shots[i], &v), 0);
    cr_assert_eq(v, i);
    atomic_store(&fp->received, i + 1);
  }
  return 0;
}

static void *foreign_waker(void *arg) {
  foreign_pair *fp = arg;
  for (uint32_t i = 0; i < fp->rounds; i++) {
    while (atomic_load(&fp->announced) < i + 1) sched_yield();
    asx_oneshot_send(fp->shots[i], &i);
    while (atomic_load(&fp->received) < i + 1) sched_yield();
  }
  return NULL;
}

static int foreign_main(asx_cx *cx, void *arg) {
  (void)arg;
  for (int i = 0; i < FOREIGN; i++) asx_spawn(cx, NULL, foreign_waiter, &g_fp[i], NULL, NULL);
  return 0;
}

Test(rt_stress, foreign_thread_wakeups) {
  uint32_t rounds = 20000 * scale();
  pthread_t th[FOREIGN];
  for (int i = 0; i < FOREIGN; i++) {
    g_fp[i].rounds = rounds;
    g_fp[i].shots = calloc(rounds, sizeof(asx_oneshot *));
    for (uint32_t k = 0; k < rounds; k++) cr_assert_eq(asx_oneshot_new(NULL, sizeof(uint32_t), &g_fp[i].shots[k]), 0);
    atomic_store(&g_fp[i].announced, 0);
    atomic_store(&g_fp[i].received, 0);
    pthread_create(&th[i], NULL, foreign_waker, &g_fp[i]);
  }
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, foreign_main, NULL, NULL, NULL);
  for (int i = 0; i < FOREIGN; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&g_fp[i].received), rounds);
    for (uint32_t k = 0; k < rounds; k++) asx_oneshot_free(g_fp[i].shots[k]);
    free(g_fp[i].shots);
  }
}

/* ---- asx_park / asx_task_wake from a foreign thread (what an I/O reactor does) ---- */
typedef struct parked {
  pthread_mutex_t mu;
  asx_task *waiting; /* published under mu while the task may park */
  uint32_t events;   /* under mu */
  uint32_t rounds;
} parked;

static parked g_pk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int park_consumer(asx_cx *cx, void *arg) {
  parked *p = arg;
  uint32_t seen = 0;
  while (seen < p->rounds) {
    pthread_mutex_lock(&p->mu);
    if (p->events > seen) {
      seen = p->events;
      pthread_mutex_unlock(&p->mu);
      continue;
    }
    p->waiting = asx_cx_task(cx);
    pthread_mutex_unlock(&p->mu);
    int err = asx_park(cx, ASX_UNLIMITED);
    cr_assert_eq(err, 0);
  }
  pthread_mutex_lock(&p->mu);
  p->waiting = NULL;
  pthread_mutex_unlock(&p->mu);
  return 0;
}

static void *park_producer(void *arg) {
  parked *p = arg;
  for (uint32_t i = 0; i < p->rounds; i++) {
    pthread_mutex_lock(&p->mu);
    p->events++;
    if (p->waiting) asx_task_wake(p->waiting);
    p->waiting = NULL;
    pthread_mutex_unlock(&p->mu);
    if (i % 64 == 0) sched_yield();
  }
  return NULL;
}

static int park_main(asx_cx *cx, void *arg) {
  return asx_spawn(cx, NULL, park_consumer, arg, NULL, NULL);
}

Test(rt_stress, park_and_foreign_wake) {
  g_pk.rounds = 100000 * scale();
  g_pk.events = 0;
  g_pk.waiting = NULL;
  pthread_t th;
  pthread_create(&th, NULL, park_producer, &g_pk);
  asx_runtime_config c = rt_test_config(ASX_DRIVER_THREADS, 2);
  rt_test_run(&c, park_main, &g_pk, NULL, NULL);
  pthread_join(th, NULL);
  cr_assert_eq(g_pk.events, g_pk.rounds);
}

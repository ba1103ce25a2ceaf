/* Parker permit semantics and timeouts; xoshiro256** and splitmix64 reference values; the
 * unbiased bounded draw; the monotonic clock. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "ll/clock.h"
#include "ll/parker.h"
#include "ll/rng.h"

TestSuite(parker, .timeout = 60);
TestSuite(rng, .timeout = 60);
TestSuite(clock, .timeout = 60);

Test(parker, unpark_before_park_returns_at_once) {
  asx_parker p;
  asx_parker_init(&p);
  asx_parker_unpark(&p);
  asx_parker_unpark(&p); /* permits do not accumulate: still one */
  asx_parker_park(&p, -1); /* would hang forever without the permit */
  uint64_t t0 = asx_clock_mono_ns();
  asx_parker_park(&p, 20 * 1000000); /* the permit is used up: this one waits for the timeout */
  uint64_t waited = asx_clock_mono_ns() - t0;
  cr_assert_geq(waited, 10 * 1000000ull, "park returned after %llu ns with no permit", (unsigned long long)waited);
}

Test(parker, timeout_returns) {
  asx_parker p;
  asx_parker_init(&p);
  uint64_t t0 = asx_clock_mono_ns();
  asx_parker_park(&p, 30 * 1000000);
  uint64_t waited = asx_clock_mono_ns() - t0;
  /* Lower bound only (futex timeouts do not fire early); no upper bound on a loaded machine. */
  cr_assert_geq(waited, 25 * 1000000ull);
  asx_parker_park(&p, 0); /* zero timeout: returns */
}

struct pingpong {
  asx_parker a, b;
  _Atomic int turn; /* whose move: 0 = main, 1 = helper */
  int rounds;
  _Atomic int lost;
};

static void *helper(void *arg) {
  struct pingpong *pp = arg;
  for (int i = 0; i < pp->rounds; i++) {
    while (atomic_load(&pp->turn) != 1) asx_parker_park(&pp->b, -1);
    atomic_store(&pp->turn, 0);
    asx_parker_unpark(&pp->a);
  }
  return NULL;
}

Test(parker, no_lost_wakeups_in_ping_pong) {
  struct pingpong pp = {.rounds = 20000};
  asx_parker_init(&pp.a);
  asx_parker_init(&pp.b);
  atomic_init(&pp.turn, 0);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, helper, &pp), 0);
  for (int i = 0; i < pp.rounds; i++) {
    atomic_store(&pp.turn, 1);
    asx_parker_unpark(&pp.b);
    while (atomic_load(&pp.turn) != 0) asx_parker_park(&pp.a, -1); /* a lost wakeup hangs here */
  }
  pthread_join(th, NULL);
  cr_assert_eq(atomic_load(&pp.turn), 0);
}

struct waker {
  asx_parker *p;
  _Atomic int *flag;
};

static void *wake_later(void *arg) {
  struct waker *w = arg;
  struct timespec ts = {0, 5 * 1000000};
  nanosleep(&ts, NULL);
  atomic_store(w->flag, 1);
  asx_parker_unpark(w->p);
  return NULL;
}

Test(parker, unpark_wakes_a_sleeping_forever_park) {
  asx_parker p;
  _Atomic int flag = 0;
  asx_parker_init(&p);
  struct waker w = {&p, &flag};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, wake_later, &w), 0);
  while (!atomic_load(&flag)) asx_parker_park(&p, -1);
  pthread_join(th, NULL);
  cr_assert(atomic_load(&flag));
}

Test(rng, xoshiro256starstar_reference_values) {
  /* The reference implementation's output from state {1, 2, 3, 4}. */
  asx_rng r = {{1, 2, 3, 4}};
  const uint64_t expect[10] = {11520ull,
                               0ull,
                               1509978240ull,
                               1215971899390074240ull,
                               1216172134540287360ull,
                               607988272756665600ull,
                               16172922978634559625ull,
                               8476171486693032832ull,
                               10595114339597558777ull,
                               2904607092377533576ull};
  for (int i = 0; i < 10; i++) cr_assert_eq(asx_rng_next(&r), expect[i], "output %d", i);
}

Test(rng, seeding_goes_through_splitmix64) {
  /* splitmix64 from state 0 yields e220a8397b1dcdaf, 6e789e6aa1b965f4, 06c45d188009454f,
   * f88bb8a8724c81ec: those are the four state words after seeding with 0. */
  asx_rng r;
  asx_rng_seed(&r, 0);
  cr_assert_eq(r.s[0], 0xe220a8397b1dcdafull);
  cr_assert_eq(r.s[1], 0x6e789e6aa1b965f4ull);
  cr_assert_eq(r.s[2], 0x06c45d188009454full);
  cr_assert_eq(r.s[3], 0xf88bb8a8724c81ecull);
  cr_assert_eq(asx_rng_next(&r), 0x99ec5f36cb75f2b4ull);
  cr_assert_eq(asx_rng_next(&r), 0xbf6e1f784956452aull);
  asx_rng a, b;
  asx_rng_seed(&a, 12345);
  asx_rng_seed(&b, 12345);
  for (int i = 0; i < 100; i++) cr_assert_eq(asx_rng_next(&a), asx_rng_next(&b), "same seed, same stream");
  asx_rng_seed(&a, 12345);
  cr_assert_eq(asx_rng_next(&a), 0xbe6a36374160d49bull);
}

Test(rng, below_stays_in_range_and_covers_it) {
  asx_rng r;
  asx_rng_seed(&r, 42);
  int hist[7] = {0};
  for (int i = 0; i < 70000; i++) {
    uint64_t x = asx_rng_below(&r, 7);
    cr_assert_lt(x, 7);
    hist[x]++;
  }
  for (int i = 0; i < 7; i++) cr_assert(hist[i] > 9000 && hist[i] < 11000, "bucket %d: %d", i, hist[i]);
  cr_assert_eq(asx_rng_below(&r, 1), 0);
  cr_assert_eq(asx_rng_below(&r, 0), 0);
  uint64_t big = (UINT64_MAX / 3) * 2; /* the worst case for modulo bias: rejection must kick in */
  for (int i = 0; i < 1000; i++) cr_assert_lt(asx_rng_below(&r, big), big);
}

Test(clock, monotonic_and_in_nanoseconds) {
  uint64_t a = asx_clock_mono_ns();
  struct timespec ts = {0, 2 * 1000000};
  nanosleep(&ts, NULL);
  uint64_t b = asx_clock_mono_ns();
  cr_assert_geq(b - a, 2 * 1000000ull);
  uint64_t prev = b;
  for (int i = 0; i < 1000; i++) {
    uint64_t now = asx_clock_mono_ns();
    cr_assert_geq(now, prev);
    prev = now;
  }
}

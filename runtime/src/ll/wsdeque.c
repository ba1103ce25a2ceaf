/* ll/wsdeque.c: bounded Chase-Lev deque with C11 atomics (memory orders as in Le et al. 2013). */
#include "ll/wsdeque.h"

#include <stdatomic.h>

#include "asx/base.h"

int asx_wsdeque_init(asx_wsdeque *d, size_t capacity) {
  if (d == NULL || capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity > ((size_t)1 << 40))
    return ASX_EINVAL;
  _Atomic(void *) *buf = asx_alloc(NULL, capacity * sizeof *buf);
  if (buf == NULL) return ASX_ENOMEM;
  for (size_t i = 0; i < capacity; i++) atomic_init(&buf[i], NULL);
  atomic_init(&d->top, 0);
  atomic_init(&d->bottom, 0);
  d->buf = buf;
  d->mask = (int64_t)capacity - 1;
  return 0;
}

void asx_wsdeque_destroy(asx_wsdeque *d) {
  if (d == NULL) return;
  asx_free(NULL, (void *)d->buf);
  d->buf = NULL;
}

bool asx_wsdeque_push(asx_wsdeque *d, void *item) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
  if (b - t > d->mask) return false; /* b - t == capacity: full */
  atomic_store_explicit(&d->buf[b & d->mask], item, memory_order_relaxed);
  /* The item must be visible before a thief can see the new bottom. */
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
  return true;
}

void *asx_wsdeque_pop(asx_wsdeque *d) {
  /* Fast path for an empty deque (a worker polls its own deque on every scheduling round): top
   * only grows and only the owner moves bottom, so top >= bottom seen here means empty now too.
   * This skips the full fence below, which costs more than the rest of pop together. */
  int64_t b0 = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  if (atomic_load_explicit(&d->top, memory_order_relaxed) >= b0) return NULL;
  int64_t b = b0 - 1;
  atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
  /* Publish the claim on slot b before looking at top: pairs with the fence in steal_one so that
   * the owner and a thief cannot both believe they own the last item. */
  atomic_thread_fence(memory_order_seq_cst);
  int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
  if (t > b) { /* empty */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    return NULL;
  }
  void *item = atomic_load_explicit(&d->buf[b & d->mask], memory_order_relaxed);
  if (t == b) { /* last item: race the thieves for it */
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst, memory_order_relaxed))
      item = NULL;
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
  }
  return item;
}

void *asx_wsdeque_pop_unshared(asx_wsdeque *d) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
  if (t >= b) return NULL;
  atomic_store_explicit(&d->bottom, b - 1, memory_order_relaxed);
  return atomic_load_explicit(&d->buf[(b - 1) & d->mask], memory_order_relaxed);
}

/* One steal attempt: 1 = got *out, 0 = empty, -1 = lost a race (retry). */
static int steal_one(asx_wsdeque *d, void **out) {
  int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
  atomic_thread_fence(memory_order_seq_cst);
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
  if (t >= b) return 0;
  /* Slot t cannot be overwritten while top == t (push refuses when b - top == capacity), so a
   * value read here is the right one whenever the CAS below succeeds. */
  void *item = atomic_load_explicit(&d->buf[t & d->mask], memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst, memory_order_relaxed))
    return -1;
  *out = item;
  return 1;
}

void *asx_wsdeque_steal(asx_wsdeque *victim) {
  for (;;) {
    void *item;
    int r = steal_one(victim, &item);
    if (r == 1) return item;
    if (r == 0) return NULL;
  }
}

void *asx_wsdeque_steal_into(asx_wsdeque *victim, asx_wsdeque *dst) {
  size_t n = asx_wsdeque_len(victim);
  void *first = asx_wsdeque_steal(victim);
  if (first == NULL) return NULL;
  /* Take ceil(n/2) in total: `first` plus up to ceil(n/2)-1 more for dst. Only the caller pushes
   * to dst (others may steal from it, which only frees room), so checking for room before each
   * steal guarantees the push succeeds: a stolen item is never left without a home. */
  size_t want = (n + 1) / 2;
  for (size_t moved = 1; moved < want; moved++) {
    if (asx_wsdeque_len(dst) >= asx_wsdeque_capacity(dst)) break;
    void *item;
    if (steal_one(victim, &item) != 1) break; /* empty, or another thief is active */
    asx_wsdeque_push(dst, item);
  }
  return first;
}

size_t asx_wsdeque_len(const asx_wsdeque *d) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
  return b > t ? (size_t)(b - t) : 0;
}

size_t asx_wsdeque_capacity(const asx_wsdeque *d) { return (size_t)d->mask + 1; }

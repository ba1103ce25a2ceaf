/* ll/wsdeque.h: bounded work-stealing deque of `void *` (internal to asx_runtime).
 *
 * Chase-Lev (Le, Pop, Cohen, Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak
 * Memory Models", PPoPP 2013) on a fixed power-of-two ring. The owner pushes and pops at the
 * bottom without a CAS except for the last item; thieves take from the top with one CAS each.
 * Batch stealing moves items one CAS at a time: advancing top by k in a single CAS is unsound in
 * Chase-Lev, because the owner pops without a CAS whenever it sees more than one item, so between
 * a thief's read of bottom and its CAS the owner may already have taken some of those k items. */
#ifndef ASX_LL_WSDEQUE_H
#define ASX_LL_WSDEQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* top and bottom live on separate cache lines: thieves hammer top, the owner writes bottom. The
 * padding is explicit (not _Alignas) so the struct may be embedded in malloc'd memory. */
typedef struct asx_wsdeque {
  _Atomic int64_t top;
  char pad0[64 - sizeof(int64_t)];
  _Atomic int64_t bottom;
  char pad1[64 - sizeof(int64_t)];
  _Atomic(void *) *buf;
  int64_t mask; /* capacity - 1 */
} asx_wsdeque;

/* Not thread-safe: capacity must be a power of two >= 2. Returns 0, ASX_EINVAL or ASX_ENOMEM. */
int asx_wsdeque_init(asx_wsdeque *d, size_t capacity);
/* Not thread-safe: frees the ring (items still inside are dropped, not freed). */
void asx_wsdeque_destroy(asx_wsdeque *d);
/* Owner thread only: false when full. */
bool asx_wsdeque_push(asx_wsdeque *d, void *item);
/* Owner thread only: the most recently pushed item, NULL when empty. */
void *asx_wsdeque_pop(asx_wsdeque *d);
/* Owner thread only, and only while no other thread can steal from d (e.g. a one-worker
 * scheduler): like asx_wsdeque_pop without the fence and CAS that only guard against thieves. */
void *asx_wsdeque_pop_unshared(asx_wsdeque *d);
/* Any thread: moves about half of victim's items (oldest first) into dst, which the caller owns
 * and which should be empty, and returns one more stolen item for the caller to run now; NULL if
 * nothing could be stolen. */
void *asx_wsdeque_steal_into(asx_wsdeque *victim, asx_wsdeque *dst);
/* Any thread: the oldest item, or NULL when empty. Retries when it loses a race to another thief. */
void *asx_wsdeque_steal(asx_wsdeque *victim);
/* Any thread: number of items; approximate while others push, pop or steal. */
size_t asx_wsdeque_len(const asx_wsdeque *d);
/* Any thread, pure: the capacity given to init. */
size_t asx_wsdeque_capacity(const asx_wsdeque *d);

#endif

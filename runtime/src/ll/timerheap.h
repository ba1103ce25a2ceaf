/* ll/timerheap.h: intrusive binary min-heap of timers (internal to asx_runtime). Ordered by
 * (deadline, seq): seq is assigned at push, so equal deadlines fire in insertion order and a run
 * is deterministic. Not thread-safe: each owner locks as it needs. */
#ifndef ASX_LL_TIMERHEAP_H
#define ASX_LL_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "asx/base.h"

typedef struct asx_timer_node {
  uint64_t deadline; /* set by the caller before push */
  uint64_t seq;      /* set by push */
  size_t index;      /* position in the heap; SIZE_MAX when not queued */
} asx_timer_node;

typedef struct asx_timer_heap {
  asx_timer_node **items;
  size_t len;
  size_t cap;
  uint64_t next_seq;
  const asx_allocator *alloc;
} asx_timer_heap;

/* Marks a node as not queued (call once before its first push; pop/remove do it afterwards). */
void asx_timer_node_init(asx_timer_node *n);
/* `a` may be NULL (libc); it must outlive the heap. Returns 0. */
int asx_timer_heap_init(asx_timer_heap *h, const asx_allocator *a);
/* Frees the heap's array; queued nodes are dropped (they belong to the caller). */
void asx_timer_heap_destroy(asx_timer_heap *h);
/* Queues n by n->deadline (a node already queued is re-queued with its new deadline, as the
 * newest of its ties). Returns 0 or ASX_ENOMEM (heap unchanged, n not queued). */
int asx_timer_heap_push(asx_timer_heap *h, asx_timer_node *n);
/* Removes n; a no-op if n is not queued in h. */
void asx_timer_heap_remove(asx_timer_heap *h, asx_timer_node *n);
/* The earliest node (still queued), or NULL. */
asx_timer_node *asx_timer_heap_peek(const asx_timer_heap *h);
/* Removes and returns the earliest node, or NULL. */
asx_timer_node *asx_timer_heap_pop(asx_timer_heap *h);
/* The number of queued nodes. */
size_t asx_timer_heap_len(const asx_timer_heap *h);

#endif

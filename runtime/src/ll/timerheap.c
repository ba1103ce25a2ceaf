/* ll/timerheap.c: array-backed binary heap; each node knows its index so removal from the middle
 * is O(log n). */
#include "ll/timerheap.h"

static int before(const asx_timer_node *a, const asx_timer_node *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(asx_timer_heap *h, size_t i, asx_timer_node *n) {
  h->items[i] = n;
  n->index = i;
}

static void sift_up(asx_timer_heap *h, size_t i) {
  asx_timer_node *n = h->items[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(n, h->items[parent])) break;
    place(h, i, h->items[parent]);
    i = parent;
  }
  place(h, i, n);
}

static void sift_down(asx_timer_heap *h, size_t i) {
  asx_timer_node *n = h->items[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= h->len) break;
    if (child + 1 < h->len && before(h->items[child + 1], h->items[child])) child++;
    if (!before(h->items[child], n)) break;
    place(h, i, h->items[child]);
    i = child;
  }
  place(h, i, n);
}

static int queued_in(const asx_timer_heap *h, const asx_timer_node *n) {
  return n->index < h->len && h->items[n->index] == n;
}

void asx_timer_node_init(asx_timer_node *n) {
  n->deadline = 0;
  n->seq = 0;
  n->index = SIZE_MAX;
}

int asx_timer_heap_init(asx_timer_heap *h, const asx_allocator *a) {
  h->items = NULL;
  h->len = h->cap = 0;
  h->next_seq = 0;
  h->alloc = a;
  return 0;
}

void asx_timer_heap_destroy(asx_timer_heap *h) {
  for (size_t i = 0; i < h->len; i++) h->items[i]->index = SIZE_MAX;
  asx_free(h->alloc, h->items);
  h->items = NULL;
  h->len = h->cap = 0;
}

int asx_timer_heap_push(asx_timer_heap *h, asx_timer_node *n) {
  if (queued_in(h, n)) asx_timer_heap_remove(h, n);
  if (h->len == h->cap) {
    size_t ncap = h->cap ? h->cap * 2 : 16;
    if (ncap > SIZE_MAX / sizeof *h->items) return ASX_ENOMEM;
    asx_timer_node **items = asx_realloc(h->alloc, h->items, ncap * sizeof *items);
    if (items == NULL) {
      n->index = SIZE_MAX;
      return ASX_ENOMEM;
    }
    h->items = items;
    h->cap = ncap;
  }
  n->seq = h->next_seq++;
  size_t i = h->len++;
  h->items[i] = n;
  sift_up(h, i);
  return 0;
}

void asx_timer_heap_remove(asx_timer_heap *h, asx_timer_node *n) {
  if (!queued_in(h, n)) return;
  size_t i = n->index;
  asx_timer_node *last = h->items[--h->len];
  n->index = SIZE_MAX;
  if (last == n) return;
  h->items[i] = last;
  last->index = i;
  /* The moved node may belong above or below position i. */
  if (i > 0 && before(last, h->items[(i - 1) / 2]))
    sift_up(h, i);
  else
    sift_down(h, i);
}

asx_timer_node *asx_timer_heap_peek(const asx_timer_heap *h) { return h->len ? h->items[0] : NULL; }

asx_timer_node *asx_timer_heap_pop(asx_timer_heap *h) {
  if (h->len == 0) return NULL;
  asx_timer_node *top = h->items[0];
  asx_timer_heap_remove(h, top);
  return top;
}

size_t asx_timer_heap_len(const asx_timer_heap *h) { return h->len; }

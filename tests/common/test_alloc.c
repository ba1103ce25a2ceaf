#include "test_alloc.h"

#include <stdlib.h>

/* Each block carries a small header so that frees can be counted without a side table. */
typedef union block_hdr {
  size_t size;
  max_align_t align;
} block_hdr;

static int should_fail(test_alloc *ta) {
  if (ta->fail_after < 0) return 0;
  if (ta->allocs >= ta->fail_after) {
    ta->failures++;
    return 1;
  }
  return 0;
}

static void *ta_alloc(void *ud, size_t size) {
  test_alloc *ta = ud;
  if (should_fail(ta)) return NULL;
  block_hdr *h = malloc(sizeof *h + size);
  if (!h) return NULL;
  h->size = size;
  ta->allocs++;
  ta->live++;
  return h + 1;
}

static void *ta_realloc(void *ud, void *ptr, size_t size) {
  test_alloc *ta = ud;
  if (!ptr) return ta_alloc(ud, size);
  if (should_fail(ta)) return NULL;
  block_hdr *h = realloc((block_hdr *)ptr - 1, sizeof *h + size);
  if (!h) return NULL;
  h->size = size;
  ta->allocs++;
  return h + 1;
}

static void ta_free(void *ud, void *ptr) {
  test_alloc *ta = ud;
  if (!ptr) return;
  ta->live--;
  free((block_hdr *)ptr - 1);
}

void test_alloc_init(test_alloc *ta) {
  ta->base.alloc = ta_alloc;
  ta->base.realloc = ta_realloc;
  ta->base.free = ta_free;
  ta->base.ud = ta;
  ta->fail_after = -1;
  ta->allocs = 0;
  ta->live = 0;
  ta->failures = 0;
}

void test_alloc_fail_after(test_alloc *ta, long n) { ta->fail_after = n < 0 ? -1 : ta->allocs + n; }

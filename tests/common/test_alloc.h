/* A counting allocator for tests that can be told to fail (nghttp2's failmalloc idea): codecs
 * must report ASX_ENOMEM and stay consistent when any allocation fails. Not thread-safe. */
#ifndef ASX_TEST_ALLOC_H
#define ASX_TEST_ALLOC_H

#include <stddef.h>

#include "asx/base.h"

typedef struct test_alloc {
  asx_allocator base;   /* pass &ta.base to the code under test */
  long fail_after;      /* allocations allowed before every further one fails; -1 = never */
  long allocs;          /* successful alloc/realloc calls so far */
  long live;            /* blocks currently allocated */
  long failures;        /* allocations refused so far */
} test_alloc;

/* Initialises `ta` to never fail. */
void test_alloc_init(test_alloc *ta);
/* Makes the allocator fail after `n` more successful allocations (-1: never). */
void test_alloc_fail_after(test_alloc *ta, long n);

#endif

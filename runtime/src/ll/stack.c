/* ll/stack.c: mmap'd task stacks with a guard page, and a bounded, mutex-protected cache.
 *
 * Guard pages: on Linux >= 6.13 MADV_GUARD_INSTALL marks the guard without splitting the mapping,
 * so adjacent stacks merge into one VMA and 1e5 stacks stay far below vm.max_map_count (65530 by
 * default). Older kernels fall back to mprotect(PROT_NONE), which costs two VMAs per stack. */
#include "ll/stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "asx/base.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ASX_STACK_VALGRIND 1
#endif
#endif
#ifndef ASX_STACK_VALGRIND
#define ASX_STACK_VALGRIND 0
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASX_STACK_ASAN 1
#endif
#endif
#if !defined(ASX_STACK_ASAN) && defined(__SANITIZE_ADDRESS__)
#define ASX_STACK_ASAN 1
#endif
#ifndef ASX_STACK_ASAN
#define ASX_STACK_ASAN 0
#endif
#if ASX_STACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

struct asx_stack_pool {
  pthread_mutex_t mu;
  size_t page;
  size_t default_size;
  size_t max_cached;
  size_t ncached;     /* guarded by mu */
  asx_stack *cache;   /* LIFO of max_cached entries: the most recently used stack is warmest */
};

/* 1 when MADV_GUARD_INSTALL works on this kernel, 0 when it does not, -1 before the first try. */
static _Atomic int guard_madvise_works = -1;

static size_t page_size(void) {
  long ps = sysconf(_SC_PAGESIZE);
  return ps > 0 ? (size_t)ps : 4096u;
}

/* Rounds size up to a multiple of page; 0 when that overflows or size is 0. */
static size_t round_to_page(size_t size, size_t page) {
  if (size == 0 || size > SIZE_MAX - page - page) return 0;
  return (size + page - 1) & ~(page - 1);
}

int asx_stack_pool_new(size_t default_size, size_t max_cached, asx_stack_pool **out) {
  if (out == NULL) return ASX_EINVAL;
  *out = NULL;
  size_t page = page_size();
  size_t rounded = round_to_page(default_size, page);
  if (rounded == 0) return ASX_EINVAL;
  if (max_cached > SIZE_MAX / sizeof(asx_stack)) return ASX_EINVAL;
  asx_stack_pool *p = asx_calloc(NULL, 1, sizeof *p);
  if (p == NULL) return ASX_ENOMEM;
  if (max_cached > 0) {
    p->cache = asx_calloc(NULL, max_cached, sizeof *p->cache);
    if (p->cache == NULL) {
      asx_free(NULL, p);
      return ASX_ENOMEM;
    }
  }
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    asx_free(NULL, p->cache);
    asx_free(NULL, p);
    return ASX_ENOMEM;
  }
  p->page = page;
  p->default_size = rounded;
  p->max_cached = max_cached;
  *out = p;
  return 0;
}

static int install_guard(void *map, size_t page) {
  int works = guard_madvise_works;
  if (works != 0) {
    if (madvise(map, page, MADV_GUARD_INSTALL) == 0) {
      if (works < 0) guard_madvise_works = 1;
      return 0;
    }
    if (errno != EINVAL) return -1;
    guard_madvise_works = 0; /* kernel without guard regions: use mprotect from now on */
  }
  return mprotect(map, page, PROT_NONE);
}

static int map_stack(size_t size, size_t page, asx_stack *out) {
  size_t map_len = size + page;
  void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
  if (map == MAP_FAILED) return ASX_ENOMEM;
  if (install_guard(map, page) != 0) {
    munmap(map, map_len);
    return ASX_ENOMEM;
  }
  out->map = map;
  out->map_len = map_len;
  out->lo = (char *)map + page;
  out->size = size;
#if ASX_STACK_VALGRIND
  out->vg_id = VALGRIND_STACK_REGISTER(out->lo, (char *)out->lo + size);
#else
  out->vg_id = 0;
#endif
  return 0;
}

static void unmap_stack(asx_stack *s) {
#if ASX_STACK_VALGRIND
  VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
#if ASX_STACK_ASAN
  /* Frames that ran on this stack left poisoned redzones; a later mapping at the same address
   * must not inherit them. */
  __asan_unpoison_memory_region(s->lo, s->size);
#endif
  munmap(s->map, s->map_len);
}

int asx_stack_get(asx_stack_pool *p, size_t size, asx_stack *out) {
  if (p == NULL || out == NULL) return ASX_EINVAL;
  size_t want = size == 0 ? p->default_size : round_to_page(size, p->page);
  if (want == 0) return ASX_EINVAL;
  if (want == p->default_size && p->max_cached > 0) {
    pthread_mutex_lock(&p->mu);
    if (p->ncached > 0) {
      *out = p->cache[--p->ncached];
      pthread_mutex_unlock(&p->mu);
      return 0;
    }
    pthread_mutex_unlock(&p->mu);
  }
  return map_stack(want, p->page, out);
}

void asx_stack_put(asx_stack_pool *p, asx_stack *s) {
  if (p == NULL || s == NULL || s->map == NULL) return;
  if (s->size == p->default_size && p->max_cached > 0) {
    pthread_mutex_lock(&p->mu);
    if (p->ncached < p->max_cached) {
      p->cache[p->ncached++] = *s;
      pthread_mutex_unlock(&p->mu);
      *s = (asx_stack){0};
      return;
    }
    pthread_mutex_unlock(&p->mu);
  }
  unmap_stack(s);
  *s = (asx_stack){0};
}

size_t asx_stack_pool_cached(asx_stack_pool *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = p->ncached;
  pthread_mutex_unlock(&p->mu);
  return n;
}

size_t asx_stack_pool_default_size(const asx_stack_pool *p) { return p->default_size; }

void asx_stack_pool_free(asx_stack_pool *p) {
  if (p == NULL) return;
  for (size_t i = 0; i < p->ncached; i++) unmap_stack(&p->cache[i]);
  pthread_mutex_destroy(&p->mu);
  asx_free(NULL, p->cache);
  asx_free(NULL, p);
}

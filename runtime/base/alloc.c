#include <stdlib.h>

#include "asx/base.h"

static void *libc_alloc(void *ud, size_t size) {
  (void)ud;
  return malloc(size);
}

static void *libc_realloc(void *ud, void *ptr, size_t size) {
  (void)ud;
  return realloc(ptr, size);
}

static void libc_free(void *ud, void *ptr) {
  (void)ud;
  free(ptr);
}

static const asx_allocator libc_allocator = {libc_alloc, libc_realloc, libc_free, NULL};

const asx_allocator *asx_allocator_default(void) { return &libc_allocator; }

void *asx_alloc(const asx_allocator *a, size_t size) {
  if (!a) a = &libc_allocator;
  return a->alloc(a->ud, size ? size : 1);
}

void *asx_calloc(const asx_allocator *a, size_t nmemb, size_t size) {
  if (size && nmemb > SIZE_MAX / size) return NULL;
  size_t total = nmemb * size;
  unsigned char *p = asx_alloc(a, total);
  if (p) {
    for (size_t i = 0; i < total; i++) p[i] = 0;
  }
  return p;
}

void *asx_realloc(const asx_allocator *a, void *ptr, size_t size) {
  if (!a) a = &libc_allocator;
  return a->realloc(a->ud, ptr, size ? size : 1);
}

void asx_free(const asx_allocator *a, void *ptr) {
  if (!ptr) return;
  if (!a) a = &libc_allocator;
  a->free(a->ud, ptr);
}

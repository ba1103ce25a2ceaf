/* The decoder object: limits, an arena that owns every decoded structure, and the last error
 * message. An arena keeps decoding allocation-light (one block serves many small arrays) and makes
 * cleanup a single reset. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kafka_internal.h"

#define ARENA_BLOCK 4096
#define ARENA_ALIGN 16

typedef struct arena_block {
  struct arena_block *next;
  void *external; /* adopted allocation freed with the block, or NULL */
  size_t used, cap;
  _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

struct asx_kafka_decoder {
  asx_kafka_limits limits;
  const asx_allocator *alloc;
  arena_block *blocks;
  char msg[192];
};

int asx_kafka_decoder_new(asx_kafka_decoder **out, const asx_kafka_limits *limits,
                          const asx_allocator *alloc) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_kafka_decoder *d = asx_calloc(alloc, 1, sizeof *d);
  if (!d) return ASX_ENOMEM;
  d->limits = limits ? *limits : asx_kafka_limits_default();
  d->alloc = alloc;
  *out = d;
  return 0;
}

void asx_kafka_decoder_reset(asx_kafka_decoder *d) {
  if (!d) return;
  arena_block *b = d->blocks;
  while (b) {
    arena_block *next = b->next;
    asx_free(d->alloc, b->external);
    asx_free(d->alloc, b);
    b = next;
  }
  d->blocks = NULL;
  d->msg[0] = '\0';
}

void asx_kafka_decoder_free(asx_kafka_decoder *d) {
  if (!d) return;
  asx_kafka_decoder_reset(d);
  asx_free(d->alloc, d);
}

const char *asx_kafka_decoder_error_message(const asx_kafka_decoder *d) {
  return d ? d->msg : "";
}

const asx_kafka_limits *asx_kafka_decoder_limits(const asx_kafka_decoder *d) {
  return &d->limits;
}

const asx_allocator *asx_kafka_decoder_allocator(const asx_kafka_decoder *d) { return d->alloc; }

void *asx_kafka_arena_alloc(asx_kafka_decoder *d, size_t size) {
  if (size == 0) size = 1;
  if (size > SIZE_MAX - sizeof(arena_block) - ARENA_ALIGN) return NULL;
  size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  arena_block *b = d->blocks;
  if (!b || b->cap - b->used < rounded) {
    size_t cap = rounded > ARENA_BLOCK ? rounded : ARENA_BLOCK;
    arena_block *nb = asx_alloc(d->alloc, sizeof(arena_block) + cap);
    if (!nb) return NULL;
    nb->external = NULL;
    nb->used = 0;
    nb->cap = cap;
    /* A large allocation gets a private block behind the current one so the current block's
     * free space stays usable. */
    if (b && rounded > ARENA_BLOCK) {
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      d->blocks = nb;
    }
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += rounded;
  memset(p, 0, size);
  return p;
}

int asx_kafka_arena_adopt(asx_kafka_decoder *d, void *block) {
  arena_block *nb = asx_alloc(d->alloc, sizeof(arena_block));
  if (!nb) {
    asx_free(d->alloc, block);
    return ASX_ENOMEM;
  }
  nb->external = block;
  nb->used = nb->cap = 0;
  if (d->blocks) {
    nb->next = d->blocks->next;
    d->blocks->next = nb;
  } else {
    nb->next = NULL;
    d->blocks = nb;
  }
  return 0;
}

void *asx_kafka_arena_array(asx_kafka_decoder *d, asx_kafka_reader *r, int32_t count,
                            size_t elem_size, const char *field) {
  if (r->err || count <= 0) return NULL;
  if ((size_t)count > SIZE_MAX / elem_size) {
    asx_kafka_reader_fail(r, ASX_ELIMIT, field, "array too large");
    return NULL;
  }
  void *p = asx_kafka_arena_alloc(d, (size_t)count * elem_size);
  if (!p) asx_kafka_reader_fail(r, ASX_ENOMEM, field, "out of memory");
  return p;
}

int asx_kafka_decoder_set_error(asx_kafka_decoder *d, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  return err;
}

int asx_kafka_decoder_finish(asx_kafka_decoder *d, asx_kafka_reader *r, bool whole) {
  if (!r->err && whole && r->pos != r->len)
    asx_kafka_reader_fail(r, ASX_EPROTO, "response", "trailing bytes after the last field");
  if (!r->err) {
    d->msg[0] = '\0';
    return 0;
  }
  return asx_kafka_decoder_set_error(d, r->err, "%s: %s (%s, at byte %zu)",
                                     r->err_field ? r->err_field : "?",
                                     r->err_reason ? r->err_reason : "error",
                                     asx_errname(r->err), r->pos);
}

asx_kafka_int32_array asx_kafka_read_int32_array(asx_kafka_decoder *d, asx_kafka_reader *r,
                                                 bool flex, bool nullable, const char *field) {
  asx_kafka_int32_array a = {NULL, 0};
  a.count = asx_kafka_read_array_len(r, flex, nullable, 4, field);
  int32_t *items = asx_kafka_arena_array(d, r, a.count, sizeof(int32_t), field);
  for (int32_t i = 0; i < a.count && !r->err; i++) items[i] = asx_kafka_read_int32(r, field);
  if (r->err) a.count = 0;
  a.items = items;
  return a;
}

int asx_kafka_decode_begin(asx_kafka_decoder *d, int16_t api_key, int16_t version, const void *body,
                           size_t len, const void *out, asx_kafka_reader *r) {
  if (!d || !out || (!body && len)) return ASX_EINVAL;
  if (asx_kafka_check_version(api_key, version))
    return asx_kafka_decoder_set_error(d, ASX_EUNSUPPORTED, "api %d version %d is not supported",
                                       api_key, version);
  if (len > d->limits.max_response_size)
    return asx_kafka_decoder_set_error(d, ASX_ELIMIT, "response: %zu bytes exceed "
                                       "max_response_size %zu", len, d->limits.max_response_size);
  asx_kafka_reader_init(r, body, len, &d->limits);
  return 0;
}

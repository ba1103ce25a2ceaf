/* Correlation ids of outstanding requests, so each response is decoded with the schema (api key and
 * version) of the request it answers. A fixed-capacity table: the capacity is the pipelining
 * depth, small enough that a linear scan is the simplest correct choice. */
#include "kafka_internal.h"

typedef struct tracked {
  int32_t id;
  int16_t key, version;
  bool used;
} tracked;

struct asx_kafka_tracker {
  const asx_allocator *alloc;
  tracked *slots;
  size_t capacity, pending;
  int32_t next_id;
};

int asx_kafka_tracker_new(asx_kafka_tracker **out, size_t capacity, const asx_allocator *alloc) {
  if (!out || capacity == 0 || capacity > (1u << 20)) return ASX_EINVAL;
  *out = NULL;
  asx_kafka_tracker *t = asx_calloc(alloc, 1, sizeof *t);
  if (!t) return ASX_ENOMEM;
  t->slots = asx_calloc(alloc, capacity, sizeof *t->slots);
  if (!t->slots) {
    asx_free(alloc, t);
    return ASX_ENOMEM;
  }
  t->alloc = alloc;
  t->capacity = capacity;
  *out = t;
  return 0;
}

void asx_kafka_tracker_free(asx_kafka_tracker *t) {
  if (!t) return;
  asx_free(t->alloc, t->slots);
  asx_free(t->alloc, t);
}

static tracked *find(asx_kafka_tracker *t, int32_t id) {
  for (size_t i = 0; i < t->capacity; i++)
    if (t->slots[i].used && t->slots[i].id == id) return &t->slots[i];
  return NULL;
}

int asx_kafka_tracker_begin(asx_kafka_tracker *t, int16_t api_key, int16_t api_version,
                            int32_t *correlation_id) {
  if (!t || !correlation_id) return ASX_EINVAL;
  if (asx_kafka_check_version(api_key, api_version)) return ASX_EUNSUPPORTED;
  if (t->pending == t->capacity) return ASX_ELIMIT;
  int32_t id = t->next_id;
  /* Ids wrap at INT32_MAX; skip any id still outstanding after a wrap. */
  while (find(t, id)) id = id == INT32_MAX ? 0 : id + 1;
  t->next_id = id == INT32_MAX ? 0 : id + 1;
  for (size_t i = 0; i < t->capacity; i++) {
    if (!t->slots[i].used) {
      t->slots[i] = (tracked){id, api_key, api_version, true};
      t->pending++;
      *correlation_id = id;
      return 0;
    }
  }
  return ASX_ECORRUPT; /* unreachable: pending < capacity guarantees a free slot */
}

int asx_kafka_tracker_complete(asx_kafka_tracker *t, int32_t correlation_id, int16_t *api_key,
                               int16_t *api_version) {
  if (!t) return ASX_EINVAL;
  tracked *s = find(t, correlation_id);
  if (!s) return ASX_ENOTFOUND;
  if (api_key) *api_key = s->key;
  if (api_version) *api_version = s->version;
  s->used = false;
  t->pending--;
  return 0;
}

size_t asx_kafka_tracker_pending(const asx_kafka_tracker *t) { return t ? t->pending : 0; }

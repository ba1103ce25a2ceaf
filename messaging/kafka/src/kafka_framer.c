/* Length-prefixed frame assembly from a byte stream. The body buffer is allocated only after the
 * size field has been checked against the limit, so a hostile size costs nothing. */
#include <string.h>

#include "kafka_internal.h"

struct asx_kafka_framer {
  const asx_allocator *alloc;
  size_t max;
  uint8_t size_bytes[4];
  size_t size_have;
  uint8_t *body;
  size_t body_need, body_have;
  bool size_known, complete;
  int failed; /* a framing error is fatal for the stream: resynchronising is impossible */
};

int asx_kafka_framer_new(asx_kafka_framer **out, size_t max_frame, const asx_allocator *alloc) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_kafka_framer *f = asx_calloc(alloc, 1, sizeof *f);
  if (!f) return ASX_ENOMEM;
  f->alloc = alloc;
  f->max = max_frame ? max_frame : asx_kafka_limits_default().max_response_size;
  *out = f;
  return 0;
}

void asx_kafka_framer_free(asx_kafka_framer *f) {
  if (!f) return;
  asx_free(f->alloc, f->body);
  asx_free(f->alloc, f);
}

int asx_kafka_framer_feed(asx_kafka_framer *f, const uint8_t *data, size_t len, size_t *consumed) {
  size_t used = 0;
  if (consumed) *consumed = 0;
  if (!f || (!data && len)) return ASX_EINVAL;
  if (f->failed) return f->failed;
  if (f->complete) return 0;
  while (!f->size_known && f->size_have < 4 && used < len) f->size_bytes[f->size_have++] = data[used++];
  if (!f->size_known && f->size_have == 4) {
    const uint8_t *s = f->size_bytes;
    int32_t size = (int32_t)(((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) |
                             ((uint32_t)s[2] << 8) | s[3]);
    if (size < 0) f->failed = ASX_EPROTO;
    else if ((size_t)size > f->max) f->failed = ASX_ELIMIT;
    if (f->failed) {
      if (consumed) *consumed = used;
      return f->failed;
    }
    f->body_need = (size_t)size;
    f->size_known = true;
  }
  if (f->size_known && !f->body) {
    f->body = asx_alloc(f->alloc, f->body_need ? f->body_need : 1);
    if (!f->body) {
      /* The size stays recorded, so feeding again retries the allocation without loss. */
      if (consumed) *consumed = used;
      return ASX_ENOMEM;
    }
  }
  if (f->size_known) {
    size_t n = f->body_need - f->body_have;
    if (n > len - used) n = len - used;
    if (n) memcpy(f->body + f->body_have, data + used, n);
    f->body_have += n;
    used += n;
    if (f->body_have == f->body_need) f->complete = true;
  }
  if (consumed) *consumed = used;
  return f->complete ? 0 : ASX_EAGAIN;
}

int asx_kafka_framer_frame(const asx_kafka_framer *f, const uint8_t **body, size_t *len) {
  if (!f || !f->complete) return ASX_EAGAIN;
  if (body) *body = f->body;
  if (len) *len = f->body_need;
  return 0;
}

void asx_kafka_framer_next(asx_kafka_framer *f) {
  if (!f || !f->complete) return;
  asx_free(f->alloc, f->body);
  f->body = NULL;
  f->body_need = f->body_have = 0;
  f->size_have = 0;
  f->size_known = f->complete = false;
}

/* Private helpers shared by the Kafka codec sources (not installed). */
#ifndef ASX_KAFKA_INTERNAL_H
#define ASX_KAFKA_INTERNAL_H

#include "asx/kafka.h"

/* Records a reader failure; the first one wins. */
void asx_kafka_reader_fail(asx_kafka_reader *r, int err, const char *field, const char *reason);

/* Arena allocation inside a decoder: zeroed, aligned, freed by reset/free. NULL on failure. */
void *asx_kafka_arena_alloc(asx_kafka_decoder *d, size_t size);
/* Hands a block allocated with the decoder's allocator to the arena (freed on reset).
 * On failure the block is freed and ASX_ENOMEM returned. */
int asx_kafka_arena_adopt(asx_kafka_decoder *d, void *block);
const asx_allocator *asx_kafka_decoder_allocator(const asx_kafka_decoder *d);
/* Allocates count elements of elem_size for an array decoded by r; sets r->err on failure.
 * count <= 0 returns NULL without error. */
void *asx_kafka_arena_array(asx_kafka_decoder *d, asx_kafka_reader *r, int32_t count,
                            size_t elem_size, const char *field);
/* Turns a reader's state into the decoder's return code and message; checks trailing bytes when
 * `whole` is set. */
int asx_kafka_decoder_finish(asx_kafka_decoder *d, asx_kafka_reader *r, bool whole);
/* Sets the decoder message from printf arguments and returns err. */
int asx_kafka_decoder_set_error(asx_kafka_decoder *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes an int32 array (schema-level); nullable arrays give count -1. */
asx_kafka_int32_array asx_kafka_read_int32_array(asx_kafka_decoder *d, asx_kafka_reader *r,
                                                 bool flex, bool nullable, const char *field);

/* Encoder scaffolding: checks the version, writes the header. Returns 0 or an error with
 * out->len restored. */
int asx_kafka_encode_start(asx_buf *out, const asx_kafka_request_header *h, int16_t api_key,
                           asx_kafka_writer *w, size_t *frame_start, size_t *saved_len);
/* Finishes a request: on writer error restores out->len and returns the error. */
int asx_kafka_encode_finish(asx_buf *out, asx_kafka_writer *w, size_t frame_start,
                            size_t saved_len);

/* Compression (kafka_compress.c). Decompression output is capped at `max` bytes (ASX_ELIMIT). */
int asx_kafka_compress(int codec, const asx_allocator *a, const uint8_t *in, size_t len,
                       asx_buf *out);
int asx_kafka_decompress(int codec, const asx_allocator *a, const uint8_t *in, size_t len,
                         size_t max, uint8_t **out, size_t *out_len);

/* Validates (key, version) against the supported range: 0 or ASX_EUNSUPPORTED. */
int asx_kafka_check_version(int16_t api_key, int16_t version);

/* Response decoding prologue: validates arguments and version, initialises r over body. Returns 0
 * or an error (with the decoder message set). */
int asx_kafka_decode_begin(asx_kafka_decoder *d, int16_t api_key, int16_t version, const void *body,
                           size_t len, const void *out, asx_kafka_reader *r);

/* Shorthands for the API files: `f` is "this version is flexible" (compact types + tags). */
static inline asx_kafka_str kr_str(asx_kafka_reader *r, bool f, const char *n) {
  return asx_kafka_read_string(r, f, false, n);
}
static inline asx_kafka_str kr_nstr(asx_kafka_reader *r, bool f, const char *n) {
  return asx_kafka_read_string(r, f, true, n);
}
static inline int32_t kr_arr(asx_kafka_reader *r, bool f, size_t min_elem, const char *n) {
  return asx_kafka_read_array_len(r, f, false, min_elem, n);
}
static inline void kr_tags(asx_kafka_reader *r, bool f, const char *n) {
  if (f) asx_kafka_read_tagged_fields(r, n);
}
static inline void kw_str(asx_kafka_writer *w, bool f, const char *s) {
  asx_kafka_write_string(w, f, false, s);
}
static inline void kw_nstr(asx_kafka_writer *w, bool f, const char *s) {
  asx_kafka_write_string(w, f, true, s);
}
/* Array length; a negative count (other than an allowed -1) or missing items is EINVAL. */
static inline void kw_arr(asx_kafka_writer *w, bool f, int32_t n, const void *items) {
  if (n < 0 || (n > 0 && !items)) {
    if (!w->err) w->err = ASX_EINVAL;
    return;
  }
  asx_kafka_write_array_len(w, f, n);
}
static inline void kw_tags(asx_kafka_writer *w, bool f) {
  if (f) asx_kafka_write_empty_tags(w);
}

#endif

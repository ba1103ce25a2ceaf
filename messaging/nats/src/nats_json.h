/* A small strict JSON reader (RFC 8259) for the NATS INFO payload: a cursor the caller drives
 * value by value, so unknown fields are skipped without building a tree. Bounded nesting depth;
 * strict UTF-8; full escapes including \u surrogate pairs; no trailing commas, no leading zeros,
 * no garbage after the top-level value. Not part of the public API. */
#ifndef ASX_NATS_JSON_H
#define ASX_NATS_JSON_H

#include "asx/base.h"

typedef struct asx_nats_json {
  const uint8_t *s;
  size_t len;
  size_t pos;
  size_t depth;
  size_t max_depth;
  char *err;      /* caller's message buffer (may be NULL) */
  size_t err_len;
} asx_nats_json;

/* Where a decoded string goes: an asx_buf (bounded by its max), or a small fixed array that
 * records truncation (used for object keys, which are only compared). */
typedef struct asx_nats_json_sink {
  asx_buf *buf;
  uint8_t *fixed;
  size_t fixed_cap;
  size_t fixed_len;
  bool truncated;
} asx_nats_json_sink;

typedef enum asx_nats_json_type {
  ASX_NATS_JSON_END = 0,
  ASX_NATS_JSON_OBJECT,
  ASX_NATS_JSON_ARRAY,
  ASX_NATS_JSON_STRING,
  ASX_NATS_JSON_NUMBER,
  ASX_NATS_JSON_TRUE,
  ASX_NATS_JSON_FALSE,
  ASX_NATS_JSON_NULL,
  ASX_NATS_JSON_INVALID
} asx_nats_json_type;

void asx_nats_json_init(asx_nats_json *j, const uint8_t *s, size_t len, size_t max_depth,
                        char *err, size_t err_len);
/* Records an error message (first one wins) and returns code. */
int asx_nats_json_fail(asx_nats_json *j, int code, const char *what);
/* Skips whitespace and tells what the next value is (without consuming it). */
asx_nats_json_type asx_nats_json_peek(asx_nats_json *j);
/* Consumes '{' / '['; ASX_ELIMIT beyond max_depth. */
int asx_nats_json_open(asx_nats_json *j, uint8_t bracket);
/* Next member: *done at '}' (depth restored); otherwise the key went to `key` and ':' was eaten. */
int asx_nats_json_member(asx_nats_json *j, bool *first, asx_nats_json_sink *key, bool *done);
/* Next element: *done at ']' (depth restored); otherwise a value follows. */
int asx_nats_json_element(asx_nats_json *j, bool *first, bool *done);
/* Decodes a string value into sink (NULL sink: validate only). */
int asx_nats_json_string(asx_nats_json *j, asx_nats_json_sink *sink);
/* Consumes a number; *text is its source span, *is_int when it has no fraction or exponent. */
int asx_nats_json_number(asx_nats_json *j, asx_slice *text, bool *is_int);
/* Consumes true/false/null. */
int asx_nats_json_literal(asx_nats_json *j, asx_nats_json_type *t);
/* Consumes any value (depth-bounded recursion). */
int asx_nats_json_skip(asx_nats_json *j);
/* Only whitespace may remain. */
int asx_nats_json_finish(asx_nats_json *j);

#endif

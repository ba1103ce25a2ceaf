/* Test helpers for the HTTP/1.1 codec: a decoder driver that feeds input split at given points
 * and records every event as one line of text, so whole and split decodings compare as strings. */
#ifndef HTTP1_TEST_UTIL_H
#define HTTP1_TEST_UTIL_H

#include <stddef.h>

#include "asx/http1.h"

typedef struct h1_run {
  char *log;               /* malloc'd, NUL-terminated event log */
  int rc;                  /* last non-zero feed/finish result, 0 if none */
  asx_http1_error error;   /* decoder error at the end */
  char message[200];       /* decoder error message at the end */
  size_t consumed;         /* total bytes accepted */
  int messages;            /* MESSAGE_DONE events */
  int upgraded;            /* an UPGRADE event happened */
} h1_run;

typedef struct h1_opts {
  asx_http1_kind kind;
  const asx_http1_limits *limits;   /* NULL: defaults */
  asx_http1_method method;          /* response decoders: request method (0 = GET) */
  const asx_allocator *alloc;
  int finish;                       /* call finish at the end of input */
} h1_opts;

/* Decodes `in` fed in pieces: piece sizes `step` (0 = whole input). */
h1_run h1_decode(const h1_opts *o, const char *in, size_t len, size_t step);
/* Decodes `in` split in two at `split`. */
h1_run h1_decode_split(const h1_opts *o, const char *in, size_t len, size_t split);
void h1_run_free(h1_run *r);

/* Convenience for requests / responses given as C strings, whole input, finish at end. */
h1_run h1_req(const char *s);
h1_run h1_resp(const char *s, asx_http1_method m);

/* Asserts (criterion) that one-byte and every-split-point decodings log the same as whole. */
void h1_assert_split_invariant(const h1_opts *o, const char *in, size_t len, int every_split);

#endif

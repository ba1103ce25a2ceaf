/* Helpers shared by the redis suites: canonical dumps of reply trees and commands, and feeding
 * input whole, in pieces or under a failing allocator. */
#ifndef REDIS_TEST_UTIL_H
#define REDIS_TEST_UTIL_H

#include <stddef.h>

#include "asx/redis.h"

/* Appends a canonical, unambiguous text form of `r` (types, wire bytes, values, attributes). */
void dump_reply(asx_buf *out, const asx_redis_reply *r);

/* Decodes `in` fed as pieces ending at cuts[0] < cuts[1] < ... (then the rest). Appends each
 * reply's dump plus "\n" to `out`. Returns the final code: ASX_EAGAIN when the input ends inside
 * a reply (or exactly between replies), else the first error. `alloc` may be a failing
 * allocator: on ASX_ENOMEM the feed is retried after calling `on_enomem` (may be NULL). */
int decode_pieces(const void *in, size_t n, const size_t *cuts, size_t ncuts,
                  const asx_redis_limits *lim, const asx_allocator *alloc, asx_buf *out,
                  void (*on_enomem)(void *), void *ud);
/* Same, whole input. */
int decode_whole(const void *in, size_t n, const asx_redis_limits *lim, asx_buf *out);
/* One byte at a time. */
int decode_bytewise(const void *in, size_t n, const asx_redis_limits *lim, asx_buf *out);

/* Decodes one reply from a NUL-terminated string with default limits; NULL on any problem. */
asx_redis_reply *decode_one(const char *s);

/* Same idea for the server-side decoder: one line per command, arguments shown escaped. */
int commands_pieces(const void *in, size_t n, const size_t *cuts, size_t ncuts,
                    const asx_redis_limits *lim, const asx_allocator *alloc, asx_buf *out,
                    void (*on_enomem)(void *), void *ud);

/* NUL-terminates the buffer's text (does not count it in len) and returns it. */
const char *buf_str(asx_buf *b);

#endif

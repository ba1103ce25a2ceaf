/* Internals shared by the redis codec files. Every external symbol is prefixed asx_redis_i_ so
 * that the other protocols built into asx_messaging cannot collide with it. */
#ifndef ASX_REDIS_INTERNAL_H
#define ASX_REDIS_INTERNAL_H

#include "asx/redis.h"

/* Result of parsing a number from a line. */
typedef enum asx_redis_i_num {
  ASX_REDIS_I_NUM_OK = 0,
  ASX_REDIS_I_NUM_SYNTAX,   /* not a number in the accepted grammar */
  ASX_REDIS_I_NUM_OVERFLOW  /* does not fit in int64 */
} asx_redis_i_num;

/* A length or count: "-1", "0" or [1-9][0-9]* (redis-server's string2ll grammar, no sign, no
 * leading zeros). */
asx_redis_i_num asx_redis_i_parse_len(const uint8_t *p, size_t n, int64_t *out);
/* An integer value: [+-]?[0-9]+ fitting int64 (the RESP3 grammar). */
asx_redis_i_num asx_redis_i_parse_int(const uint8_t *p, size_t n, int64_t *out);
/* A double: inf | -inf | nan | [+-]?digits[.digits][(e|E)[+-]?digits], independent of locale. */
bool asx_redis_i_parse_double(const uint8_t *p, size_t n, double *out);
/* A big number: [+-]?[0-9]+ */
bool asx_redis_i_valid_bignum(const uint8_t *p, size_t n);
/* Writes the RESP text of a double (no type byte, no CRLF) into buf; returns its length. */
size_t asx_redis_i_format_double(char *buf, size_t cap, double v);

/* True for the wire bytes of the aggregate types. */
bool asx_redis_i_is_aggregate(asx_redis_type t);

/* The inline-command splitter (redis-server's rules, see redis_inline.c). Calls `arg` for each
 * argument with its bytes; `arg` returns 0 or a negative code that stops the split. Returns 0,
 * ASX_EPROTO for unbalanced quotes (offset of the problem in *bad_at), or `arg`'s code. */
typedef int (*asx_redis_i_arg_fn)(void *ud, const uint8_t *p, size_t n);
int asx_redis_i_split_inline(const uint8_t *line, size_t n, uint8_t *scratch, asx_redis_i_arg_fn arg,
                             void *ud, size_t *bad_at);

/* The tree builder behind asx_redis_decoder (redis_tree.c). It consumes decoder events; every
 * call is atomic: on ASX_ENOMEM nothing changed and the same event may be offered again. */
typedef struct asx_redis_i_tree asx_redis_i_tree;
int asx_redis_i_tree_new(asx_redis_i_tree **out, const asx_allocator *a, unsigned max_depth);
void asx_redis_i_tree_free(asx_redis_i_tree *t);
/* Frees any partial tree. */
void asx_redis_i_tree_reset(asx_redis_i_tree *t);
/* An asx_redis_event_cb with `ud` = the tree. */
int asx_redis_i_tree_event(void *ud, const asx_redis_event *ev);
/* After REPLY_END: hands over the finished reply (caller owns it). */
asx_redis_reply *asx_redis_i_tree_take(asx_redis_i_tree *t);

#endif

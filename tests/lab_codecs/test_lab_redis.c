/* Redis in the lab: a client pipelines seven commands (HELLO 3, SET with a 2000-byte binary value,
 * GET, INCR, HGETALL, a missing key, SMEMBERS) through asx_redis_encode_command; the server decodes
 * them with the command decoder and answers with scripted RESP3 replies (map, simple string, bulk,
 * integer, double, null, set, verbatim, an attribute and a push). Each reply tree the client
 * decodes is written back with asx_redis_write_reply and must equal the bytes the server sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/redis.h"
#include "lab_codec_util.h"

#define NCMD 7
#define BIG 2000

typedef struct redis_state {
  int commands_seen, replies_seen;
} redis_state;

static redis_state G;
static uint8_t big_value[BIG];

static void fill_big(void) {
  for (size_t k = 0; k < BIG; k++) big_value[k] = (uint8_t)(k * 31 + 7); /* binary: CR, LF, NUL */
}

/* Command i as argv. */
static size_t command(int i, const char *argv[4], size_t lens[4]) {
  static const char *const names[NCMD][4] = {
      {"HELLO", "3", NULL, NULL},     {"SET", "blob", NULL, NULL}, {"GET", "blob", NULL, NULL},
      {"INCR", "counter", NULL, NULL}, {"HGETALL", "user:1", NULL, NULL},
      {"GET", "missing", NULL, NULL}, {"SMEMBERS", "tags", NULL, NULL}};
  size_t n = 0;
  for (; n < 4 && names[i][n]; n++) {
    argv[n] = names[i][n];
    lens[n] = strlen(names[i][n]);
  }
  if (i == 1) {
    argv[n] = (const char *)big_value;
    lens[n++] = BIG;
  }
  return n;
}

/* The server's scripted answer to command i. */
static int reply(asx_buf *o, int i) {
  int rc = 0;
  switch (i) {
  case 0:
    rc = asx_redis_write_aggregate(o, ASX_REDIS_MAP, 3);
    if (!rc) rc = asx_redis_write_bulk(o, "server", 6);
    if (!rc) rc = asx_redis_write_bulk(o, "redis", 5);
    if (!rc) rc = asx_redis_write_bulk(o, "proto", 5);
    if (!rc) rc = asx_redis_write_integer(o, 3);
    if (!rc) rc = asx_redis_write_bulk(o, "modules", 7);
    if (!rc) rc = asx_redis_write_aggregate(o, ASX_REDIS_ARRAY, 0);
    break;
  case 1: rc = asx_redis_write_simple(o, "OK", 2); break;
  case 2:
    rc = asx_redis_write_aggregate(o, ASX_REDIS_ATTRIBUTE, 1); /* an attribute before the value */
    if (!rc) rc = asx_redis_write_simple(o, "ttl", 3);
    if (!rc) rc = asx_redis_write_double(o, 1.5);
    if (!rc) rc = asx_redis_write_bulk(o, big_value, BIG);
    break;
  case 3:
    rc = asx_redis_write_aggregate(o, ASX_REDIS_PUSH, 2); /* out-of-band push first */
    if (!rc) rc = asx_redis_write_bulk(o, "invalidate", 10);
    if (!rc) rc = asx_redis_write_bool(o, true);
    if (!rc) rc = asx_redis_write_integer(o, -9007199254740993ll);
    break;
  case 4:
    rc = asx_redis_write_aggregate(o, ASX_REDIS_MAP, 2);
    if (!rc) rc = asx_redis_write_bulk(o, "name", 4);
    if (!rc) rc = asx_redis_write_verbatim(o, "txt", "Ada", 3);
    if (!rc) rc = asx_redis_write_bulk(o, "score", 5);
    if (!rc) rc = asx_redis_write_bignum(o, "1234567890123456789012345", 25);
    break;
  case 5: rc = asx_redis_write_null(o); break;
  case 6:
    rc = asx_redis_write_aggregate(o, ASX_REDIS_SET, 3);
    if (!rc) rc = asx_redis_write_bulk(o, "a", 1);
    if (!rc) rc = asx_redis_write_error(o, "ERR nested", 10);
    if (!rc) rc = asx_redis_write_aggregate(o, ASX_REDIS_ARRAY, 1);
    if (!rc) rc = asx_redis_write_bulk_error(o, "x\r\ny", 4);
    break;
  }
  return rc;
}

/* The push in reply 3 is its own top-level value: the client sees 8 values for 7 commands. */
#define NVALUES (NCMD + 1)

static int server_fn(asx_cx *cx, lc_side *side) {
  asx_redis_cmd_decoder *d = NULL;
  int rc = asx_redis_cmd_decoder_new(&d, NULL, NULL);
  if (rc) return rc;
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  uint8_t buf[333];
  for (;;) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    if (rc) break;
    size_t off = 0;
    while (rc == 0 && off < n) {
      size_t used = 0;
      const asx_redis_command *c = NULL;
      int f = asx_redis_cmd_decoder_feed(d, buf + off, n - off, &used, &c);
      off += used;
      if (f == ASX_EAGAIN) break;
      if (f) {
        lc_fail(cx, side, "decode", "%s: %s", asx_errname(f), asx_redis_cmd_decoder_error_message(d));
        rc = f;
        break;
      }
      int i = G.commands_seen;
      const char *argv[4];
      size_t lens[4];
      size_t argc = i < NCMD ? command(i, argv, lens) : 0;
      bool same = i < NCMD && c->argc == argc;
      for (size_t k = 0; same && k < argc; k++)
        same = c->argv[k].len == lens[k] && memcmp(c->argv[k].ptr, argv[k], lens[k]) == 0;
      if (!same) {
        lc_fail(cx, side, "transcript", "command %d differs from what was sent", i);
        rc = ASX_EPROTO;
        break;
      }
      lc_note(cx, "redis.command", c->argv[0].ptr, c->argv[0].len);
      G.commands_seen++;
      rc = reply(&out, i);
      if (!rc) rc = lc_flush(cx, side, &out);
    }
    if (rc) break;
  }
  if (rc == ASX_ECLOSED) rc = G.commands_seen == NCMD || side->reset_mode ? 0 : ASX_EPROTO;
  asx_buf_free(&out);
  asx_redis_cmd_decoder_free(d);
  return rc;
}

/* Expected top-level values in order: reply i's bytes, with reply 3's push split off first. */
static void expected_value(int v, asx_buf *e) {
  asx_buf all;
  asx_buf_init(&all, NULL, 0);
  if (v < 3) {
    reply(e, v);
  } else if (v == 3 || v == 4) {
    reply(&all, 3);
    /* push frame: ">2 $10 invalidate #t" with CRLFs (25 bytes), then the integer */
    size_t push_len = 4 + 5 + 12 + 4;
    if (v == 3) asx_buf_append(e, all.data, push_len);
    else asx_buf_append(e, all.data + push_len, all.len - push_len);
  } else {
    reply(e, v - 1);
  }
  asx_buf_free(&all);
}

static int client_fn(asx_cx *cx, lc_side *side) {
  asx_redis_decoder *d = NULL;
  int rc = asx_redis_decoder_new(&d, NULL, NULL);
  if (rc) return rc;
  asx_buf out, got, want;
  asx_buf_init(&out, NULL, 0);
  asx_buf_init(&got, NULL, 0);
  asx_buf_init(&want, NULL, 0);
  for (int i = 0; i < NCMD && rc == 0; i++) {
    const char *argv[4];
    size_t lens[4];
    size_t argc = command(i, argv, lens);
    rc = asx_redis_encode_command(&out, argc, argv, lens);
  }
  if (!rc) rc = lc_flush(cx, side, &out); /* pipelined: every command before any reply */
  uint8_t buf[257];
  while (rc == 0 && G.replies_seen < NVALUES) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    size_t off = 0;
    while (rc == 0 && off < n) {
      size_t used = 0;
      asx_redis_reply *r = NULL;
      int f = asx_redis_decoder_feed(d, buf + off, n - off, &used, &r);
      off += used;
      if (f == ASX_EAGAIN) break;
      if (f) {
        lc_fail(cx, side, "decode", "%s: %s", asx_errname(f), asx_redis_decoder_error_message(d));
        rc = f;
        break;
      }
      asx_buf_reset(&got);
      asx_buf_reset(&want);
      asx_redis_write_reply(&got, r);
      asx_redis_reply_free(r);
      expected_value(G.replies_seen, &want);
      if (G.replies_seen >= NVALUES || got.len != want.len || memcmp(got.data, want.data, got.len)) {
        lc_fail(cx, side, "transcript", "value %d: %zu bytes re-encoded, %zu sent", G.replies_seen,
                got.len, want.len);
        rc = ASX_EPROTO;
        break;
      }
      lc_note(cx, "redis.reply", got.data, got.len);
      G.replies_seen++;
    }
  }
  if (!rc) rc = lc_shutdown(cx, side);
  asx_buf_free(&out);
  asx_buf_free(&got);
  asx_buf_free(&want);
  asx_redis_decoder_free(d);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  fill_big();
  int rc = lc_run_pair(cx, lab, mode, client_fn, server_fn, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.commands_seen != NCMD || G.replies_seen != NVALUES))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_redis, "redis_pipeline", "redis", "pipelined Redis commands, RESP3 replies")

/* Fuzz harness for the Redis codec. Byte 0 chooses what is fuzzed, byte 1 how the input is cut;
 * the rest is the wire input.
 *   byte0 & 3: 0,1 reply decoder building trees; 2 reply decoder streaming events;
 *              3 server-side command decoder (RESP arrays and inline commands)
 *   byte0 & 4: small limits (so every limit is reachable)
 *   byte0 & 8: an allocator that fails every Nth allocation (retried after ASX_ENOMEM)
 * Invariants (abort on violation): feeding whole, cut once, and in small steps give the same
 * replies/commands and the same final code; a failing allocator changes nothing; every decoded
 * tree re-encodes to bytes that decode to the same tree; decoded commands re-encode to RESP
 * that decodes to the same arguments. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/redis.h"
#include "redis_test_util.h"

/* ---- an allocator failing every Nth allocation, with a grace period after each failure ---- */
typedef struct flaky {
  asx_allocator base;
  unsigned every, count, grace;
} flaky;

static bool flaky_fail(flaky *f) {
  if (f->grace) {
    f->grace--;
    return false;
  }
  return ++f->count % f->every == 0;
}
static void *flaky_alloc(void *ud, size_t n) { return flaky_fail(ud) ? NULL : malloc(n); }
static void *flaky_realloc(void *ud, void *p, size_t n) { return flaky_fail(ud) ? NULL : realloc(p, n); }
static void flaky_free(void *ud, void *p) {
  (void)ud;
  free(p);
}
/* The largest atomic step (creating a decoder) needs six allocations: let the retry through. */
static void flaky_retry(void *ud) { ((flaky *)ud)->grace = 16; }

static void check(bool ok) {
  if (!ok) abort();
}

static bool same(asx_buf *a, int rca, asx_buf *b, int rcb) {
  return rca == rcb && a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* ---- streaming events, recorded as text (payload chunks merged) ---- */
static int record(void *ud, const asx_redis_event *ev) {
  asx_buf *b = ud;
  if (ev->kind == ASX_REDIS_EV_BLOB_DATA) return asx_buf_append(b, ev->data.ptr, ev->data.len) ? ASX_ENOMEM : 0;
  asx_buf_appendf(b, "|%d/%d/%c/%u/%lld/%llu/%s:", ev->kind, (int)ev->type, ev->wire ? ev->wire : '0', ev->depth,
                  (long long)ev->integer, (unsigned long long)ev->len, ev->format);
  asx_buf_append(b, ev->data.ptr, ev->data.len);
  return 0;
}

static int events_pieces(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts,
                         const asx_redis_limits *lim, asx_buf *out) {
  asx_redis_decoder *d;
  if (asx_redis_decoder_new(&d, lim, NULL)) return ASX_ENOMEM;
  asx_redis_decoder_set_event_cb(d, record, out);
  size_t pos = 0;
  int rc = ASX_EAGAIN;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : n;
    while (pos < end) {
      size_t used;
      rc = asx_redis_decoder_feed(d, in + pos, end - pos, &used, NULL);
      pos += used;
      if (rc != 0 && rc != ASX_EAGAIN) goto done;
    }
  }
done:
  asx_redis_decoder_free(d);
  return rc;
}

/* Re-encodes each reply of a whole-input decode and checks it decodes to the same tree. */
static void check_reply_round_trip(const uint8_t *in, size_t n, const asx_redis_limits *lim) {
  asx_redis_decoder *d;
  if (asx_redis_decoder_new(&d, lim, NULL)) return;
  size_t pos = 0;
  while (pos < n) {
    size_t used;
    asx_redis_reply *r = NULL;
    int rc = asx_redis_decoder_feed(d, in + pos, n - pos, &used, &r);
    pos += used;
    if (rc != 0) break;
    asx_buf enc, d1, d2;
    asx_buf_init(&enc, NULL, 0);
    asx_buf_init(&d1, NULL, 0);
    asx_buf_init(&d2, NULL, 0);
    check(asx_redis_write_reply(&enc, r) == 0);
    dump_reply(&d1, r);
    asx_buf_append_byte(&d1, '\n');
    /* Re-encoded text (e.g. doubles in %.17g) may be longer than the original: default limits. */
    int rc2 = decode_whole(enc.data, enc.len, NULL, &d2);
    check(rc2 == 0 && same(&d1, 0, &d2, 0));
    asx_buf_free(&enc);
    asx_buf_free(&d1);
    asx_buf_free(&d2);
    asx_redis_reply_free(r);
  }
  asx_redis_decoder_free(d);
}

/* Re-encodes each decoded command as RESP and checks the arguments survive. */
static void check_command_round_trip(const uint8_t *in, size_t n, const asx_redis_limits *lim) {
  asx_redis_cmd_decoder *d, *d2;
  if (asx_redis_cmd_decoder_new(&d, lim, NULL)) return;
  if (asx_redis_cmd_decoder_new(&d2, NULL, NULL)) {
    asx_redis_cmd_decoder_free(d);
    return;
  }
  size_t pos = 0;
  while (pos < n) {
    size_t used;
    const asx_redis_command *c;
    int rc = asx_redis_cmd_decoder_feed(d, in + pos, n - pos, &used, &c);
    pos += used;
    if (rc != 0) break;
    check(c->argc > 0);
    asx_buf enc;
    asx_buf_init(&enc, NULL, 0);
    check(asx_redis_encode_command_slices(&enc, c->argc, c->argv) == 0);
    const asx_redis_command *c2;
    check(asx_redis_cmd_decoder_feed(d2, enc.data, enc.len, &used, &c2) == 0 && used == enc.len);
    check(c2->argc == c->argc && !c2->inline_form);
    for (size_t i = 0; i < c->argc; i++)
      check(c2->argv[i].len == c->argv[i].len &&
            (c->argv[i].len == 0 || memcmp(c2->argv[i].ptr, c->argv[i].ptr, c->argv[i].len) == 0));
    asx_buf_free(&enc);
  }
  asx_redis_cmd_decoder_free(d);
  asx_redis_cmd_decoder_free(d2);
}

typedef int (*run_fn)(const void *, size_t, const size_t *, size_t, const asx_redis_limits *,
                      const asx_allocator *, asx_buf *, void (*)(void *), void *);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t mode = data[0], seed = data[1];
  const uint8_t *in = data + 2;
  size_t n = size - 2;
  asx_redis_limits lim = asx_redis_limits_default();
  if (mode & 4) {
    lim.max_bulk = 64;
    lim.max_elements = 16;
    lim.max_depth = 4;
    lim.max_line = 32;
    lim.max_total = 256;
  }
  /* Cuts: one in the middle, and steps of 1..13 bytes. */
  size_t one = n > 1 ? 1 + (size_t)seed * (n - 1) / 256 : 0;
  size_t step = (size_t)(seed % 13) + 1;
  size_t nsteps = n ? (n - 1) / step : 0;
  size_t *cuts = malloc((nsteps + 1) * sizeof *cuts);
  if (!cuts) return 0;
  for (size_t i = 0; i < nsteps; i++) cuts[i] = (i + 1) * step;

  asx_buf whole, a, b;
  asx_buf_init(&whole, NULL, 0);
  asx_buf_init(&a, NULL, 0);
  asx_buf_init(&b, NULL, 0);
  int rw, ra, rb;
  if ((mode & 3) == 2) {
    rw = events_pieces(in, n, NULL, 0, &lim, &whole);
    ra = events_pieces(in, n, &one, one ? 1 : 0, &lim, &a);
    rb = events_pieces(in, n, cuts, nsteps, &lim, &b);
  } else {
    run_fn run = (mode & 3) == 3 ? commands_pieces : decode_pieces;
    rw = run(in, n, NULL, 0, &lim, NULL, &whole, NULL, NULL);
    ra = run(in, n, &one, one ? 1 : 0, &lim, NULL, &a, NULL, NULL);
    if (mode & 8) {
      flaky f = {{flaky_alloc, flaky_realloc, flaky_free, NULL}, (unsigned)(seed % 7) + 2, 0, 0};
      f.base.ud = &f;
      rb = run(in, n, cuts, nsteps, &lim, &f.base, &b, flaky_retry, &f);
    } else {
      rb = run(in, n, cuts, nsteps, &lim, NULL, &b, NULL, NULL);
    }
    if ((mode & 3) == 3)
      check_command_round_trip(in, n, &lim);
    else
      check_reply_round_trip(in, n, &lim);
  }
  check(rw != ASX_ECORRUPT && rw != ASX_EINVAL);
  check(same(&whole, rw, &a, ra));
  check(same(&whole, rw, &b, rb));
  asx_buf_free(&whole);
  asx_buf_free(&a);
  asx_buf_free(&b);
  free(cuts);
  return 0;
}

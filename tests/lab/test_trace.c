/* Trace format: every record type round-trips; a trace spanning many blocks verifies; one flipped
 * byte anywhere, any truncation, swapped blocks and trailing bytes are rejected with the first bad
 * record named; limits at -1/=/+1; allocation failures. */
#include <criterion/criterion.h>
#include <string.h>

#include "asx/lab.h"
#include "test_alloc.h"

TestSuite(lab_trace, .timeout = 120);

static asx_lab_trace_header header(void) {
  asx_lab_trace_header h;
  memset(&h, 0, sizeof h);
  h.version = ASX_LAB_TRACE_VERSION;
  h.seed = 0x1234567890abcdefull;
  h.strategy = ASX_LAB_PCT;
  h.pct_depth = 3;
  h.pct_steps = 777;
  h.max_steps = 1000000;
  h.poll_budget = 61;
  strcpy(h.scenario, "unit");
  return h;
}

static asx_slice sl(const char *s) { return (asx_slice){(const uint8_t *)s, strlen(s)}; }

/* One record of every type with distinctive values. */
static asx_lab_record sample(int i) {
  asx_lab_record r;
  memset(&r, 0, sizeof r);
  r.type = (asx_lab_rec_type)(1 + i % ASX_LAB_REC_TYPE_MAX);
  r.task = (uint64_t)i * 3 + 1;
  r.region = (uint64_t)i * 5 + 2;
  r.a = (uint64_t)i << (i % 50);
  r.b = UINT64_MAX - (uint64_t)i;
  r.code = (i % 2) ? -(int64_t)i * 1000 : INT64_MIN + i;
  r.text = sl(i % 3 ? "hello" : "");
  r.text2 = sl("file.c");
  return r;
}

/* The fields a type carries must survive; others decode as zero. */
static void check_same(const asx_lab_record *w, const asx_lab_record *r) {
  cr_assert_eq(r->type, w->type);
  char a[512], b[512];
  asx_lab_record_format(w, a, sizeof a);
  asx_lab_record_format(r, b, sizeof b);
  cr_assert_str_eq(a, b);
}

static uint8_t *build(size_t nrec, size_t *len, uint8_t digest[32]) {
  asx_lab_trace_header h = header();
  asx_lab_trace_writer *w;
  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 0, &w), 0);
  for (size_t i = 0; i < nrec; i++) {
    asx_lab_record r = sample((int)i);
    cr_assert_eq(asx_lab_trace_write(w, &r), 0);
  }
  cr_assert_eq(asx_lab_trace_finish(w, digest), 0);
  const uint8_t *p = asx_lab_trace_bytes(w, len);
  uint8_t *copy = malloc(*len);
  memcpy(copy, p, *len);
  asx_lab_trace_writer_free(w);
  return copy;
}

Test(lab_trace, every_record_type_round_trips_across_blocks) {
  size_t len;
  uint8_t d[32], d2[32];
  uint8_t *p = build(2000, &len, d);
  asx_lab_trace *t;
  asx_lab_trace_error e;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, NULL, &t, &e), 0, "%s", e.message);
  cr_assert_eq(asx_lab_trace_count(t), 2000);
  const asx_lab_trace_header *h = asx_lab_trace_header_get(t);
  asx_lab_trace_header want = header();
  cr_assert_eq(h->seed, want.seed);
  cr_assert_eq(h->strategy, ASX_LAB_PCT);
  cr_assert_eq(h->pct_steps, 777);
  cr_assert_str_eq(h->scenario, "unit");
  for (size_t i = 0; i < 2000; i++) {
    asx_lab_record w = sample((int)i), r;
    cr_assert_eq(asx_lab_trace_get(t, i, &r), 0);
    check_same(&w, &r);
  }
  asx_lab_trace_digest(t, d2);
  cr_assert_eq(memcmp(d, d2, 32), 0);
  asx_lab_trace_free(t);
  free(p);
}

Test(lab_trace, one_flipped_byte_anywhere_is_rejected) {
  size_t len;
  uint8_t d[32];
  uint8_t *p = build(600, &len, d); /* three blocks */
  asx_lab_trace *full;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, NULL, &full, NULL), 0);
  for (size_t off = 0; off < len; off++) {
    for (int bit = 0; bit < 8; bit += 7) {
      p[off] ^= (uint8_t)(1u << bit);
      asx_lab_trace *t = NULL;
      asx_lab_trace_error e;
      int err = asx_lab_trace_parse(NULL, p, len, NULL, &t, &e);
      cr_assert_lt(err, 0, "flip at offset %zu accepted", off);
      cr_assert_null(t);
      cr_assert_eq(e.code, err);
      cr_assert_geq(e.record, -1);
      cr_assert_leq(e.offset, len);
      /* The named record is never after the one containing the flipped byte. */
      size_t holder = 0;
      while (holder + 1 < asx_lab_trace_count(full) && asx_lab_trace_offset(full, holder + 1) <= off)
        holder++;
      if (e.record >= 0) cr_assert_leq((size_t)e.record, asx_lab_trace_count(full), "off %zu", off);
      if (off >= asx_lab_trace_offset(full, 0) && off < asx_lab_trace_offset(full, asx_lab_trace_count(full) - 1))
        cr_assert_leq(e.record, (int64_t)holder + 1, "off %zu named %lld", off, (long long)e.record);
      p[off] ^= (uint8_t)(1u << bit);
    }
  }
  asx_lab_trace_free(full);
  free(p);
}

Test(lab_trace, every_truncation_is_rejected) {
  size_t len;
  uint8_t d[32];
  uint8_t *p = build(300, &len, d);
  for (size_t cut = 0; cut < len; cut++) {
    asx_lab_trace *t = NULL;
    asx_lab_trace_error e;
    int err = asx_lab_trace_parse(NULL, p, cut, NULL, &t, &e);
    cr_assert_lt(err, 0, "truncation at %zu accepted", cut);
    cr_assert(e.truncated || e.code == ASX_ECHECKSUM, "cut %zu: %s", cut, e.message);
  }
  free(p);
}

/* Equal-size blocks (3 x 256 four-byte SCHED records) so that blocks can be swapped. */
Test(lab_trace, swapped_blocks_and_trailing_bytes_are_rejected) {
  asx_lab_trace_header h = header();
  asx_lab_trace_writer *w;
  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 0, &w), 0);
  for (int i = 0; i < 3 * 256; i++) {
    asx_lab_record r = {.type = ASX_LAB_REC_SCHED, .a = 2, .b = (uint64_t)(i % 2), .task = (uint64_t)(i % 100 + 1)};
    cr_assert_eq(asx_lab_trace_write(w, &r), 0);
  }
  cr_assert_eq(asx_lab_trace_finish(w, NULL), 0);
  size_t len;
  const uint8_t *p = asx_lab_trace_bytes(w, &len);
  asx_lab_trace *t;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, NULL, &t, NULL), 0);
  const size_t frame = 5; /* 'B', varint 256, varint 1024 */
  size_t b0 = (size_t)asx_lab_trace_offset(t, 0) - frame, b1 = (size_t)asx_lab_trace_offset(t, 256) - frame,
         b2 = (size_t)asx_lab_trace_offset(t, 512) - frame;
  asx_lab_trace_free(t);
  size_t bl = b1 - b0;
  cr_assert_eq(b2 - b1, bl);
  cr_assert_eq(p[b0], 'B');
  uint8_t *q = malloc(len + 1);
  asx_lab_trace_error e;
  for (int k = 0; k < 2; k++) { /* swap blocks k and k+1 */
    size_t x = b0 + (size_t)k * bl, y = x + bl;
    memcpy(q, p, len);
    memcpy(q + x, p + y, bl);
    memcpy(q + y, p + x, bl);
    cr_assert_eq(asx_lab_trace_parse(NULL, q, len, NULL, &t, &e), ASX_ECHECKSUM);
    cr_assert_eq(e.record, 256 * k, "%s", e.message);
    cr_assert_eq(e.block, (uint64_t)k);
  }
  /* a block dropped: the chain breaks at the next one */
  memcpy(q, p, b1);
  memcpy(q + b1, p + b2, len - b2);
  cr_assert_eq(asx_lab_trace_parse(NULL, q, len - bl, NULL, &t, &e), ASX_ECHECKSUM);
  cr_assert_eq(e.record, 256);
  /* trailing garbage */
  memcpy(q, p, len);
  q[len] = 0;
  cr_assert_eq(asx_lab_trace_parse(NULL, q, len + 1, NULL, &t, &e), ASX_EPROTO);
  free(q);
  asx_lab_trace_writer_free(w);
}

Test(lab_trace, records_in_a_block_reordered_are_rejected) {
  asx_lab_trace_header h = header();
  asx_lab_trace_writer *w;
  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 0, &w), 0);
  asx_lab_record a = {.type = ASX_LAB_REC_SCHED, .a = 2, .b = 0, .task = 7};
  asx_lab_record b = {.type = ASX_LAB_REC_SCHED, .a = 2, .b = 1, .task = 9};
  cr_assert_eq(asx_lab_trace_write(w, &a), 0);
  cr_assert_eq(asx_lab_trace_write(w, &b), 0);
  cr_assert_eq(asx_lab_trace_finish(w, NULL), 0);
  size_t len;
  const uint8_t *p = asx_lab_trace_bytes(w, &len);
  uint8_t *q = malloc(len);
  memcpy(q, p, len);
  asx_lab_trace *t;
  cr_assert_eq(asx_lab_trace_parse(NULL, q, len, NULL, &t, NULL), 0);
  size_t o0 = (size_t)asx_lab_trace_offset(t, 0), o1 = (size_t)asx_lab_trace_offset(t, 1);
  asx_lab_trace_free(t);
  cr_assert_eq(o1 - o0, 4);
  uint8_t tmp[4];
  memcpy(tmp, q + o0, 4);
  memcpy(q + o0, q + o1, 4);
  memcpy(q + o1, tmp, 4);
  asx_lab_trace_error e;
  cr_assert_eq(asx_lab_trace_parse(NULL, q, len, NULL, &t, &e), ASX_ECHECKSUM);
  cr_assert_eq(e.record, 0);
  cr_assert_eq(e.offset, o0);
  free(q);
  asx_lab_trace_writer_free(w);
}

Test(lab_trace, version_and_magic) {
  size_t len;
  uint8_t d[32];
  uint8_t *p = build(3, &len, d);
  asx_lab_trace *t;
  asx_lab_trace_error e;
  p[8] = 3; /* version varint */
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, NULL, &t, &e), ASX_EUNSUPPORTED);
  cr_assert_eq(e.record, -1);
  p[8] = ASX_LAB_TRACE_VERSION;
  p[0] = 'X';
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, NULL, &t, &e), ASX_EPROTO);
  cr_assert_eq(asx_lab_trace_parse(NULL, p, 0, NULL, &t, &e), ASX_EPROTO);
  cr_assert(e.truncated);
  free(p);
}

Test(lab_trace, limits_at_the_boundary) {
  asx_lab_trace_header h = header();
  asx_lab_trace_writer *w;
  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 0, &w), 0);
  char s[300];
  memset(s, 'x', sizeof s);
  asx_lab_record r = {.type = ASX_LAB_REC_USER, .task = 1};
  r.text = (asx_slice){(const uint8_t *)s, 100};
  cr_assert_eq(asx_lab_trace_write(w, &r), 0);
  r.text.len = 300; /* cut to 255 by the writer */
  cr_assert_eq(asx_lab_trace_write(w, &r), 0);
  cr_assert_eq(asx_lab_trace_finish(w, NULL), 0);
  cr_assert_eq(asx_lab_trace_write(w, &r), ASX_ESTATE);
  size_t len;
  const uint8_t *p = asx_lab_trace_bytes(w, &len);
  asx_lab_trace_limits lim = asx_lab_trace_limits_default();
  asx_lab_trace *t;
  asx_lab_trace_error e;
  lim.max_string = 255;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, &lim, &t, &e), 0);
  asx_lab_record got;
  cr_assert_eq(asx_lab_trace_get(t, 1, &got), 0);
  cr_assert_eq(got.text.len, 255);
  asx_lab_trace_free(t);
  lim.max_string = 254;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, &lim, &t, &e), ASX_ELIMIT);
  cr_assert_eq(e.record, 1);
  lim = asx_lab_trace_limits_default();
  lim.max_records = 2;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, &lim, &t, &e), 0);
  asx_lab_trace_free(t);
  lim.max_records = 1;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, &lim, &t, &e), ASX_ELIMIT);
  lim = asx_lab_trace_limits_default();
  lim.max_bytes = len;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, &lim, &t, &e), 0);
  asx_lab_trace_free(t);
  lim.max_bytes = len - 1;
  cr_assert_eq(asx_lab_trace_parse(NULL, p, len, &lim, &t, &e), ASX_ELIMIT);
  asx_lab_trace_writer_free(w);
}

Test(lab_trace, writer_byte_cap) {
  asx_lab_trace_header h = header();
  asx_lab_trace_writer *w;
  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 200, &w), 0);
  asx_lab_record r = {.type = ASX_LAB_REC_SCHED, .a = 1, .task = 1};
  int err = 0;
  for (int i = 0; i < 10000 && !err; i++) err = asx_lab_trace_write(w, &r);
  if (!err) err = asx_lab_trace_finish(w, NULL);
  cr_assert_eq(err, ASX_ELIMIT);
  size_t len;
  asx_lab_trace_bytes(w, &len);
  cr_assert_leq(len, 200);
  asx_lab_trace_writer_free(w);
}

Test(lab_trace, allocation_failures) {
  size_t len;
  uint8_t d[32];
  uint8_t *p = build(700, &len, d);
  for (long n = 0;; n++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, n);
    asx_lab_trace *t = NULL;
    int err = asx_lab_trace_parse(&ta.base, p, len, NULL, &t, NULL);
    if (err == 0) {
      asx_lab_trace_free(t);
      cr_assert_eq(ta.live, 0);
      break;
    }
    cr_assert_eq(err, ASX_ENOMEM);
    cr_assert_eq(ta.live, 0);
  }
  asx_lab_trace_header h = header();
  for (long n = 0;; n++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, n);
    asx_lab_trace_writer *w = NULL;
    int err = asx_lab_trace_writer_new(&ta.base, &h, 0, &w);
    for (int i = 0; i < 700 && !err; i++) {
      asx_lab_record r = sample(i);
      err = asx_lab_trace_write(w, &r);
    }
    if (!err) err = asx_lab_trace_finish(w, NULL);
    if (err == 0) {
      size_t l2;
      const uint8_t *q = asx_lab_trace_bytes(w, &l2);
      cr_assert_eq(l2, len);
      cr_assert_eq(memcmp(q, p, len), 0);
      asx_lab_trace_writer_free(w);
      cr_assert_eq(ta.live, 0);
      break;
    }
    cr_assert_eq(err, ASX_ENOMEM);
    asx_lab_trace_writer_free(w);
    cr_assert_eq(ta.live, 0);
  }
  free(p);
}

/* The same on a real run's trace (a planted-bug scenario): every byte, every truncation. */
Test(lab_trace, real_trace_every_flip_and_cut_rejected) {
  cr_assert_eq(asx_lab_register_demos(), 0);
  asx_lab_config c;
  asx_lab_config_default(&c);
  c.scenario = "deadlock";
  c.seed = 3;
  asx_lab_verdict v;
  uint8_t *p;
  size_t len;
  cr_assert_eq(asx_lab_run(&c, &v, &p, &len), 0);
  for (size_t off = 0; off < len; off++) {
    p[off] ^= 0x10;
    asx_lab_trace *t = NULL;
    asx_lab_trace_error e;
    cr_assert_lt(asx_lab_trace_parse(NULL, p, len, NULL, &t, &e), 0, "flip at %zu accepted", off);
    cr_assert_geq(e.record, -1);
    cr_assert_leq(e.record, (int64_t)v.records);
    p[off] ^= 0x10;
    asx_lab_trace_error e2;
    cr_assert_lt(asx_lab_trace_parse(NULL, p, off, NULL, &t, &e2), 0, "cut at %zu accepted", off);
  }
  free(p);
}

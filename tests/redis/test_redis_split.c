/* Partial input and failures never lose or duplicate bytes: every split of the input gives the
 * same replies as feeding it whole; failing allocations and refusing callbacks are retried to
 * the same result. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "redis_test_util.h"
#include "test_alloc.h"

TestSuite(redis_split, .timeout = 120);

/* Every type, nested, with attributes, binary payloads and RESP2 nulls, pipelined. */
static const char pipeline[] =
    "+OK\r\n-ERR bad\r\n:-42\r\n$5\r\nhe\r\nl\r\n$0\r\n\r\n$-1\r\n*-1\r\n_\r\n#t\r\n,3.25e2\r\n,-inf\r\n"
    "(123456789012345678901234567890\r\n!5\r\noops!\r\n=8\r\nmkd:# hi\r\n"
    "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n%1\r\n+k\r\n~2\r\n#f\r\n,nan\r\n"
    "|1\r\n+ttl\r\n:10\r\n%1\r\n$3\r\nkey\r\n>2\r\n+message\r\n=6\r\ntxt:hi\r\n"
    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nmsg\r\n*0\r\n%0\r\n";

static void reference(const char *in, size_t n, asx_buf *ref, int *rc) {
  asx_buf_init(ref, NULL, 0);
  *rc = decode_whole(in, n, NULL, ref);
}

Test(redis_split, every_single_split_gives_the_same_replies) {
  size_t n = sizeof pipeline - 1;
  asx_buf ref;
  int ref_rc;
  reference(pipeline, n, &ref, &ref_rc);
  cr_assert_eq(ref_rc, 0);
  const char *want = buf_str(&ref);
  cr_assert_eq(strlen(want) > 0 && strchr(want, '\n') != NULL, 1);
  for (size_t cut = 1; cut < n; cut++) {
    asx_buf out;
    asx_buf_init(&out, NULL, 0);
    int rc = decode_pieces(pipeline, n, &cut, 1, NULL, NULL, &out, NULL, NULL);
    cr_assert_eq(rc, ref_rc, "cut %zu", cut);
    cr_assert_str_eq(buf_str(&out), want, "cut %zu", cut);
    asx_buf_free(&out);
  }
  asx_buf_free(&ref);
}

Test(redis_split, every_pair_of_splits_gives_the_same_replies) {
  /* O(n^2) feeds: keep the input moderate. */
  const char *in = "|1\r\n+a\r\n:1\r\n*2\r\n$4\r\nab\r\n\r\n=6\r\ntxt:xy\r\n,1.5\r\n%1\r\n(-7\r\n_\r\n";
  size_t n = strlen(in);
  asx_buf ref;
  int ref_rc;
  reference(in, n, &ref, &ref_rc);
  cr_assert_eq(ref_rc, 0);
  const char *want = buf_str(&ref);
  for (size_t a = 1; a < n; a++) {
    for (size_t b = a + 1; b < n; b++) {
      size_t cuts[2] = {a, b};
      asx_buf out;
      asx_buf_init(&out, NULL, 0);
      int rc = decode_pieces(in, n, cuts, 2, NULL, NULL, &out, NULL, NULL);
      cr_assert_eq(rc, ref_rc, "cuts %zu %zu", a, b);
      cr_assert_str_eq(buf_str(&out), want, "cuts %zu %zu", a, b);
      asx_buf_free(&out);
    }
  }
  asx_buf_free(&ref);
}

Test(redis_split, byte_at_a_time_gives_the_same_replies) {
  size_t n = sizeof pipeline - 1;
  asx_buf ref, out;
  int ref_rc;
  reference(pipeline, n, &ref, &ref_rc);
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(decode_bytewise(pipeline, n, NULL, &out), ref_rc);
  cr_assert_str_eq(buf_str(&out), buf_str(&ref));
  asx_buf_free(&out);
  asx_buf_free(&ref);
}

Test(redis_split, errors_are_the_same_whatever_the_split) {
  /* A valid prefix and then a broken reply: same replies, same error, at every split. */
  const char *in = "+OK\r\n*2\r\n$3\r\nabc\r\n$3\r\nabcX\r\n";
  size_t n = strlen(in);
  asx_buf ref;
  int ref_rc;
  reference(in, n, &ref, &ref_rc);
  cr_assert_eq(ref_rc, ASX_EPROTO);
  for (size_t cut = 1; cut < n; cut++) {
    asx_buf out;
    asx_buf_init(&out, NULL, 0);
    cr_assert_eq(decode_pieces(in, n, &cut, 1, NULL, NULL, &out, NULL, NULL), ASX_EPROTO, "cut %zu", cut);
    cr_assert_str_eq(buf_str(&out), buf_str(&ref));
    asx_buf_free(&out);
  }
  asx_buf_free(&ref);
}

static void stop_failing(void *ud) { test_alloc_fail_after(ud, -1); }

/* Fails allocation number k (and every later one until the decoder reports ASX_ENOMEM, when the
 * feed is retried with failures off): the replies must be exactly the reference, no leak. */
static void run_failing_allocator(const char *in, size_t n, const size_t *cuts, size_t ncuts) {
  asx_buf ref;
  int ref_rc;
  reference(in, n, &ref, &ref_rc);
  const char *want = buf_str(&ref);
  test_alloc ta;
  test_alloc_init(&ta);
  /* How many allocations does a clean run make? */
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(decode_pieces(in, n, cuts, ncuts, NULL, &ta.base, &out, NULL, NULL), ref_rc);
  long total = ta.allocs;
  cr_assert_eq(ta.live, 0);
  asx_buf_free(&out);
  cr_assert_gt(total, 5);
  for (long k = 0; k <= total; k++) {
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    asx_buf_init(&out, NULL, 0);
    int rc = decode_pieces(in, n, cuts, ncuts, NULL, &ta.base, &out, stop_failing, &ta);
    cr_assert_eq(rc, ref_rc, "failing allocation %ld: rc %d", k, rc);
    cr_assert_str_eq(buf_str(&out), want, "failing allocation %ld", k);
    cr_assert_eq(ta.live, 0, "failing allocation %ld leaks %ld blocks", k, ta.live);
    asx_buf_free(&out);
  }
  asx_buf_free(&ref);
}

Test(redis_split, failing_allocator_whole_input) {
  run_failing_allocator(pipeline, sizeof pipeline - 1, NULL, 0);
}

Test(redis_split, failing_allocator_split_input) {
  /* Cuts inside a line, a blob, a verbatim prefix and a CRLF exercise the retained states. */
  size_t n = sizeof pipeline - 1;
  size_t cuts[40];
  size_t k = 0;
  for (size_t c = 3; c < n && k < 40; c += 7) cuts[k++] = c;
  run_failing_allocator(pipeline, n, cuts, k);
}

Test(redis_split, failing_allocator_with_partial_reply_freed) {
  /* Freeing a decoder in the middle of a reply (attributes open) releases everything. */
  const char *in = "*2\r\n|1\r\n+a\r\n%1\r\n|1\r\n+x\r\n:1\r\n$2\r\nab\r\n";
  size_t n = strlen(in);
  for (size_t cut = 1; cut <= n; cut++) {
    test_alloc ta;
    test_alloc_init(&ta);
    asx_redis_decoder *d;
    cr_assert_eq(asx_redis_decoder_new(&d, NULL, &ta.base), 0);
    size_t used;
    asx_redis_reply *r = NULL;
    int rc = asx_redis_decoder_feed(d, (const uint8_t *)in, cut, &used, &r);
    cr_assert_eq(rc, ASX_EAGAIN, "cut %zu", cut);
    asx_redis_decoder_reset(d);
    cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"+OK\r\n", 5, &used, &r), 0);
    asx_redis_reply_free(r);
    cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in, cut, &used, &r), ASX_EAGAIN);
    asx_redis_decoder_free(d);
    cr_assert_eq(ta.live, 0, "cut %zu leaks", cut);
  }
}

/* An event callback that refuses every third event: each refused event must come back, and
 * the accepted sequence must equal the one from a callback that never refuses. */
typedef struct recorder {
  asx_buf text;
  unsigned calls;
  unsigned refuse_every;
} recorder;

static int record(void *ud, const asx_redis_event *ev) {
  recorder *rec = ud;
  rec->calls++;
  if (rec->refuse_every && rec->calls % rec->refuse_every == 0) return ASX_EBUSY;
  /* Payload chunking depends on how the input was split: only the bytes are compared. */
  if (ev->kind == ASX_REDIS_EV_BLOB_DATA) return asx_buf_append(&rec->text, ev->data.ptr, ev->data.len);
  asx_buf_appendf(&rec->text, "\n%d/%d/%u/%lld/%llu/%s:", ev->kind, ev->type, ev->depth, (long long)ev->integer,
                  (unsigned long long)ev->len, ev->format);
  asx_buf_append(&rec->text, ev->data.ptr, ev->data.len);
  asx_buf_append_byte(&rec->text, '|');
  return 0;
}

static void run_events(const char *in, size_t n, size_t step, unsigned refuse_every, asx_buf *out) {
  recorder rec = {.refuse_every = refuse_every};
  asx_buf_init(&rec.text, NULL, 0);
  asx_redis_decoder *d;
  cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
  cr_assert_eq(asx_redis_decoder_set_event_cb(d, record, &rec), 0);
  size_t pos = 0;
  while (pos < n) {
    size_t end = pos + step < n ? pos + step : n;
    size_t used;
    int rc = asx_redis_decoder_feed(d, (const uint8_t *)in + pos, end - pos, &used, NULL);
    pos += used;
    cr_assert(rc == 0 || rc == ASX_EAGAIN || rc == ASX_EBUSY, "rc %d", rc);
  }
  /* drain an event refused at the very end */
  size_t used;
  while (asx_redis_decoder_feed(d, (const uint8_t *)"", 0, &used, NULL) != ASX_EAGAIN) {
  }
  asx_redis_decoder_free(d);
  *out = rec.text;
}

Test(redis_split, refused_events_are_offered_again) {
  size_t n = sizeof pipeline - 1;
  asx_buf ref, got;
  run_events(pipeline, n, n, 0, &ref);
  for (unsigned every = 2; every <= 5; every++) {
    for (size_t step = 1; step <= 13; step += 3) {
      run_events(pipeline, n, step, every, &got);
      cr_assert_str_eq(buf_str(&got), buf_str(&ref), "every %u step %zu", every, step);
      asx_buf_free(&got);
    }
  }
  asx_buf_free(&ref);
}

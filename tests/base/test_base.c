#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "asx/base.h"
#include "test_alloc.h"

TestSuite(base, .timeout = 10);

Test(base, error_names_and_tiers) {
  cr_assert_str_eq(asx_errname(ASX_ELIMIT), "ASX_ELIMIT");
  cr_assert_str_eq(asx_strerror(ASX_ECANCELED), "operation canceled");
  cr_assert_str_eq(asx_errname(-777), "ASX_E?");
  cr_assert(!asx_err_is_fatal(ASX_EPROTO));
  cr_assert(asx_err_is_fatal(ASX_ECORRUPT));
}

Test(base, buf_limit_boundaries) {
  asx_buf b;
  asx_buf_init(&b, NULL, 8);
  cr_assert_eq(asx_buf_append(&b, "1234567", 7), 0);  /* limit - 1 */
  cr_assert_eq(asx_buf_append_byte(&b, '8'), 0);      /* limit */
  cr_assert_eq(asx_buf_append_byte(&b, '9'), ASX_ELIMIT); /* limit + 1 */
  cr_assert_eq(b.len, 8);
  cr_assert(memcmp(b.data, "12345678", 8) == 0);
  cr_assert_leq(b.cap, 8);
  asx_buf_free(&b);
}

Test(base, buf_appendf_fills_exactly_to_cap) {
  asx_buf b;
  asx_buf_init(&b, NULL, 5);
  cr_assert_eq(asx_buf_appendf(&b, "%d", 12345), 0);
  cr_assert_eq(b.len, 5);
  cr_assert(memcmp(b.data, "12345", 5) == 0);
  cr_assert_eq(asx_buf_appendf(&b, "x"), ASX_ELIMIT);
  asx_buf_consume(&b, 2);
  cr_assert_eq(b.len, 3);
  cr_assert(memcmp(b.data, "345", 3) == 0);
  asx_buf_free(&b);
}

Test(base, buf_keeps_contents_on_alloc_failure) {
  test_alloc ta;
  test_alloc_init(&ta);
  asx_buf b;
  asx_buf_init(&b, &ta.base, 0);
  cr_assert_eq(asx_buf_append_str(&b, "hello"), 0);
  test_alloc_fail_after(&ta, 0);
  char big[200];
  memset(big, 'x', sizeof big);
  cr_assert_eq(asx_buf_append(&b, big, sizeof big), ASX_ENOMEM);
  cr_assert_eq(b.len, 5);
  cr_assert(memcmp(b.data, "hello", 5) == 0);
  asx_buf_free(&b);
  cr_assert_eq(ta.live, 0);
  cr_assert_eq(ta.failures, 1);
}

Test(base, calloc_overflow_is_refused) {
  cr_assert_null(asx_calloc(NULL, SIZE_MAX / 2, 4));
}

Test(base, slice_compare) {
  asx_slice s = {(const uint8_t *)"Content-Length", 14};
  cr_assert(asx_slice_eq(s, "Content-Length"));
  cr_assert(!asx_slice_eq(s, "content-length"));
  cr_assert(asx_slice_eq_nocase(s, "content-length"));
  cr_assert(!asx_slice_eq_nocase(s, "content-lengt"));
}

/* asx_imf_fixdate against the C library (gmtime_r + strftime in the "C" locale) across the whole
 * four-digit range, plus fixed points and the clamp past 9999. */
Test(base, imf_fixdate_matches_libc) {
  char got[ASX_IMF_FIXDATE_LEN + 1], want[64];
  cr_assert_eq(asx_imf_fixdate(784111777, got), ASX_IMF_FIXDATE_LEN);
  cr_assert_str_eq(got, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110's example */
  asx_imf_fixdate(0, got);
  cr_assert_str_eq(got, "Thu, 01 Jan 1970 00:00:00 GMT");
  asx_imf_fixdate(951782400, got); /* 2000-02-29: a leap day of a century leap year */
  cr_assert_str_eq(got, "Tue, 29 Feb 2000 00:00:00 GMT");
  asx_imf_fixdate(253402300799ull, got);
  cr_assert_str_eq(got, "Fri, 31 Dec 9999 23:59:59 GMT");
  asx_imf_fixdate(253402300800ull, got);
  cr_assert_str_eq(got, "Fri, 31 Dec 9999 23:59:59 GMT");
  asx_imf_fixdate(UINT64_MAX, got);
  cr_assert_str_eq(got, "Fri, 31 Dec 9999 23:59:59 GMT");
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    /* Every day boundary region gets hits: random seconds, and day starts/ends. */
    uint64_t t = x % 253402300800ull;
    if (i % 3 == 1) t -= t % 86400;
    if (i % 3 == 2) t = t - t % 86400 + 86399;
    time_t tt = (time_t)t;
    struct tm tm;
    cr_assert(gmtime_r(&tt, &tm));
    strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    asx_imf_fixdate(t, got);
    cr_assert_str_eq(got, want, "t=%llu", (unsigned long long)t);
  }
}

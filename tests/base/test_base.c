#include <criterion/criterion.h>
#include <string.h>

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

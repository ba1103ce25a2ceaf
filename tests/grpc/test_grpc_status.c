/* gRPC status table, outcome mapping, grpc-status / grpc-message trailers, grpc-timeout. */
#include <criterion/criterion.h>
#include <string.h>

#include "asx/grpc.h"
#include "test_alloc.h"

TestSuite(grpc_status, .timeout = 30);

static asx_slice S(const char *s) {
  asx_slice v = {(const uint8_t *)s, strlen(s)};
  return v;
}

Test(grpc_status, names_round_trip) {
  for (int c = 0; c <= 16; c++) {
    const char *n = asx_grpc_status_name(c);
    cr_assert_not_null(n);
    cr_assert_eq(asx_grpc_status_from_name(n), c);
  }
  cr_assert_str_eq(asx_grpc_status_name(ASX_GRPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  cr_assert_str_eq(asx_grpc_status_name(ASX_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
  cr_assert_null(asx_grpc_status_name(17));
  cr_assert_null(asx_grpc_status_name(-1));
  cr_assert_eq(asx_grpc_status_from_name("ok"), -1);
}

Test(grpc_status, outcome_and_error_mapping) {
  cr_assert_eq(asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_OK), ASX_GRPC_OK);
  cr_assert_eq(asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_ERR), ASX_GRPC_UNKNOWN);
  cr_assert_eq(asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_CANCELLED), ASX_GRPC_CANCELLED);
  cr_assert_eq(asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_PANICKED), ASX_GRPC_INTERNAL);
  cr_assert_eq(asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_DEADLINE),
               ASX_GRPC_DEADLINE_EXCEEDED);
  cr_assert_eq(asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_BUDGET),
               ASX_GRPC_RESOURCE_EXHAUSTED);
  cr_assert_eq(asx_grpc_status_from_error(0), ASX_GRPC_OK);
  cr_assert_eq(asx_grpc_status_from_error(ASX_ECANCELED), ASX_GRPC_CANCELLED);
  cr_assert_eq(asx_grpc_status_from_error(ASX_EDEADLINE), ASX_GRPC_DEADLINE_EXCEEDED);
  cr_assert_eq(asx_grpc_status_from_error(ASX_EBUDGET), ASX_GRPC_RESOURCE_EXHAUSTED);
  cr_assert_eq(asx_grpc_status_from_error(ASX_EUNSUPPORTED), ASX_GRPC_UNIMPLEMENTED);
  cr_assert_eq(asx_grpc_status_from_error(ASX_ECONNRESET), ASX_GRPC_UNAVAILABLE);
  cr_assert_eq(asx_grpc_status_from_error(ASX_EPANIC), ASX_GRPC_INTERNAL);
  cr_assert_eq(asx_grpc_status_from_error(ASX_ECORRUPT), ASX_GRPC_INTERNAL);
  cr_assert_eq(asx_grpc_status_from_error(-999), ASX_GRPC_UNKNOWN);
  cr_assert_eq(asx_grpc_status_from_http(404), ASX_GRPC_UNIMPLEMENTED);
  cr_assert_eq(asx_grpc_status_from_http(503), ASX_GRPC_UNAVAILABLE);
  cr_assert_eq(asx_grpc_status_from_http(401), ASX_GRPC_UNAUTHENTICATED);
  cr_assert_eq(asx_grpc_status_from_http(418), ASX_GRPC_UNKNOWN);
}

Test(grpc_status, status_text) {
  char buf[ASX_GRPC_STATUS_TEXT_MAX];
  cr_assert_eq(asx_grpc_status_format(0, buf), 1);
  cr_assert_str_eq(buf, "0");
  cr_assert_eq(asx_grpc_status_format(16, buf), 2);
  cr_assert_str_eq(buf, "16");
  cr_assert_eq(asx_grpc_status_format(INT32_MAX, buf), 10);
  cr_assert_str_eq(buf, "2147483647");
  cr_assert_eq(asx_grpc_status_format(-1, buf), 0);
  int code = -1;
  cr_assert_eq(asx_grpc_status_parse(S("14"), &code), 0);
  cr_assert_eq(code, 14);
  cr_assert_eq(asx_grpc_status_parse(S("2147483647"), &code), 0);
  cr_assert_eq(asx_grpc_status_parse(S("2147483648"), &code), ASX_EPROTO);
  cr_assert_eq(asx_grpc_status_parse(S("99999999999"), &code), ASX_EPROTO);
  cr_assert_eq(asx_grpc_status_parse(S(""), &code), ASX_EPROTO);
  cr_assert_eq(asx_grpc_status_parse(S("-1"), &code), ASX_EPROTO);
  cr_assert_eq(asx_grpc_status_parse(S(" 1"), &code), ASX_EPROTO);
  cr_assert_eq(asx_grpc_status_parse(S("1a"), &code), ASX_EPROTO);
}

static void check_encode(const char *in, size_t len, const char *expect) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_grpc_message_encode(&b, in, len), 0);
  cr_assert_eq(b.len, strlen(expect), "encode of %s", expect);
  cr_assert(memcmp(b.data, expect, b.len) == 0, "encode of %s", expect);
  asx_buf dec;
  asx_buf_init(&dec, NULL, 0);
  asx_slice v = {b.data, b.len};
  cr_assert_eq(asx_grpc_message_decode(&dec, v), 0);
  cr_assert_eq(dec.len, len);
  cr_assert(len == 0 || memcmp(dec.data, in, len) == 0);
  asx_buf_free(&b);
  asx_buf_free(&dec);
}

Test(grpc_status, percent_encoding_examples) {
  check_encode("", 0, "");
  check_encode("plain text ok", 13, "plain text ok");
  check_encode("100%", 4, "100%25");
  check_encode("a\nb", 3, "a%0Ab");
  check_encode("\x7f~ ", 3, "%7F~ ");
  check_encode("caf\xc3\xa9", 5, "caf%C3%A9");
  check_encode("\0", 1, "%00");
}

Test(grpc_status, percent_round_trip_all_bytes) {
  uint8_t all[256];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  asx_buf enc, dec;
  asx_buf_init(&enc, NULL, 0);
  asx_buf_init(&dec, NULL, 0);
  cr_assert_eq(asx_grpc_message_encode(&enc, all, sizeof all), 0);
  for (size_t i = 0; i < enc.len; i++) cr_assert(enc.data[i] >= 0x20 && enc.data[i] <= 0x7e);
  asx_slice v = {enc.data, enc.len};
  cr_assert_eq(asx_grpc_message_decode(&dec, v), 0);
  cr_assert_eq(dec.len, 256);
  cr_assert(memcmp(dec.data, all, 256) == 0);
  asx_buf_free(&enc);
  asx_buf_free(&dec);
}

Test(grpc_status, percent_decode_keeps_malformed_sequences) {
  const char *cases[][2] = {{"%", "%"},       {"%4", "%4"},   {"%G1", "%G1"},
                            {"a%zzb", "a%zzb"}, {"%41%", "A%"}, {"%e2%82%ac", "\xe2\x82\xac"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    asx_buf b;
    asx_buf_init(&b, NULL, 0);
    cr_assert_eq(asx_grpc_message_decode(&b, S(cases[i][0])), 0);
    cr_assert_eq(b.len, strlen(cases[i][1]), "case %s", cases[i][0]);
    cr_assert(memcmp(b.data, cases[i][1], b.len) == 0, "case %s", cases[i][0]);
    asx_buf_free(&b);
  }
}

Test(grpc_status, percent_failure_leaves_buffer_unchanged) {
  test_alloc ta;
  test_alloc_init(&ta);
  asx_buf b;
  asx_buf_init(&b, &ta.base, 0);
  cr_assert_eq(asx_buf_append_str(&b, "ab"), 0);
  test_alloc_fail_after(&ta, 0);
  char big[512];
  memset(big, '\n', sizeof big);
  cr_assert_eq(asx_grpc_message_encode(&b, big, sizeof big), ASX_ENOMEM);
  cr_assert_eq(b.len, 2);
  cr_assert_eq(asx_grpc_message_decode(&b, (asx_slice){(const uint8_t *)big, sizeof big}),
               ASX_ENOMEM);
  cr_assert_eq(b.len, 2);
  asx_buf_free(&b);
  cr_assert_eq(ta.live, 0);
}

Test(grpc_status, timeout_parse_units_and_boundaries) {
  uint64_t ns = 0;
  cr_assert_eq(asx_grpc_timeout_parse(S("1n"), &ns), 0);
  cr_assert_eq(ns, 1);
  cr_assert_eq(asx_grpc_timeout_parse(S("5u"), &ns), 0);
  cr_assert_eq(ns, 5000);
  cr_assert_eq(asx_grpc_timeout_parse(S("250m"), &ns), 0);
  cr_assert_eq(ns, 250000000ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("3S"), &ns), 0);
  cr_assert_eq(ns, 3000000000ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("2M"), &ns), 0);
  cr_assert_eq(ns, 120000000000ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("1H"), &ns), 0);
  cr_assert_eq(ns, 3600000000000ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("0S"), &ns), 0);
  cr_assert_eq(ns, 0);
  /* 7 / 8 / 9 digits. */
  cr_assert_eq(asx_grpc_timeout_parse(S("9999999n"), &ns), 0);
  cr_assert_eq(ns, 9999999ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("99999999n"), &ns), 0);
  cr_assert_eq(ns, 99999999ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("100000000n"), &ns), ASX_EPROTO);
  cr_assert_eq(asx_grpc_timeout_parse(S("00000001S"), &ns), 0);
  cr_assert_eq(ns, 1000000000ull);
  /* 99999999H overflows 64-bit nanoseconds: saturates instead of wrapping. */
  cr_assert_eq(asx_grpc_timeout_parse(S("99999999H"), &ns), 0);
  cr_assert_eq(ns, UINT64_MAX);
  cr_assert_eq(asx_grpc_timeout_parse(S("5124095H"), &ns), 0);
  cr_assert_eq(ns, 5124095ull * 3600000000000ull);
  cr_assert_eq(asx_grpc_timeout_parse(S("5124096H"), &ns), 0);
  cr_assert_eq(ns, UINT64_MAX);
}

Test(grpc_status, timeout_parse_rejects) {
  const char *bad[] = {"", "S", "1", "10", "1s", "1h", "1x", "-1S", "+1S", " 1S", "1 S",
                       "1S ", "1.5S", "0x1S", "123456789S", "1SS"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t ns = 42;
    cr_assert_eq(asx_grpc_timeout_parse(S(bad[i]), &ns), ASX_EPROTO, "accepted '%s'", bad[i]);
    cr_assert_eq(ns, 42);
  }
}

Test(grpc_status, timeout_format_rounds_up_and_round_trips) {
  char buf[ASX_GRPC_TIMEOUT_TEXT_MAX];
  struct {
    uint64_t ns;
    const char *text;
  } cases[] = {
      {0, "0n"},
      {1, "1n"},
      {99999999ull, "99999999n"},
      {100000000ull, "100000u"},
      {100000001ull, "100001u"}, /* rounds up, never shortens */
      {1000000000ull, "1000000u"},
      {100000000000ull, "100000m"},
      {100000000000000ull, "100000S"},
      {UINT64_MAX, "5124096H"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = asx_grpc_timeout_format(cases[i].ns, buf);
    cr_assert_eq(n, strlen(cases[i].text));
    cr_assert_str_eq(buf, cases[i].text);
    uint64_t back = 0;
    cr_assert_eq(asx_grpc_timeout_parse((asx_slice){(const uint8_t *)buf, n}, &back), 0);
    cr_assert_geq(back, cases[i].ns < UINT64_MAX ? cases[i].ns : 0);
  }
  /* Every formatted value is at most 8 digits plus a unit. */
  for (uint64_t ns = 1; ns < UINT64_MAX / 3; ns = ns * 3 + 1) {
    size_t n = asx_grpc_timeout_format(ns, buf);
    cr_assert_leq(n, 9);
    uint64_t back;
    cr_assert_eq(asx_grpc_timeout_parse((asx_slice){(const uint8_t *)buf, n}, &back), 0);
    cr_assert_geq(back, ns);
  }
}

/* "-bin" metadata base64 and the grpc.health.v1 messages (the codec side of the server's
 * metadata and health service): known vectors, both alphabets, padding, bad input leaving the
 * output as it was, the service-name limit at limit-1/limit/limit+1, unknown fields. */
#include <criterion/criterion.h>
#include <string.h>

#include "asx/grpc.h"

TestSuite(grpc_meta, .timeout = 30);

static asx_slice S(const char *s) { return (asx_slice){(const uint8_t *)s, strlen(s)}; }

Test(grpc_meta, base64_vectors) {
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"}; /* RFC 4648, unpadded */
  for (int i = 0; i < 7; i++) {
    asx_buf b;
    asx_buf_init(&b, NULL, 0);
    cr_assert_eq(asx_grpc_bin_encode(&b, plain[i], strlen(plain[i])), 0);
    cr_assert_eq(b.len, strlen(enc[i]));
    cr_assert(b.len == 0 || memcmp(b.data, enc[i], b.len) == 0, "%d", i);
    asx_buf_reset(&b);
    cr_assert_eq(asx_grpc_bin_decode(S(enc[i]), &b), 0);
    cr_assert(b.len == strlen(plain[i]) && (b.len == 0 || memcmp(b.data, plain[i], b.len) == 0));
    asx_buf_free(&b);
  }
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_grpc_bin_decode(S("Zm8="), &b), 0); /* padded */
  cr_assert(b.len == 2 && memcmp(b.data, "fo", 2) == 0);
  asx_buf_reset(&b);
  cr_assert_eq(asx_grpc_bin_decode(S("-_8"), &b), 0); /* URL-safe = "+/8" */
  asx_buf c;
  asx_buf_init(&c, NULL, 0);
  cr_assert_eq(asx_grpc_bin_decode(S("+/8"), &c), 0);
  cr_assert(b.len == c.len && memcmp(b.data, c.data, b.len) == 0);
  asx_buf_free(&c);
  /* Bad input: nothing appended. */
  const char *bad[] = {"Z", "Zm9vY", "Zm@v", "Z=m9", "Zg===", "Zm9v\n"};
  for (int i = 0; i < 6; i++) {
    asx_buf_reset(&b);
    asx_buf_append(&b, "keep", 4);
    cr_assert_eq(asx_grpc_bin_decode(S(bad[i]), &b), ASX_EPROTO, "%s", bad[i]);
    cr_assert_eq(b.len, 4);
  }
  /* The output's cap: ELIMIT and unchanged. */
  asx_buf small;
  asx_buf_init(&small, NULL, 2);
  cr_assert_eq(asx_grpc_bin_decode(S("Zm9v"), &small), ASX_ELIMIT);
  cr_assert_eq(small.len, 0);
  asx_buf_free(&small);
  asx_buf_free(&b);
}

static int parse(const uint8_t *p, size_t n, asx_slice *svc) { return asx_grpc_health_request_parse((asx_slice){p, n}, svc); }

Test(grpc_meta, health_request) {
  asx_slice svc;
  cr_assert_eq(parse(NULL, 0, &svc), 0);
  cr_assert_eq(svc.len, 0);
  const uint8_t a[] = {0x0a, 3, 'a', 'b', 'c'};
  cr_assert_eq(parse(a, sizeof a, &svc), 0);
  cr_assert(svc.len == 3 && memcmp(svc.ptr, "abc", 3) == 0);
  /* Unknown fields of every wire type before it: varint, fixed64, length, fixed32. */
  const uint8_t u[] = {0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 2, 'z', 'z', 0x2d, 1, 2, 3, 4, 0x0a, 1, 'q'};
  cr_assert_eq(parse(u, sizeof u, &svc), 0);
  cr_assert(svc.len == 1 && svc.ptr[0] == 'q');
  const uint8_t trunc[] = {0x0a, 5, 'a'};
  cr_assert_eq(parse(trunc, sizeof trunc, &svc), ASX_EPROTO);
  const uint8_t group[] = {0x0b};
  cr_assert_eq(parse(group, sizeof group, &svc), ASX_EPROTO);
  const uint8_t bigvarint[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  cr_assert_eq(parse(bigvarint, sizeof bigvarint, &svc), ASX_EPROTO);
  /* The name limit: 255 and 256 accepted, 257 refused (2-byte length varint). */
  static uint8_t m[3 + 300];
  size_t lens[] = {ASX_GRPC_HEALTH_MAX_SERVICE - 1, ASX_GRPC_HEALTH_MAX_SERVICE, ASX_GRPC_HEALTH_MAX_SERVICE + 1};
  int want[] = {0, 0, ASX_EPROTO};
  for (int i = 0; i < 3; i++) {
    m[0] = 0x0a;
    m[1] = (uint8_t)(0x80 | (lens[i] & 0x7f));
    m[2] = (uint8_t)(lens[i] >> 7);
    memset(m + 3, 's', lens[i]);
    cr_assert_eq(parse(m, 3 + lens[i], &svc), want[i], "len %zu", lens[i]);
  }
  uint8_t r[2];
  cr_assert_eq(asx_grpc_health_response_encode(0, r), 0);
  cr_assert_eq(asx_grpc_health_response_encode(2, r), 2);
  cr_assert(r[0] == 0x08 && r[1] == 2);
}

/* grpc-encoding: gzip/deflate round trips, the decompressed-size limit at limit-1/limit/limit+1,
 * a decompression bomb, corrupt/truncated/trailing input, the accept list, allocation failure. */
#include <criterion/criterion.h>
#include <string.h>

#include "asx/grpc.h"
#include "test_alloc.h"

TestSuite(grpc_compress, .timeout = 60);

static void fill(uint8_t *p, size_t n, uint32_t seed, bool compressible) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = compressible ? (uint8_t)("abcdefgh"[(seed >> 16) % 8]) : (uint8_t)(seed >> 16);
  }
}

static const asx_grpc_encoding kEnc[] = {ASX_GRPC_GZIP, ASX_GRPC_DEFLATE};

Test(grpc_compress, round_trips) {
  static uint8_t in[300000];
  size_t sizes[] = {0, 1, 100, 65536, sizeof in};
  for (size_t e = 0; e < 2; e++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
      for (int comp = 0; comp < 2; comp++) {
        fill(in, sizes[s], (uint32_t)(s * 7 + e), comp);
        asx_buf z, back;
        asx_buf_init(&z, NULL, 0);
        asx_buf_init(&back, NULL, 0);
        cr_assert_eq(asx_grpc_compress(kEnc[e], in, sizes[s], &z), 0);
        if (comp && sizes[s] > 1000) cr_expect_lt(z.len, sizes[s] / 2);
        cr_assert_eq(asx_grpc_decompress(kEnc[e], z.data, z.len, sizes[s], &back), 0);
        cr_assert_eq(back.len, sizes[s]);
        cr_assert(sizes[s] == 0 || memcmp(back.data, in, sizes[s]) == 0);
        asx_buf_free(&z);
        asx_buf_free(&back);
      }
}

Test(grpc_compress, limit_boundaries) {
  static uint8_t in[10000];
  fill(in, sizeof in, 3, true);
  for (size_t e = 0; e < 2; e++) {
    asx_buf z;
    asx_buf_init(&z, NULL, 0);
    cr_assert_eq(asx_grpc_compress(kEnc[e], in, sizeof in, &z), 0);
    size_t limits[] = {sizeof in + 1, sizeof in, sizeof in - 1};
    int want[] = {0, 0, ASX_ELIMIT};
    for (int i = 0; i < 3; i++) {
      asx_buf out;
      asx_buf_init(&out, NULL, 0);
      asx_buf_append(&out, "keep", 4);
      cr_assert_eq(asx_grpc_decompress(kEnc[e], z.data, z.len, limits[i], &out), want[i], "limit %zu", limits[i]);
      /* Appended after what was there; on error what was there is untouched. */
      cr_assert_eq(out.len, want[i] ? 4 : 4 + sizeof in);
      cr_assert_eq(memcmp(out.data, "keep", 4), 0);
      asx_buf_free(&out);
    }
    asx_buf_free(&z);
  }
}

Test(grpc_compress, bomb_stops_at_the_limit) {
  size_t big = 64u << 20; /* 64 MiB of zeros: ~64 KiB compressed */
  uint8_t *zeros = calloc(1, big);
  cr_assert(zeros);
  asx_buf z, out;
  asx_buf_init(&z, NULL, 0);
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_grpc_compress(ASX_GRPC_GZIP, zeros, big, &z), 0);
  free(zeros);
  cr_assert_lt(z.len, 1u << 20);
  cr_assert_eq(asx_grpc_decompress(ASX_GRPC_GZIP, z.data, z.len, 1u << 20, &out), ASX_ELIMIT);
  cr_assert_eq(out.len, 0);
  cr_assert_leq(out.cap, 4u << 20, "grew to %zu for a 1 MiB limit", out.cap);
  asx_buf_free(&z);
  asx_buf_free(&out);
}

Test(grpc_compress, bad_input) {
  static uint8_t in[5000];
  fill(in, sizeof in, 9, false);
  for (size_t e = 0; e < 2; e++) {
    asx_buf z, out;
    asx_buf_init(&z, NULL, 0);
    asx_buf_init(&out, NULL, 0);
    cr_assert_eq(asx_grpc_compress(kEnc[e], in, sizeof in, &z), 0);
    /* Truncated anywhere. */
    for (size_t cut = 0; cut < z.len; cut += 97)
      cr_assert_eq(asx_grpc_decompress(kEnc[e], z.data, cut, sizeof in, &out), ASX_EDECOMPRESS, "cut %zu", cut);
    /* Trailing bytes after the stream. */
    asx_buf_append(&z, "x", 1);
    cr_assert_eq(asx_grpc_decompress(kEnc[e], z.data, z.len, sizeof in, &out), ASX_EDECOMPRESS);
    z.len--;
    /* A corrupted byte in the middle: the checksum (or the code stream) catches it. */
    z.data[z.len / 2] ^= 0x55;
    cr_assert_eq(asx_grpc_decompress(kEnc[e], z.data, z.len, sizeof in, &out), ASX_EDECOMPRESS);
    z.data[z.len / 2] ^= 0x55;
    /* The other format's wrapper. */
    cr_assert_eq(asx_grpc_decompress(kEnc[1 - e], z.data, z.len, sizeof in, &out), ASX_EDECOMPRESS);
    cr_assert_eq(out.len, 0);
    asx_buf_free(&z);
    asx_buf_free(&out);
  }
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(asx_grpc_decompress(ASX_GRPC_IDENTITY, "x", 1, 10, &out), ASX_EINVAL);
  cr_assert_eq(asx_grpc_compress(ASX_GRPC_IDENTITY, "x", 1, &out), ASX_EINVAL);
}

Test(grpc_compress, names_and_accept_lists) {
  asx_grpc_encoding e;
  cr_assert_eq(asx_grpc_encoding_parse((asx_slice){(const uint8_t *)"gzip", 4}, &e), 0);
  cr_assert_eq(e, ASX_GRPC_GZIP);
  cr_assert_eq(asx_grpc_encoding_parse((asx_slice){(const uint8_t *)"deflate", 7}, &e), 0);
  cr_assert_eq(e, ASX_GRPC_DEFLATE);
  cr_assert_eq(asx_grpc_encoding_parse((asx_slice){(const uint8_t *)"identity", 8}, &e), 0);
  cr_assert_eq(e, ASX_GRPC_IDENTITY);
  cr_assert_eq(asx_grpc_encoding_parse((asx_slice){(const uint8_t *)"br", 2}, &e), ASX_EUNSUPPORTED);
  cr_assert_eq(asx_grpc_encoding_parse((asx_slice){(const uint8_t *)"GZIP", 4}, &e), ASX_EUNSUPPORTED);
  const char *list = "identity, deflate,gzip";
  asx_slice l = {(const uint8_t *)list, strlen(list)};
  cr_assert(asx_grpc_accepts(l, ASX_GRPC_GZIP));
  cr_assert(asx_grpc_accepts(l, ASX_GRPC_DEFLATE));
  const char *list2 = "gzipx,identity";
  asx_slice l2 = {(const uint8_t *)list2, strlen(list2)};
  cr_assert_not(asx_grpc_accepts(l2, ASX_GRPC_GZIP));
  cr_assert_not(asx_grpc_accepts((asx_slice){NULL, 0}, ASX_GRPC_GZIP));
  cr_assert_str_eq(asx_grpc_encoding_name(ASX_GRPC_DEFLATE), "deflate");
}

Test(grpc_compress, allocation_failure_at_every_index) {
  static uint8_t in[50000];
  fill(in, sizeof in, 5, true);
  asx_buf z;
  asx_buf_init(&z, NULL, 0);
  cr_assert_eq(asx_grpc_compress(ASX_GRPC_GZIP, in, sizeof in, &z), 0);
  for (long i = 0;; i++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, i);
    asx_buf c, d;
    asx_buf_init(&c, &ta.base, 0);
    asx_buf_init(&d, &ta.base, 0);
    int rc1 = asx_grpc_compress(ASX_GRPC_GZIP, in, sizeof in, &c);
    int rc2 = asx_grpc_decompress(ASX_GRPC_GZIP, z.data, z.len, sizeof in, &d);
    cr_assert(rc1 == 0 || rc1 == ASX_ENOMEM, "%d", rc1);
    cr_assert(rc2 == 0 || rc2 == ASX_ENOMEM, "%d", rc2);
    if (rc2 == 0) cr_assert(d.len == sizeof in && memcmp(d.data, in, sizeof in) == 0);
    asx_buf_free(&c);
    asx_buf_free(&d);
    cr_assert_eq(ta.live, 0, "leak at index %ld", i);
    if (ta.failures == 0) break;
  }
  asx_buf_free(&z);
}

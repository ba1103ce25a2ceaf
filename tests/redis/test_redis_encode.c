/* Encoders: commands and every reply type byte-exact, all-or-nothing on errors, and round
 * trips reply encoder -> decoder -> reply encoder. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "redis_test_util.h"
#include "test_alloc.h"

TestSuite(redis_encode, .timeout = 30);

static asx_buf out;
static void setup(void) { asx_buf_init(&out, NULL, 0); }
static void teardown(void) { asx_buf_free(&out); }

#define EXPECT_BYTES(lit)                                                            \
  do {                                                                               \
    cr_assert_eq(out.len, sizeof(lit) - 1, "len %zu: %.*s", out.len, (int)out.len, out.data); \
    cr_assert_eq(memcmp(out.data, lit, sizeof(lit) - 1), 0, "got %.*s", (int)out.len, out.data); \
    asx_buf_reset(&out);                                                             \
  } while (0)

Test(redis_encode, command_get_key, .init = setup, .fini = teardown) {
  const char *argv[] = {"GET", "key"};
  cr_assert_eq(asx_redis_encode_command(&out, 2, argv, NULL), 0);
  EXPECT_BYTES("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
}

Test(redis_encode, command_binary_safe, .init = setup, .fini = teardown) {
  const char *argv[] = {"SET", "k\r\n", "a\0b"};
  size_t lens[] = {3, 3, 3};
  cr_assert_eq(asx_redis_encode_command(&out, 3, argv, lens), 0);
  EXPECT_BYTES("*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$3\r\na\0b\r\n");
  asx_slice sl[] = {{(const uint8_t *)"ECHO", 4}, {NULL, 0}};
  cr_assert_eq(asx_redis_encode_command_slices(&out, 2, sl), 0);
  EXPECT_BYTES("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
  cr_assert_eq(asx_redis_encode_command(&out, 0, NULL, NULL), 0);
  EXPECT_BYTES("*0\r\n");
}

Test(redis_encode, every_reply_type, .init = setup, .fini = teardown) {
  cr_assert_eq(asx_redis_write_simple(&out, "OK", 2), 0);
  EXPECT_BYTES("+OK\r\n");
  cr_assert_eq(asx_redis_write_error(&out, "ERR unknown command", 19), 0);
  EXPECT_BYTES("-ERR unknown command\r\n");
  cr_assert_eq(asx_redis_write_integer(&out, -9223372036854775807LL - 1), 0);
  EXPECT_BYTES(":-9223372036854775808\r\n");
  cr_assert_eq(asx_redis_write_bulk(&out, "hello", 5), 0);
  EXPECT_BYTES("$5\r\nhello\r\n");
  cr_assert_eq(asx_redis_write_bulk(&out, NULL, 0), 0);
  EXPECT_BYTES("$0\r\n\r\n");
  cr_assert_eq(asx_redis_write_bulk_error(&out, "SYNTAX invalid syntax", 21), 0);
  EXPECT_BYTES("!21\r\nSYNTAX invalid syntax\r\n");
  cr_assert_eq(asx_redis_write_verbatim(&out, "txt", "Some string", 11), 0);
  EXPECT_BYTES("=15\r\ntxt:Some string\r\n");
  cr_assert_eq(asx_redis_write_null(&out), 0);
  EXPECT_BYTES("_\r\n");
  cr_assert_eq(asx_redis_write_null_bulk(&out), 0);
  EXPECT_BYTES("$-1\r\n");
  cr_assert_eq(asx_redis_write_null_array(&out), 0);
  EXPECT_BYTES("*-1\r\n");
  cr_assert_eq(asx_redis_write_bool(&out, true), 0);
  EXPECT_BYTES("#t\r\n");
  cr_assert_eq(asx_redis_write_bool(&out, false), 0);
  EXPECT_BYTES("#f\r\n");
  cr_assert_eq(asx_redis_write_double(&out, 1.5), 0);
  EXPECT_BYTES(",1.5\r\n");
  cr_assert_eq(asx_redis_write_double(&out, 1.1), 0); /* %.17g, as redis 7.0 */
  EXPECT_BYTES(",1.1000000000000001\r\n");
  cr_assert_eq(asx_redis_write_double(&out, INFINITY), 0);
  EXPECT_BYTES(",inf\r\n");
  cr_assert_eq(asx_redis_write_double(&out, -INFINITY), 0);
  EXPECT_BYTES(",-inf\r\n");
  cr_assert_eq(asx_redis_write_double(&out, NAN), 0);
  EXPECT_BYTES(",nan\r\n");
  cr_assert_eq(asx_redis_write_double(&out, 1e300), 0);
  EXPECT_BYTES(",1.0000000000000001e+300\r\n");
  cr_assert_eq(asx_redis_write_bignum(&out, "3492890328409238509324850943850943825024385", 43), 0);
  EXPECT_BYTES("(3492890328409238509324850943850943825024385\r\n");
  cr_assert_eq(asx_redis_write_aggregate(&out, ASX_REDIS_ARRAY, 2), 0);
  EXPECT_BYTES("*2\r\n");
  cr_assert_eq(asx_redis_write_aggregate(&out, ASX_REDIS_MAP, 3), 0);
  EXPECT_BYTES("%3\r\n");
  cr_assert_eq(asx_redis_write_aggregate(&out, ASX_REDIS_SET, 0), 0);
  EXPECT_BYTES("~0\r\n");
  cr_assert_eq(asx_redis_write_aggregate(&out, ASX_REDIS_ATTRIBUTE, 1), 0);
  EXPECT_BYTES("|1\r\n");
  cr_assert_eq(asx_redis_write_aggregate(&out, ASX_REDIS_PUSH, 4), 0);
  EXPECT_BYTES(">4\r\n");
}

Test(redis_encode, invalid_arguments_refused, .init = setup, .fini = teardown) {
  cr_assert_eq(asx_redis_write_simple(&out, "a\r\nb", 4), ASX_EINVAL);
  cr_assert_eq(asx_redis_write_error(&out, "a\nb", 3), ASX_EINVAL);
  cr_assert_eq(asx_redis_write_verbatim(&out, "tx", "a", 1), ASX_EINVAL);
  cr_assert_eq(asx_redis_write_verbatim(&out, "t:t", "a", 1), ASX_EINVAL);
  cr_assert_eq(asx_redis_write_bignum(&out, "12a", 3), ASX_EINVAL);
  cr_assert_eq(asx_redis_write_bignum(&out, "", 0), ASX_EINVAL);
  cr_assert_eq(asx_redis_write_aggregate(&out, ASX_REDIS_BULK, 1), ASX_EINVAL);
  cr_assert_eq(out.len, 0);
}

Test(redis_encode, all_or_nothing_on_limit_and_enomem) {
  const char *argv[] = {"SET", "key", "a value that does not fit"};
  asx_buf small;
  asx_buf_init(&small, NULL, 30);
  cr_assert_eq(asx_buf_append_str(&small, "+X\r\n"), 0);
  cr_assert_eq(asx_redis_encode_command(&small, 3, argv, NULL), ASX_ELIMIT);
  cr_assert_eq(small.len, 4);
  cr_assert_eq(asx_redis_write_bulk(&small, "0123456789012345678901234567", 28), ASX_ELIMIT);
  cr_assert_eq(small.len, 4);
  asx_buf_free(&small);
  /* Under a failing allocator every attempt either succeeds completely or leaves nothing. */
  for (long k = 0; k < 4; k++) {
    test_alloc ta;
    test_alloc_init(&ta);
    asx_buf b;
    asx_buf_init(&b, &ta.base, 0);
    test_alloc_fail_after(&ta, k);
    int rc = asx_redis_encode_command(&b, 3, argv, NULL);
    cr_assert(rc == 0 || (rc == ASX_ENOMEM && b.len == 0), "k %ld rc %d len %zu", k, rc, b.len);
    asx_buf_free(&b);
    cr_assert_eq(ta.live, 0);
  }
}

/* Spec examples in canonical form: decode then encode gives the same bytes. */
#define C(s) {s, sizeof(s) - 1}
static const struct {
  const char *in;
  size_t n;
} canonical[] = {
    C("+OK\r\n"),
    C("-ERR x\r\n"),
    C(":-5\r\n"),
    C("$5\r\nhe\0lo\r\n"),
    C("$-1\r\n"),
    C("*-1\r\n"),
    C("_\r\n"),
    C("#t\r\n"),
    C(",1.5\r\n"),
    C(",inf\r\n"),
    C(",nan\r\n"),
    C("(-123456789012345678901234567890\r\n"),
    C("!3\r\nbad\r\n"),
    C("=15\r\ntxt:Some string\r\n"),
    C("*0\r\n"),
    C("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n"),
    C("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"),
    C("~2\r\n+orange\r\n#f\r\n"),
    C("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.5\r\n$1\r\nb\r\n,0.25\r\n*2\r\n:2039123\r\n:9323\r\n"),
    C(">3\r\n+message\r\n+ch\r\n|1\r\n+a\r\n+b\r\n$3\r\nmsg\r\n"),
};
#undef C

Test(redis_encode, canonical_round_trip_is_byte_exact, .init = setup, .fini = teardown) {
  for (size_t i = 0; i < sizeof canonical / sizeof canonical[0]; i++) {
    const char *in = canonical[i].in;
    size_t n = canonical[i].n;
    asx_redis_decoder *d;
    cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
    size_t used;
    asx_redis_reply *r = NULL;
    cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in, n, &used, &r), 0, "#%zu: %s", i,
                 asx_redis_decoder_error_message(d));
    cr_assert_eq(used, n, "#%zu used %zu", i, used);
    cr_assert_eq(asx_redis_write_reply(&out, r), 0);
    cr_assert_eq(out.len, n, "#%zu", i);
    cr_assert_eq(memcmp(out.data, in, n), 0, "#%zu: %.*s", i, (int)out.len, out.data);
    asx_buf_reset(&out);
    asx_redis_reply_free(r);
    asx_redis_decoder_free(d);
  }
}

Test(redis_encode, writer_output_decodes_to_the_same_tree, .init = setup, .fini = teardown) {
  /* A server-style reply built with the writers: a push with every scalar type inside a map. */
  asx_redis_write_aggregate(&out, ASX_REDIS_ATTRIBUTE, 1);
  asx_redis_write_simple(&out, "meta", 4);
  asx_redis_write_integer(&out, 7);
  asx_redis_write_aggregate(&out, ASX_REDIS_MAP, 6);
  asx_redis_write_bulk(&out, "bin", 3);
  asx_redis_write_bulk(&out, "\0\r\n\xff", 4);
  asx_redis_write_simple(&out, "dbl", 3);
  asx_redis_write_double(&out, -0.1);
  asx_redis_write_simple(&out, "big", 3);
  asx_redis_write_bignum(&out, "+99999999999999999999999", 24);
  asx_redis_write_simple(&out, "set", 3);
  asx_redis_write_aggregate(&out, ASX_REDIS_SET, 3);
  asx_redis_write_null(&out);
  asx_redis_write_bool(&out, false);
  asx_redis_write_bulk_error(&out, "E", 1);
  asx_redis_write_simple(&out, "v", 1);
  asx_redis_write_verbatim(&out, "mkd", "# t", 3);
  asx_redis_write_error(&out, "ERR", 3);
  asx_redis_write_aggregate(&out, ASX_REDIS_PUSH, 2);
  asx_redis_write_null_bulk(&out);
  asx_redis_write_null_array(&out);
  asx_buf d1, d2, re;
  asx_buf_init(&d1, NULL, 0);
  asx_buf_init(&d2, NULL, 0);
  asx_buf_init(&re, NULL, 0);
  cr_assert_eq(decode_whole(out.data, out.len, NULL, &d1), 0);
  /* Encode the decoded tree again and decode that: identical trees and bytes. */
  asx_redis_decoder *d;
  cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
  size_t used;
  asx_redis_reply *r;
  cr_assert_eq(asx_redis_decoder_feed(d, out.data, out.len, &used, &r), 0);
  cr_assert_eq(asx_redis_write_reply(&re, r), 0);
  asx_redis_reply_free(r);
  asx_redis_decoder_free(d);
  cr_assert_eq(re.len, out.len);
  cr_assert_eq(memcmp(re.data, out.data, out.len), 0);
  cr_assert_eq(decode_whole(re.data, re.len, NULL, &d2), 0);
  cr_assert_str_eq(buf_str(&d1), buf_str(&d2));
  cr_assert(strstr(buf_str(&d1), "double/,(-0.10000000000000001)") != NULL, "%s", buf_str(&d1));
  asx_buf_free(&d1);
  asx_buf_free(&d2);
  asx_buf_free(&re);
}

Test(redis_encode, doubles_round_trip_exactly, .init = setup, .fini = teardown) {
  const double vals[] = {0.0, -0.0, 1.0, -1.5, 3.141592653589793, 1e-320, 1.7976931348623157e308,
                         2.2250738585072014e-308, 123456789.123456789};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    asx_buf_reset(&out);
    cr_assert_eq(asx_redis_write_double(&out, vals[i]), 0);
    cr_assert_eq(asx_buf_append_byte(&out, 0), 0);
    asx_redis_reply *r = decode_one((const char *)out.data);
    cr_assert_not_null(r, "%s", out.data);
    cr_assert_eq(r->type, ASX_REDIS_DOUBLE);
    cr_assert_eq(memcmp(&r->dbl, &vals[i], sizeof(double)), 0, "%s", out.data);
    asx_redis_reply_free(r);
  }
}

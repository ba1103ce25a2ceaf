/* The server-side command decoder: RESP arrays of bulk strings and inline commands (with
 * redis-server's quoting rules), splits at every offset, limits, malformed input, failing
 * allocator, and round trips from the command encoder. */
#include <criterion/criterion.h>
#include <string.h>

#include "redis_test_util.h"
#include "test_alloc.h"

TestSuite(redis_command, .timeout = 60);

static int commands(const char *in, size_t n, const asx_redis_limits *lim, asx_buf *out) {
  return commands_pieces(in, n, NULL, 0, lim, NULL, out, NULL, NULL);
}

static void expect_cmds(const char *in, size_t n, int want_rc, const char *want) {
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  int rc = commands(in, n, NULL, &out);
  cr_assert_eq(rc, want_rc, "rc %d for %s", rc, want);
  cr_assert_str_eq(buf_str(&out), want);
  asx_buf_free(&out);
}
#define EXPECT(in, rc, want) expect_cmds(in, sizeof(in) - 1, rc, want)

Test(redis_command, resp_arrays) {
  EXPECT("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 0, "resp \"GET\" \"key\"\n");
  EXPECT("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\n\0\r\n", 0, "resp \"SET\" \"\" \"a\\x0d\\x0a\\x00\"\n");
  EXPECT("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 0, "resp \"PING\"\nresp \"PING\"\n");
  /* Empty requests are skipped as redis-server does. */
  EXPECT("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 0, "resp \"PING\"\n");
}

Test(redis_command, inline_commands) {
  EXPECT("PING\r\n", 0, "inline \"PING\"\n");
  EXPECT("PING\n", 0, "inline \"PING\"\n");
  EXPECT("SET  key   value \r\n", 0, "inline \"SET\" \"key\" \"value\"\n");
  EXPECT("\r\n\n  \r\nPING\r\n", 0, "inline \"PING\"\n"); /* empty lines skipped */
  EXPECT("SET \"a b\" 'c d'\r\n", 0, "inline \"SET\" \"a b\" \"c d\"\n");
  EXPECT("ECHO \"\\x41\\n\\t\\\\\\\"z\"\r\n", 0, "inline \"ECHO\" \"A\\x0a\\x09\\x5c\\x22z\"\n");
  EXPECT("ECHO 'it\\'s' 'a\\nb'\r\n", 0, "inline \"ECHO\" \"it's\" \"a\\x5cnb\"\n");
  EXPECT("ECHO a\"b c\" d\r\n", 0, "inline \"ECHO\" \"ab c\" \"d\"\n");
  EXPECT("ECHO \"\" ''\r\n", 0, "inline \"ECHO\" \"\" \"\"\n");
  EXPECT("ECHO \"\\xZZ\"\r\n", 0, "inline \"ECHO\" \"xZZ\"\n");
  EXPECT("ECHO a\tb\r\n", 0, "inline \"ECHO\" \"a\" \"b\"\n");
  /* A NUL ends the line for redis-server (C string): the rest is ignored. */
  EXPECT("ECHO a\0 b\r\n", 0, "inline \"ECHO\" \"a\"\n");
  /* Mixed with RESP in one stream. */
  EXPECT("PING\r\n*1\r\n$4\r\nPING\r\nQUIT\r\n", 0, "inline \"PING\"\nresp \"PING\"\ninline \"QUIT\"\n");
}

Test(redis_command, inline_unbalanced_quotes) {
  EXPECT("ECHO \"abc\r\n", ASX_EPROTO, "");
  EXPECT("ECHO 'abc\r\n", ASX_EPROTO, "");
  EXPECT("ECHO \"abc\"def\r\n", ASX_EPROTO, "");
  EXPECT("ECHO 'abc'def\r\n", ASX_EPROTO, "");
  EXPECT("ECHO a\"b c\"d\r\n", ASX_EPROTO, "");
  EXPECT("ECHO \"abc\\\"\r\n", ASX_EPROTO, "");
  asx_redis_cmd_decoder *d;
  cr_assert_eq(asx_redis_cmd_decoder_new(&d, NULL, NULL), 0);
  size_t used;
  const asx_redis_command *c;
  cr_assert_eq(asx_redis_cmd_decoder_feed(d, (const uint8_t *)"ECHO \"x\r\n", 9, &used, &c), ASX_EPROTO);
  cr_assert_str_eq(asx_redis_cmd_decoder_error_message(d), "unbalanced quotes in inline command at offset 7");
  asx_redis_cmd_decoder_free(d);
}

Test(redis_command, malformed_resp_rejected) {
  static const struct {
    const char *in;
    size_t n;
  } bad[] = {
#define B(s) {s, sizeof(s) - 1}
      B("*1\r\n+foo\r\n"), B("*1\r\n:1\r\n"), B("*1\r\n$-1\r\n"), B("*1\r\n$-2\r\n"), B("*1\r\n$3\r\nfooXX"),
      B("*1\r\n$3\r\nfoo\n"), B("*a\r\n"), B("*-2\r\n"), B("*1\n"), B("*01\r\n"), B("*1\r\n$x\r\n"),
      B("*1\r\n$3\n"), B("*1\r\n$1\r\r\n"), B("*99999999999999999999\r\n"),
#undef B
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    asx_redis_cmd_decoder *d;
    cr_assert_eq(asx_redis_cmd_decoder_new(&d, NULL, NULL), 0);
    size_t used;
    const asx_redis_command *c;
    int rc = asx_redis_cmd_decoder_feed(d, (const uint8_t *)bad[i].in, bad[i].n, &used, &c);
    cr_assert_eq(rc, ASX_EPROTO, "#%zu rc %d", i, rc);
    cr_assert(strstr(asx_redis_cmd_decoder_error_message(d), "offset"), "#%zu", i);
    cr_assert_eq(asx_redis_cmd_decoder_feed(d, (const uint8_t *)"PING\r\n", 6, &used, &c), ASX_EPROTO);
    asx_redis_cmd_decoder_reset(d);
    cr_assert_eq(asx_redis_cmd_decoder_feed(d, (const uint8_t *)"PING\r\n", 6, &used, &c), 0);
    cr_assert_eq(c->argc, 1);
    asx_redis_cmd_decoder_free(d);
  }
  asx_redis_cmd_decoder *d;
  cr_assert_eq(asx_redis_cmd_decoder_new(&d, NULL, NULL), 0);
  size_t used;
  const asx_redis_command *c;
  cr_assert_eq(asx_redis_cmd_decoder_feed(d, (const uint8_t *)"*1\r\n+foo\r\n", 10, &used, &c), ASX_EPROTO);
  cr_assert_str_eq(asx_redis_cmd_decoder_error_message(d), "expected '$', got '+' (0x2b) at offset 4");
  asx_redis_cmd_decoder_free(d);
}

static const char stream[] =
    "*3\r\n$3\r\nSET\r\n$5\r\nk\r\ney\r\n$0\r\n\r\nPING\r\n*0\r\nSET \"a b\" 'c\\'d' e\"f g\"\r\n\r\n"
    "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\nQUIT\n";

Test(redis_command, every_split_gives_the_same_commands) {
  size_t n = sizeof stream - 1;
  asx_buf ref;
  asx_buf_init(&ref, NULL, 0);
  cr_assert_eq(commands(stream, n, NULL, &ref), 0);
  cr_assert_str_eq(buf_str(&ref), "resp \"SET\" \"k\\x0d\\x0aey\" \"\"\ninline \"PING\"\ninline \"SET\" \"a b\" "
                                  "\"c'd\" \"ef g\"\nresp \"ECHO\" \"0123456789\"\ninline \"QUIT\"\n");
  for (size_t a = 1; a < n; a++) {
    for (size_t b = a + 1; b < n; b += 5) {
      size_t cuts[2] = {a, b};
      asx_buf out;
      asx_buf_init(&out, NULL, 0);
      cr_assert_eq(commands_pieces(stream, n, cuts, 2, NULL, NULL, &out, NULL, NULL), 0, "cuts %zu %zu", a, b);
      cr_assert_str_eq(buf_str(&out), buf_str(&ref), "cuts %zu %zu", a, b);
      asx_buf_free(&out);
    }
  }
  size_t cuts[sizeof stream];
  for (size_t i = 0; i + 1 < n; i++) cuts[i] = i + 1;
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  cr_assert_eq(commands_pieces(stream, n, cuts, n - 1, NULL, NULL, &out, NULL, NULL), 0);
  cr_assert_str_eq(buf_str(&out), buf_str(&ref));
  asx_buf_free(&out);
  asx_buf_free(&ref);
}

static void stop_failing(void *ud) { test_alloc_fail_after(ud, -1); }

Test(redis_command, failing_allocator) {
  size_t n = sizeof stream - 1;
  asx_buf ref;
  asx_buf_init(&ref, NULL, 0);
  cr_assert_eq(commands(stream, n, NULL, &ref), 0);
  size_t cuts[] = {2, 9, 15, 30, 41, 50, 60, 75, 90};
  for (int split = 0; split < 2; split++) {
    test_alloc ta;
    test_alloc_init(&ta);
    asx_buf out;
    asx_buf_init(&out, NULL, 0);
    cr_assert_eq(commands_pieces(stream, n, cuts, split ? 9 : 0, NULL, &ta.base, &out, NULL, NULL), 0);
    long total = ta.allocs;
    asx_buf_free(&out);
    cr_assert_gt(total, 3);
    for (long k = 0; k <= total; k++) {
      test_alloc_init(&ta);
      test_alloc_fail_after(&ta, k);
      asx_buf_init(&out, NULL, 0);
      int rc = commands_pieces(stream, n, cuts, split ? 9 : 0, NULL, &ta.base, &out, stop_failing, &ta);
      cr_assert_eq(rc, 0, "k %ld rc %d", k, rc);
      cr_assert_str_eq(buf_str(&out), buf_str(&ref), "k %ld", k);
      cr_assert_eq(ta.live, 0, "k %ld leaks", k);
      asx_buf_free(&out);
    }
  }
  asx_buf_free(&ref);
}

static int with(const asx_redis_limits *lim, const char *in, size_t n) {
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  int rc = commands(in, n, lim, &out);
  asx_buf_free(&out);
  return rc;
}
#define W(lim, s) with(lim, s, sizeof(s) - 1)

Test(redis_command, limits) {
  asx_redis_limits lim = asx_redis_limits_default();
  lim.max_bulk = 4;
  cr_assert_eq(W(&lim, "*1\r\n$3\r\nabc\r\n"), 0);
  cr_assert_eq(W(&lim, "*1\r\n$4\r\nabcd\r\n"), 0);
  cr_assert_eq(W(&lim, "*1\r\n$5\r\n"), ASX_ELIMIT);
  lim = asx_redis_limits_default();
  lim.max_elements = 2;
  cr_assert_eq(W(&lim, "*1\r\n$1\r\na\r\n"), 0);
  cr_assert_eq(W(&lim, "*2\r\n$1\r\na\r\n$1\r\nb\r\n"), 0);
  cr_assert_eq(W(&lim, "*3\r\n"), ASX_ELIMIT);
  cr_assert_eq(W(&lim, "a b\r\n"), 0);
  cr_assert_eq(W(&lim, "a b c\r\n"), ASX_ELIMIT);
  lim = asx_redis_limits_default();
  lim.max_line = 6;
  cr_assert_eq(W(&lim, "PING1\r\n"), 0);
  cr_assert_eq(W(&lim, "PING 1\r\n"), 0);
  cr_assert_eq(W(&lim, "PING 12\r\n"), ASX_ELIMIT);
  cr_assert_eq(W(&lim, "PING 12"), ASX_ELIMIT); /* before the LF arrives */
  cr_assert_eq(W(&lim, "PING 1\r"), ASX_EAGAIN);
  cr_assert_eq(W(&lim, "*123456\r\n"), ASX_ELIMIT);
  lim = asx_redis_limits_default();
  lim.max_total = 15;
  cr_assert_eq(W(&lim, "*1\r\n$4\r\nPING\r\n"), 0);
  lim.max_total = 14; /* "*1\r\n$4\r\nPING\r\n" */
  cr_assert_eq(W(&lim, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), 0);
  lim.max_total = 13;
  cr_assert_eq(W(&lim, "*1\r\n$4\r\nPING\r\n"), ASX_ELIMIT);
  /* Defaults as redis-server: 1M arguments, 512 MiB arguments, 64 KiB inline. */
  cr_assert_eq(W(NULL, "*1048576\r\n"), ASX_EAGAIN);
  cr_assert_eq(W(NULL, "*1048577\r\n"), ASX_ELIMIT);
  cr_assert_eq(W(NULL, "*1\r\n$536870912\r\n"), ASX_EAGAIN);
  cr_assert_eq(W(NULL, "*1\r\n$536870913\r\n"), ASX_ELIMIT);
  static char line[65536 + 3];
  memset(line, 'a', sizeof line);
  memcpy(line + 65536, "\r\n", 2);
  cr_assert_eq(with(NULL, line, 65536 + 2), 0);
  line[65536] = 'a';
  memcpy(line + 65537, "\r\n", 2);
  cr_assert_eq(with(NULL, line, 65537 + 2), ASX_ELIMIT);
}

Test(redis_command, encoder_round_trip) {
  const char *argv[] = {"HSET", "h", "f\r\n\0x", ""};
  size_t lens[] = {4, 1, 5, 0};
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_redis_encode_command(&b, 4, argv, lens), 0);
  asx_redis_cmd_decoder *d;
  cr_assert_eq(asx_redis_cmd_decoder_new(&d, NULL, NULL), 0);
  size_t used;
  const asx_redis_command *c;
  cr_assert_eq(asx_redis_cmd_decoder_feed(d, b.data, b.len, &used, &c), 0);
  cr_assert_eq(used, b.len);
  cr_assert_eq(c->argc, 4);
  cr_assert_not(c->inline_form);
  for (size_t i = 0; i < 4; i++) {
    cr_assert_eq(c->argv[i].len, lens[i]);
    cr_assert_eq(memcmp(c->argv[i].ptr, argv[i], lens[i]), 0);
  }
  asx_redis_cmd_decoder_free(d);
  asx_buf_free(&b);
}

/* The reply decoder: every RESP2/RESP3 type from the spec's examples, streaming events,
 * strictness (malformed inputs) and every limit at limit-1 / limit / limit+1. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "redis_test_util.h"

TestSuite(redis_decode, .timeout = 30);

/* Decodes `wire` whole and compares the dump of its single reply. */
static void expect_dump(const char *wire, size_t n, const char *want) {
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  int rc = decode_whole(wire, n, NULL, &out);
  cr_assert_eq(rc, 0, "rc %d for %s", rc, want);
  cr_assert_str_eq(buf_str(&out), want);
  asx_buf_free(&out);
}
#define EXPECT(wire, want) expect_dump(wire, sizeof(wire) - 1, want "\n")

Test(redis_decode, resp2_types) {
  EXPECT("+OK\r\n", "simple string/+\"OK\"");
  EXPECT("-Error message\r\n", "simple error/-\"Error message\"");
  EXPECT("-ERR unknown command 'asdf'\r\n", "simple error/-\"ERR unknown command 'asdf'\"");
  EXPECT(":1000\r\n", "integer/:(1000)");
  EXPECT(":-1000\r\n", "integer/:(-1000)");
  EXPECT(":+5\r\n", "integer/:(5)");
  EXPECT(":0\r\n", "integer/:(0)");
  EXPECT(":9223372036854775807\r\n", "integer/:(9223372036854775807)");
  EXPECT(":-9223372036854775808\r\n", "integer/:(-9223372036854775808)");
  EXPECT("$5\r\nhello\r\n", "bulk string/$\"hello\"");
  EXPECT("$0\r\n\r\n", "bulk string/$\"\"");
  EXPECT("$-1\r\n", "null/$");
  EXPECT("*-1\r\n", "null/*");
  EXPECT("*0\r\n", "array/*0{}");
  EXPECT("*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", "array/*2{bulk string/$\"hello\",bulk string/$\"world\"}");
  EXPECT("*3\r\n:1\r\n:2\r\n:3\r\n", "array/*3{integer/:(1),integer/:(2),integer/:(3)}");
  EXPECT("*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n",
         "array/*5{integer/:(1),integer/:(2),integer/:(3),integer/:(4),bulk string/$\"hello\"}");
  EXPECT("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
         "array/*2{array/*3{integer/:(1),integer/:(2),integer/:(3)},array/*2{simple string/+\"Hello\","
         "simple error/-\"World\"}}");
  EXPECT("*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n",
         "array/*3{bulk string/$\"hello\",null/$,bulk string/$\"world\"}");
}

Test(redis_decode, binary_bulk) {
  EXPECT("$6\r\na\0\r\nb\xff\r\n", "bulk string/$\"a\\x00\\x0d\\x0ab\\xff\"");
  asx_redis_reply *r = decode_one("$3\r\nabc\r\n");
  cr_assert_not_null(r);
  cr_assert_eq(r->len, 3);
  cr_assert_eq(r->str[3], '\0');
  asx_redis_reply_free(r);
}

Test(redis_decode, resp3_types) {
  EXPECT("_\r\n", "null/_");
  EXPECT("#t\r\n", "boolean/#(1)");
  EXPECT("#f\r\n", "boolean/#(0)");
  EXPECT(",1.23\r\n", "double/,(1.23)");
  EXPECT(",10\r\n", "double/,(10)");
  EXPECT(",-1.5e3\r\n", "double/,(-1500)");
  EXPECT(",+2.5E-1\r\n", "double/,(0.25)");
  EXPECT(",inf\r\n", "double/,(inf)");
  EXPECT(",-inf\r\n", "double/,(-inf)");
  EXPECT(",nan\r\n", "double/,(nan)");
  EXPECT("(3492890328409238509324850943850943825024385\r\n",
         "big number/(\"3492890328409238509324850943850943825024385\"");
  EXPECT("(-12\r\n", "big number/(\"-12\"");
  EXPECT("!21\r\nSYNTAX invalid syntax\r\n", "bulk error/!\"SYNTAX invalid syntax\"");
  EXPECT("=15\r\ntxt:Some string\r\n", "verbatim string/=[txt]\"Some string\"");
  EXPECT("=4\r\nmkd:\r\n", "verbatim string/=[mkd]\"\"");
  EXPECT("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
         "map/%4{simple string/+\"first\",integer/:(1),simple string/+\"second\",integer/:(2)}");
  EXPECT("~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n",
         "set/~5{simple string/+\"orange\",simple string/+\"apple\",boolean/#(1),integer/:(100),"
         "integer/:(999)}");
  EXPECT(">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n",
         "push/>4{simple string/+\"pubsub\",simple string/+\"message\",simple string/+\"somechannel\","
         "simple string/+\"this is the message\"}");
  EXPECT("%0\r\n", "map/%0{}");
}

Test(redis_decode, attribute_attaches_to_next_value) {
  /* The spec's example: popularity attribute before the reply array. */
  EXPECT("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9323\r\n",
         "attrattribute/|2{simple string/+\"key-popularity\",map/%4{bulk string/$\"a\",double/,(0.1923),"
         "bulk string/$\"b\",double/,(0.0011999999999999999)}} array/*2{integer/:(2039123),integer/:(9323)}");
  /* Inside an aggregate: it does not count as an element. */
  EXPECT("*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n",
         "array/*3{integer/:(1),integer/:(2),attrattribute/|2{simple string/+\"ttl\",integer/:(3600)} "
         "integer/:(3)}");
  /* Two attributes in a row merge into one map on the next value. */
  EXPECT("|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n+OK\r\n",
         "attrattribute/|4{simple string/+\"a\",integer/:(1),simple string/+\"b\",integer/:(2)} "
         "simple string/+\"OK\"");
  /* An attribute on an attribute's key. */
  EXPECT("|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n+v\r\n+OK\r\n",
         "attrattribute/|2{attrattribute/|2{simple string/+\"x\",simple string/+\"y\"} simple string/+\"k\","
         "simple string/+\"v\"} simple string/+\"OK\"");
}

Test(redis_decode, pipelined_replies_one_at_a_time) {
  const char *in = "+OK\r\n:1\r\n$3\r\nfoo\r\n*1\r\n_\r\n";
  asx_redis_decoder *d;
  cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
  size_t off = 0, n = strlen(in), used;
  size_t ends[] = {5, 9, 18, 25};
  for (int i = 0; i < 4; i++) {
    asx_redis_reply *r = NULL;
    cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in + off, n - off, &used, &r), 0);
    off += used;
    cr_assert_eq(off, ends[i]);
    cr_assert_not_null(r);
    asx_redis_reply_free(r);
  }
  asx_redis_reply *r = NULL;
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in + off, 0, &used, &r), ASX_EAGAIN);
  cr_assert_null(r);
  asx_redis_decoder_free(d);
}

/* Streaming events: records them as text. */
static int record_event(void *ud, const asx_redis_event *ev) {
  asx_buf *b = ud;
  static const char *names[] = {"", "VALUE", "BEGIN", "DATA", "END", "AGG", "AGGEND", "REPLY"};
  asx_buf_appendf(b, "%s@%u", names[ev->kind], ev->depth);
  if (ev->kind == ASX_REDIS_EV_VALUE) asx_buf_appendf(b, ":%c%.*s", ev->wire, (int)ev->data.len, ev->data.ptr);
  if (ev->kind == ASX_REDIS_EV_BLOB_BEGIN || ev->kind == ASX_REDIS_EV_AGG_BEGIN)
    asx_buf_appendf(b, ":%c%llu%s", ev->wire, (unsigned long long)ev->len, ev->format);
  if (ev->kind == ASX_REDIS_EV_BLOB_DATA) asx_buf_appendf(b, ":%.*s", (int)ev->data.len, ev->data.ptr);
  asx_buf_append_byte(b, ' ');
  return 0;
}

Test(redis_decode, streaming_events) {
  const char *in = "%1\r\n+k\r\n*2\r\n$3\r\nabc\r\n=7\r\ntxt:xyz\r\n:5\r\n";
  asx_redis_decoder *d;
  asx_buf ev;
  asx_buf_init(&ev, NULL, 0);
  cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
  cr_assert_eq(asx_redis_decoder_set_event_cb(d, record_event, &ev), 0);
  size_t used;
  asx_redis_reply *r = (asx_redis_reply *)1;
  size_t n = strlen(in);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in, n, &used, &r), 0);
  cr_assert_null(r);
  cr_assert_eq(used, n - 4);
  cr_assert_str_eq(buf_str(&ev),
                   "AGG@0:%1 VALUE@1:+k AGG@1:*2 BEGIN@2:$3 DATA@2:abc END@2 BEGIN@2:=3txt DATA@2:xyz "
                   "END@2 AGGEND@1 AGGEND@0 REPLY@0 ");
  asx_buf_reset(&ev);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in + used, 4, &used, &r), 0);
  cr_assert_str_eq(buf_str(&ev), "VALUE@0::5 REPLY@0 ");
  /* Back to trees between replies. */
  cr_assert_eq(asx_redis_decoder_set_event_cb(d, NULL, NULL), 0);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"+x\r", 3, &used, &r), ASX_EAGAIN);
  cr_assert_eq(asx_redis_decoder_set_event_cb(d, record_event, &ev), ASX_ESTATE);
  asx_redis_decoder_free(d);
  asx_buf_free(&ev);
}

/* Inputs that must be refused with ASX_EPROTO, with a message naming the offset. */
static const struct {
  const char *in;
  size_t n;
} bad[] = {
#define B(s) {s, sizeof(s) - 1}
    B("$-2\r\n"), B("*-2\r\n"), B("$abc\r\n"), B("$\r\n"), B("$01\r\n"), B("$+1\r\n"), B("$ 1\r\n"),
    B("$1 \r\n"), B("*01\r\n"), B("$5\r\nhello\n"), B("$5\r\nhelloXX"), B("$5\r\nhello\rX"),
    B("+OK\n"), B("+O\rK\r\n"), B("+OK\r\r\n"), B(":12a\r\n"), B(":\r\n"), B(":-\r\n"), B(": 1\r\n"),
    B(":9223372036854775808\r\n"), B(":-9223372036854775809\r\n"), B("$99999999999999999999\r\n"),
    B("*9223372036854775808\r\n"), B("#x\r\n"), B("#tt\r\n"), B("#\r\n"), B("#T\r\n"), B(",1.\r\n"),
    B(",.5\r\n"), B(",abc\r\n"), B(",1e\r\n"), B(",Inf\r\n"), B(",NaN\r\n"), B(",\r\n"), B(",1.5x\r\n"),
    B(",--1\r\n"), B("(12a\r\n"), B("(\r\n"), B("(-\r\n"), B("_x\r\n"), B("!-1\r\n"), B("=-1\r\n"),
    B("=3\r\ntxt\r\n"), B("=5\r\ntxtX1\r\n"), B("=5\r\nt:t:1\r\n"), B("=5\r\nt t:1\r\n"), B("%-1\r\n"), B("~-1\r\n"), B(">-1\r\n"), B("|-1\r\n"),
    B("?\r\n"), B("\r\n"), B("\n"), B("OK\r\n"), B("*1\r\nX\r\n"), B("*2\r\n:1\r\n+a\nb\r\n"),
    B("$0\r\nX\r\n"), B("$3\r\nabc\n\r"),
#undef B
};

Test(redis_decode, malformed_inputs_rejected) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    asx_redis_decoder *d;
    cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
    size_t used;
    asx_redis_reply *r = NULL;
    int rc = asx_redis_decoder_feed(d, (const uint8_t *)bad[i].in, bad[i].n, &used, &r);
    cr_assert_eq(rc, ASX_EPROTO, "input #%zu: rc %d (%s)", i, rc, asx_redis_decoder_error_message(d));
    cr_assert_null(r);
    cr_assert(strstr(asx_redis_decoder_error_message(d), "offset") != NULL, "input #%zu: message '%s'", i,
              asx_redis_decoder_error_message(d));
    /* Sticky until reset. */
    cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"+OK\r\n", 5, &used, &r), ASX_EPROTO);
    cr_assert_eq(used, 0);
    asx_redis_decoder_reset(d);
    cr_assert_str_eq(asx_redis_decoder_error_message(d), "");
    cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"+OK\r\n", 5, &used, &r), 0);
    asx_redis_reply_free(r);
    asx_redis_decoder_free(d);
  }
}

Test(redis_decode, error_message_names_the_problem) {
  asx_redis_decoder *d;
  cr_assert_eq(asx_redis_decoder_new(&d, NULL, NULL), 0);
  size_t used;
  asx_redis_reply *r;
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"+OK\r\n$-5\r\n", 11, &used, &r), 0);
  asx_redis_reply_free(r);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"$-5\r\n", 6, &used, &r), ASX_EPROTO);
  cr_assert_str_eq(asx_redis_decoder_error_message(d), "negative bulk length '-5' at offset 5");
  asx_redis_decoder_reset(d);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"$536870913\r\n", 12, &used, &r), ASX_ELIMIT);
  cr_assert_str_eq(asx_redis_decoder_error_message(d),
                   "bulk string length 536870913 exceeds max_bulk 536870912 at offset 0");
  asx_redis_decoder_reset(d);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"*1\r\n:1\r\n@", 9, &used, &r), 0);
  asx_redis_reply_free(r);
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)"@", 1, &used, &r), ASX_EPROTO);
  cr_assert_str_eq(asx_redis_decoder_error_message(d), "unknown type byte 0x40 at offset 8");
  asx_redis_decoder_free(d);
}

/* ---- limits ---------------------------------------------------------------------------- */

static int decode_with(const asx_redis_limits *lim, const char *in, size_t n) {
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  int rc = decode_whole(in, n, lim, &out);
  asx_buf_free(&out);
  return rc;
}

#define DW(lim, s) decode_with(lim, s, sizeof(s) - 1)

static char *repeat(const char *head, char c, size_t n, const char *tail) {
  size_t h = strlen(head), t = strlen(tail);
  char *s = malloc(h + n + t + 1);
  memcpy(s, head, h);
  memset(s + h, c, n);
  memcpy(s + h + n, tail, t + 1);
  return s;
}

Test(redis_decode, limit_bulk) {
  asx_redis_limits lim = asx_redis_limits_default();
  lim.max_bulk = 10;
  cr_assert_eq(DW(&lim, "$9\r\n123456789\r\n"), 0);
  cr_assert_eq(DW(&lim, "$10\r\n1234567890\r\n"), 0);
  cr_assert_eq(DW(&lim, "$11\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "!11\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "=11\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "=10\r\ntxt:123456\r\n"), 0);
}

Test(redis_decode, limit_bulk_default_is_512mib) {
  asx_redis_limits lim = asx_redis_limits_default();
  cr_assert_eq(lim.max_bulk, 536870912u);
  cr_assert_eq(DW(NULL, "$536870912\r\nab"), ASX_EAGAIN);
  cr_assert_eq(DW(NULL, "$536870913\r\n"), ASX_ELIMIT);
}

Test(redis_decode, limit_elements) {
  asx_redis_limits lim = asx_redis_limits_default();
  lim.max_elements = 3;
  cr_assert_eq(DW(&lim, "*2\r\n:1\r\n:2\r\n"), 0);
  cr_assert_eq(DW(&lim, "*3\r\n:1\r\n:2\r\n:3\r\n"), 0);
  cr_assert_eq(DW(&lim, "*4\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "%3\r\n"), ASX_EAGAIN);
  cr_assert_eq(DW(&lim, "%4\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "~4\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, ">4\r\n"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "|4\r\n"), ASX_ELIMIT);
  cr_assert_eq(asx_redis_limits_default().max_elements, 1048576u);
  cr_assert_eq(DW(NULL, "*1048576\r\n"), ASX_EAGAIN);
  cr_assert_eq(DW(NULL, "*1048577\r\n"), ASX_ELIMIT);
}

Test(redis_decode, limit_depth) {
  asx_redis_limits lim = asx_redis_limits_default();
  lim.max_depth = 3;
  cr_assert_eq(DW(&lim, "*1\r\n*1\r\n:1\r\n"), 0);                 /* 2 */
  cr_assert_eq(DW(&lim, "*1\r\n*1\r\n*1\r\n:1\r\n"), 0);           /* 3 */
  cr_assert_eq(DW(&lim, "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"), ASX_ELIMIT); /* 4 */
  cr_assert_eq(DW(&lim, "*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n"), 0);
  cr_assert_eq(DW(&lim, "*1\r\n*1\r\n*1\r\n|1\r\n"), ASX_ELIMIT);
  /* Default 32. */
  char buf[33 * 4 + 8];
  for (int i = 0; i < 32; i++) memcpy(buf + 4 * i, "*1\r\n", 4);
  memcpy(buf + 128, ":1\r\n", 4);
  cr_assert_eq(decode_with(NULL, buf, 132), 0);
  for (int i = 0; i < 33; i++) memcpy(buf + 4 * i, "*1\r\n", 4);
  cr_assert_eq(decode_with(NULL, buf, 132), ASX_ELIMIT);
}

Test(redis_decode, limit_line) {
  asx_redis_limits lim = asx_redis_limits_default();
  lim.max_line = 8; /* type byte included */
  cr_assert_eq(DW(&lim, "+123456\r\n"), 0);
  cr_assert_eq(DW(&lim, "+1234567\r\n"), 0);
  cr_assert_eq(DW(&lim, "+12345678\r\n"), ASX_ELIMIT);
  /* Detected before the end of the line arrives. */
  cr_assert_eq(DW(&lim, "+12345678"), ASX_ELIMIT);
  cr_assert_eq(DW(&lim, "+1234567\r"), ASX_EAGAIN);
  char *s = repeat("+", 'x', 65535, "\r\n");
  cr_assert_eq(decode_with(NULL, s, strlen(s)), 0);
  free(s);
  s = repeat("+", 'x', 65536, "\r\n");
  cr_assert_eq(decode_with(NULL, s, strlen(s)), ASX_ELIMIT);
  free(s);
}

Test(redis_decode, limit_total) {
  asx_redis_limits lim = asx_redis_limits_default();
  const char *in = "*2\r\n$3\r\nabc\r\n:1\r\n"; /* 17 bytes */
  lim.max_total = 18;
  cr_assert_eq(decode_with(&lim, in, 17), 0);
  lim.max_total = 17;
  cr_assert_eq(decode_with(&lim, in, 17), 0);
  lim.max_total = 16;
  cr_assert_eq(decode_with(&lim, in, 17), ASX_ELIMIT);
  /* Per reply: pipelined replies each get the full budget. */
  lim.max_total = 5;
  cr_assert_eq(DW(&lim, "+OK\r\n+OK\r\n+OK\r\n"), 0);
  cr_assert_eq(asx_redis_limits_default().max_total, (size_t)1 << 30);
}

Test(redis_decode, bad_limits_refused) {
  asx_redis_decoder *d = NULL;
  asx_redis_limits lim = asx_redis_limits_default();
  lim.max_depth = 0;
  cr_assert_eq(asx_redis_decoder_new(&d, &lim, NULL), ASX_EINVAL);
  lim.max_depth = 1025;
  cr_assert_eq(asx_redis_decoder_new(&d, &lim, NULL), ASX_EINVAL);
  cr_assert_null(d);
}

/* An allocator that remembers the largest block requested. */
static size_t biggest;
static void *big_alloc(void *ud, size_t n) {
  (void)ud;
  if (n > biggest) biggest = n;
  return malloc(n);
}
static void *big_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n > biggest) biggest = n;
  return realloc(p, n);
}
static void big_free(void *ud, void *p) {
  (void)ud;
  free(p);
}

Test(redis_decode, announced_length_is_never_allocated_up_front) {
  asx_allocator a = {big_alloc, big_realloc, big_free, NULL};
  asx_redis_decoder *d;
  cr_assert_eq(asx_redis_decoder_new(&d, NULL, &a), 0);
  biggest = 0;
  size_t used;
  asx_redis_reply *r;
  const char *in = "*1000000\r\n$536870912\r\nsome bytes";
  cr_assert_eq(asx_redis_decoder_feed(d, (const uint8_t *)in, strlen(in), &used, &r), ASX_EAGAIN);
  cr_assert_lt(biggest, 4096, "largest allocation %zu", biggest);
  /* Growth follows the data: 100 KiB of payload needs about that much, not 512 MiB. */
  static uint8_t chunk[100 * 1024];
  memset(chunk, 'x', sizeof chunk);
  cr_assert_eq(asx_redis_decoder_feed(d, chunk, sizeof chunk, &used, &r), ASX_EAGAIN);
  cr_assert_lt(biggest, 512 * 1024, "largest allocation %zu", biggest);
  asx_redis_decoder_free(d);
}

Test(redis_decode, double_values) {
  asx_redis_reply *r = decode_one(",1.5\r\n");
  cr_assert_not_null(r);
  cr_assert_eq(r->dbl, 1.5);
  cr_assert_str_eq(r->str, "1.5");
  asx_redis_reply_free(r);
  r = decode_one(",-inf\r\n");
  cr_assert(isinf(r->dbl) && r->dbl < 0);
  asx_redis_reply_free(r);
  r = decode_one(",nan\r\n");
  cr_assert(isnan(r->dbl));
  asx_redis_reply_free(r);
  r = decode_one(",1e308\r\n");
  cr_assert_eq(r->dbl, 1e308);
  asx_redis_reply_free(r);
}

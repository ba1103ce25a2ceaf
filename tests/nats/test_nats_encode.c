/* NATS encoders: byte-exact output against the protocol documentation's examples, CONNECT JSON
 * escaping, subject / queue / sid validation tables, the header builder, limits at
 * limit-1 / limit / limit+1, "nothing half-written" on every error, and allocation failure. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "asx/nats.h"
#include "nats_testutil.h"
#include "test_alloc.h"

TestSuite(nats_encode, .timeout = 30);

static void expect_buf(asx_buf *b, const char *want) {
  size_t n = strlen(want);
  cr_assert_eq(b->len, n, "got %zu bytes '%.*s', want '%s'", b->len, (int)b->len, (char *)b->data, want);
  cr_assert(memcmp(b->data, want, n) == 0, "got '%.*s', want '%s'", (int)b->len, (char *)b->data, want);
  asx_buf_reset(b);
}

Test(nats_encode, pub_from_doc) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_nats_encode_pub(&b, NULL, "FOO", NULL, "Hello NATS!", 11), 0);
  expect_buf(&b, "PUB FOO 11\r\nHello NATS!\r\n");
  cr_assert_eq(asx_nats_encode_pub(&b, NULL, "FRONT.DOOR", "INBOX.22", "Knock Knock", 11), 0);
  expect_buf(&b, "PUB FRONT.DOOR INBOX.22 11\r\nKnock Knock\r\n");
  cr_assert_eq(asx_nats_encode_pub(&b, NULL, "NOTIFY", NULL, NULL, 0), 0);
  expect_buf(&b, "PUB NOTIFY 0\r\n\r\n");
  asx_buf_free(&b);
}

Test(nats_encode, hpub_from_doc) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_nats_hdr h;
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "Bar", "Baz"), 0);
  cr_assert_eq(asx_nats_hdr_block_len(&h), 22);
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "FOO", NULL, &h, "Hello NATS!", 11), 0);
  expect_buf(&b, "HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "NOTIFY", NULL, &h, NULL, 0), 0);
  expect_buf(&b, "HPUB NOTIFY 22 22\r\nNATS/1.0\r\nBar: Baz\r\n\r\n\r\n");
  asx_nats_hdr_free(&h);

  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "BREAKFAST", "donut"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "LUNCH", "burger"), 0);
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "FRONT.DOOR", "INBOX.22", &h, "Knock Knock", 11), 0);
  expect_buf(&b, "HPUB FRONT.DOOR INBOX.22 45 56\r\nNATS/1.0\r\nBREAKFAST: donut\r\nLUNCH: burger\r\n\r\nKnock Knock\r\n");
  asx_nats_hdr_free(&h);

  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "BREAKFAST", "donut"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "BREAKFAST", "eggs"), 0);
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "MORNING.MENU", NULL, &h, "Yum!", 4), 0);
  expect_buf(&b, "HPUB MORNING.MENU 47 51\r\nNATS/1.0\r\nBREAKFAST: donut\r\nBREAKFAST: eggs\r\n\r\nYum!\r\n");
  asx_nats_hdr_free(&h);
  asx_buf_free(&b);
}

Test(nats_encode, sub_unsub_ping_pong_from_doc) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "FOO", NULL, "1"), 0);
  expect_buf(&b, "SUB FOO 1\r\n");
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "BAR", "G1", "44"), 0);
  expect_buf(&b, "SUB BAR G1 44\r\n");
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo.*.baz.>", NULL, "2"), 0);
  expect_buf(&b, "SUB foo.*.baz.> 2\r\n");
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, ">", NULL, "1"), 0);
  expect_buf(&b, "SUB > 1\r\n");
  cr_assert_eq(asx_nats_encode_unsub(&b, NULL, "1", 0), 0);
  expect_buf(&b, "UNSUB 1\r\n");
  cr_assert_eq(asx_nats_encode_unsub(&b, NULL, "1", 5), 0);
  expect_buf(&b, "UNSUB 1 5\r\n");
  cr_assert_eq(asx_nats_encode_unsub(&b, NULL, "1", UINT64_MAX), 0);
  expect_buf(&b, "UNSUB 1 18446744073709551615\r\n");
  cr_assert_eq(asx_nats_encode_ping(&b), 0);
  expect_buf(&b, "PING\r\n");
  cr_assert_eq(asx_nats_encode_pong(&b), 0);
  expect_buf(&b, "PONG\r\n");
  asx_buf_free(&b);
}

Test(nats_encode, connect_json) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_nats_connect_opts o;
  asx_nats_connect_opts_default(&o);
  o.headers = false;
  o.no_responders = false;
  o.name = "";
  o.lang = "go";
  o.version = "1.2.2";
  cr_assert_eq(asx_nats_encode_connect(&b, &o), 0);
  /* The Go client example from the documentation, plus the echo field we always send. */
  expect_buf(&b, "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"\","
                 "\"lang\":\"go\",\"version\":\"1.2.2\",\"protocol\":1,\"echo\":true}\r\n");

  asx_nats_connect_opts_default(&o);
  o.verbose = true;
  o.pedantic = true;
  o.tls_required = true;
  o.echo = false;
  o.name = "svc \"a\"\\b";
  o.user = "u\n\t\x01";
  o.pass = "p\xc3\xa9/\xf0\x9f\x98\x80";
  o.auth_token = "tok";
  o.jwt = "eyJ";
  o.nkey = "UAB";
  o.sig = "c2ln";
  cr_assert_eq(asx_nats_encode_connect(&b, &o), 0);
  expect_buf(&b, "CONNECT {\"verbose\":true,\"pedantic\":true,\"tls_required\":true,"
                 "\"name\":\"svc \\\"a\\\"\\\\b\",\"lang\":\"C\",\"version\":\"0.1.0\",\"protocol\":1,"
                 "\"echo\":false,\"headers\":true,\"no_responders\":true,\"user\":\"u\\n\\t\\u0001\","
                 "\"pass\":\"p\xc3\xa9/\xf0\x9f\x98\x80\",\"auth_token\":\"tok\",\"jwt\":\"eyJ\","
                 "\"nkey\":\"UAB\",\"sig\":\"c2ln\"}\r\n");

  /* The CONNECT JSON is itself valid for our strict reader (round trip through the parser). */
  cr_assert_eq(asx_nats_encode_connect(&b, &o), 0);
  asx_nats_server_info info;
  char err[128];
  asx_slice json = {b.data + 8, b.len - 10};
  cr_assert_eq(asx_nats_info_parse(&info, json, NULL, NULL, err, sizeof err), 0, "%s", err);
  cr_assert(info.headers);
  asx_nats_server_info_free(&info);
  asx_buf_reset(&b);

  asx_nats_connect_opts_default(&o);
  o.protocol = 2;
  cr_assert_eq(asx_nats_encode_connect(&b, &o), ASX_EINVAL);
  asx_nats_connect_opts_default(&o);
  o.headers = false; /* no_responders needs headers */
  cr_assert_eq(asx_nats_encode_connect(&b, &o), ASX_EINVAL);
  asx_nats_connect_opts_default(&o);
  o.user = "bad\xc3";
  cr_assert_eq(asx_nats_encode_connect(&b, &o), ASX_EINVAL);
  o.user = "\xed\xa0\x80"; /* a UTF-8 encoded surrogate */
  cr_assert_eq(asx_nats_encode_connect(&b, &o), ASX_EINVAL);
  o.user = "\xc0\xaf"; /* overlong */
  cr_assert_eq(asx_nats_encode_connect(&b, &o), ASX_EINVAL);
  cr_assert_eq(b.len, 0);
  asx_buf_free(&b);
}

typedef struct subject_case {
  const char *s;
  bool literal_ok;  /* PUB subject / reply */
  bool wildcard_ok; /* SUB subject */
} subject_case;

Test(nats_encode, subject_validation_table) {
  static const subject_case cases[] = {
      {"FOO", true, true},
      {"foo.bar", true, true},
      {"FOO.BAR.BAZ", true, true},
      {"_INBOX.abc123.1", true, true},
      {"a-b_c$d", true, true},
      {"caf\xc3\xa9.menu", true, true},
      {"", false, false},
      {".", false, false},
      {".foo", false, false},
      {"foo.", false, false},
      {"foo..bar", false, false},
      {"FOO. BAR", false, false},
      {"foo bar", false, false},
      {"foo\tbar", false, false},
      {"foo\r\nbar", false, false},
      {"foo\x7f", false, false},
      {"*", false, true},
      {">", false, true},
      {"foo.*", false, true},
      {"foo.*.baz", false, true},
      {"foo.>", false, true},
      {"*.*.>", false, true},
      {"foo.>.bar", false, false},
      {">.foo", false, false},
      {"foo*", false, false},
      {"foo*.bar", false, false},
      {"f*o.b*r", false, false},
      {"foo>", false, false},
      {"foo.>>", false, false},
      {"foo.**", false, false},
  };
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const subject_case *c = &cases[i];
    size_t n = strlen(c->s);
    cr_assert_eq(asx_nats_subject_valid(c->s, n, 0), c->literal_ok, "literal '%s'", c->s);
    cr_assert_eq(asx_nats_subject_valid(c->s, n, ASX_NATS_SUBJECT_WILDCARDS), c->wildcard_ok,
                 "wildcard '%s'", c->s);
    cr_assert_eq(asx_nats_encode_pub(&b, NULL, c->s, NULL, "x", 1), c->literal_ok ? 0 : ASX_EINVAL,
                 "PUB '%s'", c->s);
    cr_assert_eq(asx_nats_encode_pub(&b, NULL, "ok", c->s, "x", 1), c->literal_ok ? 0 : ASX_EINVAL,
                 "PUB reply '%s'", c->s);
    cr_assert_eq(asx_nats_encode_sub(&b, NULL, c->s, NULL, "1"), c->wildcard_ok ? 0 : ASX_EINVAL,
                 "SUB '%s'", c->s);
    asx_buf_reset(&b);
  }
  cr_assert_not(asx_nats_subject_valid(NULL, 0, 0));
  /* Queue groups and sids: any visible bytes (dots allowed), no blanks or controls. */
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", "workers.eu", "1"), 0);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", "", "1"), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", "a b", "1"), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", "a\tb", "1"), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", NULL, ""), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", NULL, "1 2"), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_sub(&b, NULL, "foo", NULL, NULL), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_unsub(&b, NULL, "a\r\n", 0), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_pub(&b, NULL, NULL, NULL, "x", 1), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_pub(&b, NULL, "foo", NULL, NULL, 1), ASX_EINVAL);
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "foo", NULL, NULL, "x", 1), ASX_EINVAL);
  size_t sub_len = strlen("SUB foo workers.eu 1\r\n");
  cr_assert_eq(b.len, sub_len, "failed encoders must not write");
  asx_buf_free(&b);
}

Test(nats_encode, header_builder_rules) {
  asx_nats_hdr h;
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "", "x"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_add(&h, "A:B", "x"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_add(&h, "A B", "x"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_add(&h, "A\x7f", "x"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_add(&h, "A", "x\r\ny"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_add(&h, "A", " x"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_add(&h, "A", "x\t"), ASX_EINVAL);
  cr_assert_eq(asx_nats_hdr_block_len(&h), 12);
  cr_assert_eq(asx_nats_hdr_add(&h, "Empty", ""), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "Mixed-Case", "a b:c"), 0);
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "s", NULL, &h, "p", 1), 0);
  expect_buf(&b, "HPUB s 40 41\r\nNATS/1.0\r\nEmpty: \r\nMixed-Case: a b:c\r\n\r\np\r\n");
  asx_nats_hdr_free(&h);
  asx_buf_free(&b);
}

/* What HPUB writes must parse back as the same HMSG (the server only swaps PUB for MSG + sid). */
Test(nats_encode, hpub_round_trips_through_the_parser) {
  asx_nats_hdr h;
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "K", "v1"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "K", "v2"), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "Other", "x y"), 0);
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_buf_append_str(&b, "H"), 0);
  cr_assert_eq(asx_nats_encode_hpub(&b, NULL, "sub.j", "rep.ly", &h, "body", 4), 0);
  /* "HHPUB sub.j ..." -> "HMSG sub.j 7 ..." */
  char *wire = malloc(b.len + 8);
  size_t rest = b.len - 11; /* after "HHPUB sub.j" */
  memcpy(wire, "HMSG sub.j 7", 12);
  memcpy(wire + 12, b.data + 11, rest);
  wire[12 + rest] = '\0';
  asx_nats_parser *p = NULL;
  cr_assert_eq(asx_nats_parser_new(&p, NULL, NULL), 0);
  asx_nats_event ev = nt_parse_one(p, wire);
  cr_assert(nt_eq(ev.subject, "sub.j"));
  cr_assert(nt_eq(ev.reply, "rep.ly"));
  cr_assert(nt_eq(ev.payload, "body"));
  asx_slice v;
  cr_assert_eq(asx_nats_hdr_count(ev.header_block, "K"), 2);
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "K", 1, &v), 0);
  cr_assert(nt_eq(v, "v2"));
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "Other", 0, &v), 0);
  cr_assert(nt_eq(v, "x y"));
  asx_nats_parser_free(p);
  free(wire);
  asx_buf_free(&b);
  asx_nats_hdr_free(&h);
}

Test(nats_encode, payload_and_control_line_limits) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  lim.max_payload = 100;
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  char payload[101] = {0};
  cr_assert_eq(asx_nats_encode_pub(&b, &lim, "s", NULL, payload, 99), 0);
  cr_assert_eq(asx_nats_encode_pub(&b, &lim, "s", NULL, payload, 100), 0);
  size_t before = b.len;
  cr_assert_eq(asx_nats_encode_pub(&b, &lim, "s", NULL, payload, 101), ASX_ELIMIT);
  cr_assert_eq(b.len, before);
  /* HPUB: header + payload against max_payload, header against max_header_block. */
  asx_nats_hdr h;
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 0), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "A", "b"), 0); /* block of 18 bytes */
  cr_assert_eq(asx_nats_encode_hpub(&b, &lim, "s", NULL, &h, payload, 82), 0);
  cr_assert_eq(asx_nats_encode_hpub(&b, &lim, "s", NULL, &h, payload, 83), ASX_ELIMIT);
  lim.max_header_block = 17;
  cr_assert_eq(asx_nats_encode_hpub(&b, &lim, "s", NULL, &h, payload, 1), ASX_ELIMIT);
  lim.max_header_block = 18;
  cr_assert_eq(asx_nats_encode_hpub(&b, &lim, "s", NULL, &h, payload, 1), 0);
  asx_nats_hdr_free(&h);

  /* Control line: "SUB <subject> 1" of exactly max-1 / max / max+1 bytes. */
  asx_nats_limits_default(&lim);
  for (size_t line = 4095; line <= 4097; line++) {
    size_t n = line - 6;
    char *subj = malloc(n + 1);
    memset(subj, 'a', n);
    subj[n] = '\0';
    asx_buf_reset(&b);
    cr_assert_eq(asx_nats_encode_sub(&b, &lim, subj, NULL, "1"), line <= 4096 ? 0 : ASX_ELIMIT);
    if (line <= 4096) cr_assert_eq(b.len, line + 2);
    /* PUB line "PUB <subject> 0" has the same length. */
    asx_buf_reset(&b);
    cr_assert_eq(asx_nats_encode_pub(&b, &lim, subj, NULL, NULL, 0), line <= 4096 ? 0 : ASX_ELIMIT);
    free(subj);
  }
  asx_buf_free(&b);

  /* A builder's own cap. */
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 19), 0);
  cr_assert_eq(asx_nats_hdr_add(&h, "AB", "cd"), ASX_ELIMIT);
  cr_assert_eq(asx_nats_hdr_add(&h, "A", "b"), 0);
  cr_assert_eq(asx_nats_hdr_block_len(&h), 18);
  asx_nats_hdr_free(&h);
  cr_assert_eq(asx_nats_hdr_init(&h, NULL, 11), ASX_EINVAL);
}

Test(nats_encode, output_buffer_cap_leaves_nothing_half_written) {
  asx_buf b;
  asx_buf_init(&b, NULL, 20);
  cr_assert_eq(asx_nats_encode_ping(&b), 0);
  size_t before = b.len;
  cr_assert_eq(asx_nats_encode_pub(&b, NULL, "subject", NULL, "payload", 7), ASX_ELIMIT);
  cr_assert_eq(b.len, before);
  asx_nats_connect_opts o;
  asx_nats_connect_opts_default(&o);
  cr_assert_eq(asx_nats_encode_connect(&b, &o), ASX_ELIMIT);
  cr_assert_eq(b.len, before);
  asx_buf_free(&b);
}

Test(nats_encode, allocation_failure_at_every_index) {
  for (long k = 0;; k++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    asx_buf b;
    asx_buf_init(&b, &ta.base, 0);
    asx_nats_hdr h;
    int rc = asx_nats_hdr_init(&h, &ta.base, 0);
    if (rc == 0) rc = asx_nats_hdr_add(&h, "Key", "a-rather-long-header-value-to-force-growth-of-the-buffer");
    asx_nats_connect_opts o;
    asx_nats_connect_opts_default(&o);
    o.name = "a-client-name-that-is-long-enough-to-need-more-room-in-the-buffer";
    if (rc == 0) rc = asx_nats_encode_connect(&b, &o);
    if (rc == 0) rc = asx_nats_encode_sub(&b, NULL, "foo.>", "q", "1");
    if (rc == 0) rc = asx_nats_encode_hpub(&b, NULL, "foo.bar", "r", &h, "payload", 7);
    if (rc == 0) rc = asx_nats_encode_pub(&b, NULL, "foo.bar", NULL, "payload", 7);
    if (rc == 0) rc = asx_nats_encode_unsub(&b, NULL, "1", 3);
    if (rc == 0) rc = asx_nats_encode_ping(&b);
    cr_assert(rc == 0 || rc == ASX_ENOMEM, "index %ld: %d", k, rc);
    /* Whatever was written is whole operations only: it parses as a protocol prefix. */
    if (rc == ASX_ENOMEM) cr_assert(b.len == 0 || (b.data[b.len - 2] == '\r' && b.data[b.len - 1] == '\n'));
    asx_nats_hdr_free(&h);
    asx_buf_free(&b);
    cr_assert_eq(ta.live, 0);
    if (rc == 0) break;
  }
}

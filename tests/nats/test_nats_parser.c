/* NATS parser: every operation from the protocol documentation, pipelining and consumed-byte
 * accounting, errors, limits at limit-1 / limit / limit+1, split input at every offset, and
 * allocation failure at every allocation index. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/nats.h"
#include "nats_testutil.h"
#include "test_alloc.h"

TestSuite(nats_parser, .timeout = 60);

static asx_nats_parser *new_parser(const asx_nats_limits *lim) {
  asx_nats_parser *p = NULL;
  cr_assert_eq(asx_nats_parser_new(&p, lim, NULL), 0);
  return p;
}

static int feed_str(asx_nats_parser *p, const char *s, asx_nats_event *ev, size_t *used) {
  return asx_nats_parser_feed(p, (const uint8_t *)s, strlen(s), used, ev);
}

Test(nats_parser, info_from_doc) {
  asx_nats_parser *p = new_parser(NULL);
  const char *json = "{\"server_id\":\"Zk0GQ3JBSrg3oyxCRRlE09\",\"version\":\"1.2.0\",\"proto\":1,"
                     "\"go\":\"go1.10.3\",\"host\":\"0.0.0.0\",\"port\":4222,\"max_payload\":1048576,"
                     "\"client_id\":2392}";
  char wire[512];
  snprintf(wire, sizeof wire, "INFO %s\r\n", json);
  asx_nats_event ev = nt_parse_one(p, wire);
  cr_assert_eq(ev.op, ASX_NATS_OP_INFO);
  cr_assert(nt_eq(ev.info_json, json));
  asx_nats_parser_free(p);
}

Test(nats_parser, msg_from_doc) {
  asx_nats_parser *p = new_parser(NULL);
  asx_nats_event ev = nt_parse_one(p, "MSG FOO.BAR 9 11\r\nHello World\r\n");
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert(nt_eq(ev.subject, "FOO.BAR"));
  cr_assert(nt_eq(ev.sid, "9"));
  cr_assert_eq(ev.reply.len, 0);
  cr_assert(nt_eq(ev.payload, "Hello World"));
  cr_assert_eq(ev.header_block.len, 0);
  ev = nt_parse_one(p, "MSG FOO.BAR 9 INBOX.34 11\r\nHello World\r\n");
  cr_assert(nt_eq(ev.reply, "INBOX.34"));
  cr_assert(nt_eq(ev.payload, "Hello World"));
  ev = nt_parse_one(p, "MSG NOTIFY 1 0\r\n\r\n");
  cr_assert_eq(ev.payload.len, 0);
  asx_nats_parser_free(p);
}

Test(nats_parser, hmsg_from_doc_and_adr4) {
  asx_nats_parser *p = new_parser(NULL);
  /* The documentation's first HMSG example omits the sid; this is it with sid 9. */
  asx_nats_event ev =
      nt_parse_one(p, "HMSG FOO.BAR 9 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n");
  cr_assert_eq(ev.op, ASX_NATS_OP_HMSG);
  cr_assert(nt_eq(ev.subject, "FOO.BAR"));
  cr_assert(nt_eq(ev.payload, "Hello World"));
  cr_assert(nt_eq(ev.header_block, "NATS/1.0\r\nFoodGroup: vegetable\r\n\r\n"));
  cr_assert_eq(ev.status, 0);
  asx_slice v;
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "FoodGroup", 0, &v), 0);
  cr_assert(nt_eq(v, "vegetable"));
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "foodgroup", 0, &v), ASX_ENOTFOUND);

  ev = nt_parse_one(p, "HMSG FOO.BAR 9 INBOX.69 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n");
  cr_assert(nt_eq(ev.reply, "INBOX.69"));

  ev = nt_parse_one(p, "HMSG SUBJECT 1 REPLY 48 55\r\nNATS/1.0\r\nHeader1: X\r\nHeader1: Y\r\nHeader2: Z\r\n\r\nPAYLOAD\r\n");
  cr_assert_eq(asx_nats_hdr_count(ev.header_block, "Header1"), 2);
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "Header1", 1, &v), 0);
  cr_assert(nt_eq(v, "Y"));
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "Header1", 2, &v), ASX_ENOTFOUND);
  asx_nats_hdr_iter it;
  asx_slice name, value;
  const char *want[][2] = {{"Header1", "X"}, {"Header1", "Y"}, {"Header2", "Z"}};
  asx_nats_hdr_iter_init(&it, ev.header_block);
  for (int i = 0; i < 3; i++) {
    cr_assert(asx_nats_hdr_next(&it, &name, &value));
    cr_assert(nt_eq(name, want[i][0]));
    cr_assert(nt_eq(value, want[i][1]));
  }
  cr_assert_not(asx_nats_hdr_next(&it, &name, &value));
  cr_assert(nt_eq(ev.payload, "PAYLOAD"));

  ev = nt_parse_one(p, "HMSG SUBJECT 1 REPLY 23 23\r\nNATS/1.0\r\nHeader: X\r\n\r\n\r\n");
  cr_assert_eq(ev.payload.len, 0);
  asx_nats_parser_free(p);
}

Test(nats_parser, hmsg_status_503_no_responders) {
  asx_nats_parser *p = new_parser(NULL);
  asx_nats_event ev = nt_parse_one(p, "HMSG _INBOX.abc.1 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  cr_assert_eq(ev.op, ASX_NATS_OP_HMSG);
  cr_assert_eq(ev.status, 503);
  cr_assert_eq(ev.status_text.len, 0);
  cr_assert_eq(ev.payload.len, 0);
  asx_nats_hdr_iter it;
  asx_slice n, v;
  asx_nats_hdr_iter_init(&it, ev.header_block);
  cr_assert_not(asx_nats_hdr_next(&it, &n, &v));

  const char *blk = "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n";
  char wire[256];
  snprintf(wire, sizeof wire, "HMSG a 1 %zu %zu\r\n%s\r\n", strlen(blk), strlen(blk), blk);
  ev = nt_parse_one(p, wire);
  cr_assert_eq(ev.status, 408);
  cr_assert(nt_eq(ev.status_text, "Request Timeout"));
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "Nats-Pending-Messages", 0, &v), 0);
  cr_assert(nt_eq(v, "1"));
  asx_nats_parser_free(p);
}

Test(nats_parser, header_values_are_trimmed_and_may_be_empty) {
  asx_nats_parser *p = new_parser(NULL);
  const char *blk = "NATS/1.0\r\nA:\t  spaced  \t\r\nB:\r\nC:x:y\r\n\r\n";
  char wire[256];
  snprintf(wire, sizeof wire, "HMSG a 1 %zu %zu\r\n%sP\r\n", strlen(blk), strlen(blk) + 1, blk);
  asx_nats_event ev = nt_parse_one(p, wire);
  asx_slice v;
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "A", 0, &v), 0);
  cr_assert(nt_eq(v, "spaced"));
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "B", 0, &v), 0);
  cr_assert_eq(v.len, 0);
  cr_assert_eq(asx_nats_hdr_get(ev.header_block, "C", 0, &v), 0);
  cr_assert(nt_eq(v, "x:y"));
  asx_nats_parser_free(p);
}

Test(nats_parser, ping_pong_ok_err) {
  asx_nats_parser *p = new_parser(NULL);
  cr_assert_eq(nt_parse_one(p, "PING\r\n").op, ASX_NATS_OP_PING);
  cr_assert_eq(nt_parse_one(p, "PONG\r\n").op, ASX_NATS_OP_PONG);
  cr_assert_eq(nt_parse_one(p, "+OK\r\n").op, ASX_NATS_OP_OK);
  asx_nats_event ev = nt_parse_one(p, "-ERR 'Stale Connection'\r\n");
  cr_assert_eq(ev.op, ASX_NATS_OP_ERR);
  cr_assert(nt_eq(ev.err_text, "Stale Connection"));
  ev = nt_parse_one(p, "-ERR 'Permissions Violation for Publish to foo'\r\n");
  cr_assert(nt_eq(ev.err_text, "Permissions Violation for Publish to foo"));
  ev = nt_parse_one(p, "-ERR unquoted text \r\n");
  cr_assert(nt_eq(ev.err_text, "unquoted text"));
  ev = nt_parse_one(p, "-ERR\r\n");
  cr_assert_eq(ev.err_text.len, 0);
  asx_nats_parser_free(p);
}

Test(nats_parser, case_insensitive_ops_and_blank_separators) {
  asx_nats_parser *p = new_parser(NULL);
  cr_assert_eq(nt_parse_one(p, "ping\r\n").op, ASX_NATS_OP_PING);
  cr_assert_eq(nt_parse_one(p, "PiNg \t\r\n").op, ASX_NATS_OP_PING);
  cr_assert_eq(nt_parse_one(p, "pong\r\n").op, ASX_NATS_OP_PONG);
  cr_assert_eq(nt_parse_one(p, "+ok\r\n").op, ASX_NATS_OP_OK);
  cr_assert_eq(nt_parse_one(p, "-err 'x'\r\n").op, ASX_NATS_OP_ERR);
  cr_assert_eq(nt_parse_one(p, "info\t{}\r\n").op, ASX_NATS_OP_INFO);
  asx_nats_event ev = nt_parse_one(p, "msg\tfoo.bar \t 7\t\tINBOX.1  3 \t\r\nabc\r\n");
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert(nt_eq(ev.subject, "foo.bar"));
  cr_assert(nt_eq(ev.sid, "7"));
  cr_assert(nt_eq(ev.reply, "INBOX.1"));
  cr_assert(nt_eq(ev.payload, "abc"));
  ev = nt_parse_one(p, "hMsG a\t1 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  cr_assert_eq(ev.op, ASX_NATS_OP_HMSG);
  asx_nats_parser_free(p);
}

Test(nats_parser, pipelined_ops_one_at_a_time_with_consumed) {
  asx_nats_parser *p = new_parser(NULL);
  const char *wire = "PING\r\nMSG a 1 2\r\nhi\r\nPONG\r\n";
  const uint8_t *d = (const uint8_t *)wire;
  size_t len = strlen(wire), used;
  asx_nats_event ev;
  cr_assert_eq(asx_nats_parser_feed(p, d, len, &used, &ev), 0);
  cr_assert_eq(ev.op, ASX_NATS_OP_PING);
  cr_assert_eq(used, 6);
  d += used, len -= used;
  cr_assert_eq(asx_nats_parser_feed(p, d, len, &used, &ev), 0);
  cr_assert_eq(ev.op, ASX_NATS_OP_MSG);
  cr_assert_eq(used, 15);
  /* A frame that arrives whole is not copied: the payload points into the caller's bytes. */
  cr_assert_eq(ev.payload.ptr, d + 11);
  d += used, len -= used;
  cr_assert_eq(asx_nats_parser_feed(p, d, len, &used, &ev), 0);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG);
  cr_assert_eq(used, 6);
  cr_assert_eq(asx_nats_parser_feed(p, d + used, 0, &used, &ev), ASX_EAGAIN);
  asx_nats_parser_free(p);
}

Test(nats_parser, partial_frame_takes_only_its_own_bytes) {
  asx_nats_parser *p = new_parser(NULL);
  asx_nats_event ev;
  size_t used;
  cr_assert_eq(feed_str(p, "MSG a 1 5\r\nhe", &ev, &used), ASX_EAGAIN);
  cr_assert_eq(used, 13);
  cr_assert_eq(feed_str(p, "llo\r\nPING\r\n", &ev, &used), 0);
  cr_assert_eq(used, 5);
  cr_assert(nt_eq(ev.payload, "hello"));
  cr_assert_eq(feed_str(p, "PING\r\n", &ev, &used), 0);
  cr_assert_eq(ev.op, ASX_NATS_OP_PING);
  /* Control line split inside the CRLF. */
  cr_assert_eq(feed_str(p, "PONG\r", &ev, &used), ASX_EAGAIN);
  cr_assert_eq(feed_str(p, "\n+OK\r\n", &ev, &used), 0);
  cr_assert_eq(used, 1);
  cr_assert_eq(ev.op, ASX_NATS_OP_PONG);
  asx_nats_parser_free(p);
}

typedef struct bad_case {
  const char *wire;
  int code;
} bad_case;

Test(nats_parser, malformed_input_is_a_specific_error) {
  static const bad_case cases[] = {
      {"FOO\r\n", ASX_EPROTO},
      {"\r\n", ASX_EPROTO},
      {" PING\r\n", ASX_EPROTO},
      {"PING\n", ASX_EPROTO},
      {"PI\rNG\r\n", ASX_EPROTO},
      {"PING x\r\n", ASX_EPROTO},
      {"+OK x\r\n", ASX_EPROTO},
      {"INFO\r\n", ASX_EPROTO},
      {"INFO   \r\n", ASX_EPROTO},
      {"INFO{}\r\n", ASX_EPROTO},
      {"MSG foo 1\r\n", ASX_EPROTO},
      {"MSG foo 1 a b 5\r\n", ASX_EPROTO},
      {"MSG foo 1 x\r\n", ASX_EPROTO},
      {"MSG foo 1 -1\r\n", ASX_EPROTO},
      {"MSG foo 1 +1\r\n", ASX_EPROTO},
      {"MSG foo 1 3\r\nabcX\n", ASX_EPROTO},
      {"MSG foo 1 3\r\nabc\n\r", ASX_EPROTO},
      {"MSG foo..bar 1 0\r\n\r\n", ASX_EPROTO},
      {"MSG .foo 1 0\r\n\r\n", ASX_EPROTO},
      {"MSG foo.* 1 0\r\n\r\n", ASX_EPROTO},
      {"MSG foo 1 bad..reply 0\r\n\r\n", ASX_EPROTO},
      {"MSG foo \x01 0\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 12\r\n", ASX_EPROTO},
      {"HMSG foo 1 20 10\r\n", ASX_EPROTO},
      {"HMSG foo 1 11 11\r\n", ASX_EPROTO},
      {"HMSG foo 1 12 12\r\nNATS/2.0\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 12 12\r\nnats/1.0\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 16 16\r\nNATS/1.0 5x3\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 16 16\r\nNATS/1.0 050\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 17 17\r\nNATS/1.0 5033\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 15 15\r\nNATS/1.0 50\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 13 13\r\nNATS/1.0x\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 16 16\r\nNATS/1.0\r\nAB\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 17 17\r\nNATS/1.0\r\n:AB\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 20 20\r\nNATS/1.0\r\nA B: x\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 22 22\r\nNATS/1.0\r\nA: x\r\n y\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 19 19\r\nNATS/1.0\r\nA: \rx\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 20 20\r\nNATS/1.0\r\n\r\nA: x\r\n\r\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 13 13\r\nNATS/1.0\r\n\r\n\n\r\n", ASX_EPROTO},
      {"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nabXY", ASX_EPROTO},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    asx_nats_parser *p = new_parser(NULL);
    asx_nats_event ev;
    size_t used;
    int rc = feed_str(p, cases[i].wire, &ev, &used);
    cr_assert_eq(rc, cases[i].code, "case %zu (%s): got %d", i, cases[i].wire, rc);
    cr_assert_neq(asx_nats_parser_error_message(p)[0], '\0', "case %zu has no message", i);
    cr_assert_eq(ev.op, ASX_NATS_OP_NONE);
    asx_nats_parser_free(p);
  }
}

Test(nats_parser, events_before_an_error_are_kept_and_error_is_sticky) {
  asx_nats_parser *p = new_parser(NULL);
  asx_nats_event ev;
  size_t used;
  const char *wire = "PING\r\nBOGUS\r\nPONG\r\n";
  cr_assert_eq(feed_str(p, wire, &ev, &used), 0);
  cr_assert_eq(ev.op, ASX_NATS_OP_PING);
  cr_assert_eq(feed_str(p, wire + used, &ev, &used), ASX_EPROTO);
  cr_assert_str_eq(asx_nats_parser_error_message(p), "unknown protocol operation");
  cr_assert_eq(feed_str(p, "PONG\r\n", &ev, &used), ASX_EPROTO);
  cr_assert_eq(used, 0);
  asx_nats_parser_reset(p);
  cr_assert_eq(nt_parse_one(p, "PONG\r\n").op, ASX_NATS_OP_PONG);
  asx_nats_parser_free(p);
}

/* ---- limits ---- */

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* "-ERR xxx..." with a control line of exactly `n` bytes (CRLF not counted). */
static char *err_line(size_t n) {
  char *s = repeat('x', n + 2);
  memcpy(s, "-ERR ", 5);
  s[n] = '\r';
  s[n + 1] = '\n';
  return s;
}

static int parse_status(asx_nats_parser *p, const char *wire, size_t len) {
  asx_buf log;
  asx_buf_init(&log, NULL, 0);
  int rc = nt_feed_whole(p, (const uint8_t *)wire, len, &log);
  asx_buf_free(&log);
  return rc;
}

Test(nats_parser, control_line_limit_boundaries) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  cr_assert_eq(lim.max_control_line, 4096);
  size_t sizes[] = {4095, 4096, 4097};
  int want[] = {ASX_EAGAIN, ASX_EAGAIN, ASX_ELIMIT};
  for (int i = 0; i < 3; i++) {
    char *line = err_line(sizes[i]);
    /* Whole, and one byte at a time (the limit must hold while buffering too). */
    asx_nats_parser *p = new_parser(NULL);
    cr_assert_eq(parse_status(p, line, sizes[i] + 2), want[i], "size %zu", sizes[i]);
    asx_nats_parser_free(p);
    p = new_parser(NULL);
    int rc = ASX_EAGAIN;
    size_t used;
    asx_nats_event ev;
    size_t k = 0, events = 0;
    for (; k < sizes[i] + 2; k++) {
      rc = asx_nats_parser_feed(p, (const uint8_t *)line + k, 1, &used, &ev);
      if (rc == 0) events++;
      else if (rc != ASX_EAGAIN) break;
    }
    if (want[i] == ASX_ELIMIT) {
      cr_assert_eq(rc, ASX_ELIMIT);
      /* Refused as soon as limit + 2 bytes arrived without a line feed. */
      cr_assert_eq(k, sizes[i]);
    } else {
      cr_assert_eq(events, 1);
    }
    asx_nats_parser_free(p);
    free(line);
  }
  /* Without a line end at all, the parser gives up after limit + 2 bytes. */
  char *junk = repeat('A', 4097);
  asx_nats_parser *p = new_parser(NULL);
  cr_assert_eq(parse_status(p, junk, 4097), ASX_EAGAIN);
  cr_assert_eq(parse_status(p, "A", 1), ASX_ELIMIT);
  asx_nats_parser_free(p);
  free(junk);
}

/* MSG with a payload of n bytes. */
static char *msg_with_payload(size_t n, size_t *len) {
  char head[64];
  int h = snprintf(head, sizeof head, "MSG s 1 %zu\r\n", n);
  char *s = malloc((size_t)h + n + 2);
  memcpy(s, head, (size_t)h);
  memset(s + h, 'p', n);
  memcpy(s + h + n, "\r\n", 2);
  *len = (size_t)h + n + 2;
  return s;
}

Test(nats_parser, payload_limit_boundaries) {
  size_t max = (size_t)1 << 20;
  int want[] = {ASX_EAGAIN, ASX_EAGAIN, ASX_ELIMIT};
  for (int i = 0; i < 3; i++) {
    size_t len;
    char *wire = msg_with_payload(max - 1 + (size_t)i, &len);
    asx_nats_parser *p = new_parser(NULL);
    cr_assert_eq(parse_status(p, wire, len), want[i], "payload %zu", max - 1 + (size_t)i);
    if (want[i] == ASX_ELIMIT)
      cr_assert(strstr(asx_nats_parser_error_message(p), "max_payload") != NULL);
    asx_nats_parser_free(p);
    free(wire);
  }
}

Test(nats_parser, server_max_payload_overrides_default) {
  asx_nats_parser *p = new_parser(NULL);
  cr_assert_eq(asx_nats_parser_set_max_payload(p, 0), ASX_EINVAL);
  cr_assert_eq(asx_nats_parser_set_max_payload(p, ASX_NATS_MAX_PAYLOAD_CEILING + 1), ASX_EINVAL);
  cr_assert_eq(asx_nats_parser_limits(p)->max_payload, (size_t)1 << 20);
  cr_assert_eq(asx_nats_parser_set_max_payload(p, 100), 0);
  cr_assert_eq(asx_nats_parser_limits(p)->max_payload, 100);
  for (size_t n = 99; n <= 101; n++) {
    size_t len;
    char *wire = msg_with_payload(n, &len);
    asx_nats_parser_reset(p);
    cr_assert_eq(parse_status(p, wire, len), n <= 100 ? ASX_EAGAIN : ASX_ELIMIT);
    free(wire);
  }
  /* HMSG counts header and payload against max_payload. */
  asx_nats_parser_reset(p);
  cr_assert_eq(parse_status(p, "HMSG a 1 12 101\r\n", 17), ASX_ELIMIT);
  asx_nats_parser_reset(p);
  cr_assert_eq(asx_nats_parser_set_max_payload(p, ASX_NATS_MAX_PAYLOAD_CEILING), 0);
  size_t len;
  char *wire = msg_with_payload(2u << 20, &len);
  cr_assert_eq(parse_status(p, wire, len), ASX_EAGAIN);
  free(wire);
  asx_nats_parser_free(p);
}

/* An HMSG whose header block is exactly n bytes (n >= 17). */
static char *hmsg_with_block(size_t n, size_t *len) {
  size_t v = n - 17;
  char *blk = malloc(n + 1);
  memcpy(blk, "NATS/1.0\r\nK: ", 13);
  memset(blk + 13, 'v', v);
  memcpy(blk + 13 + v, "\r\n\r\n", 4);
  blk[n] = '\0';
  char *s = malloc(n + 64);
  *len = (size_t)snprintf(s, n + 64, "HMSG a 1 %zu %zu\r\n%s\r\n", n, n, blk);
  free(blk);
  return s;
}

Test(nats_parser, header_block_limit_boundaries) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  cr_assert_eq(lim.max_header_block, 65536);
  lim.max_header_block = 64;
  for (size_t n = 63; n <= 65; n++) {
    size_t len;
    char *wire = hmsg_with_block(n, &len);
    asx_nats_parser *p = new_parser(&lim);
    cr_assert_eq(parse_status(p, wire, len), n <= 64 ? ASX_EAGAIN : ASX_ELIMIT, "block %zu", n);
    asx_nats_parser_free(p);
    free(wire);
  }
  /* The default limit too. */
  asx_nats_limits_default(&lim);
  for (size_t n = 65535; n <= 65537; n++) {
    size_t len;
    char *wire = hmsg_with_block(n, &len);
    asx_nats_parser *p = new_parser(&lim);
    cr_assert_eq(parse_status(p, wire, len), n <= 65536 ? ASX_EAGAIN : ASX_ELIMIT, "block %zu", n);
    asx_nats_parser_free(p);
    free(wire);
  }
}

Test(nats_parser, bad_limits_are_refused) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  lim.max_payload = 0;
  asx_nats_parser *p = (asx_nats_parser *)1;
  cr_assert_eq(asx_nats_parser_new(&p, &lim, NULL), ASX_EINVAL);
  cr_assert_null(p);
  asx_nats_limits_default(&lim);
  lim.max_payload = ASX_NATS_MAX_PAYLOAD_CEILING + 1;
  cr_assert_eq(asx_nats_parser_new(&p, &lim, NULL), ASX_EINVAL);
}

/* ---- split input ---- */

static const char composite[] =
    "INFO {\"server_id\":\"S\",\"max_payload\":1048576,\"headers\":true}\r\n"
    "+OK\r\n"
    "MSG FOO.BAR 9 11\r\nHello World\r\n"
    "msg FOO.BAR 9 INBOX.34 11\r\nHello\r\nWorl\r\n"
    "HMSG FOO.BAR 9 INBOX.69 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n"
    "HMSG _INBOX.x 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "PING\r\nPONG\r\n"
    "MSG empty 3 0\r\n\r\n"
    "-ERR 'Stale Connection'\r\n"
    "MSG tail 1 4\r\nab";

static void check_every_split(const char *wire, size_t len) {
  asx_buf whole;
  asx_buf_init(&whole, NULL, 0);
  asx_nats_parser *p = new_parser(NULL);
  int want = nt_feed_whole(p, (const uint8_t *)wire, len, &whole);
  asx_nats_parser_free(p);
  for (size_t cut = 0; cut <= len; cut++) {
    asx_buf log;
    asx_buf_init(&log, NULL, 0);
    p = new_parser(NULL);
    int rc = nt_feed_split(p, (const uint8_t *)wire, len, &cut, 1, &log);
    cr_assert_eq(rc, want, "cut %zu", cut);
    cr_assert_eq(log.len, whole.len, "cut %zu", cut);
    cr_assert(memcmp(log.data, whole.data, whole.len) == 0, "cut %zu", cut);
    asx_nats_parser_free(p);
    asx_buf_free(&log);
  }
  /* One byte at a time. */
  size_t *cuts = malloc(len * sizeof *cuts);
  for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
  asx_buf log;
  asx_buf_init(&log, NULL, 0);
  p = new_parser(NULL);
  cr_assert_eq(nt_feed_split(p, (const uint8_t *)wire, len, cuts, len, &log), want);
  cr_assert_eq(log.len, whole.len);
  cr_assert(memcmp(log.data, whole.data, whole.len) == 0);
  asx_nats_parser_free(p);
  asx_buf_free(&log);
  free(cuts);
  asx_buf_free(&whole);
}

Test(nats_parser, every_split_gives_the_same_events) {
  check_every_split(composite, strlen(composite));
}

Test(nats_parser, every_pair_of_splits_gives_the_same_events) {
  const char *wire = "MSG a 1 3\r\nabc\r\nHMSG b 2 R 12 14\r\nNATS/1.0\r\n\r\nxy\r\nPING\r\n";
  size_t len = strlen(wire);
  asx_buf whole;
  asx_buf_init(&whole, NULL, 0);
  asx_nats_parser *p = new_parser(NULL);
  cr_assert_eq(nt_feed_whole(p, (const uint8_t *)wire, len, &whole), ASX_EAGAIN);
  asx_nats_parser_free(p);
  for (size_t a = 0; a <= len; a++) {
    for (size_t b = a; b <= len; b++) {
      size_t cuts[2] = {a, b};
      asx_buf log;
      asx_buf_init(&log, NULL, 0);
      p = new_parser(NULL);
      cr_assert_eq(nt_feed_split(p, (const uint8_t *)wire, len, cuts, 2, &log), ASX_EAGAIN);
      cr_assert(log.len == whole.len && memcmp(log.data, whole.data, whole.len) == 0,
                "cuts %zu %zu", a, b);
      asx_nats_parser_free(p);
      asx_buf_free(&log);
    }
  }
  asx_buf_free(&whole);
}

Test(nats_parser, every_split_of_bad_input_gives_the_same_error) {
  const char *bad[] = {
      "PING\r\nMSG foo 1 3\r\nabcX\r\nPONG\r\n",
      "PONG\r\nHMSG foo 1 13 13\r\nNATS/1.0\r\nAB\r\n\r\n",
      "+OK\r\nMSG foo 1 99999999\r\n",
      "PING\r\nNOPE\r\n",
      "PING\r\nPING\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) check_every_split(bad[i], strlen(bad[i]));
  /* An oversized control line in the middle of a stream. */
  char *line = err_line(4097);
  char *wire = malloc(4097 + 2 + 7);
  memcpy(wire, "PING\r\n", 6);
  memcpy(wire + 6, line, 4099);
  check_every_split(wire, 4105);
  free(wire);
  free(line);
}

/* ---- allocation failure ---- */

Test(nats_parser, allocation_failure_at_every_index_loses_nothing) {
  size_t len = strlen(composite);
  asx_buf want;
  asx_buf_init(&want, NULL, 0);
  asx_nats_parser *p = new_parser(NULL);
  nt_feed_whole(p, (const uint8_t *)composite, len, &want);
  asx_nats_parser_free(p);

  /* Chunks of 7 bytes force buffering (and buffer growth) across feeds. */
  for (long k = 0;; k++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    p = NULL;
    int rc = asx_nats_parser_new(&p, NULL, &ta.base);
    if (rc == ASX_ENOMEM) {
      cr_assert_null(p);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    cr_assert_eq(rc, 0);
    asx_buf log;
    asx_buf_init(&log, NULL, 0);
    bool failed = false;
    size_t off = 0;
    while (off < len) {
      size_t chunk = len - off < 7 ? len - off : 7;
      asx_nats_event ev;
      size_t used;
      rc = asx_nats_parser_feed(p, (const uint8_t *)composite + off, chunk, &used, &ev);
      off += used;
      if (rc == ASX_ENOMEM) {
        failed = true;
        cr_assert_neq(asx_nats_parser_error_message(p)[0], '\0');
        test_alloc_fail_after(&ta, -1); /* memory is back: retry the same bytes */
        continue;
      }
      if (rc == 0) nt_log_event(&log, &ev);
      else cr_assert_eq(rc, ASX_EAGAIN);
    }
    cr_assert_eq(log.len, want.len, "fail index %ld", k);
    cr_assert(memcmp(log.data, want.data, want.len) == 0, "fail index %ld", k);
    asx_nats_parser_free(p);
    asx_buf_free(&log);
    cr_assert_eq(ta.live, 0);
    if (!failed) break; /* every allocation index has been failed once */
  }
  asx_buf_free(&want);
}

Test(nats_parser, every_doc_example_split_everywhere) {
  const char *examples[] = {
      ("INFO {\"server_id\":\"Zk0GQ3JBSrg3oyxCRRlE09\",\"version\":\"1.2.0\",\"proto\":1,\"go\":\"go1.10.3\","
       "\"host\":\"0.0.0.0\",\"port\":4222,\"max_payload\":1048576,\"client_id\":2392}\r\n"),
      "MSG FOO.BAR 9 11\r\nHello World\r\n",
      "MSG FOO.BAR 9 INBOX.34 11\r\nHello World\r\n",
      "HMSG FOO.BAR 9 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n",
      "HMSG FOO.BAR 9 INBOX.69 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n",
      "HMSG SUBJECT 1 REPLY 48 48\r\nNATS/1.0\r\nHeader1: X\r\nHeader1: Y\r\nHeader2: Z\r\n\r\n\r\n",
      "PING\r\n", "PONG\r\n", "+OK\r\n", "-ERR 'Authorization Violation'\r\n",
  };
  for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
    asx_nats_parser *p = new_parser(NULL);
    asx_buf log;
    asx_buf_init(&log, NULL, 0);
    cr_assert_eq(nt_feed_whole(p, (const uint8_t *)examples[i], strlen(examples[i]), &log), ASX_EAGAIN);
    cr_assert_gt(log.len, 0, "example %zu produced no event", i);
    asx_buf_free(&log);
    asx_nats_parser_free(p);
    check_every_split(examples[i], strlen(examples[i]));
  }
}

Test(nats_parser, invalid_arguments) {
  asx_nats_parser *p = new_parser(NULL);
  asx_nats_event ev;
  size_t used = 99;
  cr_assert_eq(asx_nats_parser_new(NULL, NULL, NULL), ASX_EINVAL);
  cr_assert_eq(asx_nats_parser_feed(p, (const uint8_t *)"PING\r\n", 6, &used, NULL), ASX_EINVAL);
  cr_assert_eq(used, 0);
  cr_assert_eq(asx_nats_parser_feed(p, NULL, 6, &used, &ev), ASX_EINVAL);
  cr_assert_eq(asx_nats_parser_feed(p, NULL, 0, &used, &ev), ASX_EAGAIN);
  /* consumed may be NULL when the caller does not need it. */
  cr_assert_eq(asx_nats_parser_feed(p, (const uint8_t *)"PING\r\n", 6, NULL, &ev), 0);
  cr_assert_eq(ev.op, ASX_NATS_OP_PING);
  asx_nats_parser_free(p);
  asx_nats_parser_free(NULL);
}

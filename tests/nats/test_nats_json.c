/* INFO JSON reader: the fields clients use, unknown fields skipped, every escape (including
 * surrogate pairs), strictness (RFC 8259 grammar, UTF-8, trailing garbage), type checks, limits
 * at limit-1 / limit / limit+1, and allocation failure at every allocation index. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/nats.h"
#include "nats_testutil.h"
#include "test_alloc.h"

TestSuite(nats_json, .timeout = 30);

static int parse_lim(const char *json, size_t len, const asx_nats_limits *lim, asx_nats_server_info *info,
                     char *err, size_t errlen) {
  return asx_nats_info_parse(info, (asx_slice){(const uint8_t *)json, len}, lim, NULL, err, errlen);
}

static int parse(const char *json, asx_nats_server_info *info) {
  char err[160];
  return parse_lim(json, strlen(json), NULL, info, err, sizeof err);
}

/* Parses and frees; returns the code and checks that a failure explains itself. */
static int check(const char *json) {
  asx_nats_server_info info;
  char err[160];
  int rc = parse_lim(json, strlen(json), NULL, &info, err, sizeof err);
  if (rc) {
    cr_assert_neq(err[0], '\0', "no message for %s", json);
    cr_assert_null(info.server_id);
    cr_assert_null(info.connect_urls);
  }
  asx_nats_server_info_free(&info);
  return rc;
}

Test(nats_json, info_from_doc) {
  asx_nats_server_info info;
  cr_assert_eq(parse("{\"server_id\":\"Zk0GQ3JBSrg3oyxCRRlE09\",\"version\":\"1.2.0\",\"proto\":1,"
                     "\"go\":\"go1.10.3\",\"host\":\"0.0.0.0\",\"port\":4222,\"max_payload\":1048576,"
                     "\"client_id\":2392}", &info), 0);
  cr_assert_str_eq(info.server_id, "Zk0GQ3JBSrg3oyxCRRlE09");
  cr_assert_str_eq(info.version, "1.2.0");
  cr_assert_str_eq(info.go, "go1.10.3");
  cr_assert_str_eq(info.host, "0.0.0.0");
  cr_assert_eq(info.proto, 1);
  cr_assert_eq(info.port, 4222);
  cr_assert_eq(info.max_payload, 1048576);
  cr_assert_eq(info.client_id, 2392);
  cr_assert_not(info.headers);
  cr_assert_null(info.nonce);
  cr_assert_eq(info.connect_urls_len, 0);
  asx_nats_server_info_free(&info);
  cr_assert_null(info.server_id);
}

Test(nats_json, info_like_nats_server_2_9) {
  asx_nats_server_info info;
  cr_assert_eq(parse(" {\"server_id\":\"NAB\",\"server_name\":\"n1\",\"version\":\"2.9.10\",\"proto\":1,"
                     "\"git_commit\":\"\",\"go\":\"go1.19.8\",\"host\":\"127.0.0.1\",\"port\":4222,"
                     "\"headers\":true,\"auth_required\":true,\"tls_required\":false,\"tls_verify\":false,"
                     "\"tls_available\":true,\"max_payload\":8388608,\"jetstream\":true,\"client_id\":18446744073709551615,"
                     "\"client_ip\":\"127.0.0.1\",\"nonce\":\"abc-_\",\"cluster\":\"c\",\"domain\":\"d\","
                     "\"connect_urls\":[\"10.0.0.184:4333\",\"192.168.129.1:4333\"],\"ldm\":true,"
                     "\"xkey\":null,\"ws_connect_urls\":[],\"meta\":{\"a\":[1,-2.5e-3,{\"b\":null}],\"c\":{}}}\r\n\t",
                     &info), 0);
  cr_assert_str_eq(info.server_name, "n1");
  cr_assert_str_eq(info.version, "2.9.10");
  cr_assert(info.headers && info.auth_required && info.tls_available && info.jetstream && info.ldm);
  cr_assert_not(info.tls_required || info.tls_verify);
  cr_assert_eq(info.max_payload, 8388608);
  cr_assert_eq(info.client_id, UINT64_MAX);
  cr_assert_str_eq(info.client_ip, "127.0.0.1");
  cr_assert_str_eq(info.nonce, "abc-_");
  cr_assert_str_eq(info.cluster, "c");
  cr_assert_str_eq(info.domain, "d");
  cr_assert_eq(info.connect_urls_len, 2);
  cr_assert_str_eq(info.connect_urls[0], "10.0.0.184:4333");
  cr_assert_str_eq(info.connect_urls[1], "192.168.129.1:4333");
  asx_nats_server_info_free(&info);
}

Test(nats_json, string_escapes_and_utf8) {
  asx_nats_server_info info;
  cr_assert_eq(parse("{\"server_name\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20AC \\ud83d\\ude00 "
                     "raw\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", &info), 0);
  cr_assert_str_eq(info.server_name, "q\" b\\ s/ \b\f\n\r\t \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 "
                                     "raw\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  asx_nats_server_info_free(&info);
  cr_assert_eq(parse("{\"server_name\":\"\"}", &info), 0);
  cr_assert_str_eq(info.server_name, "");
  asx_nats_server_info_free(&info);
  /* U+10FFFF, the highest code point, as a surrogate pair. */
  cr_assert_eq(parse("{\"server_name\":\"\\udbff\\udfff\"}", &info), 0);
  cr_assert_str_eq(info.server_name, "\xf4\x8f\xbf\xbf");
  asx_nats_server_info_free(&info);
}

Test(nats_json, bad_escapes_and_surrogates) {
  const char *bad[] = {
      "{\"server_name\":\"\\ud83d\"}",        /* lone high surrogate */
      "{\"server_name\":\"\\ud83dx\"}",       /* high surrogate then text */
      "{\"server_name\":\"\\ud83d\\u0041\"}", /* high surrogate then non-surrogate */
      "{\"server_name\":\"\\ud83d\\ud83d\"}", /* two highs */
      "{\"server_name\":\"\\ude00\"}",        /* lone low surrogate */
      "{\"server_name\":\"\\ude00\\ud83d\"}", /* reversed pair */
      "{\"server_name\":\"\\u12\"}",          /* truncated */
      "{\"server_name\":\"\\u12g4\"}",        /* bad hex */
      "{\"server_name\":\"\\x41\"}",          /* unknown escape */
      "{\"server_name\":\"\\U0041\"}",
      "{\"server_name\":\"\\'\"}",
      "{\"server_name\":\"a\tb\"}",           /* raw control characters */
      "{\"server_name\":\"a\nb\"}",
      "{\"server_name\":\"\xc3\x28\"}",       /* invalid UTF-8 */
      "{\"server_name\":\"\xc0\xaf\"}",       /* overlong */
      "{\"server_name\":\"\xe0\x80\xaf\"}",   /* overlong, 3 bytes */
      "{\"server_name\":\"\xed\xa0\x80\"}",   /* encoded surrogate */
      "{\"server_name\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
      "{\"server_name\":\"\xff\"}",
      "{\"server_name\":\"\xe2\x82\"}",       /* truncated sequence */
      "{\"server_name\":\"abc",               /* unterminated */
      "{\"server_name\":\"abc\\",
      "{\"server_name\":\"\\u0000\"}",        /* NUL cannot live in a C string field */
      "{\"unknown\":\"\\ud800\"}",            /* unknown fields are validated too */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(check(bad[i]), ASX_EPROTO, "case %zu: %s", i, bad[i]);
  /* A NUL in a field we skip is fine. */
  cr_assert_eq(check("{\"unknown\":\"a\\u0000b\"}"), 0);
}

Test(nats_json, grammar_is_strict) {
  const char *bad[] = {
      "", "   ", "[]", "\"s\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\" 1}", "{\"a\":}", "{a:1}",
      "{'a':1}", "{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{\"a\":[1,]}", "{\"a\":[,1]}",
      "{\"a\":[1 2]}", "{\"a\":[}", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":.5}",
      "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":+1}", "{\"a\":0x10}", "{\"a\":tru}", "{\"a\":True}",
      "{\"a\":nul}", "{\"a\":falsey}", "{} x", "{}{}", "{}\v", "\f{}", "{\"a\":NaN}",
      "{\"a\":Infinity}", "{\"a\":-0.}", "{\"a\":1}}", "{\"a\":[1]]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(check(bad[i]), ASX_EPROTO, "case %zu: '%s'", i, bad[i]);
  const char *good[] = {
      "{}", " \t\r\n{ \t\r\n} \t\r\n", "{\"a\":-0}", "{\"a\":0.5e-10}", "{\"a\":1E+2}",
      "{\"a\":[]}", "{\"a\":[[],{}]}", "{\"\":1}", "{\"a\":true,\"b\":false,\"c\":null}",
      "{\"a-very-long-key-that-does-not-fit-the-key-buffer-at-all\":\"x\"}",
      "{\"a\":123456789012345678901234567890}",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    cr_assert_eq(check(good[i]), 0, "case %zu: '%s'", i, good[i]);
}

Test(nats_json, known_fields_have_types) {
  const char *bad[] = {
      "{\"port\":\"4222\"}", "{\"port\":42.0}", "{\"port\":4e3}", "{\"max_payload\":true}",
      "{\"client_id\":-1}", "{\"client_id\":18446744073709551616}",
      "{\"port\":9223372036854775808}", "{\"port\":-9223372036854775809}",
      "{\"headers\":1}", "{\"headers\":\"true\"}", "{\"server_id\":1}", "{\"server_id\":[]}",
      "{\"connect_urls\":\"a\"}", "{\"connect_urls\":[1]}", "{\"connect_urls\":[\"a\",null]}",
      "{\"connect_urls\":{}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(check(bad[i]), ASX_EPROTO, "case %zu: %s", i, bad[i]);

  asx_nats_server_info info;
  cr_assert_eq(parse("{\"port\":-9223372036854775808,\"proto\":9223372036854775807}", &info), 0);
  cr_assert_eq(info.port, INT64_MIN);
  cr_assert_eq(info.proto, INT64_MAX);
  asx_nats_server_info_free(&info);
  /* null is "absent"; a repeated key replaces the earlier value without leaking it. */
  cr_assert_eq(parse("{\"server_id\":\"a\",\"server_id\":null,\"version\":\"1\",\"version\":\"2\","
                     "\"connect_urls\":[\"x\"],\"connect_urls\":[\"y\",\"z\"],\"headers\":null}", &info), 0);
  cr_assert_str_eq(info.server_id, "a");
  cr_assert_str_eq(info.version, "2");
  cr_assert_eq(info.connect_urls_len, 2);
  cr_assert_str_eq(info.connect_urls[0], "y");
  asx_nats_server_info_free(&info);
}

/* {"x": [[...[0]...]]} with `depth` containers in total, the object included. */
static char *nested(size_t depth) {
  size_t arrays = depth - 1;
  char *s = malloc(2 * arrays + 16);
  size_t n = 0;
  n += (size_t)sprintf(s + n, "{\"x\":");
  for (size_t i = 0; i < arrays; i++) s[n++] = '[';
  s[n++] = '0';
  for (size_t i = 0; i < arrays; i++) s[n++] = ']';
  s[n++] = '}';
  s[n] = '\0';
  return s;
}

Test(nats_json, depth_limit_boundaries) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  cr_assert_eq(lim.max_json_depth, 16);
  for (size_t d = 15; d <= 17; d++) {
    char *s = nested(d);
    asx_nats_server_info info;
    char err[160];
    int rc = parse_lim(s, strlen(s), &lim, &info, err, sizeof err);
    cr_assert_eq(rc, d <= 16 ? 0 : ASX_ELIMIT, "depth %zu", d);
    if (rc) cr_assert(strstr(err, "deep") != NULL, "%s", err);
    asx_nats_server_info_free(&info);
    free(s);
  }
  /* Objects nest the same way, and a deep document cannot exhaust the stack. */
  char *deep = malloc(200001);
  memset(deep, '[', 200000);
  deep[200000] = '\0';
  memcpy(deep, "{\"x\":", 5);
  cr_assert_eq(check(deep), ASX_ELIMIT);
  free(deep);
  lim.max_json_depth = 0;
  asx_nats_server_info info;
  cr_assert_eq(parse_lim("{}", 2, &lim, &info, NULL, 0), ASX_EINVAL);
}

Test(nats_json, length_limit_boundaries) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  cr_assert_eq(lim.max_json_length, 65536);
  lim.max_json_length = 64;
  for (size_t len = 63; len <= 65; len++) {
    /* {"server_id":"xxxx"} plus a trailing space: exactly len bytes */
    char *s = malloc(len + 1);
    size_t v = len - 17;
    memcpy(s, "{\"server_id\":\"", 14);
    memset(s + 14, 'x', v);
    memcpy(s + 14 + v, "\"} ", 3); /* closing quote, brace and one byte of trailing space */
    s[len] = '\0';
    asx_nats_server_info info;
    char err[160];
    cr_assert_eq(parse_lim(s, len, &lim, &info, err, sizeof err), len <= 64 ? 0 : ASX_ELIMIT,
                 "len %zu: %s", len, err);
    if (len <= 64) cr_assert_eq(strlen(info.server_id), v);
    asx_nats_server_info_free(&info);
    free(s);
  }
}

Test(nats_json, connect_urls_limit_boundaries) {
  asx_nats_limits lim;
  asx_nats_limits_default(&lim);
  cr_assert_eq(lim.max_connect_urls, 128);
  for (size_t count = 127; count <= 129; count++) {
    char *s = malloc(count * 8 + 32);
    size_t n = (size_t)sprintf(s, "{\"connect_urls\":[");
    for (size_t i = 0; i < count; i++) n += (size_t)sprintf(s + n, "%s\"h:%zu\"", i ? "," : "", i);
    sprintf(s + n, "]}");
    asx_nats_server_info info;
    char err[160];
    int rc = parse_lim(s, strlen(s), &lim, &info, err, sizeof err);
    cr_assert_eq(rc, count <= 128 ? 0 : ASX_ELIMIT, "count %zu", count);
    if (!rc) {
      cr_assert_eq(info.connect_urls_len, count);
      cr_assert_str_eq(info.connect_urls[count - 1], count == 127 ? "h:126" : "h:127");
    } else {
      cr_assert(strstr(err, "connect_urls") != NULL, "%s", err);
    }
    asx_nats_server_info_free(&info);
    free(s);
  }
}

Test(nats_json, allocation_failure_at_every_index) {
  const char *json = "{\"server_id\":\"id\",\"version\":\"2.9.10\",\"connect_urls\":[\"a:1\",\"b:2\","
                     "\"c:3\",\"d:4\",\"e:5\",\"f:6\"],\"nonce\":\"n\",\"host\":\"\",\"meta\":[{\"x\":\"y\"}]}";
  for (long k = 0;; k++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    asx_nats_server_info info;
    char err[160];
    int rc = asx_nats_info_parse(&info, (asx_slice){(const uint8_t *)json, strlen(json)}, NULL,
                                 &ta.base, err, sizeof err);
    if (rc == 0) {
      cr_assert_eq(info.connect_urls_len, 6);
      cr_assert_str_eq(info.connect_urls[5], "f:6");
      cr_assert_str_eq(info.host, "");
    } else {
      cr_assert_eq(rc, ASX_ENOMEM, "index %ld: %d", k, rc);
      cr_assert_null(info.server_id);
      cr_assert_eq(ta.live, 0, "a failed parse releases everything");
    }
    asx_nats_server_info_free(&info);
    cr_assert_eq(ta.live, 0);
    if (rc == 0) break;
  }
}

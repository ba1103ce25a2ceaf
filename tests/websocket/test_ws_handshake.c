/* Opening handshake helpers and permessage-deflate negotiation (RFC 6455 section 4,
 * RFC 7692 section 7.1): accept values, request validation, subprotocols, the Origin hook,
 * offer/response parsing, and a complete client -> server -> client handshake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/websocket.h"
#include "ws_test_util.h"

TestSuite(ws_handshake, .timeout = 30);

static asx_slice sl(const char *s) {
  return (asx_slice){(const uint8_t *)s, s ? strlen(s) : 0};
}

static asx_ws_request good_request(void) {
  asx_ws_request r;
  memset(&r, 0, sizeof r);
  r.method = sl("GET");
  r.upgrade = sl("WebSocket");
  r.connection = sl("keep-alive, Upgrade");
  r.key = sl("dGhlIHNhbXBsZSBub25jZQ==");
  r.version = sl("13");
  return r;
}

Test(ws_handshake, accept_value_from_rfc6455_example) {
  char out[ASX_WS_ACCEPT_SIZE];
  cr_assert_eq(asx_ws_accept_value(sl("dGhlIHNhbXBsZSBub25jZQ=="), out), 0);
  cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  cr_assert_eq(asx_ws_accept_value(sl(""), out), ASX_EINVAL);
}

Test(ws_handshake, valid_request_accepted) {
  asx_ws_request r = good_request();
  const char *why = "unset";
  cr_assert_eq(asx_ws_validate_request(&r, &why), 0);
  r.method = sl(NULL); /* not checked when absent */
  r.connection = sl("Upgrade");
  r.upgrade = sl("websocket");
  cr_assert_eq(asx_ws_validate_request(&r, NULL), 0);
}

Test(ws_handshake, invalid_requests_rejected) {
  struct {
    const char *field, *value;
    int want;
  } cases[] = {
      {"method", "POST", ASX_EPROTO},
      {"upgrade", "", ASX_EPROTO},
      {"upgrade", "h2c", ASX_EPROTO},
      {"upgrade", "websocketx", ASX_EPROTO},
      {"connection", "keep-alive", ASX_EPROTO},
      {"connection", "", ASX_EPROTO},
      {"version", "", ASX_EPROTO},
      {"version", "8", ASX_EUNSUPPORTED},
      {"version", "13, 8", ASX_EUNSUPPORTED},
      {"key", "", ASX_EPROTO},
      {"key", "dGhlIHNhbXBsZSBub25jZQ", ASX_EPROTO},     /* no padding */
      {"key", "dGhlIHNhbXBsZSBub25jZQ=x", ASX_EPROTO},   /* bad padding */
      {"key", "dGhlIHNhbXBsZSBub25j*Q==", ASX_EPROTO},   /* not base64 */
      {"key", "dGhlIHNhbXBsZSBub25jZQ==AAAA", ASX_EPROTO}, /* 19 bytes */
      {"key", "dGhlIHNhbXBsZQ==", ASX_EPROTO},           /* 10 bytes */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    asx_ws_request r = good_request();
    asx_slice v = sl(cases[i].value);
    if (!strcmp(cases[i].field, "method")) r.method = v;
    if (!strcmp(cases[i].field, "upgrade")) r.upgrade = v;
    if (!strcmp(cases[i].field, "connection")) r.connection = v;
    if (!strcmp(cases[i].field, "version")) r.version = v;
    if (!strcmp(cases[i].field, "key")) r.key = v;
    const char *why = NULL;
    cr_assert_eq(asx_ws_validate_request(&r, &why), cases[i].want, "case %zu (%s=%s)", i,
                 cases[i].field, cases[i].value);
    cr_assert_not_null(why);
    asx_ws_server_handshake hs;
    int rc = asx_ws_server_accept(&r, NULL, &hs);
    cr_assert_eq(rc, cases[i].want);
    cr_assert_eq(hs.http_status, cases[i].want == ASX_EUNSUPPORTED ? 426 : 400);
    cr_assert_not_null(hs.error);
  }
}

Test(ws_handshake, subprotocol_selection_prefers_server_order) {
  const char *supported[] = {"v2.chat", "chat"};
  const char *chosen = NULL;
  cr_assert_eq(asx_ws_select_subprotocol(sl("chat, v2.chat"), supported, 2, &chosen), 0);
  cr_assert_str_eq(chosen, "v2.chat");
  cr_assert_eq(asx_ws_select_subprotocol(sl(" chat "), supported, 2, &chosen), 0);
  cr_assert_str_eq(chosen, "chat");
  cr_assert_eq(asx_ws_select_subprotocol(sl("Chat"), supported, 2, &chosen), ASX_ENOTFOUND);
  cr_assert_null(chosen);
  cr_assert_eq(asx_ws_select_subprotocol(sl(""), supported, 2, &chosen), ASX_ENOTFOUND);
  cr_assert_eq(asx_ws_select_subprotocol(sl("chat, b@d"), supported, 2, &chosen), ASX_EPROTO);
}

static bool only_example_org(void *ud, asx_slice origin) {
  (*(int *)ud)++;
  return asx_slice_eq(origin, "https://example.org");
}

Test(ws_handshake, server_accept_with_origin_subprotocol_and_deflate) {
  const char *supported[] = {"chat"};
  asx_ws_deflate_offer policy = {0};
  int calls = 0;
  asx_ws_server_policy pol = {supported, 1, only_example_org, &calls, &policy};
  asx_ws_request r = good_request();
  r.origin = sl("https://example.org");
  r.protocol = sl("superchat, chat");
  r.extensions = sl("x-foo, permessage-deflate; client_max_window_bits");
  asx_ws_server_handshake hs;
  cr_assert_eq(asx_ws_server_accept(&r, &pol, &hs), 0);
  cr_assert_eq(calls, 1);
  cr_assert_eq(hs.http_status, 101);
  cr_assert_str_eq(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  cr_assert_str_eq(hs.subprotocol, "chat");
  cr_assert(hs.deflate);
  cr_assert_str_eq(hs.extensions, "permessage-deflate");
  asx_ws_header h[8];
  size_t n = 0;
  cr_assert_eq(asx_ws_server_response_headers(&hs, h, 8, &n), 0);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(h[0].name, "Upgrade");
  cr_assert_str_eq(h[2].value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  cr_assert_str_eq(h[3].value, "chat");
  cr_assert_str_eq(h[4].value, "permessage-deflate");
  cr_assert_eq(asx_ws_server_response_headers(&hs, h, 4, &n), ASX_EOVERFLOW);

  r.origin = sl("https://evil.example");
  cr_assert_eq(asx_ws_server_accept(&r, &pol, &hs), ASX_ECANCELED);
  cr_assert_eq(hs.http_status, 403);

  r.origin = sl("https://example.org");
  r.protocol = sl("chat;x");
  cr_assert_eq(asx_ws_server_accept(&r, &pol, &hs), ASX_EPROTO);
  cr_assert_eq(hs.http_status, 400);

  /* No common subprotocol, no deflate policy: accepted without those headers. */
  r.protocol = sl("other");
  pol.deflate = NULL;
  cr_assert_eq(asx_ws_server_accept(&r, &pol, &hs), 0);
  cr_assert_null(hs.subprotocol);
  cr_assert(!hs.deflate);
  cr_assert_eq(asx_ws_server_response_headers(&hs, h, 8, &n), 0);
  cr_assert_eq(n, 3);
}

/* Server-side negotiation: offer -> (rc, response value). */
static void neg(const char *offer, const asx_ws_deflate_offer *policy, int want_rc,
                const char *want_resp, asx_ws_deflate_params *out) {
  char resp[ASX_WS_EXT_VALUE_SIZE];
  asx_ws_deflate_params p;
  int rc = asx_ws_deflate_negotiate(sl(offer), policy, &p, resp, sizeof resp);
  cr_assert_eq(rc, want_rc, "offer [%s]: rc %d, want %d", offer, rc, want_rc);
  if (want_resp) cr_assert_str_eq(resp, want_resp, "offer [%s]", offer);
  if (out) *out = p;
}

Test(ws_handshake, deflate_negotiation_server_side) {
  asx_ws_deflate_offer none = {0};
  asx_ws_deflate_params p;
  neg("permessage-deflate", &none, 0, "permessage-deflate", &p);
  cr_assert_eq(p.server_max_window_bits, 15);
  cr_assert(!p.server_no_context_takeover && !p.client_no_context_takeover);
  neg("permessage-deflate; server_max_window_bits=10", &none, 0,
      "permessage-deflate; server_max_window_bits=10", &p);
  cr_assert_eq(p.server_max_window_bits, 10);
  neg("permessage-deflate;server_max_window_bits=\"10\"", &none, 0,
      "permessage-deflate; server_max_window_bits=10", NULL);
  neg("permessage-deflate; client_max_window_bits=12", &none, 0,
      "permessage-deflate; client_max_window_bits=12", &p);
  cr_assert_eq(p.client_max_window_bits, 12);
  neg("permessage-deflate; server_no_context_takeover; client_no_context_takeover", &none, 0,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover", &p);
  cr_assert(p.server_no_context_takeover && p.client_no_context_takeover);
  /* Invalid offers are declined, and the next acceptable one is taken. */
  const char *invalid[] = {
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=08",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; client_max_window_bits=abc",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
      "permessage-deflate; x_unknown",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    neg(invalid[i], &none, ASX_ENOTFOUND, "", NULL);
    char both[256];
    snprintf(both, sizeof both, "%s, permessage-deflate; client_no_context_takeover", invalid[i]);
    neg(both, &none, 0, "permessage-deflate; client_no_context_takeover", NULL);
  }
  /* Syntax errors in the header itself. */
  const char *malformed[] = {
      "permessage-deflate;", "permessage-deflate; =3", ";", "permessage-deflate; a=\"open",
      "permessage-deflate; a=", "perm@ssage", "permessage-deflate x",
  };
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
    neg(malformed[i], &none, ASX_EPROTO, NULL, NULL);
  neg("x-webkit-deflate-frame", &none, ASX_ENOTFOUND, "", NULL);
  neg(" , permessage-deflate ,", &none, 0, "permessage-deflate", NULL);
  /* Policy: ask for no takeover both ways and cap both windows. */
  asx_ws_deflate_offer pol = {true, true, 12, 9, false};
  neg("permessage-deflate; client_max_window_bits=10", &pol, 0,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=12; client_max_window_bits=9", &p);
  cr_assert_eq(p.client_max_window_bits, 9);
  cr_assert_eq(p.server_max_window_bits, 12);
  /* Without client_max_window_bits in the offer the server must not send it. */
  neg("permessage-deflate", &pol, 0,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=12", NULL);
  char tiny[10];
  cr_assert_eq(asx_ws_deflate_negotiate(sl("permessage-deflate"), &none, &p, tiny, sizeof tiny),
               ASX_EOVERFLOW);
}

Test(ws_handshake, deflate_negotiation_client_side) {
  char buf[ASX_WS_EXT_VALUE_SIZE];
  asx_ws_deflate_offer o = {false, false, 0, 0, true};
  cr_assert_eq(asx_ws_deflate_offer_format(&o, buf, sizeof buf), 0);
  cr_assert_str_eq(buf, "permessage-deflate; client_max_window_bits");
  asx_ws_deflate_offer bad = {false, false, 16, 0, false};
  cr_assert_eq(asx_ws_deflate_offer_format(&bad, buf, sizeof buf), ASX_EINVAL);

  asx_ws_deflate_params p;
  cr_assert_eq(asx_ws_deflate_response_check(sl("permessage-deflate; client_max_window_bits=10"),
                                             &o, &p), 0);
  cr_assert_eq(p.client_max_window_bits, 10);
  cr_assert_eq(p.server_max_window_bits, 15);
  cr_assert_eq(asx_ws_deflate_response_check(sl(""), &o, &p), ASX_ENOTFOUND);
  cr_assert_eq(asx_ws_deflate_response_check(sl("permessage-deflate; client_max_window_bits"), &o,
                                             &p), ASX_EPROTO);
  cr_assert_eq(asx_ws_deflate_response_check(sl("permessage-deflate, permessage-deflate"), &o, &p),
               ASX_EPROTO);
  cr_assert_eq(asx_ws_deflate_response_check(sl("x-other"), &o, &p), ASX_EPROTO);
  cr_assert_eq(asx_ws_deflate_response_check(sl("permessage-deflate; bogus"), &o, &p), ASX_EPROTO);

  asx_ws_deflate_offer plain = {false, false, 0, 0, false};
  cr_assert_eq(asx_ws_deflate_response_check(sl("permessage-deflate; client_max_window_bits=10"),
                                             &plain, &p), ASX_EPROTO);
  asx_ws_deflate_offer capped = {true, false, 10, 0, false};
  cr_assert_eq(asx_ws_deflate_response_check(
                   sl("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
                   &capped, &p), 0);
  cr_assert(p.server_no_context_takeover);
  cr_assert_eq(p.server_max_window_bits, 9);
  cr_assert_eq(asx_ws_deflate_response_check(
                   sl("permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
                   &capped, &p), ASX_EPROTO);
  cr_assert_eq(asx_ws_deflate_response_check(
                   sl("permessage-deflate; server_no_context_takeover"), &capped, &p), ASX_EPROTO);
  cr_assert_eq(asx_ws_deflate_response_check(sl("permessage-deflate; server_max_window_bits=10"),
                                             &capped, &p), ASX_EPROTO);
}

/* Client builds a request, the server accepts it, the client verifies the answer, and the two
 * sessions then talk with the negotiated compression. */
Test(ws_handshake, end_to_end_handshake_then_compressed_exchange) {
  const uint8_t rnd[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  asx_ws_deflate_offer offer = {false, true, 0, 0, true};
  asx_ws_client_handshake ch;
  cr_assert_eq(asx_ws_client_handshake_init(&ch, rnd, "chat, superchat", &offer), 0);
  cr_assert_str_eq(ch.key, "AQIDBAUGBwgJCgsMDQ4PEA==");
  asx_ws_header h[8];
  size_t n = 0;
  cr_assert_eq(asx_ws_client_request_headers(&ch, "https://example.org", h, 8, &n), 0);
  cr_assert_eq(n, 7);
  asx_ws_request req;
  memset(&req, 0, sizeof req);
  req.method = sl("GET");
  for (size_t i = 0; i < n; i++) {
    asx_slice v = sl(h[i].value);
    if (!strcmp(h[i].name, "Upgrade")) req.upgrade = v;
    if (!strcmp(h[i].name, "Connection")) req.connection = v;
    if (!strcmp(h[i].name, "Sec-WebSocket-Key")) req.key = v;
    if (!strcmp(h[i].name, "Sec-WebSocket-Version")) req.version = v;
    if (!strcmp(h[i].name, "Sec-WebSocket-Protocol")) req.protocol = v;
    if (!strcmp(h[i].name, "Sec-WebSocket-Extensions")) req.extensions = v;
    if (!strcmp(h[i].name, "Origin")) req.origin = v;
  }
  const char *supported[] = {"superchat"};
  asx_ws_deflate_offer policy = {true, false, 0, 0, false};
  asx_ws_server_policy pol = {supported, 1, NULL, NULL, &policy};
  asx_ws_server_handshake sh;
  cr_assert_eq(asx_ws_server_accept(&req, &pol, &sh), 0);
  cr_assert_eq(sh.http_status, 101);

  asx_ws_response resp = {101, sl("websocket"), sl("Upgrade"), sl(sh.accept),
                          sl(sh.subprotocol), sl(sh.extensions)};
  asx_ws_client_result cr;
  const char *why = NULL;
  cr_assert_eq(asx_ws_client_verify_response(&ch, &resp, &cr, &why), 0, "%s", why);
  cr_assert(asx_slice_eq(cr.subprotocol, "superchat"));
  cr_assert(cr.deflate);
  cr_assert(cr.deflate_params.server_no_context_takeover);
  cr_assert(cr.deflate_params.client_no_context_takeover);
  cr_assert_eq(memcmp(&cr.deflate_params, &sh.deflate_params, sizeof cr.deflate_params), 0);

  /* Verification failures. */
  asx_ws_response bad = resp;
  bad.status = 200;
  cr_assert_eq(asx_ws_client_verify_response(&ch, &bad, &cr, &why), ASX_EPROTO);
  bad = resp;
  bad.accept = sl("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  cr_assert_eq(asx_ws_client_verify_response(&ch, &bad, &cr, &why), ASX_EPROTO);
  bad = resp;
  bad.protocol = sl("other");
  cr_assert_eq(asx_ws_client_verify_response(&ch, &bad, &cr, &why), ASX_EPROTO);
  bad = resp;
  bad.extensions = sl("permessage-deflate; mystery");
  cr_assert_eq(asx_ws_client_verify_response(&ch, &bad, &cr, &why), ASX_EPROTO);
  bad = resp;
  bad.upgrade = sl("");
  cr_assert_eq(asx_ws_client_verify_response(&ch, &bad, &cr, &why), ASX_EPROTO);
  asx_ws_client_handshake plain;
  cr_assert_eq(asx_ws_client_handshake_init(&plain, rnd, NULL, NULL), 0);
  cr_assert_eq(asx_ws_client_verify_response(&plain, &resp, &cr, &why), ASX_EPROTO);

  /* Sessions with the agreement. */
  ws_pair p;
  cr_assert_eq(pair_open(&p, NULL, &sh.deflate_params, NULL), 0);
  cr_assert_eq(asx_ws_send(p.client, ASX_WS_TEXT, (const uint8_t *)"hi there", 8), 0);
  cr_assert_eq(asx_ws_send(p.server, ASX_WS_TEXT, (const uint8_t *)"hello back", 10), 0);
  pair_pump(&p, 4096);
  cr_assert_eq(p.srec.nmsgs, 1);
  cr_assert_eq(p.crec.nmsgs, 1);
  cr_assert_eq(memcmp(p.srec.msgs[0].data, "hi there", 8), 0);
  cr_assert_eq(memcmp(p.crec.msgs[0].data, "hello back", 10), 0);
  pair_close(&p);
}

Test(ws_handshake, utf8_validator_strictness) {
  const char *good[] = {"", "ascii", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
                        "\xee\x80\x80", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
  const char *bad[] = {"\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
                       "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xc2",
                       "\xe1\x80", "\xfe", "\xc2\x41"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    cr_assert(asx_ws_utf8_valid((const uint8_t *)good[i], strlen(good[i])), "good %zu", i);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert(!asx_ws_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])), "bad %zu", i);
}

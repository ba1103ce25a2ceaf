/* The opening handshake (RFC 6455 section 4) on plain header values: request validation,
 * Sec-WebSocket-Accept, subprotocol choice, the Origin hook, and the client's side. */
#include <string.h>

#include <openssl/sha.h>

#include "ws_internal.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ws_base64(const uint8_t *in, size_t n, char *out) {
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = b64_alphabet[(v >> 18) & 63];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = b64_alphabet[(v >> 6) & 63];
    out[o++] = b64_alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64_alphabet[(v >> 18) & 63];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64_alphabet[(v >> 18) & 63];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = b64_alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
}

static bool is_b64_char(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

bool ws_is_tchar(uint8_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

static asx_slice trim_ows(asx_slice s) {
  while (s.len && is_ows(s.ptr[0])) {
    s.ptr++;
    s.len--;
  }
  while (s.len && is_ows(s.ptr[s.len - 1])) s.len--;
  return s;
}

/* Calls fn on each trimmed, non-empty comma-separated element until it returns true. */
static bool list_any(asx_slice list, bool (*fn)(asx_slice el, const void *arg), const void *arg) {
  size_t start = 0;
  for (size_t i = 0; i <= list.len; i++) {
    if (i == list.len || list.ptr[i] == ',') {
      asx_slice el = trim_ows((asx_slice){list.ptr + start, i - start});
      if (el.len && fn(el, arg)) return true;
      start = i + 1;
    }
  }
  return false;
}

static bool element_is_token(asx_slice el, const void *arg) {
  /* Connection/Upgrade elements carry no parameters we care about; compare up to ';'. */
  size_t n = 0;
  while (n < el.len && el.ptr[n] != ';') n++;
  return asx_slice_eq_nocase(trim_ows((asx_slice){el.ptr, n}), (const char *)arg);
}

bool ws_list_has_token(asx_slice list, const char *token) {
  if (!list.ptr) return false;
  return list_any(list, element_is_token, token);
}

static int fail_why(const char **why, const char *msg, int err) {
  if (why) *why = msg;
  return err;
}

int asx_ws_validate_request(const asx_ws_request *req, const char **why) {
  if (!req) return fail_why(why, "no request", ASX_EINVAL);
  if (req->method.len && !asx_slice_eq(req->method, "GET"))
    return fail_why(why, "WebSocket upgrade requires GET", ASX_EPROTO);
  if (!ws_list_has_token(req->upgrade, "websocket"))
    return fail_why(why, "Upgrade header lacks the token \"websocket\"", ASX_EPROTO);
  if (!ws_list_has_token(req->connection, "upgrade"))
    return fail_why(why, "Connection header lacks the token \"upgrade\"", ASX_EPROTO);
  asx_slice version = trim_ows(req->version);
  if (!version.len) return fail_why(why, "missing Sec-WebSocket-Version", ASX_EPROTO);
  if (!asx_slice_eq(version, "13"))
    return fail_why(why, "unsupported Sec-WebSocket-Version (only 13)", ASX_EUNSUPPORTED);
  asx_slice key = trim_ows(req->key);
  if (key.len != 24) return fail_why(why, "Sec-WebSocket-Key is not 24 characters", ASX_EPROTO);
  for (size_t i = 0; i < 22; i++) {
    if (!is_b64_char(key.ptr[i]))
      return fail_why(why, "Sec-WebSocket-Key is not base64", ASX_EPROTO);
  }
  /* 16 bytes encode as 22 significant characters and exactly two '=' of padding. */
  if (key.ptr[22] != '=' || key.ptr[23] != '=')
    return fail_why(why, "Sec-WebSocket-Key does not decode to 16 bytes", ASX_EPROTO);
  return 0;
}

int asx_ws_accept_value(asx_slice key, char out[ASX_WS_ACCEPT_SIZE]) {
  key = trim_ows(key);
  uint8_t joined[128 + sizeof ws_guid];
  if (!key.ptr || key.len == 0 || key.len > 128) return ASX_EINVAL;
  memcpy(joined, key.ptr, key.len);
  memcpy(joined + key.len, ws_guid, sizeof ws_guid - 1);
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1(joined, key.len + sizeof ws_guid - 1, digest);
  ws_base64(digest, sizeof digest, out);
  return 0;
}

/* Checks the protocol list syntax: comma-separated tokens, optional whitespace. */
static bool token_list_valid(asx_slice list) {
  size_t start = 0;
  for (size_t i = 0; i <= list.len; i++) {
    if (i == list.len || list.ptr[i] == ',') {
      asx_slice el = trim_ows((asx_slice){list.ptr + start, i - start});
      for (size_t k = 0; k < el.len; k++) {
        if (!ws_is_tchar(el.ptr[k])) return false;
      }
      start = i + 1;
    }
  }
  return true;
}

static bool element_equals(asx_slice el, const void *arg) {
  return asx_slice_eq(el, (const char *)arg);
}

int asx_ws_select_subprotocol(asx_slice offered, const char *const *supported, size_t count,
                              const char **chosen) {
  if (chosen) *chosen = NULL;
  if (!offered.ptr || !offered.len) return ASX_ENOTFOUND;
  if (!token_list_valid(offered)) return ASX_EPROTO;
  for (size_t i = 0; i < count; i++) {
    if (supported[i] && list_any(offered, element_equals, supported[i])) {
      if (chosen) *chosen = supported[i];
      return 0;
    }
  }
  return ASX_ENOTFOUND;
}

static int server_fail(asx_ws_server_handshake *out, int status, const char *why, int err) {
  out->http_status = status;
  out->error = why;
  return err;
}

int asx_ws_server_accept(const asx_ws_request *req, const asx_ws_server_policy *policy,
                         asx_ws_server_handshake *out) {
  if (!out) return ASX_EINVAL;
  memset(out, 0, sizeof *out);
  if (!req) return server_fail(out, 400, "no request", ASX_EINVAL);
  static const asx_ws_server_policy no_policy;
  if (!policy) policy = &no_policy;
  const char *why = NULL;
  int rc = asx_ws_validate_request(req, &why);
  if (rc == ASX_EUNSUPPORTED) return server_fail(out, 426, why, rc);
  if (rc) return server_fail(out, 400, why, rc);
  if (policy->origin_check && !policy->origin_check(policy->origin_ud, trim_ows(req->origin)))
    return server_fail(out, 403, "origin refused", ASX_ECANCELED);
  rc = asx_ws_select_subprotocol(req->protocol, policy->subprotocols, policy->subprotocol_count,
                                 &out->subprotocol);
  if (rc == ASX_EPROTO)
    return server_fail(out, 400, "Sec-WebSocket-Protocol is not a token list", rc);
  if (policy->deflate && req->extensions.len) {
    rc = asx_ws_deflate_negotiate(req->extensions, policy->deflate, &out->deflate_params,
                                  out->extensions, sizeof out->extensions);
    if (rc == ASX_EPROTO)
      return server_fail(out, 400, "Sec-WebSocket-Extensions is malformed", rc);
    out->deflate = rc == 0;
    if (rc) out->extensions[0] = '\0';
  }
  asx_ws_accept_value(req->key, out->accept);
  out->http_status = 101;
  return 0;
}

int asx_ws_server_response_headers(const asx_ws_server_handshake *hs, asx_ws_header *headers,
                                   size_t cap, size_t *count) {
  if (count) *count = 0;
  if (!hs || !headers || cap < 5) return ASX_EOVERFLOW;
  size_t n = 0;
  headers[n++] = (asx_ws_header){"Upgrade", "websocket"};
  headers[n++] = (asx_ws_header){"Connection", "Upgrade"};
  headers[n++] = (asx_ws_header){"Sec-WebSocket-Accept", hs->accept};
  if (hs->subprotocol) headers[n++] = (asx_ws_header){"Sec-WebSocket-Protocol", hs->subprotocol};
  if (hs->deflate && hs->extensions[0])
    headers[n++] = (asx_ws_header){"Sec-WebSocket-Extensions", hs->extensions};
  if (count) *count = n;
  return 0;
}

int asx_ws_client_handshake_init(asx_ws_client_handshake *hs, const uint8_t random16[16],
                                 const char *subprotocols, const asx_ws_deflate_offer *deflate) {
  if (!hs || !random16) return ASX_EINVAL;
  memset(hs, 0, sizeof *hs);
  ws_base64(random16, 16, hs->key);
  asx_ws_accept_value((asx_slice){(const uint8_t *)hs->key, 24}, hs->expected_accept);
  if (subprotocols && subprotocols[0]) {
    asx_slice s = {(const uint8_t *)subprotocols, strlen(subprotocols)};
    if (!token_list_valid(s)) return ASX_EINVAL;
    hs->subprotocols = subprotocols;
  }
  if (deflate) {
    int rc = asx_ws_deflate_offer_format(deflate, hs->extensions, sizeof hs->extensions);
    if (rc) return rc;
    hs->offer_deflate = true;
    hs->deflate_offer = *deflate;
  }
  return 0;
}

int asx_ws_client_request_headers(const asx_ws_client_handshake *hs, const char *origin,
                                  asx_ws_header *headers, size_t cap, size_t *count) {
  if (count) *count = 0;
  if (!hs || !headers || cap < 7) return ASX_EOVERFLOW;
  size_t n = 0;
  headers[n++] = (asx_ws_header){"Upgrade", "websocket"};
  headers[n++] = (asx_ws_header){"Connection", "Upgrade"};
  headers[n++] = (asx_ws_header){"Sec-WebSocket-Key", hs->key};
  headers[n++] = (asx_ws_header){"Sec-WebSocket-Version", "13"};
  if (hs->subprotocols) headers[n++] = (asx_ws_header){"Sec-WebSocket-Protocol", hs->subprotocols};
  if (hs->offer_deflate) headers[n++] = (asx_ws_header){"Sec-WebSocket-Extensions", hs->extensions};
  if (origin) headers[n++] = (asx_ws_header){"Origin", origin};
  if (count) *count = n;
  return 0;
}

int asx_ws_client_verify_response(const asx_ws_client_handshake *hs, const asx_ws_response *resp,
                                  asx_ws_client_result *out, const char **why) {
  if (!hs || !resp || !out) return fail_why(why, "missing argument", ASX_EINVAL);
  memset(out, 0, sizeof *out);
  if (resp->status != 101) return fail_why(why, "status is not 101", ASX_EPROTO);
  if (!ws_list_has_token(resp->upgrade, "websocket"))
    return fail_why(why, "Upgrade header lacks \"websocket\"", ASX_EPROTO);
  if (!ws_list_has_token(resp->connection, "upgrade"))
    return fail_why(why, "Connection header lacks \"upgrade\"", ASX_EPROTO);
  if (!asx_slice_eq(trim_ows(resp->accept), hs->expected_accept))
    return fail_why(why, "Sec-WebSocket-Accept does not match the key", ASX_EPROTO);
  asx_slice proto = trim_ows(resp->protocol);
  if (proto.len) {
    asx_slice offered = {(const uint8_t *)hs->subprotocols,
                         hs->subprotocols ? strlen(hs->subprotocols) : 0};
    char name[256];
    if (proto.len >= sizeof name || !hs->subprotocols)
      return fail_why(why, "server chose a subprotocol we did not offer", ASX_EPROTO);
    memcpy(name, proto.ptr, proto.len);
    name[proto.len] = '\0';
    if (!list_any(offered, element_equals, name))
      return fail_why(why, "server chose a subprotocol we did not offer", ASX_EPROTO);
    out->subprotocol = proto;
  }
  asx_slice ext = trim_ows(resp->extensions);
  if (ext.len) {
    if (!hs->offer_deflate) return fail_why(why, "server enabled an extension we did not offer", ASX_EPROTO);
    int rc = asx_ws_deflate_response_check(ext, &hs->deflate_offer, &out->deflate_params);
    if (rc) return fail_why(why, "server's Sec-WebSocket-Extensions does not match our offer", ASX_EPROTO);
    out->deflate = true;
  }
  return 0;
}

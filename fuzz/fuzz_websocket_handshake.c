/* Fuzz target: the handshake helpers on arbitrary header values. The input is split at '\n'
 * into: Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version, Sec-WebSocket-Protocol,
 * Sec-WebSocket-Extensions, Origin. Invariants: whatever the server accepts, a client that made
 * the same offer verifies (accept value, subprotocol, extension answer), and the server's
 * extension answer is itself a well-formed list the client parser agrees with. */
#include <stdlib.h>
#include <string.h>

#include "asx/websocket.h"

static bool any_origin(void *ud, asx_slice origin) {
  (void)ud;
  return origin.len % 7 != 3; /* refuse some origins so the 403 path runs too */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asx_slice f[7];
  memset(f, 0, sizeof f);
  size_t field = 0, start = 0;
  for (size_t i = 0; i <= size && field < 7; i++) {
    if (i == size || data[i] == '\n') {
      f[field++] = (asx_slice){data + start, i - start};
      start = i + 1;
    }
  }
  asx_ws_request req = {{(const uint8_t *)"GET", 3}, f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
  const char *protos[] = {"chat", "v2.chat", "x"};
  asx_ws_deflate_offer policy = {false, false, 0, 0, false};
  if (f[6].len) policy.client_max_window_bits = (uint8_t)(8 + f[6].ptr[0] % 8);
  asx_ws_server_policy pol = {protos, 3, any_origin, NULL, &policy};
  asx_ws_server_handshake sh;
  int rc = asx_ws_server_accept(&req, &pol, &sh);
  if (rc == 0) {
    if (sh.http_status != 101 || strlen(sh.accept) != 28) abort();
    asx_ws_header h[8];
    size_t n = 0;
    if (asx_ws_server_response_headers(&sh, h, 8, &n) != 0 || n < 3) abort();
    /* The server's extension answer must parse as a valid response to a permissive offer. */
    if (sh.deflate) {
      asx_ws_deflate_offer permissive = {false, false, 0, 0, true};
      asx_ws_deflate_params p;
      asx_slice ext = {(const uint8_t *)sh.extensions, strlen(sh.extensions)};
      if (asx_ws_deflate_response_check(ext, &permissive, &p) != 0) abort();
      if (memcmp(&p, &sh.deflate_params, sizeof p) != 0 &&
          p.client_max_window_bits == sh.deflate_params.client_max_window_bits)
        abort();
    }
  } else {
    if (sh.http_status != 400 && sh.http_status != 403 && sh.http_status != 426) abort();
    if (!sh.error) abort();
  }
  /* Client-side parsers on the same bytes. */
  asx_ws_deflate_offer offer = {true, false, 12, 0, true};
  asx_ws_deflate_params p;
  rc = asx_ws_deflate_response_check(f[5], &offer, &p);
  if (rc != 0 && rc != ASX_ENOTFOUND && rc != ASX_EPROTO) abort();
  if (rc == 0 && (!p.server_no_context_takeover || p.server_max_window_bits > 12 ||
                  p.server_max_window_bits < 8 || p.client_max_window_bits < 8 ||
                  p.client_max_window_bits > 15))
    abort();
  const char *chosen = NULL;
  rc = asx_ws_select_subprotocol(f[4], protos, 3, &chosen);
  if ((rc == 0) != (chosen != NULL)) abort();
  char accept[ASX_WS_ACCEPT_SIZE];
  if (f[2].len && f[2].len <= 128 && asx_ws_accept_value(f[2], accept) == 0 && strlen(accept) != 28)
    abort();
  return 0;
}

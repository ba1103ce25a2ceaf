/* Fuzz target: the client's verification of a server's handshake answer (what the WebSocket
 * client glue runs on every 101). The input is split at '\n' into: status (first byte + 100),
 * Upgrade, Connection, Sec-WebSocket-Accept, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions.
 * The client offered "chat, v2.chat" and permessage-deflate. Invariants of an accepted answer:
 * status 101, the exact accept value for our key, a subprotocol from the offer (or none), and
 * negotiated window bits within RFC 7692's 8..15. Nothing else may be accepted. */
#include <stdlib.h>
#include <string.h>

#include "asx/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asx_slice f[6];
  memset(f, 0, sizeof f);
  size_t field = 0, start = 0;
  for (size_t i = 0; i <= size && field < 6; i++) {
    if (i == size || data[i] == '\n') {
      f[field++] = (asx_slice){data + start, i - start};
      start = i + 1;
    }
  }
  static const uint8_t rnd[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  asx_ws_deflate_offer offer;
  memset(&offer, 0, sizeof offer);
  asx_ws_client_handshake hs;
  if (asx_ws_client_handshake_init(&hs, rnd, "chat, v2.chat", &offer) != 0) abort();
  /* Half of the inputs use the right accept value, so the checks past it are reached. */
  bool real_accept = f[3].len == 1 && f[3].ptr[0] == '*';
  asx_ws_response resp = {.status = f[0].len ? 100 + f[0].ptr[0] : 101,
                          .upgrade = f[1], .connection = f[2],
                          .accept = real_accept ? (asx_slice){(const uint8_t *)hs.expected_accept,
                                                              strlen(hs.expected_accept)}
                                                : f[3],
                          .protocol = f[4], .extensions = f[5]};
  asx_ws_client_result out;
  const char *why = NULL;
  int rc = asx_ws_client_verify_response(&hs, &resp, &out, &why);
  if (rc != 0 && rc != ASX_EPROTO) abort();
  if (rc == ASX_EPROTO && !why) abort();
  if (rc == 0) {
    if (resp.status != 101) abort();
    if (resp.accept.len != strlen(hs.expected_accept) ||
        memcmp(resp.accept.ptr, hs.expected_accept, resp.accept.len) != 0)
      abort();
    if (out.subprotocol.len && !((out.subprotocol.len == 4 && memcmp(out.subprotocol.ptr, "chat", 4) == 0) ||
                                 (out.subprotocol.len == 7 && memcmp(out.subprotocol.ptr, "v2.chat", 7) == 0)))
      abort();
    if (out.deflate && (out.deflate_params.server_max_window_bits < 8 || out.deflate_params.server_max_window_bits > 15 ||
                        out.deflate_params.client_max_window_bits < 8 || out.deflate_params.client_max_window_bits > 15))
      abort();
  }
  return 0;
}

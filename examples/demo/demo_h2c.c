/* HTTP/1.1 -> HTTP/2 upgrade (RFC 7540 section 3.2, "h2c"): the HTTP/1.1 request becomes
 * stream 1 of the new connection. Header names are lower-cased and hop-by-hop fields dropped,
 * as HTTP/2 requires; Host becomes :authority. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

static bool hop_by_hop(asx_slice name) {
  static const char *const drop[] = {"connection", "upgrade", "http2-settings", "keep-alive",
                                     "transfer-encoding", "te", "proxy-connection", "host"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
    if (asx_slice_eq_nocase(name, drop[i])) return true;
  return false;
}

int demo_h2c_upgrade(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest,
                     size_t rest_len, const asx_http2_server_config *h2) {
  size_t n = asx_http1_req_header_count(req), settings_count = 0;
  asx_slice settings = {0}, host = {0};
  for (size_t i = 0; i < n; i++) {
    asx_slice k, v;
    asx_http1_req_header_at(req, i, &k, &v);
    if (asx_slice_eq_nocase(k, "http2-settings")) {
      settings = v;
      settings_count++;
    } else if (asx_slice_eq_nocase(k, "host")) {
      host = v;
    }
  }
  if (settings_count != 1) return ASX_HTTP1_DECLINE; /* RFC 7540: exactly one, else plain 1.1 */
  asx_slice *names = calloc(n ? n : 1, sizeof *names), *values = calloc(n ? n : 1, sizeof *values);
  asx_buf lower, body;
  asx_buf_init(&lower, NULL, 0);
  asx_buf_init(&body, NULL, 16u << 20);
  int rc = names && values ? 0 : ASX_ENOMEM;
  size_t count = 0;
  /* Lower-case copies first (the buffer may move while growing), slices afterwards. */
  size_t *offs = calloc(n ? n : 1, sizeof *offs);
  if (!offs) rc = ASX_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    asx_slice k, v;
    asx_http1_req_header_at(req, i, &k, &v);
    if (hop_by_hop(k)) continue;
    offs[count] = lower.len;
    for (size_t j = 0; rc == 0 && j < k.len; j++) rc = asx_buf_append_byte(&lower, (uint8_t)tolower(k.ptr[j]));
    names[count].len = k.len;
    values[count] = v;
    count++;
  }
  for (size_t i = 0; i < count; i++) names[i].ptr = lower.data + offs[i];
  if (rc == 0) rc = asx_http1_req_read_all(cx, req, &body);
  if (rc == 0) {
    static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    rc = asx_stream_write_all(cx, s, sw, sizeof sw - 1, NULL);
  }
  if (rc == 0) {
    asx_http2_upgrade_req ur = {
        .method = asx_http1_req_method_name(req), .path = asx_http1_req_target(req),
        .authority = host, .header_names = names, .header_values = values,
        .header_count = count, .body = body.data, .body_len = body.len,
        .http2_settings = settings};
    rc = asx_http2_serve_upgrade(cx, s, h2, &ur, rest, rest_len);
  }
  free(offs);
  free(names);
  free(values);
  asx_buf_free(&lower);
  asx_buf_free(&body);
  return rc;
}

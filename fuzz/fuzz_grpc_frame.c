/* Fuzz target: the gRPC message decoder fed the input whole and then split at an offset taken
 * from the input; both runs must yield the same messages and the same final result. Each
 * message must re-encode to the bytes it was decoded from. The trailer helpers (grpc-status,
 * grpc-message percent-decoding, grpc-timeout) get the same bytes as values.
 * Input layout: [split lo][split hi][stream...]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/grpc.h"

#define MAX_MSG 65536u /* small limit: the RESOURCE_EXHAUSTED path is reachable */

typedef struct run {
  uint64_t digest; /* order-sensitive hash of flags, lengths and bytes */
  unsigned count;
  int final_rc;
} run;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void check_reencode(const asx_grpc_message *m, const asx_grpc_limits *l) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  if (asx_grpc_encode(&b, m->compressed, m->data.ptr, m->data.len, l) != 0) abort();
  if (b.len != m->data.len + 5 || b.data[0] != (m->compressed ? 1 : 0)) abort();
  if (m->data.len && memcmp(b.data + 5, m->data.ptr, m->data.len) != 0) abort();
  asx_buf_free(&b);
}

static run decode(const uint8_t *in, size_t len, size_t cut) {
  run r = {1469598103934665603ull, 0, 0};
  asx_grpc_limits l = {MAX_MSG, MAX_MSG};
  asx_grpc_decoder *d;
  if (asx_grpc_decoder_new(&d, &l, NULL) != 0) abort();
  size_t bounds[2] = {cut, len};
  size_t pos = 0;
  int rc = 0;
  for (int part = 0; part < 2 && rc != ASX_ELIMIT && rc != ASX_EPROTO; part++) {
    while (pos < bounds[part]) {
      size_t used = 0;
      asx_grpc_message m;
      rc = asx_grpc_decoder_decode(d, in + pos, bounds[part] - pos, &used, &m);
      if (used > bounds[part] - pos) abort();
      pos += used;
      if (rc == ASX_EAGAIN) {
        if (pos != bounds[part]) abort(); /* EAGAIN means everything was taken */
        continue;
      }
      if (rc != 0) break;
      if (m.data.len > MAX_MSG) abort();
      uint8_t hdr[5] = {m.compressed, (uint8_t)(m.data.len >> 24), (uint8_t)(m.data.len >> 16),
                        (uint8_t)(m.data.len >> 8), (uint8_t)m.data.len};
      r.digest = mix(r.digest, hdr, 5);
      r.digest = mix(r.digest, m.data.ptr, m.data.len);
      r.count++;
      check_reencode(&m, &l);
    }
  }
  r.final_rc = (rc == ASX_ELIMIT || rc == ASX_EPROTO) ? rc : asx_grpc_decoder_finish(d);
  if (r.final_rc != 0 && asx_grpc_decoder_error_message(d)[0] == '\0') abort();
  asx_grpc_decoder_free(d);
  return r;
}

static void trailer_helpers(const uint8_t *p, size_t n) {
  asx_slice v = {p, n};
  int code;
  if (asx_grpc_status_parse(v, &code) == 0) {
    char buf[ASX_GRPC_STATUS_TEXT_MAX];
    size_t len = asx_grpc_status_format(code, buf);
    /* Leading zeros are the only accepted non-canonical form. */
    if (len > n) abort();
  }
  asx_buf dec, enc, back;
  asx_buf_init(&dec, NULL, 0);
  asx_buf_init(&enc, NULL, 0);
  asx_buf_init(&back, NULL, 0);
  if (asx_grpc_message_decode(&dec, v) != 0) abort();
  if (dec.len > n) abort();
  /* encode(decode(x)) decodes to decode(x). */
  if (asx_grpc_message_encode(&enc, dec.data, dec.len) != 0) abort();
  if (asx_grpc_message_decode(&back, (asx_slice){enc.data, enc.len}) != 0) abort();
  if (back.len != dec.len || (dec.len && memcmp(back.data, dec.data, dec.len) != 0)) abort();
  asx_buf_free(&dec);
  asx_buf_free(&enc);
  asx_buf_free(&back);
  uint64_t ns;
  if (asx_grpc_timeout_parse(v, &ns) == 0) {
    char t[ASX_GRPC_TIMEOUT_TEXT_MAX];
    size_t tl = asx_grpc_timeout_format(ns, t);
    uint64_t again;
    if (asx_grpc_timeout_parse((asx_slice){(const uint8_t *)t, tl}, &again) != 0) abort();
    if (again < ns) abort(); /* formatting never shortens a deadline */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t len = size - 2;
  size_t cut = len ? ((size_t)data[0] | (size_t)data[1] << 8) % (len + 1) : 0;
  const uint8_t *in = data + 2;
  run whole = decode(in, len, len);
  run split = decode(in, len, cut);
  if (whole.digest != split.digest || whole.count != split.count ||
      whole.final_rc != split.final_rc)
    abort();
  trailer_helpers(in, len < 64 ? len : 64);
  return 0;
}

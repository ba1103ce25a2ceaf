/* Fuzz target: the untrusted-input helpers of gRPC metadata and the health service. The input is
 * both a "-bin" value (decode; a success must re-encode and decode to the same bytes, a failure
 * must leave the output as it was) and a HealthCheckRequest (the service, when found, lies inside
 * the input and within the name limit). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asx_slice in = {data, size};
  asx_buf out, again, back;
  asx_buf_init(&out, NULL, 0);
  asx_buf_init(&again, NULL, 0);
  asx_buf_init(&back, NULL, 0);
  asx_buf_append(&out, "x", 1);
  int rc = asx_grpc_bin_decode(in, &out);
  if (rc != 0) {
    if (rc != ASX_EPROTO && rc != ASX_ENOMEM) abort();
    if (out.len != 1) abort();
  } else {
    if (out.len - 1 > size) abort(); /* base64 never expands when decoded */
    if (asx_grpc_bin_encode(&again, out.data + 1, out.len - 1) != 0) abort();
    asx_slice s = {again.data, again.len};
    if (asx_grpc_bin_decode(s, &back) != 0) abort();
    if (back.len != out.len - 1 || (back.len && memcmp(back.data, out.data + 1, back.len) != 0)) abort();
  }
  asx_slice service;
  rc = asx_grpc_health_request_parse(in, &service);
  if (rc == 0) {
    if (service.len > ASX_GRPC_HEALTH_MAX_SERVICE) abort();
    if (service.len && (service.ptr < data || service.ptr + service.len > data + size)) abort();
  } else if (rc != ASX_EPROTO) {
    abort();
  }
  uint8_t resp[2];
  size_t n = asx_grpc_health_response_encode(size ? data[0] : 0, resp);
  if (n > 2) abort();
  asx_buf_free(&out);
  asx_buf_free(&again);
  asx_buf_free(&back);
  return 0;
}

/* FindCoordinator (key 10) v0-v3: the broker coordinating a consumer group or transaction. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_find_coordinator_request(asx_buf *out, const asx_kafka_request_header *h,
                                              const asx_kafka_find_coordinator_request *req) {
  if (!req || !req->key) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_FIND_COORDINATOR, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_FIND_COORDINATOR, v);
  kw_str(&w, f, req->key);
  if (v >= 1) asx_kafka_write_int8(&w, req->key_type);
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

int asx_kafka_decode_find_coordinator_response(asx_kafka_decoder *d, int16_t v,
                                               const uint8_t *body, size_t len,
                                               asx_kafka_find_coordinator_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_FIND_COORDINATOR, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_FIND_COORDINATOR, v);
  if (v >= 1) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  out->error_code = asx_kafka_read_int16(&r, "error_code");
  out->error_message = v >= 1 ? kr_nstr(&r, f, "error_message") : (asx_kafka_str){NULL, -1};
  out->node_id = asx_kafka_read_int32(&r, "node_id");
  out->host = kr_str(&r, f, "host");
  out->port = asx_kafka_read_int32(&r, "port");
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

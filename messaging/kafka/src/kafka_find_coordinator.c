/* FindCoordinator (key 10) v0-v6: the broker coordinating a consumer group or transaction. From v4
 * on one request carries several keys of the same type and the answer is a list. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_find_coordinator_request(asx_buf *out, const asx_kafka_request_header *h,
                                              const asx_kafka_find_coordinator_request *req) {
  if (!req || !h) return ASX_EINVAL;
  bool batched = h->api_version >= 4;
  if (!batched && !req->key) return ASX_EINVAL;
  if (batched && !req->coordinator_keys && !req->key) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_FIND_COORDINATOR, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_FIND_COORDINATOR, v);
  if (!batched) kw_str(&w, f, req->key);
  if (v >= 1) asx_kafka_write_int8(&w, req->key_type);
  if (batched) {
    if (req->coordinator_keys) {
      kw_arr(&w, f, req->coordinator_key_count, req->coordinator_keys);
      for (int32_t i = 0; i < req->coordinator_key_count && !w.err; i++)
        kw_str(&w, f, req->coordinator_keys[i]);
    } else {
      kw_arr(&w, f, 1, &req->key);
      kw_str(&w, f, req->key);
    }
  }
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
  out->error_message = out->host = (asx_kafka_str){NULL, -1};
  if (v >= 1) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  if (v <= 3) {
    out->error_code = asx_kafka_read_int16(&r, "error_code");
    if (v >= 1) out->error_message = kr_nstr(&r, f, "error_message");
    out->node_id = asx_kafka_read_int32(&r, "node_id");
    out->host = kr_str(&r, f, "host");
    out->port = asx_kafka_read_int32(&r, "port");
  } else {
    /* key 1 + node 4 + host 1 + port 4 + error 2 + message 1 + tags 1 */
    int32_t n = kr_arr(&r, f, 14, "coordinators");
    asx_kafka_coordinator *cs = asx_kafka_arena_array(d, &r, n, sizeof *cs, "coordinators");
    for (int32_t i = 0; i < n && !r.err; i++) {
      cs[i].key = kr_str(&r, f, "coordinators.key");
      cs[i].node_id = asx_kafka_read_int32(&r, "coordinators.node_id");
      cs[i].host = kr_str(&r, f, "coordinators.host");
      cs[i].port = asx_kafka_read_int32(&r, "coordinators.port");
      cs[i].error_code = asx_kafka_read_int16(&r, "coordinators.error_code");
      cs[i].error_message = kr_nstr(&r, f, "coordinators.error_message");
      kr_tags(&r, f, "coordinators.tags");
    }
    out->coordinators = cs;
    out->coordinator_count = r.err ? 0 : n;
  }
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

/* Response dispatch: correlation id -> tracked (api key, version) -> header and body schema. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_decode_response_body(asx_kafka_decoder *d, int16_t api_key, int16_t version,
                                   const uint8_t *body, size_t len, asx_kafka_response *out) {
  if (!d || !out) return ASX_EINVAL;
  memset(out, 0, sizeof *out);
  out->api_key = api_key;
  out->api_version = version;
  switch (api_key) {
    case ASX_KAFKA_API_VERSIONS:
      return asx_kafka_decode_api_versions_response(d, version, body, len, &out->u.api_versions);
    case ASX_KAFKA_METADATA:
      return asx_kafka_decode_metadata_response(d, version, body, len, &out->u.metadata);
    case ASX_KAFKA_PRODUCE:
      return asx_kafka_decode_produce_response(d, version, body, len, &out->u.produce);
    case ASX_KAFKA_FETCH:
      return asx_kafka_decode_fetch_response(d, version, body, len, &out->u.fetch);
    case ASX_KAFKA_LIST_OFFSETS:
      return asx_kafka_decode_list_offsets_response(d, version, body, len, &out->u.list_offsets);
    case ASX_KAFKA_FIND_COORDINATOR:
      return asx_kafka_decode_find_coordinator_response(d, version, body, len,
                                                        &out->u.find_coordinator);
    case ASX_KAFKA_OFFSET_COMMIT:
      return asx_kafka_decode_offset_commit_response(d, version, body, len, &out->u.offset_commit);
    case ASX_KAFKA_OFFSET_FETCH:
      return asx_kafka_decode_offset_fetch_response(d, version, body, len, &out->u.offset_fetch);
    default:
      return asx_kafka_decoder_set_error(d, ASX_EUNSUPPORTED, "api key %d is not supported",
                                         api_key);
  }
}

int asx_kafka_decode_response(asx_kafka_decoder *d, asx_kafka_tracker *t, const uint8_t *frame,
                              size_t len, asx_kafka_response *out) {
  if (!d || !t || !out || (!frame && len)) return ASX_EINVAL;
  int32_t id;
  size_t used;
  int rc = asx_kafka_response_header_decode(frame, len, 0, &id, &used);
  if (rc) return asx_kafka_decoder_set_error(d, rc, "correlation_id: truncated response header");
  int16_t key, version;
  rc = asx_kafka_tracker_complete(t, id, &key, &version);
  if (rc)
    return asx_kafka_decoder_set_error(d, rc, "correlation_id: %d matches no outstanding request",
                                       id);
  if (asx_kafka_response_header_version(key, version) == 1) {
    rc = asx_kafka_response_header_decode(frame, len, 1, &id, &used);
    if (rc) return asx_kafka_decoder_set_error(d, rc, "response header: malformed tagged fields");
  }
  rc = asx_kafka_decode_response_body(d, key, version, frame + used, len - used, out);
  out->correlation_id = id;
  return rc;
}

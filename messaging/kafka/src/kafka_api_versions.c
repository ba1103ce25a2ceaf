/* ApiVersions (key 18) v0-v3: the first request on every connection. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_api_versions_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_api_versions_request *req) {
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_API_VERSIONS, &w, &start, &saved);
  if (rc) return rc;
  if (h->api_version >= 3) {
    /* Brokers validate these names; default to something that passes their pattern. */
    const char *name = req && req->client_software_name ? req->client_software_name : "asx";
    const char *ver = req && req->client_software_version ? req->client_software_version : "0.1.0";
    asx_kafka_write_string(&w, true, false, name);
    asx_kafka_write_string(&w, true, false, ver);
    asx_kafka_write_empty_tags(&w);
  }
  return asx_kafka_encode_finish(out, &w, start, saved);
}

static int decode_as(asx_kafka_decoder *d, int16_t v, const uint8_t *body, size_t len,
                     asx_kafka_api_versions_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_API_VERSIONS, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_API_VERSIONS, v);
  out->error_code = asx_kafka_read_int16(&r, "error_code");
  int32_t n = kr_arr(&r, f, f ? 7 : 6, "api_keys");
  asx_kafka_api_version_range *keys = asx_kafka_arena_array(d, &r, n, sizeof *keys, "api_keys");
  for (int32_t i = 0; i < n && !r.err; i++) {
    keys[i].api_key = asx_kafka_read_int16(&r, "api_keys.api_key");
    keys[i].min_version = asx_kafka_read_int16(&r, "api_keys.min_version");
    keys[i].max_version = asx_kafka_read_int16(&r, "api_keys.max_version");
    kr_tags(&r, f, "api_keys.tags");
  }
  out->api_keys = keys;
  out->api_key_count = r.err ? 0 : n;
  if (v >= 1) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

int asx_kafka_decode_api_versions_response(asx_kafka_decoder *d, int16_t version,
                                           const uint8_t *body, size_t len,
                                           asx_kafka_api_versions_response *out) {
  /* A broker that does not support the requested version answers UNSUPPORTED_VERSION (35) in the
   * v0 layout, listing what it does support, so the client can retry with a lower version. */
  if (version > 0 && body && len >= 2 && body[0] == 0 && body[1] == 35) {
    int rc = decode_as(d, 0, body, len, out);
    if (rc == 0) return 0;
  }
  return decode_as(d, version, body, len, out);
}

/* Supported API versions, flexible-version boundaries, request/response headers. */
#include "kafka_internal.h"

typedef struct api_info {
  int16_t key;
  int16_t min, max;
  int16_t flexible_from; /* first flexible version (KIP-482) */
} api_info;

/* Ranges implemented here; they cover what librdkafka 2.0 negotiates and current brokers offer
 * for these messages' classic layouts. */
static const api_info apis[] = {
    {ASX_KAFKA_PRODUCE, 0, 11, 9},          {ASX_KAFKA_FETCH, 0, 16, 12},
    {ASX_KAFKA_LIST_OFFSETS, 0, 7, 6},     {ASX_KAFKA_METADATA, 0, 12, 9},
    {ASX_KAFKA_OFFSET_COMMIT, 0, 8, 8},    {ASX_KAFKA_OFFSET_FETCH, 0, 9, 6},
    {ASX_KAFKA_FIND_COORDINATOR, 0, 6, 3}, {ASX_KAFKA_API_VERSIONS, 0, 3, 3},
};

static const api_info *find_api(int16_t key) {
  for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
    if (apis[i].key == key) return &apis[i];
  return NULL;
}

int asx_kafka_api_min_version(int16_t api_key) {
  const api_info *a = find_api(api_key);
  return a ? a->min : -1;
}

int asx_kafka_api_max_version(int16_t api_key) {
  const api_info *a = find_api(api_key);
  return a ? a->max : -1;
}

int asx_kafka_check_version(int16_t api_key, int16_t version) {
  const api_info *a = find_api(api_key);
  return (a && version >= a->min && version <= a->max) ? 0 : ASX_EUNSUPPORTED;
}

bool asx_kafka_is_flexible(int16_t api_key, int16_t api_version) {
  const api_info *a = find_api(api_key);
  return a && api_version >= a->flexible_from;
}

int asx_kafka_request_header_version(int16_t api_key, int16_t api_version) {
  if (asx_kafka_check_version(api_key, api_version)) return ASX_EUNSUPPORTED;
  return asx_kafka_is_flexible(api_key, api_version) ? 2 : 1;
}

int asx_kafka_response_header_version(int16_t api_key, int16_t api_version) {
  if (asx_kafka_check_version(api_key, api_version)) return ASX_EUNSUPPORTED;
  /* ApiVersions responses keep header v0 even when flexible: a client that does not yet know the
   * broker's versions must be able to read the correlation id. */
  if (api_key == ASX_KAFKA_API_VERSIONS) return 0;
  return asx_kafka_is_flexible(api_key, api_version) ? 1 : 0;
}

int asx_kafka_request_begin(asx_buf *out, const asx_kafka_request_header *h, size_t *frame_start) {
  if (!out || !h || !frame_start) return ASX_EINVAL;
  int hv = asx_kafka_request_header_version(h->api_key, h->api_version);
  if (hv < 0) return hv;
  size_t saved = out->len;
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, out);
  asx_kafka_write_int32(&w, 0); /* size, patched by asx_kafka_request_end */
  asx_kafka_write_int16(&w, h->api_key);
  asx_kafka_write_int16(&w, h->api_version);
  asx_kafka_write_int32(&w, h->correlation_id);
  /* The client id stays a classic nullable string even in header v2. */
  asx_kafka_write_string(&w, false, true, h->client_id);
  if (hv == 2) asx_kafka_write_empty_tags(&w);
  if (w.err) {
    out->len = saved;
    return w.err;
  }
  *frame_start = saved;
  return 0;
}

int asx_kafka_request_end(asx_buf *out, size_t frame_start) {
  if (!out || frame_start > out->len || out->len - frame_start < 4) return ASX_EINVAL;
  size_t body = out->len - frame_start - 4;
  if (body > INT32_MAX) return ASX_ELIMIT;
  uint8_t *p = out->data + frame_start;
  p[0] = (uint8_t)(body >> 24);
  p[1] = (uint8_t)(body >> 16);
  p[2] = (uint8_t)(body >> 8);
  p[3] = (uint8_t)body;
  return 0;
}

int asx_kafka_response_header_decode(const uint8_t *frame, size_t len, int header_version,
                                     int32_t *correlation_id, size_t *header_len) {
  if (header_version != 0 && header_version != 1) return ASX_EINVAL;
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, frame, len, NULL);
  int32_t id = asx_kafka_read_int32(&r, "correlation_id");
  if (header_version == 1) asx_kafka_read_tagged_fields(&r, "response_header_tags");
  if (r.err) return r.err;
  if (correlation_id) *correlation_id = id;
  if (header_len) *header_len = r.pos;
  return 0;
}

int asx_kafka_encode_start(asx_buf *out, const asx_kafka_request_header *h, int16_t api_key,
                           asx_kafka_writer *w, size_t *frame_start, size_t *saved_len) {
  if (!out || !h) return ASX_EINVAL;
  asx_kafka_request_header hh = *h;
  hh.api_key = api_key;
  *saved_len = out->len;
  int rc = asx_kafka_request_begin(out, &hh, frame_start);
  if (rc) return rc;
  asx_kafka_writer_init(w, out);
  return 0;
}

int asx_kafka_encode_finish(asx_buf *out, asx_kafka_writer *w, size_t frame_start,
                            size_t saved_len) {
  int rc = w->err ? w->err : asx_kafka_request_end(out, frame_start);
  if (rc) out->len = saved_len;
  return rc;
}

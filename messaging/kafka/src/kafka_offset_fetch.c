/* OffsetFetch (key 9) v0-v7: a consumer group's committed positions, read back. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_offset_fetch_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_offset_fetch_request *req) {
  if (!req || !req->group_id) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_OFFSET_FETCH, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_OFFSET_FETCH, v);
  kw_str(&w, f, req->group_id);
  if (req->topic_count == -1) {
    /* "All topics" exists from v2 on. */
    if (v < 2) w.err = ASX_EINVAL;
    asx_kafka_write_array_len(&w, f, -1);
  } else {
    kw_arr(&w, f, req->topic_count, req->topics);
  }
  for (int32_t i = 0; i < req->topic_count && !w.err; i++) {
    const asx_kafka_offset_fetch_topic *t = &req->topics[i];
    kw_str(&w, f, t->name);
    kw_arr(&w, f, t->partition_count, t->partition_indexes);
    for (int32_t j = 0; j < t->partition_count && !w.err; j++)
      asx_kafka_write_int32(&w, t->partition_indexes[j]);
    kw_tags(&w, f);
  }
  if (v >= 7) asx_kafka_write_bool(&w, req->require_stable);
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

int asx_kafka_decode_offset_fetch_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                           size_t len, asx_kafka_offset_fetch_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_OFFSET_FETCH, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_OFFSET_FETCH, v);
  if (v >= 3) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  int32_t nt = kr_arr(&r, f, f ? 3 : 6, "topics");
  asx_kafka_offset_fetch_topic_response *ts = asx_kafka_arena_array(d, &r, nt, sizeof *ts, "topics");
  for (int32_t i = 0; i < nt && !r.err; i++) {
    ts[i].name = kr_str(&r, f, "topics.name");
    int32_t np = kr_arr(&r, f, 15, "topics.partitions");
    asx_kafka_offset_fetch_partition_response *ps =
        asx_kafka_arena_array(d, &r, np, sizeof *ps, "topics.partitions");
    for (int32_t j = 0; j < np && !r.err; j++) {
      ps[j].partition_index = asx_kafka_read_int32(&r, "partitions.partition_index");
      ps[j].committed_offset = asx_kafka_read_int64(&r, "partitions.committed_offset");
      ps[j].committed_leader_epoch =
          v >= 5 ? asx_kafka_read_int32(&r, "partitions.committed_leader_epoch") : -1;
      ps[j].metadata = kr_nstr(&r, f, "partitions.metadata");
      ps[j].error_code = asx_kafka_read_int16(&r, "partitions.error_code");
      kr_tags(&r, f, "partitions.tags");
    }
    ts[i].partitions = ps;
    ts[i].partition_count = r.err ? 0 : np;
    kr_tags(&r, f, "topics.tags");
  }
  out->topics = ts;
  out->topic_count = r.err ? 0 : nt;
  if (v >= 2) out->error_code = asx_kafka_read_int16(&r, "error_code");
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

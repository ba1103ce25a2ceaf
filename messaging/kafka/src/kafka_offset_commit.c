/* OffsetCommit (key 8) v0-v8: a consumer group's committed positions. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_offset_commit_request(asx_buf *out, const asx_kafka_request_header *h,
                                           const asx_kafka_offset_commit_request *req) {
  if (!req || !req->group_id) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_OFFSET_COMMIT, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_OFFSET_COMMIT, v);
  kw_str(&w, f, req->group_id);
  if (v >= 1) {
    asx_kafka_write_int32(&w, req->generation_id);
    kw_str(&w, f, req->member_id ? req->member_id : "");
  }
  if (v >= 7) kw_nstr(&w, f, req->group_instance_id);
  if (v >= 2 && v <= 4) asx_kafka_write_int64(&w, req->retention_time_ms);
  kw_arr(&w, f, req->topic_count, req->topics);
  for (int32_t i = 0; i < req->topic_count && !w.err; i++) {
    const asx_kafka_offset_commit_topic *t = &req->topics[i];
    kw_str(&w, f, t->name);
    kw_arr(&w, f, t->partition_count, t->partitions);
    for (int32_t j = 0; j < t->partition_count && !w.err; j++) {
      const asx_kafka_offset_commit_partition *p = &t->partitions[j];
      asx_kafka_write_int32(&w, p->partition_index);
      asx_kafka_write_int64(&w, p->committed_offset);
      if (v >= 6) asx_kafka_write_int32(&w, p->committed_leader_epoch);
      if (v == 1) asx_kafka_write_int64(&w, p->commit_timestamp);
      kw_nstr(&w, f, p->committed_metadata);
      kw_tags(&w, f);
    }
    kw_tags(&w, f);
  }
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

int asx_kafka_decode_offset_commit_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                            size_t len, asx_kafka_offset_commit_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_OFFSET_COMMIT, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_OFFSET_COMMIT, v);
  if (v >= 3) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  int32_t nt = kr_arr(&r, f, f ? 3 : 6, "topics");
  asx_kafka_offset_commit_topic_response *ts = asx_kafka_arena_array(d, &r, nt, sizeof *ts, "topics");
  for (int32_t i = 0; i < nt && !r.err; i++) {
    ts[i].name = kr_str(&r, f, "topics.name");
    int32_t np = kr_arr(&r, f, 6, "topics.partitions");
    asx_kafka_partition_error *ps = asx_kafka_arena_array(d, &r, np, sizeof *ps, "topics.partitions");
    for (int32_t j = 0; j < np && !r.err; j++) {
      ps[j].partition_index = asx_kafka_read_int32(&r, "partitions.partition_index");
      ps[j].error_code = asx_kafka_read_int16(&r, "partitions.error_code");
      kr_tags(&r, f, "partitions.tags");
    }
    ts[i].partitions = ps;
    ts[i].partition_count = r.err ? 0 : np;
    kr_tags(&r, f, "topics.tags");
  }
  out->topics = ts;
  out->topic_count = r.err ? 0 : nt;
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

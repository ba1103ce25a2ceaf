/* ListOffsets (key 2) v0-v7: offsets by timestamp (-1 latest, -2 earliest). */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_list_offsets_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_list_offsets_request *req) {
  if (!req) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_LIST_OFFSETS, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_LIST_OFFSETS, v);
  asx_kafka_write_int32(&w, req->replica_id);
  if (v >= 2) asx_kafka_write_int8(&w, req->isolation_level);
  kw_arr(&w, f, req->topic_count, req->topics);
  for (int32_t i = 0; i < req->topic_count && !w.err; i++) {
    const asx_kafka_list_offsets_topic *t = &req->topics[i];
    kw_str(&w, f, t->name);
    kw_arr(&w, f, t->partition_count, t->partitions);
    for (int32_t j = 0; j < t->partition_count && !w.err; j++) {
      const asx_kafka_list_offsets_partition *p = &t->partitions[j];
      asx_kafka_write_int32(&w, p->partition_index);
      if (v >= 4) asx_kafka_write_int32(&w, p->current_leader_epoch);
      asx_kafka_write_int64(&w, p->timestamp);
      if (v == 0) asx_kafka_write_int32(&w, p->max_num_offsets);
      kw_tags(&w, f);
    }
    kw_tags(&w, f);
  }
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

static void decode_partition(asx_kafka_decoder *d, asx_kafka_reader *r, int16_t v, bool f,
                             asx_kafka_list_offsets_partition_response *p) {
  p->partition_index = asx_kafka_read_int32(r, "partitions.partition_index");
  p->error_code = asx_kafka_read_int16(r, "partitions.error_code");
  p->timestamp = p->offset = -1;
  p->leader_epoch = -1;
  if (v == 0) {
    int32_t n = kr_arr(r, f, 8, "partitions.old_style_offsets");
    int64_t *offs = asx_kafka_arena_array(d, r, n, sizeof *offs, "partitions.old_style_offsets");
    for (int32_t i = 0; i < n && !r->err; i++)
      offs[i] = asx_kafka_read_int64(r, "partitions.old_style_offsets");
    p->old_style_offsets = offs;
    p->old_style_offset_count = r->err ? 0 : n;
  } else {
    p->timestamp = asx_kafka_read_int64(r, "partitions.timestamp");
    p->offset = asx_kafka_read_int64(r, "partitions.offset");
  }
  if (v >= 4) p->leader_epoch = asx_kafka_read_int32(r, "partitions.leader_epoch");
  kr_tags(r, f, "partitions.tags");
}

int asx_kafka_decode_list_offsets_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                           size_t len, asx_kafka_list_offsets_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_LIST_OFFSETS, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_LIST_OFFSETS, v);
  if (v >= 2) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  int32_t nt = kr_arr(&r, f, f ? 3 : 6, "topics");
  asx_kafka_list_offsets_topic_response *ts = asx_kafka_arena_array(d, &r, nt, sizeof *ts, "topics");
  for (int32_t i = 0; i < nt && !r.err; i++) {
    ts[i].name = kr_str(&r, f, "topics.name");
    int32_t np = kr_arr(&r, f, 10, "topics.partitions");
    asx_kafka_list_offsets_partition_response *ps =
        asx_kafka_arena_array(d, &r, np, sizeof *ps, "topics.partitions");
    for (int32_t j = 0; j < np && !r.err; j++) decode_partition(d, &r, v, f, &ps[j]);
    ts[i].partitions = ps;
    ts[i].partition_count = r.err ? 0 : np;
    kr_tags(&r, f, "topics.tags");
  }
  out->topics = ts;
  out->topic_count = r.err ? 0 : nt;
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

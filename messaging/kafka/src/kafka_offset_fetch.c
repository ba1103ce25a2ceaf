/* OffsetFetch (key 9) v0-v9: a consumer group's committed positions, read back. From v8 on one
 * request covers several groups and the answer is grouped the same way. */
#include <string.h>

#include "kafka_internal.h"

/* The topic list: non-nullable before v2, nullable ("all topics") from v2 on. */
static void write_topics(asx_kafka_writer *w, int16_t v, bool f,
                         const asx_kafka_offset_fetch_topic *topics, int32_t count) {
  if (count == -1) {
    if (v < 2 && !w->err) w->err = ASX_EINVAL;
    asx_kafka_write_array_len(w, f, -1);
    return;
  }
  kw_arr(w, f, count, topics);
  for (int32_t i = 0; i < count && !w->err; i++) {
    kw_str(w, f, topics[i].name);
    kw_arr(w, f, topics[i].partition_count, topics[i].partition_indexes);
    for (int32_t j = 0; j < topics[i].partition_count && !w->err; j++)
      asx_kafka_write_int32(w, topics[i].partition_indexes[j]);
    kw_tags(w, f);
  }
}

static void write_group(asx_kafka_writer *w, int16_t v, bool f,
                        const asx_kafka_offset_fetch_group *g) {
  if (!g->group_id) {
    if (!w->err) w->err = ASX_EINVAL;
    return;
  }
  kw_str(w, f, g->group_id);
  if (v >= 9) {
    kw_nstr(w, f, g->member_id);
    asx_kafka_write_int32(w, g->member_epoch);
  }
  write_topics(w, v, f, g->topics, g->topic_count);
  kw_tags(w, f);
}

int asx_kafka_encode_offset_fetch_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_offset_fetch_request *req) {
  if (!req || !h) return ASX_EINVAL;
  if (!req->group_id && !(h->api_version >= 8 && req->groups)) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_OFFSET_FETCH, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_OFFSET_FETCH, v);
  if (v >= 8) {
    if (req->groups) {
      kw_arr(&w, f, req->group_count, req->groups);
      for (int32_t i = 0; i < req->group_count && !w.err; i++) write_group(&w, v, f, &req->groups[i]);
    } else {
      asx_kafka_offset_fetch_group one = {req->group_id, NULL, -1, req->topics, req->topic_count};
      asx_kafka_write_array_len(&w, f, 1);
      write_group(&w, v, f, &one);
    }
  } else {
    kw_str(&w, f, req->group_id);
    write_topics(&w, v, f, req->topics, req->topic_count);
  }
  if (v >= 7) asx_kafka_write_bool(&w, req->require_stable);
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

static void decode_topics(asx_kafka_decoder *d, asx_kafka_reader *r, int16_t v, bool f,
                          const asx_kafka_offset_fetch_topic_response **out, int32_t *count) {
  int32_t nt = kr_arr(r, f, f ? 3 : 6, "topics");
  asx_kafka_offset_fetch_topic_response *ts = asx_kafka_arena_array(d, r, nt, sizeof *ts, "topics");
  for (int32_t i = 0; i < nt && !r->err; i++) {
    ts[i].name = kr_str(r, f, "topics.name");
    int32_t np = kr_arr(r, f, 15, "topics.partitions");
    asx_kafka_offset_fetch_partition_response *ps =
        asx_kafka_arena_array(d, r, np, sizeof *ps, "topics.partitions");
    for (int32_t j = 0; j < np && !r->err; j++) {
      ps[j].partition_index = asx_kafka_read_int32(r, "partitions.partition_index");
      ps[j].committed_offset = asx_kafka_read_int64(r, "partitions.committed_offset");
      ps[j].committed_leader_epoch =
          v >= 5 ? asx_kafka_read_int32(r, "partitions.committed_leader_epoch") : -1;
      ps[j].metadata = kr_nstr(r, f, "partitions.metadata");
      ps[j].error_code = asx_kafka_read_int16(r, "partitions.error_code");
      kr_tags(r, f, "partitions.tags");
    }
    ts[i].partitions = ps;
    ts[i].partition_count = r->err ? 0 : np;
    kr_tags(r, f, "topics.tags");
  }
  *out = ts;
  *count = r->err ? 0 : nt;
}

int asx_kafka_decode_offset_fetch_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                           size_t len, asx_kafka_offset_fetch_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_OFFSET_FETCH, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_OFFSET_FETCH, v);
  if (v >= 3) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  if (v >= 8) {
    int32_t ng = kr_arr(&r, f, 5, "groups");
    asx_kafka_offset_fetch_group_response *gs = asx_kafka_arena_array(d, &r, ng, sizeof *gs, "groups");
    for (int32_t i = 0; i < ng && !r.err; i++) {
      gs[i].group_id = kr_str(&r, f, "groups.group_id");
      decode_topics(d, &r, v, f, &gs[i].topics, &gs[i].topic_count);
      gs[i].error_code = asx_kafka_read_int16(&r, "groups.error_code");
      kr_tags(&r, f, "groups.tags");
    }
    out->groups = gs;
    out->group_count = r.err ? 0 : ng;
  } else {
    decode_topics(d, &r, v, f, &out->topics, &out->topic_count);
    if (v >= 2) out->error_code = asx_kafka_read_int16(&r, "error_code");
  }
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

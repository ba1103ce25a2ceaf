/* Fetch (key 1) v0-v16: record sets from partition leaders. The records field is returned as raw
 * bytes; iterate its batches with asx_kafka_record_batch_decode (the last one may be partial).
 * v13 replaced topic names by topic ids; v15 moved replica_id into a tagged field (followers only),
 * v16 added only tagged fields. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_fetch_request(asx_buf *out, const asx_kafka_request_header *h,
                                   const asx_kafka_fetch_request *req) {
  if (!req) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_FETCH, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_FETCH, v);
  if (v <= 14) asx_kafka_write_int32(&w, req->replica_id);
  asx_kafka_write_int32(&w, req->max_wait_ms);
  asx_kafka_write_int32(&w, req->min_bytes);
  if (v >= 3) asx_kafka_write_int32(&w, req->max_bytes);
  if (v >= 4) asx_kafka_write_int8(&w, req->isolation_level);
  if (v >= 7) {
    asx_kafka_write_int32(&w, req->session_id);
    asx_kafka_write_int32(&w, req->session_epoch);
  }
  kw_arr(&w, f, req->topic_count, req->topics);
  for (int32_t i = 0; i < req->topic_count && !w.err; i++) {
    const asx_kafka_fetch_topic *t = &req->topics[i];
    if (v >= 13)
      asx_kafka_write_uuid(&w, &t->topic_id);
    else
      kw_str(&w, f, t->name);
    kw_arr(&w, f, t->partition_count, t->partitions);
    for (int32_t j = 0; j < t->partition_count && !w.err; j++) {
      const asx_kafka_fetch_partition *p = &t->partitions[j];
      asx_kafka_write_int32(&w, p->partition);
      if (v >= 9) asx_kafka_write_int32(&w, p->current_leader_epoch);
      asx_kafka_write_int64(&w, p->fetch_offset);
      if (v >= 12) asx_kafka_write_int32(&w, p->last_fetched_epoch);
      if (v >= 5) asx_kafka_write_int64(&w, p->log_start_offset);
      asx_kafka_write_int32(&w, p->partition_max_bytes);
      kw_tags(&w, f);
    }
    kw_tags(&w, f);
  }
  if (v >= 7) {
    kw_arr(&w, f, req->forgotten_count, req->forgotten);
    for (int32_t i = 0; i < req->forgotten_count && !w.err; i++) {
      const asx_kafka_fetch_forgotten *t = &req->forgotten[i];
      if (v >= 13)
        asx_kafka_write_uuid(&w, &t->topic_id);
      else
        kw_str(&w, f, t->name);
      kw_arr(&w, f, t->partition_count, t->partitions);
      for (int32_t j = 0; j < t->partition_count && !w.err; j++)
        asx_kafka_write_int32(&w, t->partitions[j]);
      kw_tags(&w, f);
    }
  }
  if (v >= 11) kw_str(&w, f, req->rack_id ? req->rack_id : "");
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

static void decode_partition(asx_kafka_decoder *d, asx_kafka_reader *r, int16_t v, bool f,
                             asx_kafka_fetch_partition_response *p) {
  p->partition_index = asx_kafka_read_int32(r, "partitions.partition_index");
  p->error_code = asx_kafka_read_int16(r, "partitions.error_code");
  p->high_watermark = asx_kafka_read_int64(r, "partitions.high_watermark");
  p->last_stable_offset = v >= 4 ? asx_kafka_read_int64(r, "partitions.last_stable_offset") : -1;
  p->log_start_offset = v >= 5 ? asx_kafka_read_int64(r, "partitions.log_start_offset") : -1;
  p->aborted_count = -1;
  if (v >= 4) {
    int32_t n = asx_kafka_read_array_len(r, f, true, 16, "partitions.aborted_transactions");
    asx_kafka_fetch_aborted *as =
        asx_kafka_arena_array(d, r, n, sizeof *as, "partitions.aborted_transactions");
    for (int32_t i = 0; i < n && !r->err; i++) {
      as[i].producer_id = asx_kafka_read_int64(r, "aborted_transactions.producer_id");
      as[i].first_offset = asx_kafka_read_int64(r, "aborted_transactions.first_offset");
      kr_tags(r, f, "aborted_transactions.tags");
    }
    p->aborted = as;
    p->aborted_count = r->err ? 0 : n;
  }
  p->preferred_read_replica = v >= 11 ? asx_kafka_read_int32(r, "partitions.preferred_read_replica") : -1;
  p->records = asx_kafka_read_bytes(r, f, true, "partitions.records");
  kr_tags(r, f, "partitions.tags");
}

int asx_kafka_decode_fetch_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                    size_t len, asx_kafka_fetch_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_FETCH, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_FETCH, v);
  if (v >= 1) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  if (v >= 7) {
    out->error_code = asx_kafka_read_int16(&r, "error_code");
    out->session_id = asx_kafka_read_int32(&r, "session_id");
  }
  int32_t nt = kr_arr(&r, f, f ? 3 : 6, "responses");
  asx_kafka_fetch_topic_response *ts = asx_kafka_arena_array(d, &r, nt, sizeof *ts, "responses");
  for (int32_t i = 0; i < nt && !r.err; i++) {
    if (v >= 13) {
      ts[i].topic = (asx_kafka_str){NULL, -1};
      ts[i].topic_id = asx_kafka_read_uuid(&r, "responses.topic_id");
    } else {
      ts[i].topic = kr_str(&r, f, "responses.topic");
    }
    int32_t np = kr_arr(&r, f, f ? 17 : 18, "responses.partitions");
    asx_kafka_fetch_partition_response *ps =
        asx_kafka_arena_array(d, &r, np, sizeof *ps, "responses.partitions");
    for (int32_t j = 0; j < np && !r.err; j++) decode_partition(d, &r, v, f, &ps[j]);
    ts[i].partitions = ps;
    ts[i].partition_count = r.err ? 0 : np;
    kr_tags(&r, f, "responses.tags");
  }
  out->topics = ts;
  out->topic_count = r.err ? 0 : nt;
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

/* Produce (key 0) v0-v11: record batches to partition leaders. v10 and v11 differ from v9 only in
 * tagged fields (current leader, node endpoints) and error codes, so the layout is shared. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_produce_request(asx_buf *out, const asx_kafka_request_header *h,
                                     const asx_kafka_produce_request *req) {
  if (!req) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_PRODUCE, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_PRODUCE, v);
  if (v >= 3) kw_nstr(&w, f, req->transactional_id);
  asx_kafka_write_int16(&w, req->acks);
  asx_kafka_write_int32(&w, req->timeout_ms);
  kw_arr(&w, f, req->topic_count, req->topics);
  for (int32_t i = 0; i < req->topic_count && !w.err; i++) {
    const asx_kafka_produce_topic *t = &req->topics[i];
    kw_str(&w, f, t->name);
    kw_arr(&w, f, t->partition_count, t->partitions);
    for (int32_t j = 0; j < t->partition_count && !w.err; j++) {
      const asx_kafka_produce_partition *p = &t->partitions[j];
      asx_kafka_write_int32(&w, p->index);
      asx_kafka_write_bytes(&w, f, true, p->records, p->records_len);
      kw_tags(&w, f);
    }
    kw_tags(&w, f);
  }
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

static void decode_partition(asx_kafka_decoder *d, asx_kafka_reader *r, int16_t v, bool f,
                             asx_kafka_produce_partition_response *p) {
  p->index = asx_kafka_read_int32(r, "partition_responses.index");
  p->error_code = asx_kafka_read_int16(r, "partition_responses.error_code");
  p->base_offset = asx_kafka_read_int64(r, "partition_responses.base_offset");
  p->log_append_time_ms = v >= 2 ? asx_kafka_read_int64(r, "partition_responses.log_append_time_ms") : -1;
  p->log_start_offset = v >= 5 ? asx_kafka_read_int64(r, "partition_responses.log_start_offset") : -1;
  p->error_message = (asx_kafka_str){NULL, -1};
  if (v >= 8) {
    int32_t n = kr_arr(r, f, 6, "record_errors");
    asx_kafka_produce_record_error *es = asx_kafka_arena_array(d, r, n, sizeof *es, "record_errors");
    for (int32_t i = 0; i < n && !r->err; i++) {
      es[i].batch_index = asx_kafka_read_int32(r, "record_errors.batch_index");
      es[i].message = kr_nstr(r, f, "record_errors.batch_index_error_message");
      kr_tags(r, f, "record_errors.tags");
    }
    p->record_errors = es;
    p->record_error_count = r->err ? 0 : n;
    p->error_message = kr_nstr(r, f, "partition_responses.error_message");
  }
  kr_tags(r, f, "partition_responses.tags");
}

int asx_kafka_decode_produce_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                      size_t len, asx_kafka_produce_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_PRODUCE, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_PRODUCE, v);
  int32_t nt = kr_arr(&r, f, f ? 3 : 6, "responses");
  asx_kafka_produce_topic_response *ts = asx_kafka_arena_array(d, &r, nt, sizeof *ts, "responses");
  for (int32_t i = 0; i < nt && !r.err; i++) {
    ts[i].name = kr_str(&r, f, "responses.name");
    int32_t np = kr_arr(&r, f, 14, "responses.partition_responses");
    asx_kafka_produce_partition_response *ps =
        asx_kafka_arena_array(d, &r, np, sizeof *ps, "responses.partition_responses");
    for (int32_t j = 0; j < np && !r.err; j++) decode_partition(d, &r, v, f, &ps[j]);
    ts[i].partitions = ps;
    ts[i].partition_count = r.err ? 0 : np;
    kr_tags(&r, f, "responses.tags");
  }
  out->topics = ts;
  out->topic_count = r.err ? 0 : nt;
  if (v >= 1) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

/* Metadata (key 3) v0-v12: brokers, topics, partitions and leaders. */
#include <string.h>

#include "kafka_internal.h"

int asx_kafka_encode_metadata_request(asx_buf *out, const asx_kafka_request_header *h,
                                      const asx_kafka_metadata_request *req) {
  if (!req) return ASX_EINVAL;
  asx_kafka_writer w;
  size_t start, saved;
  int rc = asx_kafka_encode_start(out, h, ASX_KAFKA_METADATA, &w, &start, &saved);
  if (rc) return rc;
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_METADATA, v);
  if (req->topic_count < 0) {
    /* "All topics": an empty array in v0, a null array from v1 on. */
    if (req->topic_count != -1) w.err = ASX_EINVAL;
    asx_kafka_write_array_len(&w, f, v == 0 ? 0 : -1);
  } else {
    kw_arr(&w, f, req->topic_count, req->topics);
    for (int32_t i = 0; i < req->topic_count && !w.err; i++) {
      if (v >= 10) asx_kafka_write_uuid(&w, NULL); /* look up by name */
      if (v >= 10)
        kw_nstr(&w, f, req->topics[i]);
      else
        kw_str(&w, f, req->topics[i]);
      kw_tags(&w, f);
    }
  }
  if (v >= 4) asx_kafka_write_bool(&w, req->allow_auto_topic_creation);
  if (v >= 8 && v <= 10) asx_kafka_write_bool(&w, req->include_cluster_authorized_operations);
  if (v >= 8) asx_kafka_write_bool(&w, req->include_topic_authorized_operations);
  kw_tags(&w, f);
  return asx_kafka_encode_finish(out, &w, start, saved);
}

static void decode_partition(asx_kafka_decoder *d, asx_kafka_reader *r, int16_t v, bool f,
                             asx_kafka_metadata_partition *p) {
  p->error_code = asx_kafka_read_int16(r, "partitions.error_code");
  p->partition_index = asx_kafka_read_int32(r, "partitions.partition_index");
  p->leader_id = asx_kafka_read_int32(r, "partitions.leader_id");
  p->leader_epoch = v >= 7 ? asx_kafka_read_int32(r, "partitions.leader_epoch") : -1;
  p->replica_nodes = asx_kafka_read_int32_array(d, r, f, false, "partitions.replica_nodes");
  p->isr_nodes = asx_kafka_read_int32_array(d, r, f, false, "partitions.isr_nodes");
  if (v >= 5)
    p->offline_replicas = asx_kafka_read_int32_array(d, r, f, false, "partitions.offline_replicas");
  kr_tags(r, f, "partitions.tags");
}

static void decode_topic(asx_kafka_decoder *d, asx_kafka_reader *r, int16_t v, bool f,
                         asx_kafka_metadata_topic *t) {
  t->error_code = asx_kafka_read_int16(r, "topics.error_code");
  t->name = v >= 12 ? kr_nstr(r, f, "topics.name") : kr_str(r, f, "topics.name");
  if (v >= 10) t->topic_id = asx_kafka_read_uuid(r, "topics.topic_id");
  if (v >= 1) t->is_internal = asx_kafka_read_bool(r, "topics.is_internal");
  int32_t n = kr_arr(r, f, f ? 13 : 18, "topics.partitions");
  asx_kafka_metadata_partition *ps = asx_kafka_arena_array(d, r, n, sizeof *ps, "topics.partitions");
  for (int32_t i = 0; i < n && !r->err; i++) decode_partition(d, r, v, f, &ps[i]);
  t->partitions = ps;
  t->partition_count = r->err ? 0 : n;
  t->topic_authorized_operations =
      v >= 8 ? asx_kafka_read_int32(r, "topics.topic_authorized_operations") : INT32_MIN;
  kr_tags(r, f, "topics.tags");
}

int asx_kafka_decode_metadata_response(asx_kafka_decoder *d, int16_t v, const uint8_t *body,
                                       size_t len, asx_kafka_metadata_response *out) {
  asx_kafka_reader r;
  int rc = asx_kafka_decode_begin(d, ASX_KAFKA_METADATA, v, body, len, out, &r);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  bool f = asx_kafka_is_flexible(ASX_KAFKA_METADATA, v);
  if (v >= 3) out->throttle_time_ms = asx_kafka_read_int32(&r, "throttle_time_ms");
  int32_t nb = kr_arr(&r, f, 10, "brokers");
  asx_kafka_metadata_broker *bs = asx_kafka_arena_array(d, &r, nb, sizeof *bs, "brokers");
  for (int32_t i = 0; i < nb && !r.err; i++) {
    bs[i].node_id = asx_kafka_read_int32(&r, "brokers.node_id");
    bs[i].host = kr_str(&r, f, "brokers.host");
    bs[i].port = asx_kafka_read_int32(&r, "brokers.port");
    bs[i].rack = v >= 1 ? kr_nstr(&r, f, "brokers.rack") : (asx_kafka_str){NULL, -1};
    kr_tags(&r, f, "brokers.tags");
  }
  out->brokers = bs;
  out->broker_count = r.err ? 0 : nb;
  out->cluster_id = v >= 2 ? kr_nstr(&r, f, "cluster_id") : (asx_kafka_str){NULL, -1};
  out->controller_id = v >= 1 ? asx_kafka_read_int32(&r, "controller_id") : -1;
  int32_t nt = kr_arr(&r, f, f ? 6 : 8, "topics");
  asx_kafka_metadata_topic *ts = asx_kafka_arena_array(d, &r, nt, sizeof *ts, "topics");
  for (int32_t i = 0; i < nt && !r.err; i++) decode_topic(d, &r, v, f, &ts[i]);
  out->topics = ts;
  out->topic_count = r.err ? 0 : nt;
  out->cluster_authorized_operations =
      (v >= 8 && v <= 10) ? asx_kafka_read_int32(&r, "cluster_authorized_operations") : INT32_MIN;
  kr_tags(&r, f, "tags");
  return asx_kafka_decoder_finish(d, &r, true);
}

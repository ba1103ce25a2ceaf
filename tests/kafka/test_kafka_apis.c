/* Response decoders of the eight APIs: every response version decoded from bytes built field by
 * field (flexible versions with unknown tags), every response framed and split at every offset,
 * every truncation rejected, response limits at limit-1/limit/limit+1, errors naming the field, and
 * a failing allocator over decoding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/kafka.h"
#include "kafka_fuzz_selector.h"
#include "kafka_test_hex.h"
#include "test_alloc.h"

TestSuite(kafka_apis, .timeout = 60);

/* ---- response builders (field by field from the message schemas) ---- */

/* In flexible versions, end each structure with one unknown tag the decoder must skip. */
static void tags(asx_kafka_writer *w, bool f) {
  if (!f) return;
  asx_kafka_write_uvarint(w, 1);
  asx_kafka_write_uvarint(w, 90);
  asx_kafka_write_uvarint(w, 2);
  asx_kafka_write_raw(w, "zz", 2);
}
static void str(asx_kafka_writer *w, bool f, const char *s) { asx_kafka_write_string(w, f, true, s); }
static void arr(asx_kafka_writer *w, bool f, int32_t n) { asx_kafka_write_array_len(w, f, n); }

typedef void (*build_fn)(asx_kafka_writer *w, int16_t v, bool f);
typedef void (*check_fn)(const asx_kafka_response *r, int16_t v);

static void build_api_versions(asx_kafka_writer *w, int16_t v, bool f) {
  asx_kafka_write_int16(w, 0);
  arr(w, f, 2);
  asx_kafka_write_int16(w, 3); asx_kafka_write_int16(w, 0); asx_kafka_write_int16(w, 12); tags(w, f);
  asx_kafka_write_int16(w, 1); asx_kafka_write_int16(w, 4); asx_kafka_write_int16(w, 13); tags(w, f);
  if (v >= 1) asx_kafka_write_int32(w, 7);
  tags(w, f);
}
static void check_api_versions(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_api_versions_response *a = &r->u.api_versions;
  cr_assert_eq(a->api_key_count, 2);
  cr_assert_eq(a->api_keys[0].api_key, 3);
  cr_assert_eq(a->api_keys[0].max_version, 12);
  cr_assert_eq(a->api_keys[1].min_version, 4);
  cr_assert_eq(a->throttle_time_ms, v >= 1 ? 7 : 0);
}

static void build_metadata(asx_kafka_writer *w, int16_t v, bool f) {
  if (v >= 3) asx_kafka_write_int32(w, 5);
  arr(w, f, 2);
  for (int i = 0; i < 2; i++) {
    asx_kafka_write_int32(w, i + 1);
    str(w, f, i ? "host-b" : "host-a");
    asx_kafka_write_int32(w, 9092 + i);
    if (v >= 1) str(w, f, i ? NULL : "rack-a");
    tags(w, f);
  }
  if (v >= 2) str(w, f, "cluster");
  if (v >= 1) asx_kafka_write_int32(w, 2);
  arr(w, f, 1);
  asx_kafka_write_int16(w, 0);
  str(w, f, "topic");
  if (v >= 10) {
    asx_kafka_uuid u;
    for (int i = 0; i < 16; i++) u.b[i] = (uint8_t)(i + 1);
    asx_kafka_write_uuid(w, &u);
  }
  if (v >= 1) asx_kafka_write_bool(w, true);
  arr(w, f, 2);
  for (int p = 0; p < 2; p++) {
    asx_kafka_write_int16(w, (int16_t)p);
    asx_kafka_write_int32(w, p);
    asx_kafka_write_int32(w, 1 + p);
    if (v >= 7) asx_kafka_write_int32(w, 11);
    arr(w, f, 2); asx_kafka_write_int32(w, 1); asx_kafka_write_int32(w, 2);
    arr(w, f, 1); asx_kafka_write_int32(w, 1 + p);
    if (v >= 5) { arr(w, f, 1); asx_kafka_write_int32(w, 2); }
    tags(w, f);
  }
  if (v >= 8) asx_kafka_write_int32(w, 123);
  tags(w, f);
  if (v >= 8 && v <= 10) asx_kafka_write_int32(w, 456);
  tags(w, f);
}
static void check_metadata(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_metadata_response *m = &r->u.metadata;
  cr_assert_eq(m->throttle_time_ms, v >= 3 ? 5 : 0);
  cr_assert_eq(m->broker_count, 2);
  cr_assert(asx_kafka_str_eq(m->brokers[1].host, "host-b"));
  cr_assert_eq(m->brokers[1].port, 9093);
  if (v >= 1) cr_assert(asx_kafka_str_eq(m->brokers[0].rack, "rack-a"));
  cr_assert_eq(m->brokers[1].rack.len, -1);
  if (v >= 2) cr_assert(asx_kafka_str_eq(m->cluster_id, "cluster"));
  else cr_assert_eq(m->cluster_id.len, -1);
  cr_assert_eq(m->controller_id, v >= 1 ? 2 : -1);
  cr_assert_eq(m->topic_count, 1);
  const asx_kafka_metadata_topic *t = &m->topics[0];
  cr_assert(asx_kafka_str_eq(t->name, "topic"));
  cr_assert_eq(t->topic_id.b[15], v >= 10 ? 16 : 0);
  cr_assert_eq(t->is_internal, v >= 1);
  cr_assert_eq(t->partition_count, 2);
  cr_assert_eq(t->partitions[1].error_code, 1);
  cr_assert_eq(t->partitions[1].leader_id, 2);
  cr_assert_eq(t->partitions[1].leader_epoch, v >= 7 ? 11 : -1);
  cr_assert_eq(t->partitions[1].replica_nodes.count, 2);
  cr_assert_eq(t->partitions[1].replica_nodes.items[1], 2);
  cr_assert_eq(t->partitions[1].isr_nodes.items[0], 2);
  cr_assert_eq(t->partitions[1].offline_replicas.count, v >= 5 ? 1 : 0);
  cr_assert_eq(t->topic_authorized_operations, v >= 8 ? 123 : INT32_MIN);
  cr_assert_eq(m->cluster_authorized_operations, (v >= 8 && v <= 10) ? 456 : INT32_MIN);
}

static void build_produce(asx_kafka_writer *w, int16_t v, bool f) {
  arr(w, f, 1);
  str(w, f, "topic");
  arr(w, f, 1);
  asx_kafka_write_int32(w, 3);
  asx_kafka_write_int16(w, 0);
  asx_kafka_write_int64(w, 77);
  if (v >= 2) asx_kafka_write_int64(w, 1234);
  if (v >= 5) asx_kafka_write_int64(w, 5);
  if (v >= 8) {
    arr(w, f, 1);
    asx_kafka_write_int32(w, 0);
    str(w, f, "bad record");
    tags(w, f);
    str(w, f, NULL);
  }
  tags(w, f);
  tags(w, f);
  if (v >= 1) asx_kafka_write_int32(w, 9);
  tags(w, f);
}
static void check_produce(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_produce_response *p = &r->u.produce;
  cr_assert_eq(p->topic_count, 1);
  cr_assert(asx_kafka_str_eq(p->topics[0].name, "topic"));
  const asx_kafka_produce_partition_response *pp = &p->topics[0].partitions[0];
  cr_assert_eq(pp->index, 3);
  cr_assert_eq(pp->base_offset, 77);
  cr_assert_eq(pp->log_append_time_ms, v >= 2 ? 1234 : -1);
  cr_assert_eq(pp->log_start_offset, v >= 5 ? 5 : -1);
  cr_assert_eq(pp->record_error_count, v >= 8 ? 1 : 0);
  if (v >= 8) cr_assert(asx_kafka_str_eq(pp->record_errors[0].message, "bad record"));
  cr_assert_eq(pp->error_message.len, -1);
  cr_assert_eq(p->throttle_time_ms, v >= 1 ? 9 : 0);
}

static void build_fetch(asx_kafka_writer *w, int16_t v, bool f) {
  if (v >= 1) asx_kafka_write_int32(w, 1);
  if (v >= 7) {
    asx_kafka_write_int16(w, 0);
    asx_kafka_write_int32(w, 99);
  }
  arr(w, f, 1);
  if (v >= 13) {
    asx_kafka_uuid u;
    for (int i = 0; i < 16; i++) u.b[i] = (uint8_t)(0xa0 + i);
    asx_kafka_write_uuid(w, &u);
  } else {
    str(w, f, "topic");
  }
  arr(w, f, 1);
  asx_kafka_write_int32(w, 0);
  asx_kafka_write_int16(w, 0);
  asx_kafka_write_int64(w, 10);
  if (v >= 4) asx_kafka_write_int64(w, 8);
  if (v >= 5) asx_kafka_write_int64(w, 2);
  if (v >= 4) {
    arr(w, f, 1);
    asx_kafka_write_int64(w, 500);
    asx_kafka_write_int64(w, 6);
    tags(w, f);
  }
  if (v >= 11) asx_kafka_write_int32(w, 3);
  asx_kafka_write_bytes(w, f, true, "RECORDS", 7);
  tags(w, f);
  tags(w, f);
  tags(w, f);
}
static void check_fetch(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_fetch_response *fr = &r->u.fetch;
  cr_assert_eq(fr->throttle_time_ms, v >= 1 ? 1 : 0);
  cr_assert_eq(fr->session_id, v >= 7 ? 99 : 0);
  if (v >= 13) {
    cr_assert_eq(fr->topics[0].topic.len, -1);
    cr_assert_eq(fr->topics[0].topic_id.b[15], 0xaf);
  } else {
    cr_assert(asx_kafka_str_eq(fr->topics[0].topic, "topic"));
  }
  const asx_kafka_fetch_partition_response *p = &fr->topics[0].partitions[0];
  cr_assert_eq(p->high_watermark, 10);
  cr_assert_eq(p->last_stable_offset, v >= 4 ? 8 : -1);
  cr_assert_eq(p->log_start_offset, v >= 5 ? 2 : -1);
  cr_assert_eq(p->aborted_count, v >= 4 ? 1 : -1);
  if (v >= 4) cr_assert_eq(p->aborted[0].producer_id, 500);
  cr_assert_eq(p->preferred_read_replica, v >= 11 ? 3 : -1);
  cr_assert_eq(p->records.len, 7);
  cr_assert_eq(memcmp(p->records.ptr, "RECORDS", 7), 0);
}

static void build_list_offsets(asx_kafka_writer *w, int16_t v, bool f) {
  if (v >= 2) asx_kafka_write_int32(w, 4);
  arr(w, f, 1);
  str(w, f, "topic");
  arr(w, f, 1);
  asx_kafka_write_int32(w, 0);
  asx_kafka_write_int16(w, 0);
  if (v == 0) {
    arr(w, f, 2);
    asx_kafka_write_int64(w, 30);
    asx_kafka_write_int64(w, 0);
  } else {
    asx_kafka_write_int64(w, -1);
    asx_kafka_write_int64(w, 30);
  }
  if (v >= 4) asx_kafka_write_int32(w, 6);
  tags(w, f);
  tags(w, f);
  tags(w, f);
}
static void check_list_offsets(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_list_offsets_partition_response *p = &r->u.list_offsets.topics[0].partitions[0];
  cr_assert_eq(r->u.list_offsets.throttle_time_ms, v >= 2 ? 4 : 0);
  if (v == 0) {
    cr_assert_eq(p->old_style_offset_count, 2);
    cr_assert_eq(p->old_style_offsets[0], 30);
  } else {
    cr_assert_eq(p->offset, 30);
    cr_assert_eq(p->timestamp, -1);
  }
  cr_assert_eq(p->leader_epoch, v >= 4 ? 6 : -1);
}

static void build_find_coordinator(asx_kafka_writer *w, int16_t v, bool f) {
  if (v >= 1) asx_kafka_write_int32(w, 2);
  if (v <= 3) {
    asx_kafka_write_int16(w, 0);
    if (v >= 1) str(w, f, NULL);
    asx_kafka_write_int32(w, 4);
    str(w, f, "coord");
    asx_kafka_write_int32(w, 9094);
  } else {
    arr(w, f, 2);
    for (int i = 0; i < 2; i++) {
      str(w, f, i ? "group-b" : "group-a");
      asx_kafka_write_int32(w, 4 + i);
      str(w, f, "coord");
      asx_kafka_write_int32(w, 9094);
      asx_kafka_write_int16(w, (int16_t)(i * 15));
      str(w, f, i ? "not available" : NULL);
      tags(w, f);
    }
  }
  tags(w, f);
}
static void check_find_coordinator(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_find_coordinator_response *c = &r->u.find_coordinator;
  cr_assert_eq(c->throttle_time_ms, v >= 1 ? 2 : 0);
  if (v <= 3) {
    cr_assert_eq(c->error_message.len, -1);
    cr_assert_eq(c->node_id, 4);
    cr_assert(asx_kafka_str_eq(c->host, "coord"));
    cr_assert_eq(c->port, 9094);
    cr_assert_eq(c->coordinator_count, 0);
  } else {
    cr_assert_eq(c->coordinator_count, 2);
    cr_assert(asx_kafka_str_eq(c->coordinators[1].key, "group-b"));
    cr_assert_eq(c->coordinators[1].node_id, 5);
    cr_assert(asx_kafka_str_eq(c->coordinators[1].host, "coord"));
    cr_assert_eq(c->coordinators[1].error_code, 15);
    cr_assert(asx_kafka_str_eq(c->coordinators[1].error_message, "not available"));
    cr_assert_eq(c->coordinators[0].error_message.len, -1);
  }
}

static void build_offset_commit(asx_kafka_writer *w, int16_t v, bool f) {
  if (v >= 3) asx_kafka_write_int32(w, 3);
  arr(w, f, 1);
  str(w, f, "topic");
  arr(w, f, 2);
  for (int i = 0; i < 2; i++) {
    asx_kafka_write_int32(w, i);
    asx_kafka_write_int16(w, (int16_t)(i * 25));
    tags(w, f);
  }
  tags(w, f);
  tags(w, f);
}
static void check_offset_commit(const asx_kafka_response *r, int16_t v) {
  cr_assert_eq(r->u.offset_commit.throttle_time_ms, v >= 3 ? 3 : 0);
  cr_assert_eq(r->u.offset_commit.topics[0].partition_count, 2);
  cr_assert_eq(r->u.offset_commit.topics[0].partitions[1].error_code, 25);
}

static void build_offset_fetch_topics(asx_kafka_writer *w, int16_t v, bool f) {
  arr(w, f, 1);
  str(w, f, "topic");
  arr(w, f, 1);
  asx_kafka_write_int32(w, 0);
  asx_kafka_write_int64(w, 42);
  if (v >= 5) asx_kafka_write_int32(w, 8);
  str(w, f, "meta");
  asx_kafka_write_int16(w, 0);
  tags(w, f);
  tags(w, f);
}
static void build_offset_fetch(asx_kafka_writer *w, int16_t v, bool f) {
  if (v >= 3) asx_kafka_write_int32(w, 3);
  if (v >= 8) {
    arr(w, f, 2);
    for (int g = 0; g < 2; g++) {
      str(w, f, g ? "group-b" : "group-a");
      build_offset_fetch_topics(w, v, f);
      asx_kafka_write_int16(w, (int16_t)(g * 16));
      tags(w, f);
    }
  } else {
    build_offset_fetch_topics(w, v, f);
    if (v >= 2) asx_kafka_write_int16(w, 16);
  }
  tags(w, f);
}
static void check_offset_fetch_topics(const asx_kafka_offset_fetch_topic_response *t, int32_t n,
                                      int16_t v) {
  cr_assert_eq(n, 1);
  cr_assert(asx_kafka_str_eq(t[0].name, "topic"));
  cr_assert_eq(t[0].partitions[0].committed_offset, 42);
  cr_assert_eq(t[0].partitions[0].committed_leader_epoch, v >= 5 ? 8 : -1);
  cr_assert(asx_kafka_str_eq(t[0].partitions[0].metadata, "meta"));
}
static void check_offset_fetch(const asx_kafka_response *r, int16_t v) {
  const asx_kafka_offset_fetch_response *o = &r->u.offset_fetch;
  cr_assert_eq(o->throttle_time_ms, v >= 3 ? 3 : 0);
  if (v >= 8) {
    cr_assert_eq(o->topic_count, 0);
    cr_assert_eq(o->group_count, 2);
    cr_assert(asx_kafka_str_eq(o->groups[1].group_id, "group-b"));
    cr_assert_eq(o->groups[1].error_code, 16);
    check_offset_fetch_topics(o->groups[1].topics, o->groups[1].topic_count, v);
  } else {
    cr_assert_eq(o->group_count, 0);
    check_offset_fetch_topics(o->topics, o->topic_count, v);
    cr_assert_eq(o->error_code, v >= 2 ? 16 : 0);
  }
}

static const struct {
  int16_t key;
  build_fn build;
  check_fn check;
} apis[] = {
    {ASX_KAFKA_API_VERSIONS, build_api_versions, check_api_versions},
    {ASX_KAFKA_METADATA, build_metadata, check_metadata},
    {ASX_KAFKA_PRODUCE, build_produce, check_produce},
    {ASX_KAFKA_FETCH, build_fetch, check_fetch},
    {ASX_KAFKA_LIST_OFFSETS, build_list_offsets, check_list_offsets},
    {ASX_KAFKA_FIND_COORDINATOR, build_find_coordinator, check_find_coordinator},
    {ASX_KAFKA_OFFSET_COMMIT, build_offset_commit, check_offset_commit},
    {ASX_KAFKA_OFFSET_FETCH, build_offset_fetch, check_offset_fetch},
};
#define NAPIS (sizeof apis / sizeof apis[0])

static void build_body(size_t api, int16_t v, asx_buf *body) {
  asx_buf_init(body, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, body);
  apis[api].build(&w, v, asx_kafka_is_flexible(apis[api].key, v));
  cr_assert_eq(w.err, 0);
}

Test(kafka_apis, every_response_version_decodes, .timeout = 60) {
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  for (size_t a = 0; a < NAPIS; a++) {
    int16_t key = apis[a].key;
    for (int16_t v = (int16_t)asx_kafka_api_min_version(key); v <= asx_kafka_api_max_version(key); v++) {
      asx_buf body;
      build_body(a, v, &body);
      const char *dir = getenv("ASX_KAFKA_CAPTURE"); /* seeds for fuzz_kafka_response */
      if (dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/built_api%d_v%d", dir, key, v);
        FILE *f = fopen(path, "wb");
        if (f) {
          uint8_t sel = kafka_fuzz_selector(key, v);
          fwrite(&sel, 1, 1, f);
          fwrite(body.data, 1, body.len, f);
          fclose(f);
        }
      }
      asx_kafka_response r;
      int rc = asx_kafka_decode_response_body(d, key, v, body.data, body.len, &r);
      cr_assert_eq(rc, 0, "api %d v%d: %s", key, v, asx_kafka_decoder_error_message(d));
      apis[a].check(&r, v);
      /* Every truncation is an error (all fields are mandatory), one extra byte too. */
      for (size_t n = 0; n < body.len; n++) {
        rc = asx_kafka_decode_response_body(d, key, v, body.data, n, &r);
        cr_assert_eq(rc, ASX_EPROTO, "api %d v%d prefix %zu: %d", key, v, n, rc);
        cr_assert_neq(asx_kafka_decoder_error_message(d)[0], '\0');
      }
      asx_buf_append_byte(&body, 0);
      cr_assert_eq(asx_kafka_decode_response_body(d, key, v, body.data, body.len, &r), ASX_EPROTO);
      cr_assert(strstr(asx_kafka_decoder_error_message(d), "trailing"));
      asx_buf_free(&body);
      asx_kafka_decoder_reset(d);
    }
  }
  asx_kafka_response r;
  cr_assert_eq(asx_kafka_decode_response_body(d, 42, 0, (const uint8_t *)"", 0, &r), ASX_EUNSUPPORTED);
  cr_assert_eq(asx_kafka_decode_response_body(d, ASX_KAFKA_FETCH, 17, (const uint8_t *)"", 0, &r),
               ASX_EUNSUPPORTED);
  asx_kafka_decoder_free(d);
}

/* Frames every response (size, correlation id, header tags where flexible, body), splits the
 * stream at every offset, assembles it with the framer and decodes it via the tracker. */
Test(kafka_apis, every_response_split_at_every_offset, .timeout = 60) {
  asx_kafka_decoder *d;
  asx_kafka_tracker *t;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  cr_assert_eq(asx_kafka_tracker_new(&t, 4, NULL), 0);
  for (size_t a = 0; a < NAPIS; a++) {
    int16_t key = apis[a].key;
    int16_t versions[2] = {(int16_t)asx_kafka_api_min_version(key), (int16_t)asx_kafka_api_max_version(key)};
    for (int vi = 0; vi < 2; vi++) {
      int16_t v = versions[vi];
      asx_buf body, stream;
      build_body(a, v, &body);
      asx_buf_init(&stream, NULL, 0);
      asx_kafka_writer w;
      asx_kafka_writer_init(&w, &stream);
      bool hv1 = asx_kafka_response_header_version(key, v) == 1;
      asx_kafka_write_int32(&w, (int32_t)(body.len + 4 + (hv1 ? 1 : 0)));
      size_t id_at = stream.len;
      asx_kafka_write_int32(&w, 0);
      if (hv1) asx_kafka_write_empty_tags(&w);
      asx_kafka_write_raw(&w, body.data, body.len);
      for (size_t split = 0; split <= stream.len; split++) {
        int32_t id;
        cr_assert_eq(asx_kafka_tracker_begin(t, key, v, &id), 0);
        stream.data[id_at] = (uint8_t)(id >> 24);
        stream.data[id_at + 1] = (uint8_t)(id >> 16);
        stream.data[id_at + 2] = (uint8_t)(id >> 8);
        stream.data[id_at + 3] = (uint8_t)id;
        asx_kafka_framer *f;
        cr_assert_eq(asx_kafka_framer_new(&f, 0, NULL), 0);
        size_t used1, used2;
        int rc = asx_kafka_framer_feed(f, stream.data, split, &used1);
        cr_assert_eq(rc, split == stream.len ? 0 : ASX_EAGAIN);
        cr_assert_eq(used1, split);
        rc = asx_kafka_framer_feed(f, stream.data + split, stream.len - split, &used2);
        cr_assert_eq(rc, 0);
        const uint8_t *frame;
        size_t flen;
        cr_assert_eq(asx_kafka_framer_frame(f, &frame, &flen), 0);
        asx_kafka_response r;
        rc = asx_kafka_decode_response(d, t, frame, flen, &r);
        cr_assert_eq(rc, 0, "api %d v%d split %zu: %s", key, v, split, asx_kafka_decoder_error_message(d));
        cr_assert_eq(r.correlation_id, id);
        cr_assert_eq(r.api_key, key);
        apis[a].check(&r, v);
        /* The id was consumed: the same response again is unknown. */
        cr_assert_eq(asx_kafka_decode_response(d, t, frame, flen, &r), ASX_ENOTFOUND);
        cr_assert(strstr(asx_kafka_decoder_error_message(d), "correlation_id"));
        asx_kafka_framer_free(f);
        asx_kafka_decoder_reset(d);
      }
      asx_buf_free(&stream);
      asx_buf_free(&body);
    }
  }
  cr_assert_eq(asx_kafka_tracker_pending(t), 0);
  asx_kafka_tracker_free(t);
  asx_kafka_decoder_free(d);
}

/* A v3 ApiVersions request answered in the v0 layout with UNSUPPORTED_VERSION (what brokers do):
 * decoded as v0 so the client can read the supported range and retry. */
Test(kafka_apis, api_versions_unsupported_version_fallback, .timeout = 60) {
  uint8_t body[32];
  size_t n = unhex("0023 00000001 0012 0000 0002", body);
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  asx_kafka_api_versions_response r;
  cr_assert_eq(asx_kafka_decode_api_versions_response(d, 3, body, n, &r), 0);
  cr_assert_eq(r.error_code, 35);
  cr_assert_eq(r.api_key_count, 1);
  cr_assert_eq(r.api_keys[0].max_version, 2);
  asx_kafka_decoder_free(d);
}

static int decode_metadata_with(asx_kafka_limits lim, int16_t v, char *msg, size_t msglen) {
  asx_buf body;
  build_body(1, v, &body);
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, &lim, NULL), 0);
  asx_kafka_metadata_response m;
  int rc = asx_kafka_decode_metadata_response(d, v, body.data, body.len, &m);
  snprintf(msg, msglen, "%s", asx_kafka_decoder_error_message(d));
  asx_kafka_decoder_free(d);
  asx_buf_free(&body);
  return rc;
}

Test(kafka_apis, response_limits_at_boundaries, .timeout = 60) {
  char msg[256];
  asx_buf body;
  build_body(1, 12, &body);
  size_t len = body.len;
  asx_buf_free(&body);
  asx_kafka_limits lim = asx_kafka_limits_default();
  lim.max_response_size = len + 1;
  cr_assert_eq(decode_metadata_with(lim, 12, msg, sizeof msg), 0);
  lim.max_response_size = len;
  cr_assert_eq(decode_metadata_with(lim, 12, msg, sizeof msg), 0);
  lim.max_response_size = len - 1;
  cr_assert_eq(decode_metadata_with(lim, 12, msg, sizeof msg), ASX_ELIMIT);
  cr_assert(strstr(msg, "max_response_size"), "%s", msg);

  /* Two brokers, two partitions, two replicas: arrays at 3 / 2 / 1. */
  lim = asx_kafka_limits_default();
  lim.max_array_elements = 3;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), 0);
  lim.max_array_elements = 2;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), 0);
  lim.max_array_elements = 1;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), ASX_ELIMIT);
  cr_assert(strstr(msg, "brokers") && strstr(msg, "max_array_elements"), "%s", msg);

  /* Longest string is "cluster" (7). */
  lim = asx_kafka_limits_default();
  lim.max_string_length = 8;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), 0);
  lim.max_string_length = 7;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), 0);
  lim.max_string_length = 6;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), ASX_ELIMIT);
  cr_assert(strstr(msg, "cluster_id"), "%s", msg);

  /* One unknown tag per structure. */
  lim = asx_kafka_limits_default();
  lim.max_tagged_fields = 2;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), 0);
  lim.max_tagged_fields = 1;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), 0);
  lim.max_tagged_fields = 0;
  cr_assert_eq(decode_metadata_with(lim, 9, msg, sizeof msg), ASX_ELIMIT);
  cr_assert(strstr(msg, "tags"), "%s", msg);
}

Test(kafka_apis, negative_lengths_in_responses_name_the_field, .timeout = 60) {
  /* FindCoordinator v1 with host length -5. */
  uint8_t body[64];
  size_t n = unhex("00000000 0000 ffff 00000004 fffb 00002386", body);
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  asx_kafka_find_coordinator_response r;
  cr_assert_eq(asx_kafka_decode_find_coordinator_response(d, 1, body, n, &r), ASX_EPROTO);
  cr_assert(strstr(asx_kafka_decoder_error_message(d), "host"), "%s", asx_kafka_decoder_error_message(d));
  /* Metadata v1 with a broker array of -7 elements. */
  n = unhex("fffffff9", body);
  asx_kafka_metadata_response m;
  cr_assert_eq(asx_kafka_decode_metadata_response(d, 1, body, n, &m), ASX_EPROTO);
  cr_assert(strstr(asx_kafka_decoder_error_message(d), "brokers"));
  /* Fetch v4 records length -2. */
  n = unhex("00000000 00000001 000174 00000001 00000000 0000 0000000000000000 0000000000000000 "
            "ffffffff fffffffe", body);
  asx_kafka_fetch_response fr;
  cr_assert_eq(asx_kafka_decode_fetch_response(d, 4, body, n, &fr), ASX_EPROTO);
  cr_assert(strstr(asx_kafka_decoder_error_message(d), "records"), "%s", asx_kafka_decoder_error_message(d));
  asx_kafka_decoder_free(d);
}

Test(kafka_apis, failing_allocator_over_every_decode_allocation, .timeout = 60) {
  for (size_t a = 0; a < NAPIS; a++) {
    int16_t key = apis[a].key;
    int16_t v = (int16_t)asx_kafka_api_max_version(key);
    asx_buf body;
    build_body(a, v, &body);
    for (long fail = 0;; fail++) {
      test_alloc ta;
      test_alloc_init(&ta);
      test_alloc_fail_after(&ta, fail);
      asx_kafka_decoder *d = NULL;
      int rc = asx_kafka_decoder_new(&d, NULL, &ta.base);
      if (rc) {
        cr_assert_eq(rc, ASX_ENOMEM);
        cr_assert_eq(ta.live, 0);
        continue;
      }
      asx_kafka_response r;
      rc = asx_kafka_decode_response_body(d, key, v, body.data, body.len, &r);
      if (rc == 0) apis[a].check(&r, v);
      else cr_assert_eq(rc, ASX_ENOMEM, "api %d fail %ld: %d", key, fail, rc);
      /* Consistent afterwards: the same decode succeeds once memory is back. */
      test_alloc_fail_after(&ta, -1);
      asx_kafka_decoder_reset(d);
      cr_assert_eq(asx_kafka_decode_response_body(d, key, v, body.data, body.len, &r), 0);
      asx_kafka_decoder_free(d);
      cr_assert_eq(ta.live, 0, "leak api %d fail %ld", key, fail);
      if (ta.failures == 0) break;
    }
    asx_buf_free(&body);
  }
}

/* Fuzz every Kafka response decoder. Input: byte 0 selects the API (high nibble, index into the
 * table below) and version (low nibble, modulo the supported range); the rest is the response
 * body. Successful decodes are walked completely (so ASan sees any out-of-bounds slice) and every
 * Fetch record set is run through the record batch decoder. The input is also pushed through the
 * framer one byte at a time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/kafka.h"

static const int16_t apis[8] = {18, 3, 0, 1, 2, 10, 8, 9};
static volatile uint32_t sink;

static void touch_str(asx_kafka_str s) {
  if (s.len < 0) return;
  for (int32_t i = 0; i < s.len; i++) sink += (uint8_t)s.ptr[i];
}

static void touch_bytes(asx_kafka_bytes b) {
  if (b.len < 0) return;
  for (int32_t i = 0; i < b.len; i++) sink += b.ptr[i];
}

static void touch_i32(asx_kafka_int32_array a) {
  for (int32_t i = 0; i < a.count; i++) sink += (uint32_t)a.items[i];
}

static void walk_records(asx_kafka_decoder *d, asx_kafka_bytes recs) {
  size_t off = 0;
  while (recs.len > 0 && off < (size_t)recs.len) {
    asx_kafka_record_batch b;
    size_t used = 0;
    if (asx_kafka_record_batch_decode(d, recs.ptr + off, (size_t)recs.len - off, &b, &used)) break;
    for (int32_t i = 0; i < b.record_count; i++) {
      touch_bytes(b.records[i].key);
      touch_bytes(b.records[i].value);
      for (int32_t h = 0; h < b.records[i].header_count; h++) {
        touch_bytes(b.records[i].headers[h].key);
        touch_bytes(b.records[i].headers[h].value);
      }
    }
    if (used == 0) abort(); /* success must consume bytes, else callers loop forever */
    off += used;
  }
}

static void walk(asx_kafka_decoder *d, const asx_kafka_response *r) {
  switch (r->api_key) {
    case 18:
      for (int32_t i = 0; i < r->u.api_versions.api_key_count; i++)
        sink += (uint16_t)r->u.api_versions.api_keys[i].max_version;
      break;
    case 3: {
      const asx_kafka_metadata_response *m = &r->u.metadata;
      for (int32_t i = 0; i < m->broker_count; i++) {
        touch_str(m->brokers[i].host);
        touch_str(m->brokers[i].rack);
      }
      touch_str(m->cluster_id);
      for (int32_t i = 0; i < m->topic_count; i++) {
        touch_str(m->topics[i].name);
        for (int32_t j = 0; j < m->topics[i].partition_count; j++) {
          touch_i32(m->topics[i].partitions[j].replica_nodes);
          touch_i32(m->topics[i].partitions[j].isr_nodes);
          touch_i32(m->topics[i].partitions[j].offline_replicas);
        }
      }
      break;
    }
    case 0:
      for (int32_t i = 0; i < r->u.produce.topic_count; i++) {
        touch_str(r->u.produce.topics[i].name);
        for (int32_t j = 0; j < r->u.produce.topics[i].partition_count; j++) {
          const asx_kafka_produce_partition_response *p = &r->u.produce.topics[i].partitions[j];
          touch_str(p->error_message);
          for (int32_t k = 0; k < p->record_error_count; k++) touch_str(p->record_errors[k].message);
        }
      }
      break;
    case 1:
      for (int32_t i = 0; i < r->u.fetch.topic_count; i++) {
        touch_str(r->u.fetch.topics[i].topic);
        for (int32_t j = 0; j < r->u.fetch.topics[i].partition_count; j++) {
          const asx_kafka_fetch_partition_response *p = &r->u.fetch.topics[i].partitions[j];
          for (int32_t k = 0; k < p->aborted_count; k++) sink += (uint32_t)p->aborted[k].producer_id;
          walk_records(d, p->records);
        }
      }
      break;
    case 2:
      for (int32_t i = 0; i < r->u.list_offsets.topic_count; i++) {
        touch_str(r->u.list_offsets.topics[i].name);
        for (int32_t j = 0; j < r->u.list_offsets.topics[i].partition_count; j++) {
          const asx_kafka_list_offsets_partition_response *p = &r->u.list_offsets.topics[i].partitions[j];
          for (int32_t k = 0; k < p->old_style_offset_count; k++) sink += (uint32_t)p->old_style_offsets[k];
        }
      }
      break;
    case 10:
      touch_str(r->u.find_coordinator.error_message);
      touch_str(r->u.find_coordinator.host);
      for (int32_t i = 0; i < r->u.find_coordinator.coordinator_count; i++) {
        touch_str(r->u.find_coordinator.coordinators[i].key);
        touch_str(r->u.find_coordinator.coordinators[i].host);
        touch_str(r->u.find_coordinator.coordinators[i].error_message);
      }
      break;
    case 8:
      for (int32_t i = 0; i < r->u.offset_commit.topic_count; i++) {
        touch_str(r->u.offset_commit.topics[i].name);
        for (int32_t j = 0; j < r->u.offset_commit.topics[i].partition_count; j++)
          sink += (uint16_t)r->u.offset_commit.topics[i].partitions[j].error_code;
      }
      break;
    case 9:
      for (int32_t i = 0; i < r->u.offset_fetch.topic_count; i++) {
        touch_str(r->u.offset_fetch.topics[i].name);
        for (int32_t j = 0; j < r->u.offset_fetch.topics[i].partition_count; j++)
          touch_str(r->u.offset_fetch.topics[i].partitions[j].metadata);
      }
      for (int32_t g = 0; g < r->u.offset_fetch.group_count; g++) {
        const asx_kafka_offset_fetch_group_response *gr = &r->u.offset_fetch.groups[g];
        touch_str(gr->group_id);
        for (int32_t i = 0; i < gr->topic_count; i++)
          for (int32_t j = 0; j < gr->topics[i].partition_count; j++)
            touch_str(gr->topics[i].partitions[j].metadata);
      }
      break;
    default: abort(); /* the decoder reported success for an API it does not know */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int16_t key = apis[(data[0] >> 4) & 7];
  int min = asx_kafka_api_min_version(key), max = asx_kafka_api_max_version(key);
  int16_t version = (int16_t)(min + (data[0] & 15) % (max - min + 1));
  asx_kafka_limits lim = asx_kafka_limits_default();
  lim.max_record_batch_size = 256 * 1024; /* keep bombs cheap */
  asx_kafka_decoder *d = NULL;
  if (asx_kafka_decoder_new(&d, &lim, NULL)) return 0;
  asx_kafka_response resp;
  int rc = asx_kafka_decode_response_body(d, key, version, data + 1, size - 1, &resp);
  if (rc == 0) {
    walk(d, &resp);
  } else if (asx_kafka_decoder_error_message(d)[0] == '\0') {
    abort(); /* every failure must explain itself */
  }
  asx_kafka_decoder_free(d);

  /* Response header v1 (correlation id + tags) over the same bytes. */
  int32_t id;
  size_t hlen = 0;
  if (asx_kafka_response_header_decode(data + 1, size - 1, 1, &id, &hlen) == 0 && hlen > size - 1)
    abort();

  /* The framer must accept the same bytes fed one at a time as in one piece. */
  asx_kafka_framer *f = NULL;
  if (asx_kafka_framer_new(&f, 4096, NULL) == 0) {
    size_t off = 0;
    int frc = ASX_EAGAIN;
    while (off < size && frc == ASX_EAGAIN) {
      size_t used = 0;
      frc = asx_kafka_framer_feed(f, data + off, 1, &used);
      off += used;
      if (used == 0 && frc == ASX_EAGAIN) abort();
    }
    asx_kafka_framer *g = NULL;
    if (asx_kafka_framer_new(&g, 4096, NULL) == 0) {
      size_t used2 = 0;
      int grc = asx_kafka_framer_feed(g, data, size, &used2);
      if (grc != frc || used2 != off) abort();
      asx_kafka_framer_free(g);
    }
    asx_kafka_framer_free(f);
  }
  return 0;
}

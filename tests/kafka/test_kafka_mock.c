/* Against a real peer: librdkafka's mock cluster. A plain blocking socket carries requests built by
 * our encoders; the real responses are framed and decoded by our decoders. A record batch encoded
 * here is produced and fetched back, proving byte compatibility with librdkafka's own parser.
 * With ASX_KAFKA_CAPTURE=DIR, every response body is saved as a fuzz seed. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "asx/kafka.h"
#include "kafka_fuzz_selector.h"

#define TOPIC "asx-mock-topic"
#define GROUP "asx-mock-group"

static rd_kafka_t *rk;
static rd_kafka_mock_cluster_t *mc;
static int fd = -1;
static asx_kafka_decoder *dec;
static asx_kafka_tracker *trk;
static asx_kafka_framer *fr;
static int16_t peer_max[64];
static uint8_t *frame_copy;
static size_t frame_copy_len;

static void connect_to(const char *bootstraps) {
  const char *colon = strrchr(bootstraps, ':');
  cr_assert(colon, "bootstraps %s", bootstraps);
  int port = atoi(colon + 1);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect %s", bootstraps);
}

static void setup(void) {
  char err[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  cr_assert(rk, "rd_kafka_new: %s", err);
  mc = rd_kafka_mock_cluster_new(rk, 1);
  cr_assert(mc);
  cr_assert_eq(rd_kafka_mock_topic_create(mc, TOPIC, 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  connect_to(rd_kafka_mock_cluster_bootstraps(mc));
  cr_assert_eq(asx_kafka_decoder_new(&dec, NULL, NULL), 0);
  cr_assert_eq(asx_kafka_tracker_new(&trk, 16, NULL), 0);
  cr_assert_eq(asx_kafka_framer_new(&fr, 0, NULL), 0);
  for (size_t i = 0; i < sizeof peer_max / sizeof peer_max[0]; i++) peer_max[i] = -1;
}

static void teardown(void) {
  free(frame_copy);
  frame_copy = NULL;
  if (fd >= 0) close(fd);
  fd = -1;
  asx_kafka_framer_free(fr);
  asx_kafka_tracker_free(trk);
  asx_kafka_decoder_free(dec);
  if (mc) rd_kafka_mock_cluster_destroy(mc);
  if (rk) rd_kafka_destroy(rk);
  mc = NULL;
  rk = NULL;
}

static void capture(int16_t key, int16_t version, const uint8_t *frame, size_t len) {
  const char *dir = getenv("ASX_KAFKA_CAPTURE");
  if (!dir) return;
  int hv = asx_kafka_response_header_version(key, version);
  size_t skip = hv == 1 ? 5 : 4; /* correlation id (+ empty tags) */
  if (len < skip) return;
  char path[512];
  snprintf(path, sizeof path, "%s/mock_api%d_v%d", dir, key, version);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  uint8_t sel = kafka_fuzz_selector(key, version);
  fwrite(&sel, 1, 1, f);
  fwrite(frame + skip, 1, len - skip, f);
  fclose(f);
}

/* Sends the frame in `req`, reads one response frame, decodes it into `resp`; returns the decode
 * result. */
static int exchange_rc(asx_buf *req, int16_t key, int16_t version, asx_kafka_response *resp) {
  size_t off = 0;
  while (off < req->len) {
    ssize_t n = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);
    cr_assert(n > 0, "send failed");
    off += (size_t)n;
  }
  asx_buf_reset(req);
  uint8_t buf[4096];
  int rc = ASX_EAGAIN;
  while (rc == ASX_EAGAIN) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    cr_assert(n > 0, "recv failed or timed out (api %d v%d)", key, version);
    size_t used = 0;
    rc = asx_kafka_framer_feed(fr, buf, (size_t)n, &used);
    cr_assert_eq(used, (size_t)n, "one response at a time");
  }
  cr_assert_eq(rc, 0);
  const uint8_t *frame;
  size_t len;
  cr_assert_eq(asx_kafka_framer_frame(fr, &frame, &len), 0);
  capture(key, version, frame, len);
  free(frame_copy);
  frame_copy = malloc(len ? len : 1);
  memcpy(frame_copy, frame, len);
  frame_copy_len = len;
  asx_kafka_framer_next(fr);
  return asx_kafka_decode_response(dec, trk, frame_copy, frame_copy_len, resp);
}

static void exchange(asx_buf *req, int16_t key, int16_t version, asx_kafka_response *resp) {
  int rc = exchange_rc(req, key, version, resp);
  cr_assert_eq(rc, 0, "decode api %d v%d: %s", key, version, asx_kafka_decoder_error_message(dec));
  cr_assert_eq(resp->api_key, key);
}

static asx_kafka_request_header begin(int16_t key, int16_t version) {
  asx_kafka_request_header h = {key, version, 0, "asx-test"};
  cr_assert_eq(asx_kafka_tracker_begin(trk, key, version, &h.correlation_id), 0);
  return h;
}

static int16_t negotiate(int16_t key) {
  int ours = asx_kafka_api_max_version(key);
  cr_assert(key < 64 && peer_max[key] >= 0, "peer does not offer api %d", key);
  return (int16_t)(peer_max[key] < ours ? peer_max[key] : ours);
}

/* librdkafka 2.0's mock broker implements ApiVersions v0-v2 (see the v3 test below). */
static void api_versions(asx_buf *req) {
  asx_kafka_request_header h = begin(ASX_KAFKA_API_VERSIONS, 2);
  asx_kafka_api_versions_request avr = {"asx-test", "0.1.0"};
  cr_assert_eq(asx_kafka_encode_api_versions_request(req, &h, &avr), 0);
  asx_kafka_response resp;
  exchange(req, ASX_KAFKA_API_VERSIONS, 2, &resp);
  const asx_kafka_api_versions_response *av = &resp.u.api_versions;
  cr_assert_eq(av->error_code, 0);
  cr_assert_gt(av->api_key_count, 8);
  for (int32_t i = 0; i < av->api_key_count; i++) {
    int16_t k = av->api_keys[i].api_key;
    if (k >= 0 && k < 64) peer_max[k] = av->api_keys[i].max_version;
  }
  asx_kafka_decoder_reset(dec);
}

TestSuite(kafka_mock, .init = setup, .fini = teardown, .timeout = 60);

Test(kafka_mock, api_versions_v0_to_v3, .timeout = 60) {
  asx_buf req;
  asx_buf_init(&req, NULL, 0);
  for (int16_t v = 0; v <= 2; v++) {
    asx_kafka_request_header h = begin(ASX_KAFKA_API_VERSIONS, v);
    cr_assert_eq(asx_kafka_encode_api_versions_request(&req, &h, NULL), 0);
    asx_kafka_response resp;
    exchange(&req, ASX_KAFKA_API_VERSIONS, v, &resp);
    cr_assert_eq(resp.u.api_versions.error_code, 0, "v%d error %d", v, resp.u.api_versions.error_code);
    bool has_fetch = false;
    for (int32_t i = 0; i < resp.u.api_versions.api_key_count; i++)
      if (resp.u.api_versions.api_keys[i].api_key == ASX_KAFKA_FETCH) has_fetch = true;
    cr_assert(has_fetch);
    asx_kafka_decoder_reset(dec);
  }
  cr_assert_eq(asx_kafka_tracker_pending(trk), 0);
  asx_buf_free(&req);
}

/* The mock answers an ApiVersions v3 request (beyond its v2 maximum) with UNSUPPORTED_VERSION in a
 * layout that is neither v0 nor v3; the decoder must reject or flag it (never crash), and the
 * connection must stay usable for a v2 retry, which is what librdkafka does. */
Test(kafka_mock, api_versions_v3_downgrade, .timeout = 60) {
  asx_buf req;
  asx_buf_init(&req, NULL, 0);
  asx_kafka_request_header h = begin(ASX_KAFKA_API_VERSIONS, 3);
  asx_kafka_api_versions_request avr = {"asx-test", "0.1.0"};
  cr_assert_eq(asx_kafka_encode_api_versions_request(&req, &h, &avr), 0);
  asx_kafka_response resp;
  int rc = exchange_rc(&req, ASX_KAFKA_API_VERSIONS, 3, &resp);
  cr_assert(rc != 0 || resp.u.api_versions.error_code == 35, "rc %d", rc);
  asx_kafka_decoder_reset(dec);
  api_versions(&req);
  cr_assert_eq(peer_max[ASX_KAFKA_API_VERSIONS], 2);
  asx_buf_free(&req);
}

Test(kafka_mock, metadata_every_version, .timeout = 60) {
  asx_buf req;
  asx_buf_init(&req, NULL, 0);
  api_versions(&req);
  int16_t max = negotiate(ASX_KAFKA_METADATA);
  for (int16_t v = 0; v <= max; v++) {
    const char *topics[] = {TOPIC};
    asx_kafka_metadata_request mr = {topics, 1, false, false, false};
    asx_kafka_request_header h = begin(ASX_KAFKA_METADATA, v);
    cr_assert_eq(asx_kafka_encode_metadata_request(&req, &h, &mr), 0);
    asx_kafka_response resp;
    exchange(&req, ASX_KAFKA_METADATA, v, &resp);
    const asx_kafka_metadata_response *m = &resp.u.metadata;
    cr_assert_eq(m->broker_count, 1, "v%d", v);
    cr_assert_gt(m->brokers[0].port, 0);
    cr_assert_eq(m->topic_count, 1, "v%d", v);
    cr_assert(asx_kafka_str_eq(m->topics[0].name, TOPIC), "v%d", v);
    cr_assert_eq(m->topics[0].error_code, 0);
    cr_assert_eq(m->topics[0].partition_count, 1);
    cr_assert_eq(m->topics[0].partitions[0].leader_id, m->brokers[0].node_id);
    cr_assert_eq(m->topics[0].partitions[0].replica_nodes.count, 1);
    asx_kafka_decoder_reset(dec);
  }
  asx_buf_free(&req);
}

/* Produces one batch encoded by asx, fetches it back and compares every record. */
static void produce_and_fetch(int codec) {
  asx_buf req, batch;
  asx_buf_init(&req, NULL, 0);
  asx_buf_init(&batch, NULL, 0);
  api_versions(&req);

  static const char *values[] = {"alpha", "beta", "gamma-gamma-gamma-gamma"};
  asx_kafka_record_header hdr[1] = {{{(const uint8_t *)"trace", 5}, {(const uint8_t *)"t-1", 3}}};
  asx_kafka_record recs[3];
  memset(recs, 0, sizeof recs);
  for (int i = 0; i < 3; i++) {
    recs[i].offset_delta = i;
    recs[i].timestamp_delta = i * 10;
    recs[i].key = i == 1 ? (asx_kafka_bytes){NULL, -1} : (asx_kafka_bytes){(const uint8_t *)"k", 1};
    recs[i].value = (asx_kafka_bytes){(const uint8_t *)values[i], (int32_t)strlen(values[i])};
    recs[i].headers = i == 2 ? hdr : NULL;
    recs[i].header_count = i == 2 ? 1 : 0;
  }
  asx_kafka_record_batch b;
  memset(&b, 0, sizeof b);
  b.attributes = (int16_t)codec;
  b.base_timestamp = 1700000000000;
  b.max_timestamp = 1700000000020;
  b.producer_id = -1;
  b.producer_epoch = -1;
  b.base_sequence = -1;
  b.records = recs;
  b.record_count = 3;
  cr_assert_eq(asx_kafka_record_batch_encode(&batch, &b, NULL), 0);

  int16_t pv = negotiate(ASX_KAFKA_PRODUCE);
  asx_kafka_produce_partition pp = {0, batch.data, batch.len};
  asx_kafka_produce_topic pt = {TOPIC, &pp, 1};
  asx_kafka_produce_request pr = {NULL, 1, 5000, &pt, 1};
  asx_kafka_request_header h = begin(ASX_KAFKA_PRODUCE, pv);
  cr_assert_eq(asx_kafka_encode_produce_request(&req, &h, &pr), 0);
  asx_kafka_response resp;
  exchange(&req, ASX_KAFKA_PRODUCE, pv, &resp);
  cr_assert_eq(resp.u.produce.topic_count, 1);
  cr_assert_eq(resp.u.produce.topics[0].partition_count, 1);
  cr_assert_eq(resp.u.produce.topics[0].partitions[0].error_code, 0, "produce error %d",
               resp.u.produce.topics[0].partitions[0].error_code);
  int64_t base = resp.u.produce.topics[0].partitions[0].base_offset;
  asx_kafka_decoder_reset(dec);

  int16_t fv = negotiate(ASX_KAFKA_FETCH);
  asx_kafka_fetch_partition fp = {0, -1, base, -1, -1, 1 << 20};
  asx_kafka_fetch_topic ft = {TOPIC, &fp, 1, {{0}}};
  asx_kafka_fetch_request fq;
  memset(&fq, 0, sizeof fq);
  fq.replica_id = -1;
  fq.max_wait_ms = 100;
  fq.min_bytes = 1;
  fq.max_bytes = 1 << 20;
  fq.session_epoch = -1;
  fq.topics = &ft;
  fq.topic_count = 1;
  h = begin(ASX_KAFKA_FETCH, fv);
  cr_assert_eq(asx_kafka_encode_fetch_request(&req, &h, &fq), 0);
  exchange(&req, ASX_KAFKA_FETCH, fv, &resp);
  const asx_kafka_fetch_response *f = &resp.u.fetch;
  cr_assert_eq(f->topic_count, 1);
  cr_assert_eq(f->topics[0].partition_count, 1);
  const asx_kafka_fetch_partition_response *p = &f->topics[0].partitions[0];
  cr_assert_eq(p->error_code, 0);
  cr_assert_geq(p->high_watermark, base + 3);
  cr_assert_gt(p->records.len, 0);
  asx_kafka_record_batch got;
  size_t used;
  cr_assert_eq(asx_kafka_record_batch_decode(dec, p->records.ptr, (size_t)p->records.len, &got,
                                             &used), 0, "%s", asx_kafka_decoder_error_message(dec));
  const char *dir = getenv("ASX_KAFKA_CAPTURE");
  if (dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/../fuzz_kafka_record_batch/mock_codec%d", dir, codec);
    FILE *out = fopen(path, "wb");
    if (out) {
      fwrite(p->records.ptr, 1, (size_t)p->records.len, out);
      fclose(out);
    }
  }
  cr_assert_eq(got.base_offset, base);
  cr_assert_eq(got.record_count, 3);
  cr_assert_eq(got.attributes & ASX_KAFKA_ATTR_CODEC_MASK, codec);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(got.records[i].value.len, (int32_t)strlen(values[i]));
    cr_assert_eq(memcmp(got.records[i].value.ptr, values[i], strlen(values[i])), 0);
    cr_assert_eq(got.records[i].key.len, i == 1 ? -1 : 1);
  }
  cr_assert_eq(got.records[2].header_count, 1);
  cr_assert_eq(memcmp(got.records[2].headers[0].key.ptr, "trace", 5), 0);
  asx_kafka_decoder_reset(dec);
  asx_buf_free(&req);
  asx_buf_free(&batch);
}

Test(kafka_mock, produce_fetch_uncompressed, .timeout = 60) { produce_and_fetch(ASX_KAFKA_CODEC_NONE); }
Test(kafka_mock, produce_fetch_gzip, .timeout = 60) { produce_and_fetch(ASX_KAFKA_CODEC_GZIP); }
Test(kafka_mock, produce_fetch_lz4, .timeout = 60) { produce_and_fetch(ASX_KAFKA_CODEC_LZ4); }
Test(kafka_mock, produce_fetch_zstd, .timeout = 60) { produce_and_fetch(ASX_KAFKA_CODEC_ZSTD); }

/* librdkafka's own producer writes a batch; our Fetch + record batch decoder read it. */
Test(kafka_mock, fetch_batch_produced_by_librdkafka, .timeout = 60) {
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, TOPIC, NULL);
  cr_assert(t);
  /* The producer handle that owns the mock cluster needs bootstrap servers to deliver. */
  char err[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err, sizeof err);
  rd_kafka_conf_set(conf, "compression.codec", "gzip", err, sizeof err);
  /* The batch layout must not depend on timing. With a short linger, a loaded machine made
   * librdkafka send a message on its own as soon as the linger expired, and a batch whose gzip
   * output is not smaller than its input goes out uncompressed (rdkafka_msgset_writer.c), so the
   * codec under test silently varied. A linger far beyond the test means nothing leaves before
   * rd_kafka_flush, which sends at once whatever the linger: one batch with all five records
   * (once the leader is known, below). */
  rd_kafka_conf_set(conf, "linger.ms", "60000", err, sizeof err);
  rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  cr_assert(prod, "%s", err);
  /* Messages produced while the partition's leader is still unknown were seen to leave in a
   * batch of their own at flush: learn the leader first. */
  rd_kafka_topic_t *pt = rd_kafka_topic_new(prod, TOPIC, NULL);
  cr_assert(pt);
  const struct rd_kafka_metadata *md = NULL;
  cr_assert_eq(rd_kafka_metadata(prod, 0, pt, &md, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  cr_assert(md->topic_cnt == 1 && md->topics[0].partition_cnt == 1 &&
            md->topics[0].partitions[0].leader >= 0);
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(pt);
  /* Repetitive values so that gzip pays off for any batch, even a single record (librdkafka
   * sends a batch uncompressed otherwise). */
  char pad[201];
  memset(pad, 'x', 200);
  pad[200] = 0;
  for (int i = 0; i < 5; i++) {
    char v[256];
    int n = snprintf(v, sizeof v, "librdkafka-%d-%s", i, pad);
    cr_assert_eq(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(0),
                                   RD_KAFKA_V_VALUE(v, (size_t)n), RD_KAFKA_V_KEY("key", 3),
                                   RD_KAFKA_V_HEADER("h", "hv", 2), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_END),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  cr_assert_eq(rd_kafka_flush(prod, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(prod);
  rd_kafka_topic_destroy(t);

  asx_buf req;
  asx_buf_init(&req, NULL, 0);
  api_versions(&req);
  int16_t fv = negotiate(ASX_KAFKA_FETCH);
  asx_kafka_fetch_partition fp = {0, -1, 0, -1, -1, 1 << 20};
  asx_kafka_fetch_topic ft = {TOPIC, &fp, 1, {{0}}};
  asx_kafka_fetch_request fq;
  memset(&fq, 0, sizeof fq);
  fq.replica_id = -1;
  fq.max_wait_ms = 100;
  fq.min_bytes = 1;
  fq.max_bytes = 1 << 20;
  fq.session_epoch = -1;
  fq.topics = &ft;
  fq.topic_count = 1;
  /* Should the producer still split the messages, the mock returns one message set per Fetch:
   * fetch from the next offset until all five are back (bounded), then insist on one batch. */
  int total = 0, batches = 0;
  for (int round = 0; round < 10 && total < 5; round++) {
    fp.fetch_offset = total;
    asx_kafka_request_header h = begin(ASX_KAFKA_FETCH, fv);
    cr_assert_eq(asx_kafka_encode_fetch_request(&req, &h, &fq), 0);
    asx_kafka_response resp;
    exchange(&req, ASX_KAFKA_FETCH, fv, &resp);
    asx_kafka_bytes recs = resp.u.fetch.topics[0].partitions[0].records;
    size_t off = 0;
    while (recs.len > 0 && off < (size_t)recs.len) {
      asx_kafka_record_batch b;
      size_t used = 0;
      int rc = asx_kafka_record_batch_decode(dec, recs.ptr + off, (size_t)recs.len - off, &b, &used);
      if (rc == ASX_EAGAIN) break;
      cr_assert_eq(rc, 0, "%s", asx_kafka_decoder_error_message(dec));
      int codec = b.attributes & ASX_KAFKA_ATTR_CODEC_MASK;
      cr_assert_eq(codec, ASX_KAFKA_CODEC_GZIP, "codec %d with %d records", codec, b.record_count);
      cr_assert_eq(b.base_offset, total);
      batches++;
      for (int32_t i = 0; i < b.record_count; i++) {
        char v[256];
        int n = snprintf(v, sizeof v, "librdkafka-%d-%s", total, pad);
        cr_assert_eq(b.records[i].value.len, n);
        cr_assert_eq(memcmp(b.records[i].value.ptr, v, (size_t)n), 0);
        cr_assert_eq(b.records[i].header_count, 1);
        total++;
      }
      off += used;
    }
    asx_kafka_decoder_reset(dec);
  }
  cr_assert_eq(total, 5);
  cr_assert_eq(batches, 1, "librdkafka split the five messages into %d batches", batches);
  asx_buf_free(&req);
}

Test(kafka_mock, list_offsets_coordinator_commit_fetch_offsets, .timeout = 60) {
  asx_buf req;
  asx_buf_init(&req, NULL, 0);
  api_versions(&req);
  asx_kafka_response resp;

  /* librdkafka 2.0's mock writes ListOffsets v4+ LeaderEpoch as an int64 (the schema says int32;
   * fixed in later librdkafka), which a strict decoder rejects as trailing bytes: test v0-v3 here,
   * v4+ with hand-built bytes in test_kafka_apis. */
  int16_t lv = negotiate(ASX_KAFKA_LIST_OFFSETS);
  if (lv > 3) lv = 3;
  for (int16_t v = 0; v <= lv; v++) {
    asx_kafka_list_offsets_partition lp = {0, -1, -1, 1};
    asx_kafka_list_offsets_topic lt = {TOPIC, &lp, 1};
    asx_kafka_list_offsets_request lr = {-1, 0, &lt, 1};
    asx_kafka_request_header h = begin(ASX_KAFKA_LIST_OFFSETS, v);
    cr_assert_eq(asx_kafka_encode_list_offsets_request(&req, &h, &lr), 0);
    exchange(&req, ASX_KAFKA_LIST_OFFSETS, v, &resp);
    cr_assert_eq(resp.u.list_offsets.topic_count, 1, "v%d", v);
    cr_assert_eq(resp.u.list_offsets.topics[0].partitions[0].error_code, 0, "v%d", v);
    asx_kafka_decoder_reset(dec);
  }

  int16_t cv = negotiate(ASX_KAFKA_FIND_COORDINATOR);
  for (int16_t v = 0; v <= cv; v++) {
    asx_kafka_find_coordinator_request fc = {GROUP, 0, NULL, 0};
    asx_kafka_request_header h = begin(ASX_KAFKA_FIND_COORDINATOR, v);
    cr_assert_eq(asx_kafka_encode_find_coordinator_request(&req, &h, &fc), 0);
    exchange(&req, ASX_KAFKA_FIND_COORDINATOR, v, &resp);
    cr_assert_eq(resp.u.find_coordinator.error_code, 0, "v%d", v);
    cr_assert_gt(resp.u.find_coordinator.port, 0);
    asx_kafka_decoder_reset(dec);
  }

  int16_t ov = negotiate(ASX_KAFKA_OFFSET_COMMIT);
  for (int16_t v = 0; v <= ov; v++) {
    asx_kafka_offset_commit_partition cp = {0, 40 + v, -1, -1, "meta"};
    asx_kafka_offset_commit_topic ct = {TOPIC, &cp, 1};
    asx_kafka_offset_commit_request oc = {GROUP, -1, "", NULL, -1, &ct, 1};
    asx_kafka_request_header h = begin(ASX_KAFKA_OFFSET_COMMIT, v);
    cr_assert_eq(asx_kafka_encode_offset_commit_request(&req, &h, &oc), 0);
    exchange(&req, ASX_KAFKA_OFFSET_COMMIT, v, &resp);
    cr_assert_eq(resp.u.offset_commit.topic_count, 1, "v%d", v);
    cr_assert_eq(resp.u.offset_commit.topics[0].partitions[0].error_code, 0, "v%d: error %d", v,
                 resp.u.offset_commit.topics[0].partitions[0].error_code);
    asx_kafka_decoder_reset(dec);
  }

  int16_t fv = negotiate(ASX_KAFKA_OFFSET_FETCH);
  for (int16_t v = 0; v <= fv; v++) {
    int32_t parts[] = {0};
    asx_kafka_offset_fetch_topic ft = {TOPIC, parts, 1};
    asx_kafka_offset_fetch_request of = {GROUP, &ft, 1, false, NULL, 0};
    asx_kafka_request_header h = begin(ASX_KAFKA_OFFSET_FETCH, v);
    cr_assert_eq(asx_kafka_encode_offset_fetch_request(&req, &h, &of), 0);
    exchange(&req, ASX_KAFKA_OFFSET_FETCH, v, &resp);
    const asx_kafka_offset_fetch_response *o = &resp.u.offset_fetch;
    cr_assert_eq(o->topic_count, 1, "v%d", v);
    cr_assert_eq(o->topics[0].partitions[0].error_code, 0);
    cr_assert_eq(o->topics[0].partitions[0].committed_offset, 40 + ov, "v%d", v);
    cr_assert(asx_kafka_str_eq(o->topics[0].partitions[0].metadata, "meta"));
    asx_kafka_decoder_reset(dec);
  }
  cr_assert_eq(asx_kafka_tracker_pending(trk), 0);
  asx_buf_free(&req);
}

/* Byte compatibility of request and record batch encoding with librdkafka. A listening socket
 * poses as a one-broker cluster; librdkafka connects (bootstrap connection, then one for broker 1)
 * and sends ApiVersions, Metadata and Produce. Each captured request is parsed for its parameters,
 * re-encoded by asx with the same parameters, and must be identical byte for byte (size prefix
 * included). The record batch inside the Produce request is decoded by asx and re-encoded: an
 * uncompressed batch must come out identical to librdkafka's. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asx/kafka.h"

#define MAXCONN 4
#define TOPIC "cap"

typedef struct conn {
  int fd;
  asx_kafka_framer *fr;
} conn;

static int lfd = -1, port;
static conn conns[MAXCONN];
static int nconns;
static rd_kafka_t *rk;

static void setup(void) {
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(lfd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  cr_assert_eq(listen(lfd, 4), 0);
  socklen_t sl = sizeof sa;
  cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
  port = ntohs(sa.sin_port);
  nconns = 0;
}

static void start_client(const char *codec) {
  char bootstrap[64], err[256];
  snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", port);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
  rd_kafka_conf_set(conf, "client.id", "asx-capture", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_conf_set(conf, "compression.codec", codec, err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof err);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  cr_assert(rk, "%s", err);
}

static void teardown(void) {
  for (int i = 0; i < nconns; i++) {
    close(conns[i].fd);
    asx_kafka_framer_free(conns[i].fr);
  }
  nconns = 0;
  if (lfd >= 0) close(lfd);
  lfd = -1;
  if (rk) {
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
  }
  rk = NULL;
}

/* Waits for the next complete request frame on any connection (accepting new ones); copies it to
 * out and returns the connection. */
static conn *next_frame(uint8_t *out, size_t cap, size_t *len) {
  for (int rounds = 0; rounds < 200; rounds++) {
    for (int i = 0; i < nconns; i++) {
      const uint8_t *body;
      size_t blen;
      if (asx_kafka_framer_frame(conns[i].fr, &body, &blen) == 0) {
        cr_assert_leq(blen, cap);
        memcpy(out, body, blen);
        *len = blen;
        asx_kafka_framer_next(conns[i].fr);
        return &conns[i];
      }
    }
    struct pollfd p[MAXCONN + 1];
    p[0] = (struct pollfd){lfd, POLLIN, 0};
    for (int i = 0; i < nconns; i++) p[i + 1] = (struct pollfd){conns[i].fd, POLLIN, 0};
    cr_assert_gt(poll(p, (nfds_t)nconns + 1, 10000), 0, "librdkafka went quiet");
    if (p[0].revents & POLLIN) {
      cr_assert_lt(nconns, MAXCONN);
      int fd = accept(lfd, NULL, NULL);
      cr_assert(fd >= 0);
      conns[nconns].fd = fd;
      cr_assert_eq(asx_kafka_framer_new(&conns[nconns].fr, 1 << 20, NULL), 0);
      nconns++;
    }
    for (int i = 0; i < nconns && i < (int)(sizeof p / sizeof p[0]) - 1; i++) {
      if (!(p[i + 1].revents & (POLLIN | POLLHUP))) continue;
      /* Read one byte at a time is too slow; read a chunk but feed only what the framer takes,
       * keeping requests strictly one at a time per connection (librdkafka waits for replies to
       * ApiVersions/Metadata before producing). */
      uint8_t buf[65536];
      ssize_t n = recv(conns[i].fd, buf, sizeof buf, MSG_PEEK);
      cr_assert(n > 0, "connection closed");
      size_t used;
      int rc = asx_kafka_framer_feed(conns[i].fr, buf, (size_t)n, &used);
      cr_assert(rc == 0 || rc == ASX_EAGAIN);
      cr_assert_eq(recv(conns[i].fd, buf, used, 0), (ssize_t)used);
    }
  }
  cr_assert_fail("no request arrived");
  return NULL;
}

static void copy_str(asx_kafka_str s, char *out, size_t cap) {
  cr_assert(s.len >= 0 && (size_t)s.len < cap);
  memcpy(out, s.ptr, (size_t)s.len);
  out[s.len] = 0;
}

static asx_kafka_reader parse_header(const uint8_t *frame, size_t len, asx_kafka_request_header *h,
                                     char *client_id, size_t cid_cap) {
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, frame, len, NULL);
  h->api_key = asx_kafka_read_int16(&r, "api_key");
  h->api_version = asx_kafka_read_int16(&r, "api_version");
  h->correlation_id = asx_kafka_read_int32(&r, "correlation_id");
  asx_kafka_str cid = asx_kafka_read_string(&r, false, true, "client_id");
  cr_assert_eq(r.err, 0);
  copy_str(cid, client_id, cid_cap);
  h->client_id = client_id;
  if (asx_kafka_request_header_version(h->api_key, h->api_version) == 2)
    asx_kafka_read_tagged_fields(&r, "tags");
  cr_assert_eq(r.err, 0);
  return r;
}

static void assert_same(const uint8_t *ours, size_t ours_len, const uint8_t *theirs, size_t len,
                        const char *what) {
  cr_assert_eq(ours_len, len, "%s: asx %zu bytes, librdkafka %zu", what, ours_len, len);
  for (size_t i = 0; i < len; i++)
    cr_assert_eq(ours[i], theirs[i], "%s: byte %zu differs: asx %02x, librdkafka %02x", what, i,
                 ours[i], theirs[i]);
}

static void send_response(conn *c, int32_t corr, asx_buf *body) {
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, &b);
  asx_kafka_write_int32(&w, (int32_t)(body->len + 4));
  asx_kafka_write_int32(&w, corr);
  asx_kafka_write_raw(&w, body->data, body->len);
  cr_assert_eq(w.err, 0);
  cr_assert_eq(send(c->fd, b.data, b.len, MSG_NOSIGNAL), (ssize_t)b.len);
  asx_buf_free(&b);
}

/* ApiVersions response offering asx's ranges, capped where librdkafka 2.0 would go beyond what this
 * fake broker answers (Metadata is answered in the non-flexible layout only). */
static void answer_api_versions(conn *c, int32_t corr, int16_t version) {
  static const int16_t keys[] = {0, 1, 2, 3, 8, 9, 10, 18};
  bool f = version >= 3;
  asx_buf body;
  asx_buf_init(&body, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, &body);
  asx_kafka_write_int16(&w, 0);
  asx_kafka_write_array_len(&w, f, 8);
  for (int i = 0; i < 8; i++) {
    int max = asx_kafka_api_max_version(keys[i]);
    if (keys[i] == ASX_KAFKA_METADATA && max > 8) max = 8;
    if (keys[i] == ASX_KAFKA_PRODUCE && max > 8) max = 8;
    asx_kafka_write_int16(&w, keys[i]);
    asx_kafka_write_int16(&w, (int16_t)asx_kafka_api_min_version(keys[i]));
    asx_kafka_write_int16(&w, (int16_t)max);
    if (f) asx_kafka_write_empty_tags(&w);
  }
  if (version >= 1) asx_kafka_write_int32(&w, 0);
  if (f) asx_kafka_write_empty_tags(&w);
  cr_assert_eq(w.err, 0);
  send_response(c, corr, &body);
  asx_buf_free(&body);
}

/* Metadata response (v1-v8 layout): broker 1 is this listener, topic TOPIC has one partition. */
static void answer_metadata(conn *c, int32_t corr, int16_t v) {
  cr_assert(v >= 1 && v <= 8, "metadata v%d", v);
  asx_buf body;
  asx_buf_init(&body, NULL, 0);
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, &body);
  if (v >= 3) asx_kafka_write_int32(&w, 0);
  asx_kafka_write_array_len(&w, false, 1);
  asx_kafka_write_int32(&w, 1);
  asx_kafka_write_string(&w, false, false, "127.0.0.1");
  asx_kafka_write_int32(&w, port);
  asx_kafka_write_string(&w, false, true, NULL);
  if (v >= 2) asx_kafka_write_string(&w, false, true, "asx-fake");
  asx_kafka_write_int32(&w, 1);
  asx_kafka_write_array_len(&w, false, 1);
  asx_kafka_write_int16(&w, 0);
  asx_kafka_write_string(&w, false, false, TOPIC);
  asx_kafka_write_bool(&w, false);
  asx_kafka_write_array_len(&w, false, 1);
  asx_kafka_write_int16(&w, 0);
  asx_kafka_write_int32(&w, 0);
  asx_kafka_write_int32(&w, 1);
  if (v >= 7) asx_kafka_write_int32(&w, 0);
  for (int a = 0; a < 2; a++) {
    asx_kafka_write_array_len(&w, false, 1);
    asx_kafka_write_int32(&w, 1);
  }
  if (v >= 5) asx_kafka_write_array_len(&w, false, 0);
  if (v >= 8) asx_kafka_write_int32(&w, 0);
  if (v >= 8) asx_kafka_write_int32(&w, 0);
  cr_assert_eq(w.err, 0);
  send_response(c, corr, &body);
  asx_buf_free(&body);
}

static void check_metadata_request(asx_kafka_reader *r, const asx_kafka_request_header *h,
                                   const uint8_t *frame, size_t len) {
  int16_t v = h->api_version;
  bool f = asx_kafka_is_flexible(ASX_KAFKA_METADATA, v);
  int32_t n = asx_kafka_read_array_len(r, f, v >= 1, 1, "topics");
  cr_assert_eq(r->err, 0);
  static char names[16][256];
  const char *topics[16];
  cr_assert_leq(n, 16);
  for (int32_t t = 0; t < n; t++) {
    if (v >= 10) asx_kafka_read_uuid(r, "topic_id");
    copy_str(asx_kafka_read_string(r, f, v >= 10, "name"), names[t], sizeof names[t]);
    topics[t] = names[t];
    if (f) asx_kafka_read_tagged_fields(r, "tags");
  }
  asx_kafka_metadata_request req = {topics, n, false, false, false};
  if (v >= 4) req.allow_auto_topic_creation = asx_kafka_read_bool(r, "allow_auto");
  if (v >= 8 && v <= 10) req.include_cluster_authorized_operations = asx_kafka_read_bool(r, "c");
  if (v >= 8) req.include_topic_authorized_operations = asx_kafka_read_bool(r, "t");
  cr_assert_eq(r->err, 0);
  asx_buf ours;
  asx_buf_init(&ours, NULL, 0);
  cr_assert_eq(asx_kafka_encode_metadata_request(&ours, h, &req), 0);
  assert_same(ours.data + 4, ours.len - 4, frame, len, "metadata request");
  cr_log_info("Metadata v%d request (%d topics) identical, %zu bytes", v, n, len + 4);
  asx_buf_free(&ours);
}

/* Parses librdkafka's Produce request, re-encodes it, and re-encodes its record batch. */
static void check_produce_request(asx_kafka_reader *r, const asx_kafka_request_header *h,
                                  const uint8_t *frame, size_t len, bool expect_identical_batch) {
  int16_t v = h->api_version;
  cr_assert_lt(v, 9, "fake broker offered Produce up to v8");
  char txn[128];
  asx_kafka_produce_request req;
  memset(&req, 0, sizeof req);
  if (v >= 3) {
    asx_kafka_str t = asx_kafka_read_string(r, false, true, "transactional_id");
    if (t.len >= 0) {
      copy_str(t, txn, sizeof txn);
      req.transactional_id = txn;
    }
  }
  req.acks = asx_kafka_read_int16(r, "acks");
  req.timeout_ms = asx_kafka_read_int32(r, "timeout_ms");
  cr_assert_eq(asx_kafka_read_array_len(r, false, false, 1, "topics"), 1);
  char name[128];
  copy_str(asx_kafka_read_string(r, false, false, "name"), name, sizeof name);
  cr_assert_str_eq(name, TOPIC);
  cr_assert_eq(asx_kafka_read_array_len(r, false, false, 1, "partitions"), 1);
  asx_kafka_produce_partition pp;
  pp.index = asx_kafka_read_int32(r, "index");
  asx_kafka_bytes records = asx_kafka_read_bytes(r, false, true, "records");
  cr_assert_eq(r->err, 0);
  cr_assert_eq(r->pos, r->len);
  pp.records = records.ptr;
  pp.records_len = (size_t)records.len;
  asx_kafka_produce_topic pt = {name, &pp, 1};
  req.topics = &pt;
  req.topic_count = 1;
  asx_buf ours;
  asx_buf_init(&ours, NULL, 0);
  cr_assert_eq(asx_kafka_encode_produce_request(&ours, h, &req), 0);
  assert_same(ours.data + 4, ours.len - 4, frame, len, "produce request");
  cr_log_info("Produce v%d request identical, %zu bytes", v, len + 4);

  /* The batch: decode with asx, check content, re-encode with asx. */
  asx_kafka_decoder *d;
  cr_assert_eq(asx_kafka_decoder_new(&d, NULL, NULL), 0);
  asx_kafka_record_batch b;
  size_t used;
  cr_assert_eq(asx_kafka_record_batch_decode(d, records.ptr, (size_t)records.len, &b, &used), 0,
               "%s", asx_kafka_decoder_error_message(d));
  cr_assert_eq(used, (size_t)records.len, "one batch");
  const char *dir = getenv("ASX_KAFKA_CAPTURE"); /* librdkafka's batches as fuzz seeds */
  if (dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/../fuzz_kafka_record_batch/rdkafka_codec%d", dir,
             b.attributes & ASX_KAFKA_ATTR_CODEC_MASK);
    FILE *f = fopen(path, "wb");
    if (f) {
      fwrite(records.ptr, 1, (size_t)records.len, f);
      fclose(f);
    }
  }
  /* Usually all three messages share one batch; librdkafka may send the first one alone. */
  cr_assert(b.record_count >= 1 && b.record_count <= 3, "%d records", b.record_count);
  for (int32_t i = 0; i < b.record_count; i++) {
    char want[64];
    int n = snprintf(want, sizeof want, "value-%d-padding-padding-padding", i);
    cr_assert_eq(b.records[i].value.len, n);
    cr_assert_eq(memcmp(b.records[i].value.ptr, want, (size_t)n), 0);
    cr_assert_eq(b.records[i].header_count, 1);
  }
  asx_buf batch;
  asx_buf_init(&batch, NULL, 0);
  cr_assert_eq(asx_kafka_record_batch_encode(&batch, &b, NULL), 0);
  if (expect_identical_batch) {
    assert_same(batch.data, batch.len, records.ptr, (size_t)records.len, "record batch");
    cr_log_info("record batch identical, %zu bytes", batch.len);
  }
  asx_buf_free(&batch);
  asx_kafka_decoder_free(d);
  asx_buf_free(&ours);
}

static void capture_session(const char *codec, bool expect_identical_batch) {
  start_client(codec);
  for (int i = 0; i < 3; i++) {
    char v[64];
    int n = snprintf(v, sizeof v, "value-%d-padding-padding-padding", i);
    cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(0),
                                   RD_KAFKA_V_KEY("k", 1), RD_KAFKA_V_VALUE(v, (size_t)n),
                                   RD_KAFKA_V_HEADER("hdr", "x", 1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  static uint8_t frame[1 << 20];
  bool saw_av = false, saw_md = false, saw_produce = false;
  for (int i = 0; i < 20 && !saw_produce; i++) {
    size_t len;
    conn *c = next_frame(frame, sizeof frame, &len);
    asx_kafka_request_header h;
    char cid[128];
    asx_kafka_reader r = parse_header(frame, len, &h, cid, sizeof cid);
    cr_assert_str_eq(h.client_id, "asx-capture");
    if (h.api_key == ASX_KAFKA_API_VERSIONS) {
      asx_kafka_api_versions_request req = {NULL, NULL};
      char name[128], ver[128];
      if (h.api_version >= 3) {
        copy_str(asx_kafka_read_string(&r, true, false, "name"), name, sizeof name);
        copy_str(asx_kafka_read_string(&r, true, false, "version"), ver, sizeof ver);
        req.client_software_name = name;
        req.client_software_version = ver;
      }
      asx_buf ours;
      asx_buf_init(&ours, NULL, 0);
      cr_assert_eq(asx_kafka_encode_api_versions_request(&ours, &h, &req), 0);
      assert_same(ours.data + 4, ours.len - 4, frame, len, "api versions request");
      if (!saw_av) cr_log_info("ApiVersions v%d request identical, %zu bytes", h.api_version, len + 4);
      asx_buf_free(&ours);
      answer_api_versions(c, h.correlation_id, h.api_version);
      saw_av = true;
    } else if (h.api_key == ASX_KAFKA_METADATA) {
      check_metadata_request(&r, &h, frame, len);
      answer_metadata(c, h.correlation_id, h.api_version);
      saw_md = true;
    } else if (h.api_key == ASX_KAFKA_PRODUCE) {
      check_produce_request(&r, &h, frame, len, expect_identical_batch);
      saw_produce = true;
    }
  }
  cr_assert(saw_av && saw_md && saw_produce);
}

TestSuite(kafka_rdkafka, .init = setup, .fini = teardown, .timeout = 60);

Test(kafka_rdkafka, requests_and_uncompressed_batch_match_librdkafka, .timeout = 60) {
  capture_session("none", true);
}

/* Compressed bytes depend on the compressor's settings, so only the decode and the request framing
 * are compared here. */
Test(kafka_rdkafka, gzip_batch_from_librdkafka_decodes, .timeout = 60) {
  capture_session("gzip", false);
}

Test(kafka_rdkafka, lz4_batch_from_librdkafka_decodes, .timeout = 60) {
  capture_session("lz4", false);
}

Test(kafka_rdkafka, zstd_batch_from_librdkafka_decodes, .timeout = 60) {
  capture_session("zstd", false);
}

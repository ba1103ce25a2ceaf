/* Kafka in the lab: a client negotiates with ApiVersions v2, then pipelines a Produce v7 (two
 * partitions: an uncompressed batch of three records with headers and a gzip batch of two) and a
 * Fetch v11 of both partitions. The client uses the codec end to end (request encoders, the
 * correlation tracker, the framer, asx_kafka_decode_response, record batch encode/decode). asx
 * has no broker-side codec, so the broker here reads requests with the codec's framer and
 * asx_kafka_reader and writes responses with asx_kafka_writer; it keeps the produced batches and
 * returns them on Fetch. Both sides check every field they decode against what was sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asx/kafka.h"
#include "lab_codec_util.h"

#define TOPIC "lab-events"
#define CLIENT_ID "asx-lab"

typedef struct kafka_state {
  int requests_seen, responses_seen;
  uint8_t stored[2][4096]; /* the broker's log: one batch per partition */
  size_t stored_len[2];
} kafka_state;

static kafka_state G;

/* ---- the records both sides agree on ---- */

static const char *const KEYS[2][3] = {{"k0", NULL, "k2"}, {"gz-a", "gz-b", NULL}};
static const int NREC[2] = {3, 2};

static void value_of(int p, int i, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "p%d-r%d:", p, i);
  for (int k = n; k < (int)cap - 1 && k < n + 200 + 50 * i; k++) buf[k] = (char)('a' + (k * 7 + p) % 26);
  buf[n + 200 + 50 * i < (int)cap - 1 ? n + 200 + 50 * i : (int)cap - 1] = 0;
}

static int encode_batch(asx_buf *out, int p) {
  static char values[3][512];
  asx_kafka_record_header hdr = {{(const uint8_t *)"trace", 5}, {(const uint8_t *)"t-1", 3}};
  asx_kafka_record recs[3];
  memset(recs, 0, sizeof(recs));
  for (int i = 0; i < NREC[p]; i++) {
    value_of(p, i, values[i], sizeof(values[i]));
    const char *k = KEYS[p][i];
    recs[i].timestamp_delta = i * 5;
    recs[i].offset_delta = i;
    recs[i].key = (asx_kafka_bytes){(const uint8_t *)k, k ? (int32_t)strlen(k) : -1};
    recs[i].value = (asx_kafka_bytes){(const uint8_t *)values[i], (int32_t)strlen(values[i])};
    recs[i].headers = i == 0 ? &hdr : NULL;
    recs[i].header_count = i == 0 ? 1 : 0;
  }
  asx_kafka_record_batch b;
  memset(&b, 0, sizeof(b));
  b.magic = 2;
  b.attributes = p == 1 ? ASX_KAFKA_CODEC_GZIP : ASX_KAFKA_CODEC_NONE;
  b.base_timestamp = 1700000000000ll;
  b.max_timestamp = b.base_timestamp + 5 * (NREC[p] - 1);
  b.producer_id = -1;
  b.producer_epoch = -1;
  b.base_sequence = -1;
  b.records = recs;
  b.record_count = NREC[p];
  return asx_kafka_record_batch_encode(out, &b, NULL);
}

static bool bytes_eq(asx_kafka_bytes b, const char *s) {
  if (!s) return b.len == -1;
  return b.len == (int32_t)strlen(s) && memcmp(b.ptr, s, (size_t)b.len) == 0;
}

/* Decodes a record set and compares it with partition p's records. */
static bool records_match(asx_kafka_decoder *d, int p, const uint8_t *data, size_t len) {
  asx_kafka_record_batch b;
  size_t used = 0;
  if (asx_kafka_record_batch_decode(d, data, len, &b, &used) != 0 || used != len) return false;
  if (b.record_count != NREC[p] || (b.attributes & ASX_KAFKA_ATTR_CODEC_MASK) != (p ? ASX_KAFKA_CODEC_GZIP : 0))
    return false;
  for (int i = 0; i < NREC[p]; i++) {
    char v[512];
    value_of(p, i, v, sizeof(v));
    const asx_kafka_record *r = &b.records[i];
    if (!bytes_eq(r->key, KEYS[p][i]) || !bytes_eq(r->value, v) || r->offset_delta != i ||
        r->header_count != (i == 0 ? 1 : 0))
      return false;
    if (i == 0 && (!bytes_eq(r->headers[0].key, "trace") || !bytes_eq(r->headers[0].value, "t-1"))) return false;
  }
  return true;
}

/* ---- broker ---- */

/* The requests in order: api key, version. */
static const int16_t EXPECT[3][2] = {{ASX_KAFKA_API_VERSIONS, 2}, {ASX_KAFKA_PRODUCE, 7}, {ASX_KAFKA_FETCH, 11}};

static int broker_produce(asx_kafka_reader *r, asx_kafka_decoder *d, asx_kafka_writer *w) {
  asx_kafka_str tid = asx_kafka_read_string(r, false, true, "transactional_id");
  int16_t acks = asx_kafka_read_int16(r, "acks");
  asx_kafka_read_int32(r, "timeout_ms");
  int32_t nt = asx_kafka_read_array_len(r, false, false, 2, "topics");
  asx_kafka_str name = asx_kafka_read_string(r, false, false, "name");
  int32_t np = asx_kafka_read_array_len(r, false, false, 4, "partitions");
  if (r->err || tid.len != -1 || acks != -1 || nt != 1 || !asx_kafka_str_eq(name, TOPIC) || np != 2)
    return ASX_EPROTO;
  asx_kafka_write_array_len(w, false, 1);
  asx_kafka_write_string(w, false, false, TOPIC);
  asx_kafka_write_array_len(w, false, 2);
  for (int i = 0; i < 2; i++) {
    int32_t idx = asx_kafka_read_int32(r, "index");
    asx_kafka_bytes rec = asx_kafka_read_bytes(r, false, true, "records");
    if (r->err || idx != i || rec.len <= 0 || (size_t)rec.len > sizeof(G.stored[i]) ||
        !records_match(d, i, rec.ptr, (size_t)rec.len))
      return ASX_EPROTO;
    memcpy(G.stored[i], rec.ptr, (size_t)rec.len);
    G.stored_len[i] = (size_t)rec.len;
    asx_kafka_write_int32(w, idx);
    asx_kafka_write_int16(w, 0);
    asx_kafka_write_int64(w, 0);  /* base offset: an empty log */
    asx_kafka_write_int64(w, -1); /* log_append_time */
    asx_kafka_write_int64(w, 0);  /* log_start_offset */
  }
  asx_kafka_write_int32(w, 0); /* throttle */
  return r->pos == r->len ? 0 : ASX_EPROTO;
}

static int broker_fetch(asx_kafka_reader *r, asx_kafka_writer *w) {
  int32_t replica = asx_kafka_read_int32(r, "replica_id");
  asx_kafka_read_int32(r, "max_wait_ms");
  asx_kafka_read_int32(r, "min_bytes");
  asx_kafka_read_int32(r, "max_bytes");
  asx_kafka_read_int8(r, "isolation_level");
  asx_kafka_read_int32(r, "session_id");
  asx_kafka_read_int32(r, "session_epoch");
  int32_t nt = asx_kafka_read_array_len(r, false, false, 2, "topics");
  asx_kafka_str name = asx_kafka_read_string(r, false, false, "topic");
  int32_t np = asx_kafka_read_array_len(r, false, false, 28, "partitions");
  if (r->err || replica != -1 || nt != 1 || !asx_kafka_str_eq(name, TOPIC) || np != 2) return ASX_EPROTO;
  asx_kafka_write_int32(w, 0); /* throttle */
  asx_kafka_write_int16(w, 0); /* error */
  asx_kafka_write_int32(w, 0); /* session */
  asx_kafka_write_array_len(w, false, 1);
  asx_kafka_write_string(w, false, false, TOPIC);
  asx_kafka_write_array_len(w, false, 2);
  for (int i = 0; i < 2; i++) {
    int32_t part = asx_kafka_read_int32(r, "partition");
    asx_kafka_read_int32(r, "current_leader_epoch");
    int64_t off = asx_kafka_read_int64(r, "fetch_offset");
    asx_kafka_read_int64(r, "log_start_offset");
    asx_kafka_read_int32(r, "partition_max_bytes");
    if (r->err || part != i || off != 0) return ASX_EPROTO;
    asx_kafka_write_int32(w, part);
    asx_kafka_write_int16(w, 0);
    asx_kafka_write_int64(w, NREC[i]); /* high watermark */
    asx_kafka_write_int64(w, NREC[i]); /* last stable offset */
    asx_kafka_write_int64(w, 0);
    asx_kafka_write_array_len(w, false, -1); /* no aborted transactions */
    asx_kafka_write_int32(w, -1);            /* preferred read replica */
    asx_kafka_write_bytes(w, false, true, G.stored[i], G.stored_len[i]);
  }
  asx_kafka_read_array_len(r, false, false, 6, "forgotten");
  asx_kafka_read_string(r, false, false, "rack_id");
  return r->err || r->pos != r->len ? ASX_EPROTO : 0;
}

static int broker_request(asx_cx *cx, lc_side *side, asx_kafka_decoder *d, const uint8_t *body, size_t len,
                          asx_buf *out) {
  asx_kafka_reader r;
  asx_kafka_reader_init(&r, body, len, NULL);
  int16_t key = asx_kafka_read_int16(&r, "api_key");
  int16_t ver = asx_kafka_read_int16(&r, "api_version");
  int32_t corr = asx_kafka_read_int32(&r, "correlation_id");
  asx_kafka_str cid = asx_kafka_read_string(&r, false, true, "client_id");
  int i = G.requests_seen;
  if (r.err || i >= 3 || key != EXPECT[i][0] || ver != EXPECT[i][1] || !asx_kafka_str_eq(cid, CLIENT_ID)) {
    lc_fail(cx, side, "transcript", "request %d: key %d v%d", i, key, ver);
    return ASX_EPROTO;
  }
  asx_kafka_writer w;
  asx_kafka_writer_init(&w, out);
  size_t start = out->len;
  asx_kafka_write_int32(&w, 0); /* size, patched below */
  asx_kafka_write_int32(&w, corr);
  int rc = 0;
  if (key == ASX_KAFKA_API_VERSIONS) {
    asx_kafka_write_int16(&w, 0);
    asx_kafka_write_array_len(&w, false, 3);
    for (int k = 0; k < 3; k++) {
      asx_kafka_write_int16(&w, EXPECT[k][0]);
      asx_kafka_write_int16(&w, 0);
      asx_kafka_write_int16(&w, EXPECT[k][1]);
    }
    asx_kafka_write_int32(&w, 0);
    rc = r.pos == r.len ? 0 : ASX_EPROTO;
  } else if (key == ASX_KAFKA_PRODUCE) {
    rc = broker_produce(&r, d, &w);
  } else {
    rc = broker_fetch(&r, &w);
  }
  if (rc || w.err) {
    lc_fail(cx, side, "transcript", "request %d (key %d) does not match what was sent: %s %s", i, key,
            r.err_field ? r.err_field : "", r.err_reason ? r.err_reason : "");
    return rc ? rc : w.err;
  }
  uint32_t size = (uint32_t)(out->len - start - 4);
  uint8_t be[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8), (uint8_t)size};
  memcpy(out->data + start, be, 4);
  lc_note(cx, "kafka.request", body, len);
  G.requests_seen++;
  return 0;
}

static int broker_fn(asx_cx *cx, lc_side *side) {
  asx_kafka_framer *f = NULL;
  asx_kafka_decoder *d = NULL;
  int rc = asx_kafka_framer_new(&f, 1 << 20, NULL);
  if (!rc) rc = asx_kafka_decoder_new(&d, NULL, NULL);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  uint8_t buf[389];
  while (!rc) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    size_t off = 0;
    while (!rc && off < n) {
      size_t used = 0;
      int fr = asx_kafka_framer_feed(f, buf + off, n - off, &used);
      off += used;
      if (fr == ASX_EAGAIN) break;
      if (fr) {
        lc_fail(cx, side, "decode", "framer: %s", asx_errname(fr));
        rc = fr;
        break;
      }
      const uint8_t *body;
      size_t len;
      asx_kafka_framer_frame(f, &body, &len);
      rc = broker_request(cx, side, d, body, len, &out);
      asx_kafka_framer_next(f);
      if (!rc) rc = lc_flush(cx, side, &out);
    }
  }
  if (rc == ASX_ECLOSED) rc = G.requests_seen == 3 || side->reset_mode ? 0 : ASX_EPROTO;
  asx_buf_free(&out);
  asx_kafka_decoder_free(d);
  asx_kafka_framer_free(f);
  return rc;
}

/* ---- client ---- */

static bool check_response(asx_kafka_decoder *d, int i, const asx_kafka_response *resp) {
  if (resp->api_key != EXPECT[i][0] || resp->api_version != EXPECT[i][1]) return false;
  if (i == 0) {
    const asx_kafka_api_versions_response *a = &resp->u.api_versions;
    return a->error_code == 0 && a->api_key_count == 3 && a->api_keys[1].api_key == ASX_KAFKA_PRODUCE &&
           a->api_keys[2].max_version == 11;
  }
  if (i == 1) {
    const asx_kafka_produce_response *p = &resp->u.produce;
    if (p->topic_count != 1 || !asx_kafka_str_eq(p->topics[0].name, TOPIC) || p->topics[0].partition_count != 2)
      return false;
    for (int k = 0; k < 2; k++)
      if (p->topics[0].partitions[k].index != k || p->topics[0].partitions[k].error_code != 0) return false;
    return true;
  }
  const asx_kafka_fetch_response *fr = &resp->u.fetch;
  if (fr->error_code || fr->topic_count != 1 || !asx_kafka_str_eq(fr->topics[0].topic, TOPIC) ||
      fr->topics[0].partition_count != 2)
    return false;
  for (int k = 0; k < 2; k++) {
    const asx_kafka_fetch_partition_response *pr = &fr->topics[0].partitions[k];
    if (pr->partition_index != k || pr->error_code || pr->high_watermark != NREC[k] || pr->records.len <= 0 ||
        !records_match(d, k, pr->records.ptr, (size_t)pr->records.len))
      return false;
  }
  return true;
}

static int send_request(asx_buf *out, asx_kafka_tracker *t, int i) {
  asx_kafka_request_header h = {EXPECT[i][0], EXPECT[i][1], 0, CLIENT_ID};
  int rc = asx_kafka_tracker_begin(t, h.api_key, h.api_version, &h.correlation_id);
  if (rc) return rc;
  if (i == 0) {
    asx_kafka_api_versions_request req = {NULL, NULL};
    return asx_kafka_encode_api_versions_request(out, &h, &req);
  }
  if (i == 1) {
    asx_buf b0, b1;
    asx_buf_init(&b0, NULL, 0);
    asx_buf_init(&b1, NULL, 0);
    rc = encode_batch(&b0, 0);
    if (!rc) rc = encode_batch(&b1, 1);
    asx_kafka_produce_partition parts[2] = {{0, b0.data, b0.len}, {1, b1.data, b1.len}};
    asx_kafka_produce_topic topic = {TOPIC, parts, 2};
    asx_kafka_produce_request req = {NULL, -1, 30000, &topic, 1};
    if (!rc) rc = asx_kafka_encode_produce_request(out, &h, &req);
    asx_buf_free(&b0);
    asx_buf_free(&b1);
    return rc;
  }
  asx_kafka_fetch_partition fp[2] = {{0, -1, 0, -1, -1, 1 << 20}, {1, -1, 0, -1, -1, 1 << 20}};
  asx_kafka_fetch_topic ft;
  memset(&ft, 0, sizeof(ft));
  ft.name = TOPIC;
  ft.partitions = fp;
  ft.partition_count = 2;
  asx_kafka_fetch_request req;
  memset(&req, 0, sizeof(req));
  req.replica_id = -1;
  req.max_wait_ms = 500;
  req.min_bytes = 1;
  req.max_bytes = 1 << 20;
  req.session_epoch = -1;
  req.topics = &ft;
  req.topic_count = 1;
  return asx_kafka_encode_fetch_request(out, &h, &req);
}

static int client_fn(asx_cx *cx, lc_side *side) {
  asx_kafka_framer *f = NULL;
  asx_kafka_decoder *d = NULL;
  asx_kafka_tracker *t = NULL;
  int rc = asx_kafka_framer_new(&f, 0, NULL);
  if (!rc) rc = asx_kafka_decoder_new(&d, NULL, NULL);
  if (!rc) rc = asx_kafka_tracker_new(&t, 8, NULL);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  if (!rc) rc = send_request(&out, t, 0);
  if (!rc) rc = lc_flush(cx, side, &out);
  uint8_t buf[401];
  while (!rc && G.responses_seen < 3) {
    size_t n = 0;
    rc = asx_stream_read(cx, side->s, buf, sizeof(buf), &n);
    size_t off = 0;
    while (!rc && off < n) {
      size_t used = 0;
      int fr = asx_kafka_framer_feed(f, buf + off, n - off, &used);
      off += used;
      if (fr == ASX_EAGAIN) break;
      const uint8_t *body = NULL;
      size_t len = 0;
      asx_kafka_response resp;
      if (!fr) fr = asx_kafka_framer_frame(f, &body, &len);
      if (!fr) fr = asx_kafka_decode_response(d, t, body, len, &resp);
      if (fr) {
        lc_fail(cx, side, "decode", "%s: %s", asx_errname(fr), asx_kafka_decoder_error_message(d));
        rc = fr;
        break;
      }
      int i = G.responses_seen;
      if (!check_response(d, i, &resp)) {
        lc_fail(cx, side, "transcript", "response %d differs from what the broker sent", i);
        rc = ASX_EPROTO;
        break;
      }
      lc_note(cx, "kafka.response", body, len);
      asx_kafka_framer_next(f);
      asx_kafka_decoder_reset(d);
      G.responses_seen++;
      if (i == 0) { /* negotiated: Produce and Fetch go out together */
        rc = send_request(&out, t, 1);
        if (!rc) rc = send_request(&out, t, 2);
        if (!rc) rc = lc_flush(cx, side, &out);
      }
    }
  }
  if (!rc && asx_kafka_tracker_pending(t) != 0) {
    lc_fail(cx, side, "transcript", "requests still outstanding");
    rc = ASX_EPROTO;
  }
  if (!rc) rc = lc_shutdown(cx, side);
  asx_buf_free(&out);
  asx_kafka_tracker_free(t);
  asx_kafka_decoder_free(d);
  asx_kafka_framer_free(f);
  return rc;
}

static int scenario(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode) {
  memset(&G, 0, sizeof(G));
  int rc = lc_run_pair(cx, lab, mode, client_fn, broker_fn, &G);
  if (rc == 0 && mode == LC_PLAIN && (G.requests_seen != 3 || G.responses_seen != 3))
    asx_lab_fail(lab, cx, "transcript", "incomplete exchange");
  return rc;
}
LC_CODEC_SUITE(lab_kafka, "kafka_produce_fetch", "kafka", "Kafka ApiVersions, Produce, Fetch")

/* fuzz_lab_trace: the asx-lab trace reader.
 * First byte even: the input is read as a trace file as-is (framing, truncation, digests).
 * First byte odd: the rest is one block's payload (record count = second byte), sealed here with
 * a correct hash chain so that the record decoder is reached; every accepted record must format,
 * re-encode through the writer and decode back to the same text. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/lab.h"

static void check_records(const asx_lab_trace *t) {
  asx_lab_trace_writer *w;
  if (asx_lab_trace_writer_new(NULL, asx_lab_trace_header_get(t), 0, &w)) return;
  size_t n = asx_lab_trace_count(t);
  for (size_t i = 0; i < n; i++) {
    asx_lab_record r;
    char line[600];
    if (asx_lab_trace_get(t, i, &r)) abort(); /* verified records always decode */
    asx_lab_record_format(&r, line, sizeof line);
    if (asx_lab_trace_write(w, &r)) abort();
  }
  if (asx_lab_trace_finish(w, NULL)) abort();
  size_t len;
  const uint8_t *p = asx_lab_trace_bytes(w, &len);
  asx_lab_trace *u;
  if (asx_lab_trace_parse(NULL, p, len, NULL, &u, NULL)) abort(); /* what we write, we read */
  if (asx_lab_trace_count(u) != n) abort();
  for (size_t i = 0; i < n; i++) {
    asx_lab_record a, b;
    char la[600], lb[600];
    asx_lab_trace_get(t, i, &a);
    asx_lab_trace_get(u, i, &b);
    asx_lab_record_format(&a, la, sizeof la);
    asx_lab_record_format(&b, lb, sizeof lb);
    if (a.type != b.type || strcmp(la, lb) != 0) abort();
  }
  asx_lab_trace_free(u);
  asx_lab_trace_writer_free(w);
}

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static void sha(const uint8_t *prev, const uint8_t *a, size_t al, const uint8_t *b, size_t bl, uint8_t *out) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned int dl;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  EVP_DigestUpdate(md, prev, 32);
  EVP_DigestUpdate(md, a, al);
  if (bl) EVP_DigestUpdate(md, b, bl);
  EVP_DigestFinal_ex(md, out, &dl);
  EVP_MD_CTX_free(md);
}

/* header (from the writer) + one sealed block holding `payload` + trailer */
static uint8_t *seal(uint8_t nrec, const uint8_t *payload, size_t plen, size_t *len) {
  asx_lab_trace_header h;
  memset(&h, 0, sizeof h);
  h.version = ASX_LAB_TRACE_VERSION;
  strcpy(h.scenario, "fuzz");
  asx_lab_trace_writer *w;
  if (asx_lab_trace_writer_new(NULL, &h, 0, &w)) return NULL;
  asx_lab_trace_finish(w, NULL);
  size_t el;
  const uint8_t *empty = asx_lab_trace_bytes(w, &el);
  size_t hl = el - 34; /* 'E', varint 0, digest */
  uint8_t *out = malloc(hl + 32 + plen + 64);
  memcpy(out, empty, hl);
  asx_lab_trace_writer_free(w);
  size_t n = hl, fstart = n;
  out[n++] = 'B';
  n += put_varint(out + n, nrec);
  n += put_varint(out + n, plen);
  size_t flen = n - fstart;
  memcpy(out + n, payload, plen);
  n += plen;
  uint8_t bd[32];
  sha(out + hl - 32, out + fstart, flen, payload, plen, bd);
  memcpy(out + n, bd, 32);
  n += 32;
  size_t tstart = n;
  out[n++] = 'E';
  n += put_varint(out + n, nrec);
  sha(bd, out + tstart, n - tstart, NULL, 0, out + n);
  n += 32;
  *len = n;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  asx_lab_trace *t = NULL;
  asx_lab_trace_error e;
  if ((data[0] & 1) == 0) {
    if (asx_lab_trace_parse(NULL, data + 1, size - 1, NULL, &t, &e) == 0) {
      check_records(t);
      asx_lab_trace_free(t);
    } else if (e.record < -1 || e.offset > size) {
      abort();
    }
    return 0;
  }
  if (size < 2) return 0;
  size_t len;
  uint8_t *trace = seal(data[1], data + 2, size - 2, &len);
  if (!trace) return 0;
  if (asx_lab_trace_parse(NULL, trace, len, NULL, &t, &e) == 0) {
    check_records(t);
    asx_lab_trace_free(t);
  }
  free(trace);
  return 0;
}

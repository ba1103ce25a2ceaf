/* The trace reader: verifies a whole trace before anything uses it. Every block's digest is
 * recomputed along the chain; the first block that is truncated, malformed or does not match
 * names the first record that cannot be trusted (its index and byte offset). */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lab_internal.h"

typedef struct rec_pos {
  uint64_t off;
  uint32_t len;
} rec_pos;

struct asx_lab_trace {
  const asx_allocator *alloc;
  uint8_t *data;
  size_t len;
  asx_lab_trace_header h;
  rec_pos *recs;
  size_t n, cap;
  size_t max_string;
  uint8_t digest[ASX_LAB_DIGEST_LEN];
};

asx_lab_trace_limits asx_lab_trace_limits_default(void) {
  return (asx_lab_trace_limits){(size_t)1 << 30, (uint64_t)64 << 20, 64 * 1024, 1024};
}

__attribute__((format(printf, 7, 8))) static int fail(asx_lab_trace_error *e, int code, int64_t rec,
                                                      uint64_t off, uint64_t block, bool trunc,
                                                      const char *fmt, ...) {
  if (e) {
    e->code = code;
    e->record = rec;
    e->offset = off;
    e->block = block;
    e->truncated = trunc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

static int sha(EVP_MD_CTX *md, const uint8_t *prev, const uint8_t *a, size_t al, const uint8_t *b,
               size_t bl, uint8_t out[ASX_LAB_DIGEST_LEN]) {
  unsigned int dl;
  if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) return ASX_ENOMEM;
  if (prev && EVP_DigestUpdate(md, prev, ASX_LAB_DIGEST_LEN) != 1) return ASX_ENOMEM;
  if (EVP_DigestUpdate(md, a, al) != 1) return ASX_ENOMEM;
  if (bl && EVP_DigestUpdate(md, b, bl) != 1) return ASX_ENOMEM;
  return EVP_DigestFinal_ex(md, out, &dl) == 1 ? 0 : ASX_ENOMEM;
}

static int parse_header(asx_lab_trace *t, size_t *pos, asx_lab_trace_error *e) {
  const uint8_t *p = t->data;
  size_t len = t->len;
  if (len < LAB_MAGIC_LEN)
    return fail(e, ASX_EPROTO, -1, 0, 0, true, "truncated header (%zu bytes)", len);
  if (memcmp(p, LAB_MAGIC, LAB_MAGIC_LEN) != 0)
    return fail(e, ASX_EPROTO, -1, 0, 0, false, "not an asx-lab trace (bad magic)");
  size_t q = LAB_MAGIC_LEN;
  uint64_t f[7], sl;
  for (int i = 0; i < 7; i++)
    if (lab_get_varint(p, len, &q, &f[i]))
      return fail(e, ASX_EPROTO, -1, q, 0, q >= len, "header: bad or truncated field %d", i);
  if (f[0] != 1 && f[0] != ASX_LAB_TRACE_VERSION)
    return fail(e, ASX_EUNSUPPORTED, -1, LAB_MAGIC_LEN, 0, false,
                "trace format version %" PRIu64 " (this reader knows 1..%u)", f[0], ASX_LAB_TRACE_VERSION);
  if (f[2] > ASX_LAB_GUIDED || f[3] > 1000 || f[6] > UINT32_MAX)
    return fail(e, ASX_EPROTO, -1, LAB_MAGIC_LEN, 0, false, "header: field out of range");
  if (lab_get_varint(p, len, &q, &sl))
    return fail(e, ASX_EPROTO, -1, q, 0, true, "header: truncated scenario name");
  if (sl > ASX_LAB_NAME_MAX)
    return fail(e, ASX_EPROTO, -1, q, 0, false, "header: scenario name too long");
  if (len - q < sl + ASX_LAB_DIGEST_LEN)
    return fail(e, ASX_EPROTO, -1, q, 0, true, "truncated header");
  size_t name_at = q;
  q += (size_t)sl;
  uint64_t x[6] = {0};
  if (f[0] >= 2) {
    for (int i = 0; i < 6; i++)
      if (lab_get_varint(p, len, &q, &x[i]))
        return fail(e, ASX_EPROTO, -1, q, 0, q >= len, "header: bad or truncated field %d", 8 + i);
    if (x[2] > 1 || x[4] > 1000 || x[5] > 1000)
      return fail(e, ASX_EPROTO, -1, name_at, 0, false, "header: field out of range");
    if (len - q < ASX_LAB_DIGEST_LEN) return fail(e, ASX_EPROTO, -1, q, 0, true, "truncated header");
  }
  t->h.lost_wakeup_steps = x[0];
  t->h.futurelock_steps = x[1];
  t->h.check_every_step = (uint32_t)x[2];
  t->h.net_delay_ns = x[3];
  t->h.net_partial_permille = (uint32_t)x[4];
  t->h.net_reset_permille = (uint32_t)x[5];
  t->h.version = (uint32_t)f[0];
  t->h.seed = f[1];
  t->h.strategy = (asx_lab_strategy)f[2];
  t->h.pct_depth = (uint32_t)f[3];
  t->h.pct_steps = f[4];
  t->h.max_steps = f[5];
  t->h.poll_budget = (uint32_t)f[6];
  memcpy(t->h.scenario, p + name_at, (size_t)sl);
  t->h.scenario[sl] = 0;
  *pos = q;
  return 0;
}

static int add_rec(asx_lab_trace *t, uint64_t off, size_t len) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    rec_pos *r = asx_realloc(t->alloc, t->recs, cap * sizeof(*r));
    if (!r) return ASX_ENOMEM;
    t->recs = r;
    t->cap = cap;
  }
  t->recs[t->n++] = (rec_pos){off, (uint32_t)len};
  return 0;
}

static int verify(asx_lab_trace *t, const asx_lab_trace_limits *lim, EVP_MD_CTX *md,
                  asx_lab_trace_error *e) {
  size_t pos = 0;
  int err = parse_header(t, &pos, e);
  if (err) return err;
  const uint8_t *p = t->data;
  size_t len = t->len;
  uint8_t chain[ASX_LAB_DIGEST_LEN];
  if (sha(md, NULL, p, pos, NULL, 0, chain)) return fail(e, ASX_ENOMEM, -1, 0, 0, false, "out of memory");
  if (memcmp(chain, p + pos, ASX_LAB_DIGEST_LEN) != 0)
    return fail(e, ASX_ECHECKSUM, -1, 0, 0, false, "header digest mismatch (header modified)");
  pos += ASX_LAB_DIGEST_LEN;
  for (uint64_t block = 0;; block++) {
    int64_t first = (int64_t)t->n;
    if (pos >= len)
      return fail(e, ASX_EPROTO, first, pos, block, true,
                  "truncated: no trailer after record %" PRId64 " (offset %zu)", first, pos);
    size_t start = pos;
    uint8_t tag = p[pos++];
    if (tag == 'E') {
      uint64_t total;
      if (lab_get_varint(p, len, &pos, &total) || len - pos < ASX_LAB_DIGEST_LEN)
        return fail(e, ASX_EPROTO, first, start, block, true, "truncated trailer at offset %zu", start);
      uint8_t d[ASX_LAB_DIGEST_LEN];
      if (sha(md, chain, p + start, pos - start, NULL, 0, d))
        return fail(e, ASX_ENOMEM, first, start, block, false, "out of memory");
      if (total != t->n || memcmp(d, p + pos, sizeof d) != 0)
        return fail(e, ASX_ECHECKSUM, first, start, block, false,
                    "trailer mismatch at offset %zu (records %" PRIu64 " claimed, %zu read)", start,
                    total, t->n);
      pos += sizeof d;
      if (pos != len)
        return fail(e, ASX_EPROTO, first, pos, block, false, "%zu trailing bytes after the trailer",
                    len - pos);
      memcpy(t->digest, d, sizeof d);
      return 0;
    }
    if (tag != 'B')
      return fail(e, ASX_EPROTO, first, start, block, false,
                  "bad block tag 0x%02x at offset %zu: first bad record %" PRId64, tag, start, first);
    uint64_t nrec, plen;
    if (lab_get_varint(p, len, &pos, &nrec) || lab_get_varint(p, len, &pos, &plen))
      return fail(e, ASX_EPROTO, first, start, block, pos >= len,
                  "bad block frame at offset %zu: first bad record %" PRId64, start, first);
    if (plen > lim->max_block || nrec == 0 || nrec > plen)
      return fail(e, plen > lim->max_block ? ASX_ELIMIT : ASX_EPROTO, first, start, block, false,
                  "block %" PRIu64 " at offset %zu: bad size (%" PRIu64 " records, %" PRIu64
                  " bytes): first bad record %" PRId64, block, start, nrec, plen, first);
    if (nrec > lim->max_records - t->n)
      return fail(e, ASX_ELIMIT, first, start, block, false, "more than %" PRIu64 " records",
                  lim->max_records);
    if (len - pos < plen + ASX_LAB_DIGEST_LEN)
      return fail(e, ASX_EPROTO, first, pos, block, true,
                  "truncated block %" PRIu64 " at offset %zu: first bad record %" PRId64, block, start,
                  first);
    uint8_t d[ASX_LAB_DIGEST_LEN];
    if (sha(md, chain, p + start, pos - start, p + pos, (size_t)plen, d))
      return fail(e, ASX_ENOMEM, first, pos, block, false, "out of memory");
    if (memcmp(d, p + pos + plen, sizeof d) != 0)
      return fail(e, ASX_ECHECKSUM, first, pos, block, false,
                  "hash chain broken at block %" PRIu64 ": first bad record %" PRId64
                  " at offset %zu (modified, reordered or truncated trace)", block, first, pos);
    memcpy(chain, d, sizeof d);
    size_t end = pos + (size_t)plen;
    for (uint64_t i = 0; i < nrec; i++) {
      size_t span;
      asx_lab_record r;
      err = pos < end ? lab_record_span(p + pos, end - pos, lim->max_string, &span) : ASX_EPROTO;
      if (!err) err = lab_record_decode(p + pos, span, lim->max_string, &r);
      if (!err && t->h.version < 2 && r.type > ASX_LAB_REC_RUN_END) err = ASX_EPROTO; /* v2 type */
      if (err)
        return fail(e, err, (int64_t)t->n, pos, block, false, "record %zu at offset %zu: malformed",
                    t->n, pos);
      if (add_rec(t, pos, span)) return fail(e, ASX_ENOMEM, (int64_t)t->n, pos, block, false, "out of memory");
      pos += span;
    }
    if (pos != end)
      return fail(e, ASX_EPROTO, (int64_t)t->n, pos, block, false,
                  "block %" PRIu64 ": %zu bytes after its last record", block, end - pos);
    pos += ASX_LAB_DIGEST_LEN;
  }
}

int asx_lab_trace_parse(const asx_allocator *a, const uint8_t *data, size_t len,
                        const asx_lab_trace_limits *lim, asx_lab_trace **out, asx_lab_trace_error *e) {
  if (e) memset(e, 0, sizeof(*e));
  if (!out || (!data && len)) return fail(e, ASX_EINVAL, -1, 0, 0, false, "invalid argument");
  *out = NULL;
  asx_lab_trace_limits l = lim ? *lim : asx_lab_trace_limits_default();
  if (len > l.max_bytes) return fail(e, ASX_ELIMIT, -1, 0, 0, false, "trace larger than %zu bytes", l.max_bytes);
  asx_lab_trace *t = asx_calloc(a, 1, sizeof(*t));
  if (!t) return fail(e, ASX_ENOMEM, -1, 0, 0, false, "out of memory");
  t->alloc = a;
  t->len = len;
  t->max_string = l.max_string;
  t->data = asx_alloc(a, len ? len : 1);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int err;
  if (!t->data || !md) {
    err = fail(e, ASX_ENOMEM, -1, 0, 0, false, "out of memory");
  } else {
    if (len) memcpy(t->data, data, len);
    err = verify(t, &l, md, e);
  }
  EVP_MD_CTX_free(md);
  if (err) {
    asx_lab_trace_free(t);
    return err;
  }
  *out = t;
  return 0;
}

const asx_lab_trace_header *asx_lab_trace_header_get(const asx_lab_trace *t) { return &t->h; }
size_t asx_lab_trace_count(const asx_lab_trace *t) { return t->n; }
uint64_t asx_lab_trace_offset(const asx_lab_trace *t, size_t i) { return i < t->n ? t->recs[i].off : t->len; }

int asx_lab_trace_get(const asx_lab_trace *t, size_t i, asx_lab_record *rec) {
  if (!t || i >= t->n) return ASX_EINVAL;
  return lab_record_decode(t->data + t->recs[i].off, t->recs[i].len, t->max_string, rec);
}

/* Raw bytes of record i (replay compares encodings). */
const uint8_t *lab_trace_raw(const asx_lab_trace *t, size_t i, size_t *len) {
  *len = t->recs[i].len;
  return t->data + t->recs[i].off;
}

void asx_lab_trace_digest(const asx_lab_trace *t, uint8_t out[ASX_LAB_DIGEST_LEN]) {
  memcpy(out, t->digest, ASX_LAB_DIGEST_LEN);
}

void asx_lab_trace_free(asx_lab_trace *t) {
  if (!t) return;
  asx_free(t->alloc, t->recs);
  asx_free(t->alloc, t->data);
  asx_free(t->alloc, t);
}

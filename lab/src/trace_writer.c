/* The trace writer: records are appended to a block; a full block is framed and sealed with a
 * SHA-256 digest that covers the previous block's digest (the hash chain), so a block can be
 * neither changed nor moved without breaking every digest after it. The header carries its own
 * digest, which starts the chain; the trailer seals the record count and the final digest. */
#include <openssl/evp.h>
#include <string.h>

#include "lab_internal.h"

#define BLOCK_RECORDS 256
#define BLOCK_BYTES 4096

struct asx_lab_trace_writer {
  const asx_allocator *alloc;
  asx_buf out;
  EVP_MD_CTX *md;
  uint8_t chain[ASX_LAB_DIGEST_LEN];
  uint8_t block[BLOCK_BYTES + LAB_REC_MAX];
  size_t block_len;
  uint32_t block_records;
  uint64_t records;
  bool finished;
};

/* digest = SHA-256(prev || frame || payload) */
static int seal(asx_lab_trace_writer *w, const uint8_t *frame, size_t flen, const uint8_t *payload,
                size_t plen, uint8_t out[ASX_LAB_DIGEST_LEN]) {
  unsigned int dl = 0;
  if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1 ||
      EVP_DigestUpdate(w->md, w->chain, sizeof w->chain) != 1 ||
      EVP_DigestUpdate(w->md, frame, flen) != 1 ||
      (plen && EVP_DigestUpdate(w->md, payload, plen) != 1) || EVP_DigestFinal_ex(w->md, out, &dl) != 1)
    return ASX_ENOMEM;
  return 0;
}

int asx_lab_trace_writer_new(const asx_allocator *a, const asx_lab_trace_header *h, size_t max_bytes,
                             asx_lab_trace_writer **out) {
  if (!h || !out) return ASX_EINVAL;
  *out = NULL;
  asx_lab_trace_writer *w = asx_calloc(a, 1, sizeof(*w));
  if (!w) return ASX_ENOMEM;
  w->alloc = a;
  asx_buf_init(&w->out, a, max_bytes ? max_bytes : (size_t)256 << 20);
  w->md = EVP_MD_CTX_new();
  uint8_t hdr[LAB_HEADER_MAX];
  size_t hl = lab_header_encode(h, hdr);
  unsigned int dl = 0;
  int err = w->md ? 0 : ASX_ENOMEM;
  if (!err && EVP_Digest(hdr, hl, w->chain, &dl, EVP_sha256(), NULL) != 1) err = ASX_ENOMEM;
  if (!err) err = asx_buf_append(&w->out, hdr, hl);
  if (!err) err = asx_buf_append(&w->out, w->chain, sizeof w->chain);
  if (err) {
    asx_lab_trace_writer_free(w);
    return err;
  }
  *out = w;
  return 0;
}

static int flush_block(asx_lab_trace_writer *w) {
  if (w->block_records == 0) return 0;
  uint8_t frame[1 + 2 * LAB_VARINT_MAX];
  size_t fl = 0;
  frame[fl++] = 'B';
  fl += lab_put_varint(frame + fl, w->block_records);
  fl += lab_put_varint(frame + fl, w->block_len);
  uint8_t digest[ASX_LAB_DIGEST_LEN];
  int err = seal(w, frame, fl, w->block, w->block_len, digest);
  if (err) return err;
  err = asx_buf_reserve(&w->out, fl + w->block_len + sizeof digest);
  if (err) return err;
  asx_buf_append(&w->out, frame, fl);
  asx_buf_append(&w->out, w->block, w->block_len);
  asx_buf_append(&w->out, digest, sizeof digest);
  memcpy(w->chain, digest, sizeof digest);
  w->block_len = 0;
  w->block_records = 0;
  return 0;
}

int asx_lab_trace_write(asx_lab_trace_writer *w, const asx_lab_record *r) {
  if (!w || !r) return ASX_EINVAL;
  if (w->finished) return ASX_ESTATE;
  if (w->block_len >= BLOCK_BYTES || w->block_records >= BLOCK_RECORDS) {
    int err = flush_block(w);
    if (err) return err;
  }
  size_t n = lab_record_encode(r, w->block + w->block_len);
  if (n == 0) return ASX_EINVAL;
  w->block_len += n;
  w->block_records++;
  w->records++;
  return 0;
}

int asx_lab_trace_finish(asx_lab_trace_writer *w, uint8_t digest[ASX_LAB_DIGEST_LEN]) {
  if (!w) return ASX_EINVAL;
  if (!w->finished) {
    int err = flush_block(w);
    if (err) return err;
    uint8_t frame[1 + LAB_VARINT_MAX];
    size_t fl = 0;
    frame[fl++] = 'E';
    fl += lab_put_varint(frame + fl, w->records);
    uint8_t d[ASX_LAB_DIGEST_LEN];
    err = seal(w, frame, fl, NULL, 0, d);
    if (!err) err = asx_buf_reserve(&w->out, fl + sizeof d);
    if (err) return err;
    asx_buf_append(&w->out, frame, fl);
    asx_buf_append(&w->out, d, sizeof d);
    memcpy(w->chain, d, sizeof d);
    w->finished = true;
  }
  if (digest) memcpy(digest, w->chain, ASX_LAB_DIGEST_LEN);
  return 0;
}

const uint8_t *asx_lab_trace_bytes(const asx_lab_trace_writer *w, size_t *len) {
  *len = w->out.len;
  return w->out.data;
}

uint64_t asx_lab_trace_records(const asx_lab_trace_writer *w) { return w->records; }

void asx_lab_trace_writer_free(asx_lab_trace_writer *w) {
  if (!w) return;
  EVP_MD_CTX_free(w->md);
  asx_buf_free(&w->out);
  asx_free(w->alloc, w);
}

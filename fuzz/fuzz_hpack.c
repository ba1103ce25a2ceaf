/* Fuzz target: nghttp2's HPACK inflater under the asx header limits (4 KiB dynamic table,
 * 64 KiB header list counted as name + value + 32 per field, fragments capped at 4x the
 * list). Every accepted header list is re-encoded with nghttp2's deflater and inflated again:
 * the second decode must give the same fields (decode(encode(x)) == x).
 * Input layout: [split byte][header block...]; the block is fed in two fragments. */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER_LIST 65536u
#define MAX_FRAGMENTS (4u * MAX_HEADER_LIST)
#define TABLE_SIZE 4096u
#define MAX_FIELDS 2048u /* 64 KiB / 32 bytes of per-field overhead */

typedef struct field {
  uint8_t *name, *value;
  size_t namelen, valuelen;
} field;

typedef struct list {
  field f[MAX_FIELDS];
  size_t n;
  size_t size;
  int over;
} list;

static void list_free(list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->f[i].name);
    free(l->f[i].value);
  }
  l->n = 0;
}

/* Inflates `in` (split into two fragments at `cut`). Returns 0, or -1 on a decoding error. */
static int inflate_block(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len, size_t cut,
                         list *out) {
  size_t bounds[2] = {cut, len};
  size_t pos = 0;
  for (int frag = 0; frag < 2; frag++) {
    int final = frag == 1;
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in + pos, bounds[frag] - pos, final);
      if (rv < 0) return -1;
      pos += (size_t)rv;
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        out->size += nv.namelen + nv.valuelen + 32;
        if (out->size > MAX_HEADER_LIST) out->over = 1;
        if (!out->over) {
          if (out->n >= MAX_FIELDS) abort(); /* impossible under the size rule */
          field *f = &out->f[out->n++];
          f->name = malloc(nv.namelen + 1);
          f->value = malloc(nv.valuelen + 1);
          if (!f->name || !f->value) abort();
          memcpy(f->name, nv.name, nv.namelen);
          memcpy(f->value, nv.value, nv.valuelen);
          f->namelen = nv.namelen;
          f->valuelen = nv.valuelen;
        }
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inf);
        return 0;
      }
      if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && (size_t)rv == 0) break;
      if (pos == bounds[frag] && !(flags & NGHTTP2_HD_INFLATE_EMIT)) break;
    }
  }
  return 0;
}

static list first, second;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size - 1 > MAX_FRAGMENTS) return 0;
  size_t len = size - 1;
  size_t cut = len ? data[0] % (len + 1) : 0;
  const uint8_t *block = data + 1;

  nghttp2_hd_inflater *inf;
  if (nghttp2_hd_inflate_new(&inf) != 0) return 0;
  nghttp2_hd_inflate_change_table_size(inf, TABLE_SIZE);
  memset(&first, 0, sizeof first);
  int rc = inflate_block(inf, block, len, cut, &first);
  nghttp2_hd_inflate_del(inf);

  if (rc == 0 && !first.over && first.n > 0) {
    nghttp2_nv nva[MAX_FIELDS];
    for (size_t i = 0; i < first.n; i++)
      nva[i] = (nghttp2_nv){first.f[i].name, first.f[i].value, first.f[i].namelen,
                            first.f[i].valuelen, NGHTTP2_NV_FLAG_NONE};
    nghttp2_hd_deflater *def;
    if (nghttp2_hd_deflate_new(&def, TABLE_SIZE) != 0) abort();
    size_t bound = nghttp2_hd_deflate_bound(def, nva, first.n);
    uint8_t *enc = malloc(bound ? bound : 1);
    if (!enc) abort();
    ssize_t elen = nghttp2_hd_deflate_hd(def, enc, bound, nva, first.n);
    nghttp2_hd_deflate_del(def);
    if (elen < 0) abort();
    nghttp2_hd_inflater *inf2;
    if (nghttp2_hd_inflate_new(&inf2) != 0) abort();
    memset(&second, 0, sizeof second);
    if (inflate_block(inf2, enc, (size_t)elen, (size_t)elen / 2, &second) != 0) abort();
    nghttp2_hd_inflate_del(inf2);
    if (second.n != first.n || second.size != first.size) abort();
    for (size_t i = 0; i < first.n; i++) {
      if (first.f[i].namelen != second.f[i].namelen ||
          first.f[i].valuelen != second.f[i].valuelen ||
          memcmp(first.f[i].name, second.f[i].name, first.f[i].namelen) != 0 ||
          memcmp(first.f[i].value, second.f[i].value, first.f[i].valuelen) != 0)
        abort();
    }
    free(enc);
    list_free(&second);
  }
  list_free(&first);
  return 0;
}

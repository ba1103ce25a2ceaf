/* Record batch compression: gzip (zlib), LZ4 frame (Kafka's lz4 codec) and zstd. Decompression
 * output is capped at the caller's bound so a compression bomb is ASX_ELIMIT, not an OOM. */
#include <lz4frame.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "kafka_internal.h"

/* zlib allocation through the asx hook, so failing-allocator tests reach it. */
static voidpf z_alloc(voidpf ud, uInt items, uInt size) {
  return asx_calloc((const asx_allocator *)ud, items, size);
}
static void z_free(voidpf ud, voidpf p) { asx_free((const asx_allocator *)ud, p); }

static int gzip_compress(const asx_allocator *a, const uint8_t *in, size_t len, asx_buf *out) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  zs.opaque = (voidpf)a;
  if (len > UINT32_MAX / 2) return ASX_ELIMIT;
  /* windowBits 15 + 16 selects the gzip wrapper Kafka expects. */
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return ASX_ENOMEM;
  size_t bound = deflateBound(&zs, (uLong)len) + 32;
  int rc = asx_buf_reserve(out, bound);
  if (rc) {
    deflateEnd(&zs);
    return rc;
  }
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  zs.next_out = out->data + out->len;
  zs.avail_out = (uInt)bound;
  int zr = deflate(&zs, Z_FINISH);
  size_t produced = bound - zs.avail_out;
  deflateEnd(&zs);
  if (zr != Z_STREAM_END) return ASX_EOVERFLOW;
  out->len += produced;
  return 0;
}

static int lz4_compress(const uint8_t *in, size_t len, asx_buf *out) {
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof prefs);
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  size_t bound = LZ4F_compressFrameBound(len, &prefs);
  int rc = asx_buf_reserve(out, bound);
  if (rc) return rc;
  size_t n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
  if (LZ4F_isError(n)) return ASX_EOVERFLOW;
  out->len += n;
  return 0;
}

static int zstd_compress(const uint8_t *in, size_t len, asx_buf *out) {
  size_t bound = ZSTD_compressBound(len);
  int rc = asx_buf_reserve(out, bound);
  if (rc) return rc;
  size_t n = ZSTD_compress(out->data + out->len, bound, in, len, 3);
  if (ZSTD_isError(n)) return ASX_EOVERFLOW;
  out->len += n;
  return 0;
}

int asx_kafka_compress(int codec, const asx_allocator *a, const uint8_t *in, size_t len,
                       asx_buf *out) {
  switch (codec) {
    case ASX_KAFKA_CODEC_NONE: return asx_buf_append(out, in, len);
    case ASX_KAFKA_CODEC_GZIP: return gzip_compress(a, in, len, out);
    case ASX_KAFKA_CODEC_LZ4: return lz4_compress(in, len, out);
    case ASX_KAFKA_CODEC_ZSTD: return zstd_compress(in, len, out);
    default: return ASX_EUNSUPPORTED;
  }
}

/* Output buffer that grows geometrically up to a hard cap. */
typedef struct grow {
  const asx_allocator *a;
  uint8_t *p;
  size_t len, cap, max;
} grow;

/* Makes room for at least one more byte; ASX_ELIMIT once the cap is full. */
static int grow_more(grow *g) {
  if (g->len < g->cap) return 0;
  if (g->cap >= g->max) return ASX_ELIMIT;
  size_t cap = g->cap ? g->cap * 2 : 4096;
  if (cap > g->max) cap = g->max;
  uint8_t *p = asx_realloc(g->a, g->p, cap ? cap : 1);
  if (!p) return ASX_ENOMEM;
  g->p = p;
  g->cap = cap;
  return 0;
}

static int gzip_decompress(grow *g, const uint8_t *in, size_t len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  zs.opaque = (voidpf)g->a;
  if (len > UINT32_MAX) return ASX_ELIMIT;
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return ASX_ENOMEM;
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  int rc = 0;
  for (;;) {
    rc = grow_more(g);
    if (rc) break;
    zs.next_out = g->p + g->len;
    zs.avail_out = (uInt)(g->cap - g->len);
    int zr = inflate(&zs, Z_NO_FLUSH);
    g->len = g->cap - zs.avail_out;
    if (zr == Z_STREAM_END) {
      /* Concatenated gzip members are legal; anything else after the end is garbage. */
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) {
        rc = ASX_EDECOMPRESS;
        break;
      }
      continue;
    }
    if (zr == Z_MEM_ERROR) {
      rc = ASX_ENOMEM;
      break;
    }
    if (zr != Z_OK && zr != Z_BUF_ERROR) {
      rc = ASX_EDECOMPRESS;
      break;
    }
    if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
      rc = ASX_EDECOMPRESS; /* truncated stream */
      break;
    }
  }
  inflateEnd(&zs);
  return rc;
}

static int lz4_decompress(grow *g, const uint8_t *in, size_t len) {
  LZ4F_dctx *dctx = NULL;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return ASX_ENOMEM;
  size_t pos = 0;
  int rc = 0;
  size_t hint = 1;
  while (hint != 0) {
    rc = grow_more(g);
    if (rc) break;
    size_t out_n = g->cap - g->len, in_n = len - pos;
    hint = LZ4F_decompress(dctx, g->p + g->len, &out_n, in + pos, &in_n, NULL);
    if (LZ4F_isError(hint)) {
      rc = ASX_EDECOMPRESS;
      break;
    }
    g->len += out_n;
    pos += in_n;
    if (hint != 0 && pos == len && out_n == 0 && g->len < g->cap) {
      rc = ASX_EDECOMPRESS; /* frame incomplete and no more input */
      break;
    }
  }
  if (!rc && pos != len) rc = ASX_EDECOMPRESS;
  LZ4F_freeDecompressionContext(dctx);
  return rc;
}

static int zstd_decompress(grow *g, const uint8_t *in, size_t len) {
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  if (!dctx) return ASX_ENOMEM;
  ZSTD_inBuffer ib = {in, len, 0};
  int rc = 0;
  size_t ret = 1;
  while (ret != 0) {
    rc = grow_more(g);
    if (rc) break;
    ZSTD_outBuffer ob = {g->p, g->cap, g->len};
    ret = ZSTD_decompressStream(dctx, &ob, &ib);
    if (ZSTD_isError(ret)) {
      rc = ASX_EDECOMPRESS;
      break;
    }
    size_t produced = ob.pos - g->len;
    g->len = ob.pos;
    if (ret != 0 && ib.pos == ib.size && produced == 0 && g->len < g->cap) {
      rc = ASX_EDECOMPRESS;
      break;
    }
  }
  if (!rc && ib.pos != ib.size) rc = ASX_EDECOMPRESS;
  ZSTD_freeDCtx(dctx);
  return rc;
}

int asx_kafka_decompress(int codec, const asx_allocator *a, const uint8_t *in, size_t len,
                         size_t max, uint8_t **out, size_t *out_len) {
  /* One byte of headroom tells "exactly max" apart from "more than max". */
  if (max >= SIZE_MAX) max = SIZE_MAX - 1;
  grow g = {a, NULL, 0, 0, max + 1};
  int rc;
  switch (codec) {
    case ASX_KAFKA_CODEC_GZIP: rc = gzip_decompress(&g, in, len); break;
    case ASX_KAFKA_CODEC_LZ4: rc = lz4_decompress(&g, in, len); break;
    case ASX_KAFKA_CODEC_ZSTD: rc = zstd_decompress(&g, in, len); break;
    default: return ASX_EUNSUPPORTED;
  }
  if (!rc && g.len > max) rc = ASX_ELIMIT;
  if (rc) {
    asx_free(a, g.p);
    return rc;
  }
  if (!g.p) {
    g.p = asx_alloc(a, 1);
    if (!g.p) return ASX_ENOMEM;
  }
  *out = g.p;
  *out_len = g.len;
  return 0;
}

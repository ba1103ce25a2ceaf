/* Message compression (grpc-encoding): gzip (RFC 1952) and deflate, which gRPC defines as the
 * zlib format (RFC 1950), both through zlib. Inflating never trusts a size from the input: the
 * output grows in steps and stops at the caller's limit, so a small bomb cannot allocate more
 * than `max` bytes. */
#include <string.h>
#include <zlib.h>

#include "asx/grpc.h"

static void *z_alloc(void *ud, unsigned n, unsigned size) {
  if (size && n > SIZE_MAX / size) return NULL;
  return asx_alloc(ud, (size_t)n * size);
}

static void z_free(void *ud, void *p) { asx_free(ud, p); }

static int window_bits(asx_grpc_encoding e) { return e == ASX_GRPC_GZIP ? 15 + 16 : 15; }

int asx_grpc_encoding_parse(asx_slice name, asx_grpc_encoding *out) {
  if (asx_slice_eq(name, "identity")) *out = ASX_GRPC_IDENTITY;
  else if (asx_slice_eq(name, "gzip")) *out = ASX_GRPC_GZIP;
  else if (asx_slice_eq(name, "deflate")) *out = ASX_GRPC_DEFLATE;
  else return ASX_EUNSUPPORTED;
  return 0;
}

const char *asx_grpc_encoding_name(asx_grpc_encoding e) {
  switch (e) {
  case ASX_GRPC_GZIP: return "gzip";
  case ASX_GRPC_DEFLATE: return "deflate";
  default: return "identity";
  }
}

bool asx_grpc_accepts(asx_slice accept, asx_grpc_encoding e) {
  const char *want = asx_grpc_encoding_name(e);
  size_t wn = strlen(want);
  size_t i = 0;
  while (i < accept.len) { /* comma-separated tokens, optional spaces */
    while (i < accept.len && (accept.ptr[i] == ' ' || accept.ptr[i] == ',')) i++;
    size_t start = i;
    while (i < accept.len && accept.ptr[i] != ',' && accept.ptr[i] != ' ') i++;
    if (i - start == wn && memcmp(accept.ptr + start, want, wn) == 0) return true;
  }
  return false;
}

/* Checks the arguments and readies a z_stream that allocates through out's allocator. */
static int z_prepare(z_stream *zs, asx_grpc_encoding e, const void *in, size_t len, const asx_buf *out) {
  if (!out || (len && !in) || (e != ASX_GRPC_GZIP && e != ASX_GRPC_DEFLATE)) return ASX_EINVAL;
  if (len > UINT32_MAX) return ASX_ELIMIT;
  memset(zs, 0, sizeof *zs);
  zs->zalloc = z_alloc;
  zs->zfree = z_free;
  zs->opaque = (void *)out->alloc;
  return 0;
}

int asx_grpc_compress(asx_grpc_encoding e, const void *in, size_t len, asx_buf *out) {
  z_stream zs;
  int rc = z_prepare(&zs, e, in, len, out);
  if (rc) return rc;
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits(e), 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return ASX_ENOMEM;
  size_t bound = deflateBound(&zs, (uLong)len);
  size_t before = out->len;
  rc = asx_buf_reserve(out, bound);
  if (rc == 0) {
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    int z = deflate(&zs, Z_FINISH); /* the bound makes one call enough */
    if (z == Z_STREAM_END) out->len = before + (bound - zs.avail_out);
    else rc = z == Z_MEM_ERROR ? ASX_ENOMEM : ASX_EIO;
  }
  deflateEnd(&zs);
  return rc;
}

int asx_grpc_decompress(asx_grpc_encoding e, const void *in, size_t len, size_t max, asx_buf *out) {
  z_stream zs;
  int rc = z_prepare(&zs, e, in, len, out);
  if (rc) return rc;
  if (inflateInit2(&zs, window_bits(e)) != Z_OK) return ASX_ENOMEM;
  size_t before = out->len;
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  for (;;) {
    /* Grow by what is already out (at least 4 KiB), never past max + 1: one byte over the
     * limit is enough to know the message is too large. */
    size_t have = out->len - before;
    size_t step = have < 4096 ? 4096 : have;
    if (step > max + 1 - have) step = max + 1 - have;
    if (step > UINT32_MAX) step = UINT32_MAX;
    if (step == 0) {
      rc = ASX_ELIMIT;
      break;
    }
    if ((rc = asx_buf_reserve(out, step)) != 0) break;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)step;
    int z = inflate(&zs, Z_NO_FLUSH);
    out->len += step - zs.avail_out;
    if (out->len - before > max) {
      rc = ASX_ELIMIT;
      break;
    }
    if (z == Z_STREAM_END) {
      if (zs.avail_in != 0) rc = ASX_EDECOMPRESS; /* bytes after the end of the stream */
      break;
    }
    if (z == Z_MEM_ERROR) {
      rc = ASX_ENOMEM;
      break;
    }
    if (z != Z_OK && z != Z_BUF_ERROR) {
      rc = ASX_EDECOMPRESS;
      break;
    }
    if (z == Z_BUF_ERROR && zs.avail_in == 0 && zs.avail_out != 0) {
      rc = ASX_EDECOMPRESS; /* input ended inside the stream */
      break;
    }
  }
  inflateEnd(&zs);
  if (rc) out->len = before; /* nothing half-decoded is left behind */
  return rc;
}

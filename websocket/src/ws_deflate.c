/* permessage-deflate over zlib: raw deflate, one sync flush per message with its 00 00 ff ff
 * tail stripped (sender) and re-appended (receiver), bounded inflation. zlib allocates through
 * the asx allocator hook so its memory is counted and can be made to fail in tests. */
#include <string.h>

#include "ws_deflate.h"

/* Output granularity of inflation: the most we decode past what we have checked. */
#define WS_INFLATE_STEP ((size_t)16 * 1024)

static const uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};

static voidpf ws_zalloc(voidpf opaque, uInt items, uInt size) {
  if (size && items > SIZE_MAX / size) return Z_NULL;
  return asx_alloc((const asx_allocator *)opaque, (size_t)items * size);
}

static void ws_zfree(voidpf opaque, voidpf ptr) { asx_free((const asx_allocator *)opaque, ptr); }

static void z_hooks(z_stream *z, const asx_allocator *a) {
  memset(z, 0, sizeof *z);
  z->zalloc = ws_zalloc;
  z->zfree = ws_zfree;
  z->opaque = (voidpf)a;
}

void ws_deflater_setup(ws_deflater *d, const asx_allocator *a, int window_bits, bool no_takeover) {
  memset(d, 0, sizeof *d);
  d->alloc = a;
  d->window_bits = window_bits;
  d->no_takeover = no_takeover;
}

static int deflater_start(ws_deflater *d) {
  z_hooks(&d->z, d->alloc);
  /* zlib's raw deflate cannot use a 256-byte window. With no back-references at all
   * (Huffman-only) the output is valid for every window size, so a peer that asked for 8 bits
   * still gets a conforming stream. */
  int bits = d->window_bits < 9 ? 9 : d->window_bits;
  int strategy = d->window_bits < 9 ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY;
  int rc = deflateInit2(&d->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 8, strategy);
  if (rc == Z_MEM_ERROR) return ASX_ENOMEM;
  if (rc != Z_OK) return ASX_ECORRUPT;
  d->ready = true;
  return 0;
}

int ws_deflate_message(ws_deflater *d, const uint8_t *in, size_t n, asx_buf *out) {
  if (d->broken) return ASX_EFATAL;
  if (!d->ready) {
    int rc = deflater_start(d);
    if (rc) return rc;
  }
  asx_buf_reset(out);
  if (n == 0) {
    /* zlib refuses a second flush with no input in between; an empty message is just an empty
     * stored block, whose tail-stripped form is one zero byte (RFC 7692 7.2.3.6). The
     * compressor's state does not change, so history stays in step with the peer. */
    return asx_buf_append_byte(out, 0x00) == 0 ? 0 : ASX_ENOMEM;
  }
  /* Reserve the worst case up front so that the compressor never advances without room to
   * keep its output: a failure here leaves the stream untouched. deflateBound covers a
   * finished stream; a sync flush adds at most an empty stored block (5 bytes) plus bits. */
  uLong bound = deflateBound(&d->z, (uLong)n) + 16;
  if (bound < n) return ASX_ENOMEM;
  int rc = asx_buf_reserve(out, (size_t)bound);
  if (rc) return rc == ASX_ELIMIT ? ASX_ENOMEM : rc;
  d->z.next_in = (Bytef *)(uintptr_t)in;
  size_t left = n;
  for (;;) {
    uInt chunk_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
    size_t room = out->cap - out->len;
    uInt chunk_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
    d->z.avail_in = chunk_in;
    d->z.next_out = out->data + out->len;
    d->z.avail_out = chunk_out;
    int zr = deflate(&d->z, left > chunk_in ? Z_NO_FLUSH : Z_SYNC_FLUSH);
    if (zr != Z_OK && zr != Z_BUF_ERROR) {
      d->broken = true;
      return ASX_EFATAL;
    }
    left -= chunk_in - d->z.avail_in;
    out->len += chunk_out - d->z.avail_out;
    if (left == 0 && d->z.avail_out != 0) break; /* flushed completely */
    if (d->z.avail_out == 0 && asx_buf_reserve(out, 4096) != 0) {
      d->broken = true; /* the compressor moved on without us: the peer would desync */
      return ASX_EFATAL;
    }
  }
  if (out->len < 4 || memcmp(out->data + out->len - 4, sync_tail, 4) != 0) {
    d->broken = true;
    return ASX_ECORRUPT;
  }
  out->len -= 4;
  if (d->no_takeover && deflateReset(&d->z) != Z_OK) {
    d->broken = true;
    return ASX_ECORRUPT;
  }
  return 0;
}

void ws_deflater_free(ws_deflater *d) {
  if (d->ready) deflateEnd(&d->z);
  d->ready = false;
}

void ws_inflater_setup(ws_inflater *f, const asx_allocator *a, bool no_takeover) {
  memset(f, 0, sizeof *f);
  f->alloc = a;
  f->no_takeover = no_takeover;
}

static int inflater_start(ws_inflater *f) {
  z_hooks(&f->z, f->alloc);
  int rc = inflateInit2(&f->z, -15);
  if (rc == Z_MEM_ERROR) return ASX_ENOMEM;
  if (rc != Z_OK) return ASX_ECORRUPT;
  f->ready = true;
  return 0;
}

int ws_inflate_chunk(ws_inflater *f, const uint8_t *in, size_t n, asx_buf *msg) {
  if (!f->ready) {
    int rc = inflater_start(f);
    if (rc) return rc;
  }
  if (f->ended) return 0; /* bytes after a final block carry nothing (RFC 7692 7.2.3.4 case) */
  bool output_full = false;
  while (n > 0 || output_full) {
    uInt chunk_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
    size_t room = msg->max - msg->len;
    uint8_t probe;
    uint8_t *dst = &probe;
    size_t cap = 1;
    if (room) {
      /* Bounded step: we never ask zlib for more than we are still allowed to keep. */
      cap = room < WS_INFLATE_STEP ? room : WS_INFLATE_STEP;
      int rc = asx_buf_reserve(msg, cap);
      if (rc) return rc;
      dst = msg->data + msg->len;
    }
    f->z.next_in = (Bytef *)(uintptr_t)in;
    f->z.avail_in = chunk_in;
    f->z.next_out = dst;
    f->z.avail_out = (uInt)cap;
    int zr = inflate(&f->z, Z_SYNC_FLUSH);
    size_t used = chunk_in - f->z.avail_in;
    size_t produced = cap - f->z.avail_out;
    in += used;
    n -= used;
    if (produced && !room) return ASX_ELIMIT; /* the probe byte: output beyond the cap */
    if (room) msg->len += produced;
    if (zr == Z_STREAM_END) {
      f->ended = true;
      return 0;
    }
    if (zr == Z_MEM_ERROR) return ASX_ENOMEM;
    if (zr == Z_BUF_ERROR) return 0; /* no progress possible: wants more input */
    if (zr != Z_OK) return ASX_EDECOMPRESS;
    if (!used && !produced) return 0;
    output_full = f->z.avail_out == 0;
  }
  return 0;
}

/* After a BFINAL block zlib wants a reset; with context takeover the window must survive it. */
static int inflater_restart_keep_window(ws_inflater *f) {
  uInt len = 0;
  if (inflateGetDictionary(&f->z, Z_NULL, &len) != Z_OK) return ASX_ECORRUPT;
  uint8_t *dict = NULL;
  if (len) {
    dict = asx_alloc(f->alloc, len);
    if (!dict) return ASX_ENOMEM;
    inflateGetDictionary(&f->z, dict, &len);
  }
  int rc = inflateReset(&f->z) == Z_OK ? 0 : ASX_ECORRUPT;
  if (!rc && len && inflateSetDictionary(&f->z, dict, len) != Z_OK) rc = ASX_ECORRUPT;
  asx_free(f->alloc, dict);
  return rc;
}

int ws_inflate_finish(ws_inflater *f, asx_buf *msg) {
  int rc = ws_inflate_chunk(f, sync_tail, sizeof sync_tail, msg);
  if (rc) return rc;
  if (f->no_takeover) {
    if (inflateReset(&f->z) != Z_OK) return ASX_ECORRUPT;
  } else if (f->ended) {
    rc = inflater_restart_keep_window(f);
    if (rc) return rc;
  }
  f->ended = false;
  return 0;
}

void ws_inflater_free(ws_inflater *f) {
  if (f->ready) inflateEnd(&f->z);
  f->ready = false;
}

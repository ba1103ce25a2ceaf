/* permessage-deflate data path (RFC 7692 section 7.2) over zlib raw deflate. Internal. */
#ifndef ASX_WS_DEFLATE_H
#define ASX_WS_DEFLATE_H

#include <zlib.h>

#include "ws_internal.h"

/* Our compressor. Created lazily on the first message so that connections which never send
 * do not pay for a deflate state. */
typedef struct ws_deflater {
  z_stream z;
  bool ready;
  bool broken;          /* a failure left the stream out of step with the peer's inflater */
  bool no_takeover;     /* reset after every message */
  int window_bits;      /* 8..15 as negotiated */
  const asx_allocator *alloc;
} ws_deflater;

/* The peer's messages. Always inflates with a 32 KiB window: larger than any the peer may use. */
typedef struct ws_inflater {
  z_stream z;
  bool ready;
  bool ended;           /* the peer ended the stream with a BFINAL block inside this message */
  bool no_takeover;
  const asx_allocator *alloc;
} ws_inflater;

void ws_deflater_setup(ws_deflater *d, const asx_allocator *a, int window_bits, bool no_takeover);
/* Compresses one whole message into `out` (replaced), without the 00 00 ff ff tail. Returns 0;
 * ASX_ENOMEM with the compressor untouched (safe to retry); ASX_EFATAL when the compressor
 * advanced but the output was lost (the connection must be failed). */
int ws_deflate_message(ws_deflater *d, const uint8_t *in, size_t n, asx_buf *out);
void ws_deflater_free(ws_deflater *d);

void ws_inflater_setup(ws_inflater *f, const asx_allocator *a, bool no_takeover);
/* Inflates a chunk of a compressed message, appending to `msg` in bounded steps; output beyond
 * msg->max is never stored: it is ASX_ELIMIT. Also ASX_EDECOMPRESS, ASX_ENOMEM. */
int ws_inflate_chunk(ws_inflater *f, const uint8_t *in, size_t n, asx_buf *msg);
/* Ends the message: feeds the implied 00 00 ff ff tail, then resets the stream if context
 * takeover is off (or keeps the window across a BFINAL block if it is on). */
int ws_inflate_finish(ws_inflater *f, asx_buf *msg);
void ws_inflater_free(ws_inflater *f);

#endif

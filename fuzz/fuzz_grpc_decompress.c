/* Fuzz target: grpc-encoding decompression (gzip / deflate) of untrusted message bytes with a
 * 256 KiB limit. A success must stay within the limit and survive a compress/decompress round
 * trip; a failure must leave the output buffer as it was.
 * Input layout: [0: encoding, even = gzip, odd = deflate][compressed bytes...]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/grpc.h"

#define LIMIT (256u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  asx_grpc_encoding e = (data[0] & 1) ? ASX_GRPC_DEFLATE : ASX_GRPC_GZIP;
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  asx_buf_append(&out, "pre", 3);
  int rc = asx_grpc_decompress(e, data + 1, size - 1, LIMIT, &out);
  if (rc != 0) {
    if (rc != ASX_ELIMIT && rc != ASX_EDECOMPRESS && rc != ASX_ENOMEM) abort();
    if (out.len != 3 || memcmp(out.data, "pre", 3) != 0) abort();
  } else {
    if (out.len < 3 || out.len - 3 > LIMIT) abort();
    asx_buf z, back;
    asx_buf_init(&z, NULL, 0);
    asx_buf_init(&back, NULL, 0);
    if (asx_grpc_compress(e, out.data + 3, out.len - 3, &z) != 0) abort();
    if (asx_grpc_decompress(e, z.data, z.len, LIMIT, &back) != 0) abort();
    if (back.len != out.len - 3 || (back.len && memcmp(back.data, out.data + 3, back.len) != 0)) abort();
    asx_buf_free(&z);
    asx_buf_free(&back);
  }
  asx_buf_free(&out);
  return 0;
}

/* Declarations shared between the NATS codec's source files; not part of the public API. */
#ifndef ASX_NATS_INTERNAL_H
#define ASX_NATS_INTERNAL_H

#include <stdio.h>

#include "asx/nats.h"

/* "NATS/1.0" + CRLF + the empty line that ends the block. */
#define ASX_NATS_HDR_VERSION "NATS/1.0"
#define ASX_NATS_HDR_MIN_BLOCK 12u

/* Validates a complete header block (from "NATS/1.0" to the final CRLFCRLF) and extracts the
 * optional status code and description. Returns 0 or ASX_EPROTO with a message in err. */
int asx_nats_hdr_block_check(const uint8_t *block, size_t len, int *status, asx_slice *status_text,
                             char *err, size_t err_len);

/* Spaces and tabs separate protocol fields and are trimmed around header values. */
static inline bool asx_nats_is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

#endif

/* Hex helpers shared by the Kafka tests: expected bytes are written as spaced hex strings. */
#ifndef KAFKA_TEST_HEX_H
#define KAFKA_TEST_HEX_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "asx/base.h"

static inline size_t unhex(const char *hex, uint8_t *out) {
  size_t n = 0;
  while (hex[0] && hex[1]) {
    if (hex[0] == ' ') {
      hex++;
      continue;
    }
    unsigned b;
    sscanf(hex, "%2x", &b);
    out[n++] = (uint8_t)b;
    hex += 2;
  }
  return n;
}

static inline void expect_bytes(const asx_buf *b, const char *hex) {
  uint8_t want[512];
  size_t n = unhex(hex, want);
  cr_assert_eq(b->len, n, "length %zu, expected %zu", b->len, n);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(b->data[i], want[i], "byte %zu: %02x, expected %02x", i, b->data[i], want[i]);
}

#endif

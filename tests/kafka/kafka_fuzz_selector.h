/* The first byte of a fuzz_kafka_response input selects the API and version: high nibble = index
 * into this table, low nibble = version (modulo the API's version count). Shared by the harness
 * and by the mock-cluster test that captures seed inputs. */
#ifndef KAFKA_FUZZ_SELECTOR_H
#define KAFKA_FUZZ_SELECTOR_H

#include <stdint.h>

static const int16_t kafka_fuzz_apis[8] = {18, 3, 0, 1, 2, 10, 8, 9};

static inline uint8_t kafka_fuzz_selector(int16_t api_key, int16_t version) {
  for (int i = 0; i < 8; i++)
    if (kafka_fuzz_apis[i] == api_key) return (uint8_t)((i << 4) | (version & 15));
  return 0;
}

#endif

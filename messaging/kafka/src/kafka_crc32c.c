/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven one byte at a time. Kafka
 * record batches v2 use it; the table is built once from the polynomial. */
#include <pthread.h>

#include "kafka_internal.h"

static uint32_t crc_table[256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t asx_kafka_crc32c(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_table_once, build_table);
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

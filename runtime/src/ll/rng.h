/* ll/rng.h: xoshiro256** (Blackman and Vigna), seeded through splitmix64 (internal to asx_runtime).
 * Not cryptographic: it picks steal victims and, in the lab, the next task. */
#ifndef ASX_LL_RNG_H
#define ASX_LL_RNG_H

#include <stdint.h>

typedef struct asx_rng {
  uint64_t s[4];
} asx_rng;

/* Not thread-safe on r: any seed (including 0) gives a valid, non-zero state. */
void asx_rng_seed(asx_rng *r, uint64_t seed);
/* Not thread-safe on r: the next 64 random bits. */
uint64_t asx_rng_next(asx_rng *r);
/* Not thread-safe on r: uniform in [0, n) without modulo bias; n must be > 0 (0 returns 0). */
uint64_t asx_rng_below(asx_rng *r, uint64_t n);

#endif

/* ll/rng.c: xoshiro256** 1.0 and splitmix64, from the published algorithm descriptions. */
#include "ll/rng.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void asx_rng_seed(asx_rng *r, uint64_t seed) {
  /* splitmix64 spreads any seed over the 256-bit state; its outputs are never all zero. */
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t asx_rng_next(asx_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t asx_rng_below(asx_rng *r, uint64_t n) {
  if (n == 0) return 0;
  /* Reject the lowest (2^64 mod n) values so that every residue is equally likely. */
  uint64_t threshold = (0 - n) % n;
  for (;;) {
    uint64_t x = asx_rng_next(r);
    if (x >= threshold) return x % n;
  }
}

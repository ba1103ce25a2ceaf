/* Internals shared by the lab's sources: varints, record encoding, the lab's own PRNG, the run
 * engine's modes (record / replay / guided) used by explore and minimize. Not public API. */
#ifndef ASX_LAB_INTERNAL_H
#define ASX_LAB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/lab.h"

/* ---- LEB128 varints ---- */
#define LAB_VARINT_MAX 10

static inline size_t lab_put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* 0 on success (advances *pos), ASX_EPROTO when the bytes end or the value is over 64 bits. */
static inline int lab_get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0, i = 0; i < LAB_VARINT_MAX; i++, shift += 7) {
    if (*pos >= len) return ASX_EPROTO;
    uint8_t b = p[(*pos)++];
    if (i == 9 && b > 1) return ASX_EPROTO;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return ASX_EPROTO;
}

static inline uint64_t lab_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t lab_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* ---- Records ---- */
#define LAB_STR_CUT 255                            /* the writer cuts longer strings */
#define LAB_REC_MAX (1 + 6 * LAB_VARINT_MAX + 2 * (2 + LAB_STR_CUT)) /* one encoded record */

/* Encodes r into p (room for LAB_REC_MAX). Returns the length, 0 for an unknown type. */
size_t lab_record_encode(const asx_lab_record *r, uint8_t *p);
/* Decodes one record of exactly len bytes. 0 or ASX_EPROTO / ASX_ELIMIT (string > max_string). */
int lab_record_decode(const uint8_t *p, size_t len, size_t max_string, asx_lab_record *r);
/* Length of the record starting at p (parsing its fields), or a negative code. */
int lab_record_span(const uint8_t *p, size_t len, size_t max_string, size_t *span);

/* ---- Header ---- */
#define LAB_MAGIC "ASXLABTR"
#define LAB_MAGIC_LEN 8
#define LAB_HEADER_MAX 256 /* encoded header without its digest */
/* Encodes the header fields (magic included) into p (LAB_HEADER_MAX). Returns the length. */
size_t lab_header_encode(const asx_lab_trace_header *h, uint8_t *p);

/* ---- Lab PRNG (splitmix64: tiny, fast, good enough for schedules) ---- */
static inline uint64_t lab_rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline uint32_t lab_rng_below(uint64_t *s, uint32_t n) {
  return (uint32_t)(((lab_rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* ---- The run engine (run.c) ---- */
typedef enum { LAB_MODE_RECORD, LAB_MODE_REPLAY, LAB_MODE_GUIDED } lab_mode;

typedef struct lab_guide {
  const uint64_t *tasks; /* preferred task per step */
  size_t n;              /* steps that follow the guide; the rest "keep running the current task" */
  bool round_robin;      /* ... or, instead, round-robin in id order */
} lab_guide;

typedef struct lab_run_args {
  lab_mode mode;
  const asx_lab_config *cfg;
  const asx_lab_trace *replay; /* REPLAY */
  lab_guide guide;             /* GUIDED */
  bool keep_trace;             /* hand the trace bytes back */
  /* outputs */
  asx_lab_verdict *v;
  asx_lab_divergence *div;
  bool chosen_wanted;          /* fill chosen/nchosen: the chosen task of each step (caller frees) */
  uint64_t *chosen;
  size_t nchosen;
  uint8_t *trace;
  size_t trace_len;
} lab_run_args;

int lab_run(lab_run_args *args);
/* Raw encoded bytes of record i of a verified trace. */
const uint8_t *lab_trace_raw(const asx_lab_trace *t, size_t i, size_t *len);
/* Header -> config (for replay and minimize). */
void lab_config_from_header(const asx_lab_trace_header *h, asx_lab_config *cfg);

#endif

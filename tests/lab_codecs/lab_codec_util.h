/* Shared glue for the codec lab tests: a client task and a server task talk over a simulated
 * stream pair (delays, partial reads/writes and, in the reset variant, resets drawn from the
 * lab's seeded PRNG) on the deterministic driver; the checks run a scenario for many seeds and
 * assert every oracle, byte-identical traces for one seed and replay to the same digest. */
#ifndef LAB_CODEC_UTIL_H
#define LAB_CODEC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asx/base.h"
#include "asx/lab.h"
#include "asx/net.h"
#include "asx/runtime.h"

/* How a conversation is disturbed beyond delays and partial I/O. */
typedef enum lc_mode {
  LC_PLAIN = 0,  /* must complete: both sides return 0 */
  LC_RESET = 1,  /* resets injected: a side may end with a transport error */
  LC_CANCEL = 2  /* the conversation's region is cancelled at a random virtual time */
} lc_mode;

/* One side of a conversation, given to the side's function. */
typedef struct lc_side {
  asx_lab_ctx *lab;
  asx_stream *s;
  void *st;            /* the scenario's shared state (expected and received transcripts) */
  const char *name;    /* "client" / "server" */
  bool reset_mode;     /* not LC_PLAIN: the conversation may be cut short (transport error or
                          cancellation is an acceptable ending, a partial transcript too) */
  int rc;              /* what the side function returned */
  bool failed;         /* lc_fail was called by this side */
  /* Internal: the write queue and its writer task (see lc_write). */
  asx_buf outq;
  asx_task *writer;
  bool writer_parked, writer_alive, want_shutdown, fn_done;
  int write_rc;        /* the writer's error, returned by later lc_write calls */
  int refs;            /* side task + writer: the last one closes the stream */
} lc_side;

typedef int (*lc_side_fn)(asx_cx *cx, lc_side *side);

/* Task-only: the network faults of every codec test, drawn per seed from asx_random: segment
 * size 7/64/300/1460, partial I/O 0-60 %, delays up to 3 ms; LC_RESET adds resets. */
void lc_sim_opts(asx_cx *cx, asx_sim_opts *o, lc_mode mode);

/* Task-only: makes a simulated pair, runs client and server in one region, closes each stream
 * when its side returns, then checks the endings: LC_PLAIN both must return 0; LC_RESET 0 or a
 * transport error (ECONNRESET, EPIPE, ECLOSED); LC_CANCEL also ECANCELED. Anything else is a
 * scenario failure. Returns 0 unless the setup itself failed. */
int lc_run_pair(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode, lc_side_fn client, lc_side_fn server,
                void *st);

/* Task-only: a scenario assertion with a formatted message (recorded in the trace). */
void lc_fail(asx_cx *cx, lc_side *side, const char *assertion, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Task-only: records an application-level event in the trace (so the digest covers it). */
void lc_note(asx_cx *cx, const char *what, const void *bytes, size_t len);
/* Task-only (the side's task): queues n bytes for the side's writer task and returns at once
 * (0, or the writer's earlier error: ECONNRESET, EPIPE, ECANCELED...). Every scenario writes
 * through it, so the negative control below can damage one write. */
int lc_write(asx_cx *cx, lc_side *side, const void *data, size_t n, size_t *written);
/* Task-only: FIN once everything queued before it was written. */
int lc_shutdown(asx_cx *cx, lc_side *side);
/* Task-only: writes the whole buffer and empties it. */
int lc_flush(asx_cx *cx, lc_side *side, asx_buf *b);
/* True for the errors a reset (or the peer's close after a reset) may surface as. */
bool lc_is_transport_error(int rc);
/* FNV-1a, for compact transcript records. */
uint64_t lc_hash(const void *p, size_t n);

/* Conversations run (lc_run_pair calls) and those in which a side ended with a transport error
 * or was cancelled (the tests zero them). */
extern unsigned lc_resets_seen, lc_runs;

/* Criterion-side checks (call from a Test). */
/* Runs `scenario` for seeds first..first+n-1 (odd seeds PCT, even seeds random scheduling):
 * every oracle passes and main returns 0. The first `ndet` seeds are also run a second time
 * (identical trace bytes) and replayed (identical final digest). */
void lc_check_seeds(const char *scenario, uint64_t first, unsigned n, unsigned ndet);

/* asx_lab_explore over `runs` seeds from `first`, with each strategy (random and PCT). */
void lc_check_explore(const char *scenario, uint64_t first, uint64_t runs);
/* Negative control: runs `scenario` once with one bit of the client's first write of 40+ bytes
 * flipped on its way to the stream; some oracle (normally the scenario's own transcript or
 * decode assertion) must fail, proving the transcript checks are live. */
void lc_check_detects(const char *scenario, uint64_t seed);

/* The five tests every codec runs, built on the file's `static int scenario(asx_cx *, asx_lab_ctx *,
 * lc_mode)`: it registers the plain, reset and cancel variants as PLAIN (e.g. "http1_pipeline"),
 * PREFIX "_reset" and PREFIX "_cancel". Include <criterion/criterion.h> before this header. */
#define LC_CODEC_SUITE(SUITE, PLAIN, PREFIX, DESC)                                                   \
  static int sc_plain(asx_cx *cx, asx_lab_ctx *lab) { return scenario(cx, lab, LC_PLAIN); }       \
  static int sc_reset(asx_cx *cx, asx_lab_ctx *lab) { return scenario(cx, lab, LC_RESET); }       \
  static int sc_cancel(asx_cx *cx, asx_lab_ctx *lab) { return scenario(cx, lab, LC_CANCEL); }     \
  static void setup(void) {                                                                       \
    asx_lab_register(PLAIN, sc_plain, DESC);                                                      \
    asx_lab_register(PREFIX "_reset", sc_reset, "the same with resets injected");                 \
    asx_lab_register(PREFIX "_cancel", sc_cancel, "the same, cancelled at a random moment");      \
  }                                                                                               \
  TestSuite(SUITE, .init = setup, .timeout = 240);                                                \
  Test(SUITE, fifty_seeds_oracles_determinism_replay) { lc_check_seeds(PLAIN, 1, 50, 50); }       \
  Test(SUITE, resets_end_cleanly) {                                                               \
    lc_resets_seen = lc_runs = 0;                                                                 \
    lc_check_seeds(PREFIX "_reset", 1000, 50, 50);                                                \
    cr_log_info("%u of %u conversations ended by a reset", lc_resets_seen, lc_runs);              \
    cr_assert_gt(lc_resets_seen, 0, "no run saw a reset: the variant tests nothing");             \
    cr_assert_lt(lc_resets_seen, lc_runs, "every run was reset: none finished under the reset rate"); \
  }                                                                                               \
  Test(SUITE, flipped_bit_is_caught) { lc_check_detects(PLAIN, 7); }                              \
  Test(SUITE, explore_200_more_seeds) { lc_check_explore(PLAIN, 100, 200); }                      \
  Test(SUITE, cancel_at_random_moment_ends_cleanly) {                                             \
    lc_resets_seen = lc_runs = 0;                                                                 \
    lc_check_seeds(PREFIX "_cancel", 2000, 50, 50);                                               \
    cr_log_info("%u of %u conversations cut by the cancellation", lc_resets_seen, lc_runs);       \
    cr_assert_gt(lc_resets_seen, 0, "no run was cut: the variant tests nothing");                 \
  }

#endif /* LAB_CODEC_UTIL_H */

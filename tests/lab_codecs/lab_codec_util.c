/* Shared glue for the codec lab tests (see lab_codec_util.h). */
#include "lab_codec_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

unsigned lc_resets_seen, lc_runs;
static bool corrupt_armed; /* lc_check_detects: flip one bit of the client's first big write */

void lc_sim_opts(asx_cx *cx, asx_sim_opts *o, lc_mode mode) {
  static const size_t segments[] = {7, 64, 300, 1460};
  asx_sim_opts_default(o);
  o->capacity = 8192;          /* small: writers wait for readers, as over a real socket */
  o->max_segment = segments[asx_random(cx) % 4]; /* per seed: from near byte-at-a-time to MSS */
  o->max_delay_ns = 3 * MS;    /* virtual time: free */
  o->partial_permille = (uint32_t)(asx_random(cx) % 600); /* short reads/writes, per seed */
  o->reset_permille = mode == LC_RESET ? 10 : 0; /* some runs end early, some finish */
}

bool lc_is_transport_error(int rc) {
  return rc == ASX_ECONNRESET || rc == ASX_EPIPE || rc == ASX_ECLOSED;
}

uint64_t lc_hash(const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

void lc_note(asx_cx *cx, const char *what, const void *bytes, size_t len) {
  asx_trace_user(cx, what, lc_hash(bytes, len) ^ (uint64_t)len);
}

void lc_fail(asx_cx *cx, lc_side *side, const char *assertion, const char *fmt, ...) {
  char msg[512];
  int k = snprintf(msg, sizeof(msg), "%s: ", side->name);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + k, sizeof(msg) - (size_t)k, fmt, ap);
  va_end(ap);
  side->failed = true;
  asx_lab_fail(side->lab, cx, assertion, msg);
}

/* Every side writes through a queue drained by its own writer task, so a side never blocks on a
 * write while its peer blocks on one too (a naive "write everything, then read" loop over
 * bounded buffers deadlocks exactly like that; the lab's deadlock oracle found it). Reads stay
 * in the side's task: full duplex, as a poll loop over a real socket would be. The queue and the
 * parked/alive flags need no lock: the deterministic driver runs one task at a time and
 * switches only at checkpoints (none between a flag test and the action on it). */
int lc_write(asx_cx *cx, lc_side *side, const void *data, size_t n, size_t *written) {
  (void)cx;
  if (written) *written = 0;
  if (side->write_rc) return side->write_rc;
  size_t at = side->outq.len;
  int rc = asx_buf_append(&side->outq, data, n);
  if (rc) return rc;
  if (corrupt_armed && n >= 40 && strcmp(side->name, "client") == 0) {
    corrupt_armed = false;
    side->outq.data[at + n / 2] ^= 0x04;
  }
  if (written) *written = n;
  if (side->writer_parked) asx_task_wake(side->writer);
  return 0;
}

int lc_flush(asx_cx *cx, lc_side *side, asx_buf *b) {
  int rc = lc_write(cx, side, b->data, b->len, NULL);
  asx_buf_reset(b);
  return rc;
}

int lc_shutdown(asx_cx *cx, lc_side *side) {
  (void)cx;
  if (side->write_rc) return side->write_rc;
  side->want_shutdown = true;
  if (side->writer_parked) asx_task_wake(side->writer);
  return 0;
}

typedef struct side_run {
  lc_side side;
  lc_side_fn fn;
} side_run;

/* The side's task and its writer share the stream; the last of the two to finish closes it
 * (what a real connection does when it is done: the peer reads the bytes in flight, then the
 * end of stream; its later writes fail with EPIPE). */
static void side_release(lc_side *side) {
  if (--side->refs == 0) {
    asx_stream_close(side->s);
    side->s = NULL;
  }
}

static int writer_task(asx_cx *cx, void *arg) {
  lc_side *side = arg;
  uint8_t chunk[2048];
  bool shut = false;
  int rc = 0;
  for (;;) {
    if (side->outq.len) {
      /* Copy out first: the side may append (and so move the queue) while we are blocked. */
      size_t n = side->outq.len < sizeof(chunk) ? side->outq.len : sizeof(chunk);
      memcpy(chunk, side->outq.data, n);
      asx_buf_consume(&side->outq, n);
      rc = asx_stream_write_all(cx, side->s, chunk, n, NULL);
    } else if (side->want_shutdown && !shut) {
      shut = true;
      rc = asx_stream_shutdown(cx, side->s);
    } else if (side->fn_done) {
      break;
    } else {
      side->writer_parked = true;
      rc = asx_park(cx, ASX_UNLIMITED);
      side->writer_parked = false;
    }
    if (rc) break;
  }
  side->write_rc = rc;
  side->writer_alive = false;
  side_release(side);
  return 0;
}

static int run_side(asx_cx *cx, void *arg) {
  side_run *r = arg;
  r->side.rc = r->fn(cx, &r->side);
  r->side.fn_done = true;
  if (r->side.writer_alive && r->side.writer_parked) asx_task_wake(r->side.writer);
  side_release(&r->side);
  return 0;
}

static bool check_ending(asx_cx *cx, lc_side *side, lc_mode mode) {
  if (side->failed) return false;
  if (side->rc == 0) side->rc = side->write_rc; /* the writer's ending counts too */
  if (side->rc == 0 && side->outq.len) side->rc = ASX_EPROTO; /* bytes never sent */
  if (side->rc == 0) return false;
  if (mode != LC_PLAIN && lc_is_transport_error(side->rc)) return true;
  if (mode == LC_CANCEL && side->rc == ASX_ECANCELED) return true;
  lc_fail(cx, side, "side_error", "ended with %s (%s)", asx_errname(side->rc), asx_strerror(side->rc));
  return false;
}

/* LC_CANCEL: cancels the conversation's region after a random virtual delay (which may come
 * after the conversation finished: then it cancels nothing). */
static int canceller(asx_cx *cx, void *arg) {
  asx_region *r = arg;
  /* Conversations last from ~10 ms (redis) to ~400 ms (http2's 70 KB body) of virtual time:
   * half of the draws aim at the first 25 ms, the rest anywhere in the first second. */
  uint64_t window = asx_random(cx) % 2 ? 25 * MS : 1000 * MS;
  int rc = asx_sleep(cx, asx_random(cx) % window);
  if (rc == 0) asx_region_cancel(r, ASX_CANCEL_USER);
  return 0;
}

int lc_run_pair(asx_cx *cx, asx_lab_ctx *lab, lc_mode mode, lc_side_fn client, lc_side_fn server,
                void *st) {
  bool reset_mode = mode != LC_PLAIN;
  asx_sim_opts o;
  lc_sim_opts(cx, &o, mode);
  side_run c, s;
  memset(&c, 0, sizeof(c));
  memset(&s, 0, sizeof(s));
  c.side = (lc_side){.lab = lab, .st = st, .name = "client", .reset_mode = reset_mode, .refs = 2};
  s.side = (lc_side){.lab = lab, .st = st, .name = "server", .reset_mode = reset_mode, .refs = 2};
  c.fn = client;
  s.fn = server;
  asx_buf_init(&c.side.outq, NULL, 0);
  asx_buf_init(&s.side.outq, NULL, 0);
  int rc = asx_sim_pair(cx, &o, &c.side.s, &s.side.s);
  if (rc) return rc;
  asx_region *r = NULL;
  rc = asx_region_open(cx, NULL, &r);
  if (rc) {
    asx_stream_close(c.side.s);
    asx_stream_close(s.side.s);
    return rc;
  }
  /* Writers first, so a side can wake its writer from its first write. A failed spawn leaves
   * the side's references with us: we close its stream below. */
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = "server-writer";
  int e = asx_spawn(cx, r, writer_task, &s.side, &so, &s.side.writer);
  s.side.writer_alive = e == 0;
  so.name = "client-writer";
  if (!e) e = asx_spawn(cx, r, writer_task, &c.side, &so, &c.side.writer);
  c.side.writer_alive = e == 0 && c.side.writer;
  so.name = "server";
  if (!e) e = asx_spawn(cx, r, run_side, &s, &so, NULL);
  so.name = "client";
  if (!e) e = asx_spawn(cx, r, run_side, &c, &so, NULL);
  if (e) asx_region_cancel(r, ASX_CANCEL_USER); /* setup failed: end what started */
  if (mode == LC_CANCEL && !e) {
    so.name = "canceller";
    asx_spawn(cx, r, canceller, r, &so, NULL);
  }
  asx_region_close(cx, r, NULL);
  if (s.side.writer) asx_task_release(s.side.writer);
  if (c.side.writer) asx_task_release(c.side.writer);
  if (c.side.s) asx_stream_close(c.side.s); /* only when a spawn failed */
  if (s.side.s) asx_stream_close(s.side.s);
  if (e) {
    asx_buf_free(&c.side.outq);
    asx_buf_free(&s.side.outq);
    return e;
  }
  bool cr = check_ending(cx, &c.side, mode);
  bool sr = check_ending(cx, &s.side, mode);
  lc_runs++;
  if (cr || sr) lc_resets_seen++;
  asx_buf_free(&c.side.outq);
  asx_buf_free(&s.side.outq);
  return 0;
}

/* ---- Criterion-side checks ---- */

static void run_one(const char *scenario, uint64_t seed, asx_lab_verdict *v, uint8_t **trace,
                    size_t *len) {
  asx_lab_config cfg;
  asx_lab_config_default(&cfg);
  cfg.scenario = scenario;
  cfg.seed = seed;
  /* Odd seeds use PCT, even seeds uniform random choice. */
  cfg.strategy = (seed & 1) ? ASX_LAB_PCT : ASX_LAB_RANDOM;
  cfg.max_steps = 200000;
  cfg.poll_budget = 3; /* forced yields at stream checkpoints: far more interleavings */
  int rc = asx_lab_run(&cfg, v, trace, len);
  cr_assert_eq(rc, 0, "%s seed %llu: asx_lab_run: %s", scenario, (unsigned long long)seed,
               asx_errname(rc));
  cr_assert_eq(v->oracle, ASX_LAB_ORACLE_NONE, "%s seed %llu (%s): oracle %s\n%s", scenario,
               (unsigned long long)seed, asx_lab_strategy_name(cfg.strategy),
               asx_lab_oracle_name(v->oracle), v->detail);
  cr_assert_eq(v->run_error, 0, "%s seed %llu: run error %s", scenario, (unsigned long long)seed,
               asx_errname(v->run_error));
  cr_assert_eq(v->main_rc, 0, "%s seed %llu: main returned %s", scenario, (unsigned long long)seed,
               asx_errname(v->main_rc));
  cr_assert_eq(v->stats.live_tasks, 0);
  cr_assert_eq(v->stats.live_regions, 0);
  cr_assert_eq(v->stats.unresolved_obligations, 0);
}

void lc_check_seeds(const char *scenario, uint64_t first, unsigned n, unsigned ndet) {
  const char *more = getenv("LC_SEEDS"); /* longer sweeps by hand: LC_SEEDS=5000 */
  if (more && strtoul(more, NULL, 10) > 0) n = (unsigned)strtoul(more, NULL, 10);
  for (unsigned i = 0; i < n; i++) {
    uint64_t seed = first + i;
    asx_lab_verdict v;
    uint8_t *t1 = NULL;
    size_t l1 = 0;
    run_one(scenario, seed, &v, &t1, &l1);
    const char *dump = getenv("LC_DUMP"); /* debugging aid: keep the first trace for asx-lab dump */
    if (i == 0 && dump) {
      FILE *f = fopen(dump, "wb");
      if (f) {
        fwrite(t1, 1, l1, f);
        fclose(f);
      }
    }
    if (i == 0)
      cr_log_info("%s seed %llu: %llu steps, %llu records, %llu trace bytes, %llu tasks",
                  scenario, (unsigned long long)seed, (unsigned long long)v.steps,
                  (unsigned long long)v.records, (unsigned long long)v.trace_bytes,
                  (unsigned long long)v.stats.tasks_spawned);
    if (i < ndet) {
      asx_lab_verdict v2;
      uint8_t *t2 = NULL;
      size_t l2 = 0;
      run_one(scenario, seed, &v2, &t2, &l2);
      cr_assert_eq(l1, l2, "%s seed %llu: trace lengths differ (%zu vs %zu)", scenario,
                   (unsigned long long)seed, l1, l2);
      cr_assert_eq(memcmp(t1, t2, l1), 0, "%s seed %llu: same seed, different trace bytes", scenario,
                   (unsigned long long)seed);
      asx_free(NULL, t2);
      asx_lab_verdict rv;
      asx_lab_divergence div;
      asx_lab_trace_error terr;
      memset(&div, 0, sizeof(div));
      memset(&terr, 0, sizeof(terr));
      int rc = asx_lab_replay(NULL, t1, l1, &rv, &div, &terr);
      cr_assert_eq(rc, 0, "%s seed %llu: replay %s: diverged=%d at step %llu\n trace:   %s\n program: %s\n%s",
                   scenario, (unsigned long long)seed, asx_errname(rc), div.diverged,
                   (unsigned long long)div.step, div.expected, div.got, terr.message);
      cr_assert_eq(memcmp(rv.digest, v.digest, ASX_LAB_DIGEST_LEN), 0,
                   "%s seed %llu: replay digest differs", scenario, (unsigned long long)seed);
      cr_assert_eq(rv.oracle, ASX_LAB_ORACLE_NONE);
    }
    asx_free(NULL, t1);
  }
}

void lc_check_detects(const char *scenario, uint64_t seed) {
  asx_lab_config cfg;
  asx_lab_config_default(&cfg);
  cfg.scenario = scenario;
  cfg.seed = seed;
  cfg.strategy = ASX_LAB_RANDOM;
  cfg.max_steps = 200000;
  cfg.poll_budget = 3;
  asx_lab_verdict v;
  corrupt_armed = true;
  int rc = asx_lab_run(&cfg, &v, NULL, NULL);
  bool fired = !corrupt_armed;
  corrupt_armed = false;
  cr_assert_eq(rc, 0);
  cr_assert(fired, "%s: the client never made a write of 40 bytes or more", scenario);
  cr_assert_neq(v.oracle, ASX_LAB_ORACLE_NONE, "%s seed %llu: a flipped bit went unnoticed", scenario,
                (unsigned long long)seed);
  cr_log_info("%s: flipped bit caught by oracle %s: %.200s", scenario, asx_lab_oracle_name(v.oracle),
              v.detail);
}

void lc_check_explore(const char *scenario, uint64_t first, uint64_t runs) {
  const char *more = getenv("LC_EXPLORE_RUNS"); /* longer sweeps by hand: LC_EXPLORE_RUNS=5000 */
  if (more && strtoull(more, NULL, 10) > 0) runs = strtoull(more, NULL, 10);
  for (int strategy = 0; strategy < 2; strategy++) {
    asx_lab_config cfg;
    asx_lab_config_default(&cfg);
    cfg.scenario = scenario;
    cfg.seed = first;
    cfg.strategy = strategy ? ASX_LAB_PCT : ASX_LAB_RANDOM;
    cfg.max_steps = 200000;
    cfg.poll_budget = 3;
    asx_lab_verdict v;
    uint64_t seed = 0, done = 0;
    uint8_t *trace = NULL;
    size_t len = 0;
    int rc = asx_lab_explore(&cfg, runs, &v, &seed, &done, &trace, &len);
    asx_free(NULL, trace);
    cr_assert_geq(rc, 0, "%s: explore failed: %s", scenario, asx_errname(rc));
    cr_assert_eq(rc, 0, "%s (%s): violation at seed %llu: oracle %s\n%s", scenario,
                 asx_lab_strategy_name(cfg.strategy), (unsigned long long)seed,
                 asx_lab_oracle_name(v.oracle), v.detail);
    cr_assert_eq(done, runs);
  }
}

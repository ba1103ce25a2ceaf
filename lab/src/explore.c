/* Exploration (many seeds, random or PCT) and minimization (shrink a failing schedule while the
 * same oracle, with the same key, still fails). */
#include <string.h>

#include "lab_state.h"

int asx_lab_explore(const asx_lab_config *cfg, uint64_t runs, asx_lab_verdict *v, uint64_t *seed,
                    uint64_t *done, uint8_t **trace, size_t *trace_len) {
  if (!cfg || !v || cfg->strategy == ASX_LAB_GUIDED) return ASX_EINVAL;
  asx_lab_config c = *cfg;
  uint64_t longest = 0; /* PCT: the step estimate follows the longest run seen */
  if (done) *done = 0;
  if (trace) *trace = NULL;
  if (trace_len) *trace_len = 0;
  for (uint64_t i = 0; i < runs; i++) {
    c.seed = cfg->seed + i;
    if (c.strategy == ASX_LAB_PCT && !cfg->pct_steps) c.pct_steps = longest ? longest : 1000;
    lab_run_args a = {.mode = LAB_MODE_RECORD, .cfg = &c, .v = v, .keep_trace = trace != NULL};
    int err = lab_run(&a);
    if (err) return err;
    if (done) *done = i + 1;
    if (v->steps > longest) longest = v->steps;
    if (v->oracle != ASX_LAB_ORACLE_NONE) {
      if (seed) *seed = c.seed;
      if (trace) *trace = a.trace;
      if (trace_len) *trace_len = a.trace_len;
      return 1;
    }
    asx_free(c.alloc, a.trace);
  }
  return 0;
}

typedef struct cand {
  asx_lab_verdict v;
  uint64_t *chosen;
  size_t n;
  bool rr; /* the default after the guide was round-robin */
} cand;

static bool same_failure(const asx_lab_verdict *v, const char *key) {
  return v->oracle != ASX_LAB_ORACLE_NONE && strcmp(v->key, key) == 0;
}

static bool better_or_equal(const asx_lab_verdict *a, const asx_lab_verdict *b) {
  return a->steps < b->steps || (a->steps == b->steps && a->preemptions <= b->preemptions);
}

/* One guided run: follow guide[0..n), then keep running the current task. */
static int guided(const asx_lab_config *c, const uint64_t *guide, size_t n, bool rr, cand *out,
                  uint64_t *runs) {
  lab_run_args a = {.mode = LAB_MODE_GUIDED, .cfg = c, .v = &out->v, .chosen_wanted = true};
  a.guide.tasks = guide;
  a.guide.n = n;
  a.guide.round_robin = rr;
  out->rr = rr;
  out->chosen = NULL;
  out->n = 0;
  int err = lab_run(&a);
  (*runs)++;
  if (err) return err;
  out->chosen = a.chosen;
  out->n = a.nchosen;
  return 0;
}

/* Keeps `c` as the new best if it fails the same way and is no bigger; frees the loser. */
static void consider(const asx_allocator *al, cand *best, cand *c, const char *key, bool *taken) {
  *taken = false;
  if (same_failure(&c->v, key) && better_or_equal(&c->v, &best->v)) {
    asx_free(al, best->chosen);
    *best = *c;
    *taken = true;
  } else {
    asx_free(al, c->chosen);
  }
  c->chosen = NULL;
}

int asx_lab_minimize(const asx_allocator *al, const uint8_t *trace, size_t len, uint64_t max_runs,
                     asx_lab_verdict *v, asx_lab_min_stats *st, uint8_t **out, size_t *out_len) {
  if (!out || !out_len) return ASX_EINVAL;
  *out = NULL;
  *out_len = 0;
  if (!max_runs) max_runs = 2000;
  asx_lab_min_stats s = {0};
  asx_lab_trace *t;
  int err = asx_lab_trace_parse(al, trace, len, NULL, &t, NULL);
  if (err) return err;
  asx_lab_config cfg;
  lab_config_from_header(asx_lab_trace_header_get(t), &cfg);
  cfg.alloc = al;
  char scenario[ASX_LAB_NAME_MAX + 1];
  memcpy(scenario, asx_lab_trace_header_get(t)->scenario, sizeof scenario);
  cfg.scenario = scenario;
  /* The original schedule, as a guide. */
  size_t ng = 0, nrec = asx_lab_trace_count(t);
  uint64_t *g0 = asx_alloc(al, (nrec ? nrec : 1) * sizeof(*g0));
  if (!g0) {
    asx_lab_trace_free(t);
    return ASX_ENOMEM;
  }
  for (size_t i = 0; i < nrec; i++) {
    asx_lab_record r;
    if (asx_lab_trace_get(t, i, &r) == 0 && r.type == ASX_LAB_REC_SCHED) g0[ng++] = r.task;
  }
  asx_lab_trace_free(t);

  cand best = {0}, c = {0};
  char key[sizeof best.v.key];
  bool taken;
  err = guided(&cfg, g0, ng, false, &best, &s.runs);
  if (!err && best.v.oracle == ASX_LAB_ORACLE_NONE) err = ASX_ESTATE; /* the input does not fail */
  if (err) goto done;
  memcpy(key, best.v.key, sizeof key);
  s.steps_before = best.v.steps;
  s.preemptions_before = best.v.preemptions;
  s.faults_before = (asx_lab_net_faults){cfg.net_delay_ns, cfg.net_partial_permille, cfg.net_reset_permille};

  /* 0. Fewer faults: each fault rate to 0, else halved while the same failure remains (with the
   *    original schedule as the guide). A change of rates changes the random draws, so an
   *    accepted candidate replaces the best run whatever its length. */
  for (int knob = 0; knob < 3 && s.runs < max_runs; knob++) {
    for (int attempt = 0; attempt < 5 && s.runs < max_runs; attempt++) {
      asx_lab_config tc = cfg;
      uint64_t cur = knob == 0 ? tc.net_reset_permille : knob == 1 ? tc.net_delay_ns : tc.net_partial_permille;
      if (cur == 0) break;
      uint64_t next = attempt == 0 ? 0 : cur / 2;
      if (knob == 0) tc.net_reset_permille = (uint32_t)next;
      else if (knob == 1) tc.net_delay_ns = next;
      else tc.net_partial_permille = (uint32_t)next;
      if ((err = guided(&tc, g0, ng, false, &c, &s.runs))) goto done;
      if (!same_failure(&c.v, key)) {
        asx_free(al, c.chosen);
        c.chosen = NULL;
        if (attempt > 0) break; /* halving went too far */
        continue;               /* 0 failed: try halves */
      }
      cfg = tc;
      asx_free(al, best.chosen);
      best = c;
      c.chosen = NULL;
      if (next == 0) break;
    }
  }

  /* 1. The shortest prefix of the original choices after which a default policy (keep running
   *    the current task, or round-robin) still fails: a binary search per policy. */
  for (int rr = 0; rr < 2; rr++) {
    size_t lo = 0, hi = ng;
    if ((err = guided(&cfg, g0, 0, rr, &c, &s.runs))) goto done;
    bool fails = same_failure(&c.v, key);
    consider(al, &best, &c, key, &taken);
    while (!fails && hi - lo > 1 && s.runs < max_runs) {
      size_t mid = lo + (hi - lo) / 2;
      if ((err = guided(&cfg, g0, mid, rr, &c, &s.runs))) goto done;
      bool f = same_failure(&c.v, key);
      consider(al, &best, &c, key, &taken);
      if (f)
        hi = mid;
      else
        lo = mid;
    }
  }
  /* 2. Drop context switches one at a time (latest first): run the previous task instead. */
  for (size_t i = best.n; i-- > 1 && s.runs < max_runs;) {
    if (i >= best.n || best.chosen[i] == best.chosen[i - 1]) continue;
    uint64_t *g = asx_alloc(al, best.n * sizeof(*g));
    if (!g) {
      err = ASX_ENOMEM;
      goto done;
    }
    memcpy(g, best.chosen, best.n * sizeof(*g));
    g[i] = g[i - 1];
    err = guided(&cfg, g, best.n, best.rr, &c, &s.runs);
    asx_free(al, g);
    if (err) goto done;
    if (c.v.steps == best.v.steps && c.v.preemptions == best.v.preemptions) {
      asx_free(al, c.chosen); /* no gain: keep the current best (avoids churning) */
      c.chosen = NULL;
      continue;
    }
    consider(al, &best, &c, key, &taken);
  }
  /* 3. Delete runs of one task picked repeatedly (spinning pollers), whole or halved. */
  for (size_t end = best.n; end > 0 && s.runs < max_runs;) {
    if (end > best.n) end = best.n;
    size_t start = end - 1;
    while (start > 0 && best.chosen[start - 1] == best.chosen[end - 1]) start--;
    size_t run = end - start;
    bool improved = false;
    for (size_t cut = run; cut > 0 && !improved && s.runs < max_runs; cut = cut > 1 ? cut / 2 : 0) {
      uint64_t *g = asx_alloc(al, best.n * sizeof(*g));
      if (!g) {
        err = ASX_ENOMEM;
        goto done;
      }
      memcpy(g, best.chosen, start * sizeof(*g));
      memcpy(g + start, best.chosen + start + cut, (best.n - start - cut) * sizeof(*g));
      err = guided(&cfg, g, best.n - cut, best.rr, &c, &s.runs);
      asx_free(al, g);
      if (err) goto done;
      bool gain = c.v.steps < best.v.steps;
      if (gain) consider(al, &best, &c, key, &improved);
      else {
        asx_free(al, c.chosen);
        c.chosen = NULL;
      }
    }
    if (!improved) end = start;
  }
  /* 3. Re-record the best schedule as a trace. */
  {
    lab_run_args a = {.mode = LAB_MODE_GUIDED, .cfg = &cfg, .v = &c.v, .keep_trace = true};
    a.guide.tasks = best.chosen;
    a.guide.n = best.n;
    a.guide.round_robin = best.rr;
    err = lab_run(&a);
    s.runs++;
    if (!err && !same_failure(&c.v, key)) err = ASX_ECORRUPT; /* determinism broken */
    if (err) {
      asx_free(al, a.trace);
      goto done;
    }
    *out = a.trace;
    *out_len = a.trace_len;
    if (v) *v = c.v;
    s.steps_after = c.v.steps;
    s.preemptions_after = c.v.preemptions;
    s.faults_after = (asx_lab_net_faults){cfg.net_delay_ns, cfg.net_partial_permille, cfg.net_reset_permille};
  }
done:
  asx_free(al, best.chosen);
  asx_free(al, c.chosen);
  asx_free(al, g0);
  if (st) *st = s;
  return err;
}

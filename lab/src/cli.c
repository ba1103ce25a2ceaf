/* asx_lab_main: the `asx-lab` command line over the registered scenarios. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_internal.h"

enum { EXIT_OK = 0, EXIT_VIOLATION = 1, EXIT_USAGE = 2, EXIT_TRACE = 3, EXIT_ERROR = 4 };

static const char usage_text[] =
    "usage: asx-lab <command> [options]\n"
    "\n"
    "commands:\n"
    "  list                         the registered scenarios\n"
    "  run <scenario> [opts]        one run with a seed; writes its trace; checks the oracles\n"
    "  replay <trace> [-q]          re-runs the trace's scenario following its choices; stops at\n"
    "                               the first divergence (step and both sides shown)\n"
    "  explore <scenario> [opts]    runs --runs seeds from --seed; stops at the first violation\n"
    "                               and saves its trace\n"
    "  minimize <trace> [-o out] [--max-runs N]\n"
    "                               shrinks a failing trace (fewer steps, fewer preemptions)\n"
    "                               while the same oracle still fails; writes <trace>.min\n"
    "  dump <trace>                 verifies the trace and prints its header and records\n"
    "\n"
    "options for run and explore:\n"
    "  --seed N          seed (run) or first seed (explore); default 1\n"
    "  --runs N          explore: how many seeds (default 1000)\n"
    "  --strategy S      random (uniform choice among ready tasks) or pct (random priorities\n"
    "                    plus depth-1 priority change points); default random for run, pct\n"
    "                    for explore\n"
    "  --depth D         PCT bug depth (default 3)\n"
    "  --pct-steps K     PCT step estimate for the change points (default: explore adapts it to\n"
    "                    the longest run; run uses 1000); dump shows the value a trace used\n"
    "  --max-steps N     soft step limit (default 1000000): shutdown requested, reported\n"
    "  -o FILE           trace file (default asx-lab-<scenario>-<seed>.trace)\n"
    "  --lost-wakeup N   oracle: a task ready for more than N consecutive steps without being\n"
    "                    chosen (starvation); default off\n"
    "  --futurelock N    oracle: a task holding an obligation that has not run for N steps\n"
    "                    while others ran; default off\n"
    "  --check-every-step  run the periodic oracle checks (futurelock) at every step\n"
    "  --net-delay NS    simulated networks: max delivery delay (virtual ns); default 0\n"
    "  --net-partial P   simulated networks: partial read/write chance, per mille; default 0\n"
    "  --net-reset P     simulated networks: reset chance per segment, per mille; default 0\n"
    "\n"
    "oracles (checked during and after every run): quiescence, outlived_region (e.g. race\n"
    "losers not drained), obligation_leak (with the reserve site), cleanup_budget, deadlock\n"
    "(every blocked task with the call it waits in, file:line), panic, region_leak,\n"
    "step_limit, scenario assertions, and when enabled lost_wakeup and futurelock.\n"
    "\n"
    "exit codes: 0 ok (minimize: smaller trace written), 1 violation found (or replay\n"
    "diverged), 2 usage, 3 trace invalid (truncated, modified, reordered), 4 other error.\n";

static int usage(const char *msg) {
  if (msg) fprintf(stderr, "asx-lab: %s\n", msg);
  fputs(usage_text, stderr);
  return EXIT_USAGE;
}

static int read_file(const char *path, uint8_t **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return ASX_EIO;
  asx_buf b;
  asx_buf_init(&b, NULL, (size_t)1 << 30);
  uint8_t chunk[65536];
  size_t n;
  int err = 0;
  while (!err && (n = fread(chunk, 1, sizeof chunk, f)) > 0) err = asx_buf_append(&b, chunk, n);
  if (!err && ferror(f)) err = ASX_EIO;
  fclose(f);
  if (err) {
    asx_buf_free(&b);
    return err;
  }
  *out = b.data;
  *len = b.len;
  return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return ASX_EIO;
  size_t w = fwrite(p, 1, len, f);
  int err = fclose(f);
  return w == len && err == 0 ? 0 : ASX_EIO;
}

static bool parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || s[0] == '-') return false;
  *out = v;
  return true;
}

static void hex(const uint8_t *d, char *out) {
  for (int i = 0; i < ASX_LAB_DIGEST_LEN; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void print_verdict(const asx_lab_verdict *v, const char *trace_path) {
  char h[2 * ASX_LAB_DIGEST_LEN + 1];
  hex(v->digest, h);
  printf("steps %" PRIu64 ", preemptions %" PRIu64 ", records %" PRIu64 ", trace %" PRIu64
         " bytes, outcome %s, main rc %d\nfinal digest %s\n",
         v->steps, v->preemptions, v->records, v->trace_bytes, asx_outcome_name(v->outcome),
         v->main_rc, h);
  if (v->oracle == ASX_LAB_ORACLE_NONE) {
    printf("oracles: all passed\n");
    return;
  }
  printf("VIOLATION: oracle %s (%s)%s\n%s\n", asx_lab_oracle_name(v->oracle), v->key,
         v->violations > 1 ? " and more" : "", v->detail);
  if (trace_path) printf("replay with: asx-lab replay %s\n", trace_path);
}

static void print_trace_error(const char *path, const asx_lab_trace_error *e) {
  fprintf(stderr, "asx-lab: %s: invalid trace (%s): %s\n", path, asx_strerror(e->code), e->message);
  if (e->record < 0)
    fprintf(stderr, "  first bad record: header\n");
  else
    fprintf(stderr, "  first bad record: #%" PRId64 " at offset %" PRIu64 " (block %" PRIu64 ")%s\n",
            e->record, e->offset, e->block, e->truncated ? ", truncated" : "");
}

typedef struct run_opts {
  asx_lab_config cfg;
  uint64_t runs;
  const char *out;
  bool quiet;
  uint64_t max_runs;
  const char *positional;
} run_opts;

static int parse_opts(int argc, char **argv, run_opts *o, bool explore) {
  asx_lab_config_default(&o->cfg);
  o->cfg.seed = 1;
  o->cfg.strategy = explore ? ASX_LAB_PCT : ASX_LAB_RANDOM;
  o->runs = 1000;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n;
    if (!strcmp(a, "-q")) {
      o->quiet = true;
      continue;
    }
    if (!strcmp(a, "--check-every-step")) {
      o->cfg.check_every_step = true;
      continue;
    }
    if (a[0] != '-') {
      if (o->positional) return usage("too many arguments");
      o->positional = a;
      continue;
    }
    if (!val) return usage("option needs a value");
    i++;
    if (!strcmp(a, "-o")) {
      o->out = val;
    } else if (!strcmp(a, "--strategy")) {
      if (!strcmp(val, "random"))
        o->cfg.strategy = ASX_LAB_RANDOM;
      else if (!strcmp(val, "pct"))
        o->cfg.strategy = ASX_LAB_PCT;
      else
        return usage("--strategy is random or pct");
    } else if (!parse_u64(val, &n)) {
      return usage("bad number");
    } else if (!strcmp(a, "--seed")) {
      o->cfg.seed = n;
    } else if (!strcmp(a, "--runs")) {
      o->runs = n;
    } else if (!strcmp(a, "--depth")) {
      if (n < 1 || n > 17) return usage("--depth is 1..17");
      o->cfg.pct_depth = (uint32_t)n;
    } else if (!strcmp(a, "--pct-steps")) {
      o->cfg.pct_steps = n;
    } else if (!strcmp(a, "--max-steps")) {
      o->cfg.max_steps = n;
    } else if (!strcmp(a, "--max-runs")) {
      o->max_runs = n;
    } else if (!strcmp(a, "--lost-wakeup")) {
      o->cfg.lost_wakeup_steps = n;
    } else if (!strcmp(a, "--futurelock")) {
      o->cfg.futurelock_steps = n;
    } else if (!strcmp(a, "--net-delay")) {
      o->cfg.net_delay_ns = n;
    } else if (!strcmp(a, "--net-partial") || !strcmp(a, "--net-reset")) {
      if (n > 1000) return usage("fault rates are per mille (0..1000)");
      if (a[6] == 'p')
        o->cfg.net_partial_permille = (uint32_t)n;
      else
        o->cfg.net_reset_permille = (uint32_t)n;
    } else {
      return usage("unknown option");
    }
  }
  if (!o->positional) return usage("missing argument");
  return 0;
}

static const char *default_name(char *buf, size_t n, const char *scenario, uint64_t seed) {
  snprintf(buf, n, "asx-lab-%s-%" PRIu64 ".trace", scenario, seed);
  return buf;
}

static int cmd_run(int argc, char **argv, bool explore) {
  run_opts o = {0};
  int u = parse_opts(argc, argv, &o, explore);
  if (u) return u;
  o.cfg.scenario = o.positional;
  if (!asx_lab_find(o.positional, NULL)) {
    fprintf(stderr, "asx-lab: no scenario named '%s' (try: asx-lab list)\n", o.positional);
    return EXIT_USAGE;
  }
  asx_lab_verdict v;
  uint8_t *trace = NULL;
  size_t len = 0;
  uint64_t seed = o.cfg.seed, done = 1;
  int err;
  if (explore) {
    err = asx_lab_explore(&o.cfg, o.runs, &v, &seed, &done, &trace, &len);
    if (err == 0) {
      printf("explored %" PRIu64 " seeds from %" PRIu64 " (%s): every oracle passed\n", done,
             o.cfg.seed, asx_lab_strategy_name(o.cfg.strategy));
      return EXIT_OK;
    }
    if (err == 1) {
      printf("explored %" PRIu64 " seeds (%s): violation at seed %" PRIu64 "\n", done,
             asx_lab_strategy_name(o.cfg.strategy), seed);
      err = 0;
    }
  } else {
    err = asx_lab_run(&o.cfg, &v, &trace, &len);
  }
  if (err) {
    fprintf(stderr, "asx-lab: run failed: %s\n", asx_strerror(err));
    return EXIT_ERROR;
  }
  char name[160];
  const char *path = o.out ? o.out : default_name(name, sizeof name, o.positional, seed);
  bool save = !explore || v.oracle != ASX_LAB_ORACLE_NONE;
  if (save && write_file(path, trace, len) != 0) {
    fprintf(stderr, "asx-lab: cannot write %s\n", path);
    free(trace);
    return EXIT_ERROR;
  }
  free(trace);
  if (save) printf("trace: %s\n", path);
  print_verdict(&v, path);
  return v.oracle == ASX_LAB_ORACLE_NONE ? EXIT_OK : EXIT_VIOLATION;
}

static int load(const char *path, uint8_t **data, size_t *len) {
  int err = read_file(path, data, len);
  if (err) fprintf(stderr, "asx-lab: cannot read %s\n", path);
  return err;
}

static int cmd_replay(int argc, char **argv) {
  run_opts o = {0};
  int u = parse_opts(argc, argv, &o, false);
  if (u) return u;
  uint8_t *data;
  size_t len;
  if (load(o.positional, &data, &len)) return EXIT_ERROR;
  asx_lab_verdict v;
  asx_lab_divergence d;
  asx_lab_trace_error e;
  int err = asx_lab_replay(NULL, data, len, &v, &d, &e);
  free(data);
  if (err == ASX_ENOTFOUND) {
    fprintf(stderr, "asx-lab: the trace's scenario is not registered in this binary\n");
    return EXIT_USAGE;
  }
  if (err && err != ASX_ESTATE) {
    if (e.code) {
      print_trace_error(o.positional, &e);
      return EXIT_TRACE;
    }
    fprintf(stderr, "asx-lab: replay failed: %s\n", asx_strerror(err));
    return EXIT_ERROR;
  }
  if (err == ASX_ESTATE) {
    printf("DIVERGED at step %" PRIu64 " (record #%" PRIu64 ")\n  trace:   %s\n  program: %s\n", d.step,
           d.record, d.expected, d.got);
    return EXIT_VIOLATION;
  }
  printf("replayed identically\n");
  print_verdict(&v, NULL);
  return v.oracle == ASX_LAB_ORACLE_NONE ? EXIT_OK : EXIT_VIOLATION;
}

static int cmd_minimize(int argc, char **argv) {
  run_opts o = {0};
  int u = parse_opts(argc, argv, &o, false);
  if (u) return u;
  uint8_t *data, *out = NULL;
  size_t len, out_len = 0;
  if (load(o.positional, &data, &len)) return EXIT_ERROR;
  asx_lab_verdict v;
  asx_lab_min_stats s;
  asx_lab_trace_error e;
  asx_lab_trace *t;
  int err = asx_lab_trace_parse(NULL, data, len, NULL, &t, &e);
  if (err) {
    free(data);
    print_trace_error(o.positional, &e);
    return EXIT_TRACE;
  }
  asx_lab_trace_free(t);
  err = asx_lab_minimize(NULL, data, len, o.max_runs, &v, &s, &out, &out_len);
  free(data);
  if (err == ASX_ESTATE) {
    fprintf(stderr, "asx-lab: this trace does not fail any oracle: nothing to minimize\n");
    return EXIT_ERROR;
  }
  if (err) {
    fprintf(stderr, "asx-lab: minimize failed: %s\n", asx_strerror(err));
    return err == ASX_ENOTFOUND ? EXIT_USAGE : EXIT_ERROR;
  }
  char name[512];
  snprintf(name, sizeof name, "%s.min", o.positional);
  const char *path = o.out ? o.out : name;
  if (write_file(path, out, out_len) != 0) {
    fprintf(stderr, "asx-lab: cannot write %s\n", path);
    free(out);
    return EXIT_ERROR;
  }
  free(out);
  printf("minimized in %" PRIu64 " runs: steps %" PRIu64 " -> %" PRIu64 ", preemptions %" PRIu64
         " -> %" PRIu64 "\ntrace: %s\n",
         s.runs, s.steps_before, s.steps_after, s.preemptions_before, s.preemptions_after, path);
  if (memcmp(&s.faults_before, &s.faults_after, sizeof s.faults_before) != 0)
    printf("net faults: delay %" PRIu64 " -> %" PRIu64 " ns, partial %u -> %u, reset %u -> %u (per mille)\n",
           s.faults_before.max_delay_ns, s.faults_after.max_delay_ns, s.faults_before.partial_permille,
           s.faults_after.partial_permille, s.faults_before.reset_permille, s.faults_after.reset_permille);
  print_verdict(&v, path);
  return EXIT_OK;
}

static int cmd_dump(int argc, char **argv) {
  run_opts o = {0};
  int u = parse_opts(argc, argv, &o, false);
  if (u) return u;
  uint8_t *data;
  size_t len;
  if (load(o.positional, &data, &len)) return EXIT_ERROR;
  asx_lab_trace *t;
  asx_lab_trace_error e;
  int err = asx_lab_trace_parse(NULL, data, len, NULL, &t, &e);
  free(data);
  if (err) {
    print_trace_error(o.positional, &e);
    return EXIT_TRACE;
  }
  const asx_lab_trace_header *h = asx_lab_trace_header_get(t);
  uint8_t d[ASX_LAB_DIGEST_LEN];
  char hx[2 * ASX_LAB_DIGEST_LEN + 1];
  asx_lab_trace_digest(t, d);
  hex(d, hx);
  printf("asx-lab trace v%u: scenario %s, seed %" PRIu64 ", strategy %s (depth %u, steps %" PRIu64
         "), max steps %" PRIu64 ", poll budget %u\n%zu records, %zu bytes, final digest %s\n",
         h->version, h->scenario, h->seed, asx_lab_strategy_name(h->strategy), h->pct_depth,
         h->pct_steps, h->max_steps, h->poll_budget, asx_lab_trace_count(t), len, hx);
  if (h->version >= 2)
    printf("oracles: lost_wakeup %" PRIu64 ", futurelock %" PRIu64 "%s; net faults: delay %" PRIu64
           " ns, partial %u/1000, reset %u/1000\n",
           h->lost_wakeup_steps, h->futurelock_steps, h->check_every_step ? " (every step)" : "",
           h->net_delay_ns, h->net_partial_permille, h->net_reset_permille);
  char line[512];
  uint64_t step = 0;
  for (size_t i = 0; i < asx_lab_trace_count(t); i++) {
    asx_lab_record r;
    if (asx_lab_trace_get(t, i, &r)) continue;
    asx_lab_record_format(&r, line, sizeof line);
    if (r.type == ASX_LAB_REC_SCHED)
      printf("%8zu  step %-6" PRIu64 " %s\n", i, step++, line);
    else
      printf("%8zu              %s\n", i, line);
  }
  asx_lab_trace_free(t);
  return EXIT_OK;
}

static int cmd_list(void) {
  const char *desc;
  const char *name;
  for (size_t i = 0; (name = asx_lab_scenario_name(i, &desc)); i++) printf("%-16s %s\n", name, desc);
  return EXIT_OK;
}

int asx_lab_main(int argc, char **argv) {
  if (argc < 2) return usage(NULL);
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    fputs(usage_text, stdout);
    return EXIT_OK;
  }
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_text, stdout);
      return EXIT_OK;
    }
  if (!strcmp(cmd, "list")) return cmd_list();
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2, false);
  if (!strcmp(cmd, "explore")) return cmd_run(argc - 2, argv + 2, true);
  if (!strcmp(cmd, "replay")) return cmd_replay(argc - 2, argv + 2);
  if (!strcmp(cmd, "minimize")) return cmd_minimize(argc - 2, argv + 2);
  if (!strcmp(cmd, "dump")) return cmd_dump(argc - 2, argv + 2);
  return usage("unknown command");
}

/* The lab's second set of oracles and the simulated network: wait sites in deadlock reports and
 * traces, the lost-wakeup (starvation) and futurelock oracles on planted bugs and on clean
 * programs, version-1 traces still read, and net's echo server with clients under faults (all
 * oracles pass, deterministic, replayable) plus a planted protocol bug found and minimized. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/lab.h"

/* main blocks in asx_race whose two children wait on a oneshot nobody sends: a deadlock where
 * main's wait site must be its own asx_race call (not the runtime's internal region close) and
 * the children's their oneshot_recv line. */
static asx_oneshot *never;
static int waits_forever(asx_cx *cx, void *arg) {
  (void)arg;
  int v;
  return asx_oneshot_recv(cx, never, &v); /* RECV_LINE */
}

static int t_race_deadlock(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  int err = asx_oneshot_new(NULL, sizeof(int), &never);
  if (err) return err;
  asx_task_fn fns[] = {waits_forever, waits_forever};
  void *args[] = {NULL, NULL};
  size_t winner;
  err = asx_race(cx, 2, fns, args, &winner, NULL); /* RACE_LINE */
  asx_oneshot_free(never);
  return err;
}

static void setup(void) {
  asx_lab_register("t_race_deadlock", t_race_deadlock, "race children wait forever");
  cr_assert_eq(asx_lab_register_demos(), 0);
  cr_assert_eq(asx_lab_register_net_demos(), 0);
  cr_assert_eq(asx_lab_register_net_demos(), 0); /* idempotent */
}

TestSuite(lab_oracles, .init = setup, .timeout = 200);

static asx_lab_config cfg_for(const char *name, uint64_t seed, asx_lab_strategy s) {
  asx_lab_config c;
  asx_lab_config_default(&c);
  c.scenario = name;
  c.seed = seed;
  c.strategy = s;
  return c;
}

/* Counts records of one type in a trace; *first receives the first one (may be NULL). */
static size_t count_type(const uint8_t *t, size_t l, asx_lab_rec_type type, asx_lab_record *first,
                         asx_lab_trace **keep) {
  asx_lab_trace *tr;
  cr_assert_eq(asx_lab_trace_parse(NULL, t, l, NULL, &tr, NULL), 0);
  size_t n = 0;
  for (size_t i = 0; i < asx_lab_trace_count(tr); i++) {
    asx_lab_record r;
    cr_assert_eq(asx_lab_trace_get(tr, i, &r), 0);
    if (r.type != type) continue;
    if (n++ == 0 && first) *first = r;
  }
  if (keep)
    *keep = tr;
  else
    asx_lab_trace_free(tr);
  return n;
}

static bool slice_is(asx_slice s, const char *want) {
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Explore, replay, minimize, replay the minimized trace: the same key all along. */
static void found_and_minimized(asx_lab_config *c, uint64_t runs, asx_lab_oracle want,
                                const char *key_prefix, asx_lab_verdict *out) {
  asx_lab_verdict v, rv, mv;
  uint64_t seed = 0, done = 0;
  uint8_t *t = NULL, *m = NULL;
  size_t l = 0, ml = 0;
  cr_assert_eq(asx_lab_explore(c, runs, &v, &seed, &done, &t, &l), 1, "%s not found in %llu seeds",
               c->scenario, (unsigned long long)runs);
  cr_assert_eq(v.oracle, want, "%s: %s", c->scenario, v.detail);
  cr_assert(strncmp(v.key, key_prefix, strlen(key_prefix)) == 0, "%s", v.key);
  cr_assert_eq(asx_lab_replay(NULL, t, l, &rv, NULL, NULL), 0);
  cr_assert_eq(memcmp(rv.digest, v.digest, 32), 0);
  asx_lab_min_stats st;
  cr_assert_eq(asx_lab_minimize(NULL, t, l, 400, &mv, &st, &m, &ml), 0);
  cr_assert_str_eq(mv.key, v.key);
  cr_assert_leq(st.faults_after.partial_permille, st.faults_before.partial_permille);
  cr_assert_leq(st.faults_after.reset_permille, st.faults_before.reset_permille);
  cr_assert_leq(st.faults_after.max_delay_ns, st.faults_before.max_delay_ns);
  if (!memcmp(&st.faults_after, &st.faults_before, sizeof st.faults_after)) /* else it may grow */
    cr_assert_leq(st.steps_after, st.steps_before);
  cr_assert_eq(asx_lab_replay(NULL, m, ml, &rv, NULL, NULL), 0);
  cr_assert_str_eq(rv.key, v.key);
  cr_log_info("%s: seed %llu after %llu runs, minimized %llu -> %llu steps in %llu runs", c->scenario,
              (unsigned long long)seed, (unsigned long long)done, (unsigned long long)st.steps_before,
              (unsigned long long)st.steps_after, (unsigned long long)st.runs);
  if (out) *out = v;
  free(t);
  free(m);
}

Test(lab_oracles, deadlock_trace_holds_each_blocked_tasks_wait_site) {
  asx_lab_config c = cfg_for("deadlock", 1, ASX_LAB_PCT);
  asx_lab_verdict v;
  uint64_t seed, done;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_explore(&c, 200, &v, &seed, &done, &t, &l), 1);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_DEADLOCK);
  asx_lab_trace *tr;
  cr_assert_eq(count_type(t, l, ASX_LAB_REC_WAIT_SITE, NULL, &tr), 3); /* main + two lockers */
  size_t locks = 0, closes = 0;
  for (size_t i = 0; i < asx_lab_trace_count(tr); i++) {
    asx_lab_record r;
    asx_lab_trace_get(tr, i, &r);
    if (r.type != ASX_LAB_REC_WAIT_SITE) continue;
    cr_assert(slice_is(r.text2, "src/demos.c"), "%.*s", (int)r.text2.len, r.text2.ptr);
    cr_assert_gt(r.b, 0);
    locks += slice_is(r.text, "mutex_lock");
    closes += slice_is(r.text, "region_close");
    char line[256];
    asx_lab_record_format(&r, line, sizeof line);
    cr_assert(strstr(line, " at src/demos.c:") != NULL, "%s", line);
  }
  cr_assert_eq(locks, 2);
  cr_assert_eq(closes, 1);
  asx_lab_trace_free(tr);
  free(t);
}

Test(lab_oracles, lost_wakeup_flags_starvation_under_pct) {
  asx_lab_config c = cfg_for("busy_wait", 1, ASX_LAB_PCT);
  c.lost_wakeup_steps = 200;
  asx_lab_verdict v;
  found_and_minimized(&c, 100, ASX_LAB_ORACLE_LOST_WAKEUP, "lost_wakeup", &v);
  cr_assert_eq(v.ntasks, 1);
  cr_assert(strstr(v.detail, "\"setter\"") != NULL, "%s", v.detail);
  /* The oracle winds the run down at once instead of waiting for the pollers' 3000 rounds. */
  cr_assert_lt(v.steps, 400);
  /* Off by default; and uniform random choice starves nobody for 200 steps here. */
  uint64_t seed, done;
  c.lost_wakeup_steps = 0;
  cr_assert_eq(asx_lab_explore(&c, 30, &v, &seed, &done, NULL, NULL), 0);
  c = cfg_for("busy_wait", 1, ASX_LAB_RANDOM);
  c.lost_wakeup_steps = 200;
  cr_assert_eq(asx_lab_explore(&c, 100, &v, &seed, &done, NULL, NULL), 0);
}

Test(lab_oracles, lost_wakeup_record_counts_the_streak) {
  asx_lab_config c = cfg_for("busy_wait", 1, ASX_LAB_PCT);
  c.lost_wakeup_steps = 50;
  asx_lab_verdict v;
  uint64_t seed, done;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_explore(&c, 100, &v, &seed, &done, &t, &l), 1);
  asx_lab_record r;
  cr_assert_eq(count_type(t, l, ASX_LAB_REC_LOST_WAKEUP, &r, NULL), 1);
  cr_assert_eq(r.a, 51); /* limit + 1: the first streak over the limit */
  free(t);
}

Test(lab_oracles, futurelock_found_with_the_obligation_and_wait_site) {
  for (int s = 0; s < 2; s++) {
    asx_lab_config c = cfg_for("futurelock", 1, s ? ASX_LAB_PCT : ASX_LAB_RANDOM);
    c.futurelock_steps = 500;
    asx_lab_verdict v;
    found_and_minimized(&c, 50, ASX_LAB_ORACLE_FUTURELOCK, "futurelock:mutex.lock@src/demos_oracles.c:", &v);
    cr_assert(strstr(v.detail, "\"holder\" waits in chan_recv at src/demos_oracles.c:") != NULL, "%s",
              v.detail);
  }
  /* Without the oracle the program ends normally: only the futurelock oracle sees the stall. */
  asx_lab_config c = cfg_for("futurelock", 1, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  uint64_t seed, done;
  cr_assert_eq(asx_lab_explore(&c, 20, &v, &seed, &done, NULL, NULL), 0);
}

Test(lab_oracles, futurelock_every_step_reports_at_exactly_n) {
  asx_lab_config c = cfg_for("futurelock", 1, ASX_LAB_RANDOM);
  c.futurelock_steps = 300;
  c.check_every_step = true;
  asx_lab_verdict v;
  uint64_t seed, done;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_explore(&c, 50, &v, &seed, &done, &t, &l), 1);
  asx_lab_record r;
  cr_assert_eq(count_type(t, l, ASX_LAB_REC_FUTURELOCK, &r, NULL), 1);
  cr_assert_eq(r.a, 300);
  cr_assert(slice_is(r.text, "mutex.lock"));
  cr_assert_eq(count_type(t, l, ASX_LAB_REC_WAIT_SITE, NULL, NULL), 1);
  asx_lab_verdict rv;
  cr_assert_eq(asx_lab_replay(NULL, t, l, &rv, NULL, NULL), 0); /* the header keeps the flag */
  cr_assert_str_eq(rv.key, v.key);
  free(t);
}

/* No false positives: every clean demo passes both oracles for many seeds and both strategies. */
Test(lab_oracles, clean_programs_pass_the_new_oracles) {
  const char *names[] = {"clean", "pingpong", "net_echo"};
  for (size_t i = 0; i < 3; i++)
    for (int s = 0; s < 2; s++) {
      asx_lab_config c = cfg_for(names[i], 1, s ? ASX_LAB_PCT : ASX_LAB_RANDOM);
      c.lost_wakeup_steps = s ? 1000 : 200; /* PCT starves by design: a looser bound */
      c.futurelock_steps = 200;
      asx_lab_verdict v;
      uint64_t seed = 0, done;
      int r = asx_lab_explore(&c, i == 1 ? 20 : 100, &v, &seed, &done, NULL, NULL);
      cr_assert_eq(r, 0, "%s %s seed %llu: %s", names[i], asx_lab_strategy_name(c.strategy),
                   (unsigned long long)seed, v.detail);
    }
}

/* Traces written by the first version of the format are still read; v2 record types are not
 * accepted inside them. */
Test(lab_oracles, version_1_traces_still_read) {
  asx_lab_trace_header h;
  memset(&h, 0, sizeof h);
  h.version = 1;
  h.seed = 9;
  strcpy(h.scenario, "clean");
  h.futurelock_steps = 77; /* not written in v1 */
  asx_lab_trace_writer *w;
  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 0, &w), 0);
  asx_lab_record r = {.type = ASX_LAB_REC_SCHED, .task = 2, .a = 1, .b = 0};
  cr_assert_eq(asx_lab_trace_write(w, &r), 0);
  cr_assert_eq(asx_lab_trace_finish(w, NULL), 0);
  size_t len;
  const uint8_t *b = asx_lab_trace_bytes(w, &len);
  asx_lab_trace *t;
  asx_lab_trace_error e;
  cr_assert_eq(asx_lab_trace_parse(NULL, b, len, NULL, &t, &e), 0, "%s", e.message);
  cr_assert_eq(asx_lab_trace_header_get(t)->version, 1);
  cr_assert_eq(asx_lab_trace_header_get(t)->futurelock_steps, 0);
  cr_assert_eq(asx_lab_trace_count(t), 1);
  asx_lab_trace_free(t);
  asx_lab_trace_writer_free(w);

  cr_assert_eq(asx_lab_trace_writer_new(NULL, &h, 0, &w), 0);
  asx_lab_record ws = {.type = ASX_LAB_REC_WAIT_SITE, .task = 2};
  cr_assert_eq(asx_lab_trace_write(w, &r), 0);
  cr_assert_eq(asx_lab_trace_write(w, &ws), 0);
  cr_assert_eq(asx_lab_trace_finish(w, NULL), 0);
  b = asx_lab_trace_bytes(w, &len);
  cr_assert_eq(asx_lab_trace_parse(NULL, b, len, NULL, &t, &e), ASX_EPROTO);
  cr_assert_eq(e.record, 1);
  asx_lab_trace_writer_free(w);
}

static asx_lab_config net_cfg(const char *name, uint64_t seed, asx_lab_strategy s) {
  asx_lab_config c = cfg_for(name, seed, s);
  c.net_delay_ns = 2000000;
  c.net_partial_permille = 300;
  c.net_reset_permille = 5;
  return c;
}

/* net's echo server helper and 3 clients over a simulated listener, faults on: every oracle
 * passes, one seed gives one trace byte for byte, replay gives the same final digest, and the
 * trace carries the deliveries and the faults the clients saw. */
Test(lab_oracles, net_echo_under_faults) {
  size_t delivers = 0, faults = 0;
  for (int s = 0; s < 2; s++)
    for (uint64_t seed = 1; seed <= 40; seed++) {
      asx_lab_config c = net_cfg("net_echo", seed, s ? ASX_LAB_PCT : ASX_LAB_RANDOM);
      c.lost_wakeup_steps = 1000;
      c.futurelock_steps = 500;
      asx_lab_verdict v1, v2, v3;
      uint8_t *t1, *t2;
      size_t l1, l2;
      cr_assert_eq(asx_lab_run(&c, &v1, &t1, &l1), 0);
      cr_assert_eq(v1.oracle, ASX_LAB_ORACLE_NONE, "seed %llu: %s", (unsigned long long)seed, v1.detail);
      cr_assert_eq(v1.stats.live_tasks + v1.stats.live_regions + v1.stats.unresolved_obligations, 0);
      cr_assert_eq(asx_lab_run(&c, &v2, &t2, &l2), 0);
      cr_assert_eq(l1, l2);
      cr_assert_eq(memcmp(t1, t2, l1), 0, "seed %llu", (unsigned long long)seed);
      cr_assert_eq(asx_lab_replay(NULL, t1, l1, &v3, NULL, NULL), 0);
      cr_assert_eq(memcmp(v1.digest, v3.digest, 32), 0);
      delivers += count_type(t1, l1, ASX_LAB_REC_NET_DELIVER, NULL, NULL);
      faults += count_type(t1, l1, ASX_LAB_REC_NET_FAULT, NULL, NULL);
      free(t1);
      free(t2);
    }
  cr_assert_gt(delivers, 80 * 12); /* at least one read per echoed line */
  cr_assert_gt(faults, 0);         /* some resets happened across the 80 runs */
  cr_log_info("net_echo: 80 runs, %zu deliveries, %zu faults", delivers, faults);
}

Test(lab_oracles, net_echo_bug_found_under_partial_reads_and_minimized) {
  asx_lab_config c = cfg_for("net_echo_bug", 1, ASX_LAB_PCT);
  asx_lab_verdict v;
  uint64_t seed, done;
  /* Without partial-read faults every echo arrives in one piece: the bug stays hidden. */
  cr_assert_eq(asx_lab_explore(&c, 30, &v, &seed, &done, NULL, NULL), 0);
  c.net_partial_permille = 200;
  found_and_minimized(&c, 100, ASX_LAB_ORACLE_SCENARIO, "scenario:echo_mismatch", NULL);
  c = cfg_for("net_echo_bug", 1, ASX_LAB_RANDOM);
  c.net_partial_permille = 200;
  found_and_minimized(&c, 100, ASX_LAB_ORACLE_SCENARIO, "scenario:echo_mismatch", NULL);
}

/* The minimizer lowers fault rates the failure does not need (resets, delays) and keeps the one
 * it needs (partial reads) above 0; the smaller trace's header carries the lowered rates. */
Test(lab_oracles, minimize_lowers_fault_rates) {
  asx_lab_config c = cfg_for("net_echo_bug", 1, ASX_LAB_PCT);
  c.net_partial_permille = 300;
  c.net_reset_permille = 20;
  c.net_delay_ns = 3000000;
  asx_lab_verdict v, mv;
  uint64_t seed, done;
  uint8_t *t, *m;
  size_t l, ml;
  cr_assert_eq(asx_lab_explore(&c, 50, &v, &seed, &done, &t, &l), 1);
  cr_assert_str_eq(v.key, "scenario:echo_mismatch");
  asx_lab_min_stats st;
  cr_assert_eq(asx_lab_minimize(NULL, t, l, 0, &mv, &st, &m, &ml), 0);
  cr_assert_str_eq(mv.key, v.key);
  cr_assert_eq(st.faults_after.reset_permille, 0);
  cr_assert_eq(st.faults_after.max_delay_ns, 0);
  cr_assert_gt(st.faults_after.partial_permille, 0);
  cr_assert_lt(st.faults_after.partial_permille, 300);
  asx_lab_trace *tr;
  cr_assert_eq(asx_lab_trace_parse(NULL, m, ml, NULL, &tr, NULL), 0);
  cr_assert_eq(asx_lab_trace_header_get(tr)->net_partial_permille, st.faults_after.partial_permille);
  cr_assert_eq(asx_lab_trace_header_get(tr)->net_reset_permille, 0);
  asx_lab_trace_free(tr);
  asx_lab_verdict rv;
  cr_assert_eq(asx_lab_replay(NULL, m, ml, &rv, NULL, NULL), 0);
  cr_assert_str_eq(rv.key, v.key);
  free(t);
  free(m);
}

static int line_of(const char *marker) {
  FILE *f = fopen(__FILE__, "r");
  cr_assert_not_null(f);
  char buf[512];
  int n = 0, found = -1;
  while (fgets(buf, sizeof buf, f)) {
    n++;
    if (strstr(buf, marker) && !strstr(buf, "strstr") && !strstr(buf, "line_of")) found = n;
  }
  fclose(f);
  return found;
}

Test(lab_oracles, wait_sites_are_the_callers_lines) {
  asx_lab_config c = cfg_for("t_race_deadlock", 1, ASX_LAB_RANDOM);
  asx_lab_verdict v;
  cr_assert_eq(asx_lab_run(&c, &v, NULL, NULL), 0);
  cr_assert_eq(v.oracle, ASX_LAB_ORACLE_DEADLOCK, "%s", v.detail);
  char want[128];
  snprintf(want, sizeof want, "\"main\" waits in race at lab/test_oracles.c:%d", line_of("/* RACE_" "LINE */"));
  cr_assert(strstr(v.detail, want) != NULL, "want %s in\n%s", want, v.detail);
  snprintf(want, sizeof want, "waits in oneshot_recv at lab/test_oracles.c:%d", line_of("/* RECV_" "LINE */"));
  cr_assert(strstr(v.detail, want) != NULL, "want %s in\n%s", want, v.detail);
}

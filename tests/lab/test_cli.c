/* The command line: exit codes (0 ok, 1 violation, 2 usage, 3 trace invalid) and that run ->
 * replay -> minimize -> replay works through files. Output goes to the test log. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asx/lab.h"

static char dir[64];

static void setup(void) {
  cr_assert_eq(asx_lab_register_demos(), 0);
  cr_assert_eq(asx_lab_register_net_demos(), 0);
  strcpy(dir, "/tmp/asx-lab-cli-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(lab_cli, .init = setup, .fini = teardown, .timeout = 120);

static int lab(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5) {
  char *argv[7] = {"asx-lab", (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL};
  int argc = 1;
  while (argc < 6 && argv[argc]) argc++;
  fflush(stdout);
  return asx_lab_main(argc, argv);
}

static void path(char *out, const char *name) { snprintf(out, 128, "%s/%s", dir, name); }

Test(lab_cli, help_and_usage) {
  cr_assert_eq(lab("--help", NULL, NULL, NULL, NULL), 0);
  cr_assert_eq(lab("run", "--help", NULL, NULL, NULL), 0);
  cr_assert_eq(lab(NULL, NULL, NULL, NULL, NULL), 2);
  cr_assert_eq(lab("frobnicate", NULL, NULL, NULL, NULL), 2);
  cr_assert_eq(lab("run", NULL, NULL, NULL, NULL), 2);
  cr_assert_eq(lab("run", "no_such_scenario", NULL, NULL, NULL), 2);
  cr_assert_eq(lab("run", "clean", "--seed", "x", NULL), 2);
  cr_assert_eq(lab("run", "clean", "--strategy", "dfs", NULL), 2);
  cr_assert_eq(lab("list", NULL, NULL, NULL, NULL), 0);
}

Test(lab_cli, run_replay_dump_clean) {
  char t[128];
  path(t, "clean.trace");
  cr_assert_eq(lab("run", "clean", "-o", t, NULL), 0);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 0);
  cr_assert_eq(lab("dump", t, NULL, NULL, NULL), 0);
}

Test(lab_cli, violation_found_replayed_minimized) {
  char t[128], m[128];
  path(t, "lu.trace");
  path(m, "lu.min");
  cr_assert_eq(lab("explore", "lost_update", "-o", t, NULL), 1);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 1); /* reproduces the violation */
  char *argv[] = {"asx-lab", "minimize", t, "-o", m, NULL};
  cr_assert_eq(asx_lab_main(5, argv), 0);
  cr_assert_eq(lab("replay", m, NULL, NULL, NULL), 1);
}

Test(lab_cli, corrupted_or_missing_trace) {
  char t[128];
  path(t, "bad.trace");
  cr_assert_eq(lab("run", "pingpong", "-o", t, NULL), 0);
  FILE *f = fopen(t, "r+b");
  cr_assert_not_null(f);
  fseek(f, 100, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 100, SEEK_SET);
  fputc(c ^ 0x20, f);
  fclose(f);
  cr_assert_eq(lab("dump", t, NULL, NULL, NULL), 3);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 3);
  cr_assert_eq(lab("minimize", t, NULL, NULL, NULL), 3);
  cr_assert_eq(truncate(t, 50), 0);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 3);
  path(t, "missing.trace");
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 4);
}

/* explore's failing trace is re-created byte for byte by `run` with the header's parameters. */
Test(lab_cli, run_recreates_an_explored_trace) {
  asx_lab_config c;
  asx_lab_config_default(&c);
  c.scenario = "lost_update";
  c.seed = 1;
  c.strategy = ASX_LAB_PCT;
  asx_lab_verdict v;
  uint64_t seed, done;
  uint8_t *t;
  size_t l;
  cr_assert_eq(asx_lab_explore(&c, 50, &v, &seed, &done, &t, &l), 1);
  asx_lab_trace *tr;
  cr_assert_eq(asx_lab_trace_parse(NULL, t, l, NULL, &tr, NULL), 0);
  c.seed = seed;
  c.pct_steps = asx_lab_trace_header_get(tr)->pct_steps;
  asx_lab_trace_free(tr);
  uint8_t *t2;
  size_t l2;
  cr_assert_eq(asx_lab_run(&c, &v, &t2, &l2), 0);
  cr_assert_eq(l, l2);
  cr_assert_eq(memcmp(t, t2, l), 0);
  free(t);
  free(t2);
}

static int labv(int argc, const char **args) {
  char *argv[16] = {"asx-lab"};
  for (int i = 0; i < argc && i < 14; i++) argv[i + 1] = (char *)args[i];
  fflush(stdout);
  return asx_lab_main(argc + 1, argv);
}

/* The new options: oracles and network faults go through run/explore, into the trace header
 * (replay re-creates them), and bad values are usage errors. */
Test(lab_cli, oracle_and_fault_options) {
  char t[128], m[128];
  path(t, "fl.trace");
  path(m, "fl.min");
  const char *a1[] = {"explore", "futurelock", "--futurelock", "400", "--check-every-step", "-o", t};
  cr_assert_eq(labv(7, a1), 1);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 1);
  cr_assert_eq(lab("dump", t, NULL, NULL, NULL), 0);
  const char *a2[] = {"minimize", t, "-o", m, "--max-runs", "50"};
  cr_assert_eq(labv(6, a2), 0);
  cr_assert_eq(lab("replay", m, NULL, NULL, NULL), 1);
  path(t, "bw.trace");
  const char *a3[] = {"explore", "busy_wait", "--lost-wakeup", "100", "--runs", "100", "-o", t};
  cr_assert_eq(labv(8, a3), 1);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 1);
  path(t, "ne.trace");
  const char *a4[] = {"run", "net_echo", "--net-delay", "1000000", "--net-partial", "300",
                      "--net-reset", "10", "-o", t};
  cr_assert_eq(labv(10, a4), 0);
  cr_assert_eq(lab("replay", t, NULL, NULL, NULL), 0);
  const char *a5[] = {"run", "net_echo", "--net-partial", "1001"};
  cr_assert_eq(labv(4, a5), 2);
  const char *a6[] = {"run", "net_echo", "--futurelock", "x"};
  cr_assert_eq(labv(4, a6), 2);
  const char *a7[] = {"explore", "net_echo_bug", "--net-partial", "300", "--runs", "50", "-o", t};
  cr_assert_eq(labv(8, a7), 1);
}

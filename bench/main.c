/* asx-bench: `asx-bench <group> [filter]` runs one group of benchmarks; each result is one JSON
 * object per line on stdout. With no arguments it lists the groups. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

struct group {
  const char *name;
  bench_group_fn run; /* NULL: planned, not written yet */
  const char *what;
};

int bench_net_main(int argc, char **argv); /* bench_net.c */

static const struct group groups[] = {
    {"runtime", bench_runtime_main, "context switch, stacks, spawn/join, yield, channel, sleeping tasks"},
    {"net", bench_net_main, "TCP echo, streaming, accept rate, idle connections vs peers"},
    {"lab", bench_lab_main, "lab record/replay steps/s, trace bytes/step"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: asx-bench <group> [filter]\n"
               "Each result is one JSON object per line. Timings use %s time (ASX_BENCH_CLOCK=wall for the\n"
               "wall clock); every figure is the best of several repetitions.\ngroups:\n",
          bench_clock_name());
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    fprintf(out, "  %-8s %s\n", groups[i].name, groups[i].what);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
    if (strcmp(argv[1], groups[i].name) != 0) continue;
    if (groups[i].run == NULL) {
      fprintf(stderr, "asx-bench: group '%s' is not written yet\n", argv[1]);
      return 2;
    }
    return groups[i].run(argc - 1, argv + 1);
  }
  fprintf(stderr, "asx-bench: unknown group '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}

/* asx-bench lab: scheduling steps/s of a ping-pong program on the lab (record mode: lab scheduler
 * + trace records + SHA-256 chain), replay steps/s, trace bytes per step, and two baselines that
 * show where the time goes: the bare deterministic driver (seeded PRNG, no trace) and the driver
 * with a trivial choose callback. */
#include <stdio.h>
#include <stdlib.h>

#include "asx/lab.h"
#include "bench.h"

#define ROUNDS 100000 /* ~2 steps per round trip */

static int bench_pingpong(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  return asx_lab_demo_pingpong(cx, ROUNDS);
}

static int pingpong_task(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_lab_demo_pingpong(cx, ROUNDS);
}

static uint32_t first_ready(void *ud, uint32_t n, const uint64_t *ids) {
  (void)ud;
  (void)ids;
  return n - 1;
}

/* Bare runtime on the deterministic driver: ns per scheduling step (steps = switches). */
static double bare(bool with_choose, uint64_t *steps) {
  asx_runtime_config c;
  asx_runtime_config_default(&c);
  c.driver = ASX_DRIVER_DETERMINISTIC;
  c.stack_size = 64 * 1024;
  if (with_choose) c.choose = first_ready;
  asx_runtime *rt;
  if (asx_runtime_new(&c, &rt)) return -1;
  uint64_t t0 = bench_now_ns();
  asx_runtime_run(rt, pingpong_task, NULL, NULL, NULL);
  uint64_t dt = bench_now_ns() - t0;
  asx_runtime_stats s;
  asx_runtime_stats_get(rt, &s);
  asx_runtime_free(rt);
  *steps = s.switches;
  return (double)dt / (double)s.switches;
}

int bench_lab_main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  if (asx_lab_register("bench_pingpong", bench_pingpong, "ping-pong for asx-bench") != 0 &&
      !asx_lab_find("bench_pingpong", NULL))
    return 1;
  uint64_t steps = 0;
  if (bench_selected(filter, "lab_bare_driver")) {
    double best = -1;
    for (int r = 0; r < 3; r++) {
      double ns = bare(false, &steps);
      if (best < 0 || ns < best) best = ns;
    }
    bench_emit("lab_bare_driver_steps_per_s", 1e9 / best, "steps/s", NULL, 0);
    best = -1;
    for (int r = 0; r < 3; r++) {
      double ns = bare(true, &steps);
      if (best < 0 || ns < best) best = ns;
    }
    bench_emit("lab_driver_with_choose_steps_per_s", 1e9 / best, "steps/s", NULL, 0);
  }
  asx_lab_config cfg;
  asx_lab_config_default(&cfg);
  cfg.scenario = "bench_pingpong";
  cfg.seed = 1;
  cfg.max_steps = 0;
  double rec_best = -1, rep_best = -1;
  uint8_t *trace = NULL;
  size_t len = 0;
  asx_lab_verdict v;
  for (int r = 0; r < 3; r++) {
    free(trace);
    uint64_t t0 = bench_now_ns();
    if (asx_lab_run(&cfg, &v, &trace, &len) != 0) return 1;
    double ns = (double)(bench_now_ns() - t0) / (double)v.steps;
    if (rec_best < 0 || ns < rec_best) rec_best = ns;
  }
  if (bench_selected(filter, "lab_record")) bench_emit("lab_record_steps_per_s", 1e9 / rec_best, "steps/s", NULL, 0);
  if (bench_selected(filter, "lab_replay")) {
    for (int r = 0; r < 3; r++) {
      asx_lab_verdict rv;
      uint64_t t0 = bench_now_ns();
      if (asx_lab_replay(NULL, trace, len, &rv, NULL, NULL) != 0) return 1;
      double ns = (double)(bench_now_ns() - t0) / (double)rv.steps;
      if (rep_best < 0 || ns < rep_best) rep_best = ns;
    }
    bench_emit("lab_replay_steps_per_s", 1e9 / rep_best, "steps/s", NULL, 0);
  }
  if (bench_selected(filter, "lab_trace")) {
    bench_emit("lab_trace_bytes_per_step", (double)len / (double)v.steps, "bytes/step", NULL, 0);
    bench_emit("lab_trace_records_per_step", (double)v.records / (double)v.steps, "records/step", NULL, 0);
  }
  free(trace);
  return 0;
}

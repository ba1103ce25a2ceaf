/* asx-example-regions: structured concurrency at work, narrated.
 *
 *   asx-example-regions                        production driver (worker threads, real time)
 *   asx-example-regions --deterministic [SEED] one thread, seeded schedule, virtual time: the
 *                                              output is identical for the same seed
 *
 * It shows (1) a region that closes only when all its children are done, (2) a race whose losers
 * are cancelled and drained before it returns, (3) a cancellation with cleanup inside a mask,
 * (4) a two-phase channel send committed as an obligation and one obligation leaked (the runtime
 * reports it with its file:line through the trace sink), (5) a timeout, and the teardown
 * accounting. The runtime never prints: every line below is printed by this program. */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asx/runtime.h"

#define MS 1000000ull

static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_t0;

/* One narrated line, stamped with the runtime clock relative to the start. */
static void say(asx_cx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(asx_cx *cx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&g_out);
  printf("[%7.2f ms] ", (double)(asx_now(cx) - g_t0) / 1e6);
  vprintf(fmt, ap);
  putchar('\n');
  fflush(stdout);
  pthread_mutex_unlock(&g_out);
  va_end(ap);
}

/* The trace sink: the runtime's structured events, rendered for a human. Only the interesting
 * kinds are shown; the rest are counted by the runtime anyway. */
static void on_event(void *ud, const asx_trace_event *ev) {
  (void)ud;
  pthread_mutex_lock(&g_out);
  switch (ev->type) {
  case ASX_TRACE_OBLIGATION_LEAK: {
    const char *file = ev->file && strrchr(ev->file, '/') ? strrchr(ev->file, '/') + 1 : ev->file;
    printf("  !! runtime: task %" PRIu64 " ended holding obligation '%s' reserved at %s:%d"
           " (reported, counted, aborted)\n",
           ev->task_id, ev->name, file, ev->line);
    break;
  }
  case ASX_TRACE_REGION_CLOSE:
    if (ev->name)
      printf("  .. runtime: region '%s' closed, outcome %s\n", ev->name, asx_outcome_name(ev->outcome));
    break;
  case ASX_TRACE_CLEANUP_OVERRUN:
    printf("  !! runtime: task %" PRIu64 " overran its cleanup budget by %.2f ms\n", ev->task_id,
           (double)ev->value / 1e6);
    break;
  case ASX_TRACE_PANIC:
    printf("  !! runtime: task %" PRIu64 " panicked: %s\n", ev->task_id, ev->message);
    break;
  default:
    break;
  }
  fflush(stdout);
  pthread_mutex_unlock(&g_out);
}

/* ---- 1. a region waits for all of its children ---- */
static int worker(asx_cx *cx, void *arg) {
  uintptr_t i = (uintptr_t)arg;
  asx_sleep(cx, (3 - i) * 4 * MS);
  say(cx, "worker %u finished its job", (unsigned)i);
  return 0;
}

/* ---- 2. race: first fetcher wins, the others are cancelled and drained ---- */
static int fetch(asx_cx *cx, uint64_t delay, const char *who) {
  int err = asx_sleep(cx, delay);
  if (err == ASX_ECANCELED) {
    say(cx, "%s: cancelled (%s), closing its connection...", who, asx_cancel_kind_name(asx_cancel_reason(cx)));
    asx_mask_push(cx); /* cleanup that blocks runs masked */
    asx_sleep(cx, 2 * MS);
    asx_mask_pop(cx);
    say(cx, "%s: cleanup done", who);
    return err;
  }
  say(cx, "%s: got the answer", who);
  return 0;
}
static int fetch_primary(asx_cx *cx, void *arg) { (void)arg; return fetch(cx, 30 * MS, "primary"); }
static int fetch_mirror(asx_cx *cx, void *arg) { (void)arg; return fetch(cx, 5 * MS, "mirror"); }
static int fetch_backup(asx_cx *cx, void *arg) { (void)arg; return fetch(cx, 60 * MS, "backup"); }

/* ---- 3. a long-running connection cancelled by its owner ---- */
static int connection(asx_cx *cx, void *arg) {
  (void)arg;
  unsigned served = 0;
  while (asx_sleep(cx, 3 * MS) == 0) served++;
  say(cx, "connection: cancellation observed (%s) after %u requests; sending goodbye",
      asx_cancel_kind_name(asx_cancel_reason(cx)), served);
  asx_mask_push(cx);
  asx_sleep(cx, 1 * MS); /* e.g. writing a close frame */
  asx_mask_pop(cx);
  say(cx, "connection: goodbye sent, exiting");
  return ASX_ECANCELED;
}

/* ---- 4. obligations ---- */
static asx_chan *g_ch;

static int careful_sender(asx_cx *cx, void *arg) {
  (void)arg;
  asx_chan_permit p;
  if (asx_chan_reserve(cx, g_ch, &p) != 0) return ASX_ECANCELED;
  say(cx, "sender: slot reserved (an obligation), committing message 42");
  int v = 42;
  asx_chan_commit(&p, &v);
  return 0;
}

static int forgetful_task(asx_cx *cx, void *arg) {
  (void)arg;
  asx_obligation *ob;
  asx_obligation_reserve(cx, "db.transaction", &ob);
  say(cx, "forgetful: reserved a 'db.transaction' obligation and returns without resolving it");
  return 0;
}

/* ---- 5. timeout ---- */
static int slow_query(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, 1000 * MS);
  if (err) say(cx, "slow query: stopped by %s", asx_cancel_kind_name(asx_cancel_reason(cx)));
  return err;
}

static int demo(asx_cx *cx, void *arg) {
  (void)arg;
  g_t0 = asx_now(cx);

  say(cx, "== 1. region: close waits for every child");
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "workers";
  asx_region *r;
  asx_region_open(cx, &ro, &r);
  for (uintptr_t i = 0; i < 3; i++) asx_spawn(cx, r, worker, (void *)i, NULL, NULL);
  say(cx, "main: 3 workers spawned, closing the region (this waits)");
  asx_outcome o;
  asx_region_close(cx, r, &o);
  say(cx, "main: region closed, all workers done, outcome %s", asx_outcome_name(o));

  say(cx, "== 2. race: first answer wins, losers are cancelled AND drained");
  asx_task_fn fns[3] = {fetch_primary, fetch_mirror, fetch_backup};
  static const char *const names[3] = {"primary", "mirror", "backup"};
  size_t winner = 0;
  int wrc = 0;
  asx_race(cx, 3, fns, NULL, &winner, &wrc);
  say(cx, "main: race returned: winner %s (rc %d); both losers already cleaned up", names[winner], wrc);

  say(cx, "== 3. cancellation: request -> drain -> finalize");
  ro.name = "server";
  asx_region_open(cx, &ro, &r);
  asx_spawn(cx, r, connection, NULL, NULL, NULL);
  asx_sleep(cx, 10 * MS);
  say(cx, "main: cancelling region 'server' (user)");
  asx_region_cancel(r, ASX_CANCEL_USER);
  asx_region_close(cx, r, &o);
  say(cx, "main: 'server' drained and closed, outcome %s", asx_outcome_name(o));

  say(cx, "== 4. obligations: one committed, one leaked");
  asx_chan_new(NULL, sizeof(int), 1, &g_ch);
  ro.name = "obligations";
  ro.propagate_outcome = false;
  asx_region_open(cx, &ro, &r);
  asx_spawn(cx, r, careful_sender, NULL, NULL, NULL);
  asx_spawn(cx, r, forgetful_task, NULL, NULL, NULL);
  int got = 0;
  asx_chan_recv(cx, g_ch, &got);
  say(cx, "main: received %d over the channel", got);
  asx_region_close(cx, r, NULL);
  asx_chan_free(g_ch);

  say(cx, "== 5. timeout");
  int rc = asx_timeout(cx, 8 * MS, slow_query, NULL);
  say(cx, "main: timeout returned %s", asx_errname(rc));
  return 0;
}

int main(int argc, char **argv) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.trace = on_event;
  if (argc > 1 && strcmp(argv[1], "--deterministic") == 0) {
    cfg.driver = ASX_DRIVER_DETERMINISTIC;
    if (argc > 2) cfg.seed = strtoull(argv[2], NULL, 0);
  } else {
    cfg.workers = 2;
  }
  asx_runtime *rt;
  int err = asx_runtime_new(&cfg, &rt);
  if (err) {
    fprintf(stderr, "asx_runtime_new: %s\n", asx_strerror(err));
    return 1;
  }
  printf("asx regions example (%s driver)\n",
         cfg.driver == ASX_DRIVER_DETERMINISTIC ? "deterministic" : "threads");
  int rc = 0;
  asx_outcome outcome;
  err = asx_runtime_run(rt, demo, NULL, &rc, &outcome);
  asx_runtime_stats s;
  asx_runtime_stats_get(rt, &s);
  asx_runtime_free(rt);
  if (err) {
    fprintf(stderr, "asx_runtime_run: %s\n", asx_strerror(err));
    return 1;
  }
  printf("== teardown: root outcome %s (outcomes fold upwards: Ok < Err < Cancelled < Panicked;"
         " 'server' was cancelled)\n", asx_outcome_name(outcome));
  printf("   live tasks %" PRIu64 ", live regions %" PRIu64 ", unresolved obligations %" PRIu64 "\n",
         s.live_tasks, s.live_regions, s.unresolved_obligations);
  printf("   spawned %" PRIu64 " tasks, opened %" PRIu64 " regions, %" PRIu64
         " cancel requests, %" PRIu64 " obligation leak(s), %" PRIu64 " cleanup overrun(s)\n",
         s.tasks_spawned, s.regions_opened, s.cancel_requests, s.obligation_leaks, s.cleanup_overruns);
  bool clean = s.live_tasks == 0 && s.live_regions == 0 && s.unresolved_obligations == 0;
  return clean && s.obligation_leaks == 1 ? 0 : 1;
}

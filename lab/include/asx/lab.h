/* asx lab: deterministic runs of task programs ("scenarios") on the runtime's deterministic
 * driver, hash-chained binary traces, bit-exact replay, schedule exploration (random and PCT),
 * oracles, a trace minimizer, and the `asx-lab` command line (asx_lab_main).
 *
 * Typical use: a test binary registers its scenarios with asx_lab_register and either calls the
 * run/replay/explore/minimize functions directly or hands argv to asx_lab_main. See docs/lab.md
 * for the trace format and the oracles. Nothing here prints except asx_lab_main. */
#ifndef ASX_LAB_H
#define ASX_LAB_H

#include "asx/base.h"
#include "asx/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================= Trace records ======================= */

/* Field use per type (see docs/lab.md, "Records"). Values are the on-disk type byte. */
typedef enum asx_lab_rec_type {
  ASX_LAB_REC_SCHED = 1,           /* a = ready count, b = chosen index, task = chosen task */
  ASX_LAB_REC_TIME_JUMP = 2,       /* a = new virtual time (ns) */
  ASX_LAB_REC_TIMER_FIRE = 3,      /* task = the task the timer woke */
  ASX_LAB_REC_RANDOM = 4,          /* task = caller, a = value drawn by asx_random */
  ASX_LAB_REC_USER = 5,            /* task, a = value, text = message (asx_trace_user) */
  ASX_LAB_REC_SPAWN = 6,           /* task, region, text = task name */
  ASX_LAB_REC_TASK_END = 7,        /* task, a = outcome, b = cancel kind, code = return code */
  ASX_LAB_REC_REGION_OPEN = 8,     /* region, task = owner (0 = root), text = name */
  ASX_LAB_REC_REGION_CLOSE = 9,    /* region, a = outcome */
  ASX_LAB_REC_CANCEL = 10,         /* task or region, a = cancel kind */
  ASX_LAB_REC_CLEANUP_OVERRUN = 11,/* task, a = cancel kind, b = ns over the cleanup budget */
  ASX_LAB_REC_OBLIGATION_LEAK = 12,/* task, text = obligation kind, text2 = file, b = line */
  ASX_LAB_REC_PANIC = 13,          /* task, text = message */
  ASX_LAB_REC_REGION_LEAK = 14,    /* task = owner, region, text = name */
  ASX_LAB_REC_DEADLOCK = 15,       /* a = live tasks */
  ASX_LAB_REC_STEP_LIMIT = 16,     /* a = steps, b = 0 soft (shutdown requested) / 1 hard (abandoned) */
  ASX_LAB_REC_VIOLATION = 17,      /* task, text = assertion, text2 = message (asx_lab_fail) */
  ASX_LAB_REC_NET_DELIVER = 18,    /* reserved for net/: a = stream id, b = bytes delivered */
  ASX_LAB_REC_NET_FAULT = 19,      /* reserved for net/: a = stream id, b = fault kind, code = arg */
  ASX_LAB_REC_RUN_END = 20,        /* code = main rc, a = steps, b = root outcome, region = -run error */
  /* Version 2 */
  ASX_LAB_REC_WAIT_SITE = 21,      /* task (blocked at a deadlock/futurelock), b = line, text = what
                                      ("chan_recv", ...), text2 = file ("" when never noted) */
  ASX_LAB_REC_LOST_WAKEUP = 22,    /* task, a = consecutive steps it was ready and not chosen */
  ASX_LAB_REC_FUTURELOCK = 23,     /* task, a = steps since it last ran, b = line, text = obligation
                                      kind, text2 = reserve file */
  ASX_LAB_REC_TYPE_MAX = 23
} asx_lab_rec_type;

/* A decoded record; text slices point into the trace (or the writer's caller) and are not
 * NUL-terminated. Unused fields are 0 / empty. */
typedef struct asx_lab_record {
  asx_lab_rec_type type;
  uint64_t task, region, a, b;
  int64_t code;
  asx_slice text, text2;
} asx_lab_record;

/* Thread-safe, pure: "sched", "time_jump", ... ("?" when unknown). */
const char *asx_lab_rec_type_name(asx_lab_rec_type t);
/* Thread-safe, pure: one readable line (no newline) into buf (always NUL-terminated when n > 0).
 * Returns the length it wanted (like snprintf). */
int asx_lab_record_format(const asx_lab_record *r, char *buf, size_t n);

/* ======================= Trace header ======================= */

#define ASX_LAB_TRACE_VERSION 2u /* the reader also accepts version 1 */
#define ASX_LAB_NAME_MAX 63 /* scenario name bytes */
#define ASX_LAB_DIGEST_LEN 32

/* How a run chose the next task. */
typedef enum asx_lab_strategy {
  ASX_LAB_RANDOM = 0, /* uniform among ready tasks, seeded */
  ASX_LAB_PCT = 1,    /* PCT: random priorities + (depth-1) priority change points */
  ASX_LAB_GUIDED = 2  /* minimizer: a list of preferred tasks, then "keep running the current one" */
} asx_lab_strategy;

/* A value type: everything needed to re-create a run besides the program itself. */
typedef struct asx_lab_trace_header {
  uint32_t version;
  uint64_t seed;
  asx_lab_strategy strategy;
  uint32_t pct_depth;
  uint64_t pct_steps;    /* PCT step-count estimate used to place change points */
  uint64_t max_steps;    /* soft step limit (0 = none) */
  uint32_t poll_budget;  /* runtime poll budget (affects forced yields) */
  char scenario[ASX_LAB_NAME_MAX + 1];
  /* Version 2 (0 in a version-1 trace): oracle thresholds and simulated-network fault rates. */
  uint64_t lost_wakeup_steps;
  uint64_t futurelock_steps;
  uint32_t check_every_step;
  uint64_t net_delay_ns;
  uint32_t net_partial_permille;
  uint32_t net_reset_permille;
} asx_lab_trace_header;

/* Thread-safe, pure: "random", "pct", "guided". */
const char *asx_lab_strategy_name(asx_lab_strategy s);

/* ======================= Trace writer ======================= */

typedef struct asx_lab_trace_writer asx_lab_trace_writer;
/* Caller owns *out. max_bytes caps the whole trace (0 = 256 MiB); a write past it is ASX_ELIMIT.
 * 0, ASX_EINVAL, ASX_ENOMEM. Not thread-safe on the writer. */
int asx_lab_trace_writer_new(const asx_allocator *a, const asx_lab_trace_header *h, size_t max_bytes,
                             asx_lab_trace_writer **out);
/* Appends one record (strings longer than 255 bytes are cut). 0, ASX_EINVAL, ASX_ELIMIT,
 * ASX_ENOMEM, ASX_ESTATE (already finished). On error the trace keeps what it had. */
int asx_lab_trace_write(asx_lab_trace_writer *w, const asx_lab_record *r);
/* Seals the trace (last block, trailer with the final digest). digest may be NULL. Idempotent. */
int asx_lab_trace_finish(asx_lab_trace_writer *w, uint8_t digest[ASX_LAB_DIGEST_LEN]);
/* The encoded bytes so far (complete once finished); borrowed from the writer. */
const uint8_t *asx_lab_trace_bytes(const asx_lab_trace_writer *w, size_t *len);
/* Records written so far. */
uint64_t asx_lab_trace_records(const asx_lab_trace_writer *w);
/* NULL ignored. */
void asx_lab_trace_writer_free(asx_lab_trace_writer *w);

/* ======================= Trace reader ======================= */

/* Reader limits (a trace is untrusted input). */
typedef struct asx_lab_trace_limits {
  size_t max_bytes;        /* whole file; default 1 GiB */
  uint64_t max_records;    /* default 64M */
  size_t max_block;        /* one block's payload; default 64 KiB */
  size_t max_string;       /* one text field; default 1024 */
} asx_lab_trace_limits;
/* Thread-safe, pure. */
asx_lab_trace_limits asx_lab_trace_limits_default(void);

/* Where and why a trace was rejected. record = index of the first record that cannot be trusted
 * (-1 = the header), offset = its byte offset in the file. */
typedef struct asx_lab_trace_error {
  int code;               /* ASX_EPROTO (malformed/truncated), ASX_ECHECKSUM (hash chain),
                             ASX_EUNSUPPORTED (version), ASX_ELIMIT, ASX_ENOMEM */
  int64_t record;
  uint64_t offset;
  uint64_t block;         /* block number (0 = first block after the header) */
  bool truncated;
  char message[200];
} asx_lab_trace_error;

typedef struct asx_lab_trace asx_lab_trace;
/* Verifies the whole file (structure, every block digest, the trailer) before accepting it.
 * Caller owns *out (the bytes are copied). lim NULL = defaults; err may be NULL.
 * 0 or a negative code as in asx_lab_trace_error. */
int asx_lab_trace_parse(const asx_allocator *a, const uint8_t *data, size_t len,
                        const asx_lab_trace_limits *lim, asx_lab_trace **out,
                        asx_lab_trace_error *err);
/* Borrowed; valid until asx_lab_trace_free. */
const asx_lab_trace_header *asx_lab_trace_header_get(const asx_lab_trace *t);
/* Not thread-safe on t (read-only calls may run concurrently): number of records. */
size_t asx_lab_trace_count(const asx_lab_trace *t);
/* Decodes record i (slices borrow the trace). 0 or ASX_EINVAL (out of range). */
int asx_lab_trace_get(const asx_lab_trace *t, size_t i, asx_lab_record *rec);
/* Byte offset of record i in the file (for messages). */
uint64_t asx_lab_trace_offset(const asx_lab_trace *t, size_t i);
/* The digest in the trailer (verified). */
void asx_lab_trace_digest(const asx_lab_trace *t, uint8_t out[ASX_LAB_DIGEST_LEN]);
/* NULL ignored. */
void asx_lab_trace_free(asx_lab_trace *t);

/* ======================= Scenarios ======================= */

/* Per-run handle given to a scenario: report assertions, emit net events. Owned by the lab. */
typedef struct asx_lab_ctx asx_lab_ctx;
/* A scenario: the body of the lab's main task. Must be deterministic given the schedule (use
 * asx_random and asx_now, never rand()/time()). Returns like an asx_task_fn. */
typedef int (*asx_lab_scenario_fn)(asx_cx *cx, asx_lab_ctx *lab);

/* Not thread-safe (call at start-up). name and description are borrowed (string literals).
 * 0, ASX_EINVAL (bad name: empty, > 63 bytes), ASX_EEXIST, ASX_ELIMIT (256 scenarios). */
int asx_lab_register(const char *name, asx_lab_scenario_fn fn, const char *description);
/* Not thread-safe: NULL when unknown. */
asx_lab_scenario_fn asx_lab_find(const char *name, const char **description);
/* Not thread-safe: the i-th registered scenario (NULL past the end). */
const char *asx_lab_scenario_name(size_t i, const char **description);
/* Not thread-safe: registers the built-in demos "clean", "pingpong", "lost_update",
 * "oblig_leak", "deadlock", "order_violation", "busy_wait", "futurelock" (see docs/lab.md).
 * Idempotent. */
int asx_lab_register_demos(void);
/* Task-only: the ping-pong demo's body with a chosen number of round trips (benchmarks). */
int asx_lab_demo_pingpong(asx_cx *cx, int rounds);

/* Task-only (any task of the run): a scenario-level assertion failed. Recorded in the trace and
 * reported as the oracle "scenario" with this assertion name. Both strings are copied. */
void asx_lab_fail(asx_lab_ctx *lab, asx_cx *cx, const char *assertion, const char *message);
/* Task-only hook for simulated networks (net/): records bytes delivered (type NET_DELIVER) or a
 * fault injected (type NET_FAULT). Other types are ignored. */
void asx_lab_net_event(asx_lab_ctx *lab, asx_lab_rec_type type, uint64_t stream, uint64_t value,
                       int64_t arg);
/* The run's seed (for scenario-level randomness prefer asx_random, which is recorded). */
uint64_t asx_lab_seed(const asx_lab_ctx *lab);

/* Simulated-network fault rates of the run (asx_lab_config net_*), for a scenario to put into
 * its asx_sim_opts (max_delay_ns, partial_permille, reset_permille). */
typedef struct asx_lab_net_faults {
  uint64_t max_delay_ns;
  uint32_t partial_permille;
  uint32_t reset_permille;
} asx_lab_net_faults;
/* Any task of the run. */
asx_lab_net_faults asx_lab_faults(const asx_lab_ctx *lab);
/* Fault kinds of ASX_LAB_REC_NET_FAULT records written by scenarios (b field). */
enum { ASX_LAB_FAULT_RESET = 1, ASX_LAB_FAULT_PIPE = 2, ASX_LAB_FAULT_TIMEOUT = 3 };

/* Not thread-safe: registers the simulated-network demos "net_echo" (the net server helper echoing
 * for several clients over a simulated listener, faults from the config; must pass) and
 * "net_echo_bug" (a client that assumes one read returns a whole line). Idempotent. */
int asx_lab_register_net_demos(void);

/* ======================= Runs and oracles ======================= */

typedef enum asx_lab_oracle {
  ASX_LAB_ORACLE_NONE = 0,
  ASX_LAB_ORACLE_QUIESCENCE,      /* live tasks/regions/obligations left after the run */
  ASX_LAB_ORACLE_OUTLIVED_REGION, /* a task (e.g. a race loser) still alive when its region closed */
  ASX_LAB_ORACLE_OBLIGATION_LEAK, /* a task ended holding an obligation */
  ASX_LAB_ORACLE_CLEANUP_BUDGET,  /* a cancelled task ran past its cleanup budget */
  ASX_LAB_ORACLE_DEADLOCK,        /* nothing runnable, no timer, tasks blocked */
  ASX_LAB_ORACLE_PANIC,           /* a task panicked */
  ASX_LAB_ORACLE_REGION_LEAK,     /* a task ended without closing a region it opened */
  ASX_LAB_ORACLE_STEP_LIMIT,      /* the step limit was reached (livelock or too small a limit) */
  ASX_LAB_ORACLE_SCENARIO,        /* asx_lab_fail */
  ASX_LAB_ORACLE_RUN_ERROR,       /* asx_runtime_run failed */
  ASX_LAB_ORACLE_LOST_WAKEUP,     /* a task ready for more than lost_wakeup_steps steps in a row, never chosen */
  ASX_LAB_ORACLE_FUTURELOCK       /* a task holding an obligation did not run for futurelock_steps */
} asx_lab_oracle;
/* Thread-safe, pure: "quiescence", "obligation_leak", ... */
const char *asx_lab_oracle_name(asx_lab_oracle o);

#define ASX_LAB_MAX_TASKS_REPORTED 8

/* The outcome of one run. `key` identifies "the same failure" for the minimizer (oracle plus
 * assertion name / obligation site). */
typedef struct asx_lab_verdict {
  asx_lab_oracle oracle;        /* the first violation seen; NONE = every oracle passed */
  unsigned violations;          /* how many were seen in total */
  char key[128];
  char detail[768];             /* readable: oracle, tasks involved (ids, names, last event) */
  uint64_t tasks[ASX_LAB_MAX_TASKS_REPORTED];
  size_t ntasks;
  uint64_t steps;               /* scheduling choices */
  uint64_t preemptions;         /* choices that switched away from a task that was still ready */
  uint64_t records;
  uint64_t trace_bytes;
  int run_error;                /* asx_runtime_run's result */
  int main_rc;
  asx_outcome outcome;
  asx_runtime_stats stats;
  uint8_t digest[ASX_LAB_DIGEST_LEN];
} asx_lab_verdict;

/* A value type; fill with asx_lab_config_default. */
typedef struct asx_lab_config {
  const char *scenario;         /* registered name */
  uint64_t seed;
  asx_lab_strategy strategy;    /* RANDOM or PCT (GUIDED is internal to the minimizer) */
  uint32_t pct_depth;           /* PCT bug depth d (d-1 change points); default 3 */
  uint64_t pct_steps;           /* PCT estimate of steps; 0 = 1000 */
  uint64_t max_steps;           /* soft limit; default 1M; the run is abandoned at 2x + 10000 */
  uint32_t poll_budget;         /* runtime poll budget; 0 = runtime default */
  const asx_allocator *alloc;
  size_t max_trace_bytes;       /* 0 = 256 MiB */
  size_t stack_size;            /* task stacks; 0 = 256 KiB (replay and minimize use the default) */
  /* Oracles off by default (0); see docs/lab.md "Oracles" for the exact definitions. */
  uint64_t lost_wakeup_steps;   /* > this many consecutive steps ready and not chosen: lost_wakeup */
  uint64_t futurelock_steps;    /* holding an obligation, not run for this many steps: futurelock */
  bool check_every_step;        /* futurelock checked at every step (not every N/8) and the
                                   runtime's scheduling-invariant counter read at every step */
  /* Simulated-network faults handed to scenarios (asx_lab_faults); recorded in the trace. */
  uint64_t net_delay_ns;
  uint32_t net_partial_permille;
  uint32_t net_reset_permille;
} asx_lab_config;
/* Thread-safe, pure. */
void asx_lab_config_default(asx_lab_config *cfg);

/* Runs one scenario and checks the oracles. *trace (may be NULL) receives the sealed trace
 * (caller frees with asx_free(cfg->alloc, ...)). Returns 0 (the run happened; see v->oracle),
 * ASX_ENOTFOUND (no such scenario), ASX_EINVAL, ASX_ENOMEM. */
int asx_lab_run(const asx_lab_config *cfg, asx_lab_verdict *v, uint8_t **trace, size_t *trace_len);

/* Where a replay first differed from its trace. */
typedef struct asx_lab_divergence {
  bool diverged;
  uint64_t step;                /* scheduling step at which it happened */
  uint64_t record;              /* record index in the trace */
  char expected[256];           /* the trace's side */
  char got[256];                /* the program's side */
} asx_lab_divergence;

/* Replays a trace: verifies it, runs its scenario following the recorded choices and compares
 * every record. 0 = identical (same records, same final digest), ASX_ESTATE = diverged (see div),
 * trace errors as asx_lab_trace_parse (see terr), ASX_ENOTFOUND (scenario not registered).
 * v, div, terr may be NULL. */
int asx_lab_replay(const asx_allocator *a, const uint8_t *trace, size_t len, asx_lab_verdict *v,
                   asx_lab_divergence *div, asx_lab_trace_error *terr);

/* Runs seeds first_seed .. first_seed+runs-1 and stops at the first violation: returns 1 with
 * *v, *seed and *trace (caller frees) describing it, or 0 when every run passed. *done = runs
 * made. With PCT the step estimate adapts to the longest run seen. Negative code on error. */
int asx_lab_explore(const asx_lab_config *cfg, uint64_t runs, asx_lab_verdict *v, uint64_t *seed,
                    uint64_t *done, uint8_t **trace, size_t *trace_len);

typedef struct asx_lab_min_stats {
  uint64_t runs;                /* lab runs the minimizer made */
  uint64_t steps_before, steps_after;
  uint64_t preemptions_before, preemptions_after;
  asx_lab_net_faults faults_before, faults_after; /* simulated-network fault rates */
} asx_lab_min_stats;
/* Shrinks a failing trace: first lowers its simulated-network fault rates (reset, delay, partial:
 * to 0, else halved) while the same key still fails; then searches for a shorter prefix of its
 * choices after which "keep running the current task" still fails, then drops preemptions.
 * max_runs bounds the work (0 = 2000). Returns 0 with *out (caller frees) = the smallest failing
 * trace found (it may be the input re-recorded), ASX_ESTATE if the input trace does not fail,
 * or a trace/lookup error. */
int asx_lab_minimize(const asx_allocator *a, const uint8_t *trace, size_t len, uint64_t max_runs,
                     asx_lab_verdict *v, asx_lab_min_stats *st, uint8_t **out, size_t *out_len);

/* ======================= Command line ======================= */

/* The `asx-lab` command line over the registered scenarios (run, replay, explore, minimize,
 * dump, list; --help). Prints to stdout/stderr. Exit codes: 0 ok, 1 violation found (or replay
 * diverged), 2 usage, 3 trace invalid, 4 other error. Not thread-safe. */
int asx_lab_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* ASX_LAB_H */

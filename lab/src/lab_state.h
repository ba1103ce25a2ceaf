/* The state of one lab run, shared by the run engine (run.c), the schedulers (choose.c) and the
 * oracles (oracle.c). Not public API. */
#ifndef ASX_LAB_STATE_H
#define ASX_LAB_STATE_H

#include "lab_internal.h"

#define LAB_SPIN_LIMIT 32 /* same task picked this often in a row while others wait: let them run */

/* What the oracles remember about one task or region id. */
typedef struct lab_obj {
  uint8_t kind; /* 0 unknown, 1 task, 2 region */
  bool alive;
  uint32_t live_tasks; /* regions: tasks alive in it */
  uint64_t region;     /* tasks: the region it was spawned into */
  char name[24];
  char last[48];       /* tasks: last user event */
  /* tasks: the last call that may block (ASX_TRACE_WAIT_SITE; static strings) */
  const char *wait_what, *wait_file;
  int wait_line;
  uint64_t last_run;     /* step at which it was last chosen (or spawned) */
  uint64_t ready_streak; /* consecutive steps ready and not chosen */
  uint64_t ready_seen;   /* 1 + the step at which it was last seen ready and not chosen */
  bool futurelocked;     /* reported once */
} lab_obj;

struct asx_lab_ctx {
  struct lab_state *st;
};

typedef struct lab_state {
  lab_run_args *args;
  asx_lab_config cfg;
  const asx_allocator *alloc;
  asx_lab_scenario_fn fn;
  asx_lab_ctx ctx;
  asx_lab_trace_writer *w;
  int write_err;
  asx_lab_verdict *v;
  /* scheduling */
  uint64_t rng;
  uint64_t steps, preemptions, last_task;
  uint64_t now;                /* virtual time of the last event (TIME_JUMP records) */
  uint32_t consecutive;
  bool soft_stopped;
  int shutdown;                /* read by the driver (cfg.shutdown_request) */
  bool oracle_stopped;
  bool sched_violation_seen;         /* an oracle asked to wind the run down (lost_wakeup, futurelock) */
  uint64_t next_check;         /* step of the next periodic (futurelock) check */
  asx_runtime *rt;
  uint64_t *prio;             /* PCT: per task id; 0 = not seen yet */
  size_t nprio;
  uint64_t cps[16];           /* PCT change points (step numbers, sorted) */
  size_t ncps, next_cp;
  /* replay */
  size_t rpos;
  bool diverged;
  /* oracles */
  lab_obj *objs;
  size_t nobjs;
  bool oom;                   /* bookkeeping lost to ENOMEM (reported as a run error) */
  /* chosen tasks, for the minimizer */
  uint64_t *chosen;
  size_t nchosen, capchosen;
} lab_state;

/* run.c: writes a record (and, in replay, compares it with the trace). */
void lab_emit(lab_state *st, const asx_lab_record *r);
/* choose.c */
uint32_t lab_choose(void *ud, uint32_t n, const uint64_t *ids);
int lab_sched_init(lab_state *st);
/* oracle.c */
lab_obj *lab_obj_get(lab_state *st, uint64_t id);
void lab_violation(lab_state *st, asx_lab_oracle o, const char *key, const uint64_t *tasks,
                   size_t ntasks, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void lab_oracle_event(lab_state *st, const asx_trace_event *ev);
void lab_oracle_finish(lab_state *st, int run_err);
/* Per-step oracles, from lab_choose before the choice (ready set ids[0..n)). */
void lab_oracle_step(lab_state *st, uint32_t n, const uint64_t *ids);
/* After the choice: `id` ran at this step. */
void lab_oracle_chosen(lab_state *st, uint64_t id);
/* "src/demos.c:12"-style short form of a __FILE__ path (the last two components). */
const char *lab_short_file(const char *file);

#endif

/* The lab's schedulers, plugged into the deterministic driver through cfg.choose:
 *  - random: uniform among the ready tasks (seeded);
 *  - PCT (Burckhardt et al., ASPLOS 2010): every task gets a random priority when first seen,
 *    the highest-priority ready task always runs, and at d-1 random steps the running task drops
 *    to a priority below every initial one. A bug that needs d ordering constraints is hit with
 *    probability >= 1/(n k^(d-1)) per run, far better than uniform choice for shallow bugs in
 *    long runs. Strict priorities starve spin-waiting tasks, so a task picked LAB_SPIN_LIMIT times
 *    in a row while others wait is demoted to the bottom (a liveness guard, not in the paper);
 *  - guided (the minimizer): follow a list of preferred tasks, then keep running the current one;
 *  - replay: follow the trace's SCHED records.
 * After the soft step limit (or a divergence) the lab asks the driver for a shutdown cancel
 * (cfg.shutdown_request) and then runs tasks round-robin so that the run can drain. */
#include <string.h>

#include "lab_state.h"

static int find(uint32_t n, const uint64_t *ids, uint64_t id) {
  for (uint32_t i = 0; i < n; i++)
    if (ids[i] == id) return (int)i;
  return -1;
}

/* The ready task with the smallest id above `after` (wrapping): fair and schedule-independent. */
static uint32_t round_robin(uint32_t n, const uint64_t *ids, uint64_t after) {
  uint32_t best = UINT32_MAX, lowest = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (ids[i] < ids[lowest]) lowest = i;
    if (ids[i] > after && (best == UINT32_MAX || ids[i] < ids[best])) best = i;
  }
  return best == UINT32_MAX ? lowest : best;
}

/* "Keep running the current task" unless it has spun too long. */
static uint32_t keep_current(lab_state *st, uint32_t n, const uint64_t *ids) {
  int cur = find(n, ids, st->last_task);
  if (cur >= 0 && (st->consecutive < LAB_SPIN_LIMIT || n == 1)) return (uint32_t)cur;
  return round_robin(n, ids, st->last_task);
}

static int prio_grow(lab_state *st, uint64_t id) {
  if (id < st->nprio) return 0;
  size_t cap = st->nprio ? st->nprio : 64;
  while (cap <= id) cap *= 2;
  uint64_t *p = asx_realloc(st->alloc, st->prio, cap * sizeof(*p));
  if (!p) return ASX_ENOMEM;
  memset(p + st->nprio, 0, (cap - st->nprio) * sizeof(*p));
  st->prio = p;
  st->nprio = cap;
  return 0;
}

static uint32_t pct(lab_state *st, uint32_t n, const uint64_t *ids) {
  uint64_t step = st->steps + 1;
  while (st->next_cp < st->ncps && st->cps[st->next_cp] <= step) {
    /* change point i (1-based): the running task drops to priority i (stored +1) */
    if (st->last_task && st->last_task < st->nprio) st->prio[st->last_task] = st->next_cp + 2;
    st->next_cp++;
  }
  uint32_t best = 0;
  uint64_t bestp = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t id = ids[i];
    if (prio_grow(st, id)) {
      st->oom = true;
      return keep_current(st, n, ids);
    }
    if (st->prio[id] == 0) /* first seen: a random priority above every change-point priority */
      st->prio[id] = (uint64_t)st->cfg.pct_depth + 2 + (lab_rng_next(&st->rng) >> 16);
    uint64_t p = st->prio[id];
    if (p > bestp || (p == bestp && id < ids[best])) {
      best = i;
      bestp = p;
    }
  }
  if (ids[best] == st->last_task && st->consecutive >= LAB_SPIN_LIMIT && n > 1) {
    /* Liveness guard: the spinning task drops below everything and one of the others runs. Picking
     * among the others directly (not by re-running the choice) matters when they are all at
     * priority 1 already: the spinner could win the id tie-break again, for ever. */
    st->prio[ids[best]] = 1;
    uint32_t alt = UINT32_MAX;
    uint64_t altp = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (ids[i] == st->last_task) continue;
      uint64_t p = st->prio[ids[i]];
      if (alt == UINT32_MAX || p > altp || (p == altp && ids[i] < ids[alt])) {
        alt = i;
        altp = p;
      }
    }
    return alt;
  }
  return best;
}

static uint32_t replay(lab_state *st, uint32_t n, const uint64_t *ids) {
  const asx_lab_trace *t = st->args->replay;
  asx_lab_record r;
  if (st->rpos < asx_lab_trace_count(t) && asx_lab_trace_get(t, st->rpos, &r) == 0 &&
      r.type == ASX_LAB_REC_SCHED && r.a == n && r.b < n && ids[r.b] == r.task)
    return (uint32_t)r.b;
  /* Not what the trace says: pick something; lab_emit reports the divergence. */
  return keep_current(st, n, ids);
}

uint32_t lab_choose(void *ud, uint32_t n, const uint64_t *ids) {
  lab_state *st = ud;
  if (!st->soft_stopped && st->cfg.max_steps && st->steps >= st->cfg.max_steps) {
    st->soft_stopped = true;
    asx_lab_record r = {.type = ASX_LAB_REC_STEP_LIMIT, .a = st->steps, .b = 0};
    lab_emit(st, &r);
    lab_violation(st, ASX_LAB_ORACLE_STEP_LIMIT, "step_limit", NULL, 0,
                  "step limit %llu reached (livelock, or raise --max-steps): shutdown requested",
                  (unsigned long long)st->cfg.max_steps);
    st->shutdown = 1; /* the driver cancels the root region before its next choice */
  }
  uint32_t idx;
  lab_mode mode = st->args->mode;
  if (!st->soft_stopped && !st->oracle_stopped && !st->diverged) lab_oracle_step(st, n, ids);
  if (mode == LAB_MODE_REPLAY && !st->diverged)
    idx = replay(st, n, ids);
  else if (st->soft_stopped || st->diverged || st->oracle_stopped)
    idx = round_robin(n, ids, st->last_task);
  else if (mode == LAB_MODE_GUIDED) {
    int g = st->steps < st->args->guide.n ? find(n, ids, st->args->guide.tasks[st->steps]) : -1;
    idx = g >= 0                          ? (uint32_t)g
          : st->args->guide.round_robin ? round_robin(n, ids, st->last_task)
                                        : keep_current(st, n, ids);
  } else if (st->cfg.strategy == ASX_LAB_PCT)
    idx = pct(st, n, ids);
  else
    idx = lab_rng_below(&st->rng, n);

  uint64_t id = ids[idx];
  if (id != st->last_task && st->last_task && find(n, ids, st->last_task) >= 0) st->preemptions++;
  st->consecutive = id == st->last_task ? st->consecutive + 1 : 1;
  st->last_task = id;
  lab_oracle_chosen(st, id);
  st->steps++;
  if (st->args->chosen_wanted) {
    if (st->nchosen == st->capchosen) {
      size_t cap = st->capchosen ? st->capchosen * 2 : 256;
      uint64_t *c = asx_realloc(st->alloc, st->chosen, cap * sizeof(*c));
      if (c) {
        st->chosen = c;
        st->capchosen = cap;
      } else {
        st->oom = true;
      }
    }
    if (st->nchosen < st->capchosen) st->chosen[st->nchosen++] = id;
  }
  asx_lab_record r = {.type = ASX_LAB_REC_SCHED, .a = n, .b = idx, .task = id};
  lab_emit(st, &r);
  if (st->diverged && mode == LAB_MODE_REPLAY) st->shutdown = 1; /* wind the run down */
  return idx;
}

int lab_sched_init(lab_state *st) {
  st->rng = st->cfg.seed ^ 0x6c61622d73636865ull;
  if (st->cfg.strategy == ASX_LAB_PCT && st->args->mode == LAB_MODE_RECORD) {
    uint64_t k = st->cfg.pct_steps ? st->cfg.pct_steps : 1000;
    uint32_t d = st->cfg.pct_depth ? st->cfg.pct_depth : 1;
    st->ncps = d - 1 < 16 ? d - 1 : 16;
    for (size_t i = 0; i < st->ncps; i++) st->cps[i] = 1 + lab_rng_next(&st->rng) % k;
    for (size_t i = 1; i < st->ncps; i++) /* insertion sort: at most 16 */
      for (size_t j = i; j > 0 && st->cps[j - 1] > st->cps[j]; j--) {
        uint64_t x = st->cps[j];
        st->cps[j] = st->cps[j - 1];
        st->cps[j - 1] = x;
      }
  }
  return 0;
}

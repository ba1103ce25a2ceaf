/* Time and combinators: sleep, race (losers cancelled AND drained before it returns) and timeout
 * (a race with a timer). Both combinators run their children in a private region whose outcome is
 * consumed by the combinator rather than folded into the caller's region. */
#include "rt_internal.h"

int asx_sleep_until(asx_cx *cx, uint64_t when) {
  asx_task *t = cx->task;
  for (;;) {
    int err = rt_wait(t, when);
    if (err == ASX_ETIMEDOUT) return 0;
    if (err) return err;
    if (rt_now(t->rt) >= when) return 0;
  }
}

int asx_sleep(asx_cx *cx, uint64_t ns) {
  if (ns == 0) return asx_checkpoint(cx);
  uint64_t now = asx_now(cx);
  uint64_t when = ns > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + ns;
  return asx_sleep_until(cx, when);
}

/* Shared by the racing children and the task waiting for the first of them. */
typedef struct race_state {
  _Atomic size_t winner; /* SIZE_MAX until someone finishes */
  int winner_rc;
  asx_task *waiter;
} race_state;

typedef struct race_child {
  race_state *st;
  size_t index;
  asx_task_fn fn;
  void *arg;
} race_child;

static int race_child_main(asx_cx *cx, void *arg) {
  race_child *c = arg;
  int rc = c->fn(cx, c->arg);
  size_t none = SIZE_MAX;
  if (atomic_compare_exchange_strong(&c->st->winner, &none, c->index)) {
    c->st->winner_rc = rc;
    /* The waiter cannot be gone: it closes the region (waiting for us) before it returns. */
    rt_wake(c->st->waiter, cx->task->worker);
  }
  return rc;
}

/* Waits until a child has won, every child has ended without winning (they all panicked:
 * ASX_EPANIC), `until` passes or the caller observes cancellation. The waiter registers as the
 * region's closer meanwhile, so the last child to end wakes it even if it never reached the
 * winner check. */
static int wait_winner(asx_task *self, race_state *st, asx_region *r, uint64_t until) {
  asx_runtime *rt = self->rt;
  for (;;) {
    if (atomic_load(&st->winner) != SIZE_MAX) return 0;
    pthread_mutex_lock(&rt->tree_lock);
    bool empty = r->ntasks == 0 && r->nchildren == 0;
    if (!empty) r->closer = self;
    pthread_mutex_unlock(&rt->tree_lock);
    if (empty) return atomic_load(&st->winner) != SIZE_MAX ? 0 : ASX_EPANIC;
    int err = rt_wait(self, until);
    pthread_mutex_lock(&rt->tree_lock);
    r->closer = NULL;
    pthread_mutex_unlock(&rt->tree_lock);
    if (atomic_load(&st->winner) != SIZE_MAX) return 0;
    if (err) return err;
  }
}

int asx_race(asx_cx *cx, size_t n, const asx_task_fn *fns, void *const *args, size_t *winner,
             int *winner_rc) {
  if (!cx || n == 0 || !fns) return ASX_EINVAL;
  asx_task *self = cx->task;
  asx_runtime *rt = self->rt;
  race_child *kids = asx_calloc(rt->alloc, n, sizeof(*kids));
  if (!kids) return ASX_ENOMEM;
  race_state st = {.winner_rc = 0, .waiter = self};
  atomic_init(&st.winner, SIZE_MAX);
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "race";
  ro.propagate_outcome = false;
  asx_region *r;
  int err = asx_region_open(cx, &ro, &r);
  if (err) {
    asx_free(rt->alloc, kids);
    return err;
  }
  for (size_t i = 0; i < n && !err; i++) {
    kids[i] = (race_child){&st, i, fns[i], args ? args[i] : NULL};
    asx_spawn_opts so = asx_spawn_opts_default();
    so.name = "race-child";
    err = asx_spawn(cx, r, race_child_main, &kids[i], &so, NULL);
  }
  if (!err) err = wait_winner(self, &st, r, ASX_UNLIMITED);
  /* Losers (and everything, on error) are cancelled, then drained by the close. */
  asx_region_cancel(r, ASX_CANCEL_RACE_LOST);
  asx_region_close(cx, r, NULL);
  asx_free(rt->alloc, kids);
  size_t w = atomic_load(&st.winner);
  if (w == SIZE_MAX) return err ? err : ASX_ECANCELED;
  if (winner) *winner = w;
  if (winner_rc) *winner_rc = st.winner_rc;
  return 0;
}

int asx_timeout(asx_cx *cx, uint64_t ns, asx_task_fn fn, void *arg) {
  if (!cx || !fn) return ASX_EINVAL;
  asx_task *self = cx->task;
  race_state st = {.winner_rc = 0, .waiter = self};
  atomic_init(&st.winner, SIZE_MAX);
  race_child kid = {&st, 0, fn, arg};
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "timeout";
  ro.propagate_outcome = false;
  asx_region *r;
  int err = asx_region_open(cx, &ro, &r);
  if (err) return err;
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = "timeout-body";
  err = asx_spawn(cx, r, race_child_main, &kid, &so, NULL);
  uint64_t now = asx_now(cx);
  uint64_t until = ns > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + ns;
  if (!err) err = wait_winner(self, &st, r, until);
  /* The timer (or our own cancellation, or a failure) and the body race for st.winner, and we
   * claim it BEFORE cancelling the body: so a body that ends by reacting to that cancel, whatever
   * it returns, finds the race already decided and cannot pass its reaction off as a result.
   * Only a body that finished before the claim (in the same instant as the timer) keeps its
   * result, because its effect happened. */
  size_t none = SIZE_MAX;
  bool body_won = !err || !atomic_compare_exchange_strong(&st.winner, &none, kid.index + 1);
  if (!body_won)
    asx_region_cancel(r, err == ASX_ETIMEDOUT ? ASX_CANCEL_TIMEOUT : ASX_CANCEL_PARENT);
  asx_region_close(cx, r, NULL); /* drains the body; its winner_rc is written by then */
  return body_won ? st.winner_rc : err;
}

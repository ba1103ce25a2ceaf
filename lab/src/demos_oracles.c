/* Demo scenarios for the lost-wakeup (starvation) and futurelock oracles: each plants the bug the
 * oracle is for. Both programs end normally on their own; only the oracle sees the problem. */
#include "asx/lab.h"
#include "demos_internal.h"

/* ---- busy_wait: two pollers keep handing a token back and forth while polling a flag ----
 * The flag is set by a third task. The pollers never block for long (each waits only for the
 * other's token), so they take turns and are always ready; under strict priorities (PCT) both
 * outrank the setter whenever its priority is the lowest: it stays ready and is never chosen (it
 * is starved) until the pollers give up after 3000 rounds. The planted bug is polling instead of
 * blocking on the event (a oneshot or a channel would let the setter run at once). */
typedef struct busy {
  int flag;
  asx_chan *ab, *ba;
} busy;

static int bw_poller_a(asx_cx *cx, void *arg) {
  busy *b = arg;
  int err = 0, v = 0;
  for (int i = 0; i < 3000 && !b->flag && !err; i++) { /* the planted bug: polling */
    err = asx_chan_send(cx, b->ab, &i);
    if (!err) err = asx_chan_recv(cx, b->ba, &v);
  }
  asx_chan_close(b->ab); /* tells poller-b to stop */
  return err;
}

static int bw_poller_b(asx_cx *cx, void *arg) {
  busy *b = arg;
  for (;;) {
    int v;
    int err = asx_chan_recv(cx, b->ab, &v);
    if (err) return err == ASX_ECLOSED ? 0 : err;
    if ((err = asx_chan_send(cx, b->ba, &v))) return err;
  }
}

static int bw_setter(asx_cx *cx, void *arg) {
  busy *b = arg;
  int err = asx_yield(cx); /* prepares the value */
  if (err) return err;
  b->flag = 1;
  return 0;
}

static int scenario_busy_wait(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  busy b = {0, NULL, NULL};
  int err = asx_chan_new(NULL, sizeof(int), 1, &b.ab);
  if (err) return err;
  if ((err = asx_chan_new(NULL, sizeof(int), 1, &b.ba))) {
    asx_chan_free(b.ab);
    return err;
  }
  asx_task_fn fns[] = {bw_poller_a, bw_poller_b, bw_setter};
  void *args[] = {&b, &b, &b};
  const char *names[] = {"poller-a", "poller-b", "setter"};
  err = lab_demo_run_region(cx, 3, fns, args, names);
  int v;
  while (asx_chan_try_recv(b.ab, &v) == 0) {
  }
  while (asx_chan_try_recv(b.ba, &v) == 0) {
  }
  asx_chan_free(b.ab);
  asx_chan_free(b.ba);
  return err;
}

/* ---- futurelock: a task holds a mutex while it waits for an event that needs the mutex ----
 * "holder" locks the mutex and then waits for a message from "notifier", which must take the
 * same mutex before it sends. When the holder wins the lock first, both are stuck; a busy
 * "ticker" keeps the program progressing (so this is not a deadlock yet) and after 2000 ticks
 * closes the event channel, which releases everyone: the run ends fine, late. The futurelock
 * oracle reports the holder (mutex held, not run for N steps while the ticker ran). */
typedef struct flock {
  asx_mutex *m;
  asx_chan *event;
} flock;

static int fl_holder(asx_cx *cx, void *arg) {
  flock *f = arg;
  int err = asx_mutex_lock(cx, f->m);
  if (err) return err;
  int v;
  err = asx_chan_recv(cx, f->event, &v); /* the planted bug: waits while holding the lock */
  asx_mutex_unlock(f->m);
  return err == ASX_ECLOSED ? 0 : err;
}

static int fl_notifier(asx_cx *cx, void *arg) {
  flock *f = arg;
  int err = asx_yield(cx);
  if (!err) err = asx_mutex_lock(cx, f->m);
  if (err) return err;
  int v = 1;
  err = asx_chan_send(cx, f->event, &v);
  asx_mutex_unlock(f->m);
  return err == ASX_ECLOSED ? 0 : err;
}

static int fl_ticker(asx_cx *cx, void *arg) {
  flock *f = arg;
  for (int i = 0; i < 2000; i++)
    if (asx_yield(cx)) break;
  asx_chan_close(f->event); /* a supervisor's timeout, in steps */
  return 0;
}

static int scenario_futurelock(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  flock f;
  int err = asx_mutex_new(NULL, &f.m);
  if (err) return err;
  if ((err = asx_chan_new(NULL, sizeof(int), 1, &f.event))) {
    asx_mutex_free(f.m);
    return err;
  }
  asx_task_fn fns[] = {fl_holder, fl_notifier, fl_ticker};
  void *args[] = {&f, &f, &f};
  const char *names[] = {"holder", "notifier", "ticker"};
  err = lab_demo_run_region(cx, 3, fns, args, names);
  int v;
  while (asx_chan_try_recv(f.event, &v) == 0) {
  }
  asx_chan_free(f.event);
  asx_mutex_free(f.m);
  return err;
}

int lab_register_oracle_demos(void) {
  int err = asx_lab_register("busy_wait", scenario_busy_wait,
                             "planted bug: two pollers spin on a flag a third task sets (lost_wakeup "
                             "oracle under pct)");
  if (err && err != ASX_EEXIST) return err;
  err = asx_lab_register("futurelock", scenario_futurelock,
                         "planted bug: a mutex held while waiting for an event that needs it "
                         "(futurelock oracle)");
  return err == ASX_EEXIST ? 0 : err;
}

/* Built-in demo scenarios for `asx-lab`: one clean program that exercises every primitive, a
 * ping-pong for throughput, and three planted bugs (a lost update, an obligation leaked on one
 * path, a lock-order deadlock). Each bug needs a particular interleaving, which is what the lab
 * is for. */
#include <stdio.h>

#include "asx/lab.h"
#include "demos_internal.h"

#define MS 1000000ull

/* Runs fns[i](args[i]) in a fresh region and closes it (close implies quiescence). */
int lab_demo_run_region(asx_cx *cx, size_t n, asx_task_fn const *fns, void *const *args,
                        const char *const *names) {
  asx_region *r;
  int err = asx_region_open(cx, NULL, &r);
  if (err) return err;
  for (size_t i = 0; i < n && !err; i++) {
    asx_spawn_opts o = asx_spawn_opts_default();
    o.name = names[i];
    err = asx_spawn(cx, r, fns[i], args[i], &o, NULL);
  }
  int cerr = asx_region_close(cx, r, NULL);
  return err ? err : cerr;
}

/* ---- lost_update: read, yield, write ---- */
typedef struct lost_update {
  int counter;
  int done;
} lost_update;

static int lu_worker(asx_cx *cx, void *arg) {
  lost_update *s = arg;
  for (int i = 0; i < 3; i++) {
    int v = s->counter;
    int err = asx_yield(cx); /* the planted bug: another task may write in between */
    if (err) return err;
    s->counter = v + 1;
  }
  s->done++;
  return 0;
}

/* Polls the shared state until the workers are done (a heartbeat: schedule-dependent work). */
static int lu_monitor(asx_cx *cx, void *arg) {
  lost_update *s = arg;
  while (s->done < 2) {
    asx_trace_user(cx, "monitor.counter", (uint64_t)s->counter);
    if (asx_yield(cx)) return ASX_ECANCELED;
  }
  return 0;
}

static int scenario_lost_update(asx_cx *cx, asx_lab_ctx *lab) {
  lost_update s = {0, 0};
  asx_task_fn fns[] = {lu_worker, lu_worker, lu_monitor};
  void *args[] = {&s, &s, &s};
  const char *names[] = {"worker-a", "worker-b", "monitor"};
  int err = lab_demo_run_region(cx, 3, fns, args, names);
  if (s.counter != 6) {
    char msg[96];
    snprintf(msg, sizeof msg, "counter is %d after 6 increments", s.counter);
    asx_lab_fail(lab, cx, "lost_update", msg);
  }
  return err;
}

/* ---- oblig_leak: an early return that forgets the reserved reply ---- */
typedef struct oblig_leak {
  asx_chan *ch;
  int done;
} oblig_leak;

static int ol_producer(asx_cx *cx, void *arg) {
  oblig_leak *s = arg;
  int req = 42;
  int err = asx_chan_send(cx, s->ch, &req);
  s->done++;
  return err;
}

static int ol_consumer(asx_cx *cx, void *arg) {
  oblig_leak *s = arg;
  asx_obligation *reply;
  int err = asx_obligation_reserve(cx, "reply", &reply);
  if (err) return err;
  if ((err = asx_yield(cx))) {
    asx_obligation_abort(reply);
    return err;
  }
  int req;
  if (asx_chan_try_recv(s->ch, &req) != 0) {
    s->done++;
    return 0; /* the planted bug: the reply obligation is neither committed nor aborted */
  }
  asx_trace_user(cx, "consumer.request", (uint64_t)req);
  asx_obligation_commit(reply);
  s->done++;
  return 0;
}

static int ol_monitor(asx_cx *cx, void *arg) {
  oblig_leak *s = arg;
  while (s->done < 2)
    if (asx_yield(cx)) return ASX_ECANCELED;
  return 0;
}

static int scenario_oblig_leak(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  oblig_leak s = {NULL, 0};
  int err = asx_chan_new(NULL, sizeof(int), 1, &s.ch);
  if (err) return err;
  asx_task_fn fns[] = {ol_producer, ol_consumer, ol_monitor};
  void *args[] = {&s, &s, &s};
  const char *names[] = {"producer", "consumer", "monitor"};
  err = lab_demo_run_region(cx, 3, fns, args, names);
  int req;
  while (asx_chan_try_recv(s.ch, &req) == 0) {
  }
  asx_chan_free(s.ch);
  return err;
}

/* ---- deadlock: two locks taken in opposite orders ---- */
typedef struct two_locks {
  asx_mutex *first, *second;
  const char *first_name, *second_name;
} two_locks;

static int dl_worker(asx_cx *cx, void *arg) {
  two_locks *l = arg;
  asx_trace_user(cx, l->first_name, 0);
  int err = asx_mutex_lock(cx, l->first);
  if (err) return err;
  if ((err = asx_yield(cx)) == 0) {
    asx_trace_user(cx, l->second_name, 0); /* names the lock in the report (wait sites give the line) */
    err = asx_mutex_lock(cx, l->second);
    if (err == 0) asx_mutex_unlock(l->second);
  }
  asx_mutex_unlock(l->first);
  return err;
}

static int scenario_deadlock(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  asx_mutex *m1, *m2;
  int err = asx_mutex_new(NULL, &m1);
  if (err) return err;
  if ((err = asx_mutex_new(NULL, &m2))) {
    asx_mutex_free(m1);
    return err;
  }
  two_locks a = {m1, m2, "lock m1", "lock m2"}, b = {m2, m1, "lock m2", "lock m1"};
  asx_task_fn fns[] = {dl_worker, dl_worker};
  void *args[] = {&a, &b};
  const char *names[] = {"locker-a", "locker-b"};
  err = lab_demo_run_region(cx, 2, fns, args, names);
  asx_mutex_free(m1);
  asx_mutex_free(m2);
  return err;
}

/* ---- order_violation: a user assumes the initializer ran first (PCT finds it, random hardly) ----
 * The bug shows only when the initializer is starved for the user's 20 steps: probability 2^-20
 * per run under uniform choice, about 1/2 under PCT (the user simply gets the higher priority). */
typedef struct order {
  int ready;
} order;

static int ov_initializer(asx_cx *cx, void *arg) {
  order *o = arg;
  int err = asx_yield(cx); /* e.g. reading a config file */
  if (err) return err;
  o->ready = 1;
  return 0;
}

typedef struct ov_user_arg {
  order *o;
  asx_lab_ctx *lab;
} ov_user_arg;

static int ov_user(asx_cx *cx, void *arg) {
  ov_user_arg *u = arg;
  for (int i = 0; i < 20; i++)
    if (asx_yield(cx)) return ASX_ECANCELED; /* its own set-up work */
  if (!u->o->ready) asx_lab_fail(u->lab, cx, "use_before_init", "used the configuration before it was set");
  return 0;
}

static int scenario_order_violation(asx_cx *cx, asx_lab_ctx *lab) {
  order o = {0};
  ov_user_arg u = {&o, lab};
  asx_task_fn fns[] = {ov_initializer, ov_user};
  void *args[] = {&o, &u};
  const char *names[] = {"initializer", "user"};
  return lab_demo_run_region(cx, 2, fns, args, names);
}

/* ---- clean: channels, mutex, obligations, timers, race, timeout; every oracle must pass ---- */
typedef struct clean {
  asx_chan *ch;
  asx_mutex *m;
  int counter;
  int received;
} clean;

static int cl_producer(asx_cx *cx, void *arg) {
  clean *s = arg;
  for (int i = 0; i < 5; i++) {
    asx_chan_permit p;
    int err = asx_chan_reserve(cx, s->ch, &p);
    if (err) return err;
    if (asx_random(cx) & 1) asx_yield(cx); /* holds the permit across a checkpoint */
    asx_chan_commit(&p, &i);
  }
  return 0;
}

static int cl_consumer(asx_cx *cx, void *arg) {
  clean *s = arg;
  for (int i = 0; i < 5; i++) {
    int v;
    int err = asx_chan_recv(cx, s->ch, &v);
    if (err) return err;
    asx_trace_user(cx, "consumer.got", (uint64_t)v);
    s->received++;
  }
  return 0;
}

static int cl_incrementer(asx_cx *cx, void *arg) {
  clean *s = arg;
  for (int i = 0; i < 3; i++) {
    int err = asx_mutex_lock(cx, s->m);
    if (err) return err;
    int v = s->counter;
    asx_yield(cx); /* safe: the lock is held */
    s->counter = v + 1;
    asx_mutex_unlock(s->m);
    if ((err = asx_sleep(cx, (asx_random(cx) % 3) * MS))) return err;
  }
  return 0;
}

static int cl_sleeper(asx_cx *cx, void *arg) {
  (void)arg;
  int err = asx_sleep(cx, (1 + asx_random(cx) % 5) * MS);
  return err ? err : 0;
}

static int cl_slow(asx_cx *cx, void *arg) {
  (void)arg;
  return asx_sleep(cx, 50 * MS);
}

static int scenario_clean(asx_cx *cx, asx_lab_ctx *lab) {
  clean s = {0};
  int err = asx_chan_new(NULL, sizeof(int), 2, &s.ch);
  if (err) return err;
  if ((err = asx_mutex_new(NULL, &s.m))) {
    asx_chan_free(s.ch);
    return err;
  }
  asx_task_fn fns[] = {cl_producer, cl_consumer, cl_incrementer, cl_incrementer};
  void *args[] = {&s, &s, &s, &s};
  const char *names[] = {"producer", "consumer", "inc-a", "inc-b"};
  err = lab_demo_run_region(cx, 4, fns, args, names);
  size_t winner = 0;
  asx_task_fn racers[] = {cl_sleeper, cl_sleeper, cl_sleeper};
  void *rargs[] = {NULL, NULL, NULL};
  if (!err) err = asx_race(cx, 3, racers, rargs, &winner, NULL);
  if (!err) {
    asx_trace_user(cx, "race.winner", winner);
    int terr = asx_timeout(cx, 2 * MS, cl_slow, NULL);
    /* The timer fires first, so ETIMEDOUT, even though the body ends by returning the
     * ECANCELED its sleep observed; ECANCELED only if we were cancelled ourselves (shutdown). */
    bool shut = terr == ASX_ECANCELED && asx_cancel_reason(cx) != ASX_CANCEL_NONE;
    if (terr != ASX_ETIMEDOUT && !shut)
      asx_lab_fail(lab, cx, "timeout", "asx_timeout did not time out");
  }
  if (s.counter != 6 || s.received != 5) asx_lab_fail(lab, cx, "clean.counts", "wrong totals");
  asx_mutex_free(s.m);
  asx_chan_free(s.ch);
  return err;
}

/* ---- pingpong: two tasks bounce a token over two channels ---- */
typedef struct pingpong {
  asx_chan *to_b, *to_a;
  int rounds;
} pingpong;

static int pp_a(asx_cx *cx, void *arg) {
  pingpong *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    int v = i, w;
    int err = asx_chan_send(cx, p->to_b, &v);
    if (!err) err = asx_chan_recv(cx, p->to_a, &w);
    if (err) return err;
  }
  return 0;
}

static int pp_b(asx_cx *cx, void *arg) {
  pingpong *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    int v;
    int err = asx_chan_recv(cx, p->to_b, &v);
    if (!err) err = asx_chan_send(cx, p->to_a, &v);
    if (err) return err;
  }
  return 0;
}

int asx_lab_demo_pingpong(asx_cx *cx, int rounds) {
  pingpong p = {NULL, NULL, rounds};
  int err = asx_chan_new(NULL, sizeof(int), 1, &p.to_b);
  if (err) return err;
  if ((err = asx_chan_new(NULL, sizeof(int), 1, &p.to_a))) {
    asx_chan_free(p.to_b);
    return err;
  }
  asx_task_fn fns[] = {pp_a, pp_b};
  void *args[] = {&p, &p};
  const char *names[] = {"ping", "pong"};
  err = lab_demo_run_region(cx, 2, fns, args, names);
  asx_chan_free(p.to_b);
  asx_chan_free(p.to_a);
  return err;
}

static int scenario_pingpong(asx_cx *cx, asx_lab_ctx *lab) {
  (void)lab;
  return asx_lab_demo_pingpong(cx, 1000);
}

int asx_lab_register_demos(void) {
  static const struct {
    const char *name;
    asx_lab_scenario_fn fn;
    const char *what;
  } demos[] = {
      {"clean", scenario_clean, "channels, mutex, obligations, timers, race, timeout: must pass"},
      {"pingpong", scenario_pingpong, "two tasks, 1000 round trips over two channels"},
      {"lost_update", scenario_lost_update, "planted bug: read, yield, write on a shared counter"},
      {"oblig_leak", scenario_oblig_leak, "planted bug: an early return leaks a reserved reply"},
      {"deadlock", scenario_deadlock, "planted bug: two mutexes locked in opposite orders"},
      {"order_violation", scenario_order_violation,
       "planted bug: uses a value before its initializer ran (needs a starved task: PCT finds it)"},
  };
  for (size_t i = 0; i < sizeof demos / sizeof demos[0]; i++) {
    int err = asx_lab_register(demos[i].name, demos[i].fn, demos[i].what);
    if (err && err != ASX_EEXIST) return err;
  }
  return lab_register_oracle_demos();
}

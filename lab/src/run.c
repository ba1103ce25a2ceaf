/* The run engine: one scenario on the deterministic driver with the lab's scheduler plugged in,
 * every runtime event turned into a trace record (and fed to the oracles), and, when replaying,
 * every record compared with the trace as it is produced so the first divergence is caught at
 * the step where it happens. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lab_state.h"

void asx_lab_config_default(asx_lab_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->strategy = ASX_LAB_RANDOM;
  cfg->pct_depth = 3;
  cfg->pct_steps = 0;
  cfg->max_steps = 1000000;
}

void lab_config_from_header(const asx_lab_trace_header *h, asx_lab_config *cfg) {
  asx_lab_config_default(cfg);
  cfg->scenario = h->scenario;
  cfg->seed = h->seed;
  cfg->strategy = h->strategy;
  cfg->pct_depth = h->pct_depth;
  cfg->pct_steps = h->pct_steps;
  cfg->max_steps = h->max_steps;
  cfg->poll_budget = h->poll_budget;
  cfg->lost_wakeup_steps = h->lost_wakeup_steps;
  cfg->futurelock_steps = h->futurelock_steps;
  cfg->check_every_step = h->check_every_step != 0;
  cfg->net_delay_ns = h->net_delay_ns;
  cfg->net_partial_permille = h->net_partial_permille;
  cfg->net_reset_permille = h->net_reset_permille;
}

static asx_slice str_slice(const char *s) {
  return (asx_slice){(const uint8_t *)(s ? s : ""), s ? strlen(s) : 0};
}

static void describe(const asx_lab_record *r, char *buf, size_t n) { asx_lab_record_format(r, buf, n); }

void lab_emit(lab_state *st, const asx_lab_record *r) {
  if (st->args->mode == LAB_MODE_REPLAY && !st->diverged) {
    const asx_lab_trace *t = st->args->replay;
    uint8_t mine[LAB_REC_MAX];
    size_t ml = lab_record_encode(r, mine), tl = 0;
    const uint8_t *theirs = st->rpos < asx_lab_trace_count(t) ? lab_trace_raw(t, st->rpos, &tl) : NULL;
    if (!theirs || tl != ml || memcmp(theirs, mine, ml) != 0) {
      st->diverged = true;
      asx_lab_divergence *d = st->args->div;
      if (d) {
        d->diverged = true;
        d->step = st->steps;
        d->record = st->rpos;
        asx_lab_record tr;
        if (theirs && asx_lab_trace_get(t, st->rpos, &tr) == 0)
          describe(&tr, d->expected, sizeof d->expected);
        else
          snprintf(d->expected, sizeof d->expected, "<end of trace>");
        describe(r, d->got, sizeof d->got);
      }
    }
    st->rpos++;
  }
  if (!st->write_err) st->write_err = asx_lab_trace_write(st->w, r);
}

/* The runtime's trace sink: one record per event (scheduling choices are written by lab_choose). */
static void sink(void *ud, const asx_trace_event *ev) {
  lab_state *st = ud;
  if (ev->type == ASX_TRACE_WAIT_SITE) { /* kept in memory; written only for blocked tasks */
    lab_oracle_event(st, ev);
    return;
  }
  if (ev->time_ns != st->now) { /* virtual time only moves by jumps to the next timer */
    st->now = ev->time_ns;
    asx_lab_record j = {.type = ASX_LAB_REC_TIME_JUMP, .a = st->now};
    lab_emit(st, &j);
  }
  asx_lab_record r;
  memset(&r, 0, sizeof r);
  r.task = ev->task_id;
  switch (ev->type) {
  case ASX_TRACE_TASK_SPAWN:
    r.type = ASX_LAB_REC_SPAWN;
    r.region = ev->region_id;
    r.text = str_slice(ev->name);
    break;
  case ASX_TRACE_TASK_END:
    r.type = ASX_LAB_REC_TASK_END;
    r.a = (uint64_t)ev->outcome;
    r.b = (uint64_t)ev->kind;
    r.code = ev->code;
    break;
  case ASX_TRACE_REGION_OPEN:
    r.type = ASX_LAB_REC_REGION_OPEN;
    r.region = ev->region_id;
    r.text = str_slice(ev->name);
    break;
  case ASX_TRACE_REGION_CLOSE:
    r.type = ASX_LAB_REC_REGION_CLOSE;
    r.task = 0;
    r.region = ev->region_id;
    r.a = (uint64_t)ev->outcome;
    break;
  case ASX_TRACE_CANCEL:
    r.type = ASX_LAB_REC_CANCEL;
    r.region = ev->region_id;
    r.a = (uint64_t)ev->kind;
    break;
  case ASX_TRACE_CLEANUP_OVERRUN:
    r.type = ASX_LAB_REC_CLEANUP_OVERRUN;
    r.a = (uint64_t)ev->kind;
    r.b = ev->value;
    break;
  case ASX_TRACE_OBLIGATION_LEAK:
    r.type = ASX_LAB_REC_OBLIGATION_LEAK;
    r.text = str_slice(ev->name);
    r.text2 = str_slice(ev->file);
    r.b = (uint64_t)(ev->line < 0 ? 0 : ev->line);
    break;
  case ASX_TRACE_PANIC:
    r.type = ASX_LAB_REC_PANIC;
    r.text = str_slice(ev->message);
    break;
  case ASX_TRACE_REGION_LEAK:
    r.type = ASX_LAB_REC_REGION_LEAK;
    r.region = ev->region_id;
    r.text = str_slice(ev->name);
    break;
  case ASX_TRACE_DEADLOCK:
    r.type = ASX_LAB_REC_DEADLOCK;
    r.a = ev->value;
    break;
  case ASX_TRACE_USER:
    r.type = ASX_LAB_REC_USER;
    r.a = ev->value;
    r.text = str_slice(ev->message);
    break;
  case ASX_TRACE_RANDOM:
    r.type = ASX_LAB_REC_RANDOM;
    r.a = ev->value;
    break;
  case ASX_TRACE_TIMER_FIRED:
    r.type = ASX_LAB_REC_TIMER_FIRE;
    break;
  default:
    return; /* SCHED_CHOICE: the lab writes its own */
  }
  lab_emit(st, &r);
  lab_oracle_event(st, ev);
}

void asx_lab_fail(asx_lab_ctx *lab, asx_cx *cx, const char *assertion, const char *message) {
  if (!lab || !cx) return;
  lab_state *st = lab->st;
  uint64_t id = asx_task_id(asx_cx_task(cx));
  asx_lab_record r = {.type = ASX_LAB_REC_VIOLATION, .task = id};
  r.text = str_slice(assertion);
  r.text2 = str_slice(message);
  lab_emit(st, &r);
  char key[128];
  snprintf(key, sizeof key, "scenario:%s", assertion ? assertion : "");
  lab_violation(st, ASX_LAB_ORACLE_SCENARIO, key, &id, 1, "scenario assertion \"%s\" failed: %s",
                assertion ? assertion : "", message ? message : "");
}

void asx_lab_net_event(asx_lab_ctx *lab, asx_lab_rec_type type, uint64_t stream, uint64_t value,
                       int64_t arg) {
  if (!lab || (type != ASX_LAB_REC_NET_DELIVER && type != ASX_LAB_REC_NET_FAULT)) return;
  asx_lab_record r = {.type = type, .a = stream, .b = value, .code = arg};
  lab_emit(lab->st, &r);
}

uint64_t asx_lab_seed(const asx_lab_ctx *lab) { return lab ? lab->st->cfg.seed : 0; }

asx_lab_net_faults asx_lab_faults(const asx_lab_ctx *lab) {
  asx_lab_net_faults f = {0, 0, 0};
  if (lab) {
    f.max_delay_ns = lab->st->cfg.net_delay_ns;
    f.partial_permille = lab->st->cfg.net_partial_permille;
    f.reset_permille = lab->st->cfg.net_reset_permille;
  }
  return f;
}

static int main_task(asx_cx *cx, void *arg) {
  lab_state *st = arg;
  return st->fn(cx, &st->ctx);
}

static void header_from_config(const asx_lab_config *c, lab_mode mode, asx_lab_trace_header *h) {
  memset(h, 0, sizeof(*h));
  h->version = ASX_LAB_TRACE_VERSION;
  h->seed = c->seed;
  h->strategy = mode == LAB_MODE_GUIDED ? ASX_LAB_GUIDED : c->strategy;
  h->pct_depth = c->pct_depth;
  h->pct_steps = c->pct_steps;
  h->max_steps = c->max_steps;
  h->poll_budget = c->poll_budget;
  h->lost_wakeup_steps = c->lost_wakeup_steps;
  h->futurelock_steps = c->futurelock_steps;
  h->check_every_step = c->check_every_step ? 1 : 0;
  h->net_delay_ns = c->net_delay_ns;
  h->net_partial_permille = c->net_partial_permille;
  h->net_reset_permille = c->net_reset_permille;
  snprintf(h->scenario, sizeof h->scenario, "%s", c->scenario);
}

int lab_run(lab_run_args *args) {
  asx_lab_verdict *v = args->v;
  memset(v, 0, sizeof(*v));
  if (args->div) memset(args->div, 0, sizeof(*args->div));
  args->trace = NULL;
  args->trace_len = 0;
  args->chosen = NULL;
  args->nchosen = 0;
  const asx_lab_config *c = args->cfg;
  if (!c->scenario || strlen(c->scenario) > ASX_LAB_NAME_MAX) return ASX_EINVAL;
  if (c->strategy > ASX_LAB_GUIDED || c->pct_depth > 17) return ASX_EINVAL;
  if (c->net_partial_permille > 1000 || c->net_reset_permille > 1000) return ASX_EINVAL;
  lab_state *st = asx_calloc(c->alloc, 1, sizeof(*st));
  if (!st) return ASX_ENOMEM;
  st->args = args;
  st->cfg = *c;
  st->alloc = c->alloc;
  st->v = v;
  st->ctx.st = st;
  if (st->cfg.strategy == ASX_LAB_PCT && !st->cfg.pct_steps) st->cfg.pct_steps = 1000;
  st->fn = asx_lab_find(c->scenario, NULL);
  int err = st->fn ? 0 : ASX_ENOTFOUND;
  asx_lab_trace_header h;
  header_from_config(&st->cfg, args->mode, &h);
  if (!err) err = asx_lab_trace_writer_new(c->alloc, &h, c->max_trace_bytes, &st->w);
  if (!err) err = lab_sched_init(st);
  asx_runtime *rt = NULL;
  asx_runtime_config rc;
  asx_runtime_config_default(&rc);
  if (!err) {
    rc.driver = ASX_DRIVER_DETERMINISTIC;
    rc.seed = c->seed;
    rc.alloc = c->alloc;
    rc.poll_budget = c->poll_budget;
    rc.stack_size = c->stack_size ? c->stack_size : 256 * 1024;
    rc.trace = sink;
    rc.trace_ud = st;
    rc.choose = lab_choose;
    rc.choose_ud = st;
    rc.shutdown_request = &st->shutdown;
    rc.max_steps = c->max_steps ? 2 * c->max_steps + 10000 : 0;
    rc.wait_sites = 1;
    err = asx_runtime_new(&rc, &rt);
    st->rt = rt;
  }
  if (!err) {
    int rc_main = 0;
    asx_outcome out = ASX_OUTCOME_OK;
    int run_err = asx_runtime_run(rt, main_task, st, &rc_main, &out);
    asx_runtime_stats_get(rt, &v->stats);
    v->run_error = run_err;
    v->main_rc = rc_main;
    v->outcome = out;
    if (run_err == ASX_ETIMEDOUT && rc.max_steps) { /* the driver abandoned the run */
      asx_lab_record h = {.type = ASX_LAB_REC_STEP_LIMIT, .a = st->steps, .b = 1};
      lab_emit(st, &h);
      lab_violation(st, ASX_LAB_ORACLE_STEP_LIMIT, "step_limit", NULL, 0,
                    "hard step limit reached after %llu steps: run abandoned (tasks ignore cancellation)",
                    (unsigned long long)st->steps);
    }
    asx_lab_record r = {.type = ASX_LAB_REC_RUN_END, .code = rc_main, .a = st->steps, .b = (uint64_t)out,
                        .region = (uint64_t)(-(int64_t)run_err)};
    lab_emit(st, &r);
    if (args->mode == LAB_MODE_REPLAY && !st->diverged && st->rpos < asx_lab_trace_count(args->replay)) {
      /* The program finished but the trace goes on. */
      st->diverged = true;
      asx_lab_divergence *d = args->div;
      asx_lab_record tr;
      d->diverged = true;
      d->step = st->steps;
      d->record = st->rpos;
      if (asx_lab_trace_get(args->replay, st->rpos, &tr) == 0)
        asx_lab_record_format(&tr, d->expected, sizeof d->expected);
      snprintf(d->got, sizeof d->got, "<run ended>");
    }
    lab_oracle_finish(st, run_err);
    v->steps = st->steps;
    v->preemptions = st->preemptions;
    if (!st->write_err) st->write_err = asx_lab_trace_finish(st->w, v->digest);
    if (st->write_err) err = st->write_err;
    v->records = asx_lab_trace_records(st->w);
    size_t len;
    const uint8_t *bytes = asx_lab_trace_bytes(st->w, &len);
    v->trace_bytes = len;
    if (!err && args->keep_trace) {
      args->trace = asx_alloc(c->alloc, len);
      if (!args->trace) err = ASX_ENOMEM;
      else {
        memcpy(args->trace, bytes, len);
        args->trace_len = len;
      }
    }
  }
  if (rt) asx_runtime_free(rt);
  if (!err && args->chosen_wanted) {
    args->chosen = st->chosen;
    args->nchosen = st->nchosen;
    st->chosen = NULL;
  }
  asx_free(c->alloc, st->chosen);
  asx_free(c->alloc, st->prio);
  asx_free(c->alloc, st->objs);
  asx_lab_trace_writer_free(st->w);
  asx_free(c->alloc, st);
  return err;
}

int asx_lab_run(const asx_lab_config *cfg, asx_lab_verdict *v, uint8_t **trace, size_t *trace_len) {
  if (!cfg || !v || cfg->strategy == ASX_LAB_GUIDED) return ASX_EINVAL;
  lab_run_args a = {.mode = LAB_MODE_RECORD, .cfg = cfg, .v = v, .keep_trace = trace != NULL};
  int err = lab_run(&a);
  if (trace) *trace = a.trace;
  if (trace_len) *trace_len = a.trace_len;
  return err;
}

int asx_lab_replay(const asx_allocator *alloc, const uint8_t *trace, size_t len, asx_lab_verdict *v,
                   asx_lab_divergence *div, asx_lab_trace_error *terr) {
  asx_lab_trace *t;
  int err = asx_lab_trace_parse(alloc, trace, len, NULL, &t, terr);
  if (err) return err;
  asx_lab_config cfg;
  lab_config_from_header(asx_lab_trace_header_get(t), &cfg);
  cfg.alloc = alloc;
  asx_lab_verdict vv;
  asx_lab_divergence dd;
  lab_run_args a = {.mode = LAB_MODE_REPLAY, .cfg = &cfg, .replay = t, .v = v ? v : &vv,
                    .div = div ? div : &dd};
  err = lab_run(&a);
  if (!err) {
    uint8_t want[ASX_LAB_DIGEST_LEN];
    asx_lab_trace_digest(t, want);
    if (a.div->diverged || memcmp(want, a.v->digest, sizeof want) != 0) {
      if (!a.div->diverged) {
        a.div->diverged = true;
        snprintf(a.div->expected, sizeof a.div->expected, "final digest of the trace");
        snprintf(a.div->got, sizeof a.div->got, "a different final digest");
      }
      err = ASX_ESTATE;
    }
  }
  asx_lab_trace_free(t);
  return err;
}

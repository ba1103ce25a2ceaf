/* Trace records: the per-type field layout, encoding, decoding and the readable form used by
 * `asx-lab dump` and divergence reports. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lab_internal.h"

enum { F_TASK = 1, F_REGION = 2, F_A = 4, F_B = 8, F_CODE = 16, F_TEXT = 32, F_TEXT2 = 64 };

/* Which fields each type carries, in this order: task, region, a, b, code, text, text2. */
static const uint8_t field_mask[ASX_LAB_REC_TYPE_MAX + 1] = {
    [ASX_LAB_REC_SCHED] = F_A | F_B | F_TASK,
    [ASX_LAB_REC_TIME_JUMP] = F_A,
    [ASX_LAB_REC_TIMER_FIRE] = F_TASK,
    [ASX_LAB_REC_RANDOM] = F_TASK | F_A,
    [ASX_LAB_REC_USER] = F_TASK | F_A | F_TEXT,
    [ASX_LAB_REC_SPAWN] = F_TASK | F_REGION | F_TEXT,
    [ASX_LAB_REC_TASK_END] = F_TASK | F_A | F_B | F_CODE,
    [ASX_LAB_REC_REGION_OPEN] = F_TASK | F_REGION | F_TEXT,
    [ASX_LAB_REC_REGION_CLOSE] = F_REGION | F_A,
    [ASX_LAB_REC_CANCEL] = F_TASK | F_REGION | F_A,
    [ASX_LAB_REC_CLEANUP_OVERRUN] = F_TASK | F_A | F_B,
    [ASX_LAB_REC_OBLIGATION_LEAK] = F_TASK | F_B | F_TEXT | F_TEXT2,
    [ASX_LAB_REC_PANIC] = F_TASK | F_TEXT,
    [ASX_LAB_REC_REGION_LEAK] = F_TASK | F_REGION | F_TEXT,
    [ASX_LAB_REC_DEADLOCK] = F_A,
    [ASX_LAB_REC_STEP_LIMIT] = F_A | F_B,
    [ASX_LAB_REC_VIOLATION] = F_TASK | F_TEXT | F_TEXT2,
    [ASX_LAB_REC_NET_DELIVER] = F_A | F_B,
    [ASX_LAB_REC_NET_FAULT] = F_A | F_B | F_CODE,
    [ASX_LAB_REC_RUN_END] = F_REGION | F_A | F_B | F_CODE,
    [ASX_LAB_REC_WAIT_SITE] = F_TASK | F_B | F_TEXT | F_TEXT2,
    [ASX_LAB_REC_LOST_WAKEUP] = F_TASK | F_A,
    [ASX_LAB_REC_FUTURELOCK] = F_TASK | F_A | F_B | F_TEXT | F_TEXT2,
};

static const char *const type_names[ASX_LAB_REC_TYPE_MAX + 1] = {
    [ASX_LAB_REC_SCHED] = "sched",           [ASX_LAB_REC_TIME_JUMP] = "time_jump",
    [ASX_LAB_REC_TIMER_FIRE] = "timer_fire", [ASX_LAB_REC_RANDOM] = "random",
    [ASX_LAB_REC_USER] = "user",             [ASX_LAB_REC_SPAWN] = "spawn",
    [ASX_LAB_REC_TASK_END] = "task_end",     [ASX_LAB_REC_REGION_OPEN] = "region_open",
    [ASX_LAB_REC_REGION_CLOSE] = "region_close", [ASX_LAB_REC_CANCEL] = "cancel",
    [ASX_LAB_REC_CLEANUP_OVERRUN] = "cleanup_overrun",
    [ASX_LAB_REC_OBLIGATION_LEAK] = "obligation_leak", [ASX_LAB_REC_PANIC] = "panic",
    [ASX_LAB_REC_REGION_LEAK] = "region_leak", [ASX_LAB_REC_DEADLOCK] = "deadlock",
    [ASX_LAB_REC_STEP_LIMIT] = "step_limit",   [ASX_LAB_REC_VIOLATION] = "violation",
    [ASX_LAB_REC_NET_DELIVER] = "net_deliver", [ASX_LAB_REC_NET_FAULT] = "net_fault",
    [ASX_LAB_REC_RUN_END] = "run_end",         [ASX_LAB_REC_WAIT_SITE] = "wait_site",
    [ASX_LAB_REC_LOST_WAKEUP] = "lost_wakeup", [ASX_LAB_REC_FUTURELOCK] = "futurelock",
};

const char *asx_lab_rec_type_name(asx_lab_rec_type t) {
  if ((int)t <= 0 || t > ASX_LAB_REC_TYPE_MAX || !type_names[t]) return "?";
  return type_names[t];
}

static size_t put_str(uint8_t *p, asx_slice s) {
  size_t n = s.len > LAB_STR_CUT ? LAB_STR_CUT : s.len;
  size_t k = lab_put_varint(p, n);
  if (n) memcpy(p + k, s.ptr, n);
  return k + n;
}

size_t lab_record_encode(const asx_lab_record *r, uint8_t *p) {
  if ((int)r->type <= 0 || r->type > ASX_LAB_REC_TYPE_MAX) return 0;
  uint8_t m = field_mask[r->type];
  size_t n = 0;
  p[n++] = (uint8_t)r->type;
  if (m & F_TASK) n += lab_put_varint(p + n, r->task);
  if (m & F_REGION) n += lab_put_varint(p + n, r->region);
  if (m & F_A) n += lab_put_varint(p + n, r->a);
  if (m & F_B) n += lab_put_varint(p + n, r->b);
  if (m & F_CODE) n += lab_put_varint(p + n, lab_zigzag(r->code));
  if (m & F_TEXT) n += put_str(p + n, r->text);
  if (m & F_TEXT2) n += put_str(p + n, r->text2);
  return n;
}

static int get_str(const uint8_t *p, size_t len, size_t *pos, size_t max, asx_slice *s) {
  uint64_t n;
  int err = lab_get_varint(p, len, pos, &n);
  if (err) return err;
  if (n > max) return ASX_ELIMIT;
  if (n > len - *pos) return ASX_EPROTO;
  s->ptr = p + *pos;
  s->len = (size_t)n;
  *pos += (size_t)n;
  return 0;
}

/* Parses fields from p[0..len); *used = bytes consumed. */
static int parse(const uint8_t *p, size_t len, size_t max_string, asx_lab_record *r, size_t *used) {
  memset(r, 0, sizeof(*r));
  if (len == 0) return ASX_EPROTO;
  if (p[0] == 0 || p[0] > ASX_LAB_REC_TYPE_MAX || !field_mask[p[0]]) return ASX_EPROTO;
  r->type = (asx_lab_rec_type)p[0];
  uint8_t m = field_mask[p[0]];
  size_t pos = 1;
  int err = 0;
  uint64_t code = 0;
  if (!err && (m & F_TASK)) err = lab_get_varint(p, len, &pos, &r->task);
  if (!err && (m & F_REGION)) err = lab_get_varint(p, len, &pos, &r->region);
  if (!err && (m & F_A)) err = lab_get_varint(p, len, &pos, &r->a);
  if (!err && (m & F_B)) err = lab_get_varint(p, len, &pos, &r->b);
  if (!err && (m & F_CODE)) err = lab_get_varint(p, len, &pos, &code);
  if (!err && (m & F_TEXT)) err = get_str(p, len, &pos, max_string, &r->text);
  if (!err && (m & F_TEXT2)) err = get_str(p, len, &pos, max_string, &r->text2);
  if (err) return err;
  r->code = lab_unzigzag(code);
  *used = pos;
  return 0;
}

int lab_record_span(const uint8_t *p, size_t len, size_t max_string, size_t *span) {
  asx_lab_record r;
  return parse(p, len, max_string, &r, span);
}

int lab_record_decode(const uint8_t *p, size_t len, size_t max_string, asx_lab_record *r) {
  size_t used;
  int err = parse(p, len, max_string, r, &used);
  if (err) return err;
  return used == len ? 0 : ASX_EPROTO;
}

static const char *outcome_name(uint64_t o) { return o <= 3 ? asx_outcome_name((asx_outcome)o) : "?"; }
static const char *kind_name(uint64_t k) {
  return k < ASX_CANCEL_KIND_COUNT ? asx_cancel_kind_name((asx_cancel_kind)k) : "?";
}

int asx_lab_record_format(const asx_lab_record *r, char *buf, size_t n) {
  const char *tn = asx_lab_rec_type_name(r->type);
  int t1 = (int)(r->text.len > 200 ? 200 : r->text.len);
  int t2 = (int)(r->text2.len > 200 ? 200 : r->text2.len);
  const char *s1 = r->text.ptr ? (const char *)r->text.ptr : "";
  const char *s2 = r->text2.ptr ? (const char *)r->text2.ptr : "";
  switch (r->type) {
  case ASX_LAB_REC_SCHED:
    return snprintf(buf, n, "%-15s task %" PRIu64 " (index %" PRIu64 " of %" PRIu64 " ready)", tn,
                    r->task, r->b, r->a);
  case ASX_LAB_REC_TIME_JUMP: return snprintf(buf, n, "%-15s t=%" PRIu64 " ns", tn, r->a);
  case ASX_LAB_REC_TIMER_FIRE: return snprintf(buf, n, "%-15s wakes task %" PRIu64, tn, r->task);
  case ASX_LAB_REC_RANDOM:
    return snprintf(buf, n, "%-15s task %" PRIu64 " drew 0x%016" PRIx64, tn, r->task, r->a);
  case ASX_LAB_REC_USER:
    return snprintf(buf, n, "%-15s task %" PRIu64 " \"%.*s\" value %" PRIu64, tn, r->task, t1, s1, r->a);
  case ASX_LAB_REC_SPAWN:
    return snprintf(buf, n, "%-15s task %" PRIu64 " \"%.*s\" in region %" PRIu64, tn, r->task, t1, s1,
                    r->region);
  case ASX_LAB_REC_TASK_END:
    return snprintf(buf, n, "%-15s task %" PRIu64 " %s rc %" PRId64 " cancel %s", tn, r->task,
                    outcome_name(r->a), r->code, kind_name(r->b));
  case ASX_LAB_REC_REGION_OPEN:
    return snprintf(buf, n, "%-15s region %" PRIu64 " by task %" PRIu64 " \"%.*s\"", tn, r->region,
                    r->task, t1, s1);
  case ASX_LAB_REC_REGION_CLOSE:
    return snprintf(buf, n, "%-15s region %" PRIu64 " %s", tn, r->region, outcome_name(r->a));
  case ASX_LAB_REC_CANCEL:
    return snprintf(buf, n, "%-15s task %" PRIu64 " region %" PRIu64 " kind %s", tn, r->task,
                    r->region, kind_name(r->a));
  case ASX_LAB_REC_CLEANUP_OVERRUN:
    return snprintf(buf, n, "%-15s task %" PRIu64 " kind %s over by %" PRIu64 " ns", tn, r->task,
                    kind_name(r->a), r->b);
  case ASX_LAB_REC_OBLIGATION_LEAK:
    return snprintf(buf, n, "%-15s task %" PRIu64 " \"%.*s\" reserved at %.*s:%" PRIu64, tn, r->task,
                    t1, s1, t2, s2, r->b);
  case ASX_LAB_REC_PANIC:
    return snprintf(buf, n, "%-15s task %" PRIu64 " \"%.*s\"", tn, r->task, t1, s1);
  case ASX_LAB_REC_REGION_LEAK:
    return snprintf(buf, n, "%-15s task %" PRIu64 " left region %" PRIu64 " \"%.*s\" open", tn,
                    r->task, r->region, t1, s1);
  case ASX_LAB_REC_DEADLOCK: return snprintf(buf, n, "%-15s %" PRIu64 " live tasks", tn, r->a);
  case ASX_LAB_REC_STEP_LIMIT:
    return snprintf(buf, n, "%-15s after %" PRIu64 " steps (%s)", tn, r->a,
                    r->b ? "hard: run abandoned" : "soft: shutdown requested");
  case ASX_LAB_REC_VIOLATION:
    return snprintf(buf, n, "%-15s task %" PRIu64 " %.*s: %.*s", tn, r->task, t1, s1, t2, s2);
  case ASX_LAB_REC_NET_DELIVER:
    return snprintf(buf, n, "%-15s stream %" PRIu64 " %" PRIu64 " bytes", tn, r->a, r->b);
  case ASX_LAB_REC_NET_FAULT:
    return snprintf(buf, n, "%-15s stream %" PRIu64 " fault %" PRIu64 " arg %" PRId64, tn, r->a, r->b,
                    r->code);
  case ASX_LAB_REC_RUN_END:
    return snprintf(buf, n, "%-15s %" PRIu64 " steps, root %s, main rc %" PRId64 ", run error %" PRId64,
                    tn, r->a, outcome_name(r->b), r->code, -(int64_t)r->region);
  case ASX_LAB_REC_WAIT_SITE:
    if (!r->text2.len) return snprintf(buf, n, "%-15s task %" PRIu64 " waits in an unnoted call", tn, r->task);
    return snprintf(buf, n, "%-15s task %" PRIu64 " waits in %.*s at %.*s:%" PRIu64, tn, r->task, t1, s1,
                    t2, s2, r->b);
  case ASX_LAB_REC_LOST_WAKEUP:
    return snprintf(buf, n, "%-15s task %" PRIu64 " ready for %" PRIu64 " steps, never chosen", tn,
                    r->task, r->a);
  case ASX_LAB_REC_FUTURELOCK:
    return snprintf(buf, n, "%-15s task %" PRIu64 " holds \"%.*s\" (reserved at %.*s:%" PRIu64
                    "), idle %" PRIu64 " steps", tn, r->task, t1, s1, t2, s2, r->b, r->a);
  }
  return snprintf(buf, n, "? type %d", (int)r->type);
}

const char *asx_lab_strategy_name(asx_lab_strategy s) {
  switch (s) {
  case ASX_LAB_RANDOM: return "random";
  case ASX_LAB_PCT: return "pct";
  case ASX_LAB_GUIDED: return "guided";
  }
  return "?";
}

size_t lab_header_encode(const asx_lab_trace_header *h, uint8_t *p) {
  size_t n = 0;
  memcpy(p, LAB_MAGIC, LAB_MAGIC_LEN);
  n += LAB_MAGIC_LEN;
  n += lab_put_varint(p + n, h->version);
  n += lab_put_varint(p + n, h->seed);
  n += lab_put_varint(p + n, (uint64_t)h->strategy);
  n += lab_put_varint(p + n, h->pct_depth);
  n += lab_put_varint(p + n, h->pct_steps);
  n += lab_put_varint(p + n, h->max_steps);
  n += lab_put_varint(p + n, h->poll_budget);
  size_t sl = strnlen(h->scenario, ASX_LAB_NAME_MAX);
  n += lab_put_varint(p + n, sl);
  memcpy(p + n, h->scenario, sl);
  n += sl;
  if (h->version >= 2) {
    n += lab_put_varint(p + n, h->lost_wakeup_steps);
    n += lab_put_varint(p + n, h->futurelock_steps);
    n += lab_put_varint(p + n, h->check_every_step);
    n += lab_put_varint(p + n, h->net_delay_ns);
    n += lab_put_varint(p + n, h->net_partial_permille);
    n += lab_put_varint(p + n, h->net_reset_permille);
  }
  return n;
}

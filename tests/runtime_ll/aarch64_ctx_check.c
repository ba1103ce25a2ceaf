/* aarch64_ctx_check.c: standalone check of the aarch64 context switch in runtime/src/ll/ctx.c,
 * run under qemu-aarch64 by scripts/check-aarch64.sh (the Criterion suite test_ctx.c only ever runs
 * on the x86_64 build machine). It covers what test_ctx.c covers, in plain C so it links statically
 * with nothing but ctx.c: ping-pong order, many contexts round-robin, x19-x28 and d8-d15 preserved
 * across both switch kinds, the rounding mode (FPCR) kept per context, 16-byte stack alignment at
 * entry, deep recursion on a task stack, stack reuse after a final switch, a task migrating between
 * threads and the same-site switch mixed with the ordinary one. One PASS/FAIL line per check; exit
 * status 1 if any check failed.
 * Not part of the CMake build: it is aarch64-only (inline assembly). */
#if !defined(__aarch64__)
#error "aarch64_ctx_check.c is for aarch64 only (see scripts/check-aarch64.sh)"
#endif

#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ll/ctx.h"

#define STACK_SIZE (256u * 1024u)

static int failures;

static void report(const char *name, int ok, const char *detail) {
  printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, detail[0] ? ": " : "", detail);
  if (!ok) failures++;
}

static void *stack_alloc(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(100);
  }
  return p;
}

/* ---- ping-pong ------------------------------------------------------------------------------- */
struct pingpong {
  asx_ctx main, task;
  int rounds;
  int trace[64];
  int ntrace;
};

static void pingpong_entry(void *arg) {
  struct pingpong *pp = arg;
  for (int i = 0; i < pp->rounds; i++) {
    pp->trace[pp->ntrace++] = 1000 + i;
    asx_ctx_switch(&pp->task, &pp->main);
  }
  asx_ctx_switch_final(&pp->task, &pp->main);
}

static void check_ping_pong(void) {
  struct pingpong pp = {.rounds = 20};
  void *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init_thread(&pp.main);
  asx_ctx_init(&pp.task, stk, STACK_SIZE, pingpong_entry, &pp);
  for (int i = 0; i <= pp.rounds; i++) {
    asx_ctx_switch(&pp.main, &pp.task);
    if (i < pp.rounds) pp.trace[pp.ntrace++] = i;
  }
  int ok = pp.ntrace == 2 * pp.rounds;
  for (int i = 0; ok && i < pp.rounds; i++) ok = pp.trace[2 * i] == 1000 + i && pp.trace[2 * i + 1] == i;
  char msg[64];
  snprintf(msg, sizeof msg, "%d trace entries", pp.ntrace);
  report("ping_pong_alternates", ok, ok ? "" : msg);
  munmap(stk, STACK_SIZE);
}

/* ---- many contexts round-robin --------------------------------------------------------------- */
#define MANY 300
#define MANY_ROUNDS 10
#define MANY_STACK (64u * 1024u)
struct many {
  asx_ctx main;
  asx_ctx task[MANY];
  int seen[MANY];
  int order_ok;
  int last_id;
};
struct many_arg {
  struct many *m;
  int id;
};

static void many_entry(void *p) {
  struct many_arg *a = p;
  struct many *m = a->m;
  for (int r = 0; r < MANY_ROUNDS; r++) {
    int expect_prev = a->id == 0 ? (r == 0 ? -1 : MANY - 1) : a->id - 1;
    if (m->last_id != expect_prev) m->order_ok = 0;
    m->last_id = a->id;
    m->seen[a->id]++;
    asx_ctx_switch(&m->task[a->id], &m->main);
  }
  asx_ctx_switch_final(&m->task[a->id], &m->main);
}

static void check_many(void) {
  struct many *m = calloc(1, sizeof *m);
  struct many_arg *args = calloc(MANY, sizeof *args);
  char *stacks = stack_alloc((size_t)MANY * MANY_STACK);
  if (m == NULL || args == NULL) exit(100);
  m->order_ok = 1;
  m->last_id = -1;
  asx_ctx_init_thread(&m->main);
  for (int i = 0; i < MANY; i++) {
    args[i] = (struct many_arg){m, i};
    asx_ctx_init(&m->task[i], stacks + (size_t)i * MANY_STACK, MANY_STACK, many_entry, &args[i]);
  }
  for (int r = 0; r <= MANY_ROUNDS; r++)
    for (int i = 0; i < MANY; i++) asx_ctx_switch(&m->main, &m->task[i]);
  int ok = m->order_ok;
  for (int i = 0; i < MANY; i++) ok = ok && m->seen[i] == MANY_ROUNDS;
  report("many_contexts_round_robin", ok, ok ? "" : "wrong order or round count");
  munmap(stacks, (size_t)MANY * MANY_STACK);
  free(args);
  free(m);
}

/* ---- callee-saved registers ------------------------------------------------------------------ */
typedef void (*switch_fn)(asx_ctx *from, asx_ctx *to);

/* int regs_switch(asx_ctx *from, asx_ctx *to, uint64_t pattern, switch_fn sw): loads
 * pattern+1..pattern+10 into x19..x28 and pattern+11..pattern+18 into d8..d15, calls sw(from, to),
 * and returns how many of those 18 registers no longer hold their value when sw returns. The
 * function itself saves and restores all of them, as the ABI requires of it. */
int regs_switch(asx_ctx *from, asx_ctx *to, uint64_t pattern, switch_fn sw);
#define REG_CHECK_X(reg, k) "  add x9, x2, #" #k "\n  cmp " #reg ", x9\n  cinc w0, w0, ne\n"
#define REG_CHECK_D(reg, k) "  add x9, x2, #" #k "\n  fmov x10, " #reg "\n  cmp x10, x9\n  cinc w0, w0, ne\n"
#define REG_LOAD_D(reg, k) "  add x9, x2, #" #k "\n  fmov " #reg ", x9\n"
__asm__(".text\n"
        ".globl regs_switch\n"
        ".type regs_switch,%function\n"
        ".p2align 2\n"
        "regs_switch:\n"
        "  stp x29, x30, [sp, #-176]!\n"
        "  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n"
        "  stp x21, x22, [sp, #32]\n"
        "  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n"
        "  stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  str x2, [sp, #160]\n"
        "  add x19, x2, #1\n  add x20, x2, #2\n  add x21, x2, #3\n  add x22, x2, #4\n"
        "  add x23, x2, #5\n  add x24, x2, #6\n  add x25, x2, #7\n  add x26, x2, #8\n"
        "  add x27, x2, #9\n  add x28, x2, #10\n"
        REG_LOAD_D(d8, 11) REG_LOAD_D(d9, 12) REG_LOAD_D(d10, 13) REG_LOAD_D(d11, 14)
        REG_LOAD_D(d12, 15) REG_LOAD_D(d13, 16) REG_LOAD_D(d14, 17) REG_LOAD_D(d15, 18)
        "  blr x3\n"
        "  ldr x2, [sp, #160]\n"
        "  mov w0, #0\n"
        REG_CHECK_X(x19, 1) REG_CHECK_X(x20, 2) REG_CHECK_X(x21, 3) REG_CHECK_X(x22, 4)
        REG_CHECK_X(x23, 5) REG_CHECK_X(x24, 6) REG_CHECK_X(x25, 7) REG_CHECK_X(x26, 8)
        REG_CHECK_X(x27, 9) REG_CHECK_X(x28, 10)
        REG_CHECK_D(d8, 11) REG_CHECK_D(d9, 12) REG_CHECK_D(d10, 13) REG_CHECK_D(d11, 14)
        REG_CHECK_D(d12, 15) REG_CHECK_D(d13, 16) REG_CHECK_D(d14, 17) REG_CHECK_D(d15, 18)
        "  ldp x19, x20, [sp, #16]\n"
        "  ldp x21, x22, [sp, #32]\n"
        "  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n"
        "  ldp x27, x28, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n"
        "  ret\n"
        ".size regs_switch, .-regs_switch\n");

struct regs {
  asx_ctx main, task;
  switch_fn sw;
  int task_bad;
};

static void regs_entry(void *p) {
  struct regs *r = p;
  for (int i = 0; i < 5; i++)
    r->task_bad += regs_switch(&r->task, &r->main, 0x5a5a000000000000ull + (uint64_t)i * 32, r->sw);
  asx_ctx_switch_final(&r->task, &r->main);
}

static void check_regs(const char *name, switch_fn sw) {
  struct regs r = {.sw = sw};
  void *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init_thread(&r.main);
  asx_ctx_init(&r.task, stk, STACK_SIZE, regs_entry, &r);
  int main_bad = 0;
  for (int i = 0; i < 6; i++) main_bad += regs_switch(&r.main, &r.task, 0x1234000000000000ull + (uint64_t)i * 32, sw);
  char msg[96];
  snprintf(msg, sizeof msg, "scheduler side lost %d, task side lost %d register values", main_bad, r.task_bad);
  report(name, main_bad == 0 && r.task_bad == 0, main_bad == 0 && r.task_bad == 0 ? "" : msg);
  munmap(stk, STACK_SIZE);
}

/* ---- floating-point control state (FPCR rounding mode) --------------------------------------- */
struct fp {
  asx_ctx main, task;
  int task_round_ok;
  double acc;
};

static void fp_entry(void *p) {
  struct fp *f = p;
  fesetround(FE_UPWARD);
  volatile double x = 1.0;
  for (int i = 0; i < 4; i++) {
    asx_ctx_switch(&f->task, &f->main);
    if (fegetround() != FE_UPWARD) f->task_round_ok = 0;
    x = x * 1.5 + 0.25;
  }
  f->acc = x;
  asx_ctx_switch_final(&f->task, &f->main);
}

static void check_fp(void) {
  struct fp f = {.task_round_ok = 1};
  void *stk = stack_alloc(STACK_SIZE);
  fesetround(FE_TONEAREST);
  asx_ctx_init_thread(&f.main);
  asx_ctx_init(&f.task, stk, STACK_SIZE, fp_entry, &f);
  int main_ok = 1;
  for (int i = 0; i < 5; i++) {
    asx_ctx_switch(&f.main, &f.task);
    if (fegetround() != FE_TONEAREST) main_ok = 0;
    fesetround(FE_TONEAREST); /* keep the rest of the program sane even if the check failed */
  }
  double x = 1.0;
  for (int i = 0; i < 4; i++) x = x * 1.5 + 0.25;
  int ok = main_ok && f.task_round_ok && f.acc == x;
  report("floating_point_state_preserved", ok,
         ok ? "" : !main_ok ? "task's rounding mode leaked into the scheduler" : !f.task_round_ok ? "task's rounding mode was not restored" : "FP value lost");
  munmap(stk, STACK_SIZE);
}

/* ---- stack alignment at entry ---------------------------------------------------------------- */
struct align {
  asx_ctx main, task;
  uintptr_t frame, sp;
};

__attribute__((noinline)) static uintptr_t frame_of_callee(void) { return (uintptr_t)__builtin_frame_address(0); }

static void align_entry(void *p) {
  struct align *a = p;
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  a->sp = sp;
  a->frame = frame_of_callee();
  asx_ctx_switch_final(&a->task, &a->main);
}

static void check_align(void) {
  struct align a = {0};
  char *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init_thread(&a.main);
  asx_ctx_init(&a.task, stk, STACK_SIZE - 24, align_entry, &a); /* unaligned top: init must align */
  asx_ctx_switch(&a.main, &a.task);
  int ok = a.frame != 0 && a.frame % 16 == 0 && a.sp % 16 == 0 && a.frame > (uintptr_t)stk &&
           a.frame < (uintptr_t)stk + STACK_SIZE - 24 && a.sp > (uintptr_t)stk && a.sp < (uintptr_t)stk + STACK_SIZE - 24;
  char msg[96];
  snprintf(msg, sizeof msg, "sp %#lx, callee frame %#lx", (unsigned long)a.sp, (unsigned long)a.frame);
  report("entry_stack_is_abi_aligned", ok, ok ? "" : msg);
  munmap(stk, STACK_SIZE);
}

/* ---- deep recursion on a task stack, and stack reuse after a final switch -------------------- */
struct deep {
  asx_ctx main, task;
  uint64_t result;
  int depth;
};

__attribute__((noinline)) static uint64_t recurse(int n) {
  volatile unsigned char frame[512];
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (unsigned char)(n + (int)i);
  if (n == 0) return frame[7];
  uint64_t below = recurse(n - 1);
  return below + frame[n % 512];
}

static void deep_entry(void *p) {
  struct deep *d = p;
  d->result = recurse(d->depth);
  asx_ctx_switch_final(&d->task, &d->main);
}

static void check_deep(void) {
  const size_t size = 2u * 1024 * 1024;
  struct deep d = {.depth = 1500};
  void *stk = stack_alloc(size);
  asx_ctx_init_thread(&d.main);
  asx_ctx_init(&d.task, stk, size, deep_entry, &d);
  asx_ctx_switch(&d.main, &d.task);
  report("deep_recursion_on_task_stack", d.result == recurse(d.depth), "");
  munmap(stk, size);
}

static void check_reuse_after_final(void) {
  const size_t size = 2u * 1024 * 1024;
  void *stk = stack_alloc(size);
  int ok = 1;
  for (int round = 0; round < 3; round++) {
    struct deep d = {.depth = 300 + round * 200};
    asx_ctx_init_thread(&d.main);
    asx_ctx_init(&d.task, stk, size, deep_entry, &d);
    asx_ctx_switch(&d.main, &d.task);
    ok = ok && d.result == recurse(d.depth);
  }
  report("stack_reused_after_final_switch", ok, "");
  munmap(stk, size);
}

/* ---- a task that migrates between threads ---------------------------------------------------- */
struct migrate {
  asx_ctx task;
  asx_ctx *sched;
  pthread_t ran_on[3];
  int steps;
};

static void migrate_entry(void *p) {
  struct migrate *m = p;
  for (int i = 0; i < 3; i++) {
    m->ran_on[i] = pthread_self();
    m->steps++;
    if (i < 2) asx_ctx_switch(&m->task, m->sched);
  }
  asx_ctx_switch_final(&m->task, m->sched);
}

static void *migrate_thread(void *p) {
  struct migrate *m = p;
  asx_ctx sched;
  asx_ctx_init_thread(&sched);
  m->sched = &sched;
  asx_ctx_switch(&sched, &m->task);
  return NULL;
}

static void check_migrate(void) {
  struct migrate m = {0};
  void *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init(&m.task, stk, STACK_SIZE, migrate_entry, &m);
  pthread_t th[3];
  int ok = 1;
  for (int i = 0; i < 3; i++) {
    if (pthread_create(&th[i], NULL, migrate_thread, &m) != 0) exit(100);
    if (pthread_join(th[i], NULL) != 0) exit(100);
  }
  ok = m.steps == 3;
  for (int i = 0; ok && i < 3; i++) ok = pthread_equal(m.ran_on[i], th[i]);
  report("task_migrates_between_threads", ok, "");
  munmap(stk, STACK_SIZE);
}

/* ---- asx_ctx_switch_same_site mixed with asx_ctx_switch -------------------------------------- */
#define SAME_SITE_N 3
#define SAME_SITE_ROUNDS 50
struct same_site {
  asx_ctx main, task[SAME_SITE_N];
  int order[SAME_SITE_N * SAME_SITE_ROUNDS + 1];
  int n;
  int finished;
};

static struct same_site *same_site_of;

static void same_site_entry(void *arg) {
  int me = (int)(intptr_t)arg;
  struct same_site *s = same_site_of;
  for (int r = 0; r < SAME_SITE_ROUNDS; r++) {
    s->order[s->n++] = me;
    /* Tasks hand over to each other with the same-site switch; the last one returns to main with
     * the ordinary switch, so each kind resumes contexts saved by the other. */
    if (me + 1 < SAME_SITE_N)
      asx_ctx_switch_same_site(&s->task[me], &s->task[me + 1]);
    else
      asx_ctx_switch(&s->task[me], &s->main);
  }
  s->finished++;
  asx_ctx_switch_final(&s->task[me], &s->main);
}

static void check_same_site(void) {
  static struct same_site s;
  same_site_of = &s;
  void *stk[SAME_SITE_N];
  asx_ctx_init_thread(&s.main);
  for (int i = 0; i < SAME_SITE_N; i++) {
    stk[i] = stack_alloc(STACK_SIZE);
    asx_ctx_init(&s.task[i], stk[i], STACK_SIZE, same_site_entry, (void *)(intptr_t)i);
  }
  for (int r = 0; r < SAME_SITE_ROUNDS; r++) asx_ctx_switch_same_site(&s.main, &s.task[0]);
  int ok = s.n == SAME_SITE_N * SAME_SITE_ROUNDS;
  for (int i = 0; ok && i < s.n; i++) ok = s.order[i] == i % SAME_SITE_N;
  for (int i = 0; i < SAME_SITE_N; i++) asx_ctx_switch(&s.main, &s.task[i]); /* each reaches its final switch */
  ok = ok && s.finished == SAME_SITE_N;
  report("same_site_switch_mixes_with_ordinary_switch", ok, "");
  for (int i = 0; i < SAME_SITE_N; i++) munmap(stk[i], STACK_SIZE);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("impl %s\n", asx_ctx_impl_name());
  check_ping_pong();
  check_many();
  check_regs("callee_saved_registers_preserved(asx_ctx_switch)", asx_ctx_switch);
  check_regs("callee_saved_registers_preserved(asx_ctx_switch_same_site)", asx_ctx_switch_same_site);
  check_fp();
  check_align();
  check_deep();
  check_reuse_after_final();
  check_migrate();
  check_same_site();
  printf("%s: %d check(s) failed\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}

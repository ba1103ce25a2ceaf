/* Context switch: ping-pong, many contexts, callee-saved and floating-point state preserved,
 * ABI stack alignment at entry, deep recursion, stack reuse after a final switch, and a task that
 * migrates between threads. Built twice: hand-written switch and the ucontext fallback. */
#include <criterion/criterion.h>
#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ll/ctx.h"

TestSuite(ctx, .timeout = 60);

#define STACK_SIZE (256u * 1024u)

static void *stack_alloc(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(p != MAP_FAILED);
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
    pp->trace[pp->ntrace++] = 1000 + i; /* task side writes its step, then yields */
    asx_ctx_switch(&pp->task, &pp->main);
  }
  asx_ctx_switch_final(&pp->task, &pp->main);
}

Test(ctx, ping_pong_alternates) {
  struct pingpong pp = {.rounds = 20};
  void *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init_thread(&pp.main);
  asx_ctx_init(&pp.task, stk, STACK_SIZE, pingpong_entry, &pp);
  for (int i = 0; i <= pp.rounds; i++) {
    asx_ctx_switch(&pp.main, &pp.task);
    if (i < pp.rounds) pp.trace[pp.ntrace++] = i;
  }
  cr_assert_eq(pp.ntrace, 2 * pp.rounds);
  for (int i = 0; i < pp.rounds; i++) {
    cr_assert_eq(pp.trace[2 * i], 1000 + i);
    cr_assert_eq(pp.trace[2 * i + 1], i);
  }
  munmap(stk, STACK_SIZE);
}

/* ---- many contexts round-robin --------------------------------------------------------------- */
#define MANY 300
#define MANY_ROUNDS 10
struct many {
  asx_ctx main;
  asx_ctx task[MANY];
  int seen[MANY];     /* rounds each task has run */
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
    /* round-robin: the previous context to run was id-1 (or the last one of the previous round) */
    int expect_prev = a->id == 0 ? (r == 0 ? -1 : MANY - 1) : a->id - 1;
    if (m->last_id != expect_prev) m->order_ok = 0;
    m->last_id = a->id;
    m->seen[a->id]++;
    asx_ctx_switch(&m->task[a->id], &m->main);
  }
  asx_ctx_switch_final(&m->task[a->id], &m->main);
}

Test(ctx, many_contexts_round_robin) {
  struct many *m = calloc(1, sizeof *m);
  struct many_arg *args = calloc(MANY, sizeof *args);
  char *stacks = stack_alloc((size_t)MANY * 64 * 1024);
  m->order_ok = 1;
  m->last_id = -1;
  asx_ctx_init_thread(&m->main);
  for (int i = 0; i < MANY; i++) {
    args[i] = (struct many_arg){m, i};
    asx_ctx_init(&m->task[i], stacks + (size_t)i * 64 * 1024, 64 * 1024, many_entry, &args[i]);
  }
  for (int r = 0; r <= MANY_ROUNDS; r++)
    for (int i = 0; i < MANY; i++) asx_ctx_switch(&m->main, &m->task[i]);
  cr_assert(m->order_ok);
  for (int i = 0; i < MANY; i++) cr_assert_eq(m->seen[i], MANY_ROUNDS, "task %d ran %d rounds", i, m->seen[i]);
  munmap(stacks, (size_t)MANY * 64 * 1024);
  free(args);
  free(m);
}

/* ---- callee-saved registers ------------------------------------------------------------------ */
#if defined(__x86_64__)
/* int regs_switch(asx_ctx *from, asx_ctx *to, uint64_t pattern): loads pattern+1..pattern+6 into
 * rbx, rbp, r12..r15, switches, and returns how many of those six registers changed meanwhile. */
int regs_switch(asx_ctx *from, asx_ctx *to, uint64_t pattern);
__asm__(".text\n"
        ".globl regs_switch\n"
        ".type regs_switch,@function\n"
        "regs_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  movq %rdx, (%rsp)\n"
        "  leaq 1(%rdx), %rbx\n  leaq 2(%rdx), %rbp\n  leaq 3(%rdx), %r12\n"
        "  leaq 4(%rdx), %r13\n  leaq 5(%rdx), %r14\n  leaq 6(%rdx), %r15\n"
        "  call asx_ctx_switch@PLT\n"
        "  movq (%rsp), %rdx\n"
        "  xorl %eax, %eax\n"
        "  leaq 1(%rdx), %r8\n  xorl %r9d, %r9d\n  cmpq %r8, %rbx\n  setne %r9b\n  addl %r9d, %eax\n"
        "  leaq 2(%rdx), %r8\n  xorl %r9d, %r9d\n  cmpq %r8, %rbp\n  setne %r9b\n  addl %r9d, %eax\n"
        "  leaq 3(%rdx), %r8\n  xorl %r9d, %r9d\n  cmpq %r8, %r12\n  setne %r9b\n  addl %r9d, %eax\n"
        "  leaq 4(%rdx), %r8\n  xorl %r9d, %r9d\n  cmpq %r8, %r13\n  setne %r9b\n  addl %r9d, %eax\n"
        "  leaq 5(%rdx), %r8\n  xorl %r9d, %r9d\n  cmpq %r8, %r14\n  setne %r9b\n  addl %r9d, %eax\n"
        "  leaq 6(%rdx), %r8\n  xorl %r9d, %r9d\n  cmpq %r8, %r15\n  setne %r9b\n  addl %r9d, %eax\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size regs_switch, .-regs_switch\n");

struct regs {
  asx_ctx main, task;
  int task_bad;
};

static void regs_entry(void *p) {
  struct regs *r = p;
  for (int i = 0; i < 5; i++) r->task_bad += regs_switch(&r->task, &r->main, 0x5a5a000000000000ull + (uint64_t)i * 16);
  asx_ctx_switch_final(&r->task, &r->main);
}

Test(ctx, callee_saved_registers_preserved) {
  struct regs r = {0};
  void *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init_thread(&r.main);
  asx_ctx_init(&r.task, stk, STACK_SIZE, regs_entry, &r);
  int main_bad = 0;
  for (int i = 0; i < 6; i++) main_bad += regs_switch(&r.main, &r.task, 0x1234000000000000ull + (uint64_t)i * 16);
  cr_assert_eq(main_bad, 0, "scheduler side lost %d callee-saved registers", main_bad);
  cr_assert_eq(r.task_bad, 0, "task side lost %d callee-saved registers", r.task_bad);
  munmap(stk, STACK_SIZE);
}
#endif

/* ---- floating-point control state ------------------------------------------------------------ */
#if defined(__x86_64__)
static unsigned sse_rounding(void) {
  uint32_t mxcsr;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  return (mxcsr >> 13) & 3u;
}
static unsigned x87_rounding(void) {
  uint16_t cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  return (cw >> 10) & 3u;
}
#define FP_ROUND_CHECK(expect_up) (sse_rounding() == ((expect_up) ? 2u : 0u) && x87_rounding() == ((expect_up) ? 2u : 0u))
#else
#define FP_ROUND_CHECK(expect_up) (fegetround() == ((expect_up) ? FE_UPWARD : FE_TONEAREST))
#endif
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
    if (fegetround() != FE_UPWARD || !FP_ROUND_CHECK(1)) f->task_round_ok = 0;
    x = x * 1.5 + 0.25; /* live FP value across switches */
  }
  f->acc = x;
  asx_ctx_switch_final(&f->task, &f->main);
}

Test(ctx, floating_point_state_preserved) {
  struct fp f = {.task_round_ok = 1};
  void *stk = stack_alloc(STACK_SIZE);
  fesetround(FE_TONEAREST);
  asx_ctx_init_thread(&f.main);
  asx_ctx_init(&f.task, stk, STACK_SIZE, fp_entry, &f);
  for (int i = 0; i < 5; i++) {
    asx_ctx_switch(&f.main, &f.task);
    cr_assert_eq(fegetround(), FE_TONEAREST, "task's rounding mode leaked into the scheduler");
    cr_assert(FP_ROUND_CHECK(0), "task's SSE/x87 rounding control leaked into the scheduler");
  }
  cr_assert(f.task_round_ok, "task's rounding mode was not restored");
  double x = 1.0;
  for (int i = 0; i < 4; i++) x = x * 1.5 + 0.25;
  cr_assert_eq(f.acc, x);
  munmap(stk, STACK_SIZE);
}

/* ---- stack alignment at entry ---------------------------------------------------------------- */
struct align {
  asx_ctx main, task;
  uintptr_t frame;
};

__attribute__((noinline)) static uintptr_t frame_of_callee(void) { return (uintptr_t)__builtin_frame_address(0); }

static void align_entry(void *p) {
  struct align *a = p;
  a->frame = frame_of_callee();
  asx_ctx_switch_final(&a->task, &a->main);
}

Test(ctx, entry_stack_is_abi_aligned) {
  struct align a = {0};
  char *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init_thread(&a.main);
  /* An odd size: the top of the usable range is not aligned, init must align it. */
  asx_ctx_init(&a.task, stk, STACK_SIZE - 24, align_entry, &a);
  asx_ctx_switch(&a.main, &a.task);
  cr_assert_neq(a.frame, 0);
  cr_assert_eq(a.frame % 16, 0, "frame address %#lx not 16-byte aligned", (unsigned long)a.frame);
  cr_assert(a.frame > (uintptr_t)stk && a.frame < (uintptr_t)stk + STACK_SIZE);
  munmap(stk, STACK_SIZE);
}

/* ---- deep recursion within a task stack ------------------------------------------------------ */
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

Test(ctx, deep_recursion_on_task_stack) {
  const size_t size = 2u * 1024 * 1024;
  struct deep d = {.depth = 1500};
  void *stk = stack_alloc(size);
  asx_ctx_init_thread(&d.main);
  asx_ctx_init(&d.task, stk, size, deep_entry, &d);
  asx_ctx_switch(&d.main, &d.task);
  uint64_t expect = recurse(d.depth); /* same computation on the thread's own stack */
  cr_assert_eq(d.result, expect);
  munmap(stk, size);
}

/* ---- a stack reused after a final switch (ASan must not see stale redzones) ------------------- */
Test(ctx, stack_reused_after_final_switch) {
  const size_t size = 2u * 1024 * 1024;
  void *stk = stack_alloc(size);
  for (int round = 0; round < 3; round++) {
    struct deep d = {.depth = 300 + round * 200};
    asx_ctx_init_thread(&d.main);
    asx_ctx_init(&d.task, stk, size, deep_entry, &d);
    asx_ctx_switch(&d.main, &d.task);
    cr_assert_eq(d.result, recurse(d.depth));
  }
  munmap(stk, size);
}

/* ---- a task that migrates between threads ---------------------------------------------------- */
struct migrate {
  asx_ctx task;
  asx_ctx *sched; /* the scheduler context of whichever thread resumed the task last */
  pthread_t ran_on[3];
  int steps;
};

static void migrate_entry(void *p) {
  struct migrate *m = p;
  for (int i = 0; i < 3; i++) {
    m->ran_on[i] = pthread_self();
    m->steps++;
    if (i < 2) asx_ctx_switch(&m->task, m->sched); /* re-read m->sched: it changes between threads */
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

Test(ctx, task_migrates_between_threads) {
  struct migrate m = {0};
  void *stk = stack_alloc(STACK_SIZE);
  asx_ctx_init(&m.task, stk, STACK_SIZE, migrate_entry, &m);
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(pthread_create(&th[i], NULL, migrate_thread, &m), 0);
    cr_assert_eq(pthread_join(th[i], NULL), 0);
  }
  cr_assert_eq(m.steps, 3);
  for (int i = 0; i < 3; i++) cr_assert(pthread_equal(m.ran_on[i], th[i]), "step %d ran on the wrong thread", i);
  munmap(stk, STACK_SIZE);
}

Test(ctx, impl_name_matches_build) {
  const char *name = asx_ctx_impl_name();
#if ASX_CTX_USE_UCONTEXT
  cr_assert_str_eq(name, "ucontext");
#elif defined(__x86_64__)
  cr_assert_str_eq(name, "x86_64-asm");
#else
  cr_assert_str_eq(name, "aarch64-asm");
#endif
}

/* ---- the restore skips the control-word loads only when they match -------------------------- */
#if defined(__x86_64__)
static void set_x87_rounding_up_only(void) {
  uint16_t cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  cw = (uint16_t)((cw & ~0x0c00u) | 0x0800u); /* x87 round up; MXCSR untouched */
  __asm__ volatile("fldcw %0" : : "m"(cw));
}

struct fp_x87 {
  asx_ctx main, task;
  int ok;
};

static void fp_x87_entry(void *p) {
  struct fp_x87 *f = p;
  set_x87_rounding_up_only();
  for (int i = 0; i < 3; i++) {
    asx_ctx_switch(&f->task, &f->main);
    if (x87_rounding() != 2u || sse_rounding() != 0u) f->ok = 0;
  }
  asx_ctx_switch_final(&f->task, &f->main);
}

/* Only the x87 control word differs between the contexts (MXCSR equal, sticky flags set by a
 * division): the restore must still load it in both directions. */
Test(ctx, x87_control_word_alone_is_restored) {
  struct fp_x87 f = {.ok = 1};
  void *stk = stack_alloc(STACK_SIZE);
  fesetround(FE_TONEAREST);
  volatile double third = 1.0;
  third /= 3.0; /* sets MXCSR's inexact flag: status, must not matter */
  (void)third;
  asx_ctx_init_thread(&f.main);
  asx_ctx_init(&f.task, stk, STACK_SIZE, fp_x87_entry, &f);
  for (int i = 0; i < 4; i++) {
    asx_ctx_switch(&f.main, &f.task);
    cr_assert_eq(x87_rounding(), 0u, "task's x87 rounding leaked");
    cr_assert_eq(sse_rounding(), 0u);
  }
  cr_assert(f.ok, "task's x87 rounding was not restored");
  munmap(stk, STACK_SIZE);
}
#endif

/* ---- asx_ctx_switch_same_site: interchangeable with asx_ctx_switch ---------------------------- */
#define SAME_SITE_N 3
#define SAME_SITE_ROUNDS 50
struct same_site {
  asx_ctx main, task[SAME_SITE_N];
  int order[SAME_SITE_N * SAME_SITE_ROUNDS + 1];
  int n;
};

static struct same_site *same_site_of;

static void same_site_entry(void *arg) {
  int me = (int)(intptr_t)arg;
  struct same_site *s = same_site_of;
  for (int r = 0; r < SAME_SITE_ROUNDS; r++) {
    s->order[s->n++] = me;
    /* Tasks hand over to each other through the "same site" switch; the last one goes back to
     * main through the ordinary switch, so both kinds resume contexts saved by the other. */
    if (me + 1 < SAME_SITE_N)
      asx_ctx_switch_same_site(&s->task[me], &s->task[me + 1]);
    else
      asx_ctx_switch(&s->task[me], &s->main);
  }
  asx_ctx_switch_final(&s->task[me], &s->main);
}

Test(ctx, same_site_switch_mixes_with_ordinary_switch) {
  static struct same_site s;
  same_site_of = &s;
  void *stk[SAME_SITE_N];
  asx_ctx_init_thread(&s.main);
  for (int i = 0; i < SAME_SITE_N; i++) {
    stk[i] = stack_alloc(STACK_SIZE);
    asx_ctx_init(&s.task[i], stk[i], STACK_SIZE, same_site_entry, (void *)(intptr_t)i);
  }
  for (int r = 0; r < SAME_SITE_ROUNDS; r++) asx_ctx_switch_same_site(&s.main, &s.task[0]);
  cr_assert_eq(s.n, SAME_SITE_N * SAME_SITE_ROUNDS);
  for (int i = 0; i < s.n; i++) cr_assert_eq(s.order[i], i % SAME_SITE_N, "step %d", i);
  /* Let every task reach its final switch. */
  for (int i = 0; i < SAME_SITE_N; i++) asx_ctx_switch(&s.main, &s.task[i]);
  for (int i = 0; i < SAME_SITE_N; i++) munmap(stk[i], STACK_SIZE);
}

/* ll/ctx.c: the stackful context switch.
 *
 * x86_64 and aarch64 use a hand-written swap (top-level __asm__ below): it pushes the callee-saved
 * state of the System V / AAPCS64 ABI onto the current stack, stores the stack pointer into the
 * `from` context and pops the same layout from the `to` stack. Nothing else is saved: the swap is
 * an ordinary function call for the compiler, so caller-saved registers are already dead.
 * Other architectures (or -DASX_CTX_UCONTEXT) use ucontext, which costs a sigprocmask syscall.
 *
 * _FORTIFY_SOURCE is kept off: its longjmp checks reject stack switches, and this file must not
 * pick up any checked wrapper that inspects the current stack. */
#undef _FORTIFY_SOURCE

#include "ll/ctx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASX_CTX_ASAN 1
#endif
#endif
#if !defined(ASX_CTX_ASAN) && defined(__SANITIZE_ADDRESS__)
#define ASX_CTX_ASAN 1
#endif
#ifndef ASX_CTX_ASAN
#define ASX_CTX_ASAN 0
#endif

#if ASX_CTX_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Defined in C below, called from the assembly trampoline: hidden so the name stays stable and the
 * call needs no PLT. */
__attribute__((visibility("hidden"), noreturn, used)) void asx__ctx_first_entry(asx_ctx *self);

/* ---- ASan bookkeeping -------------------------------------------------------------------------
 * ASan must be told about every stack change (it keeps per-stack fake frames and needs the bounds
 * of the stack it is about to run on). A thread's own context starts with unknown bounds; they are
 * learned the first time that thread switches away (finish_switch_fiber reports the stack we came
 * from), which always happens before anything switches back to it. */
__attribute__((unused)) static inline void asan_before_switch(asx_ctx *from, asx_ctx *to, int final) {
#if ASX_CTX_ASAN
  to->resumed_by = from;
  __sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake_stack, to->stack_lo, to->stack_size);
#else
  (void)from;
  (void)to;
  (void)final;
#endif
}

__attribute__((unused)) static inline void asan_after_switch(asx_ctx *self, void *fake_stack) {
#if ASX_CTX_ASAN
  const void *prev_lo = NULL;
  size_t prev_size = 0;
  __sanitizer_finish_switch_fiber(fake_stack, &prev_lo, &prev_size);
  asx_ctx *prev = self->resumed_by;
  if (prev != NULL && prev->stack_lo == NULL) {
    prev->stack_lo = (void *)(uintptr_t)prev_lo;
    prev->stack_size = prev_size;
  }
#else
  (void)self;
  (void)fake_stack;
#endif
}

void asx__ctx_first_entry(asx_ctx *self) {
  asan_after_switch(self, NULL);
  self->entry(self->arg);
  /* entry() must end with asx_ctx_switch_final(); returning would run off the top of the stack. */
  abort();
}

#if !ASX_CTX_USE_UCONTEXT

/* asx__ctx_swap(void **save_sp, void *new_sp): save callee-saved state on the current stack, store
 * the stack pointer in *save_sp, switch to new_sp and restore the state found there. */
__attribute__((visibility("hidden"))) void asx__ctx_swap(void **save_sp, void *new_sp);
/* First "return address" of a new context: moves the context pointer (parked in a callee-saved
 * register by asx_ctx_init) into the first argument and calls asx__ctx_first_entry. */
__attribute__((visibility("hidden"))) extern char asx__ctx_trampoline[];

#if defined(__x86_64__)
/* Frame layout (low to high): [mxcsr:32 | x87 cw:16 | pad] r15 r14 r13 r12 rbx rbp ret.
 * MXCSR control bits and the x87 control word are callee-saved in the System V ABI.
 * The swap ends with pop + indirect jmp instead of ret: a ret would always be mispredicted (the
 * return-stack predictor expects the caller of *this* context), and on this machine that single
 * misprediction tripled the cost of a switch (measured: ~12 ns with ret, ~4 ns with jmp). The
 * ldmxcsr/fldcw pair is expensive (fldcw is microcoded; perf put ~a fifth of a spawn+join on it)
 * and the control words almost never differ between contexts, so the restore compares the target
 * frame's saved words with the ones just saved from the running thread (rax = the `from` frame)
 * and skips both loads when they match: still exact, since the thread already holds those values.
 * MXCSR's six sticky exception flags (bits 0-5) are status, not control, and caller-saved in the
 * ABI: they are ignored by the compare (any floating-point division in the program sets the
 * inexact flag, which would otherwise defeat the skip). The compares read back exactly the 4- and 2-byte stores just made, so store forwarding works (one
 * 8-byte load over both stores would stall on a forwarding failure). Incompatible with user-space CET shadow stacks (as is any
 * stack-switching ret); Linux does not enable them for a process unless it opts in. */
#define ASX_X86_SAVE                                                                                \
  "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"            \
  "  subq $8, %rsp\n"                                                                               \
  "  stmxcsr (%rsp)\n"                                                                              \
  "  fnstcw 4(%rsp)\n"                                                                              \
  "  movq %rsp, %rax\n"
#define ASX_X86_RESTORE_REGS                                                                        \
  "  movl (%rsp), %ecx\n"                                                                           \
  "  xorl (%rax), %ecx\n"                                                                           \
  "  testl $0xffffffc0, %ecx\n"                                                                     \
  "  jnz 2f\n"                                                                                      \
  "  movzwl 4(%rsp), %ecx\n"                                                                        \
  "  cmpw 4(%rax), %cx\n"                                                                           \
  "  je 1f\n"                                                                                       \
  "2:\n"                                                                                            \
  "  ldmxcsr (%rsp)\n"                                                                              \
  "  fldcw 4(%rsp)\n"                                                                               \
  "1:\n"                                                                                            \
  "  addq $8, %rsp\n"                                                                               \
  "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
#define ASX_X86_RESTORE                                                                             \
  ASX_X86_RESTORE_REGS                                                                              \
  "  popq %rdx\n"                                                                                   \
  "  jmpq *%rdx\n"

__asm__(".text\n"
        ".globl asx__ctx_swap\n"
        ".hidden asx__ctx_swap\n"
        ".type asx__ctx_swap,%function\n"
        ".p2align 4\n"
        "asx__ctx_swap:\n" /* (void **save_sp = rdi, void *new_sp = rsi) */
        ASX_X86_SAVE
        "  movq %rax, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        ASX_X86_RESTORE
        ".size asx__ctx_swap, .-asx__ctx_swap\n"
#if !ASX_CTX_ASAN
        /* Without ASan there is nothing to do around the swap, so the public entry points are the
         * swap itself: one call instead of two on the hot path. `from` is never resumed after a
         * final switch, so saving into it is harmless. */
        "\n"
        ".globl asx_ctx_switch\n"
        ".type asx_ctx_switch,%function\n"
        ".globl asx_ctx_switch_final\n"
        ".type asx_ctx_switch_final,%function\n"
        ".p2align 4\n"
        "asx_ctx_switch:\n" /* (asx_ctx *from = rdi, asx_ctx *to = rsi); sp is the first member */
        "asx_ctx_switch_final:\n"
        ASX_X86_SAVE
        "  movq %rax, (%rdi)\n"
        "  movq (%rsi), %rsp\n"
        ASX_X86_RESTORE
        ".size asx_ctx_switch, .-asx_ctx_switch\n"
        ".size asx_ctx_switch_final, .-asx_ctx_switch_final\n"
        "\n"
        ".globl asx_ctx_switch_same_site\n"
        ".type asx_ctx_switch_same_site,%function\n"
        ".p2align 4\n"
        "asx_ctx_switch_same_site:\n" /* ends with ret: see ctx.h */
        ASX_X86_SAVE
        "  movq %rax, (%rdi)\n"
        "  movq (%rsi), %rsp\n"
        ASX_X86_RESTORE_REGS
        "  ret\n"
        ".size asx_ctx_switch_same_site, .-asx_ctx_switch_same_site\n"
#endif
        "\n"
        ".globl asx__ctx_trampoline\n"
        ".hidden asx__ctx_trampoline\n"
        ".type asx__ctx_trampoline,%function\n"
        ".p2align 4\n"
        "asx__ctx_trampoline:\n"
        "  .cfi_startproc\n"
        "  .cfi_undefined rip\n" /* unwinders stop here: this is the bottom of a task's stack */
        "  movq %rbx, %rdi\n"
        "  call asx__ctx_first_entry\n"
        "  ud2\n"
        "  .cfi_endproc\n"
        ".size asx__ctx_trampoline, .-asx__ctx_trampoline\n");
#define ASX_CTX_SWITCH_IN_ASM (!ASX_CTX_ASAN)

enum { FRAME_WORDS = 10 }; /* fp control, r15..r12, rbx, rbp, ret, two zero words at the top */

static void build_initial_frame(asx_ctx *c, uintptr_t top) {
  uint32_t mxcsr;
  uint16_t x87cw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(x87cw));
  /* The trampoline starts with rsp = top - 16 (16-byte aligned), so its `call` enters
   * asx__ctx_first_entry with rsp % 16 == 8, exactly as the ABI requires at a function entry. */
  uint64_t *sp = (uint64_t *)(top - FRAME_WORDS * sizeof(uint64_t));
  memset(sp, 0, FRAME_WORDS * sizeof(uint64_t));
  sp[0] = (uint64_t)mxcsr | ((uint64_t)x87cw << 32);
  sp[5] = (uint64_t)(uintptr_t)c; /* rbx */
  sp[6] = 0;                      /* rbp: end of the frame-pointer chain */
  sp[7] = (uint64_t)(uintptr_t)asx__ctx_trampoline;
  c->sp = sp;
}

#elif defined(__aarch64__)
#define ASX_CTX_SWITCH_IN_ASM 0
/* Frame layout (low to high): x19..x28, x29 (fp), x30 (lr), d8..d15, fpcr, pad: 176 bytes,
 * 16-byte aligned. FPCR (rounding mode, flush-to-zero, default NaN) is per context, as MXCSR and
 * the x87 control word are on x86_64 and as glibc's ucontext keeps it: without it a task's
 * fesetround() leaked into the scheduler (found by scripts/check-aarch64.sh under qemu). FPSR holds
 * only sticky status flags and is not saved. `msr fpcr` can be slow (it may synchronise the FP
 * pipeline), and FPCR almost never differs between contexts, so the restore compares the target's
 * saved value with the one just read (x10) and writes only when they differ. */
__asm__(".text\n"
        ".globl asx__ctx_swap\n"
        ".hidden asx__ctx_swap\n"
        ".type asx__ctx_swap,%function\n"
        ".p2align 4\n"
        "asx__ctx_swap:\n"
        "  sub sp, sp, #176\n"
        "  stp x19, x20, [sp, #0]\n"
        "  stp x21, x22, [sp, #16]\n"
        "  stp x23, x24, [sp, #32]\n"
        "  stp x25, x26, [sp, #48]\n"
        "  stp x27, x28, [sp, #64]\n"
        "  stp x29, x30, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  mrs x10, fpcr\n"
        "  str x10, [sp, #160]\n"
        "  mov x9, sp\n"
        "  str x9, [x0]\n"
        "  mov sp, x1\n"
        "  ldr x11, [sp, #160]\n"
        "  cmp x11, x10\n"
        "  b.eq 1f\n"
        "  msr fpcr, x11\n"
        "1:\n"
        "  ldp x19, x20, [sp, #0]\n"
        "  ldp x21, x22, [sp, #16]\n"
        "  ldp x23, x24, [sp, #32]\n"
        "  ldp x25, x26, [sp, #48]\n"
        "  ldp x27, x28, [sp, #64]\n"
        "  ldp x29, x30, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  add sp, sp, #176\n"
        "  ret\n"
        ".size asx__ctx_swap, .-asx__ctx_swap\n"
        "\n"
        ".globl asx__ctx_trampoline\n"
        ".hidden asx__ctx_trampoline\n"
        ".type asx__ctx_trampoline,%function\n"
        ".p2align 4\n"
        "asx__ctx_trampoline:\n"
        "  .cfi_startproc\n"
        "  .cfi_undefined x30\n"
        "  mov x0, x19\n"
        "  bl asx__ctx_first_entry\n"
        "  brk #0\n"
        "  .cfi_endproc\n"
        ".size asx__ctx_trampoline, .-asx__ctx_trampoline\n");

enum { FRAME_WORDS = 22 };

static void build_initial_frame(asx_ctx *c, uintptr_t top) {
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  /* After the swap pops the frame, sp == top (16-byte aligned) when the trampoline runs. */
  uint64_t *sp = (uint64_t *)(top - FRAME_WORDS * sizeof(uint64_t));
  memset(sp, 0, FRAME_WORDS * sizeof(uint64_t));
  sp[0] = (uint64_t)(uintptr_t)c;  /* x19 */
  sp[10] = 0;                      /* x29: end of the frame-pointer chain */
  sp[11] = (uint64_t)(uintptr_t)asx__ctx_trampoline; /* x30 */
  sp[20] = fpcr;                   /* a new context starts with its creator's FP modes */
  c->sp = sp;
}
#endif

void asx_ctx_init_thread(asx_ctx *c) { memset(c, 0, sizeof *c); }

void asx_ctx_init(asx_ctx *c, void *stack_lo, size_t stack_size, void (*entry)(void *arg), void *arg) {
  memset(c, 0, sizeof *c);
  c->stack_lo = stack_lo;
  c->stack_size = stack_size;
  c->entry = entry;
  c->arg = arg;
#if ASX_CTX_ASAN
  /* A reused stack still carries the poisoned redzones of the frames of its previous task. */
  __asan_unpoison_memory_region(stack_lo, stack_size);
#endif
  build_initial_frame(c, ((uintptr_t)stack_lo + stack_size) & ~(uintptr_t)15);
}

#if !ASX_CTX_SWITCH_IN_ASM
void asx_ctx_switch(asx_ctx *from, asx_ctx *to) {
  asan_before_switch(from, to, 0);
  asx__ctx_swap(&from->sp, to->sp);
  asan_after_switch(from, from->asan_fake_stack);
}

void asx_ctx_switch_final(asx_ctx *from, asx_ctx *to) {
  asan_before_switch(from, to, 1);
  asx__ctx_swap(&from->sp, to->sp);
  abort(); /* a finished context was resumed: a scheduler bug */
}

void asx_ctx_switch_same_site(asx_ctx *from, asx_ctx *to) { asx_ctx_switch(from, to); }
#endif

#if defined(__x86_64__)
const char *asx_ctx_impl_name(void) { return "x86_64-asm"; }
#else
const char *asx_ctx_impl_name(void) { return "aarch64-asm"; }
#endif

#else /* ASX_CTX_USE_UCONTEXT */

/* makecontext passes int arguments only: the context pointer travels as two 32-bit halves. */
static void ucontext_trampoline(unsigned hi, unsigned lo) {
  uintptr_t p = (uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);
  asx__ctx_first_entry((asx_ctx *)p);
}

void asx_ctx_init_thread(asx_ctx *c) { memset(c, 0, sizeof *c); }

void asx_ctx_init(asx_ctx *c, void *stack_lo, size_t stack_size, void (*entry)(void *arg), void *arg) {
  memset(c, 0, sizeof *c);
  c->stack_lo = stack_lo;
  c->stack_size = stack_size;
  c->entry = entry;
  c->arg = arg;
#if ASX_CTX_ASAN
  __asan_unpoison_memory_region(stack_lo, stack_size);
#endif
  if (getcontext(&c->uc) != 0) abort(); /* cannot fail on Linux */
  c->uc.uc_stack.ss_sp = stack_lo;
  c->uc.uc_stack.ss_size = stack_size;
  c->uc.uc_link = NULL;
  uint64_t p = (uint64_t)(uintptr_t)c;
  makecontext(&c->uc, (void (*)(void))ucontext_trampoline, 2, (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}

void asx_ctx_switch(asx_ctx *from, asx_ctx *to) {
  asan_before_switch(from, to, 0);
  swapcontext(&from->uc, &to->uc);
  asan_after_switch(from, from->asan_fake_stack);
}

void asx_ctx_switch_final(asx_ctx *from, asx_ctx *to) {
  asan_before_switch(from, to, 1);
  swapcontext(&from->uc, &to->uc);
  abort();
}

void asx_ctx_switch_same_site(asx_ctx *from, asx_ctx *to) { asx_ctx_switch(from, to); }

const char *asx_ctx_impl_name(void) { return "ucontext"; }

#endif

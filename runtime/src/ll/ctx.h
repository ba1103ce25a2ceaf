/* ll/ctx.h: stackful context switch (internal to asx_runtime).
 * Hand-written switch for x86_64 and aarch64; ucontext as the fallback for other architectures
 * or when ASX_CTX_UCONTEXT is defined for the whole build. Switches are marked for ASan. */
#ifndef ASX_LL_CTX_H
#define ASX_LL_CTX_H

#include <stddef.h>

#if defined(ASX_CTX_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__))
#define ASX_CTX_USE_UCONTEXT 1
#include <ucontext.h>
#else
#define ASX_CTX_USE_UCONTEXT 0
#endif

typedef struct asx_ctx {
  void *sp;                     /* saved stack pointer while suspended (hand-written switch) */
  /* Private below. Stack bounds: known for task contexts, learned lazily (ASan) for threads. */
  void *stack_lo;
  size_t stack_size;
  void (*entry)(void *arg);
  void *arg;
  void *asan_fake_stack;        /* ASan's fake-stack handle while this context is suspended */
  struct asx_ctx *resumed_by;   /* the context that last switched to this one (ASan bookkeeping) */
#if ASX_CTX_USE_UCONTEXT
  ucontext_t uc;
#endif
} asx_ctx;

/* Not thread-safe on `c`; makes `c` the context of the calling thread's own stack. */
void asx_ctx_init_thread(asx_ctx *c);

/* Not thread-safe on `c`; the first switch to `c` runs entry(arg) on [stack_lo, stack_lo+stack_size)
 * with an ABI-aligned stack. entry must never return: its last act is asx_ctx_switch_final(). */
void asx_ctx_init(asx_ctx *c, void *stack_lo, size_t stack_size, void (*entry)(void *arg), void *arg);

/* Called on the stack of `from`: saves the current state in `from` and resumes `to`; returns when
 * something switches back to `from` (possibly on another thread). Neither context may be in use by
 * another thread at the same time. */
void asx_ctx_switch(asx_ctx *from, asx_ctx *to);

/* Exactly asx_ctx_switch, tuned for a `to` that is most likely suspended at the same call site
 * as this call (e.g. task-to-task yields): the x86_64 version returns with `ret`, which the CPU's
 * return-stack predictor then gets right, and so every later return of `to`'s call chain too
 * (asx_ctx_switch's indirect jmp leaves the predictor one entry off, so all of them miss). */
void asx_ctx_switch_same_site(asx_ctx *from, asx_ctx *to);

/* Like asx_ctx_switch, but `from` will never be resumed; its stack may be reused once `to` runs. */
void asx_ctx_switch_final(asx_ctx *from, asx_ctx *to);

/* Thread-safe, pure: the name of the switch implementation ("x86_64-asm", "aarch64-asm", "ucontext"). */
const char *asx_ctx_impl_name(void);

#endif

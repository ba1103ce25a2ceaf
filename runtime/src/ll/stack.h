/* ll/stack.h: task stacks (internal to asx_runtime).
 * Each stack is an mmap'd region with an inaccessible guard page below it, so an overflow faults
 * instead of silently corrupting the neighbouring memory. A bounded pool caches stacks of the
 * default size for reuse. The overflow handler turns a guard-page fault into a message naming the
 * task, then lets the default action kill the process. */
#ifndef ASX_LL_STACK_H
#define ASX_LL_STACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct asx_stack {
  void *lo;       /* lowest usable byte; the stack grows down towards lo */
  size_t size;    /* usable bytes (a multiple of the page size) */
  void *map;      /* start of the mapping: the guard page */
  size_t map_len; /* guard + usable */
  unsigned vg_id; /* Valgrind stack id (0 without Valgrind) */
} asx_stack;

typedef struct asx_stack_pool asx_stack_pool;

/* Creates a pool; default_size is rounded up to whole pages (0 or absurdly large: ASX_EINVAL);
 * at most max_cached default-size stacks are kept for reuse. Returns 0, ASX_ENOMEM or ASX_EINVAL. */
int asx_stack_pool_new(size_t default_size, size_t max_cached, asx_stack_pool **out);
/* Not thread-safe: frees the pool and its cached stacks; every stack must have been put back. */
void asx_stack_pool_free(asx_stack_pool *p);
/* Thread-safe: a stack of at least `size` bytes (0 = the pool's default), page-rounded. Only
 * default-size stacks come from (and return to) the cache. Returns 0, ASX_ENOMEM or ASX_EINVAL. */
int asx_stack_get(asx_stack_pool *p, size_t size, asx_stack *out);
/* Thread-safe: gives the stack back (cached or unmapped); *s is cleared. */
void asx_stack_put(asx_stack_pool *p, asx_stack *s);
/* Thread-safe: the number of stacks currently cached (a snapshot). */
size_t asx_stack_pool_cached(asx_stack_pool *p);
/* Thread-safe, pure: the page-rounded default stack size of the pool. */
size_t asx_stack_pool_default_size(const asx_stack_pool *p);

/* Stack-overflow reporting: a SIGSEGV/SIGBUS handler on an alternate signal stack. If the fault is
 * in the guard page of the current task's stack it writes "asx: stack overflow in task '<name>' ..."
 * to stderr (write(2), async-signal-safe) and re-raises with the default action; otherwise the
 * previous disposition of the signal handles it untouched. */
/* Process-wide, idempotent, thread-safe. Returns 0 or ASX_EIO. */
int asx_overflow_handler_install(void);
/* Per thread that runs tasks: installs an alternate signal stack unless the thread already has one
 * (e.g. ASan's). Returns 0, ASX_ENOMEM or ASX_EIO. */
int asx_overflow_thread_init(void);
/* Per thread: removes the alternate stack installed by asx_overflow_thread_init, if any. */
void asx_overflow_thread_fini(void);
/* Per-thread record read by the overflow handler; written only through asx_overflow_set_current.
 * initial-exec TLS: the handler must not trigger lazy TLS allocation (not async-signal-safe), and
 * the setter is inlined into the scheduler's switch path (a call cost ~13% of a yield). */
struct asx_overflow_current {
  uintptr_t guard_lo; /* the current task's guard page [guard_lo, guard_hi); guard_hi 0 = no task */
  uintptr_t guard_hi;
  size_t stack_size;
  const char *task_name;
};
extern _Thread_local struct asx_overflow_current asx__overflow_current __attribute__((tls_model("initial-exec")));

/* Thread-local: the stack and name of the task about to run on this thread (NULL = none). The
 * bounds are copied; task_name must stay valid until the next call on this thread. */
static inline void asx_overflow_set_current(const asx_stack *s, const char *task_name) {
  if (s == NULL || s->map == NULL) {
    asx__overflow_current.guard_hi = 0; /* the handler looks no further */
    return;
  }
  asx__overflow_current.guard_lo = (uintptr_t)s->map;
  asx__overflow_current.guard_hi = (uintptr_t)s->lo;
  asx__overflow_current.stack_size = s->size;
  asx__overflow_current.task_name = task_name;
}

#endif

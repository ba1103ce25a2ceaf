/* Stacks: page rounding, guard page, LIFO cache bounded by max_cached, exclusive ownership under
 * concurrent get/put, and the overflow handler naming the task (in forked children). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asx/base.h"
#include "ll/ctx.h"
#include "ll/stack.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if !defined(UNDER_ASAN) && defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

TestSuite(stack, .timeout = 60);

Test(stack, pool_rejects_bad_arguments) {
  asx_stack_pool *p = (asx_stack_pool *)1;
  cr_assert_eq(asx_stack_pool_new(0, 4, &p), ASX_EINVAL);
  cr_assert_null(p);
  cr_assert_eq(asx_stack_pool_new(SIZE_MAX - 10, 4, &p), ASX_EINVAL);
  cr_assert_eq(asx_stack_pool_new(4096, 4, NULL), ASX_EINVAL);
  cr_assert_eq(asx_stack_pool_new(64 * 1024, 4, &p), 0);
  asx_stack s;
  cr_assert_eq(asx_stack_get(p, SIZE_MAX - 1, &s), ASX_EINVAL);
  asx_stack_pool_free(p);
}

Test(stack, sizes_are_page_rounded_with_guard_below) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  asx_stack_pool *p;
  cr_assert_eq(asx_stack_pool_new(10000, 4, &p), 0);
  cr_assert_eq(asx_stack_pool_default_size(p), (10000 + page - 1) / page * page);
  asx_stack a, b, c;
  cr_assert_eq(asx_stack_get(p, 0, &a), 0);
  cr_assert_eq(a.size, asx_stack_pool_default_size(p));
  cr_assert_eq(asx_stack_get(p, 1, &b), 0);
  cr_assert_eq(b.size, page);
  cr_assert_eq(asx_stack_get(p, 3 * page + 1, &c), 0);
  cr_assert_eq(c.size, 4 * page);
  asx_stack *all[] = {&a, &b, &c};
  for (int i = 0; i < 3; i++) {
    asx_stack *s = all[i];
    cr_assert_eq((uintptr_t)s->lo % page, 0);
    cr_assert_eq((char *)s->lo, (char *)s->map + page, "guard page sits right below the stack");
    cr_assert_eq(s->map_len, s->size + page);
    memset(s->lo, 0xab, s->size); /* the whole usable range is writable */
  }
  for (int i = 0; i < 3; i++) asx_stack_put(p, all[i]);
  cr_assert_null(a.map, "put clears the handle");
  cr_assert_eq(asx_stack_pool_cached(p), 1, "only the default-size stack is cached");
  asx_stack_pool_free(p);
}

Test(stack, cache_is_lifo_and_bounded) {
  asx_stack_pool *p;
  cr_assert_eq(asx_stack_pool_new(16 * 1024, 3, &p), 0);
  asx_stack s[5];
  for (int i = 0; i < 5; i++) cr_assert_eq(asx_stack_get(p, 0, &s[i]), 0);
  void *lo4 = s[4].lo, *lo3 = s[3].lo;
  for (int i = 0; i < 5; i++) asx_stack_put(p, &s[i]);
  cr_assert_eq(asx_stack_pool_cached(p), 3, "cache holds at most max_cached");
  /* s[0], s[1], s[2] were cached; s[3], s[4] unmapped. Reuse returns the most recent first. */
  asx_stack r;
  cr_assert_eq(asx_stack_get(p, 0, &r), 0);
  cr_assert_eq(asx_stack_pool_cached(p), 2);
  asx_stack_put(p, &r);
  (void)lo4;
  (void)lo3;
  asx_stack_pool_free(p);

  cr_assert_eq(asx_stack_pool_new(16 * 1024, 0, &p), 0); /* no cache at all */
  cr_assert_eq(asx_stack_get(p, 0, &r), 0);
  asx_stack_put(p, &r);
  cr_assert_eq(asx_stack_pool_cached(p), 0);
  asx_stack_pool_free(p);
}

Test(stack, reuse_returns_the_last_put) {
  asx_stack_pool *p;
  cr_assert_eq(asx_stack_pool_new(16 * 1024, 8, &p), 0);
  asx_stack a, b;
  cr_assert_eq(asx_stack_get(p, 0, &a), 0);
  cr_assert_eq(asx_stack_get(p, 0, &b), 0);
  void *blo = b.lo;
  asx_stack_put(p, &a);
  asx_stack_put(p, &b);
  asx_stack r;
  cr_assert_eq(asx_stack_get(p, 0, &r), 0);
  cr_assert_eq(r.lo, blo);
  asx_stack_put(p, &r);
  asx_stack_pool_free(p);
}

/* ---- concurrent get/put: every stack is owned by one thread at a time ------------------------ */
#define THREADS 4
#define ITERS 2000
struct worker {
  asx_stack_pool *pool;
  uint64_t tag;
  int errors;
};

static void *churn(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < ITERS; i++) {
    asx_stack s;
    if (asx_stack_get(w->pool, 0, &s) != 0) {
      w->errors++;
      continue;
    }
    uint64_t *top = (uint64_t *)((char *)s.lo + s.size) - 1;
    uint64_t *bottom = (uint64_t *)s.lo;
    uint64_t v = w->tag << 32 | (uint64_t)i;
    *top = v;
    *bottom = v;
    sched_yield();
    if (*top != v || *bottom != v) w->errors++; /* someone else got the same stack */
    asx_stack_put(w->pool, &s);
  }
  return NULL;
}

Test(stack, concurrent_get_put_is_exclusive) {
  asx_stack_pool *p;
  cr_assert_eq(asx_stack_pool_new(16 * 1024, 4, &p), 0);
  pthread_t th[THREADS];
  struct worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker){p, (uint64_t)i + 1, 0};
    cr_assert_eq(pthread_create(&th[i], NULL, churn, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(w[i].errors, 0, "thread %d saw %d ownership violations", i, w[i].errors);
  }
  cr_assert_leq(asx_stack_pool_cached(p), 4);
  asx_stack_pool_free(p);
}

/* ---- the overflow handler -------------------------------------------------------------------- */
struct child_task {
  asx_ctx main, task;
  volatile int depth;
  int mode; /* 0 = overflow by recursion, 1 = null dereference */
};

__attribute__((noinline)) static int bottomless(volatile int *depth) {
  volatile char frame[256];
  frame[0] = (char)*depth;
  (*depth)++;
  if (*depth < 0) return 0; /* never true in practice: keeps the compiler from calling it infinite */
  return bottomless(depth) + frame[0];
}

static void child_entry(void *arg) {
  struct child_task *t = arg;
  if (t->mode == 0) {
    bottomless(&t->depth);
  } else {
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
  }
  asx_ctx_switch_final(&t->task, &t->main);
}

/* Runs a task in a forked child with stderr on a pipe; returns the wait status and the output. */
static int run_child(int mode, const char *name, char *out, size_t cap) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    asx_stack_pool *p;
    asx_stack s;
    static struct child_task t;
    if (asx_overflow_handler_install() != 0 || asx_overflow_thread_init() != 0) _exit(90);
    if (asx_stack_pool_new(64 * 1024, 1, &p) != 0 || asx_stack_get(p, 0, &s) != 0) _exit(91);
    t.mode = mode;
    asx_ctx_init_thread(&t.main);
    asx_ctx_init(&t.task, s.lo, s.size, child_entry, &t);
    asx_overflow_set_current(&s, name);
    asx_ctx_switch(&t.main, &t.task);
    _exit(92); /* not reached: the task faults */
  }
  close(fds[1]);
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fds[0], out + len, cap - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (len == cap - 1) break;
  }
  out[len] = '\0';
  close(fds[0]);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  return status;
}

Test(stack, overflow_names_the_task_and_dies_by_sigsegv) {
  char out[4096];
  int status = run_child(0, "deep-diver", out, sizeof out);
  cr_assert(WIFSIGNALED(status), "child should die by a signal; status %#x, stderr: %s", status, out);
  cr_assert_eq(WTERMSIG(status), SIGSEGV);
  cr_assert_not_null(strstr(out, "asx: stack overflow in task 'deep-diver'"), "stderr was: %s", out);
}

Test(stack, other_faults_are_not_reported_as_overflow) {
  char out[8192];
  int status = run_child(1, "null-writer", out, sizeof out);
  cr_assert_null(strstr(out, "stack overflow"), "stderr was: %s", out);
  if (UNDER_ASAN) {
    /* ASan's own SEGV handler (chained) reports and exits with an error code. */
    cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  } else {
    cr_assert(WIFSIGNALED(status), "status %#x", status);
    cr_assert_eq(WTERMSIG(status), SIGSEGV);
  }
}

Test(stack, handler_install_and_thread_init_are_idempotent) {
  cr_assert_eq(asx_overflow_handler_install(), 0);
  cr_assert_eq(asx_overflow_handler_install(), 0);
  cr_assert_eq(asx_overflow_thread_init(), 0);
  cr_assert_eq(asx_overflow_thread_init(), 0);
  stack_t ss;
  cr_assert_eq(sigaltstack(NULL, &ss), 0);
  cr_assert_eq(ss.ss_flags & SS_DISABLE, 0, "an alternate signal stack is active");
  asx_overflow_thread_fini();
  asx_overflow_set_current(NULL, NULL);
}

/* End to end through the public API: a task that overflows its stack kills the process by
 * SIGSEGV, and the message on stderr names that task (forked child, stderr on a pipe). */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asx/runtime.h"

TestSuite(overflow_runtime, .timeout = 60);

__attribute__((noinline)) static int descend(volatile int *depth) {
  volatile char frame[512];
  frame[0] = (char)*depth;
  (*depth)++;
  if (*depth < 0) return 0; /* never: keeps the compiler from calling this infinite */
  return descend(depth) + frame[0];
}

static int overflowing_task(asx_cx *cx, void *arg) {
  (void)cx;
  (void)arg;
  volatile int depth = 0;
  return descend(&depth);
}

static int main_task(asx_cx *cx, void *arg) {
  (void)arg;
  asx_spawn_opts o = asx_spawn_opts_default();
  o.name = "recursive-parser";
  o.stack_size = 64 * 1024;
  asx_task *h;
  if (asx_spawn(cx, NULL, overflowing_task, NULL, &o, &h) != 0) return -1;
  asx_task_join(cx, h, NULL, NULL);
  return 0;
}

static void run_in_child(unsigned workers) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = workers;
  asx_runtime *rt;
  if (asx_runtime_new(&cfg, &rt) != 0) _exit(90);
  asx_runtime_run(rt, main_task, NULL, NULL, NULL);
  _exit(91); /* not reached: the overflow kills the process */
}

static void check_overflow_kills_with_name(unsigned workers) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    run_in_child(workers);
  }
  close(fds[1]);
  char out[4096];
  size_t len = 0;
  for (ssize_t n; len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0;) len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status), "child should die by a signal; status %#x, stderr: %s", status, out);
  cr_assert_eq(WTERMSIG(status), SIGSEGV);
  cr_assert_not_null(strstr(out, "asx: stack overflow in task 'recursive-parser'"), "stderr was: %s", out);
}

Test(overflow_runtime, one_worker) { check_overflow_kills_with_name(1); }

Test(overflow_runtime, two_workers) { check_overflow_kills_with_name(2); }

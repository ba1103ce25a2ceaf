/* ll/stack_overflow.c: turns a fault in the current task's guard page into a message that names
 * the task, then lets the default action kill the process (declared in ll/stack.h).
 *
 * The handler runs on an alternate signal stack (the task stack is exhausted), uses only
 * async-signal-safe calls (write, sigaction, raise) and reads only per-thread plain data set by
 * asx_overflow_set_current (inline in ll/stack.h). */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "asx/base.h"
#include "ll/stack.h"

/* initial-exec: the handler must not trigger lazy TLS allocation (not async-signal-safe). */
#define ASX_TLS _Thread_local __attribute__((tls_model("initial-exec")))

ASX_TLS struct asx_overflow_current asx__overflow_current; /* declared in ll/stack.h */
static ASX_TLS void *tl_altstack;      /* the alternate stack this module installed, if any */
static ASX_TLS size_t tl_altstack_len;

static struct sigaction prev_segv, prev_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_result;

/* ---- async-signal-safe formatting ------------------------------------------------------------ */
struct msg {
  char buf[320];
  size_t len;
};

static void msg_str(struct msg *m, const char *s, size_t max) {
  for (size_t i = 0; s[i] != '\0' && i < max && m->len < sizeof m->buf; i++) m->buf[m->len++] = s[i];
}

static void msg_hex(struct msg *m, uintptr_t v) {
  char tmp[2 + 2 * sizeof v];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15u];
    v >>= 4;
  } while (v != 0);
  msg_str(m, "0x", 2);
  while (n > 0 && m->len < sizeof m->buf) m->buf[m->len++] = tmp[--n];
}

static void msg_dec(struct msg *m, size_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0 && m->len < sizeof m->buf) m->buf[m->len++] = tmp[--n];
}

static void report_overflow(uintptr_t addr) {
  struct msg m = {.len = 0};
  msg_str(&m, "asx: stack overflow in task '", 64);
  const char *name = asx__overflow_current.task_name;
  msg_str(&m, name != NULL ? name : "?", 128);
  msg_str(&m, "' (fault at ", 16);
  msg_hex(&m, addr);
  msg_str(&m, " in the guard page below its ", 64);
  msg_dec(&m, asx__overflow_current.stack_size);
  msg_str(&m, "-byte stack; spawn it with a larger stack size)\n", 64);
  size_t off = 0;
  while (off < m.len) {
    ssize_t w = write(STDERR_FILENO, m.buf + off, m.len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
}

static void reset_default(int sig) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
}

static void overflow_handler(int sig, siginfo_t *si, void *uctx) {
  uintptr_t addr = (uintptr_t)si->si_addr;
  int from_fault = si->si_code > 0; /* kill()/raise() carry si_code <= 0 */
  const struct asx_overflow_current *cur = &asx__overflow_current;
  if (from_fault && cur->guard_hi != 0 && addr >= cur->guard_lo && addr < cur->guard_hi) {
    report_overflow(addr);
    /* Returning re-executes the faulting access, which now takes the default action: the process
     * dies by the original signal (core dump included). */
    reset_default(sig);
    return;
  }
  const struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
  if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction != NULL) {
    prev->sa_sigaction(sig, si, uctx);
    return;
  }
  if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
    return;
  }
  reset_default(sig);
  if (!from_fault) raise(sig);
}

static void install_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = overflow_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 || sigaction(SIGBUS, &sa, &prev_bus) != 0) install_result = ASX_EIO;
}

int asx_overflow_handler_install(void) {
  pthread_once(&install_once, install_handlers);
  return install_result;
}

int asx_overflow_thread_init(void) {
  stack_t cur;
  if (sigaltstack(NULL, &cur) != 0) return ASX_EIO;
  if (!(cur.ss_flags & SS_DISABLE)) return 0; /* the thread already has one (ours, ASan's, the app's) */
  long min = sysconf(_SC_SIGSTKSZ);
  size_t len = 64u * 1024u;
  if (min > 0 && (size_t)min * 4 > len) len = (size_t)min * 4;
  void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return ASX_ENOMEM;
  stack_t ss = {.ss_sp = mem, .ss_size = len, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(mem, len);
    return ASX_EIO;
  }
  tl_altstack = mem;
  tl_altstack_len = len;
  return 0;
}

void asx_overflow_thread_fini(void) {
  if (tl_altstack == NULL) return;
  stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(tl_altstack, tl_altstack_len);
  tl_altstack = NULL;
  tl_altstack_len = 0;
}


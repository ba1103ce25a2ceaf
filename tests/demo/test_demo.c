/* The built asx-demo binary end to end: started on a free port, hit with curl (HTTP/1.1, h2c
 * upgrade, HTTP/2 prior knowledge, TLS with ALPN), Python websockets and grpcio, then stopped
 * with SIGINT: the shutdown phases are printed and the exit code is 0. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "srv_util.h"

typedef struct demo_proc {
  pid_t pid;
  FILE *out;
  unsigned port;
  char first_line[512];
} demo_proc;

static void demo_start(demo_proc *d, const char *extra) {
  int pfd[2];
  cr_assert_eq(pipe(pfd), 0);
  d->pid = fork();
  cr_assert(d->pid >= 0);
  if (d->pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "exec %s --listen 127.0.0.1:0 --workers 2 --grace 3 %s", ASX_DEMO_BIN, extra);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  d->out = fdopen(pfd[0], "r");
  cr_assert(fgets(d->first_line, sizeof d->first_line, d->out), "asx-demo printed nothing");
  char *colon = strstr(d->first_line, "127.0.0.1:");
  cr_assert(colon, "%s", d->first_line);
  d->port = (unsigned)strtoul(colon + 10, NULL, 10);
  cr_assert(d->port > 0);
}

/* SIGINT, then the exit status (bounded wait); the rest of stdout goes to `rest`. */
static int demo_stop(demo_proc *d, char *rest, size_t cap) {
  kill(d->pid, SIGINT);
  int st = 0;
  uint64_t t0 = now_ms();
  while (waitpid(d->pid, &st, WNOHANG) == 0) {
    if (now_ms() - t0 > 20000) {
      kill(d->pid, SIGKILL);
      waitpid(d->pid, &st, 0);
      cr_expect_fail("asx-demo did not exit within 20 s of SIGINT");
      break;
    }
    usleep(10000);
  }
  size_t n = fread(rest, 1, cap - 1, d->out);
  rest[n] = 0;
  fclose(d->out);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_clean_shutdown(demo_proc *d) {
  char rest[4096];
  int code = demo_stop(d, rest, sizeof rest);
  cr_expect_eq(code, 0, "exit code %d; output:\n%s", code, rest);
  cr_expect(strstr(rest, "asx-demo: SIGINT: stop accepting\n"), "%s", rest);
  cr_expect(strstr(rest, "asx-demo: cancel connections (reason shutdown), drain within 3.0 s\n"), "%s", rest);
  cr_expect(strstr(rest, "asx-demo: drained: "), "%s", rest);
  cr_expect(strstr(rest, "finalized: outcome ok, live tasks 0, regions 0, obligations 0"), "%s", rest);
}

static int sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t cap, const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return run_cmd(cmd, out, cap);
}

TestSuite(demo, .timeout = 120);

Test(demo, http1_websocket_and_sigint) {
  demo_proc d;
  demo_start(&d, "");
  char out[8192];
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http1.1 --max-time 10 http://127.0.0.1:%u/", d.port), 0);
  cr_expect(strstr(out, "/echo") && strstr(out, "/ws"), "index page: %s", out);
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http1.1 --max-time 10 -d 'echo me' http://127.0.0.1:%u/echo", d.port), 0);
  cr_expect_str_eq(out, "echo me");
  cr_expect_eq(sh(out, sizeof out, "head -c 100000 /dev/zero | tr '\\0' 'q' | curl -sS --http1.1 --max-time 10 "
                                  "-H 'Transfer-Encoding: chunked' --data-binary @- http://127.0.0.1:%u/echo | wc -c",
                  d.port), 0);
  cr_expect_eq(atoi(out), 100000);
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http1.1 --max-time 10 -o /dev/null -w '%%{http_code}' "
                                  "http://127.0.0.1:%u/missing", d.port), 0);
  cr_expect_str_eq(out, "404");
  cr_expect_eq(sh(out, sizeof out, "/usr/bin/python3 %s ws://127.0.0.1:%u/ws deflate 2>&1", WS_CLIENT_PY, d.port), 0);
  cr_expect_str_eq(out, "ok 1000 permessage-deflate\n");
  expect_clean_shutdown(&d);
}

Test(demo, http2_prior_knowledge_and_h2c_upgrade) {
  demo_proc d;
  demo_start(&d, "");
  char out[8192];
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http2-prior-knowledge --max-time 10 -d pk "
                                  "-w ' %%{http_version}' http://127.0.0.1:%u/echo", d.port), 0);
  cr_expect_str_eq(out, "pk 2");
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http2 --max-time 10 -d up "
                                  "-w ' %%{http_version}' http://127.0.0.1:%u/echo", d.port), 0);
  cr_expect_str_eq(out, "up 2");
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http2 --max-time 10 -w ' %%{http_version}' "
                                  "http://127.0.0.1:%u/ http://127.0.0.1:%u/", d.port, d.port), 0);
  cr_expect(strstr(out, "asx-demo") && strstr(out, " 2"), "%s", out);
  cr_expect_eq(sh(out, sizeof out, "h2load -n 200 -c 4 -m 10 http://127.0.0.1:%u/ 2>&1 | grep 'requests:'", d.port), 0);
  cr_expect(strstr(out, "200 succeeded, 0 failed"), "%s", out);
  expect_clean_shutdown(&d);
}

Test(demo, grpc_echo_over_h2c) {
  demo_proc d;
  demo_start(&d, "");
  char out[8192];
  cr_expect_eq(sh(out, sizeof out, "/usr/bin/python3 %s 127.0.0.1:%u 2>&1", GRPC_CLIENT_PY, d.port), 0, "%s", out);
  cr_expect_str_eq(out, "unary ok\nunary-1mib ok\nserver-stream ok\nbidi ok\nunimplemented ok\nhealth ok\n");
  expect_clean_shutdown(&d);
}

Test(demo, tls_alpn_h2_and_http1) {
  char dir[] = "/tmp/asx_demo_tlsXXXXXX";
  cr_assert(mkdtemp(dir));
  char out[8192];
  cr_assert_eq(sh(out, sizeof out, "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
                                  "-days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>&1",
                  dir, dir), 0, "%s", out);
  char extra[600];
  snprintf(extra, sizeof extra, "--cert %s/cert.pem --key %s/key.pem", dir, dir);
  demo_proc d;
  demo_start(&d, extra);
  cr_expect(strstr(d.first_line, "https://"), "%s", d.first_line);
  cr_expect_eq(sh(out, sizeof out, "curl -sS --max-time 10 --cacert %s/cert.pem -d secret "
                                  "-w ' %%{http_version}' https://127.0.0.1:%u/echo", dir, d.port), 0);
  cr_expect_str_eq(out, "secret 2");
  cr_expect_eq(sh(out, sizeof out, "curl -sS --http1.1 --max-time 10 --cacert %s/cert.pem -d secret "
                                  "-w ' %%{http_version}' https://127.0.0.1:%u/echo", dir, d.port), 0);
  cr_expect_str_eq(out, "secret 1.1");
  cr_expect_eq(sh(out, sizeof out, "/usr/bin/python3 %s wss://127.0.0.1:%u/ws echo %s/cert.pem 2>&1",
                  WS_CLIENT_PY, d.port, dir), 0, "%s", out);
  cr_expect_str_eq(out, "ok 1000 -\n");
  expect_clean_shutdown(&d);
  sh(out, sizeof out, "rm -rf %s", dir);
}

Test(demo, bad_arguments_exit_2) {
  char out[1024];
  cr_expect_eq(sh(out, sizeof out, "%s --listen nonsense 2>&1", ASX_DEMO_BIN), 2);
  cr_expect(strstr(out, "usage:"), "%s", out);
  cr_expect_eq(sh(out, sizeof out, "%s --cert only.pem 2>&1", ASX_DEMO_BIN), 2);
}

Test(demo, sigint_drains_an_in_flight_grpc_call) {
  demo_proc d;
  demo_start(&d, "");
  char cmd[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s 127.0.0.1:%u slow 2>&1", GRPC_CLIENT_PY, d.port);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  char line[256] = {0};
  cr_assert(fgets(line, sizeof line, p));
  cr_assert_str_eq(line, "started\n");
  usleep(300000); /* the call is on the server, sleeping its 1.5 s */
  expect_clean_shutdown(&d);
  cr_assert(fgets(line, sizeof line, p));
  pclose(p);
  cr_expect_str_eq(line, "slow ok\n", "the call in flight at SIGINT must complete: %s", line);
}

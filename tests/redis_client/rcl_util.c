#include "rcl_util.h"
#include "srv_util.h"
#include "test_fds.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>

#include "peer_process.h"

/* Servers still running, so that a test that fails half-way (a failed assertion skips its own
 * stop) does not leave them behind: rcl_cleanup runs as the suites' .fini. */
static pid_t live[16];

static void track(pid_t pid) {
  for (int i = 0; i < 16; i++)
    if (live[i] <= 0) {
      live[i] = pid;
      return;
    }
}

static void untrack(pid_t pid) {
  for (int i = 0; i < 16; i++)
    if (live[i] == pid) live[i] = 0;
}

void rcl_cleanup(void) {
  for (int i = 0; i < 16; i++)
    if (live[i] > 0) {
      peer_kill(live[i]);
      live[i] = 0;
    }
}

static int spawn_on(rcl_server *s, const char *const *extra) {
  char port[16];
  snprintf(port, sizeof(port), "%d", s->port);
  char *argv[32] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no"};
  int n = 9;
  for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  s->pid = peer_spawn(argv);
  if (s->pid < 0) return -1;
  if (peer_wait_port(s->pid, s->port, 5000) != 0) {
    peer_kill(s->pid);
    s->pid = -1;
    return -1;
  }
  track(s->pid);
  return 0;
}

void rcl_server_start(rcl_server *s, const char *const *extra) {
  for (int attempt = 0; attempt < 5; attempt++) {
    s->port = peer_free_port();
    if (s->port > 0 && spawn_on(s, extra) == 0) return;
  }
  cr_assert_fail("could not start redis-server");
}

int rcl_server_restart(rcl_server *s, const char *const *extra) {
  for (int attempt = 0; attempt < 20; attempt++)
    if (spawn_on(s, extra) == 0) return 0;
  return -1;
}

void rcl_server_stop(rcl_server *s) {
  if (s->pid > 0) {
    untrack(s->pid);
    peer_kill(s->pid);
  }
  s->pid = -1;
}

int rcl_run(unsigned workers, asx_task_fn fn, void *arg) { return srv_run_main(workers, fn, arg); }

asx_redis_client_opts rcl_opts(const rcl_server *s, int resp) {
  asx_redis_client_opts o;
  asx_redis_client_opts_default(&o);
  o.port = (uint16_t)s->port;
  o.resp = resp;
  return o;
}

asx_redis_reply *rcl_cmd(asx_cx *cx, asx_redis_client *c, ...) {
  const char *argv[16];
  size_t argc = 0;
  va_list ap;
  va_start(ap, c);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && argc < 16) argv[argc++] = a;
  va_end(ap);
  asx_redis_reply *r = NULL;
  int rc = asx_redis_client_command(cx, c, argc, argv, NULL, &r);
  cr_assert_eq(rc, 0, "%s: %s", argv[0], asx_strerror(rc));
  cr_assert_not_null(r);
  return r;
}

#include "ncl_util.h"
#include "srv_util.h"
#include "test_fds.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "peer_process.h"

/* Servers still running, so that a test that fails half-way does not leave them behind. */
static pid_t live[16];

static void track(pid_t pid) {
  for (int i = 0; i < 16; i++)
    if (live[i] <= 0) {
      live[i] = pid;
      return;
    }
}

void ncl_stop(nt_peer *p) {
  for (int i = 0; i < 16; i++)
    if (live[i] == p->pid) live[i] = 0;
  nt_peer_stop(p);
}

void ncl_cleanup(void) {
  for (int i = 0; i < 16; i++)
    if (live[i] > 0) {
      peer_kill(live[i]);
      live[i] = 0;
    }
}

void ncl_start(nt_peer *p) {
  if (!nt_nats_server_path()) cr_skip_test("nats-server is not installed");
  cr_assert_eq(nt_peer_start_nats(p, 5000), 0, "could not start nats-server");
  track(p->pid);
}

void ncl_start_conf(nt_peer *p, const char *conf) {
  const char *bin = nt_nats_server_path();
  if (!bin) cr_skip_test("nats-server is not installed");
  char path[] = "/tmp/asx_ncl_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
  close(fd);
  for (int attempt = 0; attempt < 5; attempt++) {
    int port = peer_free_port();
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    char *argv[] = {(char *)bin, "-c", path, "-a", "127.0.0.1", "-p", port_s, NULL};
    pid_t pid = peer_spawn(argv);
    if (pid > 0 && peer_wait_port(pid, port, 5000) == 0) {
      p->pid = pid;
      p->port = port;
      track(pid);
      unlink(path);
      return;
    }
    if (pid > 0) peer_kill(pid);
  }
  unlink(path);
  cr_assert_fail("could not start nats-server with a configuration");
}

bool ncl_restart(nt_peer *p) {
  const char *bin = nt_nats_server_path();
  char port_s[16];
  snprintf(port_s, sizeof(port_s), "%d", p->port);
  char *argv[] = {(char *)bin, "-a", "127.0.0.1", "-p", port_s, NULL};
  for (int attempt = 0; attempt < 20; attempt++) { /* the port may linger a moment */
    pid_t pid = peer_spawn(argv);
    if (pid > 0 && peer_wait_port(pid, p->port, 5000) == 0) {
      p->pid = pid;
      track(pid);
      return true;
    }
    if (pid > 0) peer_kill(pid);
    usleep(100000);
  }
  return false;
}

int ncl_run(unsigned workers, asx_task_fn fn, void *arg) { return srv_run_main(workers, fn, arg); }

asx_nats_client_opts ncl_opts(const nt_peer *p) {
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.port = (uint16_t)p->port;
  return o;
}

asx_nats_client *ncl_connect(asx_cx *cx, const nt_peer *p) {
  asx_nats_client_opts o = ncl_opts(p);
  asx_nats_client *c = NULL;
  char err[256];
  int rc = asx_nats_client_connect(cx, &o, &c, err, sizeof(err));
  cr_assert_eq(rc, 0, "connect: %s (%s)", asx_strerror(rc), err);
  return c;
}

#include "h2srv_util.h"
#include "test_fds.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

void h2t_msleep(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int h2t_sh(char *out, size_t cap, const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  char full[4200];
  snprintf(full, sizeof(full), "(%s) 2>&1", cmd);
  FILE *p = popen(full, "r");
  cr_assert_not_null(p);
  size_t len = 0;
  char tmp[4096];
  size_t k;
  while ((k = fread(tmp, 1, sizeof(tmp), p)) > 0) {
    if (out && len + 1 < cap) {
      size_t c = k < cap - 1 - len ? k : cap - 1 - len;
      memcpy(out + len, tmp, c);
      len += c;
    }
  }
  if (out && cap) out[len] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int default_conn(asx_cx *cx, asx_stream *s, void *arg) {
  return asx_http2_serve(cx, s, arg, NULL, 0);
}

static int server_main(asx_cx *cx, void *arg) {
  h2t_server *t = arg;
  (void)cx;
  return asx_server_run(cx, t->srv);
}

static void *thread_main(void *arg) {
  h2t_server *t = arg;
  int rc = -999;
  asx_outcome oc;
  t->run_rc = asx_runtime_run(t->rt, server_main, t, &rc, &oc);
  asx_runtime_stats_get(t->rt, &t->st);
  atomic_store(&t->state, 2);
  return NULL;
}

void h2t_start(h2t_server *t) {
  t->fds_before = test_count_fds();
  asx_runtime_config rc;
  asx_runtime_config_default(&rc);
  rc.workers = t->workers ? t->workers : 2;
  cr_assert_eq(asx_net_reactor_new(NULL, &t->reactor), 0);
  asx_net_reactor_configure(t->reactor, &rc);
  cr_assert_eq(asx_runtime_new(&rc, &t->rt), 0);
  asx_listener *l = NULL;
  cr_assert_eq(asx_tcp_listen("127.0.0.1", 0, NULL, &l), 0);
  t->port = asx_listener_port(l);
  asx_server_opts so;
  asx_server_opts_default(&so);
  so.grace_ns = 5000000000ull;
  so.tls = t->tls;
  if (!t->conn) {
    t->conn = default_conn;
    t->conn_arg = &t->cfg;
  }
  cr_assert_eq(asx_server_new(l, &so, t->conn, t->conn_arg, &t->srv), 0);
  atomic_store(&t->state, 1);
  cr_assert_eq(pthread_create(&t->th, NULL, thread_main, t), 0);
}

void h2t_stop(h2t_server *t) {
  h2t_halt(t);
  h2t_check_fds(t);
}

void h2t_check_fds(h2t_server *t) {
  cr_assert_eq(test_count_fds(), t->fds_before, "descriptor leak");
}

void h2t_halt(h2t_server *t) {
  asx_server_shutdown(t->srv);
  pthread_join(t->th, NULL);
  cr_assert_eq(t->run_rc, 0);
  cr_assert_eq(t->st.live_tasks, 0, "live tasks: %llu", (unsigned long long)t->st.live_tasks);
  cr_assert_eq(t->st.live_regions, 0);
  cr_assert_eq(t->st.unresolved_obligations, 0);
  cr_assert_eq(t->st.obligation_leaks, 0);
  cr_assert_eq(t->st.region_leaks, 0);
  cr_assert_eq(t->st.panics, 0);
  asx_server_free(t->srv);
  asx_runtime_free(t->rt);
  asx_net_reactor_free(t->reactor);
}

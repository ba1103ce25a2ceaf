#include "srv_util.h"
#include "test_fds.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int main_task(asx_cx *cx, void *arg) {
  testsrv *t = arg;
  return asx_server_run(cx, t->srv);
}

static void *rt_thread(void *arg) {
  testsrv *t = arg;
  int rc = 0;
  asx_runtime_run(t->rt, main_task, t, &rc, NULL);
  t->run_rc = rc;
  return NULL;
}

void testsrv_start(testsrv *t, asx_conn_fn fn, void *arg) {
  t->fn = fn;
  t->arg = arg;
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
  so.grace_ns = t->grace_ns ? t->grace_ns : 3000000000ull;
  so.read_timeout_ns = 0; /* the HTTP glue runs its own header timeout */
  so.idle_timeout_ns = 0;
  cr_assert_eq(asx_server_new(l, &so, fn, arg, &t->srv), 0);
  t->running = 1;
  cr_assert_eq(pthread_create(&t->th, NULL, rt_thread, t), 0);
}

void testsrv_stop(testsrv *t) {
  if (!t->running) return;
  asx_server_shutdown(t->srv);
  pthread_join(t->th, NULL);
  t->running = 0;
  asx_runtime_stats_get(t->rt, &t->stats);
  asx_server_free(t->srv);
  asx_runtime_free(t->rt);
  asx_net_reactor_free(t->reactor);
  cr_expect_eq(t->stats.live_tasks, 0, "live tasks after shutdown: %llu",
               (unsigned long long)t->stats.live_tasks);
  cr_expect_eq(t->stats.live_regions, 0);
  cr_expect_eq(t->stats.unresolved_obligations, 0);
  cr_expect_eq(t->stats.obligation_leaks, 0);
  cr_expect_eq(t->stats.panics, 0);
}

int srv_run_main_ex(unsigned workers, asx_task_fn fn, void *arg, bool check_fds) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = workers;
  int fds_before = test_count_fds();
  asx_net_reactor *re = NULL;
  cr_assert_eq(asx_net_reactor_new(NULL, &re), 0);
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  int rc = -1;
  cr_assert_eq(asx_runtime_run(rt, fn, arg, &rc, NULL), 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_expect_eq(st.live_tasks, 0);
  cr_expect_eq(st.live_regions, 0);
  cr_expect_eq(st.unresolved_obligations, 0);
  cr_expect_eq(st.obligation_leaks, 0);
  cr_expect_eq(st.region_leaks, 0);
  cr_expect_eq(st.panics, 0);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  if (check_fds) cr_expect_eq(test_count_fds(), fds_before, "descriptors leaked");
  return rc;
}

int srv_run_main(unsigned workers, asx_task_fn fn, void *arg) { return srv_run_main_ex(workers, fn, arg, true); }

int cli_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool cli_send(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    p += k;
    n -= (size_t)k;
  }
  return true;
}

bool cli_send_str(int fd, const char *s) { return cli_send(fd, s, strlen(s)); }

size_t cli_recv_all(int fd, char *buf, size_t cap) {
  size_t got = 0;
  while (got + 1 < cap) {
    ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
    if (k <= 0) break;
    got += (size_t)k;
  }
  buf[got] = 0;
  return got;
}

/* Per-connection leftovers for cli_recv_response (tests use few fds at a time). */
static struct {
  int fd;
  char data[65536];
  size_t len;
} stash;

static bool fill_more(int fd) {
  if (stash.fd != fd) {
    stash.fd = fd;
    stash.len = 0;
  }
  if (stash.len == sizeof stash.data) return false;
  ssize_t k = recv(fd, stash.data + stash.len, sizeof stash.data - stash.len, 0);
  if (k <= 0) return false;
  stash.len += (size_t)k;
  return true;
}

static size_t take(char *buf, size_t cap, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(buf, stash.data, n);
  buf[n] = 0;
  memmove(stash.data, stash.data + n, stash.len - n);
  stash.len -= n;
  return n;
}

size_t cli_recv_response(int fd, char *buf, size_t cap) {
  if (stash.fd != fd) {
    stash.fd = fd;
    stash.len = 0;
  }
  for (;;) {
    char *end = memmem(stash.data, stash.len, "\r\n\r\n", 4);
    if (end) {
      size_t head = (size_t)(end - stash.data) + 4;
      char tmp[8192];
      size_t hl = head < sizeof tmp ? head : sizeof tmp - 1;
      memcpy(tmp, stash.data, hl);
      tmp[hl] = 0;
      for (char *q = tmp; *q; q++) *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
      char *cl = strstr(tmp, "content-length:");
      if (cl) {
        size_t len = strtoul(cl + 15, NULL, 10);
        while (stash.len < head + len)
          if (!fill_more(fd)) return 0;
        return take(buf, cap, head + len);
      }
      if (strstr(tmp, "transfer-encoding: chunked")) {
        for (;;) {
          char *z = memmem(stash.data + head, stash.len - head, "\r\n0\r\n", 5);
          if (!z && stash.len - head >= 3 && memcmp(stash.data + head, "0\r\n", 3) == 0) z = stash.data + head - 2;
          if (z) {
            char *fin = memmem(z + 5, stash.len - (size_t)(z + 5 - stash.data), "\r\n", 2);
            /* trailers end with an empty line */
            char *e2 = memmem(z + 3, stash.len - (size_t)(z + 3 - stash.data), "\r\n\r\n", 4);
            (void)fin;
            if (e2) return take(buf, cap, (size_t)(e2 + 4 - stash.data));
          }
          if (!fill_more(fd)) return 0;
        }
      }
      return take(buf, cap, head);
    }
    if (!fill_more(fd)) return 0;
  }
}

int run_cmd(const char *cmd, char *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t got = 0;
  if (out && cap) {
    size_t k;
    while (got + 1 < cap && (k = fread(out + got, 1, cap - 1 - got, p)) > 0) got += k;
    out[got] = 0;
  } else {
    char tmp[4096];
    while (fread(tmp, 1, sizeof tmp, p) > 0) {
    }
  }
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

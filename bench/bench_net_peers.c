/* asx-bench net peer: the classic blocking design. The server accepts on its own thread and
 * starts one thread (64 KiB stack) per connection that echoes with recv/send; the clients are
 * threads with blocking sockets (one per connection; a writer and a reader for streaming). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_net.h"

enum { PEER_STACK = 64 * 1024 };

/* ---- helpers shared with the other implementations --------------------------------------------- */
static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int net_raw_connect_nb(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = loopback(port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

long net_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return (long)rl.rlim_cur;
}

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int recv_exact(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t k = recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* ---- the server ------------------------------------------------------------------------------- */
struct thr_server {
  int lfd;
  uint16_t port;
  pthread_t acceptor;
  pthread_attr_t conn_attr; /* detached, PEER_STACK */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long live;     /* connection threads running */
  long accepted; /* connections accepted */
};

struct thr_conn {
  struct thr_server *srv;
  int fd;
};

static void *thr_conn_main(void *arg) {
  struct thr_conn *c = arg;
  struct thr_server *srv = c->srv;
  int fd = c->fd;
  free(c);
  char buf[NET_ECHO_BUF];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || send_all(fd, buf, (size_t)n) != 0) break;
  }
  close(fd);
  pthread_mutex_lock(&srv->mu);
  srv->live--;
  pthread_cond_broadcast(&srv->cv);
  pthread_mutex_unlock(&srv->mu);
  return NULL;
}

static void *thr_accept_main(void *arg) {
  struct thr_server *srv = arg;
  for (;;) {
    int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        usleep(1000);
        continue;
      }
      return NULL; /* the listener was shut down */
    }
    set_nodelay(fd);
    struct thr_conn *c = malloc(sizeof *c);
    pthread_t th;
    pthread_mutex_lock(&srv->mu);
    srv->live++;
    srv->accepted++;
    pthread_mutex_unlock(&srv->mu);
    if (c) *c = (struct thr_conn){.srv = srv, .fd = fd};
    if (!c || pthread_create(&th, &srv->conn_attr, thr_conn_main, c) != 0) {
      fprintf(stderr, "asx-bench: peer: cannot start a connection thread\n");
      free(c);
      close(fd);
      pthread_mutex_lock(&srv->mu);
      srv->live--;
      pthread_mutex_unlock(&srv->mu);
    }
  }
}

static int thr_server_start(struct thr_server *srv) {
  memset(srv, 0, sizeof *srv);
  pthread_mutex_init(&srv->mu, NULL);
  pthread_cond_init(&srv->cv, NULL);
  pthread_attr_init(&srv->conn_attr);
  pthread_attr_setdetachstate(&srv->conn_attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&srv->conn_attr, PEER_STACK);
  srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (srv->lfd < 0 || bind(srv->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv->lfd, 4096) != 0 ||
      getsockname(srv->lfd, (struct sockaddr *)&a, &len) != 0) {
    fprintf(stderr, "asx-bench: peer: listen: %s\n", strerror(errno));
    return 1;
  }
  srv->port = ntohs(a.sin_port);
  return pthread_create(&srv->acceptor, NULL, thr_accept_main, srv) != 0;
}

/* Once every client closed its socket: stops accepting and waits for the connection threads. */
static void thr_server_stop(struct thr_server *srv) {
  shutdown(srv->lfd, SHUT_RDWR); /* wakes the blocked accept */
  pthread_join(srv->acceptor, NULL);
  close(srv->lfd);
  pthread_mutex_lock(&srv->mu);
  while (srv->live > 0) pthread_cond_wait(&srv->cv, &srv->mu);
  pthread_mutex_unlock(&srv->mu);
  pthread_attr_destroy(&srv->conn_attr);
  pthread_cond_destroy(&srv->cv);
  pthread_mutex_destroy(&srv->mu);
}

/* ---- the clients ------------------------------------------------------------------------------ */
struct thr_window { /* STREAM: the writer stays at most NET_STREAM_WINDOW bytes ahead */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t written, read;
};

struct thr_client {
  const struct net_job *j;
  uint16_t port;
  int fd;
  uint64_t iters;
  int failed;
  struct thr_window *win;
};

static void *pingpong_main(void *arg) {
  struct thr_client *c = arg;
  size_t msg = c->j->msg;
  char out[NET_ECHO_BUF], in[NET_ECHO_BUF];
  memset(out, 'a', msg);
  for (uint64_t i = 0; i < c->iters; i++) {
    out[0] = (char)i;
    if (send_all(c->fd, out, msg) != 0 || recv_exact(c->fd, in, msg) != 0 || memcmp(in, out, msg) != 0) {
      c->failed = 1;
      break;
    }
  }
  return NULL;
}

static void *writer_main(void *arg) {
  struct thr_client *c = arg;
  static const char chunk[64 * 1024];
  size_t msg = c->j->msg < sizeof chunk ? c->j->msg : sizeof chunk;
  struct thr_window *w = c->win;
  for (uint64_t left = c->iters; left > 0;) {
    size_t n = left < msg ? (size_t)left : msg;
    pthread_mutex_lock(&w->mu);
    while (w->written + n - w->read > NET_STREAM_WINDOW) pthread_cond_wait(&w->cv, &w->mu);
    w->written += n;
    pthread_mutex_unlock(&w->mu);
    if (send_all(c->fd, chunk, n) != 0) {
      c->failed = 1;
      break;
    }
    left -= n;
  }
  return NULL;
}

static void *reader_main(void *arg) {
  struct thr_client *c = arg;
  char buf[64 * 1024];
  for (uint64_t left = c->iters; left > 0;) {
    ssize_t n = recv(c->fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      c->failed = 1;
      break;
    }
    left -= (uint64_t)n;
    pthread_mutex_lock(&c->win->mu);
    c->win->read += (uint64_t)n;
    pthread_cond_signal(&c->win->cv);
    pthread_mutex_unlock(&c->win->mu);
  }
  return NULL;
}

static void *connect_main(void *arg) {
  struct thr_client *c = arg;
  for (uint64_t i = 0; i < c->iters && !c->failed; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(c->port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      fprintf(stderr, "asx-bench: peer connect: %s\n", strerror(errno));
      c->failed = 1;
    } else {
      set_nodelay(fd);
      shutdown(fd, SHUT_WR);
      char byte;
      ssize_t n;
      while ((n = recv(fd, &byte, 1, 0)) > 0 || (n < 0 && errno == EINTR)) {
      }
      if (n < 0) c->failed = 1;
    }
    if (fd >= 0) close(fd);
  }
  return NULL;
}

static int connect_blocking(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = loopback(port);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

/* One repetition: the client threads started and joined, timed. */
static int thr_one_rep(struct net_job *j, struct thr_client *cl, int nthreads, double *ns) {
  pthread_t *th = calloc((size_t)nthreads, sizeof *th);
  if (!th) return 1;
  uint64_t t0 = bench_clock_ns();
  int started = 0, failed = 0;
  for (int i = 0; i < nthreads; i++) {
    void *(*fn)(void *) = j->kind == NET_PINGPONG ? pingpong_main
                          : j->kind == NET_CONNECT ? connect_main
                          : i == 0                 ? reader_main
                                                   : writer_main;
    if (pthread_create(&th[i], NULL, fn, &cl[i]) != 0) break;
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  *ns = (double)(bench_clock_ns() - t0);
  for (int i = 0; i < started; i++) failed |= cl[i].failed;
  free(th);
  return started != nthreads || failed;
}

int net_thr_run(struct net_job *j) {
  struct thr_server srv;
  j->best_ns = 0;
  if (thr_server_start(&srv) != 0) return 1;
  int nthreads = j->kind == NET_STREAM ? 2 : j->conns;
  int nconn = j->kind == NET_PINGPONG ? j->conns : j->kind == NET_STREAM ? 1 : 0;
  struct thr_client *cl = calloc((size_t)nthreads, sizeof *cl);
  int *fds = calloc((size_t)(nconn > 0 ? nconn : 1), sizeof *fds);
  int rc = !cl || !fds;
  for (int i = 0; i < nconn && rc == 0; i++)
    if ((fds[i] = connect_blocking(srv.port)) < 0) rc = 1;
  struct thr_window win;
  pthread_mutex_init(&win.mu, NULL);
  pthread_cond_init(&win.cv, NULL);
  for (int r = 0; r < j->reps && rc == 0; r++) {
    win.written = win.read = 0;
    for (int i = 0; i < nthreads; i++) {
      cl[i] = (struct thr_client){.j = j, .port = srv.port, .iters = j->iters, .win = &win};
      if (j->kind == NET_PINGPONG) cl[i].fd = fds[i];
      if (j->kind == NET_STREAM) cl[i].fd = fds[0];
      if (j->kind == NET_CONNECT) cl[i].iters = j->iters / (uint64_t)j->conns;
    }
    double ns;
    rc = thr_one_rep(j, cl, nthreads, &ns);
    if (rc == 0 && (j->best_ns <= 0 || ns < j->best_ns)) j->best_ns = ns;
  }
  pthread_cond_destroy(&win.cv);
  pthread_mutex_destroy(&win.mu);
  if (rc != 0) fprintf(stderr, "asx-bench: thread-per-connection peer failed\n");
  for (int i = 0; i < nconn && fds; i++)
    if (fds[i] > 0) close(fds[i]);
  thr_server_stop(&srv);
  free(cl);
  free(fds);
  return rc;
}

/* ---- idle connections: RSS per connection thread ---------------------------------------------- */
static int thr_wait_accepted(struct thr_server *srv, long want) {
  for (int spins = 0; spins < 20000; spins++) {
    pthread_mutex_lock(&srv->mu);
    long live = srv->live;
    pthread_mutex_unlock(&srv->mu);
    if (live >= want) return 0;
    usleep(1000);
  }
  fprintf(stderr, "asx-bench: peer idle: fewer than %ld connections accepted\n", want);
  return 1;
}

int net_thr_idle_rss(int n, size_t stack_size, double *bytes) {
  struct thr_server srv;
  if (thr_server_start(&srv) != 0) return 1;
  pthread_attr_setstacksize(&srv.conn_attr, stack_size);
  int *fds = malloc((size_t)n * sizeof *fds);
  if (!fds) return 1;
  usleep(20000);
  uint64_t rss0 = bench_rss_bytes();
  int opened = 0, rc = 0;
  for (; opened < n && rc == 0; opened++) {
    if ((fds[opened] = net_raw_connect_nb(srv.port)) < 0) {
      rc = 1;
      break;
    }
    if (opened % 256 == 255) rc = thr_wait_accepted(&srv, opened + 1);
  }
  if (rc == 0) rc = thr_wait_accepted(&srv, n);
  usleep(200000); /* every connection thread is blocked in recv */
  uint64_t rss1 = bench_rss_bytes();
  *bytes = ((double)rss1 - (double)rss0) / (double)n;
  for (int i = 0; i < opened; i++) close(fds[i]);
  free(fds);
  thr_server_stop(&srv);
  return rc;
}

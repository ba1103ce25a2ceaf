/* asx-bench net peer: libuv (built only when pkg-config finds libuv). The echo server runs its
 * own loop on its own thread (the classic libuv echo: a buffer per read, uv_try_write first, a
 * write request for the rest, reads paused while more than 1 MiB waits to be written); the
 * clients run callback state machines on a second loop in the calling thread. Two threads, like
 * asx's two workers. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bench.h"
#include "bench_net.h"

/* ---- the server ------------------------------------------------------------------------------- */
struct uv_server {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t stop;
  uv_thread_t thread;
  uint16_t port;
  atomic_long accepted;
};

struct uv_sconn {
  uv_tcp_t tcp;
  int paused;
};

struct uv_swrite {
  uv_write_t req;
  char *buf;
};

enum { UV_PAUSE_ABOVE = 1 << 20, UV_RESUME_BELOW = 256 * 1024 };

static void free_handle(uv_handle_t *h) { free(h); }

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h;
  (void)hint;
  b->base = malloc(NET_ECHO_BUF);
  b->len = b->base ? NET_ECHO_BUF : 0;
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void srv_written(uv_write_t *req, int status) {
  struct uv_swrite *w = (struct uv_swrite *)req;
  struct uv_sconn *c = (struct uv_sconn *)req->handle;
  free(w->buf);
  free(w);
  if (status == 0 && c->paused && c->tcp.write_queue_size < UV_RESUME_BELOW) {
    c->paused = 0;
    uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
  }
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct uv_sconn *c = (struct uv_sconn *)st;
  if (n <= 0) {
    free(b->base);
    if (n < 0 && !uv_is_closing((uv_handle_t *)st)) uv_close((uv_handle_t *)st, free_handle);
    return;
  }
  uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
  int k = uv_try_write(st, &out, 1);
  if (k == n) {
    free(b->base);
    return;
  }
  if (k > 0) out = uv_buf_init(b->base + k, (unsigned)(n - k));
  struct uv_swrite *w = malloc(sizeof *w);
  if (!w || uv_write(&w->req, st, &out, 1, srv_written) != 0) {
    free(w);
    free(b->base);
    uv_close((uv_handle_t *)st, free_handle);
    return;
  }
  w->buf = b->base;
  if (st->write_queue_size > UV_PAUSE_ABOVE) {
    c->paused = 1;
    uv_read_stop(st);
  }
}

static void srv_connection(uv_stream_t *l, int status) {
  if (status != 0) return;
  struct uv_sconn *c = calloc(1, sizeof *c);
  if (!c) return;
  uv_tcp_init(l->loop, &c->tcp);
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, free_handle);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
  atomic_fetch_add(&((struct uv_server *)l->data)->accepted, 1);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  /* Connections were malloc'd; the listener and the async live in struct uv_server. */
  uv_close(h, h->type == UV_TCP && h->data == NULL ? free_handle : NULL);
}

static void srv_stop(uv_async_t *a) { uv_walk(a->loop, close_any, NULL); }

static void srv_thread(void *arg) {
  struct uv_server *s = arg;
  uv_run(&s->loop, UV_RUN_DEFAULT);
}

static int uv_server_start(struct uv_server *s) {
  memset(s, 0, sizeof *s);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  if (uv_loop_init(&s->loop) != 0) return 1;
  uv_tcp_init(&s->loop, &s->listener);
  s->listener.data = s; /* marks the handles that are not malloc'd (see close_any) */
  uv_async_init(&s->loop, &s->stop, srv_stop);
  s->stop.data = s;
  struct sockaddr_in bound;
  int len = sizeof bound;
  if (uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0) != 0 ||
      uv_listen((uv_stream_t *)&s->listener, 4096, srv_connection) != 0 ||
      uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len) != 0) {
    fprintf(stderr, "asx-bench: libuv peer: cannot listen\n");
    return 1;
  }
  s->port = ntohs(bound.sin_port);
  return uv_thread_create(&s->thread, srv_thread, s) != 0;
}

static void uv_server_stop(struct uv_server *s) {
  uv_async_send(&s->stop);
  uv_thread_join(&s->thread);
  uv_loop_close(&s->loop);
}

/* ---- the clients ------------------------------------------------------------------------------ */
struct uv_client {
  uv_tcp_t tcp; /* first: the handle pointer is the client pointer */
  uv_connect_t creq;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  struct uv_bench *b;
  uint64_t left;     /* round trips, bytes to read back, or connections to make */
  uint64_t to_write; /* STREAM: bytes still to be queued */
  int in_flight;     /* STREAM: writes queued */
  size_t got;
  char out[NET_ECHO_BUF];
  char in[64 * 1024];
};

struct uv_bench {
  struct net_job *j;
  uv_loop_t loop;
  uint16_t port;
  int connected, failed;
};

static void cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  struct uv_client *c = (struct uv_client *)h;
  *b = uv_buf_init(c->in, sizeof c->in);
}

static void cl_fail(struct uv_client *c, const char *what, int err) {
  fprintf(stderr, "asx-bench: libuv client: %s: %s\n", what, uv_strerror(err));
  c->b->failed = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
}

static void pp_written(uv_write_t *req, int status) {
  if (status != 0) cl_fail(req->data, "write", status);
}

static void pp_send(struct uv_client *c) {
  uv_buf_t b = uv_buf_init(c->out, (unsigned)c->b->j->msg);
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, pp_written);
  if (rc != 0) cl_fail(c, "write", rc);
}

static void pp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct uv_client *c = (struct uv_client *)st;
  if (n < 0) return cl_fail(c, "read", (int)n);
  c->got += (size_t)n;
  if (c->got < c->b->j->msg) return;
  c->got = 0;
  if (--c->left == 0) {
    uv_read_stop(st);
    return;
  }
  pp_send(c);
}

static void st_send_more(struct uv_client *c);

static void st_written(uv_write_t *req, int status) {
  struct uv_client *c = req->data;
  req->data = NULL; /* this request may carry the next chunk */
  c->in_flight--;
  if (status != 0) return cl_fail(c, "write", status);
  st_send_more(c);
}

/* Keeps up to 4 chunk writes queued (each request is its own uv_write_t), at most
 * NET_STREAM_WINDOW bytes ahead of what was read back. */
static uv_write_t st_reqs[4];
static void st_send_more(struct uv_client *c) {
  static const char chunk[64 * 1024];
  size_t msg = c->b->j->msg < sizeof chunk ? c->b->j->msg : sizeof chunk;
  for (int i = 0; i < 4 && c->to_write > 0; i++) {
    if (st_reqs[i].data != NULL) continue;
    uv_buf_t b = uv_buf_init((char *)chunk, (unsigned)(c->to_write < msg ? c->to_write : msg));
    uint64_t ahead = (c->b->j->iters - c->to_write) - (c->b->j->iters - c->left); /* written - read */
    if (ahead + b.len > NET_STREAM_WINDOW) return; /* st_read sends more as the echo comes back */
    st_reqs[i].data = c;
    if (uv_write(&st_reqs[i], (uv_stream_t *)&c->tcp, &b, 1, st_written) != 0) return cl_fail(c, "write", -1);
    c->to_write -= b.len;
    c->in_flight++;
  }
}

static void st_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct uv_client *c = (struct uv_client *)st;
  if (n < 0) return cl_fail(c, "read", (int)n);
  c->left -= (uint64_t)n;
  if (c->left == 0) uv_read_stop(st);
  else st_send_more(c);
}

static void cn_start(struct uv_client *c);

static void cn_closed(uv_handle_t *h) {
  struct uv_client *c = (struct uv_client *)h;
  if (c->left > 0 && !c->b->failed) cn_start(c);
}

static void cn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct uv_client *c = (struct uv_client *)st;
  if (n >= 0) return; /* the server sends nothing; wait for its end of stream */
  if (n != UV_EOF) cl_fail(c, "read", (int)n);
  c->left--;
  uv_close((uv_handle_t *)st, cn_closed);
}

static void cn_shut(uv_shutdown_t *req, int status) { (void)req, (void)status; }

static void cn_connected(uv_connect_t *req, int status) {
  struct uv_client *c = req->data;
  if (status != 0) {
    cl_fail(c, "connect", status);
    uv_close((uv_handle_t *)&c->tcp, NULL);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, cn_shut);
  uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cn_read);
}

static void cn_start(struct uv_client *c) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", c->b->port, &a);
  uv_tcp_init(&c->b->loop, &c->tcp);
  c->creq.data = c;
  if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, cn_connected) != 0) {
    c->b->failed = 1;
    uv_close((uv_handle_t *)&c->tcp, NULL);
  }
}

static void setup_connected(uv_connect_t *req, int status) {
  struct uv_client *c = req->data;
  if (status != 0) {
    cl_fail(c, "connect", status);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->b->connected++;
}

int net_uv_run(struct net_job *j) {
  struct uv_server srv;
  j->best_ns = 0;
  if (uv_server_start(&srv) != 0) return 1;
  struct uv_bench b = {.j = j, .port = srv.port};
  uv_loop_init(&b.loop);
  struct uv_client *cl = calloc((size_t)j->conns, sizeof *cl);
  int nconn = j->kind == NET_CONNECT ? 0 : j->kind == NET_STREAM ? 1 : j->conns;
  if (!cl) b.failed = 1;
  for (int i = 0; i < nconn && !b.failed; i++) {
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", b.port, &a);
    cl[i].b = &b;
    cl[i].creq.data = &cl[i];
    uv_tcp_init(&b.loop, &cl[i].tcp);
    if (uv_tcp_connect(&cl[i].creq, &cl[i].tcp, (struct sockaddr *)&a, setup_connected) != 0) b.failed = 1;
  }
  uv_run(&b.loop, UV_RUN_DEFAULT);
  if (b.connected != nconn) b.failed = 1;
  for (int r = 0; r < j->reps && !b.failed; r++) {
    uint64_t t0 = bench_clock_ns();
    for (int i = 0; i < j->conns; i++) {
      struct uv_client *c = &cl[i];
      c->b = &b;
      c->got = 0;
      if (j->kind == NET_PINGPONG) {
        c->left = j->iters;
        memset(c->out, 'a', j->msg);
        uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, pp_read);
        pp_send(c);
      } else if (j->kind == NET_STREAM) {
        c->left = c->to_write = j->iters;
        for (int k = 0; k < 4; k++) st_reqs[k].data = NULL;
        uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, st_read);
        st_send_more(c);
      } else {
        c->left = j->iters / (uint64_t)j->conns;
        cn_start(c);
      }
    }
    uv_run(&b.loop, UV_RUN_DEFAULT);
    double ns = (double)(bench_clock_ns() - t0);
    if (!b.failed && (j->best_ns <= 0 || ns < j->best_ns)) j->best_ns = ns;
  }
  for (int i = 0; i < nconn; i++)
    if (!uv_is_closing((uv_handle_t *)&cl[i].tcp)) uv_close((uv_handle_t *)&cl[i].tcp, NULL);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  uv_loop_close(&b.loop);
  free(cl);
  uv_server_stop(&srv);
  if (b.failed) fprintf(stderr, "asx-bench: libuv peer failed\n");
  return b.failed;
}

/* ---- idle connections: RSS per connection ---------------------------------------------------- */
static int uv_wait_accepted(struct uv_server *s, long want) {
  for (int spins = 0; spins < 20000; spins++) {
    if (atomic_load(&s->accepted) >= want) return 0;
    usleep(1000);
  }
  fprintf(stderr, "asx-bench: libuv idle: fewer than %ld connections accepted\n", want);
  return 1;
}

int net_uv_idle_rss(int n, double *bytes) {
  struct uv_server srv;
  int *fds = malloc((size_t)n * sizeof *fds);
  if (!fds || uv_server_start(&srv) != 0) {
    free(fds);
    return 1;
  }
  usleep(20000);
  uint64_t rss0 = bench_rss_bytes();
  int opened = 0, rc = 0;
  for (; opened < n && rc == 0; opened++) {
    if ((fds[opened] = net_raw_connect_nb(srv.port)) < 0) {
      rc = 1;
      break;
    }
    if (opened % 256 == 255) rc = uv_wait_accepted(&srv, opened + 1);
  }
  if (rc == 0) rc = uv_wait_accepted(&srv, n);
  usleep(200000);
  uint64_t rss1 = bench_rss_bytes();
  *bytes = ((double)rss1 - (double)rss0) / (double)n;
  for (int i = 0; i < opened; i++) close(fds[i]);
  free(fds);
  uv_server_stop(&srv);
  return rc;
}

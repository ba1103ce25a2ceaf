/* asx-bench net: the workloads shared by the asx implementation (bench_net.c) and its peers
 * (bench_net_peers.c: blocking sockets with a thread per connection; bench_net_uv.c: libuv). Every
 * implementation runs its own server and its own clients in this process, over 127.0.0.1. */
#ifndef ASX_BENCH_NET_H
#define ASX_BENCH_NET_H

#include <stddef.h>
#include <stdint.h>

/* What the clients do against an echo server (the server is the same for every kind). */
enum net_kind {
  NET_PINGPONG, /* each of `conns` connections: `iters` round trips of `msg` bytes (write, read back) */
  NET_STREAM,   /* one connection: a writer sends `iters` bytes in `msg`-byte writes while a reader
                   reads the echo back (full duplex), at most NET_STREAM_WINDOW bytes ahead of it */
  NET_CONNECT   /* `conns` client loops share `iters` connections: connect, shut down the write
                   side, read the server's end of stream, close (the server accepts, sees EOF, closes) */
};

/* The streaming writer never runs more than this many bytes ahead of the reader. Without a bound
 * the client pushes tens of MiB into the socket buffers; under load the loopback device then
 * drops segments (netdev backlog), and a run once stalled for minutes in TCP retransmission
 * backoff (RTO 120 s) with a 28 MiB receive queue. Must be a multiple of the write size. */
#define NET_STREAM_WINDOW (1u << 20)

/* Echo handlers read into a buffer of this size, in every implementation. */
#define NET_ECHO_BUF (16 * 1024)

struct net_job {
  enum net_kind kind;
  int conns;
  size_t msg;
  uint64_t iters;
  int reps;
  double best_ns; /* out: the best (lowest) bench-clock ns of one repetition */
};

/* Each returns 0 and fills j->best_ns, or 1 after printing why on stderr. */
int net_asx_run(struct net_job *j);
int net_thr_run(struct net_job *j);
int net_uv_run(struct net_job *j); /* only when built with libuv (ASX_BENCH_HAVE_LIBUV) */

/* Idle connections: n clients connected (raw non-blocking sockets held open by this process),
 * each served by a task (asx) or a thread (peer) blocked in read. *bytes = RSS delta / n. */
int net_asx_idle_rss(int n, double *bytes);
int net_thr_idle_rss(int n, size_t stack_size, double *bytes);
int net_uv_idle_rss(int n, double *bytes); /* libuv: a handle per connection, reading */

/* Helpers shared by the implementations (bench_net_peers.c). */
/* A non-blocking connect of a raw TCP socket to 127.0.0.1:port; the descriptor or -1. */
int net_raw_connect_nb(uint16_t port);
/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit now in force. */
long net_raise_nofile(void);

#endif

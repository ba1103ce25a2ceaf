/* Socket streams (TCP and Unix): non-blocking descriptors; a call tries the syscall first and
 * waits in asx_io_wait only on EAGAIN, so a busy connection costs no epoll round trip. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_internal.h"
#include "sock_internal.h"

typedef struct sock_stream {
  asx_stream base;
  int fd;
  asx_net_reactor *edge; /* the EDGE-mode reactor fd is registered with, forgotten at close */
} sock_stream;

static int sock_wait(asx_cx *cx, sock_stream *ss, unsigned events, uint64_t until) {
  return net_io_wait_owned(cx, ss->fd, events, until, &ss->edge);
}

static int sock_read(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n, uint64_t until) {
  sock_stream *ss = (sock_stream *)s;
  int fd = ss->fd;
  for (;;) {
    ssize_t r = recv(fd, buf, cap, 0);
    if (r > 0) {
      *n = (size_t)r;
      return 0;
    }
    if (r == 0) return ASX_ECLOSED;
    int e = errno; /* read at once: errno's address changes when the task migrates */
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) return net_errno_to_asx(e);
    int rc = sock_wait(cx, ss, ASX_IO_READ, until);
    if (rc) return rc;
  }
}

static int sock_writev(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt, size_t *n,
                       uint64_t until) {
  sock_stream *ss = (sock_stream *)s;
  int fd = ss->fd;
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = (struct iovec *)iov;
  msg.msg_iovlen = (size_t)iovcnt;
  for (;;) {
    /* MSG_NOSIGNAL: a peer that went away is ASX_EPIPE, never a process-killing SIGPIPE. */
    ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (r >= 0) {
      *n = (size_t)r;
      return 0;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) return net_errno_to_asx(e);
    int rc = sock_wait(cx, ss, ASX_IO_WRITE, until);
    if (rc) return rc;
  }
}

static int sock_shutdown(asx_cx *cx, asx_stream *s) {
  (void)cx;
  if (shutdown(((sock_stream *)s)->fd, SHUT_WR) != 0) return net_errno_to_asx(errno);
  return 0;
}

static void sock_close(asx_stream *s) {
  sock_stream *ss = (sock_stream *)s;
  net_reactor_forget(ss->edge, ss->fd);
  close(ss->fd);
  asx_free(s->alloc, ss);
}

static int sock_fd(const asx_stream *s) { return ((const sock_stream *)s)->fd; }

static void sock_abort(asx_stream *s) { shutdown(((sock_stream *)s)->fd, SHUT_RDWR); }

static const stream_ops sock_ops = {
    .read = sock_read,
    .writev = sock_writev,
    .shutdown = sock_shutdown,
    .close = sock_close,
    .fd = sock_fd,
    .abort = sock_abort,
};

int net_sock_set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return ASX_EINVAL;
  return 0;
}

int asx_stream_from_fd(int fd, const asx_allocator *alloc, asx_stream **out) {
  if (fd < 0 || !out) return ASX_EINVAL;
  *out = NULL;
  if (net_sock_set_nonblock(fd) != 0) return ASX_EINVAL;
  sock_stream *ss = asx_calloc(alloc, 1, sizeof(*ss));
  if (!ss) return ASX_ENOMEM;
  net_stream_init(&ss->base, &sock_ops, alloc);
  ss->fd = fd;
  *out = &ss->base;
  return 0;
}

void net_sock_stream_set_reactor(asx_stream *s, asx_net_reactor *r) {
  if (s && s->ops == &sock_ops) ((sock_stream *)s)->edge = r;
}

void net_sock_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* best effort: not TCP = no-op */
}

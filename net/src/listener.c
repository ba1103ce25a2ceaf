/* Listeners (TCP over IPv4/IPv6, Unix) and outgoing connections with a timeout. Addresses are
 * numeric only: name resolution blocks, and a blocked worker stalls every task queued on it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_internal.h"
#include "sock_internal.h"

struct asx_listener {
  int fd;
  uint16_t port;
  bool tcp;
  bool nodelay;
  char *path; /* Unix: unlinked at close */
  const asx_allocator *alloc;
  sim_listener *sim; /* a simulated listener: fd is -1 */
  asx_net_reactor *edge; /* the EDGE-mode reactor fd is registered with, forgotten at close */
};

int net_listener_from_sim(sim_listener *sl, const asx_allocator *alloc, asx_listener **out) {
  asx_listener *l = asx_calloc(alloc, 1, sizeof(*l));
  if (!l) {
    net_sim_listener_free(sl);
    return ASX_ENOMEM;
  }
  l->fd = -1;
  l->alloc = alloc;
  l->sim = sl;
  *out = l;
  return 0;
}

sim_listener *net_listener_sim(asx_listener *l) { return l->sim; }

void asx_listen_opts_default(asx_listen_opts *o) {
  memset(o, 0, sizeof(*o));
  o->backlog = 511;
  o->reuseaddr = true;
  o->nodelay = true;
  o->v6only = true;
}

void asx_connect_opts_default(asx_connect_opts *o) {
  memset(o, 0, sizeof(*o));
  o->nodelay = true;
}

int net_parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (!host) return ASX_EINVAL;
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  char tmp[64];
  size_t hl = strlen(host);
  if (hl >= 2 && hl < sizeof(tmp) && host[0] == '[' && host[hl - 1] == ']') { /* "[::1]" */
    memcpy(tmp, host + 1, hl - 2);
    tmp[hl - 2] = '\0';
    host = tmp;
  }
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof(*a4);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof(*a6);
    return 0;
  }
  return ASX_EINVAL;
}

static int listener_make(int fd, const asx_listen_opts *o, bool tcp, const char *path,
                         asx_listener **out) {
  asx_listener *l = asx_calloc(o->alloc, 1, sizeof(*l));
  if (!l) return ASX_ENOMEM;
  if (path) {
    size_t n = strlen(path);
    l->path = asx_alloc(o->alloc, n + 1);
    if (!l->path) {
      asx_free(o->alloc, l);
      return ASX_ENOMEM;
    }
    memcpy(l->path, path, n + 1);
  }
  l->fd = fd;
  l->tcp = tcp;
  l->nodelay = o->nodelay;
  l->alloc = o->alloc;
  if (tcp) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
      l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
  }
  *out = l;
  return 0;
}

int asx_tcp_listen(const char *host, uint16_t port, const asx_listen_opts *o, asx_listener **out) {
  asx_listen_opts def;
  if (!o) {
    asx_listen_opts_default(&def);
    o = &def;
  }
  if (!out) return ASX_EINVAL;
  *out = NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (net_parse_addr(host, port, &ss, &len) != 0) return ASX_EINVAL;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return net_errno_to_asx(errno);
  int one = 1, v6only = o->v6only ? 1 : 0;
  if ((o->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) ||
      (o->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      (ss.ss_family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) ||
      bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, o->backlog > 0 ? o->backlog : 511) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return e == EADDRINUSE ? ASX_EBUSY : net_errno_to_asx(e);
  }
  int rc = listener_make(fd, o, true, NULL, out);
  if (rc) close(fd);
  return rc;
}

static int unix_addr(const char *path, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof(*sa));
  if (!path || !*path || strlen(path) >= sizeof(sa->sun_path)) return ASX_EINVAL;
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path, strlen(path));
  return 0;
}

int asx_unix_listen(const char *path, const asx_listen_opts *o, asx_listener **out) {
  asx_listen_opts def;
  if (!o) {
    asx_listen_opts_default(&def);
    o = &def;
  }
  if (!out) return ASX_EINVAL;
  *out = NULL;
  struct sockaddr_un sa;
  if (unix_addr(path, &sa) != 0) return ASX_EINVAL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return net_errno_to_asx(errno);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(fd, o->backlog > 0 ? o->backlog : 511) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return e == EADDRINUSE ? ASX_EBUSY : net_errno_to_asx(e);
  }
  int rc = listener_make(fd, o, false, path, out);
  if (rc) {
    close(fd);
    unlink(path);
  }
  return rc;
}

uint16_t asx_listener_port(const asx_listener *l) { return l->port; }
int asx_listener_fd(const asx_listener *l) { return l->fd; }

int asx_listener_accept(asx_cx *cx, asx_listener *l, asx_stream **out) {
  if (!l || !out) return ASX_EINVAL;
  *out = NULL;
  int rc = asx_checkpoint(cx);
  if (rc) return rc;
  if (l->sim) return net_sim_accept(cx, l->sim, out);
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (l->tcp && l->nodelay) net_sock_nodelay(fd);
      rc = asx_stream_from_fd(fd, l->alloc, out);
      if (rc) close(fd);
      return rc;
    }
    int e = errno;
    if (e == EINTR || e == ECONNABORTED) continue; /* the client gave up: not our error */
    if (e != EAGAIN && e != EWOULDBLOCK) return net_errno_to_asx(e);
    rc = net_io_wait_owned(cx, l->fd, ASX_IO_READ, ASX_UNLIMITED, &l->edge);
    if (rc) return rc;
  }
}

void asx_listener_close(asx_listener *l) {
  if (!l) return;
  if (l->sim) {
    net_sim_listener_free(l->sim);
  } else {
    net_reactor_forget(l->edge, l->fd);
    close(l->fd);
  }
  if (l->path) {
    unlink(l->path);
    asx_free(l->alloc, l->path);
  }
  asx_free(l->alloc, l);
}

/* Completes a non-blocking connect: wait for writability, then read the verdict. */
static int connect_finish(asx_cx *cx, int fd, uint64_t until, asx_net_reactor **edge) {
  for (;;) {
    int rc = net_io_wait_owned(cx, fd, ASX_IO_WRITE, until, edge);
    if (rc) return rc;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) return net_errno_to_asx(errno);
    if (soerr == 0) {
      /* Spurious readiness leaves the socket still connecting: check it really connected. */
      struct sockaddr_storage peer;
      socklen_t pl = sizeof(peer);
      if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) return 0;
      if (errno != ENOTCONN) return net_errno_to_asx(errno);
      continue;
    }
    return net_errno_to_asx(soerr);
  }
}

static int connect_any(asx_cx *cx, int family, const struct sockaddr *sa, socklen_t len,
                       const asx_connect_opts *o, asx_stream **out) {
  asx_connect_opts def;
  if (!o) {
    asx_connect_opts_default(&def);
    o = &def;
  }
  *out = NULL;
  int rc = asx_checkpoint(cx);
  if (rc) return rc;
  uint64_t until = ASX_UNLIMITED;
  if (o->timeout_ns) {
    uint64_t now = asx_now(cx);
    until = o->timeout_ns > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + o->timeout_ns;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return net_errno_to_asx(errno);
  asx_net_reactor *edge = NULL;
  for (;;) {
    if (connect(fd, sa, len) == 0) break;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EINPROGRESS) {
      rc = connect_finish(cx, fd, until, &edge);
      break;
    }
    if (e == EAGAIN && family == AF_UNIX) {
      /* A full Unix backlog: no readiness to wait for, so retry after a short pause. */
      if (until != ASX_UNLIMITED && asx_now(cx) >= until) {
        rc = ASX_ETIMEDOUT;
        break;
      }
      rc = asx_sleep(cx, 1000000);
      if (rc) break;
      continue;
    }
    rc = net_errno_to_asx(e);
    break;
  }
  if (rc == 0) {
    if (family != AF_UNIX && o->nodelay) net_sock_nodelay(fd);
    rc = asx_stream_from_fd(fd, o->alloc, out);
  }
  if (rc == 0) {
    net_sock_stream_set_reactor(*out, edge); /* connect_finish may have registered fd */
  } else {
    net_reactor_forget(edge, fd);
    close(fd);
  }
  return rc;
}

int asx_tcp_connect(asx_cx *cx, const char *host, uint16_t port, const asx_connect_opts *o,
                    asx_stream **out) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (net_parse_addr(host, port, &ss, &len) != 0 || port == 0) return ASX_EINVAL;
  return connect_any(cx, ss.ss_family, (struct sockaddr *)&ss, len, o, out);
}

int asx_unix_connect(asx_cx *cx, const char *path, const asx_connect_opts *o, asx_stream **out) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  struct sockaddr_un sa;
  if (unix_addr(path, &sa) != 0) return ASX_EINVAL;
  return connect_any(cx, AF_UNIX, (struct sockaddr *)&sa, sizeof(sa), o, out);
}

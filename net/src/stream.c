/* The generic stream layer: argument checks, the checkpoint every call starts with, deadlines
 * and idle timeouts, and the loops that make read_exact / write_all / writev exact about how many
 * bytes moved. Kinds (socket, TLS, ...) only implement one-shot read and write. */
#include <errno.h>
#include <string.h>

#include "net_internal.h"

#define WRITEV_BATCH 16 /* iovecs handed to a kind per attempt */

void net_stream_init(asx_stream *s, const stream_ops *ops, const asx_allocator *alloc) {
  memset(s, 0, sizeof(*s));
  s->ops = ops;
  s->alloc = alloc;
  s->read_deadline = ASX_UNLIMITED;
  s->write_deadline = ASX_UNLIMITED;
}

int net_errno_to_asx(int e) {
  switch (e) {
  case ECONNRESET:
  case ECONNREFUSED:
  case ECONNABORTED:
  case EHOSTUNREACH:
  case ENETUNREACH:
    return ASX_ECONNRESET;
  case EPIPE:
    return ASX_EPIPE;
  case ETIMEDOUT:
    return ASX_ETIMEDOUT;
  case EMFILE:
  case ENFILE:
    return ASX_ELIMIT;
  case ENOMEM:
  case ENOBUFS:
    return ASX_ENOMEM;
  case EINVAL:
  case EAFNOSUPPORT:
  case ENAMETOOLONG:
    return ASX_EINVAL;
  default:
    return ASX_EIO;
  }
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t after(asx_cx *cx, uint64_t ns) {
  if (ns == 0) return ASX_UNLIMITED;
  uint64_t now = asx_now(cx);
  return ns > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + ns;
}

uint64_t net_read_until(asx_cx *cx, const asx_stream *s) {
  return min_u64(s->read_deadline, after(cx, s->idle_timeout_ns));
}

uint64_t net_write_until(asx_cx *cx, const asx_stream *s) {
  return min_u64(s->write_deadline, after(cx, s->idle_timeout_ns));
}

int net_stream_read_until(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n,
                          uint64_t until) {
  *n = 0;
  int rc = asx_checkpoint(cx);
  if (rc) return rc;
  until = min_u64(until, net_read_until(cx, s));
  if (until != ASX_UNLIMITED && asx_now(cx) >= until) return ASX_ETIMEDOUT;
  return s->ops->read(cx, s, buf, cap, n, until);
}

int asx_stream_read(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n) {
  size_t dummy;
  if (!n) n = &dummy;
  *n = 0;
  if (!s || !buf || cap == 0) return ASX_EINVAL;
  return net_stream_read_until(cx, s, buf, cap, n, ASX_UNLIMITED);
}

int asx_stream_read_exact(asx_cx *cx, asx_stream *s, void *buf, size_t n, size_t *got) {
  size_t done = 0;
  int rc = 0;
  if (!s || (!buf && n)) rc = ASX_EINVAL;
  while (rc == 0 && done < n) {
    size_t k = 0;
    rc = net_stream_read_until(cx, s, (char *)buf + done, n - done, &k, ASX_UNLIMITED);
    done += k;
  }
  if (got) *got = done;
  return rc;
}

int net_stream_writev_until(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt,
                            size_t *written, uint64_t until) {
  size_t done = 0;
  int rc = asx_checkpoint(cx); /* every call is a checkpoint, even one with nothing to write */
  bool first = true;
  until = min_u64(until, net_write_until(cx, s));
  int i = 0;
  size_t off = 0; /* bytes of iov[i] already written */
  while (rc == 0) {
    while (i < iovcnt && off == iov[i].iov_len) {
      i++;
      off = 0;
    }
    if (i == iovcnt) break;
    /* A checkpoint per attempt: a long write to a fast reader never waits, and must still yield
     * to other tasks and observe cancellation (reporting what it wrote so far). */
    if (!first && (rc = asx_checkpoint(cx)) != 0) break;
    first = false;
    struct iovec batch[WRITEV_BATCH];
    int nb = 0;
    for (int j = i; j < iovcnt && nb < WRITEV_BATCH; j++) {
      size_t skip = j == i ? off : 0;
      if (iov[j].iov_len == skip) continue;
      batch[nb].iov_base = (char *)iov[j].iov_base + skip;
      batch[nb].iov_len = iov[j].iov_len - skip;
      nb++;
    }
    if (until != ASX_UNLIMITED && asx_now(cx) >= until) {
      rc = ASX_ETIMEDOUT;
      break;
    }
    size_t k = 0;
    rc = s->ops->writev(cx, s, batch, nb, &k, until);
    done += k;
    while (k > 0) { /* advance the cursor by k bytes */
      size_t room = iov[i].iov_len - off;
      if (k < room) {
        off += k;
        k = 0;
      } else {
        k -= room;
        i++;
        off = 0;
      }
    }
  }
  if (written) *written = done;
  return rc;
}

int asx_stream_writev(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt,
                      size_t *written) {
  if (written) *written = 0;
  if (!s || iovcnt < 0 || (iovcnt > 0 && !iov)) return ASX_EINVAL;
  return net_stream_writev_until(cx, s, iov, iovcnt, written, ASX_UNLIMITED);
}

int asx_stream_write_all(asx_cx *cx, asx_stream *s, const void *buf, size_t n, size_t *written) {
  if (written) *written = 0;
  if (!s || (!buf && n)) return ASX_EINVAL;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
  return net_stream_writev_until(cx, s, &iov, 1, written, ASX_UNLIMITED);
}

int asx_stream_shutdown(asx_cx *cx, asx_stream *s) {
  if (!s) return ASX_EINVAL;
  return s->ops->shutdown(cx, s);
}

void net_stream_abort(asx_stream *s) {
  if (s && s->ops->abort) s->ops->abort(s);
}

void asx_stream_close(asx_stream *s) {
  if (s) s->ops->close(s);
}

void asx_stream_set_idle_timeout(asx_stream *s, uint64_t ns) { s->idle_timeout_ns = ns; }
void asx_stream_set_read_deadline(asx_stream *s, uint64_t when) { s->read_deadline = when; }
void asx_stream_set_write_deadline(asx_stream *s, uint64_t when) { s->write_deadline = when; }
int asx_stream_fd(const asx_stream *s) { return s->ops->fd ? s->ops->fd(s) : -1; }
asx_tls_conn *asx_stream_tls(asx_stream *s) { return s ? s->tls : NULL; }
const char *asx_stream_alpn(const asx_stream *s) {
  return s && s->tls ? asx_tls_conn_alpn(s->tls) : NULL;
}

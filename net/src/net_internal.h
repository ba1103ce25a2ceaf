/* Internal structures of asx_net shared between its sources. Not public API. */
#ifndef ASX_NET_INTERNAL_H
#define ASX_NET_INTERNAL_H

#include <openssl/ssl.h>
#include <stdarg.h>

#include "asx/net.h"

/* ---- TLS ---- */
typedef struct tls_sni_entry {
  char *name;
  asx_tls_config *alt;
} tls_sni_entry;

struct asx_tls_config {
  asx_tls_role role;
  SSL_CTX *ctx;
  const asx_allocator *alloc;
  unsigned char *alpn_wire; /* length-prefixed list (RFC 7301 wire format) */
  size_t alpn_len;
  bool alpn_required;
  bool verify_peer;
  tls_sni_entry *sni;
  size_t nsni;
};

/* Formats into err (may be NULL) and appends OpenSSL's error queue (then clears it). */
void net_tls_errf(char *err, size_t errlen, bool with_queue, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Copies src into dst (always NUL-terminated when dstlen > 0). */
void net_strlcpy(char *dst, const char *src, size_t dstlen);

/* ---- Streams: every kind implements these; the generic layer adds exactness and deadlines ---- */
typedef struct stream_ops {
  /* One attempt to read up to cap bytes, waiting (checkpoint) until something arrives or the
   * wait ends. `until` = absolute deadline for this wait (ASX_UNLIMITED = none). Same results
   * as asx_stream_read. */
  int (*read)(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n, uint64_t until);
  /* Writes some bytes of iov (>= 1 unless it fails), waiting while the peer is not ready.
   * *n = bytes accepted even on error. */
  int (*writev)(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt, size_t *n,
                uint64_t until);
  int (*shutdown)(asx_cx *cx, asx_stream *s);
  void (*close)(asx_stream *s);
  int (*fd)(const asx_stream *s);
  /* Thread-safe, while s is open: makes every pending and later read/write fail at once
   * (a socket's SHUT_RDWR, a simulated reset). Used by the server's grace cut. */
  void (*abort)(asx_stream *s);
} stream_ops;

struct asx_stream {
  const stream_ops *ops;
  const asx_allocator *alloc;
  uint64_t idle_timeout_ns;
  uint64_t read_deadline;
  uint64_t write_deadline;
  asx_tls_conn *tls; /* TLS streams only */
};

/* Simulated listeners (sim.c), reached through asx_listener. */
typedef struct sim_listener sim_listener;
int net_sim_accept(asx_cx *cx, sim_listener *l, asx_stream **out);
void net_sim_listener_free(sim_listener *l);
/* listener.c: wraps a simulated listener into an asx_listener (takes it, also on failure). */
int net_listener_from_sim(sim_listener *sl, const asx_allocator *alloc, asx_listener **out);
sim_listener *net_listener_sim(asx_listener *l);
/* Thread-safe hard stop of a stream (see stream_ops.abort). */
void net_stream_abort(asx_stream *s);

/* reactor.c. asx_io_wait for a descriptor net/ owns and will close through net_reactor_forget:
 * in EDGE mode it may stay registered edge-triggered, and *owner is set to the reactor (left
 * alone in ONESHOT mode, where nothing is kept between waits). Same results as asx_io_wait. */
int net_io_wait_owned(asx_cx *cx, int fd, unsigned events, uint64_t deadline, asx_net_reactor **owner);
/* Any thread; r may be NULL (no-op). Drops what the reactor keeps about fd; before closing it. */
void net_reactor_forget(asx_net_reactor *r, int fd);
/* sock.c: tells a socket stream the reactor its descriptor may already be registered with (a
 * connect waited on it), so closing the stream forgets it. r may be NULL. */
void net_sock_stream_set_reactor(asx_stream *s, asx_net_reactor *r);

/* Initialises the generic part of a stream. */
void net_stream_init(asx_stream *s, const stream_ops *ops, const asx_allocator *alloc);
/* Maps an errno from a socket call to an ASX_E* code. */
int net_errno_to_asx(int e);
/* The absolute end of a read wait given the stream's idle timeout and read deadline. */
uint64_t net_read_until(asx_cx *cx, const asx_stream *s);
/* The same for a write wait (idle timeout and write deadline). */
uint64_t net_write_until(asx_cx *cx, const asx_stream *s);
/* asx_stream_read / asx_stream_writev with an extra absolute deadline (ASX_UNLIMITED = none),
 * used by layers over a stream (TLS handshake timeout). */
int net_stream_read_until(asx_cx *cx, asx_stream *s, void *buf, size_t cap, size_t *n,
                          uint64_t until);
int net_stream_writev_until(asx_cx *cx, asx_stream *s, const struct iovec *iov, int iovcnt,
                            size_t *written, uint64_t until);

#endif

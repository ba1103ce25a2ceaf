/* One HTTP/2 connection: the serving task reads and feeds the session, a writer task flushes the
 * session's output, stream tasks run handlers; all of them in a region the serving task owns. */
#include <string.h>
#include <sys/socket.h>

#include "server_internal.h"

#define MS 1000000ull
#define READ_CHUNK 16384u
#define WRITE_CHUNK (128u * 1024u)
/* Streams without a descriptor (simulated, lab) cannot be interrupted by shutdown(SHUT_RD): their
 * reads wake up this often to look at the connection state. */
#define POLL_NO_FD_NS (100 * MS)

void asx_http2_server_config_default(asx_http2_server_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->limits = asx_http2_limits_default();
  cfg->idle_timeout_ns = 60000 * MS;
  cfg->shutdown_grace_ns = 5000 * MS;
  cfg->send_high_water = 256 * 1024;
  cfg->date_header = true;
}

/* ---- wakeups ---- */

int h2s_wake_wait(h2s_conn *c, asx_cx *cx, h2s_wake *w) {
  if (w->pending) {
    w->pending = false;
    return 0;
  }
  w->waiter = asx_cx_task(cx);
  h2s_unlock(c);
  /* A wake landing between the unlock and the park makes the park return at once. */
  int rc = asx_park(cx, ASX_UNLIMITED);
  h2s_lock(c);
  w->waiter = NULL;
  w->pending = false;
  return rc == ASX_ETIMEDOUT ? 0 : rc; /* callers re-check their condition: spurious is fine */
}

void h2s_wake_signal(h2s_wake *w) {
  if (w->waiter) asx_task_wake(w->waiter);
  else w->pending = true;
}

void h2s_kick_writer(h2s_conn *c) { h2s_wake_signal(&c->writer_wake); }

void h2s_wake_reader(h2s_conn *c) {
  if (!c->reader_waiting) return;
  int fd = asx_stream_fd(c->io);
  /* A blocked read returns end-of-stream; the descriptor stays open for the writer. */
  if (fd >= 0) shutdown(fd, SHUT_RD);
}

void h2s_conn_fail(h2s_conn *c, int err) {
  if (!c->err) c->err = err;
  c->dead = true;
  c->finished = true;
  for (asx_http2_exchange *e = c->streams; e; e = e->next) h2s_wake_signal(&e->wake);
  h2s_kick_writer(c);
  h2s_wake_reader(c);
}

/* Sends GOAWAY once and starts the grace period (mutex held). */
static void begin_drain(h2s_conn *c, asx_cx *cx) {
  if (c->draining) return;
  c->draining = true;
  uint64_t now = asx_now(cx);
  uint64_t grace = c->cfg.shutdown_grace_ns;
  uint64_t until = grace > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + grace;
  uint64_t cleanup = asx_cleanup_deadline(cx);
  if (cleanup < until) until = cleanup;
  c->grace_deadline = until;
  if (!c->dead) asx_http2_session_shutdown(c->sess);
  h2s_kick_writer(c);
}

/* ---- the writer ---- */

/* Copies the session's pending output into buf (mutex held). */
static size_t gather(h2s_conn *c, uint8_t *buf, size_t cap) {
  size_t len = 0;
  while (!c->dead && len < cap) {
    asx_slice out;
    int rc = asx_http2_session_pending(c->sess, &out);
    if (rc) {
      h2s_conn_fail(c, rc);
      break;
    }
    if (!out.len) break;
    size_t k = out.len < cap - len ? out.len : cap - len;
    memcpy(buf + len, out.ptr, k);
    asx_http2_session_written(c->sess, k);
    len += k;
  }
  return len;
}

/* The writer observed cancellation (mutex held): from now on it runs masked with a write
 * deadline. Cancelled while the connection is still up = shutdown: GOAWAY and the grace period.
 * Cancelled after reading ended = the serving task bounding the final flush. */
static void writer_cancelled(h2s_conn *c, asx_cx *cx, bool *masked) {
  if (*masked) return;
  *masked = true;
  asx_mask_push(cx);
  if (!c->finished) begin_drain(c, cx);
  asx_stream_set_write_deadline(c->io, c->finished && c->flush_deadline ? c->flush_deadline
                                                                        : c->grace_deadline);
}

static int writer_task(asx_cx *cx, void *arg) {
  h2s_conn *c = arg;
  uint8_t *buf = asx_alloc(c->cfg.alloc, WRITE_CHUNK);
  bool masked = false;
  h2s_lock(c);
  if (!buf) h2s_conn_fail(c, ASX_ENOMEM);
  while (!c->dead) {
    size_t len = gather(c, buf, WRITE_CHUNK);
    h2s_wake_room_waiters(c);
    if (len) {
      h2s_unlock(c);
      size_t done = 0;
      int rc = asx_stream_write_all(cx, c->io, buf, len, &done);
      if (rc == ASX_ECANCELED && !masked) {
        /* Keep flushing what the session produced (GOAWAY, in-flight responses), bounded. */
        h2s_lock(c);
        writer_cancelled(c, cx, &masked);
        h2s_unlock(c);
        size_t more = 0;
        rc = asx_stream_write_all(cx, c->io, buf + done, len - done, &more);
      }
      h2s_lock(c);
      if (rc) h2s_conn_fail(c, rc);
      continue;
    }
    if (!asx_http2_session_want_read(c->sess) && !asx_http2_session_want_write(c->sess)) {
      /* GOAWAY exchanged (or error) and every stream done: the connection is over. */
      c->finished = true;
      h2s_wake_reader(c);
      break;
    }
    if (c->finished) break; /* reading ended and nothing is left to flush */
    int rc = h2s_wake_wait(c, cx, &c->writer_wake);
    if (rc == ASX_ECANCELED) writer_cancelled(c, cx, &masked);
    else if (rc) h2s_conn_fail(c, rc);
  }
  h2s_unlock(c);
  asx_free(c->cfg.alloc, buf);
  if (masked) asx_mask_pop(cx);
  return 0;
}

/* ---- the serving task: reader and supervisor ---- */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The absolute end of the next read wait (mutex held). */
static uint64_t read_deadline(h2s_conn *c, asx_cx *cx) {
  uint64_t d = asx_http2_session_next_deadline(c->sess);
  if (d == UINT64_MAX) d = ASX_UNLIMITED;
  if (c->draining) d = min_u64(d, c->grace_deadline);
  if (c->cfg.idle_timeout_ns && !c->streams && c->live_tasks == 0) {
    uint64_t idle = c->last_activity + c->cfg.idle_timeout_ns;
    d = min_u64(d, idle < c->last_activity ? ASX_UNLIMITED : idle);
  }
  if (asx_stream_fd(c->io) < 0) d = min_u64(d, asx_now(cx) + POLL_NO_FD_NS);
  return d;
}

/* Feeds n received bytes (mutex held). */
static void feed(h2s_conn *c, asx_cx *cx, const uint8_t *p, size_t n) {
  uint64_t now = asx_now(cx);
  c->last_activity = now;
  int rc = asx_http2_session_check_timeouts(c->sess, now);
  if (rc == 0) rc = asx_http2_session_recv(c->sess, p, n);
  if (rc) {
    if (!c->err) c->err = rc;
    if (asx_err_is_fatal(rc)) h2s_conn_fail(c, rc);
  }
  h2s_kick_writer(c);
}

/* A read wait ended without bytes (ETIMEDOUT): session deadline, grace period or idle
 * (mutex held). Returns false when the connection must stop reading. */
static bool on_read_timeout(h2s_conn *c, asx_cx *cx) {
  uint64_t now = asx_now(cx);
  if (c->draining && now >= c->grace_deadline) return false;
  if (now >= asx_http2_session_next_deadline(c->sess)) {
    int rc = asx_http2_session_check_timeouts(c->sess, now);
    if (rc && !c->err) c->err = rc;
    h2s_kick_writer(c);
  }
  if (!c->streams && c->live_tasks == 0 && c->cfg.idle_timeout_ns &&
      now >= c->last_activity + c->cfg.idle_timeout_ns) {
    /* Idle: say goodbye politely; the session stops wanting reads once GOAWAY is out. */
    asx_http2_session_terminate(c->sess, ASX_HTTP2_NO_ERROR);
    h2s_kick_writer(c);
  }
  return true;
}

static void read_loop(h2s_conn *c, asx_cx *cx, uint8_t *buf, bool *masked) {
  h2s_lock(c);
  for (;;) {
    if (c->finished || c->dead || !asx_http2_session_want_read(c->sess)) break;
    uint64_t until = read_deadline(c, cx);
    c->reader_waiting = true;
    h2s_unlock(c);
    asx_stream_set_read_deadline(c->io, until);
    size_t n = 0;
    int rc = asx_stream_read(cx, c->io, buf, READ_CHUNK, &n);
    h2s_lock(c);
    c->reader_waiting = false;
    if (rc == 0) {
      feed(c, cx, buf, n);
    } else if (rc == ASX_ECANCELED && !*masked) {
      /* Cancelled (server shutdown): GOAWAY, then keep serving in-flight streams. */
      *masked = true;
      asx_mask_push(cx);
      begin_drain(c, cx);
    } else if (rc == ASX_ETIMEDOUT) {
      if (!on_read_timeout(c, cx)) break;
    } else {
      /* End of stream (peer closed, or our own SHUT_RD once finished) or an I/O error. */
      if (rc != ASX_ECLOSED && !c->err && !c->finished) c->err = rc;
      break;
    }
  }
  c->finished = true;
  h2s_kick_writer(c);
  h2s_unlock(c);
}

static int serve(asx_cx *cx, asx_stream *s, const asx_http2_server_config *cfg,
                 const asx_http2_upgrade_req *up, const uint8_t *pre, size_t pre_len) {
  if (!cx || !s || !cfg || !cfg->handler || (pre_len && !pre)) return ASX_EINVAL;
  h2s_conn *c = asx_calloc(cfg->alloc, 1, sizeof(*c));
  uint8_t *buf = asx_alloc(cfg->alloc, READ_CHUNK);
  if (!c || !buf) {
    asx_free(cfg->alloc, c);
    asx_free(cfg->alloc, buf);
    return ASX_ENOMEM;
  }
  pthread_mutex_init(&c->lock, NULL);
  c->cfg = *cfg;
  if (!c->cfg.send_high_water) c->cfg.send_high_water = 256 * 1024;
  c->io = s;
  c->cx = cx;
  c->rt = asx_cx_runtime(cx);
  asx_imf_date_cache_init(&c->date);
  c->last_activity = asx_now(cx);
  int rc = asx_http2_session_new(&c->sess, ASX_HTTP2_SERVER, &c->cfg.limits, c->cfg.alloc,
                                 h2s_on_event, c);
  if (rc == 0 && up) {
    bool head = asx_slice_eq(up->method, "HEAD");
    rc = asx_http2_session_upgrade_server(c->sess, up->http2_settings, head);
  }
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "h2.conn";
  ro.propagate_outcome = false; /* a failing handler is that stream's business */
  if (rc == 0) rc = asx_region_open(cx, &ro, &c->region);
  asx_task *writer = NULL;
  if (rc == 0) {
    asx_spawn_opts so = asx_spawn_opts_default();
    so.name = "h2.writer";
    rc = asx_spawn(cx, c->region, writer_task, c, &so, &writer);
  }
  bool masked = false;
  if (rc == 0) {
    h2s_lock(c);
    if (up) h2s_start_upgrade_stream(c, up);
    if (pre_len) feed(c, cx, pre, pre_len);
    h2s_kick_writer(c);
    h2s_unlock(c);
    read_loop(c, cx, buf, &masked);
  } else if (c->region) {
    h2s_lock(c);
    h2s_conn_fail(c, rc);
    h2s_unlock(c);
  }
  if (!masked) asx_mask_push(cx); /* teardown waits; it must not be cut short */
  if (writer) {
    /* The writer flushes what is left (GOAWAY, final frames) until flush_deadline. */
    h2s_lock(c);
    uint64_t now = asx_now(cx), grace = c->cfg.shutdown_grace_ns;
    c->flush_deadline = c->draining ? c->grace_deadline
                        : grace > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + grace;
    h2s_kick_writer(c);
    h2s_unlock(c);
    /* A writer blocked on a peer that stopped reading must not hold the teardown: the cancel
     * makes it switch to the bounded, masked flush (see writer_cancelled). */
    asx_task_cancel(writer, ASX_CANCEL_USER);
    asx_task_join(cx, writer, NULL, NULL);
  }
  if (c->region) {
    /* Handlers still running have lost their connection. */
    asx_region_cancel(c->region, ASX_CANCEL_RESOURCE_UNAVAILABLE);
    h2s_lock(c);
    h2s_conn_fail(c, c->err);
    h2s_unlock(c);
    asx_region_close(cx, c->region, NULL);
  }
  asx_mask_pop(cx);
  asx_stream_set_read_deadline(s, ASX_UNLIMITED);
  asx_stream_set_write_deadline(s, ASX_UNLIMITED);
  if (rc == 0) rc = c->err;
  if (rc == 0 && c->draining) rc = ASX_ECANCELED;
  if (c->cfg.on_conn_end && c->sess) {
    asx_http2_stats st;
    asx_http2_session_stats(c->sess, &st);
    c->cfg.on_conn_end(c->cfg.user_data, rc, &st);
  }
  h2s_free_all_exchanges(c);
  asx_http2_session_free(c->sess);
  pthread_mutex_destroy(&c->lock);
  asx_free(cfg->alloc, buf);
  asx_free(cfg->alloc, c);
  return rc;
}

int asx_http2_serve(asx_cx *cx, asx_stream *s, const asx_http2_server_config *cfg,
                    const uint8_t *pre, size_t pre_len) {
  return serve(cx, s, cfg, NULL, pre, pre_len);
}

int asx_http2_serve_upgrade(asx_cx *cx, asx_stream *s, const asx_http2_server_config *cfg,
                            const asx_http2_upgrade_req *req, const uint8_t *pre, size_t pre_len) {
  if (!req) return ASX_EINVAL;
  return serve(cx, s, cfg, req, pre, pre_len);
}

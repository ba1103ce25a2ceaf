/* The server helper: an accept loop in its own region, one task per connection in a second
 * region, a cap on concurrent connections (the accept loop waits for a free slot, so excess
 * clients wait in the kernel backlog), per-connection idle/read timeouts, and graceful shutdown:
 * stop accepting -> cancel connections (shutdown) -> drain for up to grace_ns -> cut the sockets
 * still open -> wait for every connection task -> return. */
#include <pthread.h>
#include <string.h>

#include "net_internal.h"

#define DRAIN_POLL_NS 2000000ull   /* how often the drain checks for the last connection */
#define ACCEPT_ERROR_PAUSE_NS 10000000ull

typedef struct conn_rec {
  struct conn_rec *prev, *next;
  asx_server *srv;
  asx_stream *s; /* the accepted stream (under a TLS one): aborted by the grace cut */
} conn_rec;

struct asx_server {
  asx_listener *l;
  asx_server_opts o;
  asx_conn_fn fn;
  void *arg;
  pthread_mutex_t lock; /* everything below */
  asx_region *acc_region;
  asx_region *conn_region;
  bool shutdown_requested, ran;
  asx_oneshot *slot_gate; /* the accept loop waits here for a free slot */
  conn_rec conns;         /* sentinel of the live connection list */
  asx_server_stats st;
};

void asx_server_opts_default(asx_server_opts *o) {
  memset(o, 0, sizeof(*o));
  o->max_conns = 1024;
  o->idle_timeout_ns = 60000000000ull;
  o->read_timeout_ns = 10000000000ull;
  o->handshake_timeout_ns = 10000000000ull;
  o->grace_ns = 5000000000ull;
}

int asx_server_new(asx_listener *l, const asx_server_opts *o, asx_conn_fn fn, void *arg,
                   asx_server **out) {
  asx_server_opts def;
  if (!o) {
    asx_server_opts_default(&def);
    o = &def;
  }
  if (!l || !fn || !out || o->max_conns == 0) {
    asx_listener_close(l);
    return ASX_EINVAL;
  }
  asx_server *srv = asx_calloc(o->alloc, 1, sizeof(*srv));
  if (!srv) {
    asx_listener_close(l);
    return ASX_ENOMEM;
  }
  srv->l = l;
  srv->o = *o;
  srv->fn = fn;
  srv->arg = arg;
  pthread_mutex_init(&srv->lock, NULL);
  srv->conns.prev = srv->conns.next = &srv->conns;
  *out = srv;
  return 0;
}

void asx_server_free(asx_server *srv) {
  if (!srv) return;
  asx_listener_close(srv->l);
  pthread_mutex_destroy(&srv->lock);
  asx_free(srv->o.alloc, srv);
}

void asx_server_stats_get(asx_server *srv, asx_server_stats *out) {
  pthread_mutex_lock(&srv->lock);
  *out = srv->st;
  pthread_mutex_unlock(&srv->lock);
}

void asx_server_shutdown(asx_server *srv) {
  pthread_mutex_lock(&srv->lock);
  srv->shutdown_requested = true;
  if (srv->acc_region) asx_region_cancel(srv->acc_region, ASX_CANCEL_SHUTDOWN);
  pthread_mutex_unlock(&srv->lock);
}

/* Lock held: a connection ended or was never started; let a waiting accept loop go on. */
static void slot_freed_locked(asx_server *srv) {
  srv->st.active--;
  if (srv->slot_gate) {
    asx_oneshot_send(srv->slot_gate, &(char){0});
    srv->slot_gate = NULL;
  }
}

static int conn_main(asx_cx *cx, void *arg) {
  conn_rec *c = arg;
  asx_server *srv = c->srv;
  asx_stream *s = c->s;
  asx_stream_set_idle_timeout(s, srv->o.idle_timeout_ns);
  int rc = 0;
  if (srv->o.tls) {
    asx_stream *t = NULL;
    char err[256];
    rc = asx_tls_accept(cx, s, srv->o.tls, srv->o.handshake_timeout_ns, &t, err, sizeof(err));
    if (rc == 0) {
      s = t;
      asx_stream_set_idle_timeout(s, srv->o.idle_timeout_ns);
    } else {
      pthread_mutex_lock(&srv->lock);
      srv->st.handshake_failures++;
      pthread_mutex_unlock(&srv->lock);
    }
  }
  if (rc == 0) {
    if (srv->o.read_timeout_ns)
      asx_stream_set_read_deadline(s, asx_now(cx) + srv->o.read_timeout_ns);
    rc = srv->fn(cx, s, srv->arg);
  }
  /* Leave the list before closing: a forced cut must never touch a closed stream. */
  pthread_mutex_lock(&srv->lock);
  c->prev->next = c->next;
  c->next->prev = c->prev;
  srv->st.completed++;
  slot_freed_locked(srv);
  pthread_mutex_unlock(&srv->lock);
  asx_stream_close(s);
  asx_free(srv->o.alloc, c);
  return rc < 0 && rc != ASX_ECANCELED ? 0 : rc; /* a failed connection is not a server error */
}

/* Waits until fewer than max_conns connections are live. 0 or ASX_ECANCELED. */
static int wait_for_slot(asx_cx *cx, asx_server *srv) {
  for (;;) {
    pthread_mutex_lock(&srv->lock);
    if (srv->st.active < srv->o.max_conns) {
      pthread_mutex_unlock(&srv->lock);
      return 0;
    }
    asx_oneshot *gate = NULL;
    int rc = asx_oneshot_new(srv->o.alloc, 1, &gate);
    if (rc) {
      pthread_mutex_unlock(&srv->lock);
      rc = asx_sleep(cx, ACCEPT_ERROR_PAUSE_NS);
      if (rc) return rc;
      continue;
    }
    srv->slot_gate = gate;
    pthread_mutex_unlock(&srv->lock);
    char v;
    rc = asx_oneshot_recv(cx, gate, &v);
    pthread_mutex_lock(&srv->lock);
    if (srv->slot_gate == gate) srv->slot_gate = NULL; /* nobody sent: withdraw it */
    pthread_mutex_unlock(&srv->lock);
    asx_oneshot_free(gate);
    if (rc == ASX_ECANCELED) return rc;
  }
}

static int accept_loop(asx_cx *cx, asx_server *srv) {
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = srv->o.name ? srv->o.name : "net.conn";
  so.stack_size = srv->o.stack_size;
  for (;;) {
    if (wait_for_slot(cx, srv)) return 0;
    asx_stream *s = NULL;
    int rc = asx_listener_accept(cx, srv->l, &s);
    if (rc == ASX_ECANCELED) return 0;
    if (rc) {
      /* EMFILE and friends: pause instead of spinning on a backlog we cannot take from. */
      pthread_mutex_lock(&srv->lock);
      srv->st.accept_errors++;
      pthread_mutex_unlock(&srv->lock);
      if (asx_sleep(cx, ACCEPT_ERROR_PAUSE_NS)) return 0;
      continue;
    }
    conn_rec *c = asx_calloc(srv->o.alloc, 1, sizeof(*c));
    if (!c) {
      asx_stream_close(s);
      continue;
    }
    c->srv = srv;
    c->s = s;
    pthread_mutex_lock(&srv->lock);
    c->next = &srv->conns;
    c->prev = srv->conns.prev;
    srv->conns.prev->next = c;
    srv->conns.prev = c;
    srv->st.accepted++;
    srv->st.active++;
    pthread_mutex_unlock(&srv->lock);
    rc = asx_spawn(cx, srv->conn_region, conn_main, c, &so, NULL);
    if (rc) {
      pthread_mutex_lock(&srv->lock);
      c->prev->next = c->next;
      c->next->prev = c->prev;
      slot_freed_locked(srv);
      pthread_mutex_unlock(&srv->lock);
      asx_stream_close(s);
      asx_free(srv->o.alloc, c);
      if (rc == ASX_ESTATE) return 0;
    }
  }
}

static int accept_main(asx_cx *cx, void *arg) {
  asx_server *srv = arg;
  int rc = accept_loop(cx, srv);
  /* Withdraw the region from asx_server_shutdown while it is certainly still open (this task is
   * alive in it): cancelling a region after its close returned would touch freed memory. */
  pthread_mutex_lock(&srv->lock);
  srv->acc_region = NULL;
  pthread_mutex_unlock(&srv->lock);
  return rc;
}

/* Masked by the caller: waits until no connection is live or `until` passes. */
static void drain(asx_cx *cx, asx_server *srv, uint64_t until) {
  for (;;) {
    pthread_mutex_lock(&srv->lock);
    uint64_t active = srv->st.active;
    pthread_mutex_unlock(&srv->lock);
    if (active == 0 || asx_now(cx) >= until) return;
    asx_sleep(cx, DRAIN_POLL_NS);
  }
}

int asx_server_run(asx_cx *cx, asx_server *srv) {
  pthread_mutex_lock(&srv->lock);
  bool ran = srv->ran;
  srv->ran = true;
  pthread_mutex_unlock(&srv->lock);
  if (ran) return ASX_ESTATE;
  asx_region_opts ro = asx_region_opts_default();
  ro.name = srv->o.name ? srv->o.name : "net.server";
  asx_region *conns = NULL, *acc = NULL;
  int rc = asx_region_open(cx, &ro, &conns);
  if (rc) return rc;
  rc = asx_region_open(cx, &ro, &acc);
  if (rc) {
    asx_region_close(cx, conns, NULL);
    return rc;
  }
  srv->conn_region = conns;
  pthread_mutex_lock(&srv->lock);
  srv->acc_region = acc;
  if (srv->shutdown_requested) asx_region_cancel(acc, ASX_CANCEL_SHUTDOWN);
  pthread_mutex_unlock(&srv->lock);
  asx_spawn_opts so = asx_spawn_opts_default();
  so.name = "net.accept";
  rc = asx_spawn(cx, acc, accept_main, srv, &so, NULL);
  if (rc) {
    pthread_mutex_lock(&srv->lock);
    srv->acc_region = NULL;
    pthread_mutex_unlock(&srv->lock);
  }
  asx_region_close(cx, acc, NULL); /* returns once the accept loop stopped */
  /* 1. Stop accepting: new clients are refused by the kernel from here on. */
  asx_listener_close(srv->l);
  srv->l = NULL;
  /* 2. Ask every connection to finish (handlers see ASX_ECANCELED at their next checkpoint). */
  asx_region_cancel(conns, ASX_CANCEL_SHUTDOWN);
  /* 3. Drain within the grace period; the server's own cancellation must not cut it short. */
  asx_mask_push(cx);
  uint64_t now = asx_now(cx);
  drain(cx, srv, srv->o.grace_ns > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + srv->o.grace_ns);
  /* 4. Cut what is left: even masked I/O in a handler now fails at once. */
  pthread_mutex_lock(&srv->lock);
  for (conn_rec *c = srv->conns.next; c != &srv->conns; c = c->next) {
    net_stream_abort(c->s);
    srv->st.forced_closes++;
  }
  pthread_mutex_unlock(&srv->lock);
  asx_region_close(cx, conns, NULL);
  asx_mask_pop(cx);
  srv->conn_region = NULL;
  if (rc) return rc;
  return asx_cancel_requested(cx) ? ASX_ECANCELED : 0;
}

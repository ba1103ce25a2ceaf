/* A bounded pool of Redis connections. A checkout is an obligation ("redis.pool.conn"): checkin
 * commits it, a broken connection is closed and the obligation aborted. Failed connects push the
 * next attempt back (doubling backoff), so a dead server is not hammered. */
#include <string.h>

#include "redis_client_internal.h"

struct asx_redis_pool {
  const asx_allocator *alloc;
  asx_redis_client_opts copts;
  char *host, *username, *password, *tls_name;
  size_t max_conns;
  uint64_t backoff_min, backoff_max;
  int (*dial)(asx_cx *cx, void *ud, asx_stream **out);
  void *dial_ud;
  asx_region *region;

  pthread_mutex_t mu;
  asx_redis_client *idle;   /* healthy connections not leased */
  size_t open;              /* idle + leased + being connected */
  bool closing;
  cl_waitq wq;
  uint64_t backoff;         /* current backoff (0 after a success) */
  uint64_t next_attempt;    /* no connect before this runtime time */
  asx_redis_pool_stats st;
};

void asx_redis_pool_opts_default(asx_redis_pool_opts *o) {
  memset(o, 0, sizeof(*o));
  asx_redis_client_opts_default(&o->client);
  o->max_conns = 8;
  o->backoff_min_ns = 10000000ull;
  o->backoff_max_ns = 1000000000ull;
}

static char *dup_str(const asx_allocator *a, const char *s, bool *fail) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = asx_alloc(a, n);
  if (!d) *fail = true;
  else memcpy(d, s, n);
  return d;
}

static void pool_free_mem(asx_redis_pool *p) {
  asx_free(p->alloc, p->host);
  asx_free(p->alloc, p->username);
  asx_free(p->alloc, p->password);
  asx_free(p->alloc, p->tls_name);
  pthread_mutex_destroy(&p->mu);
  asx_free(p->alloc, p);
}

int asx_redis_pool_new(asx_cx *cx, const asx_redis_pool_opts *o, asx_redis_pool **out) {
  if (!cx || !o || !out || o->max_conns == 0 || !o->client.host) return ASX_EINVAL;
  asx_redis_pool *p = asx_calloc(o->client.alloc, 1, sizeof(*p));
  if (!p) return ASX_ENOMEM;
  p->alloc = o->client.alloc;
  pthread_mutex_init(&p->mu, NULL);
  bool fail = false;
  p->copts = o->client;
  p->host = dup_str(p->alloc, o->client.host, &fail);
  p->username = dup_str(p->alloc, o->client.username, &fail);
  p->password = dup_str(p->alloc, o->client.password, &fail);
  p->copts.host = p->host;
  p->copts.username = p->username;
  p->copts.password = p->password;
  p->tls_name = dup_str(p->alloc, o->client.tls_server_name, &fail);
  p->copts.tls_server_name = p->tls_name;
  p->max_conns = o->max_conns;
  p->dial = o->dial;
  p->dial_ud = o->dial_ud;
  p->backoff_min = o->backoff_min_ns ? o->backoff_min_ns : 1;
  p->backoff_max = o->backoff_max_ns < p->backoff_min ? p->backoff_min : o->backoff_max_ns;
  if (fail) {
    pool_free_mem(p);
    return ASX_ENOMEM;
  }
  asx_region_opts ro = asx_region_opts_default();
  ro.name = "redis.pool";
  int rc = asx_region_open(cx, &ro, &p->region);
  if (rc) {
    pool_free_mem(p);
    return rc;
  }
  *out = p;
  return 0;
}

/* Closes a connection that left the pool's books (open already decremented or about to be). */
static void drop_conn(asx_cx *cx, asx_redis_pool *p, asx_redis_client *c) {
  rc_destroy(cx, c);
  pthread_mutex_lock(&p->mu);
  p->open--;
  p->st.discarded++;
  cl_wake_one(&p->wq);
  pthread_mutex_unlock(&p->mu);
}

/* A new connection, honouring the backoff. Called with a slot already counted in p->open. */
static int pool_connect(asx_cx *cx, asx_redis_pool *p, asx_redis_client **out) {
  pthread_mutex_lock(&p->mu);
  uint64_t when = p->next_attempt;
  pthread_mutex_unlock(&p->mu);
  int rc = 0;
  if (asx_now(cx) < when) rc = asx_sleep_until(cx, when);
  asx_stream *s = NULL;
  if (rc == 0 && p->dial) {
    rc = p->dial(cx, p->dial_ud, &s);
    if (rc == 0 && !s) rc = ASX_EINVAL;
  }
  if (rc == 0) rc = rc_connect_in(cx, p->region, s, &p->copts, out, NULL, 0);
  pthread_mutex_lock(&p->mu);
  if (rc == 0) {
    p->backoff = 0;
    p->next_attempt = 0;
    p->st.connects++;
  } else {
    p->open--;
    if (rc != ASX_ECANCELED && rc != ASX_ETIMEDOUT) {
      p->st.connect_failures++;
      p->backoff = p->backoff ? p->backoff * 2 : p->backoff_min;
      if (p->backoff > p->backoff_max) p->backoff = p->backoff_max;
      p->next_attempt = asx_now(cx) + p->backoff;
    }
    cl_wake_one(&p->wq); /* the slot is free again */
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int asx_redis_pool_checkout(asx_cx *cx, asx_redis_pool *p, asx_redis_lease *lease) {
  if (!cx || !p || !lease) return ASX_EINVAL;
  memset(lease, 0, sizeof(*lease));
  asx_obligation *ob = NULL;
  int rc = asx_obligation_reserve(cx, "redis.pool.conn", &ob);
  if (rc) return rc;
  asx_redis_client *c = NULL;
  bool counted_wait = false;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (p->closing) {
      rc = ASX_ECLOSED;
      break;
    }
    if (p->idle) {
      c = p->idle;
      p->idle = c->pool_next;
      c->pool_next = NULL;
      if (asx_redis_client_status(c) == 0) break;
      pthread_mutex_unlock(&p->mu); /* died while idle: close it and look again */
      drop_conn(cx, p, c);
      c = NULL;
      pthread_mutex_lock(&p->mu);
      continue;
    }
    if (p->open < p->max_conns) {
      p->open++;
      pthread_mutex_unlock(&p->mu);
      rc = pool_connect(cx, p, &c);
      pthread_mutex_lock(&p->mu);
      break;
    }
    if (!counted_wait) p->st.waits++;
    counted_wait = true;
    rc = cl_wait(cx, &p->mu, &p->wq, ASX_UNLIMITED);
    if (rc) {
      cl_wake_one(&p->wq); /* we may have taken a wakeup meant for a connection */
      break;
    }
  }
  pthread_mutex_unlock(&p->mu);
  if (rc) {
    asx_obligation_abort(ob);
    return cl_cancel_code(cx, rc);
  }
  lease->client = c;
  lease->pool = p;
  lease->ob = ob;
  return 0;
}

void asx_redis_pool_checkin(asx_cx *cx, asx_redis_lease *lease) {
  if (!lease || !lease->client) return;
  asx_redis_pool *p = lease->pool;
  asx_redis_client *c = lease->client;
  asx_obligation *ob = lease->ob;
  memset(lease, 0, sizeof(*lease));
  if (asx_redis_client_status(c) != 0) {
    drop_conn(cx, p, c);
    asx_obligation_abort(ob);
    return;
  }
  pthread_mutex_lock(&p->mu);
  c->pool_next = p->idle;
  p->idle = c;
  cl_wake_one(&p->wq);
  pthread_mutex_unlock(&p->mu);
  asx_obligation_commit(ob);
}

int asx_redis_pool_command(asx_cx *cx, asx_redis_pool *p, size_t argc, const char *const *argv,
                           const size_t *lens, asx_redis_reply **reply) {
  if (reply) *reply = NULL;
  asx_redis_lease l;
  int rc = asx_redis_pool_checkout(cx, p, &l);
  if (rc) return rc;
  rc = asx_redis_client_command(cx, l.client, argc, argv, lens, reply);
  asx_redis_pool_checkin(cx, &l);
  return rc;
}

void asx_redis_pool_stats_get(asx_redis_pool *p, asx_redis_pool_stats *out) {
  pthread_mutex_lock(&p->mu);
  *out = p->st;
  out->open = p->open;
  out->idle = 0;
  for (asx_redis_client *c = p->idle; c; c = c->pool_next) out->idle++;
  pthread_mutex_unlock(&p->mu);
}

void asx_redis_pool_close(asx_cx *cx, asx_redis_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->closing = true;
  cl_wake_all(&p->wq);
  asx_redis_client *idle = p->idle;
  p->idle = NULL;
  pthread_mutex_unlock(&p->mu);
  while (idle) {
    asx_redis_client *next = idle->pool_next;
    rc_destroy(cx, idle);
    idle = next;
  }
  asx_region_close(cx, p->region, NULL);
  pool_free_mem(p);
}

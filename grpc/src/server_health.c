/* grpc.health.v1.Health: Check (unary) and Watch (server streaming) over a table of service
 * statuses that any thread may update. The two protobuf messages are tiny (field 1: the service
 * name, or the status enum), so they are read and written here by hand; unknown fields are
 * skipped as protobuf requires. Watch parks its task and is woken by every update. */
#include <pthread.h>
#include <string.h>

#include "server_internal.h"

#define MAX_SERVICE_NAME ASX_GRPC_HEALTH_MAX_SERVICE

typedef struct health_entry {
  char *name;
  asx_grpc_health_status status;
} health_entry;

/* A Watch call waiting for the next update; on its task's stack, unlinked before it returns. */
typedef struct health_waiter {
  struct health_waiter *next;
  asx_task *task;
} health_waiter;

struct asx_grpc_health {
  const asx_allocator *alloc;
  pthread_mutex_t mu;
  health_entry *entries;
  size_t n, cap;
  uint64_t version; /* bumped by every change */
  health_waiter *waiters;
};

/* With h->mu held: the entry for name, or NULL. */
static health_entry *find(asx_grpc_health *h, const char *name, size_t len) {
  for (size_t i = 0; i < h->n; i++)
    if (strlen(h->entries[i].name) == len && memcmp(h->entries[i].name, name, len) == 0) return &h->entries[i];
  return NULL;
}

int asx_grpc_health_set(asx_grpc_health *h, const char *service, asx_grpc_health_status st) {
  if (!h || !service || strlen(service) > MAX_SERVICE_NAME || st < ASX_GRPC_HEALTH_UNKNOWN ||
      st > ASX_GRPC_HEALTH_NOT_SERVING)
    return ASX_EINVAL;
  pthread_mutex_lock(&h->mu);
  health_entry *e = find(h, service, strlen(service));
  int rc = 0;
  if (!e && h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    health_entry *t = asx_realloc(h->alloc, h->entries, cap * sizeof(*t));
    if (!t) rc = ASX_ENOMEM;
    else h->entries = t, h->cap = cap;
  }
  if (rc == 0 && !e) {
    size_t len = strlen(service) + 1;
    char *name = asx_alloc(h->alloc, len);
    if (!name) {
      rc = ASX_ENOMEM;
    } else {
      memcpy(name, service, len);
      e = &h->entries[h->n++];
      e->name = name;
      e->status = ASX_GRPC_HEALTH_UNKNOWN;
    }
  }
  if (rc == 0 && e->status != st) {
    e->status = st;
    h->version++;
    for (health_waiter *w = h->waiters; w; w = w->next) asx_task_wake(w->task);
  }
  pthread_mutex_unlock(&h->mu);
  return rc;
}

/* The status of service, or SERVICE_UNKNOWN; *version = the table's version. */
static asx_grpc_health_status lookup(asx_grpc_health *h, asx_slice service, uint64_t *version) {
  pthread_mutex_lock(&h->mu);
  health_entry *e = find(h, (const char *)service.ptr, service.len);
  asx_grpc_health_status st = e ? e->status : ASX_GRPC_HEALTH_SERVICE_UNKNOWN;
  if (version) *version = h->version;
  pthread_mutex_unlock(&h->mu);
  return st;
}

static int bad_request(asx_grpc_call *call) {
  asx_grpc_call_set_status(call, ASX_GRPC_INVALID_ARGUMENT, "bad HealthCheckRequest");
  return ASX_EPROTO;
}

static int health_check(asx_cx *cx, asx_grpc_call *call, asx_slice req, asx_buf *resp, void *ud) {
  (void)cx;
  asx_slice service;
  if (asx_grpc_health_request_parse(req, &service) != 0) return bad_request(call);
  asx_grpc_health_status st = lookup(ud, service, NULL);
  if (st == ASX_GRPC_HEALTH_SERVICE_UNKNOWN) { /* the spec: Check answers NOT_FOUND */
    asx_grpc_call_set_status(call, ASX_GRPC_NOT_FOUND, "unknown service");
    return 0;
  }
  uint8_t b[2];
  return asx_buf_append(resp, b, asx_grpc_health_response_encode((int)st, b));
}

/* Sends the status now and after every change of it, until the client goes away (cancelled). */
static int health_watch(asx_cx *cx, asx_grpc_call *call, asx_slice req, void *ud) {
  asx_grpc_health *h = ud;
  asx_slice service;
  if (asx_grpc_health_request_parse(req, &service) != 0) return bad_request(call);
  char name[MAX_SERVICE_NAME + 1]; /* req is only borrowed for the first recv */
  memcpy(name, service.ptr, service.len);
  service.ptr = (const uint8_t *)name;
  int sent = -1;
  for (;;) {
    uint64_t version;
    asx_grpc_health_status st = lookup(h, service, &version);
    if ((int)st != sent) {
      uint8_t b[2];
      int rc = asx_grpc_call_send(cx, call, b, asx_grpc_health_response_encode((int)st, b));
      if (rc) return rc;
      sent = (int)st;
    }
    health_waiter w = {.next = NULL, .task = asx_cx_task(cx)};
    pthread_mutex_lock(&h->mu);
    bool changed = h->version != version;
    if (!changed) {
      w.next = h->waiters;
      h->waiters = &w;
    }
    pthread_mutex_unlock(&h->mu);
    if (changed) continue;
    int rc = asx_park(cx, ASX_UNLIMITED);
    pthread_mutex_lock(&h->mu);
    for (health_waiter **pp = &h->waiters; *pp; pp = &(*pp)->next)
      if (*pp == &w) {
        *pp = w.next;
        break;
      }
    pthread_mutex_unlock(&h->mu);
    if (rc) return rc; /* cancelled: the client left, or the server is shutting down */
  }
}

int asx_grpc_health_register(asx_grpc_server *srv, asx_grpc_health **out) {
  if (!srv || !out) return ASX_EINVAL;
  *out = NULL;
  asx_grpc_health *h = asx_calloc(srv->cfg.alloc, 1, sizeof(*h));
  if (!h) return ASX_ENOMEM;
  h->alloc = srv->cfg.alloc;
  pthread_mutex_init(&h->mu, NULL);
  int rc = asx_grpc_health_set(h, "", ASX_GRPC_HEALTH_SERVING);
  if (rc == 0) rc = asx_grpc_server_add_unary(srv, "/grpc.health.v1.Health/Check", health_check, h);
  if (rc == 0) {
    rc = asx_grpc_server_add_server_stream(srv, "/grpc.health.v1.Health/Watch", health_watch, h);
    if (rc) grpc_server_drop_last(srv); /* Check must not outlive h */
  }
  if (rc) {
    asx_grpc_health_free(h);
    return rc;
  }
  *out = h;
  return 0;
}

void asx_grpc_health_free(asx_grpc_health *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n; i++) asx_free(h->alloc, h->entries[i].name);
  asx_free(h->alloc, h->entries);
  pthread_mutex_destroy(&h->mu);
  asx_free(h->alloc, h);
}

/* Publishing, request/reply (one wildcard inbox subscription, a token per request), flush
 * (PING/PONG round trip) and drain. */
#include <stdio.h>
#include <string.h>

#include "nats_client_internal.h"

/* With c->mu held. */
static int encode_pub_locked(asx_nats_client *c, const char *subject, const char *reply,
                             const asx_nats_hdr *headers, const void *data, size_t len) {
  size_t before = c->out.len;
  int rc = headers ? asx_nats_encode_hpub(&c->out, &c->limits, subject, reply, headers, data, len)
                   : asx_nats_encode_pub(&c->out, &c->limits, subject, reply, data, len);
  if (rc) return rc;
  atomic_fetch_add(&c->st_msgs_out, 1);
  nc_kick_locked(c, before);
  return 0;
}

int asx_nats_publish(asx_cx *cx, asx_nats_client *c, const char *subject, const char *reply,
                     const asx_nats_hdr *headers, const void *data, size_t len) {
  if (!cx || !c || !subject || (len && !data)) return ASX_EINVAL;
  pthread_mutex_lock(&c->mu);
  int rc = nc_wait_space_locked(cx, c);
  if (rc == 0) rc = encode_pub_locked(c, subject, reply, headers, data, len);
  pthread_mutex_unlock(&c->mu);
  return cl_cancel_code(cx, rc);
}

/* ---- request/reply ---- */

typedef struct req_args {
  asx_nats_client *c;
  const char *subject;
  const asx_nats_hdr *headers;
  const void *data;
  size_t len;
  asx_nats_msg **reply;
} req_args;

/* With c->mu held: the wildcard inbox subscription, made once. */
static int ensure_inbox_locked(asx_nats_client *c) {
  if (c->inbox_sid) return 0;
  char subject[64], sid[24];
  snprintf(subject, sizeof(subject), "%s*", c->inbox);
  snprintf(sid, sizeof(sid), "%llu", (unsigned long long)c->next_sid);
  size_t before = c->out.len;
  int rc = asx_nats_encode_sub(&c->out, &c->limits, subject, NULL, sid);
  if (rc) return rc;
  c->inbox_sid = c->next_sid++;
  nc_kick_locked(c, before);
  return 0;
}

static int request_body(asx_cx *cx, void *arg) {
  req_args *a = arg;
  asx_nats_client *c = a->c;
  nc_reqw w = {.next = NULL, .token = 0, .os = NULL, .msg = NULL, .err = 0, .done = false};
  int rc = asx_oneshot_new(c->alloc, 0, &w.os);
  if (rc) return rc;
  asx_obligation *ob = NULL;
  rc = asx_obligation_reserve(cx, "nats.request", &ob);
  if (rc) {
    asx_oneshot_free(w.os);
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  rc = nc_wait_space_locked(cx, c);
  if (rc == 0) rc = ensure_inbox_locked(c);
  if (rc == 0) {
    char reply[80];
    w.token = c->next_token++;
    snprintf(reply, sizeof(reply), "%s%llu", c->inbox, (unsigned long long)w.token);
    rc = encode_pub_locked(c, a->subject, reply, a->headers, a->data, a->len);
  }
  if (rc == 0) {
    w.next = c->reqs;
    c->reqs = &w;
  }
  pthread_mutex_unlock(&c->mu);
  if (rc == 0) {
    rc = asx_oneshot_recv(cx, w.os, NULL);
    if (rc) {
      pthread_mutex_lock(&c->mu);
      bool done = w.done;
      if (!done) { /* give up: a late reply finds no token and is dropped */
        nc_reqw **pp = &c->reqs;
        while (*pp && *pp != &w) pp = &(*pp)->next;
        if (*pp) *pp = w.next;
      }
      pthread_mutex_unlock(&c->mu);
      if (done) { /* the reply is there: take it, the exchange completed */
        asx_mask_push(cx);
        rc = asx_oneshot_recv(cx, w.os, NULL);
        asx_mask_pop(cx);
      }
    }
    if (rc == 0) rc = w.err;
  }
  asx_oneshot_free(w.os);
  if (rc) {
    asx_nats_msg_free(w.msg);
    asx_obligation_abort(ob);
    return cl_cancel_code(cx, rc);
  }
  asx_obligation_commit(ob);
  *a->reply = w.msg;
  return 0;
}

int asx_nats_request(asx_cx *cx, asx_nats_client *c, const char *subject,
                     const asx_nats_hdr *headers, const void *data, size_t len,
                     uint64_t timeout_ns, asx_nats_msg **reply) {
  if (!cx || !c || !subject || !reply || (len && !data)) return ASX_EINVAL;
  *reply = NULL;
  req_args a = {c, subject, headers, data, len, reply};
  return nc_timed(cx, timeout_ns, request_body, &a);
}

/* ---- flush ---- */

static int flush_body(asx_cx *cx, void *arg) {
  asx_nats_client *c = arg;
  nc_pong *node = asx_calloc(c->alloc, 1, sizeof(*node));
  if (!node) return ASX_ENOMEM;
  int rc = asx_oneshot_new(c->alloc, 0, &node->os);
  if (rc) {
    asx_free(c->alloc, node);
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  rc = c->err ? c->err : nc_ping_locked(c, node);
  pthread_mutex_unlock(&c->mu);
  if (rc) {
    asx_oneshot_free(node->os);
    asx_free(c->alloc, node);
    return rc;
  }
  rc = asx_oneshot_recv(cx, node->os, NULL);
  if (rc) {
    pthread_mutex_lock(&c->mu);
    bool done = node->done;
    if (!done) node->abandoned = true; /* the reader frees it when its PONG comes */
    pthread_mutex_unlock(&c->mu);
    if (!done) return rc;
    rc = 0; /* the PONG came as we were cancelled: the flush completed */
  }
  rc = node->err;
  asx_oneshot_free(node->os);
  asx_free(c->alloc, node);
  return rc;
}

int asx_nats_flush(asx_cx *cx, asx_nats_client *c, uint64_t timeout_ns) {
  if (!cx || !c) return ASX_EINVAL;
  return cl_cancel_code(cx, nc_timed(cx, timeout_ns, flush_body, c));
}

/* ---- drain ---- */

int asx_nats_client_drain(asx_cx *cx, asx_nats_client *c, uint64_t timeout_ns) {
  if (!c) return ASX_EINVAL;
  /* 1. UNSUB everything but keep delivering: messages the server sent before it processed the
   *    UNSUBs are still on their way. */
  pthread_mutex_lock(&c->mu);
  size_t before = c->out.len;
  for (size_t i = 0; c->err == 0 && i < c->nsubs; i++)
    asx_nats_encode_unsub(&c->out, &c->limits, c->subs[i]->sid_str, 0);
  nc_kick_locked(c, before);
  pthread_mutex_unlock(&c->mu);
  /* 2. The PONG comes after all of them, and after every publish queued before. */
  int rc = asx_nats_flush(cx, c, timeout_ns);
  /* 3. Consumers read what is queued, then see ASX_ECLOSED. */
  nc_detach_subs(c);
  asx_nats_client_close(cx, c);
  return rc;
}

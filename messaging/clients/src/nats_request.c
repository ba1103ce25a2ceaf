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

/* With c->mu held: the wildcard inbox subscription, made once. */
static int ensure_inbox_locked(asx_nats_client *c) {
  if (c->inbox_sid) return 0;
  char subject[64], sid[24];
  snprintf(subject, sizeof(subject), "%s*", c->inbox);
  snprintf(sid, sizeof(sid), "%llu", (unsigned long long)c->next_sid);
  size_t before = c->out.len;
  if (nc_online_locked(c)) { /* reconnecting: the reconnect subscribes it with the rest */
    int rc = asx_nats_encode_sub(&c->out, &c->limits, subject, NULL, sid);
    if (rc) return rc;
  }
  c->inbox_sid = c->next_sid++;
  nc_kick_locked(c, before);
  return 0;
}

int asx_nats_request(asx_cx *cx, asx_nats_client *c, const char *subject,
                     const asx_nats_hdr *headers, const void *data, size_t len,
                     uint64_t timeout_ns, asx_nats_msg **reply) {
  if (!cx || !c || !subject || !reply || (len && !data)) return ASX_EINVAL;
  *reply = NULL;
  uint64_t until = cl_deadline(cx, timeout_ns);
  nc_reqw w = {.next = NULL, .token = 0, .task = asx_cx_task(cx), .msg = NULL, .err = 0, .done = false};
  asx_obligation *ob = NULL;
  int rc = asx_obligation_reserve(cx, "nats.request", &ob);
  if (rc) return rc;
  pthread_mutex_lock(&c->mu);
  rc = nc_wait_space_locked(cx, c);
  if (rc == 0) rc = ensure_inbox_locked(c);
  if (rc == 0) {
    char rsubj[80];
    w.token = c->next_token++;
    snprintf(rsubj, sizeof(rsubj), "%s%llu", c->inbox, (unsigned long long)w.token);
    rc = encode_pub_locked(c, subject, rsubj, headers, data, len);
  }
  if (rc == 0) {
    w.next = c->reqs;
    c->reqs = &w;
    rc = cl_wait_flag(cx, &c->mu, &w.done, until);
    if (rc) { /* give up: a late reply finds no token and is dropped */
      nc_reqw **pp = &c->reqs;
      while (*pp && *pp != &w) pp = &(*pp)->next;
      if (*pp) *pp = w.next;
    } else {
      rc = w.err;
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (rc) {
    asx_nats_msg_free(w.msg);
    asx_obligation_abort(ob);
    return cl_cancel_code(cx, rc);
  }
  asx_obligation_commit(ob);
  *reply = w.msg;
  return 0;
}

/* ---- flush ---- */

int asx_nats_flush(asx_cx *cx, asx_nats_client *c, uint64_t timeout_ns) {
  if (!cx || !c) return ASX_EINVAL;
  uint64_t until = cl_deadline(cx, timeout_ns);
  nc_pong *node = asx_calloc(c->alloc, 1, sizeof(*node));
  if (!node) return ASX_ENOMEM;
  node->task = asx_cx_task(cx);
  pthread_mutex_lock(&c->mu);
  int rc = c->err ? c->err : nc_ping_locked(c, node);
  if (rc) {
    pthread_mutex_unlock(&c->mu);
    asx_free(c->alloc, node);
    return rc;
  }
  rc = cl_wait_flag(cx, &c->mu, &node->done, until);
  if (rc) {
    node->abandoned = true; /* its PONG will come: the reader frees it then */
    pthread_mutex_unlock(&c->mu);
    return cl_cancel_code(cx, rc);
  }
  rc = node->err;
  pthread_mutex_unlock(&c->mu);
  asx_free(c->alloc, node);
  return rc;
}

/* ---- drain ---- */

int asx_nats_client_drain(asx_cx *cx, asx_nats_client *c, uint64_t timeout_ns) {
  if (!c) return ASX_EINVAL;
  /* 1. UNSUB everything but keep delivering: messages the server sent before it processed the
   *    UNSUBs are still on their way. */
  pthread_mutex_lock(&c->mu);
  size_t before = c->out.len;
  for (size_t i = 0; c->err == 0 && nc_online_locked(c) && i < c->nsubs; i++)
    asx_nats_encode_unsub(&c->out, &c->limits, c->subs[i]->sid_str, 0);
  nc_kick_locked(c, before);
  pthread_mutex_unlock(&c->mu);
  /* 2. The PONG comes after all of them, and after every publish queued before. */
  int rc = asx_nats_flush(cx, c, timeout_ns);
  /* 3. Consumers read what is queued, then see ASX_ECLOSED. */
  nc_detach_subs(c);
  nc_destroy(cx, c, true); /* handler tasks finish what is queued, then end */
  return rc;
}

/* Request streams: session events -> exchanges, one task per exchange running the handler, and
 * what the server does when a handler returns without finishing its response. */
#include <string.h>

#include "server_internal.h"

/* ---- exchange records ---- */

static asx_http2_exchange *ex_find(h2s_conn *c, int32_t id) {
  if (c->last_hit && c->last_hit->id == id) return c->last_hit;
  for (asx_http2_exchange *e = c->streams; e; e = e->next)
    if (e->id == id && !e->closed) return c->last_hit = e;
  return NULL;
}

static void ex_free(h2s_conn *c, asx_http2_exchange *e) {
  if (e->prev) e->prev->next = e->next;
  else c->streams = e->next;
  if (e->next) e->next->prev = e->prev;
  if (c->last_hit == e) c->last_hit = NULL;
  if (e->task) asx_task_release(e->task);
  asx_buf_free(&e->body);
  asx_free(c->cfg.alloc, e->hdr_mem);
  asx_free(c->cfg.alloc, e);
}

static bool is_pseudo(asx_slice name) { return name.len > 0 && name.ptr[0] == ':'; }

/* Copies the header block into one allocation: pseudo-headers become the four slices, the rest
 * the names/values arrays. */
static int ex_copy_headers(h2s_conn *c, asx_http2_exchange *e, const asx_slice *names,
                           const asx_slice *values, size_t n) {
  size_t bytes = 0, regular = 0;
  for (size_t i = 0; i < n; i++) {
    if (names[i].len > SIZE_MAX / 4 || values[i].len > SIZE_MAX / 4) return ASX_ELIMIT;
    bytes += names[i].len + values[i].len;
    if (!is_pseudo(names[i])) regular++;
  }
  size_t arrays = 2 * regular * sizeof(asx_slice);
  uint8_t *mem = asx_alloc(c->cfg.alloc, arrays + bytes + 1);
  if (!mem) return ASX_ENOMEM;
  e->hdr_mem = mem;
  e->names = (asx_slice *)(void *)mem;
  e->values = e->names + regular;
  uint8_t *p = mem + arrays;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    asx_slice nm = {p, names[i].len};
    if (names[i].len) memcpy(p, names[i].ptr, names[i].len);
    p += names[i].len;
    asx_slice v = {p, values[i].len};
    if (values[i].len) memcpy(p, values[i].ptr, values[i].len);
    p += values[i].len;
    if (!is_pseudo(nm)) {
      e->names[k] = nm;
      e->values[k] = v;
      k++;
    } else if (asx_slice_eq(nm, ":method")) {
      e->method = v;
    } else if (asx_slice_eq(nm, ":path")) {
      e->path = v;
    } else if (asx_slice_eq(nm, ":authority")) {
      e->authority = v;
    } else if (asx_slice_eq(nm, ":scheme")) {
      e->scheme = v;
    }
  }
  e->nheaders = regular;
  return 0;
}

static asx_http2_exchange *ex_new(h2s_conn *c, int32_t id) {
  asx_http2_exchange *e = asx_calloc(c->cfg.alloc, 1, sizeof(*e));
  if (!e) return NULL;
  e->c = c;
  e->id = id;
  asx_buf_init(&e->body, c->cfg.alloc, 0);
  return e;
}

static void ex_link(h2s_conn *c, asx_http2_exchange *e) {
  e->next = c->streams;
  if (c->streams) c->streams->prev = e;
  c->streams = e;
}

/* ---- the stream task ---- */

static int status_for_error(asx_cx *cx, int rc) {
  switch (rc) {
  case ASX_ELIMIT: return 413;
  case ASX_EPROTO:
  case ASX_EINVAL: return 400;
  case ASX_ETIMEDOUT:
  case ASX_EDEADLINE: return 504;
  case ASX_ENOTFOUND: return 404;
  case ASX_ECANCELED: {
    asx_cancel_kind k = asx_cancel_reason(cx);
    if (k == ASX_CANCEL_DEADLINE || k == ASX_CANCEL_TIMEOUT) return 504;
    return 503;
  }
  default: return 500;
  }
}

/* Completes what the handler left undone (mutex held). */
static void ex_finish_response(asx_cx *cx, asx_http2_exchange *e, int rc) {
  h2s_conn *c = e->c;
  if (e->reset || e->closed || c->dead || e->res_ended) return;
  if (!e->res_started) {
    char st[4];
    int code = rc >= 0 ? 500 : status_for_error(cx, rc);
    st[0] = (char)('0' + code / 100);
    st[1] = (char)('0' + code / 10 % 10);
    st[2] = (char)('0' + code % 10);
    asx_http2_header h[3] = {{{(const uint8_t *)":status", 7}, {(const uint8_t *)st, 3}},
                             {{(const uint8_t *)"content-length", 14}, {(const uint8_t *)"0", 1}},
                             {{(const uint8_t *)"date", 4}, {NULL, 0}}};
    size_t nh = 2;
    if (c->cfg.date_header) h[nh++].value = h2s_date(c);
    if (asx_http2_submit_response(c->sess, e->id, h, nh, true) != 0)
      asx_http2_submit_rst(c->sess, e->id, ASX_HTTP2_INTERNAL_ERROR);
  } else if (rc >= 0) {
    if (asx_http2_submit_data(c->sess, e->id, "", 0, true) != 0)
      asx_http2_submit_rst(c->sess, e->id, ASX_HTTP2_INTERNAL_ERROR);
  } else {
    asx_http2_submit_rst(c->sess, e->id,
                         rc == ASX_ECANCELED ? ASX_HTTP2_CANCEL : ASX_HTTP2_INTERNAL_ERROR);
  }
  e->res_started = e->res_ended = true;
}

static int stream_task(asx_cx *cx, void *arg) {
  asx_http2_exchange *e = arg;
  h2s_conn *c = e->c;
  int rc = c->cfg.handler(cx, e, c->cfg.user_data);
  h2s_lock(c);
  ex_finish_response(cx, e, rc);
  /* Body the handler never read still holds connection credit: give it back. */
  if (e->body.len && !e->h1_body) asx_http2_session_consume(c->sess, e->id, e->body.len);
  asx_buf_free(&e->body);
  e->task_done = true;
  c->live_tasks--;
  h2s_kick_writer(c);
  /* The session's reference is gone: nobody else needs the record. Otherwise STREAM_CLOSED or
   * the connection's teardown frees it. */
  if (e->closed) ex_free(c, e);
  h2s_unlock(c);
  return rc < 0 ? rc : 0;
}

/* Starts the task of a linked exchange whose headers are in place (mutex held). */
static int ex_start(h2s_conn *c, asx_http2_exchange *e) {
  asx_spawn_opts o = asx_spawn_opts_default();
  o.name = "h2.stream";
  o.stack_size = c->cfg.stream_stack_size;
  uint64_t rel = c->cfg.request_timeout_ns;
  if (c->cfg.request_timeout) {
    uint64_t t = c->cfg.request_timeout(c->cfg.user_data, e);
    if (t && (!rel || t < rel)) rel = t;
  }
  if (rel) {
    uint64_t now = asx_now(c->cx);
    o.budget.deadline_ns = rel > ASX_UNLIMITED - 1 - now ? ASX_UNLIMITED - 1 : now + rel;
  }
  int rc = asx_spawn(c->cx, c->region, stream_task, e, &o, &e->task);
  if (rc) return rc;
  c->live_tasks++;
  return 0;
}

static void on_request(h2s_conn *c, const asx_http2_event *ev) {
  asx_http2_exchange *e = ex_new(c, ev->stream_id);
  int rc = e ? 0 : ASX_ENOMEM;
  asx_slice stack_n[32] = {{0}}, stack_v[32] = {{0}};
  asx_slice *names = stack_n, *values = stack_v;
  size_t n = ev->header_count;
  if (rc == 0 && n > 32) {
    names = asx_calloc(c->cfg.alloc, 2 * n, sizeof(asx_slice));
    if (!names) rc = ASX_ENOMEM;
    else values = names + n;
  }
  if (rc == 0) {
    for (size_t i = 0; i < n; i++) {
      names[i] = ev->headers[i].name;
      values[i] = ev->headers[i].value;
    }
    rc = ex_copy_headers(c, e, names, values, n);
  }
  if (names != stack_n) asx_free(c->cfg.alloc, names);
  if (rc == 0) {
    ex_link(c, e);
    rc = ex_start(c, e);
    if (rc) ex_free(c, e);
  } else if (e) {
    asx_buf_free(&e->body);
    asx_free(c->cfg.alloc, e->hdr_mem);
    asx_free(c->cfg.alloc, e);
  }
  if (rc) asx_http2_submit_rst(c->sess, ev->stream_id, ASX_HTTP2_REFUSED_STREAM);
}

int h2s_start_upgrade_stream(h2s_conn *c, const asx_http2_upgrade_req *req) {
  size_t n = req->header_count + 3;
  asx_slice *names = asx_calloc(c->cfg.alloc, 2 * n, sizeof(asx_slice));
  asx_http2_exchange *e = ex_new(c, 1);
  int rc = names && e ? 0 : ASX_ENOMEM;
  if (rc == 0) {
    asx_slice *values = names + n;
    names[0] = (asx_slice){(const uint8_t *)":method", 7};
    values[0] = req->method;
    names[1] = (asx_slice){(const uint8_t *)":path", 5};
    values[1] = req->path;
    names[2] = (asx_slice){(const uint8_t *)":authority", 10};
    values[2] = req->authority;
    for (size_t i = 0; i < req->header_count; i++) {
      names[3 + i] = req->header_names[i];
      values[3 + i] = req->header_values[i];
    }
    rc = ex_copy_headers(c, e, names, values, n);
    e->scheme = (asx_slice){(const uint8_t *)"http", 4};
  }
  if (rc == 0 && req->body_len) rc = asx_buf_append(&e->body, req->body, req->body_len);
  asx_free(c->cfg.alloc, names);
  if (rc == 0) {
    e->in_end = true;
    e->h1_body = true;
    ex_link(c, e);
    rc = ex_start(c, e);
    if (rc) ex_free(c, e);
  } else if (e) {
    asx_buf_free(&e->body);
    asx_free(c->cfg.alloc, e->hdr_mem);
    asx_free(c->cfg.alloc, e);
  }
  if (rc) asx_http2_submit_rst(c->sess, 1, ASX_HTTP2_INTERNAL_ERROR);
  return rc;
}

void h2s_on_event(void *ud, asx_http2_session *s, const asx_http2_event *ev) {
  h2s_conn *c = ud;
  (void)s;
  asx_http2_exchange *e = ev->stream_id ? ex_find(c, ev->stream_id) : NULL;
  switch (ev->type) {
  case ASX_HTTP2_EV_HEADERS:
    if (ev->kind == ASX_HTTP2_REQUEST && !e) on_request(c, ev);
    /* Request trailers are accepted and ignored. */
    break;
  case ASX_HTTP2_EV_DATA:
    if (!e || e->task_done || asx_buf_append(&e->body, ev->data.ptr, ev->data.len) != 0) {
      /* Nobody will read it (or no memory): drop it but keep the windows open. */
      asx_http2_session_consume(c->sess, ev->stream_id, ev->data.len);
      break;
    }
    h2s_wake_signal(&e->wake);
    break;
  case ASX_HTTP2_EV_END_STREAM:
    if (e) {
      e->in_end = true;
      h2s_wake_signal(&e->wake);
    }
    break;
  case ASX_HTTP2_EV_RESET:
    if (e) {
      e->reset = true;
      if (!e->task_done) asx_task_cancel(e->task, ASX_CANCEL_USER);
      h2s_wake_signal(&e->wake);
    }
    break;
  case ASX_HTTP2_EV_STREAM_CLOSED:
    if (!e) break;
    e->closed = true;
    if (!e->res_ended || ev->error_code != ASX_HTTP2_NO_ERROR) {
      bool was_reset = e->reset;
      e->reset = true;
      if (!e->task_done && !was_reset && !e->res_ended) asx_task_cancel(e->task, ASX_CANCEL_USER);
    }
    h2s_wake_signal(&e->wake);
    if (e->task_done) ex_free(c, e);
    break;
  case ASX_HTTP2_EV_GOAWAY:
    break;
  }
}

void h2s_wake_room_waiters(h2s_conn *c) {
  size_t low = c->cfg.send_high_water / 2;
  for (asx_http2_exchange *e = c->streams; e; e = e->next)
    if (e->waiting_room &&
        (e->reset || e->closed || asx_http2_stream_send_buffered(c->sess, e->id) <= low))
      h2s_wake_signal(&e->wake);
}

void h2s_free_all_exchanges(h2s_conn *c) {
  while (c->streams) ex_free(c, c->streams);
}

/* gRPC server: the method registry and the HTTP/2 handler that turns one stream into one call. */
#include <stdio.h>
#include <string.h>

#include "server_internal.h"

void asx_grpc_server_config_default(asx_grpc_server_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->limits = asx_grpc_limits_default();
}

int asx_grpc_server_new(asx_grpc_server **out, const asx_grpc_server_config *cfg) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_grpc_server_config def;
  if (!cfg) {
    asx_grpc_server_config_default(&def);
    cfg = &def;
  }
  asx_grpc_server *srv = asx_calloc(cfg->alloc, 1, sizeof(*srv));
  if (!srv) return ASX_ENOMEM;
  srv->cfg = *cfg;
  *out = srv;
  return 0;
}

void asx_grpc_server_free(asx_grpc_server *srv) {
  if (!srv) return;
  for (size_t i = 0; i < srv->n; i++) asx_free(srv->cfg.alloc, srv->methods[i].path);
  asx_free(srv->cfg.alloc, srv->methods);
  asx_free(srv->cfg.alloc, srv);
}

static const grpc_method *find(const asx_grpc_server *srv, asx_slice path) {
  for (size_t i = 0; i < srv->n; i++)
    if (srv->methods[i].path_len == path.len && memcmp(srv->methods[i].path, path.ptr, path.len) == 0)
      return &srv->methods[i];
  return NULL;
}

/* "/service/method": a leading slash, one more slash, nothing empty. */
static bool path_ok(const char *p) {
  if (!p || p[0] != '/') return false;
  const char *slash = strchr(p + 1, '/');
  return slash && slash > p + 1 && slash[1] && !strchr(slash + 1, '/');
}

static int add(asx_grpc_server *srv, const char *path, grpc_kind kind, bool has_fn, void *ud,
               grpc_method m) {
  if (!srv || !has_fn || !path_ok(path)) return ASX_EINVAL;
  size_t len = strlen(path);
  if (find(srv, (asx_slice){(const uint8_t *)path, len})) return ASX_EEXIST;
  if (srv->n == srv->cap) {
    size_t cap = srv->cap ? srv->cap * 2 : 8;
    grpc_method *nm = asx_realloc(srv->cfg.alloc, srv->methods, cap * sizeof(*nm));
    if (!nm) return ASX_ENOMEM;
    srv->methods = nm;
    srv->cap = cap;
  }
  m.path = asx_alloc(srv->cfg.alloc, len + 1);
  if (!m.path) return ASX_ENOMEM;
  memcpy(m.path, path, len + 1);
  m.path_len = len;
  m.kind = kind;
  m.ud = ud;
  srv->methods[srv->n++] = m;
  return 0;
}

void grpc_server_drop_last(asx_grpc_server *srv) {
  if (srv->n == 0) return;
  srv->n--;
  asx_free(srv->cfg.alloc, srv->methods[srv->n].path);
}

int asx_grpc_server_add_unary(asx_grpc_server *srv, const char *path, asx_grpc_unary_fn fn,
                              void *user_data) {
  grpc_method m = {.fn.unary = fn};
  return add(srv, path, GK_UNARY, fn != NULL, user_data, m);
}
int asx_grpc_server_add_server_stream(asx_grpc_server *srv, const char *path,
                                      asx_grpc_server_stream_fn fn, void *user_data) {
  grpc_method m = {.fn.server_stream = fn};
  return add(srv, path, GK_SERVER_STREAM, fn != NULL, user_data, m);
}
int asx_grpc_server_add_client_stream(asx_grpc_server *srv, const char *path,
                                      asx_grpc_client_stream_fn fn, void *user_data) {
  grpc_method m = {.fn.client_stream = fn};
  return add(srv, path, GK_CLIENT_STREAM, fn != NULL, user_data, m);
}
int asx_grpc_server_add_bidi(asx_grpc_server *srv, const char *path, asx_grpc_bidi_fn fn,
                             void *user_data) {
  grpc_method m = {.fn.bidi = fn};
  return add(srv, path, GK_BIDI, fn != NULL, user_data, m);
}

void asx_grpc_server_attach(asx_grpc_server *srv, asx_http2_server_config *cfg) {
  cfg->handler = asx_grpc_server_handle;
  cfg->user_data = srv;
  cfg->request_timeout = asx_grpc_server_timeout;
}

void asx_grpc_server_stats_get(const asx_grpc_server *srv, asx_grpc_server_stats *out) {
  asx_grpc_server *m = (asx_grpc_server *)srv;
  out->compressed_in = atomic_load(&m->compressed_in);
  out->compressed_out = atomic_load(&m->compressed_out);
}

bool asx_grpc_is_request(const asx_http2_exchange *ex) {
  asx_slice ct = asx_http2_req_header_get(ex, "content-type");
  const char *p = "application/grpc";
  size_t n = strlen(p);
  if (ct.len < n || memcmp(ct.ptr, p, n) != 0) return false;
  return ct.len == n || ct.ptr[n] == '+' || ct.ptr[n] == ';';
}

uint64_t asx_grpc_server_timeout(void *ud, const asx_http2_exchange *ex) {
  asx_grpc_server *srv = ud;
  asx_slice v = asx_http2_req_header_get(ex, "grpc-timeout");
  uint64_t ns = 0;
  bool valid = v.ptr && asx_grpc_timeout_parse(v, &ns) == 0;
  if (!valid) ns = 0;
  else if (ns == 0) ns = 1; /* "0n": already late, but 0 would mean "no deadline" */
  if (srv->cfg.max_timeout_ns && (ns == 0 || ns > srv->cfg.max_timeout_ns))
    ns = srv->cfg.max_timeout_ns;
  return ns;
}

/* A response that is not gRPC at all (wrong method or content type): plain HTTP status. */
static int http_error(asx_http2_exchange *ex, int status) {
  return asx_http2_res_headers(ex, status, NULL, 0, true);
}

static int run_method(asx_cx *cx, asx_grpc_call *call, const grpc_method *m) {
  asx_slice req;
  int rc = 0;
  asx_buf resp;
  asx_buf_init(&resp, call->srv->cfg.alloc, call->srv->cfg.limits.max_send_message);
  asx_buf first;
  asx_buf_init(&first, call->srv->cfg.alloc, 0);
  if (m->kind == GK_UNARY || m->kind == GK_SERVER_STREAM) {
    /* Exactly one request message, then the end of the request: the message is copied because
     * the next recv may reuse the bytes it points into. */
    rc = asx_grpc_call_recv(cx, call, &req);
    if (rc == ASX_ECLOSED) {
      asx_grpc_call_set_status(call, ASX_GRPC_INTERNAL, "missing request message");
      rc = ASX_EPROTO;
    }
    if (rc == 0 && req.len) rc = asx_buf_append(&first, req.ptr, req.len);
    if (rc == 0) {
      asx_slice extra;
      rc = asx_grpc_call_recv(cx, call, &extra);
      if (rc == 0) {
        asx_grpc_call_set_status(call, ASX_GRPC_INTERNAL, "more than one request message");
        rc = ASX_EPROTO;
      } else if (rc == ASX_ECLOSED) {
        rc = 0;
      }
    }
    req = (asx_slice){first.data ? first.data : (const uint8_t *)"", first.len};
  }
  if (rc == 0) {
    switch (m->kind) {
    case GK_UNARY: rc = m->fn.unary(cx, call, req, &resp, m->ud); break;
    case GK_SERVER_STREAM: rc = m->fn.server_stream(cx, call, req, m->ud); break;
    case GK_CLIENT_STREAM: rc = m->fn.client_stream(cx, call, &resp, m->ud); break;
    case GK_BIDI: rc = m->fn.bidi(cx, call, m->ud); break;
    }
  }
  if (rc >= 0 && !call->status_set && (m->kind == GK_UNARY || m->kind == GK_CLIENT_STREAM))
    rc = asx_grpc_call_send(cx, call, resp.data ? (const void *)resp.data : "", resp.len);
  asx_buf_free(&resp);
  asx_buf_free(&first);
  return rc;
}

int asx_grpc_server_handle(asx_cx *cx, asx_http2_exchange *ex, void *ud) {
  asx_grpc_server *srv = ud;
  if (!asx_slice_eq(asx_http2_req_method(ex), "POST")) return http_error(ex, 405);
  if (!asx_grpc_is_request(ex)) return http_error(ex, 415);
  asx_grpc_call *call = asx_calloc(srv->cfg.alloc, 1, sizeof(*call));
  if (!call) return ASX_ENOMEM;
  call->srv = srv;
  call->ex = ex;
  asx_buf_init(&call->status_msg, srv->cfg.alloc, 4096);
  asx_buf_init(&call->plain, srv->cfg.alloc, 0);
  asx_buf_init(&call->packed, srv->cfg.alloc, 0);
  asx_buf_init(&call->md_store, srv->cfg.alloc, GRPC_MAX_MD_BYTES);
  asx_slice accept = asx_http2_req_header_get(ex, "grpc-accept-encoding");
  if (srv->cfg.send_encoding != ASX_GRPC_IDENTITY && asx_grpc_accepts(accept, srv->cfg.send_encoding))
    call->send_enc = srv->cfg.send_encoding;
  asx_slice enc = asx_http2_req_header_get(ex, "grpc-encoding");
  int rc = asx_grpc_decoder_new(&call->dec, &srv->cfg.limits, srv->cfg.alloc);
  if (rc == 0 && enc.ptr && asx_grpc_encoding_parse(enc, &call->recv_enc) != 0) {
    /* The spec: UNIMPLEMENTED, with the encodings we do support in grpc-accept-encoding. */
    char text[96];
    snprintf(text, sizeof text, "grpc-encoding %.*s is not supported", (int)(enc.len > 40 ? 40 : enc.len), (const char *)enc.ptr);
    asx_grpc_call_set_status(call, ASX_GRPC_UNIMPLEMENTED, text);
    rc = ASX_EUNSUPPORTED;
  } else if (rc == 0) {
    const grpc_method *m = find(srv, asx_http2_req_path(ex));
    if (!m) {
      asx_grpc_call_set_status(call, ASX_GRPC_UNIMPLEMENTED, "unknown method");
      rc = ASX_EUNSUPPORTED;
    } else {
      rc = run_method(cx, call, m);
    }
  }
  grpc_call_finish(cx, call, rc);
  asx_grpc_decoder_free(call->dec);
  asx_buf_free(&call->status_msg);
  asx_buf_free(&call->plain);
  asx_buf_free(&call->packed);
  asx_buf_free(&call->md_store);
  asx_free(srv->cfg.alloc, call);
  return 0; /* the call's outcome travels in grpc-status */
}

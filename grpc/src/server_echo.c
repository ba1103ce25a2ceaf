/* The demo echo service: four methods that reflect raw request bytes back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

#define MS 1000000ull

/* A small decimal metadata value, clamped to [0, max]; def when absent or malformed. */
static long meta_num(asx_grpc_call *call, const char *name, long def, long max) {
  asx_slice v = asx_grpc_call_metadata(call, name);
  if (!v.ptr || v.len == 0 || v.len > 9) return def;
  long n = 0;
  for (size_t i = 0; i < v.len; i++) {
    if (v.ptr[i] < '0' || v.ptr[i] > '9') return def;
    n = n * 10 + (v.ptr[i] - '0');
  }
  return n > max ? max : n;
}

/* Metadata echo: x-echo-meta comes back as a header of the same name and as the trailer
 * x-echo-trailer; x-echo-bin-bin (binary) comes back decoded and re-encoded. */
static int echo_meta(asx_grpc_call *call) {
  asx_slice v = asx_grpc_call_metadata(call, "x-echo-meta");
  int rc = 0;
  if (v.ptr) {
    rc = asx_grpc_call_add_header(call, "x-echo-meta", v.ptr, v.len);
    if (rc == 0) rc = asx_grpc_call_add_trailer(call, "x-echo-trailer", v.ptr, v.len);
  }
  asx_buf b;
  asx_buf_init(&b, NULL, 4096);
  int brc = asx_grpc_call_metadata_bin(call, "x-echo-bin-bin", &b);
  if (rc == 0 && brc == 0) rc = asx_grpc_call_add_header(call, "x-echo-bin-bin", b.data, b.len);
  else if (rc == 0 && brc != ASX_ENOTFOUND) rc = brc;
  asx_buf_free(&b);
  if (rc) asx_grpc_call_set_status(call, ASX_GRPC_INVALID_ARGUMENT, "metadata echo failed");
  return rc;
}

static int delay(asx_cx *cx, asx_grpc_call *call) {
  int rc = echo_meta(call);
  long ms = meta_num(call, "x-echo-delay-ms", 0, 60000);
  return rc ? rc : ms ? asx_sleep(cx, (uint64_t)ms * MS) : 0;
}

static int echo_unary(asx_cx *cx, asx_grpc_call *call, asx_slice req, asx_buf *resp, void *ud) {
  (void)ud;
  int rc = delay(cx, call);
  return rc ? rc : asx_buf_append(resp, req.ptr ? (const void *)req.ptr : "", req.len);
}

static int echo_server_stream(asx_cx *cx, asx_grpc_call *call, asx_slice req, void *ud) {
  (void)ud;
  int rc = delay(cx, call);
  long count = meta_num(call, "x-echo-count", 3, 10000);
  for (long i = 0; rc == 0 && i < count; i++) rc = asx_grpc_call_send(cx, call, req.ptr, req.len);
  return rc;
}

static int echo_client_stream(asx_cx *cx, asx_grpc_call *call, asx_buf *resp, void *ud) {
  (void)ud;
  int rc = delay(cx, call);
  while (rc == 0) {
    asx_slice m;
    rc = asx_grpc_call_recv(cx, call, &m);
    if (rc == ASX_ECLOSED) return 0;
    if (rc == 0) rc = asx_buf_append(resp, m.ptr ? (const void *)m.ptr : "", m.len);
  }
  return rc;
}

static int echo_bidi(asx_cx *cx, asx_grpc_call *call, void *ud) {
  (void)ud;
  int rc = delay(cx, call);
  while (rc == 0) {
    asx_slice m;
    rc = asx_grpc_call_recv(cx, call, &m);
    if (rc == ASX_ECLOSED) return 0;
    if (rc == 0) rc = asx_grpc_call_send(cx, call, m.ptr, m.len);
  }
  return rc;
}

int asx_grpc_register_echo(asx_grpc_server *srv, const char *service) {
  if (!srv || !service || strlen(service) > 200) return ASX_EINVAL;
  char path[256];
  snprintf(path, sizeof(path), "%s/Unary", service);
  int rc = asx_grpc_server_add_unary(srv, path, echo_unary, NULL);
  snprintf(path, sizeof(path), "%s/ServerStream", service);
  if (rc == 0) rc = asx_grpc_server_add_server_stream(srv, path, echo_server_stream, NULL);
  snprintf(path, sizeof(path), "%s/ClientStream", service);
  if (rc == 0) rc = asx_grpc_server_add_client_stream(srv, path, echo_client_stream, NULL);
  snprintf(path, sizeof(path), "%s/Bidi", service);
  if (rc == 0) rc = asx_grpc_server_add_bidi(srv, path, echo_bidi, NULL);
  return rc;
}

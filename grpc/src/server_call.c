/* One gRPC call over an HTTP/2 exchange: message receive (decoder over the request body), send
 * (length-prefixed DATA), and the final status as trailers (or trailers-only when nothing was
 * sent yet). */
#include <string.h>

#include "server_internal.h"

#define H(n, v) {{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}}

static int send_headers(asx_grpc_call *call) {
  if (call->headers_sent) return 0;
  const char *enc = asx_grpc_encoding_name(call->send_enc);
  asx_http2_header h[3 + GRPC_MAX_MD] = {
      H("content-type", "application/grpc"), H("grpc-accept-encoding", GRPC_ACCEPT_ENCODING),
      {{(const uint8_t *)"grpc-encoding", 13}, {(const uint8_t *)enc, strlen(enc)}}};
  size_t n = call->send_enc == ASX_GRPC_IDENTITY ? 2 : 3;
  n += grpc_md_headers(call, call->hdr, call->nhdr, h + n);
  int rc = asx_http2_res_headers(call->ex, 200, h, n, false);
  if (rc == 0) call->headers_sent = true;
  return rc;
}

/* A message with the compressed flag: decoded with the request's grpc-encoding, within the
 * receive limit (on the decompressed size). */
static int recv_decompress(asx_grpc_call *call, asx_slice data, asx_slice *msg) {
  if (call->recv_enc == ASX_GRPC_IDENTITY) { /* the spec: a compressed flag without an encoding */
    asx_grpc_call_set_status(call, ASX_GRPC_INTERNAL, "compressed message without grpc-encoding");
    return call->recv_err = ASX_EPROTO;
  }
  asx_buf_reset(&call->plain);
  int rc = asx_grpc_decompress(call->recv_enc, data.ptr, data.len,
                               call->srv->cfg.limits.max_recv_message, &call->plain);
  if (rc == ASX_ELIMIT) {
    asx_grpc_call_set_status(call, ASX_GRPC_RESOURCE_EXHAUSTED, "decompressed message over the receive limit");
    return call->recv_err = rc;
  }
  if (rc == ASX_EDECOMPRESS) {
    asx_grpc_call_set_status(call, ASX_GRPC_INTERNAL, "message does not decompress");
    return call->recv_err = rc;
  }
  if (rc) return rc; /* ENOMEM: the handler decides */
  atomic_fetch_add(&call->srv->compressed_in, 1);
  *msg = (asx_slice){call->plain.data ? call->plain.data : (const uint8_t *)"", call->plain.len};
  return 0;
}

int asx_grpc_call_recv(asx_cx *cx, asx_grpc_call *call, asx_slice *msg) {
  if (!call || !msg) return ASX_EINVAL;
  *msg = (asx_slice){NULL, 0};
  if (call->recv_err) return call->recv_err;
  for (;;) {
    size_t used = 0;
    asx_grpc_message m;
    int rc = asx_grpc_decoder_decode(call->dec, call->in + call->in_off,
                                     call->in_len - call->in_off, &used, &m);
    call->in_off += used;
    if (rc == 0) {
      if (m.compressed) return recv_decompress(call, m.data, msg);
      *msg = m.data;
      return 0;
    }
    if (rc == ASX_ENOMEM) return rc;
    if (rc != ASX_EAGAIN) {
      int code = rc == ASX_ELIMIT ? ASX_GRPC_RESOURCE_EXHAUSTED : ASX_GRPC_INTERNAL;
      asx_grpc_call_set_status(call, code, asx_grpc_decoder_error_message(call->dec));
      return call->recv_err = rc;
    }
    /* All input taken without a whole message: read more of the body. */
    if (call->in_end) {
      rc = asx_grpc_decoder_finish(call->dec);
      if (rc) {
        asx_grpc_call_set_status(call, ASX_GRPC_INTERNAL, "request ended inside a message");
        return call->recv_err = rc;
      }
      return ASX_ECLOSED;
    }
    size_t n = 0;
    rc = asx_http2_req_read(cx, call->ex, call->in, sizeof(call->in), &n);
    call->in_off = 0;
    call->in_len = n;
    if (rc == ASX_ECLOSED) call->in_end = true;
    else if (rc) return rc;
  }
}

int asx_grpc_call_send(asx_cx *cx, asx_grpc_call *call, const void *msg, size_t len) {
  if (!call || (!msg && len)) return ASX_EINVAL;
  uint8_t hdr[ASX_GRPC_FRAME_HEADER_LEN];
  int rc = asx_grpc_encode_header(hdr, false, len, call->srv->cfg.limits.max_send_message);
  if (rc) return rc;
  if (call->send_enc != ASX_GRPC_IDENTITY) { /* the limit is on the message, not its packed form */
    asx_buf_reset(&call->packed);
    rc = asx_grpc_compress(call->send_enc, msg, len, &call->packed);
    if (rc) return rc;
    if (call->packed.len < len) { /* else plain (flag 0) is smaller: the flag is per message */
      asx_grpc_encode_header(hdr, true, call->packed.len, SIZE_MAX);
      msg = call->packed.data;
      len = call->packed.len;
      atomic_fetch_add(&call->srv->compressed_out, 1);
    }
  }
  rc = send_headers(call);
  if (rc == 0) rc = asx_http2_res_write(cx, call->ex, hdr, sizeof(hdr), false);
  if (rc == 0 && len) rc = asx_http2_res_write(cx, call->ex, msg, len, false);
  return rc;
}

int asx_grpc_call_set_status(asx_grpc_call *call, int code, const char *message) {
  if (!call || code < 0) return ASX_EINVAL;
  asx_buf_reset(&call->status_msg);
  call->status = code;
  call->status_set = true;
  if (message) {
    size_t n = strlen(message);
    if (n > call->status_msg.max) n = call->status_msg.max; /* a long text is cut, not refused */
    return asx_buf_append(&call->status_msg, message, n);
  }
  return 0;
}

asx_slice asx_grpc_call_method(const asx_grpc_call *call) { return asx_http2_req_path(call->ex); }

asx_slice asx_grpc_call_metadata(const asx_grpc_call *call, const char *name) {
  return asx_http2_req_header_get(call->ex, name);
}

asx_http2_exchange *asx_grpc_call_exchange(asx_grpc_call *call) { return call->ex; }

/* The status for a handler's return code when it set none. */
static int status_for(asx_cx *cx, int rc) {
  if (rc >= 0) return ASX_GRPC_OK;
  if (rc == ASX_ECANCELED) {
    switch (asx_cancel_reason(cx)) {
    case ASX_CANCEL_DEADLINE:
    case ASX_CANCEL_TIMEOUT: return asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_DEADLINE);
    case ASX_CANCEL_POLL_QUOTA:
    case ASX_CANCEL_COST_BUDGET: return asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_BUDGET);
    default: return asx_grpc_status_from_outcome(ASX_GRPC_OUTCOME_CANCELLED);
    }
  }
  return asx_grpc_status_from_error(rc);
}

void grpc_call_finish(asx_cx *cx, asx_grpc_call *call, int rc) {
  call->finished = true;
  if (asx_http2_exchange_reset(call->ex)) return; /* the client is gone: nobody to tell */
  int code = call->status_set ? call->status : status_for(cx, rc);
  if (!call->status_set && rc < 0) asx_buf_append_str(&call->status_msg, asx_strerror(rc));
  char st[ASX_GRPC_STATUS_TEXT_MAX];
  size_t stlen = asx_grpc_status_format(code, st);
  asx_buf enc;
  asx_buf_init(&enc, call->srv->cfg.alloc, 3 * 4096 + 16);
  bool has_msg = call->status_msg.len &&
                 asx_grpc_message_encode(&enc, call->status_msg.data, call->status_msg.len) == 0;
  asx_http2_header t[4 + 2 * GRPC_MAX_MD];
  size_t n = 0;
  if (!call->headers_sent) {
    /* Trailers-only: one HEADERS frame with END_STREAM carries everything (the handler's
     * initial metadata too). */
    t[n++] = (asx_http2_header)H("content-type", "application/grpc");
    t[n++] = (asx_http2_header)H("grpc-accept-encoding", GRPC_ACCEPT_ENCODING);
    n += grpc_md_headers(call, call->hdr, call->nhdr, t + n);
  }
  n += grpc_md_headers(call, call->trl, call->ntrl, t + n);
  t[n++] = (asx_http2_header){{(const uint8_t *)"grpc-status", 11}, {(const uint8_t *)st, stlen}};
  if (has_msg)
    t[n++] = (asx_http2_header){{(const uint8_t *)"grpc-message", 12}, {enc.data, enc.len}};
  if (call->headers_sent) asx_http2_res_trailers(call->ex, t, n);
  else asx_http2_res_headers(call->ex, 200, t, n, true);
  asx_buf_free(&enc);
}

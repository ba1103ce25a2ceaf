/* gRPC length-prefixed message codec: incremental decoder and encoder. */
#include <string.h>

#include "asx/grpc.h"

enum decoder_state {
  WANT_HEADER, /* collecting the 5-byte prefix */
  WANT_BUFFER, /* prefix complete; the message buffer is not allocated yet (ENOMEM retry) */
  WANT_BODY,   /* copying payload bytes into the buffer */
  FAILED       /* sticky ELIMIT / EPROTO */
};

struct asx_grpc_decoder {
  const asx_allocator *alloc;
  asx_grpc_limits limits;
  enum decoder_state state;
  uint8_t header[ASX_GRPC_FRAME_HEADER_LEN];
  size_t header_len;
  bool compressed;
  size_t msg_len;
  uint8_t *body;   /* msg_len bytes once allocated */
  size_t body_len; /* bytes copied so far */
  int error;
  const char *error_message;
};

asx_grpc_limits asx_grpc_limits_default(void) {
  asx_grpc_limits l = {ASX_GRPC_DEFAULT_MAX_MESSAGE, ASX_GRPC_DEFAULT_MAX_MESSAGE};
  return l;
}

int asx_grpc_decoder_new(asx_grpc_decoder **out, const asx_grpc_limits *limits,
                         const asx_allocator *alloc) {
  if (!out) return ASX_EINVAL;
  asx_grpc_decoder *d = asx_calloc(alloc, 1, sizeof *d);
  if (!d) return ASX_ENOMEM;
  d->alloc = alloc;
  d->limits = limits ? *limits : asx_grpc_limits_default();
  d->state = WANT_HEADER;
  d->error_message = "";
  *out = d;
  return 0;
}

static void release_body(asx_grpc_decoder *d) {
  asx_free(d->alloc, d->body);
  d->body = NULL;
  d->body_len = 0;
}

void asx_grpc_decoder_free(asx_grpc_decoder *d) {
  if (!d) return;
  release_body(d);
  asx_free(d->alloc, d);
}

static int fail(asx_grpc_decoder *d, int err, const char *message) {
  release_body(d);
  d->state = FAILED;
  d->error = err;
  d->error_message = message;
  return err;
}

/* Validates the completed prefix; the length is checked before anything is allocated. */
static int accept_header(asx_grpc_decoder *d, const uint8_t *h) {
  if (h[0] > 1) return fail(d, ASX_EPROTO, "grpc frame: compressed flag is neither 0 nor 1");
  uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
  if ((uint64_t)len > (uint64_t)d->limits.max_recv_message)
    return fail(d, ASX_ELIMIT,
                "grpc frame: message length exceeds max_recv_message (RESOURCE_EXHAUSTED)");
  d->compressed = h[0] == 1;
  d->msg_len = len;
  return 0;
}

static void emit_buffered(asx_grpc_decoder *d, asx_grpc_message *msg) {
  msg->compressed = d->compressed;
  msg->data.ptr = d->body;
  msg->data.len = d->msg_len;
  /* The buffer now belongs to the message until the next call; it is released then. */
  d->state = WANT_HEADER;
  d->header_len = 0;
}

int asx_grpc_decoder_decode(asx_grpc_decoder *d, const uint8_t *in, size_t len, size_t *consumed,
                            asx_grpc_message *msg) {
  if (!d || !consumed || !msg || (!in && len)) return ASX_EINVAL;
  *consumed = 0;
  if (d->state == FAILED) return d->error;
  /* A message handed out by the previous call is no longer the caller's. */
  if (d->state == WANT_HEADER) release_body(d);
  size_t pos = 0;

  if (d->state == WANT_HEADER) {
    if (d->header_len == 0 && len - pos >= ASX_GRPC_FRAME_HEADER_LEN) {
      /* Fast path: the prefix is contiguous in the input. */
      int rc = accept_header(d, in + pos);
      if (rc) return rc;
      pos += ASX_GRPC_FRAME_HEADER_LEN;
      if (len - pos >= d->msg_len) {
        /* Whole message present: hand out a slice of the input, no copy. */
        msg->compressed = d->compressed;
        msg->data.ptr = d->msg_len ? in + pos : (const uint8_t *)"";
        msg->data.len = d->msg_len;
        *consumed = pos + d->msg_len;
        return 0;
      }
      d->header_len = ASX_GRPC_FRAME_HEADER_LEN;
      d->state = WANT_BUFFER;
    } else {
      size_t take = ASX_GRPC_FRAME_HEADER_LEN - d->header_len;
      if (take > len - pos) take = len - pos;
      memcpy(d->header + d->header_len, in + pos, take);
      d->header_len += take;
      pos += take;
      if (d->header_len < ASX_GRPC_FRAME_HEADER_LEN) {
        *consumed = pos;
        return ASX_EAGAIN;
      }
      int rc = accept_header(d, d->header);
      if (rc) {
        *consumed = pos;
        return rc;
      }
      d->state = WANT_BUFFER;
    }
  }

  if (d->state == WANT_BUFFER) {
    if (d->msg_len == 0) {
      d->body = NULL;
      msg->compressed = d->compressed;
      msg->data.ptr = (const uint8_t *)"";
      msg->data.len = 0;
      d->state = WANT_HEADER;
      d->header_len = 0;
      *consumed = pos;
      return 0;
    }
    /* msg_len was bounded by max_recv_message in accept_header. */
    d->body = asx_alloc(d->alloc, d->msg_len);
    if (!d->body) {
      *consumed = pos;
      d->error_message = "grpc frame: out of memory for the message buffer";
      return ASX_ENOMEM;
    }
    d->body_len = 0;
    d->state = WANT_BODY;
  }

  /* WANT_BODY */
  size_t take = d->msg_len - d->body_len;
  if (take > len - pos) take = len - pos;
  if (take) memcpy(d->body + d->body_len, in + pos, take);
  d->body_len += take;
  pos += take;
  *consumed = pos;
  if (d->body_len < d->msg_len) return ASX_EAGAIN;
  emit_buffered(d, msg);
  return 0;
}

int asx_grpc_decoder_finish(const asx_grpc_decoder *d) {
  if (!d) return ASX_EINVAL;
  if (d->state == FAILED) return d->error;
  if (d->state != WANT_HEADER || d->header_len != 0) return ASX_EPROTO;
  return 0;
}

const char *asx_grpc_decoder_error_message(const asx_grpc_decoder *d) {
  if (!d) return "";
  if (d->state == FAILED) return d->error_message;
  if (d->state != WANT_HEADER || d->header_len != 0)
    return "grpc frame: stream ends inside a message";
  return d->error_message;
}

int asx_grpc_encode_header(uint8_t out[ASX_GRPC_FRAME_HEADER_LEN], bool compressed, size_t len,
                           size_t max_send) {
  if (!out) return ASX_EINVAL;
  if (len > max_send || (uint64_t)len > UINT32_MAX) return ASX_ELIMIT;
  out[0] = compressed ? 1 : 0;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
  return 0;
}

int asx_grpc_encode(asx_buf *out, bool compressed, const void *payload, size_t len,
                    const asx_grpc_limits *limits) {
  if (!out || (!payload && len)) return ASX_EINVAL;
  size_t max_send = limits ? limits->max_send_message : ASX_GRPC_DEFAULT_MAX_MESSAGE;
  uint8_t header[ASX_GRPC_FRAME_HEADER_LEN];
  int rc = asx_grpc_encode_header(header, compressed, len, max_send);
  if (rc) return rc;
  /* Reserve the whole frame first so a failure leaves `out` untouched. */
  rc = asx_buf_reserve(out, ASX_GRPC_FRAME_HEADER_LEN + len);
  if (rc) return rc;
  asx_buf_append(out, header, sizeof header);
  if (len) asx_buf_append(out, payload, len);
  return 0;
}

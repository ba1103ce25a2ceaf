/* The message session: wslay_event does the frame codec (masking rules, opcode sequencing,
 * control-frame rules, auto pong, close echo, UTF-8 of uncompressed text); this file feeds it
 * from the caller's buffers (sans-I/O), assembles messages itself (wslay runs unbuffered so no
 * frame is ever allocated at its claimed size), and adds the asx limits, permessage-deflate,
 * UTF-8 of decompressed text, the close timeout and error reporting. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "ws_deflate.h"

/* Buffers larger than this are released after each message instead of being kept for reuse,
 * so one huge message does not pin its memory for the connection's lifetime. */
#define WS_KEEP_BUFFER ((size_t)1 << 20)

struct asx_ws {
  const asx_allocator *alloc;
  wslay_event_context_ptr wslay;
  asx_ws_role role;
  asx_ws_limits limits;
  asx_ws_callbacks cb;
  void *ud;
  asx_ws_random_fn random;
  void *random_ud;

  /* The caller's input during asx_ws_recv and output buffer during asx_ws_pull. */
  const uint8_t *in;
  size_t in_len, in_off;
  uint8_t *out;
  size_t out_cap, out_len;

  /* Header pre-check of the input stream, see hdr_track(). */
  uint8_t hdr[14];
  uint8_t hdr_have;
  uint64_t hdr_skip;      /* payload bytes of the current frame still to pass through */
  const char *hdr_error;  /* a header wslay's frame reader would reject without a close code */

  /* The frame being received. */
  bool frame_is_data;
  bool frame_fin;
  /* The data message being assembled. */
  asx_ws_msg_type msg_type;
  bool msg_compressed;
  uint32_t msg_frames;
  asx_buf msg;
  ws_utf8 utf8;

  bool deflate_on;
  ws_deflater deflater;
  ws_inflater inflater;
  asx_buf zout;

  /* Failure and closing. */
  int err;
  char errmsg[192];
  bool failed;          /* the connection was failed (by us or by wslay); reading is over */
  bool wslay_failed;    /* wslay detected the violation; its close code is known once sent */
  bool fatal;           /* only asx_ws_free is left */
  bool close_queued;    /* the user started the close handshake */
  bool close_pending;   /* ...but data queued before it goes out first */
  uint16_t pending_code;
  uint8_t pending_reason[123];
  size_t pending_reason_len;
  bool timed_out;
  bool timer_armed;
  uint64_t close_deadline_ns;
  uint16_t close_recv_code;
};

static const uint8_t empty_payload[1];

static void set_error(asx_ws *ws, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(asx_ws *ws, int err, const char *fmt, ...) {
  ws->err = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ws->errmsg, sizeof ws->errmsg, fmt, ap);
  va_end(ap);
}

static const char *close_reason_text(uint16_t code) {
  switch (code) {
  case ASX_WS_CLOSE_PROTOCOL_ERROR: return "protocol error";
  case ASX_WS_CLOSE_INVALID_PAYLOAD: return "invalid payload";
  case ASX_WS_CLOSE_TOO_BIG: return "message too big";
  default: return "internal error";
  }
}

/* Fails the connection: records the error, queues a close frame with `code` and stops reading
 * (wslay finishes the frame it is in; every callback ignores events once failed). */
static void ws_fail(asx_ws *ws, int err, uint16_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void ws_fail(asx_ws *ws, int err, uint16_t code, const char *fmt, ...) {
  if (ws->failed) return;
  ws->failed = true;
  ws->err = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ws->errmsg, sizeof ws->errmsg, fmt, ap);
  va_end(ap);
  const char *reason = close_reason_text(code);
  /* May fail if a close is already queued (fine: one close is enough) or on allocation failure
   * (then no close frame is sent; the close timeout ends the connection). */
  wslay_event_queue_close(ws->wslay, code, (const uint8_t *)reason, strlen(reason));
  wslay_event_shutdown_read(ws->wslay);
}

static uint16_t close_code_for(int err) {
  switch (err) {
  case ASX_ELIMIT: return ASX_WS_CLOSE_TOO_BIG;
  case ASX_EDECOMPRESS: return ASX_WS_CLOSE_INVALID_PAYLOAD;
  case ASX_EPROTO: return ASX_WS_CLOSE_PROTOCOL_ERROR;
  default: return ASX_WS_CLOSE_INTERNAL_ERROR;
  }
}

/* ---- wslay I/O callbacks: memory in, memory out ---- */

/* wslay's frame reader rejects a few header forms (control frame over 125 bytes or
 * fragmented, non-minimal or 2^63+ payload lengths) by closing *without* a status code. RFC 6455
 * wants 1002, so headers are checked here, before wslay sees them: this follows frame
 * boundaries only (header bytes, then skips the payload) and leaves decoding to wslay.
 * Returns how many of the n bytes may be passed on; sets hdr_error at a bad header. */
static size_t hdr_track(asx_ws *ws, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (ws->hdr_skip) {
      uint64_t k = n - i < ws->hdr_skip ? n - i : ws->hdr_skip;
      ws->hdr_skip -= k;
      i += (size_t)k;
      continue;
    }
    ws->hdr[ws->hdr_have] = p[i];
    uint8_t have = (uint8_t)(ws->hdr_have + 1);
    if (have >= 2) {
      uint8_t b0 = ws->hdr[0], len7 = ws->hdr[1] & 0x7f;
      bool control = (b0 & 0x08) != 0;
      if (control && len7 > 125) ws->hdr_error = "control frame payload over 125 bytes";
      if (control && !(b0 & 0x80)) ws->hdr_error = "fragmented control frame";
      size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
      size_t need = 2 + ext + ((ws->hdr[1] & 0x80) ? 4 : 0);
      if (!ws->hdr_error && have == 2 + ext && ext) {
        uint64_t v = 0;
        for (size_t k = 0; k < ext; k++) v = v << 8 | ws->hdr[2 + k];
        if (ext == 2 && v < 126) ws->hdr_error = "16-bit payload length below 126";
        if (ext == 8 && v < 65536) ws->hdr_error = "64-bit payload length below 65536";
        if (ext == 8 && (v >> 63)) ws->hdr_error = "64-bit payload length with the top bit set";
      }
      if (ws->hdr_error) return i; /* withhold the byte that completes the bad header */
      if (have == need) {
        uint64_t len = len7;
        if (ext) {
          len = 0;
          for (size_t k = 0; k < ext; k++) len = len << 8 | ws->hdr[2 + k];
        }
        ws->hdr_skip = len;
        have = 0;
      }
    }
    ws->hdr_have = have;
    i++;
  }
  return n;
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user_data) {
  (void)flags;
  asx_ws *ws = user_data;
  size_t avail = ws->in_len - ws->in_off;
  size_t n = len < avail ? len : avail;
  if (ws->hdr_error) {
    ws_fail(ws, ASX_EPROTO, ASX_WS_CLOSE_PROTOCOL_ERROR, "%s", ws->hdr_error);
    n = 0;
  } else if (n) {
    n = hdr_track(ws, ws->in + ws->in_off, n);
    if (n == 0) ws_fail(ws, ASX_EPROTO, ASX_WS_CLOSE_PROTOCOL_ERROR, "%s", ws->hdr_error);
  }
  if (n == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  memcpy(buf, ws->in + ws->in_off, n);
  ws->in_off += n;
  return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user_data) {
  (void)flags;
  asx_ws *ws = user_data;
  size_t room = ws->out_cap - ws->out_len;
  if (room == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < room ? len : room;
  memcpy(ws->out + ws->out_len, data, n);
  ws->out_len += n;
  return (ssize_t)n;
}

static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user_data) {
  (void)ctx;
  asx_ws *ws = user_data;
  if (ws->random) return ws->random(ws->random_ud, buf, len) == 0 ? 0 : -1;
  return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* ---- wslay receive callbacks: message assembly and limits ---- */

static void msg_release(asx_ws *ws) {
  if (ws->msg.cap > WS_KEEP_BUFFER) {
    asx_buf_free(&ws->msg);
  } else {
    asx_buf_reset(&ws->msg);
  }
}

static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg,
                              void *user_data) {
  (void)ctx;
  asx_ws *ws = user_data;
  if (ws->failed) return;
  ws->frame_is_data = !wslay_is_ctrl_frame(arg->opcode);
  ws->frame_fin = arg->fin;
  if (!ws->frame_is_data) {
    /* wslay would read a 1-byte close payload as "no status"; RFC 6455 5.5.1 forbids it. */
    if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->payload_length == 1)
      ws_fail(ws, ASX_EPROTO, ASX_WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
    return;
  }
  if (arg->payload_length > ws->limits.max_frame_payload) {
    ws_fail(ws, ASX_ELIMIT, ASX_WS_CLOSE_TOO_BIG,
            "frame payload of %llu bytes exceeds max_frame_payload (%llu)",
            (unsigned long long)arg->payload_length,
            (unsigned long long)ws->limits.max_frame_payload);
    return;
  }
  if (arg->opcode != WSLAY_CONTINUATION_FRAME) {
    /* wslay has already checked the sequencing: this starts a new message. */
    ws->msg_type = arg->opcode == WSLAY_TEXT_FRAME ? ASX_WS_TEXT : ASX_WS_BINARY;
    ws->msg_compressed = ws->deflate_on && (arg->rsv & WSLAY_RSV1_BIT);
    ws->msg_frames = 1;
    asx_buf_reset(&ws->msg);
    ws_utf8_init(&ws->utf8);
  } else if (ws->msg_frames >= ws->limits.max_fragments) {
    ws_fail(ws, ASX_ELIMIT, ASX_WS_CLOSE_TOO_BIG, "message has more than max_fragments (%u) frames",
            (unsigned)ws->limits.max_fragments);
    return;
  } else {
    ws->msg_frames++;
  }
  /* Uncompressed sizes are known up front: refuse before receiving a byte of the excess. */
  if (!ws->msg_compressed && arg->payload_length > ws->limits.max_message - ws->msg.len) {
    ws_fail(ws, ASX_ELIMIT, ASX_WS_CLOSE_TOO_BIG, "message exceeds max_message (%zu bytes)",
            ws->limits.max_message);
  }
}

static void check_text(asx_ws *ws, size_t from) {
  if (ws->msg_type != ASX_WS_TEXT || ws->failed) return;
  if (!ws_utf8_feed(&ws->utf8, ws->msg.data + from, ws->msg.len - from))
    ws_fail(ws, ASX_EPROTO, ASX_WS_CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in a text message");
}

static void fail_with(asx_ws *ws, int rc, const char *what) {
  if (rc == ASX_ELIMIT) {
    ws_fail(ws, rc, ASX_WS_CLOSE_TOO_BIG, "%s message exceeds max_message (%zu bytes)", what,
            ws->limits.max_message);
  } else if (rc == ASX_EDECOMPRESS) {
    ws_fail(ws, rc, ASX_WS_CLOSE_INVALID_PAYLOAD, "invalid deflate data in a compressed message");
  } else if (rc == ASX_ENOMEM) {
    ws_fail(ws, rc, ASX_WS_CLOSE_INTERNAL_ERROR, "out of memory assembling a %s message", what);
  } else {
    ws_fail(ws, rc, close_code_for(rc), "%s message: %s", what, asx_strerror(rc));
  }
}

static void ws_frame_chunk_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_chunk_arg *arg,
                              void *user_data) {
  (void)ctx;
  asx_ws *ws = user_data;
  if (ws->failed || !ws->frame_is_data || arg->data_length == 0) return;
  size_t before = ws->msg.len;
  int rc;
  if (ws->msg_compressed) {
    rc = ws_inflate_chunk(&ws->inflater, arg->data, arg->data_length, &ws->msg);
  } else {
    rc = asx_buf_append(&ws->msg, arg->data, arg->data_length);
  }
  if (rc) {
    fail_with(ws, rc, ws->msg_compressed ? "decompressed" : "a");
    return;
  }
  check_text(ws, before);
}

static void ws_frame_end_cb(wslay_event_context_ptr ctx, void *user_data) {
  (void)ctx;
  asx_ws *ws = user_data;
  if (ws->failed || !ws->frame_is_data || !ws->frame_fin) return;
  if (ws->msg_compressed) {
    size_t before = ws->msg.len;
    int rc = ws_inflate_finish(&ws->inflater, &ws->msg);
    if (rc) {
      fail_with(ws, rc, "decompressed");
      return;
    }
    check_text(ws, before);
    if (ws->failed) return;
  }
  if (ws->msg_type == ASX_WS_TEXT && !ws_utf8_complete(&ws->utf8)) {
    ws_fail(ws, ASX_EPROTO, ASX_WS_CLOSE_INVALID_PAYLOAD,
            "text message ends inside a UTF-8 sequence");
    return;
  }
  if (ws->cb.on_message) {
    const uint8_t *data = ws->msg.len ? ws->msg.data : empty_payload;
    int rc = ws->cb.on_message(ws->ud, ws->msg_type, data, ws->msg.len);
    if (rc) {
      ws_fail(ws, rc < 0 ? rc : ASX_ECANCELED, ASX_WS_CLOSE_INTERNAL_ERROR,
              "on_message callback failed (%d)", rc);
    }
  }
  msg_release(ws);
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user_data) {
  (void)ctx;
  asx_ws *ws = user_data;
  if (ws->failed) return;
  const uint8_t *p = arg->msg ? arg->msg : empty_payload;
  switch (arg->opcode) {
  case WSLAY_CONNECTION_CLOSE: {
    ws->close_recv_code = arg->status_code ? arg->status_code : ASX_WS_CLOSE_NO_STATUS;
    size_t rlen = arg->msg_length >= 2 ? arg->msg_length - 2 : 0;
    if (ws->cb.on_close) ws->cb.on_close(ws->ud, ws->close_recv_code, rlen ? p + 2 : p, rlen);
    break;
  }
  case WSLAY_PING:
    if (ws->cb.on_ping) ws->cb.on_ping(ws->ud, p, arg->msg_length);
    break;
  case WSLAY_PONG:
    if (ws->cb.on_pong) ws->cb.on_pong(ws->ud, p, arg->msg_length);
    break;
  default:
    break; /* data messages are delivered from ws_frame_end_cb (wslay runs unbuffered) */
  }
}

/* ---- public API ---- */

asx_ws_limits asx_ws_limits_default(void) {
  asx_ws_limits l;
  l.max_frame_payload = (uint64_t)16 << 20;
  l.max_message = (size_t)64 << 20;
  l.max_fragments = 4096;
  l.close_timeout_ns = 5000000000ull;
  return l;
}

asx_ws_config asx_ws_config_default(asx_ws_role role) {
  asx_ws_config c;
  memset(&c, 0, sizeof c);
  c.role = role;
  c.limits = asx_ws_limits_default();
  return c;
}

static bool window_ok(uint8_t b) { return b >= 8 && b <= 15; }

int asx_ws_new(asx_ws **out, const asx_ws_config *cfg, const asx_ws_callbacks *cb, void *ud) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  if (!cfg || (cfg->role != ASX_WS_SERVER && cfg->role != ASX_WS_CLIENT)) return ASX_EINVAL;
  if (!cfg->limits.max_frame_payload || !cfg->limits.max_message || !cfg->limits.max_fragments)
    return ASX_EINVAL;
  const asx_ws_deflate_params *dp = cfg->deflate;
  if (dp && (!window_ok(dp->server_max_window_bits) || !window_ok(dp->client_max_window_bits)))
    return ASX_EINVAL;
  asx_ws *ws = asx_calloc(cfg->alloc, 1, sizeof *ws);
  if (!ws) return ASX_ENOMEM;
  ws->alloc = cfg->alloc;
  ws->role = cfg->role;
  ws->limits = cfg->limits;
  if (cb) ws->cb = *cb;
  ws->ud = ud;
  ws->random = cfg->random;
  ws->random_ud = cfg->random_ud;
  asx_buf_init(&ws->msg, cfg->alloc, cfg->limits.max_message);
  asx_buf_init(&ws->zout, cfg->alloc, 0);
  struct wslay_event_callbacks wcb = {
      ws_recv_cb, ws_send_cb, ws_genmask_cb, ws_frame_start_cb,
      ws_frame_chunk_cb, ws_frame_end_cb, ws_msg_cb,
  };
  int r = ws->role == ASX_WS_SERVER ? wslay_event_context_server_init(&ws->wslay, &wcb, ws)
                                    : wslay_event_context_client_init(&ws->wslay, &wcb, ws);
  if (r != 0) {
    asx_free(cfg->alloc, ws);
    return ASX_ENOMEM;
  }
  /* Unbuffered: wslay hands us payload chunks as they arrive (control frames, <= 125 bytes,
   * stay buffered by wslay). Its message-length check then applies per frame; we do that check
   * ourselves for a precise error, so wslay's is set out of the way. */
  wslay_event_config_set_no_buffering(ws->wslay, 1);
  wslay_event_config_set_max_recv_msg_length(ws->wslay, UINT64_MAX);
  if (dp) {
    bool server = ws->role == ASX_WS_SERVER;
    ws->deflate_on = true;
    wslay_event_config_set_allowed_rsv_bits(ws->wslay, WSLAY_RSV1_BIT);
    ws_deflater_setup(&ws->deflater, cfg->alloc,
                      server ? dp->server_max_window_bits : dp->client_max_window_bits,
                      server ? dp->server_no_context_takeover : dp->client_no_context_takeover);
    ws_inflater_setup(&ws->inflater, cfg->alloc,
                      server ? dp->client_no_context_takeover : dp->server_no_context_takeover);
  }
  *out = ws;
  return 0;
}

void asx_ws_free(asx_ws *ws) {
  if (!ws) return;
  wslay_event_context_free(ws->wslay);
  if (ws->deflate_on) {
    ws_deflater_free(&ws->deflater);
    ws_inflater_free(&ws->inflater);
  }
  asx_buf_free(&ws->msg);
  asx_buf_free(&ws->zout);
  asx_free(ws->alloc, ws);
}

int asx_ws_recv(asx_ws *ws, const uint8_t *data, size_t len, size_t *consumed) {
  if (consumed) *consumed = 0;
  if (!ws || (!data && len)) return ASX_EINVAL;
  if (ws->fatal) return ASX_EFATAL;
  if (ws->failed || ws->timed_out || !wslay_event_get_read_enabled(ws->wslay)) return ASX_ECLOSED;
  ws->in = data;
  ws->in_len = len;
  ws->in_off = 0;
  int r = wslay_event_recv(ws->wslay);
  if (consumed) *consumed = ws->in_off;
  ws->in = NULL;
  ws->in_len = ws->in_off = 0;
  /* wslay may stop asking for bytes right before the withheld one (a partial header). */
  if (ws->hdr_error && !ws->failed && wslay_event_get_read_enabled(ws->wslay))
    ws_fail(ws, ASX_EPROTO, ASX_WS_CLOSE_PROTOCOL_ERROR, "%s", ws->hdr_error);
  if (ws->failed) return ws->err;
  if (r == WSLAY_ERR_NOMEM) {
    ws_fail(ws, ASX_ENOMEM, ASX_WS_CLOSE_INTERNAL_ERROR, "out of memory in the frame reader");
    return ASX_ENOMEM;
  }
  if (r != 0) {
    ws->fatal = true;
    ws->failed = true;
    set_error(ws, ASX_EFATAL, "frame reader failed (%d)", r);
    return ASX_EFATAL;
  }
  if (!wslay_event_get_read_enabled(ws->wslay) && !wslay_event_get_close_received(ws->wslay)) {
    /* wslay failed the connection itself and queued its close frame. */
    ws->failed = true;
    ws->wslay_failed = true;
    set_error(ws, ASX_EPROTO,
              "peer violated RFC 6455 (masking, reserved bits, opcode or fragment sequence, "
              "control frame rules, close code, or UTF-8)");
    return ASX_EPROTO;
  }
  return 0;
}

/* Once wslay's close frame is out we know which rule was broken; say so precisely. */
static void refine_wslay_error(asx_ws *ws) {
  if (!ws->wslay_failed || !wslay_event_get_close_sent(ws->wslay)) return;
  ws->wslay_failed = false;
  switch (wslay_event_get_status_code_sent(ws->wslay)) {
  case ASX_WS_CLOSE_INVALID_PAYLOAD:
    set_error(ws, ASX_EPROTO, "invalid UTF-8 in a text message or close reason (closed with 1007)");
    break;
  case ASX_WS_CLOSE_TOO_BIG:
    set_error(ws, ASX_ELIMIT, "frame too large (closed with 1009)");
    break;
  default:
    set_error(ws, ASX_EPROTO,
              "protocol error (closed with 1002): bad masking, reserved bits, opcode, fragment "
              "sequence, oversized or fragmented control frame, or invalid close code");
    break;
  }
}

int asx_ws_pull(asx_ws *ws, uint8_t *buf, size_t cap, size_t *written) {
  if (written) *written = 0;
  if (!ws || (!buf && cap)) return ASX_EINVAL;
  if (ws->fatal) return ASX_EFATAL;
  if (ws->timed_out || cap == 0) return 0;
  ws->out = buf;
  ws->out_cap = cap;
  ws->out_len = 0;
  int r;
  for (;;) {
    r = wslay_event_send(ws->wslay);
    /* wslay sends control frames ahead of queued data and nothing after a close, so a close
     * requested behind data is held back until that data is out. */
    if (r != 0 || !ws->close_pending || ws->failed) break;
    if (wslay_event_get_queued_msg_count(ws->wslay) != 0) break;
    ws->close_pending = false;
    if (wslay_event_queue_close(ws->wslay, ws->pending_code, ws->pending_reason,
                                ws->pending_reason_len) != 0) {
      ws_fail(ws, ASX_ENOMEM, ASX_WS_CLOSE_INTERNAL_ERROR, "out of memory queueing the close");
      break;
    }
  }
  if (written) *written = ws->out_len;
  ws->out = NULL;
  ws->out_cap = ws->out_len = 0;
  if (r != 0) {
    /* The mask source failed or wslay could not requeue a frame: the writer is unusable. */
    ws->fatal = true;
    set_error(ws, ASX_EFATAL, "frame writer failed (%d)", r);
    return ASX_EFATAL;
  }
  refine_wslay_error(ws);
  return 0;
}

bool asx_ws_want_write(const asx_ws *ws) {
  if (!ws || ws->fatal || ws->timed_out) return false;
  return wslay_event_want_write(ws->wslay) ||
         (ws->close_pending && !ws->failed && wslay_event_get_write_enabled(ws->wslay));
}

static int map_queue_error(int r) {
  switch (r) {
  case 0: return 0;
  case WSLAY_ERR_NO_MORE_MSG: return ASX_ECLOSED;
  case WSLAY_ERR_NOMEM: return ASX_ENOMEM;
  default: return ASX_EINVAL;
  }
}

static int can_queue(const asx_ws *ws) {
  if (ws->fatal) return ASX_EFATAL;
  if (ws->failed || ws->timed_out || ws->close_queued) return ASX_ECLOSED;
  return 0;
}

int asx_ws_send(asx_ws *ws, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  if (!ws || (!data && len) || (type != ASX_WS_TEXT && type != ASX_WS_BINARY)) return ASX_EINVAL;
  int rc = can_queue(ws);
  if (rc) return rc;
  if (type == ASX_WS_TEXT && !asx_ws_utf8_valid(data, len)) return ASX_EINVAL;
  struct wslay_event_msg m = {type == ASX_WS_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
                              data ? data : empty_payload, len};
  if (!ws->deflate_on) return map_queue_error(wslay_event_queue_msg(ws->wslay, &m));
  rc = ws_deflate_message(&ws->deflater, m.msg, len, &ws->zout);
  if (rc == ASX_ENOMEM) return rc; /* the compressor is untouched: nothing happened */
  if (rc) {
    ws_fail(ws, ASX_ENOMEM, ASX_WS_CLOSE_INTERNAL_ERROR, "compressor failed (%s)",
            asx_strerror(rc));
    return ASX_ENOMEM;
  }
  m.msg = ws->zout.len ? ws->zout.data : empty_payload;
  m.msg_length = ws->zout.len;
  int r = wslay_event_queue_msg_ex(ws->wslay, &m, WSLAY_RSV1_BIT);
  if (ws->zout.cap > WS_KEEP_BUFFER) asx_buf_free(&ws->zout);
  rc = map_queue_error(r);
  if (rc == ASX_ENOMEM && !ws->deflater.no_takeover) {
    /* Our compressor's window now holds a message the peer will never see. */
    ws->deflater.broken = true;
    ws_fail(ws, ASX_ENOMEM, ASX_WS_CLOSE_INTERNAL_ERROR,
            "out of memory queueing a compressed message (compressor out of step)");
  }
  return rc;
}

int asx_ws_ping(asx_ws *ws, const uint8_t *data, size_t len) {
  if (!ws || (!data && len) || len > 125) return ASX_EINVAL;
  int rc = can_queue(ws);
  if (rc) return rc;
  struct wslay_event_msg m = {WSLAY_PING, data ? data : empty_payload, len};
  return map_queue_error(wslay_event_queue_msg(ws->wslay, &m));
}

static bool sendable_close_code(uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

int asx_ws_close(asx_ws *ws, uint16_t code, const uint8_t *reason, size_t reason_len) {
  if (!ws || (!reason && reason_len) || reason_len > 123 || !sendable_close_code(code))
    return ASX_EINVAL;
  if (reason_len && !asx_ws_utf8_valid(reason, reason_len)) return ASX_EINVAL;
  int rc = can_queue(ws);
  if (rc) return rc;
  if (wslay_event_get_close_received(ws->wslay)) return ASX_ECLOSED; /* already answered */
  if (wslay_event_get_queued_msg_count(ws->wslay) != 0) {
    ws->close_pending = true;
    ws->pending_code = code;
    if (reason_len) memcpy(ws->pending_reason, reason, reason_len);
    ws->pending_reason_len = reason_len;
  } else {
    rc = map_queue_error(
        wslay_event_queue_close(ws->wslay, code, reason ? reason : empty_payload, reason_len));
    if (rc) return rc;
  }
  ws->close_queued = true;
  return 0;
}

asx_ws_state asx_ws_get_state(const asx_ws *ws) {
  if (!ws || ws->fatal || ws->timed_out) return ASX_WS_CLOSED;
  bool sent = wslay_event_get_close_sent(ws->wslay);
  bool received = wslay_event_get_close_received(ws->wslay);
  if (sent && (received || ws->failed)) return ASX_WS_CLOSED;
  if (sent || received || ws->failed || ws->close_queued) return ASX_WS_CLOSING;
  return ASX_WS_OPEN;
}

int asx_ws_check_timeouts(asx_ws *ws, uint64_t now_ns) {
  if (!ws) return ASX_EINVAL;
  if (asx_ws_get_state(ws) != ASX_WS_CLOSING) return 0;
  if (!ws->timer_armed) {
    ws->timer_armed = true;
    uint64_t t = ws->limits.close_timeout_ns;
    ws->close_deadline_ns = now_ns > UINT64_MAX - t ? UINT64_MAX : now_ns + t;
    return 0;
  }
  if (now_ns < ws->close_deadline_ns) return 0;
  ws->timed_out = true;
  if (!ws->close_recv_code) ws->close_recv_code = ASX_WS_CLOSE_ABNORMAL;
  wslay_event_shutdown_read(ws->wslay);
  wslay_event_shutdown_write(ws->wslay);
  if (!ws->err) set_error(ws, ASX_ETIMEDOUT, "close handshake timed out");
  return ASX_ETIMEDOUT;
}

uint16_t asx_ws_close_code_sent(const asx_ws *ws) {
  if (!ws || !wslay_event_get_close_sent(ws->wslay)) return 0;
  return wslay_event_get_status_code_sent(ws->wslay);
}

uint16_t asx_ws_close_code_received(const asx_ws *ws) { return ws ? ws->close_recv_code : 0; }

int asx_ws_error(const asx_ws *ws) { return ws ? ws->err : ASX_EINVAL; }

const char *asx_ws_error_message(const asx_ws *ws) { return ws ? ws->errmsg : ""; }

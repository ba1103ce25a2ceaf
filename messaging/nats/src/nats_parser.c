/* Incremental parser for the server-to-client half of the NATS protocol.
 *
 * A frame is one control line (terminated by CRLF) plus, for MSG/HMSG, a payload of a declared
 * size and its own CRLF. When a whole frame sits in the caller's input the event points straight
 * into it (no copy); otherwise the partial frame is copied into one bounded buffer whose size is
 * known in advance (control line limit first, then the declared frame size), and the event points
 * into that buffer. Every decision depends only on the bytes of the frame, never on how they were
 * split across feeds, which is what makes split input produce identical events and errors. */
#include <stdarg.h>
#include <string.h>

#include "nats_internal.h"

/* Offsets are relative to the start of the frame so that they survive buffer reallocation. */
typedef struct span {
  size_t off;
  size_t len;
} span;

typedef struct ctl_line {
  asx_nats_op op;
  size_t line_len;  /* control line including its CRLF */
  size_t frame_len; /* whole frame: line + payload + CRLF */
  size_t hdr_len;   /* HMSG header bytes */
  size_t total_len; /* MSG #bytes, HMSG #total bytes */
  span subject, sid, reply, text;
} ctl_line;

struct asx_nats_parser {
  asx_nats_limits lim;
  const asx_allocator *alloc;
  asx_buf buf;       /* partial frame (empty when the previous frame ended on a feed boundary) */
  bool release_buf;  /* the last event pointed into buf: empty it on the next call */
  bool have_ctl;     /* buf holds the complete control line; ctl is valid */
  ctl_line ctl;
  int err;           /* sticky input error */
  char errmsg[160];
};

#define MAX_ARGS 5

void asx_nats_limits_default(asx_nats_limits *l) {
  l->max_control_line = 4096;
  l->max_payload = (size_t)1 << 20;
  l->max_header_block = (size_t)64 << 10;
  l->max_json_depth = 16;
  l->max_json_length = (size_t)64 << 10;
  l->max_connect_urls = 128;
}

static bool limits_ok(const asx_nats_limits *l) {
  return l->max_control_line >= 8 && l->max_control_line <= ((size_t)1 << 20) &&
         l->max_payload > 0 && l->max_payload <= ASX_NATS_MAX_PAYLOAD_CEILING &&
         l->max_header_block >= ASX_NATS_HDR_MIN_BLOCK && l->max_json_depth > 0 &&
         l->max_json_length > 0;
}

int asx_nats_parser_new(asx_nats_parser **out, const asx_nats_limits *limits,
                        const asx_allocator *alloc) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_nats_limits lim;
  if (limits) {
    lim = *limits;
  } else {
    asx_nats_limits_default(&lim);
  }
  if (!limits_ok(&lim)) return ASX_EINVAL;
  asx_nats_parser *p = asx_calloc(alloc, 1, sizeof *p);
  if (!p) return ASX_ENOMEM;
  p->lim = lim;
  p->alloc = alloc;
  asx_buf_init(&p->buf, alloc, 0);
  *out = p;
  return 0;
}

void asx_nats_parser_free(asx_nats_parser *p) {
  if (!p) return;
  asx_buf_free(&p->buf);
  asx_free(p->alloc, p);
}

int asx_nats_parser_set_max_payload(asx_nats_parser *p, uint64_t max_payload) {
  if (!p || max_payload == 0 || max_payload > ASX_NATS_MAX_PAYLOAD_CEILING) return ASX_EINVAL;
  p->lim.max_payload = (size_t)max_payload;
  return 0;
}

const asx_nats_limits *asx_nats_parser_limits(const asx_nats_parser *p) { return &p->lim; }

void asx_nats_parser_reset(asx_nats_parser *p) {
  asx_buf_reset(&p->buf);
  p->release_buf = false;
  p->have_ctl = false;
  p->err = 0;
  p->errmsg[0] = '\0';
}

const char *asx_nats_parser_error_message(const asx_nats_parser *p) { return p->errmsg; }

/* Records why the call failed; input errors are sticky, ENOMEM may be retried. */
static int fail(asx_nats_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(asx_nats_parser *p, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
  va_end(ap);
  if (code != ASX_ENOMEM) p->err = code;
  return code;
}

/* Finds the CRLF ending the control line within the window the limit allows.
 * 0: *line_len includes CRLF; ASX_EAGAIN: not yet; ASX_ELIMIT / ASX_EPROTO. */
static int scan_line(asx_nats_parser *p, const uint8_t *b, size_t n, size_t *line_len) {
  size_t window = p->lim.max_control_line + 2;
  size_t look = n < window ? n : window;
  const uint8_t *nl = memchr(b, '\n', look);
  if (!nl) {
    if (n >= window)
      return fail(p, ASX_ELIMIT, "control line longer than %zu bytes", p->lim.max_control_line);
    return ASX_EAGAIN;
  }
  size_t i = (size_t)(nl - b);
  if (i == 0 || b[i - 1] != '\r') return fail(p, ASX_EPROTO, "control line ends in LF without CR");
  if (i - 1 > p->lim.max_control_line)
    return fail(p, ASX_ELIMIT, "control line longer than %zu bytes", p->lim.max_control_line);
  *line_len = i + 1;
  return 0;
}

/* Unsigned decimal; saturates so that an absurd size still reports as a limit violation. */
static bool parse_size(const uint8_t *s, size_t n, uint64_t *out) {
  if (n == 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = (unsigned)(s[i] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  *out = v;
  return true;
}

static size_t skip_blanks(const uint8_t *s, size_t i, size_t n) {
  while (i < n && asx_nats_is_blank(s[i])) i++;
  return i;
}

/* Splits [from, n) into blank-separated fields; more than MAX_ARGS is reported as MAX_ARGS + 1. */
static size_t split_args(const uint8_t *s, size_t from, size_t n, span *args) {
  size_t count = 0;
  size_t i = skip_blanks(s, from, n);
  while (i < n) {
    size_t start = i;
    while (i < n && !asx_nats_is_blank(s[i])) i++;
    if (count == MAX_ARGS) return MAX_ARGS + 1;
    args[count].off = start;
    args[count].len = i - start;
    count++;
    i = skip_blanks(s, i, n);
  }
  return count;
}

/* The rest of the line after the op, blanks trimmed on both sides. */
static span rest_of_line(const uint8_t *s, size_t from, size_t n) {
  size_t i = skip_blanks(s, from, n);
  size_t end = n;
  while (end > i && asx_nats_is_blank(s[end - 1])) end--;
  return (span){i, end - i};
}

static bool op_is(const uint8_t *s, size_t n, const char *name) {
  return asx_slice_eq_nocase((asx_slice){s, n}, name);
}

static int check_subject(asx_nats_parser *p, const uint8_t *s, span f, const char *what) {
  if (!asx_nats_subject_valid((const char *)s + f.off, f.len, 0))
    return fail(p, ASX_EPROTO, "invalid %s in message", what);
  return 0;
}

static int parse_msg_args(asx_nats_parser *p, const uint8_t *s, size_t from, size_t n,
                          ctl_line *c) {
  bool hmsg = c->op == ASX_NATS_OP_HMSG;
  const char *name = hmsg ? "HMSG" : "MSG";
  span a[MAX_ARGS];
  size_t argc = split_args(s, from, n, a);
  size_t min = hmsg ? 4 : 3;
  if (argc != min && argc != min + 1)
    return fail(p, ASX_EPROTO, "%s needs %zu or %zu arguments", name, min, min + 1);
  c->subject = a[0];
  c->sid = a[1];
  if (argc == min + 1) c->reply = a[2];
  int rc = check_subject(p, s, c->subject, "subject");
  if (!rc && c->reply.len) rc = check_subject(p, s, c->reply, "reply subject");
  if (rc) return rc;
  if (!asx_nats_token_valid((const char *)s + c->sid.off, c->sid.len))
    return fail(p, ASX_EPROTO, "invalid sid in %s", name);
  uint64_t hdr = 0, total = 0;
  span tot = a[argc - 1];
  if (!parse_size(s + tot.off, tot.len, &total))
    return fail(p, ASX_EPROTO, "%s size is not a decimal number", name);
  if (hmsg) {
    span h = a[argc - 2];
    if (!parse_size(s + h.off, h.len, &hdr))
      return fail(p, ASX_EPROTO, "HMSG header size is not a decimal number");
    if (hdr > total) return fail(p, ASX_EPROTO, "HMSG header size exceeds total size");
  }
  if (total > p->lim.max_payload)
    return fail(p, ASX_ELIMIT, "%s of %llu bytes exceeds max_payload %zu", name,
                (unsigned long long)total, p->lim.max_payload);
  if (hmsg) {
    if (hdr > p->lim.max_header_block)
      return fail(p, ASX_ELIMIT, "HMSG header block of %llu bytes exceeds limit %zu",
                  (unsigned long long)hdr, p->lim.max_header_block);
    if (hdr < ASX_NATS_HDR_MIN_BLOCK)
      return fail(p, ASX_EPROTO, "HMSG header size %llu is too small", (unsigned long long)hdr);
  }
  c->hdr_len = (size_t)hdr;
  c->total_len = (size_t)total;
  c->frame_len = c->line_len + c->total_len + 2;
  return 0;
}

/* Parses the control line s[0, line_len) (CRLF included) into c. */
static int parse_ctl(asx_nats_parser *p, const uint8_t *s, size_t line_len, ctl_line *c) {
  memset(c, 0, sizeof *c);
  c->line_len = line_len;
  c->frame_len = line_len;
  size_t n = line_len - 2;
  if (memchr(s, '\r', n)) return fail(p, ASX_EPROTO, "stray CR in control line");
  size_t op_end = 0;
  while (op_end < n && !asx_nats_is_blank(s[op_end])) op_end++;
  bool has_args = skip_blanks(s, op_end, n) < n;
  if (op_is(s, op_end, "MSG") || op_is(s, op_end, "HMSG")) {
    c->op = op_end == 3 ? ASX_NATS_OP_MSG : ASX_NATS_OP_HMSG;
    return parse_msg_args(p, s, op_end, n, c);
  }
  if (op_is(s, op_end, "PING") || op_is(s, op_end, "PONG") || op_is(s, op_end, "+OK")) {
    if (has_args) return fail(p, ASX_EPROTO, "unexpected arguments after %.*s", (int)op_end, s);
    c->op = op_is(s, op_end, "PING") ? ASX_NATS_OP_PING
            : op_is(s, op_end, "PONG") ? ASX_NATS_OP_PONG
                                       : ASX_NATS_OP_OK;
    return 0;
  }
  if (op_is(s, op_end, "INFO")) {
    c->op = ASX_NATS_OP_INFO;
    c->text = rest_of_line(s, op_end, n);
    if (c->text.len == 0) return fail(p, ASX_EPROTO, "INFO without JSON");
    return 0;
  }
  if (op_is(s, op_end, "-ERR")) {
    c->op = ASX_NATS_OP_ERR;
    c->text = rest_of_line(s, op_end, n);
    /* The server quotes its messages: -ERR 'Authorization Violation'. */
    if (c->text.len >= 2 && s[c->text.off] == '\'' && s[c->text.off + c->text.len - 1] == '\'') {
      c->text.off++;
      c->text.len -= 2;
    }
    return 0;
  }
  return fail(p, ASX_EPROTO, "unknown protocol operation");
}

static asx_slice slice_at(const uint8_t *base, span f) { return (asx_slice){base + f.off, f.len}; }

/* Fills ev from the complete frame f[0, c->frame_len). */
static int finish_frame(asx_nats_parser *p, const uint8_t *f, const ctl_line *c,
                        asx_nats_event *ev) {
  memset(ev, 0, sizeof *ev);
  if (c->op == ASX_NATS_OP_MSG || c->op == ASX_NATS_OP_HMSG) {
    if (f[c->frame_len - 2] != '\r' || f[c->frame_len - 1] != '\n')
      return fail(p, ASX_EPROTO, "payload not followed by CRLF");
    const uint8_t *body = f + c->line_len;
    if (c->op == ASX_NATS_OP_HMSG) {
      int rc = asx_nats_hdr_block_check(body, c->hdr_len, &ev->status, &ev->status_text,
                                        p->errmsg, sizeof p->errmsg);
      if (rc) {
        p->err = rc;
        memset(ev, 0, sizeof *ev);
        return rc;
      }
      ev->header_block = (asx_slice){body, c->hdr_len};
    }
    ev->subject = slice_at(f, c->subject);
    ev->sid = slice_at(f, c->sid);
    ev->reply = slice_at(f, c->reply);
    ev->payload = (asx_slice){body + c->hdr_len, c->total_len - c->hdr_len};
  } else if (c->op == ASX_NATS_OP_INFO) {
    ev->info_json = slice_at(f, c->text);
  } else if (c->op == ASX_NATS_OP_ERR) {
    ev->err_text = slice_at(f, c->text);
  }
  ev->op = c->op;
  return 0;
}

/* Nothing buffered: parse straight from the caller's bytes, buffering only an incomplete frame. */
static int feed_direct(asx_nats_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                       asx_nats_event *ev) {
  size_t line_len = 0;
  int rc = scan_line(p, data, len, &line_len);
  bool have_ctl = false;
  if (rc == 0) {
    rc = parse_ctl(p, data, line_len, &p->ctl);
    if (rc) return rc;
    if (p->ctl.frame_len <= len) {
      rc = finish_frame(p, data, &p->ctl, ev);
      if (rc == 0) *consumed = p->ctl.frame_len;
      return rc;
    }
    have_ctl = true;
  } else if (rc != ASX_EAGAIN) {
    return rc;
  }
  /* Incomplete: keep everything. The window bounds it (line stage: < max_control_line + 2
   * bytes; frame stage: < frame_len, itself bounded by the limits). */
  p->buf.max = p->lim.max_control_line + 4 + p->lim.max_payload;
  rc = asx_buf_reserve(&p->buf, have_ctl ? p->ctl.frame_len : len);
  if (rc == 0) rc = asx_buf_append(&p->buf, data, len);
  if (rc) return fail(p, rc, "cannot buffer a partial frame: %s", asx_strerror(rc));
  p->have_ctl = have_ctl;
  *consumed = len;
  return ASX_EAGAIN;
}

/* A partial frame is buffered: take only the bytes that belong to it. */
static int feed_buffered(asx_nats_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                         asx_nats_event *ev) {
  int rc;
  if (!p->have_ctl) {
    size_t window = p->lim.max_control_line + 2;
    size_t room = window > p->buf.len ? window - p->buf.len : 0;
    size_t take = len < room ? len : room;
    const uint8_t *nl = memchr(data, '\n', take);
    if (nl) take = (size_t)(nl - data) + 1;
    rc = asx_buf_append(&p->buf, data, take);
    if (rc) return fail(p, rc, "cannot buffer a partial frame: %s", asx_strerror(rc));
    *consumed = take;
    size_t line_len = 0;
    rc = scan_line(p, p->buf.data, p->buf.len, &line_len);
    if (rc) return rc;
    rc = parse_ctl(p, p->buf.data, line_len, &p->ctl);
    if (rc) return rc;
    p->have_ctl = true;
  }
  size_t need = p->ctl.frame_len - p->buf.len;
  size_t avail = len - *consumed;
  size_t take = need < avail ? need : avail;
  rc = asx_buf_append(&p->buf, data + *consumed, take);
  if (rc) return fail(p, rc, "cannot buffer a partial frame: %s", asx_strerror(rc));
  *consumed += take;
  if (p->buf.len < p->ctl.frame_len) return ASX_EAGAIN;
  p->release_buf = true;
  return finish_frame(p, p->buf.data, &p->ctl, ev);
}

int asx_nats_parser_feed(asx_nats_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                         asx_nats_event *ev) {
  size_t dummy;
  if (!consumed) consumed = &dummy;
  *consumed = 0;
  if (ev) memset(ev, 0, sizeof *ev);
  if (!p || !ev || (!data && len)) return ASX_EINVAL;
  if (p->err) return p->err;
  if (p->release_buf) {
    asx_buf_reset(&p->buf);
    p->release_buf = false;
    p->have_ctl = false;
  }
  if (len == 0) return ASX_EAGAIN;
  if (p->buf.len == 0) return feed_direct(p, data, len, consumed, ev);
  return feed_buffered(p, data, len, consumed, ev);
}

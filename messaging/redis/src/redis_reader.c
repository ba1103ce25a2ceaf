/* The incremental RESP2/RESP3 reply decoder: a state machine that turns bytes into events.
 *
 * Two-phase delivery keeps partial input safe: the decoder first computes the next event, then
 * offers it to the sink (the tree builder or the user's callback) and only advances its state
 * when the sink accepted it. Bytes copied into the decoder (a line, a verbatim prefix, a CRLF)
 * are retained across calls, so a refused event is offered again; blob payload is handed out
 * straight from the caller's input and counts as consumed only once accepted. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "redis_internal.h"

typedef struct frame {
  asx_redis_type type;
  char wire;
  uint64_t remaining; /* elements still expected (2 per pair for maps and attributes) */
} frame;

typedef enum phase {
  PH_LINE,         /* gathering a line: type byte .. CRLF */
  PH_VERB_PREFIX,  /* gathering the 4-byte "fmt:" prefix of a verbatim string */
  PH_BLOB,         /* passing payload bytes through */
  PH_BLOB_CRLF     /* expecting the CRLF after the payload */
} phase;

struct asx_redis_decoder {
  const asx_allocator *alloc;
  asx_redis_limits lim;
  asx_redis_event_cb cb;  /* streaming mode when set */
  void *cb_ud;
  asx_redis_i_tree *tree;

  int err;                /* sticky protocol/limit error, 0 if none */
  char msg[256];

  uint64_t pos;           /* bytes consumed since creation or reset */
  uint64_t reply_bytes;   /* bytes of the current top-level reply */
  bool in_reply;
  bool reply_done;        /* a top-level value completed: REPLY_END is next */

  phase ph;
  asx_buf line;           /* the current line, type byte and CR included, LF excluded */
  bool line_complete;     /* `line` holds a finished line whose event may still be pending */
  uint64_t line_start;    /* stream offset of the line's first byte */

  frame *frames;          /* open aggregates, max_depth of them */
  unsigned depth;

  bool has_pending;       /* `pending` was computed but not accepted yet */
  asx_redis_event pending;

  asx_redis_type blob_type;
  char blob_wire;
  uint64_t blob_len;      /* announced payload length (verbatim: including "fmt:") */
  uint64_t blob_left;
  uint64_t blob_start;    /* stream offset of the payload */
  uint8_t vfmt[4];
  unsigned vfmt_have;
  unsigned crlf_have;
};

/* Records a sticky error with a message naming what and where. */
__attribute__((format(printf, 3, 4))) static int fail(asx_redis_decoder *d, int code,
                                                      const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  d->err = code;
  return code;
}

static bool limits_valid(const asx_redis_limits *l) {
  return l->max_depth >= 1 && l->max_depth <= 1024 && l->max_line >= 1 && l->max_total >= 1 &&
         l->max_elements >= 1;
}

int asx_redis_decoder_new(asx_redis_decoder **out, const asx_redis_limits *limits,
                          const asx_allocator *alloc) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_redis_limits lim = limits ? *limits : asx_redis_limits_default();
  if (!limits_valid(&lim)) return ASX_EINVAL;
  asx_redis_decoder *d = asx_calloc(alloc, 1, sizeof *d);
  if (!d) return ASX_ENOMEM;
  d->alloc = alloc;
  d->lim = lim;
  d->frames = asx_calloc(alloc, lim.max_depth, sizeof *d->frames);
  if (!d->frames || asx_redis_i_tree_new(&d->tree, alloc, lim.max_depth) != 0) {
    asx_free(alloc, d->frames);
    asx_free(alloc, d);
    return ASX_ENOMEM;
  }
  /* The line cap: max_line bytes of content plus the CR. */
  asx_buf_init(&d->line, alloc, lim.max_line + 1);
  *out = d;
  return 0;
}

void asx_redis_decoder_free(asx_redis_decoder *d) {
  if (!d) return;
  asx_redis_i_tree_free(d->tree);
  asx_buf_free(&d->line);
  asx_free(d->alloc, d->frames);
  asx_free(d->alloc, d);
}

void asx_redis_decoder_reset(asx_redis_decoder *d) {
  asx_redis_i_tree_reset(d->tree);
  d->err = 0;
  d->msg[0] = '\0';
  d->pos = 0;
  d->reply_bytes = 0;
  d->in_reply = false;
  d->reply_done = false;
  d->ph = PH_LINE;
  asx_buf_reset(&d->line);
  d->line_complete = false;
  d->depth = 0;
  d->has_pending = false;
}

int asx_redis_decoder_set_event_cb(asx_redis_decoder *d, asx_redis_event_cb cb, void *ud) {
  if (d->in_reply || d->has_pending) return ASX_ESTATE;
  d->cb = cb;
  d->cb_ud = ud;
  return 0;
}

const char *asx_redis_decoder_error_message(const asx_redis_decoder *d) { return d->msg; }

static int deliver(asx_redis_decoder *d, const asx_redis_event *ev) {
  return d->cb ? d->cb(d->cb_ud, ev) : asx_redis_i_tree_event(d->tree, ev);
}

/* Bytes of the current reply must stay within max_total. */
static int check_total(asx_redis_decoder *d, size_t n) {
  uint64_t have = d->in_reply ? d->reply_bytes : 0;
  if (n > d->lim.max_total || have > d->lim.max_total - n)
    return fail(d, ASX_ELIMIT, "reply exceeds max_total %zu bytes at offset %" PRIu64, d->lim.max_total,
                d->pos);
  return 0;
}

static void consume(asx_redis_decoder *d, size_t n) {
  if (!d->in_reply) {
    d->in_reply = true;
    d->reply_bytes = 0;
  }
  d->reply_bytes += n;
  d->pos += n;
}

static void set_pending(asx_redis_decoder *d, asx_redis_event_kind kind, asx_redis_type type,
                        char wire, unsigned depth) {
  memset(&d->pending, 0, sizeof d->pending);
  d->pending.kind = kind;
  d->pending.type = type;
  d->pending.wire = wire;
  d->pending.depth = depth;
  d->has_pending = true;
}

/* A value at the current level completed. */
static void element_done(asx_redis_decoder *d) {
  if (d->depth == 0)
    d->reply_done = true;
  else
    d->frames[d->depth - 1].remaining--;
}

static asx_redis_type type_of(uint8_t b) {
  switch (b) {
    case '+': return ASX_REDIS_STRING;
    case '-': return ASX_REDIS_ERROR;
    case ':': return ASX_REDIS_INTEGER;
    case '$': return ASX_REDIS_BULK;
    case '*': return ASX_REDIS_ARRAY;
    case '_': return ASX_REDIS_NULL;
    case '#': return ASX_REDIS_BOOL;
    case ',': return ASX_REDIS_DOUBLE;
    case '(': return ASX_REDIS_BIGNUM;
    case '!': return ASX_REDIS_BULK_ERROR;
    case '=': return ASX_REDIS_VERBATIM;
    case '%': return ASX_REDIS_MAP;
    case '~': return ASX_REDIS_SET;
    case '|': return ASX_REDIS_ATTRIBUTE;
    case '>': return ASX_REDIS_PUSH;
    default: return (asx_redis_type)0;
  }
}

/* Parses a length line's number; -1 only where `null_ok`. */
static int parse_length(asx_redis_decoder *d, const uint8_t *t, size_t n, const char *what,
                        int64_t *out) {
  asx_redis_i_num rc = asx_redis_i_parse_len(t, n, out);
  if (rc == ASX_REDIS_I_NUM_OVERFLOW)
    return fail(d, ASX_EPROTO, "%s overflows at offset %" PRIu64, what, d->line_start);
  if (rc != ASX_REDIS_I_NUM_OK) {
    /* a negative number other than -1 is the common malformed case: name it */
    if (n > 0 && t[0] == '-')
      return fail(d, ASX_EPROTO, "negative %s '%.*s' at offset %" PRIu64, what, (int)(n > 24 ? 24 : n),
                  (const char *)t, d->line_start);
    return fail(d, ASX_EPROTO, "%s is not a decimal number at offset %" PRIu64, what, d->line_start);
  }
  return 0;
}

/* Turns a complete line into the pending event (or a new phase). */
static int process_line(asx_redis_decoder *d) {
  const uint8_t *l = d->line.data;
  size_t n = d->line.len - 1; /* without the CR */
  if (memchr(l, '\r', n))
    return fail(d, ASX_EPROTO, "CR inside a line at offset %" PRIu64, d->line_start);
  uint8_t tb = l[0];
  const uint8_t *t = l + 1;
  size_t tn = n - 1;
  asx_redis_type type = type_of(tb);
  unsigned depth = d->depth;
  int64_t v = 0;
  switch (tb) {
    case '+':
    case '-':
    case '(':
      if (tb == '(' && !asx_redis_i_valid_bignum(t, tn))
        return fail(d, ASX_EPROTO, "invalid big number at offset %" PRIu64, d->line_start);
      set_pending(d, ASX_REDIS_EV_VALUE, type, (char)tb, depth);
      break;
    case ':': {
      asx_redis_i_num rc = asx_redis_i_parse_int(t, tn, &v);
      if (rc == ASX_REDIS_I_NUM_OVERFLOW)
        return fail(d, ASX_EPROTO, "integer overflows int64 at offset %" PRIu64, d->line_start);
      if (rc != ASX_REDIS_I_NUM_OK)
        return fail(d, ASX_EPROTO, "invalid integer at offset %" PRIu64, d->line_start);
      set_pending(d, ASX_REDIS_EV_VALUE, type, ':', depth);
      d->pending.integer = v;
      break;
    }
    case '_':
      if (tn != 0) return fail(d, ASX_EPROTO, "null with content at offset %" PRIu64, d->line_start);
      set_pending(d, ASX_REDIS_EV_VALUE, type, '_', depth);
      break;
    case '#':
      if (tn != 1 || (t[0] != 't' && t[0] != 'f'))
        return fail(d, ASX_EPROTO, "boolean is not 't' or 'f' at offset %" PRIu64, d->line_start);
      set_pending(d, ASX_REDIS_EV_VALUE, type, '#', depth);
      d->pending.integer = t[0] == 't';
      break;
    case ',': {
      double x;
      if (!asx_redis_i_parse_double(t, tn, &x))
        return fail(d, ASX_EPROTO, "invalid double at offset %" PRIu64, d->line_start);
      set_pending(d, ASX_REDIS_EV_VALUE, type, ',', depth);
      d->pending.dbl = x;
      break;
    }
    case '$':
    case '!':
    case '=': {
      int rc = parse_length(d, t, tn, "bulk length", &v);
      if (rc) return rc;
      if (v == -1) {
        if (tb != '$')
          return fail(d, ASX_EPROTO, "negative %s length at offset %" PRIu64, asx_redis_type_name(type),
                      d->line_start);
        set_pending(d, ASX_REDIS_EV_VALUE, ASX_REDIS_NULL, '$', depth);
        break;
      }
      if ((uint64_t)v > d->lim.max_bulk)
        return fail(d, ASX_ELIMIT, "%s length %" PRId64 " exceeds max_bulk %zu at offset %" PRIu64,
                    asx_redis_type_name(type), v, d->lim.max_bulk, d->line_start);
      d->blob_type = type;
      d->blob_wire = (char)tb;
      d->blob_len = (uint64_t)v;
      d->blob_start = d->pos;
      if (tb == '=') {
        if (v < 4)
          return fail(d, ASX_EPROTO, "verbatim string of %" PRId64 " bytes has no 'fmt:' prefix at offset %" PRIu64,
                      v, d->line_start);
        d->vfmt_have = 0;
        d->ph = PH_VERB_PREFIX;
        break;
      }
      set_pending(d, ASX_REDIS_EV_BLOB_BEGIN, type, (char)tb, depth);
      d->pending.len = (uint64_t)v;
      break;
    }
    case '*':
    case '%':
    case '~':
    case '|':
    case '>': {
      int rc = parse_length(d, t, tn, "aggregate count", &v);
      if (rc) return rc;
      if (v == -1) {
        if (tb != '*')
          return fail(d, ASX_EPROTO, "negative %s count at offset %" PRIu64, asx_redis_type_name(type),
                      d->line_start);
        set_pending(d, ASX_REDIS_EV_VALUE, ASX_REDIS_NULL, '*', depth);
        break;
      }
      if ((uint64_t)v > d->lim.max_elements)
        return fail(d, ASX_ELIMIT, "%s of %" PRId64 " elements exceeds max_elements %zu at offset %" PRIu64,
                    asx_redis_type_name(type), v, d->lim.max_elements, d->line_start);
      if (depth + 1 > d->lim.max_depth)
        return fail(d, ASX_ELIMIT, "nesting deeper than max_depth %u at offset %" PRIu64, d->lim.max_depth,
                    d->line_start);
      set_pending(d, ASX_REDIS_EV_AGG_BEGIN, type, (char)tb, depth);
      d->pending.len = (uint64_t)v;
      break;
    }
    default: /* type bytes are checked when the line starts */
      return fail(d, ASX_ECORRUPT, "internal: unknown type byte reached process_line");
  }
  if (d->has_pending && d->pending.kind == ASX_REDIS_EV_VALUE) d->pending.data = (asx_slice){t, tn};
  return 0;
}

/* Gathers line bytes; 0 when the line is complete and processed, ASX_EAGAIN when more input is
 * needed, or an error. */
static int step_line(asx_redis_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  if (d->line_complete) {
    d->line.len = 0;
    d->line_complete = false;
  }
  if (*off == len) return ASX_EAGAIN;
  const uint8_t *p = data + *off;
  size_t avail = len - *off;
  if (d->line.len == 0) {
    if (!type_of(p[0]))
      return fail(d, ASX_EPROTO, "unknown type byte 0x%02x at offset %" PRIu64, p[0], d->pos);
    d->line_start = d->pos;
  }
  /* Errors are reported in stream order (the first offending byte wins) so that the result does
   * not depend on how the input was split: look only as far as the reply may still grow. */
  uint64_t used = d->in_reply ? d->reply_bytes : 0;
  size_t room = (size_t)(d->lim.max_total - used);
  size_t window = avail < room ? avail : room;
  const uint8_t *nl = memchr(p, '\n', window);
  size_t take = nl ? (size_t)(nl - p) + 1 : window;
  size_t body = nl ? take - 1 : take; /* bytes that go into `line` */
  bool prev_cr = d->line.len > 0 && d->line.data[d->line.len - 1] == '\r';
  for (size_t i = 0; i < body; i++) {
    if (prev_cr)
      return fail(d, ASX_EPROTO, "CR not followed by LF in line at offset %" PRIu64, d->line_start);
    if (p[i] == '\r') {
      prev_cr = true;
      continue;
    }
    /* no CR precedes this byte, so every byte so far is content */
    if (d->line.len + i + 1 > d->lim.max_line)
      return fail(d, ASX_ELIMIT, "line longer than max_line %zu bytes at offset %" PRIu64, d->lim.max_line,
                  d->line_start);
  }
  if (nl && !prev_cr)
    return fail(d, ASX_EPROTO, "line not terminated by CRLF (bare LF) at offset %" PRIu64, d->pos + body);
  if (!nl && window < avail) return check_total(d, window + 1);
  int rc = check_total(d, take);
  if (rc) return rc;
  rc = asx_buf_append(&d->line, p, body);
  if (rc) return rc == ASX_ELIMIT ? fail(d, ASX_ELIMIT, "line longer than max_line") : rc;
  consume(d, take);
  *off += take;
  if (!nl) return ASX_EAGAIN;
  d->line_complete = true;
  return process_line(d);
}

static int step_verb_prefix(asx_redis_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  if (*off == len) return ASX_EAGAIN;
  size_t take = 4 - d->vfmt_have;
  if (take > len - *off) take = len - *off;
  int rc = check_total(d, take);
  if (rc) return rc;
  memcpy(d->vfmt + d->vfmt_have, data + *off, take);
  d->vfmt_have += (unsigned)take;
  consume(d, take);
  *off += take;
  if (d->vfmt_have < 4) return ASX_EAGAIN;
  if (d->vfmt[3] != ':')
    return fail(d, ASX_EPROTO, "verbatim string format not followed by ':' at offset %" PRIu64,
                d->blob_start);
  /* The format is a 3-character name such as "txt" or "mkd": printable, no ':' */
  for (int i = 0; i < 3; i++)
    if (d->vfmt[i] <= ' ' || d->vfmt[i] >= 0x7f || d->vfmt[i] == ':')
      return fail(d, ASX_EPROTO, "invalid verbatim string format at offset %" PRIu64, d->blob_start);
  set_pending(d, ASX_REDIS_EV_BLOB_BEGIN, ASX_REDIS_VERBATIM, '=', d->depth);
  d->pending.len = d->blob_len - 4;
  memcpy(d->pending.format, d->vfmt, 3);
  d->pending.format[3] = '\0';
  return 0;
}

/* Offers payload straight from the input; consumes only what the sink accepted. */
static int step_blob(asx_redis_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  if (*off == len) return ASX_EAGAIN;
  size_t n = len - *off;
  if (n > d->blob_left) n = (size_t)d->blob_left;
  int rc = check_total(d, n);
  if (rc) return rc;
  asx_redis_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = ASX_REDIS_EV_BLOB_DATA;
  ev.type = d->blob_type;
  ev.wire = d->blob_wire;
  ev.depth = d->depth;
  ev.data = (asx_slice){data + *off, n};
  rc = deliver(d, &ev);
  if (rc) return rc;
  consume(d, n);
  *off += n;
  d->blob_left -= n;
  if (d->blob_left == 0) {
    d->ph = PH_BLOB_CRLF;
    d->crlf_have = 0;
  }
  return 0;
}

static int step_blob_crlf(asx_redis_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  while (d->crlf_have < 2) {
    if (*off == len) return ASX_EAGAIN;
    uint8_t want = d->crlf_have == 0 ? '\r' : '\n';
    if (data[*off] != want)
      return fail(d, ASX_EPROTO, "%s payload of %" PRIu64 " bytes not followed by CRLF at offset %" PRIu64,
                  asx_redis_type_name(d->blob_type), d->blob_len, d->pos);
    int rc = check_total(d, 1);
    if (rc) return rc;
    consume(d, 1);
    (*off)++;
    d->crlf_have++;
  }
  set_pending(d, ASX_REDIS_EV_BLOB_END, d->blob_type, d->blob_wire, d->depth);
  return 0;
}

/* Applies an accepted event to the decoder's own state; true when a reply is complete. */
static bool after_accept(asx_redis_decoder *d, const asx_redis_event *ev) {
  switch (ev->kind) {
    case ASX_REDIS_EV_VALUE:
      element_done(d);
      break;
    case ASX_REDIS_EV_BLOB_BEGIN:
      d->blob_left = ev->len;
      d->ph = ev->len ? PH_BLOB : PH_BLOB_CRLF;
      d->crlf_have = 0;
      break;
    case ASX_REDIS_EV_BLOB_DATA:
      break;
    case ASX_REDIS_EV_BLOB_END:
      d->ph = PH_LINE;
      element_done(d);
      break;
    case ASX_REDIS_EV_AGG_BEGIN: {
      frame *f = &d->frames[d->depth++];
      f->type = ev->type;
      f->wire = ev->wire;
      bool pairs = ev->type == ASX_REDIS_MAP || ev->type == ASX_REDIS_ATTRIBUTE;
      f->remaining = pairs ? ev->len * 2 : ev->len;
      break;
    }
    case ASX_REDIS_EV_AGG_END: {
      asx_redis_type t = d->frames[--d->depth].type;
      if (t != ASX_REDIS_ATTRIBUTE) element_done(d);
      break;
    }
    case ASX_REDIS_EV_REPLY_END:
      d->reply_done = false;
      d->in_reply = false;
      d->reply_bytes = 0;
      return true;
  }
  return false;
}

int asx_redis_decoder_feed(asx_redis_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                           asx_redis_reply **reply) {
  size_t off = 0;
  if (consumed) *consumed = 0;
  if (reply) *reply = NULL;
  if (!d || !consumed || (!data && len)) return ASX_EINVAL;
  if (d->err) return d->err;
  int rc = 0;
  for (;;) {
    if (d->has_pending) {
      rc = deliver(d, &d->pending);
      if (rc) break;
      d->has_pending = false;
      if (after_accept(d, &d->pending)) {
        if (!d->cb) {
          asx_redis_reply *r = asx_redis_i_tree_take(d->tree);
          if (reply)
            *reply = r;
          else
            asx_redis_reply_free(r);
        }
        rc = 0;
        break;
      }
      continue;
    }
    if (d->reply_done) {
      set_pending(d, ASX_REDIS_EV_REPLY_END, (asx_redis_type)0, 0, 0);
      continue;
    }
    if (d->depth > 0 && d->frames[d->depth - 1].remaining == 0) {
      frame *f = &d->frames[d->depth - 1];
      set_pending(d, ASX_REDIS_EV_AGG_END, f->type, f->wire, d->depth - 1);
      continue;
    }
    switch (d->ph) {
      case PH_LINE: rc = step_line(d, data, len, &off); break;
      case PH_VERB_PREFIX: rc = step_verb_prefix(d, data, len, &off); break;
      case PH_BLOB: rc = step_blob(d, data, len, &off); break;
      case PH_BLOB_CRLF: rc = step_blob_crlf(d, data, len, &off); break;
    }
    if (rc) break;
  }
  *consumed = off;
  return rc;
}

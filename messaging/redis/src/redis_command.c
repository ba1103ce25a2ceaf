/* Server-side command decoder: RESP arrays of bulk strings ("*2\r\n$3\r\nGET\r\n...") and inline
 * commands ("GET key\r\n"), decided by the first byte of each command as redis-server does.
 *
 * Bytes reported as consumed are always kept: a finished line waits in `line` until it has been
 * processed, argument bytes go into `data` only when the append succeeded, and storage needed
 * later (the slot for an argument's end) is reserved while its header line is processed, so an
 * ASX_ENOMEM can always be retried with the unconsumed input. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "redis_internal.h"

typedef enum cphase {
  CPH_START,     /* between commands */
  CPH_LINE,      /* gathering a line (inline command, "*N" or "$N") */
  CPH_ARG_DATA,  /* argument bytes */
  CPH_ARG_CRLF   /* CRLF after an argument */
} cphase;

typedef enum line_kind { LK_INLINE, LK_COUNT, LK_ARG_LEN } line_kind;

struct asx_redis_cmd_decoder {
  const asx_allocator *alloc;
  asx_redis_limits lim;
  int err;
  char msg[256];
  uint64_t pos;
  uint64_t cmd_bytes;     /* bytes of the current command so far */

  cphase ph;
  line_kind lk;
  asx_buf line;           /* current line without its LF (CR kept) */
  bool line_ready;        /* `line` is complete and not processed yet */
  uint64_t line_start;

  asx_buf data;           /* argument bytes, back to back */
  size_t *ends;           /* end offset in `data` of each argument */
  size_t nargs, ends_cap;
  uint64_t argc_expected;
  uint64_t arg_left, arg_len;
  unsigned crlf_have;
  asx_buf scratch;        /* inline splitting */

  asx_slice *argv;
  size_t argv_cap;
  bool cmd_ready;         /* all arguments are in; argv still to be built */
  bool delivered;         /* the last call returned a command: clear it first */
  bool inline_form;
  asx_redis_command cmd;
};

__attribute__((format(printf, 3, 4))) static int fail(asx_redis_cmd_decoder *d, int code,
                                                      const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  d->err = code;
  return code;
}

int asx_redis_cmd_decoder_new(asx_redis_cmd_decoder **out, const asx_redis_limits *limits,
                              const asx_allocator *alloc) {
  if (!out) return ASX_EINVAL;
  *out = NULL;
  asx_redis_limits lim = limits ? *limits : asx_redis_limits_default();
  if (lim.max_line < 1 || lim.max_total < 1 || lim.max_elements < 1) return ASX_EINVAL;
  asx_redis_cmd_decoder *d = asx_calloc(alloc, 1, sizeof *d);
  if (!d) return ASX_ENOMEM;
  d->alloc = alloc;
  d->lim = lim;
  asx_buf_init(&d->line, alloc, lim.max_line + 1);
  asx_buf_init(&d->data, alloc, lim.max_total);
  asx_buf_init(&d->scratch, alloc, lim.max_line + 1);
  *out = d;
  return 0;
}

void asx_redis_cmd_decoder_free(asx_redis_cmd_decoder *d) {
  if (!d) return;
  asx_buf_free(&d->line);
  asx_buf_free(&d->data);
  asx_buf_free(&d->scratch);
  asx_free(d->alloc, d->ends);
  asx_free(d->alloc, d->argv);
  asx_free(d->alloc, d);
}

/* Drops the arguments of the current command, keeping the storage. */
static void clear_command(asx_redis_cmd_decoder *d) {
  d->nargs = 0;
  d->data.len = 0;
  d->cmd_bytes = 0;
  d->cmd_ready = false;
  d->delivered = false;
  d->ph = CPH_START;
}

void asx_redis_cmd_decoder_reset(asx_redis_cmd_decoder *d) {
  clear_command(d);
  d->err = 0;
  d->msg[0] = '\0';
  d->pos = 0;
  d->line.len = 0;
  d->line_ready = false;
}

const char *asx_redis_cmd_decoder_error_message(const asx_redis_cmd_decoder *d) { return d->msg; }

static int check_total(asx_redis_cmd_decoder *d, size_t n) {
  if (n > d->lim.max_total || d->cmd_bytes > d->lim.max_total - n)
    return fail(d, ASX_ELIMIT, "command exceeds max_total %zu bytes at offset %" PRIu64, d->lim.max_total,
                d->pos);
  return 0;
}

static void consume(asx_redis_cmd_decoder *d, size_t n) {
  d->cmd_bytes += n;
  d->pos += n;
}

/* Makes sure ends[nargs] exists; the array grows with the arguments, capped at `cap_hint`. */
static int reserve_arg(asx_redis_cmd_decoder *d, uint64_t cap_hint) {
  if (d->nargs < d->ends_cap) return 0;
  uint64_t want = d->ends_cap ? (uint64_t)d->ends_cap * 2 : 8;
  if (want > cap_hint) want = cap_hint;
  if (want < d->nargs + 1) want = d->nargs + 1;
  if (want > SIZE_MAX / sizeof *d->ends) return ASX_ENOMEM;
  size_t *e = asx_realloc(d->alloc, d->ends, (size_t)want * sizeof *e);
  if (!e) return ASX_ENOMEM;
  d->ends = e;
  d->ends_cap = (size_t)want;
  return 0;
}

/* The inline splitter's callback: stores one argument. */
static int inline_arg(void *ud, const uint8_t *p, size_t n) {
  asx_redis_cmd_decoder *d = ud;
  if (d->nargs >= d->lim.max_elements)
    return fail(d, ASX_ELIMIT, "inline command has more than max_elements %zu arguments at offset %" PRIu64,
                d->lim.max_elements, d->line_start);
  int rc = reserve_arg(d, UINT64_MAX);
  if (rc == 0) rc = asx_buf_append(&d->data, p, n);
  if (rc) return rc;
  d->ends[d->nargs++] = d->data.len;
  return 0;
}

static int process_inline(asx_redis_cmd_decoder *d) {
  size_t n = d->line.len;
  if (n > 0 && d->line.data[n - 1] == '\r') n--;
  int rc = asx_buf_reserve(&d->scratch, n + 1);
  if (rc) return rc;
  d->nargs = 0;
  d->data.len = 0;
  size_t bad = 0;
  rc = asx_redis_i_split_inline(d->line.data, n, d->scratch.data, inline_arg, d, &bad);
  if (rc == ASX_EPROTO)
    return fail(d, ASX_EPROTO, "unbalanced quotes in inline command at offset %" PRIu64, d->line_start + bad);
  if (rc) {
    d->nargs = 0; /* ENOMEM: the line stays ready and is split again */
    d->data.len = 0;
    return rc;
  }
  d->inline_form = true;
  if (d->nargs == 0) {
    clear_command(d); /* an empty line is skipped, as redis-server does */
    return 0;
  }
  d->cmd_ready = true;
  return 0;
}

static int parse_len_or_fail(asx_redis_cmd_decoder *d, const char *what, int64_t *v) {
  asx_redis_i_num rc = asx_redis_i_parse_len(d->line.data + 1, d->line.len - 2, v);
  if (rc == ASX_REDIS_I_NUM_OVERFLOW)
    return fail(d, ASX_EPROTO, "%s overflows at offset %" PRIu64, what, d->line_start);
  if (rc != ASX_REDIS_I_NUM_OK)
    return fail(d, ASX_EPROTO, "invalid %s at offset %" PRIu64, what, d->line_start);
  return 0;
}

static int process_header(asx_redis_cmd_decoder *d) {
  size_t n = d->line.len;
  if (n < 2 || d->line.data[n - 1] != '\r')
    return fail(d, ASX_EPROTO, "line not terminated by CRLF at offset %" PRIu64, d->line_start);
  if (memchr(d->line.data, '\r', n - 1))
    return fail(d, ASX_EPROTO, "CR inside a line at offset %" PRIu64, d->line_start);
  int64_t v;
  if (d->lk == LK_COUNT) {
    int rc = parse_len_or_fail(d, "multibulk length", &v);
    if (rc) return rc;
    if (v > 0 && (uint64_t)v > d->lim.max_elements)
      return fail(d, ASX_ELIMIT, "multibulk length %" PRId64 " exceeds max_elements %zu at offset %" PRIu64, v,
                  d->lim.max_elements, d->line_start);
    d->inline_form = false;
    if (v <= 0) {
      clear_command(d); /* "*0" and "*-1" carry no command: skipped like redis-server */
      return 0;
    }
    d->argc_expected = (uint64_t)v;
    d->lk = LK_ARG_LEN;
    d->ph = CPH_LINE;
    return 0;
  }
  int rc = parse_len_or_fail(d, "bulk length", &v);
  if (rc) return rc;
  if (v < 0) return fail(d, ASX_EPROTO, "invalid bulk length -1 at offset %" PRIu64, d->line_start);
  if ((uint64_t)v > d->lim.max_bulk)
    return fail(d, ASX_ELIMIT, "bulk length %" PRId64 " exceeds max_bulk %zu at offset %" PRIu64, v,
                d->lim.max_bulk, d->line_start);
  rc = reserve_arg(d, d->argc_expected);
  if (rc) return rc;
  d->arg_len = d->arg_left = (uint64_t)v;
  d->crlf_have = 0;
  d->ph = v ? CPH_ARG_DATA : CPH_ARG_CRLF;
  return 0;
}

static int gather_line(asx_redis_cmd_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  if (*off == len) return ASX_EAGAIN;
  const uint8_t *p = data + *off;
  size_t avail = len - *off;
  if (d->line.len == 0) {
    d->line_start = d->pos;
    if (d->lk == LK_ARG_LEN && p[0] != '$')
      return fail(d, ASX_EPROTO, "expected '$', got '%c' (0x%02x) at offset %" PRIu64,
                  (p[0] >= 32 && p[0] < 127) ? p[0] : '?', p[0], d->pos);
  }
  const uint8_t *nl = memchr(p, '\n', avail);
  size_t take = nl ? (size_t)(nl - p) + 1 : avail;
  size_t body = nl ? take - 1 : take;
  size_t content = d->line.len + body;
  bool ends_cr = body > 0 ? p[body - 1] == '\r' : (d->line.len > 0 && d->line.data[d->line.len - 1] == '\r');
  if (content - (ends_cr ? 1 : 0) > d->lim.max_line)
    return fail(d, ASX_ELIMIT, "%s line longer than max_line %zu bytes at offset %" PRIu64,
                d->lk == LK_INLINE ? "inline command" : "header", d->lim.max_line, d->line_start);
  int rc = check_total(d, take);
  if (rc) return rc;
  rc = asx_buf_append(&d->line, p, body);
  if (rc) return rc;
  consume(d, take);
  *off += take;
  if (!nl) return ASX_EAGAIN;
  d->line_ready = true;
  return 0;
}

static int step_arg_data(asx_redis_cmd_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  if (*off == len) return ASX_EAGAIN;
  size_t n = len - *off;
  if (n > d->arg_left) n = (size_t)d->arg_left;
  int rc = check_total(d, n);
  if (rc) return rc;
  rc = asx_buf_append(&d->data, data + *off, n);
  if (rc) return rc == ASX_ELIMIT ? fail(d, ASX_ELIMIT, "command exceeds max_total") : rc;
  consume(d, n);
  *off += n;
  d->arg_left -= n;
  if (d->arg_left == 0) d->ph = CPH_ARG_CRLF;
  return 0;
}

static int step_arg_crlf(asx_redis_cmd_decoder *d, const uint8_t *data, size_t len, size_t *off) {
  while (d->crlf_have < 2) {
    if (*off == len) return ASX_EAGAIN;
    uint8_t want = d->crlf_have == 0 ? '\r' : '\n';
    if (data[*off] != want)
      return fail(d, ASX_EPROTO, "argument of %" PRIu64 " bytes not followed by CRLF at offset %" PRIu64,
                  d->arg_len, d->pos);
    int rc = check_total(d, 1);
    if (rc) return rc;
    consume(d, 1);
    (*off)++;
    d->crlf_have++;
  }
  d->ends[d->nargs++] = d->data.len; /* slot reserved by process_header */
  if (d->nargs == d->argc_expected) {
    d->cmd_ready = true;
  } else {
    d->lk = LK_ARG_LEN;
    d->ph = CPH_LINE;
  }
  return 0;
}

/* Publishes the finished command; its argv points into `data`. */
static int build_command(asx_redis_cmd_decoder *d) {
  if (d->nargs > d->argv_cap) {
    asx_slice *v = asx_realloc(d->alloc, d->argv, d->nargs * sizeof *v);
    if (!v) return ASX_ENOMEM;
    d->argv = v;
    d->argv_cap = d->nargs;
  }
  size_t start = 0;
  for (size_t i = 0; i < d->nargs; i++) {
    d->argv[i] = (asx_slice){d->data.data + start, d->ends[i] - start};
    if (d->argv[i].len == 0) d->argv[i].ptr = (const uint8_t *)"";
    start = d->ends[i];
  }
  d->cmd.argc = d->nargs;
  d->cmd.argv = d->argv;
  d->cmd.inline_form = d->inline_form;
  return 0;
}

int asx_redis_cmd_decoder_feed(asx_redis_cmd_decoder *d, const uint8_t *data, size_t len,
                               size_t *consumed, const asx_redis_command **cmd) {
  size_t off = 0;
  if (consumed) *consumed = 0;
  if (cmd) *cmd = NULL;
  if (!d || !consumed || !cmd || (!data && len)) return ASX_EINVAL;
  if (d->err) return d->err;
  if (d->delivered) clear_command(d);
  int rc = 0;
  for (;;) {
    if (d->cmd_ready) {
      rc = build_command(d);
      if (rc) break;
      d->cmd_ready = false;
      d->delivered = true;
      *cmd = &d->cmd;
      break;
    }
    if (d->line_ready) {
      rc = d->lk == LK_INLINE ? process_inline(d) : process_header(d);
      if (rc) break;
      d->line_ready = false;
      d->line.len = 0;
      continue;
    }
    switch (d->ph) {
      case CPH_START:
        if (off == len) {
          rc = ASX_EAGAIN;
          break;
        }
        d->lk = data[off] == '*' ? LK_COUNT : LK_INLINE;
        d->ph = CPH_LINE;
        continue;
      case CPH_LINE: rc = gather_line(d, data, len, &off); break;
      case CPH_ARG_DATA: rc = step_arg_data(d, data, len, &off); break;
      case CPH_ARG_CRLF: rc = step_arg_crlf(d, data, len, &off); break;
    }
    if (rc) break;
  }
  *consumed = off;
  return rc;
}

/* fuzz_nats_proto: the NATS parser fed the input whole, then split at two positions taken from
 * the input, must produce byte-identical events and the same final result (abort() otherwise).
 * Every INFO payload (and the raw input) also goes through the strict JSON reader; a string the
 * reader accepts must survive CONNECT encoding and re-reading unchanged. HMSG header blocks are
 * walked with the iterator. Every MSG/HMSG is re-encoded as PUB/HPUB, turned back into MSG/HMSG
 * and must parse to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asx/nats.h"

typedef struct log {
  uint8_t *data;
  size_t len, cap;
} log_t;

static void put(log_t *l, const void *p, size_t n) {
  if (l->len + n > l->cap) {
    size_t cap = l->cap ? l->cap : 256;
    while (cap < l->len + n) cap *= 2;
    l->data = realloc(l->data, cap);
    if (!l->data) abort();
    l->cap = cap;
  }
  if (n) memcpy(l->data + l->len, p, n);
  l->len += n;
}

static void put_u32(log_t *l, uint32_t v) { put(l, &v, sizeof v); }

static void put_slice(log_t *l, asx_slice s) {
  put_u32(l, (uint32_t)s.len);
  put(l, s.ptr, s.len);
}

static void small_limits(asx_nats_limits *lim) {
  asx_nats_limits_default(lim);
  lim->max_control_line = 200;
  lim->max_payload = 2048;
  lim->max_header_block = 512;
  lim->max_json_depth = 8;
  lim->max_connect_urls = 8;
}

/* The string must come back identical after CONNECT encoding and strict re-reading. */
static void check_string_round_trip(const char *s) {
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  asx_nats_connect_opts o;
  asx_nats_connect_opts_default(&o);
  o.version = s;
  if (asx_nats_encode_connect(&out, &o) != 0) abort(); /* reader output is valid UTF-8 */
  asx_nats_server_info again;
  asx_slice json = {out.data + 8, out.len - 10}; /* strip "CONNECT " and CRLF */
  if (asx_nats_info_parse(&again, json, NULL, NULL, NULL, 0) != 0) abort();
  if (!again.version || strcmp(again.version, s) != 0) abort();
  asx_nats_server_info_free(&again);
  asx_buf_free(&out);
}

static void check_info(asx_slice json) {
  asx_nats_limits lim;
  small_limits(&lim);
  asx_nats_server_info info;
  char err[128];
  int rc = asx_nats_info_parse(&info, json, &lim, NULL, err, sizeof err);
  if (rc == 0) {
    if (info.connect_urls_len > lim.max_connect_urls) abort();
    for (size_t i = 0; i < info.connect_urls_len; i++)
      if (!info.connect_urls[i]) abort();
    if (info.server_id) check_string_round_trip(info.server_id);
  } else if (rc != ASX_EPROTO && rc != ASX_ELIMIT) {
    abort();
  } else if (err[0] == '\0' || info.server_id || info.connect_urls) {
    abort();
  }
  asx_nats_server_info_free(&info);
}

static void check_headers(const asx_nats_event *ev) {
  asx_nats_hdr_iter it;
  asx_slice name, value;
  size_t n = 0;
  asx_nats_hdr_iter_init(&it, ev->header_block);
  while (asx_nats_hdr_next(&it, &name, &value)) {
    if (name.len == 0 || name.ptr < ev->header_block.ptr ||
        value.ptr + value.len > ev->header_block.ptr + ev->header_block.len)
      abort();
    n++;
  }
  if (ev->status && (ev->status < 100 || ev->status > 999)) abort();
  (void)n;
}

static char *cstr(asx_slice s) {
  char *c = malloc(s.len + 1);
  if (!c) abort();
  if (s.len) memcpy(c, s.ptr, s.len);
  c[s.len] = '\0';
  return c;
}

/* What the parser delivered, re-encoded as PUB/HPUB and turned into MSG/HMSG the way the server
 * does (insert the sid), must parse back to the same fields: encoder and parser agree. */
static void check_reencode(const asx_nats_event *ev) {
  if (ev->status) return; /* the builder writes no status line */
  char *subject = cstr(ev->subject), *reply = ev->reply.len ? cstr(ev->reply) : NULL;
  asx_nats_limits lim;
  small_limits(&lim);
  asx_buf out;
  asx_buf_init(&out, NULL, 0);
  asx_nats_hdr h;
  bool hmsg = ev->op == ASX_NATS_OP_HMSG;
  if (asx_nats_hdr_init(&h, NULL, lim.max_header_block) != 0) abort();
  if (hmsg) {
    asx_nats_hdr_iter it;
    asx_slice n, v;
    asx_nats_hdr_iter_init(&it, ev->header_block);
    while (asx_nats_hdr_next(&it, &n, &v)) {
      char *name = cstr(n), *value = cstr(v);
      /* A NUL inside a value cannot pass through the C-string builder API. */
      int rc = memchr(v.ptr, '\0', v.len) ? -1 : asx_nats_hdr_add(&h, name, value);
      free(name);
      free(value);
      if (rc == -1) goto done;
      if (rc != 0) abort();
    }
  }
  int rc = hmsg ? asx_nats_encode_hpub(&out, &lim, subject, reply, &h, ev->payload.ptr, ev->payload.len)
                : asx_nats_encode_pub(&out, &lim, subject, reply, ev->payload.ptr, ev->payload.len);
  if (rc == ASX_ELIMIT) goto done; /* "A:x" comes back as "A: x": the block may grow */
  if (rc != 0) abort();
  /* "PUB subject rest" -> "MSG subject sid rest" */
  size_t skip = (hmsg ? 5 : 4) + ev->subject.len;
  log_t wire = {0};
  put(&wire, hmsg ? "HMSG " : "MSG ", hmsg ? 5 : 4);
  put(&wire, ev->subject.ptr, ev->subject.len);
  put(&wire, " ", 1);
  put(&wire, ev->sid.ptr, ev->sid.len);
  put(&wire, out.data + skip, out.len - skip);
  asx_nats_parser *p = NULL;
  if (asx_nats_parser_new(&p, &lim, NULL) != 0) abort();
  asx_nats_event back;
  size_t used = 0;
  rc = asx_nats_parser_feed(p, wire.data, wire.len, &used, &back);
  if (rc == ASX_ELIMIT) goto free_parser; /* the rebuilt line may be longer (single blanks) */
  if (rc != 0 || used != wire.len || back.op != ev->op) abort();
  if (!asx_slice_eq(back.subject, subject) || back.sid.len != ev->sid.len ||
      memcmp(back.sid.ptr, ev->sid.ptr, ev->sid.len) != 0 || back.reply.len != ev->reply.len ||
      (back.reply.len && memcmp(back.reply.ptr, ev->reply.ptr, ev->reply.len) != 0) ||
      back.payload.len != ev->payload.len ||
      (back.payload.len && memcmp(back.payload.ptr, ev->payload.ptr, ev->payload.len) != 0))
    abort();
  if (hmsg) {
    asx_nats_hdr_iter a, b;
    asx_slice an, av, bn, bv;
    asx_nats_hdr_iter_init(&a, ev->header_block);
    asx_nats_hdr_iter_init(&b, back.header_block);
    for (;;) {
      bool ha = asx_nats_hdr_next(&a, &an, &av), hb = asx_nats_hdr_next(&b, &bn, &bv);
      if (ha != hb) abort();
      if (!ha) break;
      if (an.len != bn.len || av.len != bv.len || memcmp(an.ptr, bn.ptr, an.len) != 0 ||
          (av.len && memcmp(av.ptr, bv.ptr, av.len) != 0))
        abort();
    }
  }
free_parser:
  asx_nats_parser_free(p);
  free(wire.data);
done:
  asx_nats_hdr_free(&h);
  asx_buf_free(&out);
  free(subject);
  free(reply);
}

static void log_event(log_t *l, const asx_nats_event *ev, bool checks) {
  put_u32(l, (uint32_t)ev->op);
  put_u32(l, (uint32_t)ev->status);
  put_slice(l, ev->subject);
  put_slice(l, ev->sid);
  put_slice(l, ev->reply);
  put_slice(l, ev->payload);
  put_slice(l, ev->header_block);
  put_slice(l, ev->status_text);
  put_slice(l, ev->info_json);
  put_slice(l, ev->err_text);
  if (!checks) return;
  if (ev->op == ASX_NATS_OP_INFO) check_info(ev->info_json);
  if (ev->op == ASX_NATS_OP_HMSG) check_headers(ev);
  if (ev->op == ASX_NATS_OP_MSG || ev->op == ASX_NATS_OP_HMSG) check_reencode(ev);
}

/* Feeds data in the pieces [0,c1) [c1,c2) [c2,len); returns the final code. */
static int run(const uint8_t *data, size_t len, size_t c1, size_t c2, log_t *l, bool checks) {
  asx_nats_limits lim;
  small_limits(&lim);
  asx_nats_parser *p = NULL;
  if (asx_nats_parser_new(&p, &lim, NULL) != 0) abort();
  size_t cuts[3] = {c1, c2, len};
  size_t start = 0;
  int rc = ASX_EAGAIN;
  for (int i = 0; i < 3 && rc == ASX_EAGAIN; i++) {
    size_t off = start, end = cuts[i];
    while (off < end) {
      asx_nats_event ev;
      size_t used = 0;
      rc = asx_nats_parser_feed(p, data + off, end - off, &used, &ev);
      if (used > end - off) abort();
      off += used;
      if (rc == 0) {
        log_event(l, &ev, checks);
        rc = ASX_EAGAIN;
        continue;
      }
      if (rc == ASX_EAGAIN) {
        if (off != end) abort(); /* EAGAIN means every byte was taken */
        break;
      }
      if (rc != ASX_EPROTO && rc != ASX_ELIMIT) abort();
      if (asx_nats_parser_error_message(p)[0] == '\0') abort();
      put_u32(l, 0xffffffffu);
      put_u32(l, (uint32_t)-rc);
      break;
    }
    start = end;
  }
  asx_nats_parser_free(p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  /* Two bytes choose the split points; the rest is the byte stream. */
  size_t a = data[0], b = data[1];
  data += 2;
  size -= 2;
  size_t c1 = size ? (a * 7919u) % (size + 1) : 0;
  size_t c2 = size ? (b * 104729u) % (size + 1) : 0;
  if (c2 < c1) {
    size_t t = c1;
    c1 = c2;
    c2 = t;
  }
  log_t whole = {0}, split = {0};
  int rw = run(data, size, size, size, &whole, true);
  int rs = run(data, size, c1, c2, &split, false);
  if (rw != rs || whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
    abort();
  free(whole.data);
  free(split.data);
  /* The JSON reader on its own. */
  check_info((asx_slice){data, size});
  return 0;
}

#include "nats_testutil.h"

#include <criterion/criterion.h>
#include <string.h>

static void put_u32(asx_buf *log, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  cr_assert_eq(asx_buf_append(log, b, 4), 0);
}

static void put_slice(asx_buf *log, asx_slice s) {
  put_u32(log, (uint32_t)s.len);
  cr_assert_eq(asx_buf_append(log, s.ptr, s.len), 0);
}

void nt_log_event(asx_buf *log, const asx_nats_event *ev) {
  put_u32(log, (uint32_t)ev->op);
  put_u32(log, (uint32_t)ev->status);
  put_slice(log, ev->subject);
  put_slice(log, ev->sid);
  put_slice(log, ev->reply);
  put_slice(log, ev->payload);
  put_slice(log, ev->header_block);
  put_slice(log, ev->status_text);
  put_slice(log, ev->info_json);
  put_slice(log, ev->err_text);
}

static int feed_piece(asx_nats_parser *p, const uint8_t *data, size_t len, asx_buf *log) {
  size_t off = 0;
  while (off < len) {
    asx_nats_event ev;
    size_t used = 0;
    int rc = asx_nats_parser_feed(p, data + off, len - off, &used, &ev);
    cr_assert_leq(used, len - off);
    off += used;
    if (rc == 0) {
      nt_log_event(log, &ev);
      continue;
    }
    if (rc == ASX_EAGAIN) {
      cr_assert_eq(off, len, "EAGAIN must mean every byte was taken");
      return rc;
    }
    put_u32(log, 0xffffffffu);
    put_u32(log, (uint32_t)-rc);
    return rc;
  }
  return ASX_EAGAIN;
}

int nt_feed_split(asx_nats_parser *p, const uint8_t *data, size_t len, const size_t *cuts,
                  size_t ncuts, asx_buf *log) {
  size_t prev = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    if (end < prev) end = prev;
    int rc = feed_piece(p, data + prev, end - prev, log);
    if (rc != ASX_EAGAIN) return rc;
    prev = end;
  }
  return ASX_EAGAIN;
}

int nt_feed_whole(asx_nats_parser *p, const uint8_t *data, size_t len, asx_buf *log) {
  return nt_feed_split(p, data, len, NULL, 0, log);
}

asx_nats_event nt_parse_one(asx_nats_parser *p, const char *wire) {
  asx_nats_event ev;
  size_t used = 0, len = strlen(wire);
  int rc = asx_nats_parser_feed(p, (const uint8_t *)wire, len, &used, &ev);
  cr_assert_eq(rc, 0, "feed of %s failed: %d (%s)", wire, rc, asx_nats_parser_error_message(p));
  cr_assert_eq(used, len, "consumed %zu of %zu", used, len);
  return ev;
}

bool nt_eq(asx_slice s, const char *str) { return asx_slice_eq(s, str); }

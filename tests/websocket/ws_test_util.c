#include "ws_test_util.h"

#include <stdlib.h>
#include <string.h>

static int rec_on_message(void *ud, asx_ws_msg_type type, const uint8_t *data, size_t len) {
  ws_rec *r = ud;
  if (r->fail_on_message) return r->fail_on_message;
  if (r->nmsgs < REC_MAX_MSGS) {
    rec_msg *m = &r->msgs[r->nmsgs++];
    m->type = type;
    m->data = malloc(len ? len : 1);
    memcpy(m->data, data, len);
    m->len = len;
  }
  return 0;
}

static void rec_on_ping(void *ud, const uint8_t *data, size_t len) {
  ws_rec *r = ud;
  r->npings++;
  memcpy(r->last_ping, data, len);
  r->last_ping_len = len;
}

static void rec_on_pong(void *ud, const uint8_t *data, size_t len) {
  ws_rec *r = ud;
  r->npongs++;
  memcpy(r->last_pong, data, len);
  r->last_pong_len = len;
}

static void rec_on_close(void *ud, uint16_t code, const uint8_t *reason, size_t len) {
  ws_rec *r = ud;
  r->closes++;
  r->close_code = code;
  if (len > sizeof r->close_reason - 1) len = sizeof r->close_reason - 1;
  memcpy(r->close_reason, reason, len);
  r->close_reason[len] = '\0';
}

const asx_ws_callbacks rec_callbacks = {rec_on_message, rec_on_ping, rec_on_pong, rec_on_close};

void rec_reset(ws_rec *r) { memset(r, 0, sizeof *r); }

void rec_free(ws_rec *r) {
  for (size_t i = 0; i < r->nmsgs; i++) free(r->msgs[i].data);
  r->nmsgs = 0;
}

int test_random(void *ud, uint8_t *buf, size_t len) {
  (void)ud;
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(0x5A ^ (i * 37));
  return 0;
}

asx_ws *make_ws(asx_ws_role role, const asx_ws_limits *limits, const asx_ws_deflate_params *dp,
                const asx_allocator *alloc, ws_rec *rec) {
  asx_ws_config cfg = asx_ws_config_default(role);
  if (limits) cfg.limits = *limits;
  cfg.deflate = dp;
  cfg.alloc = alloc;
  cfg.random = test_random;
  asx_ws *ws = NULL;
  if (asx_ws_new(&ws, &cfg, &rec_callbacks, rec) != 0) return NULL;
  return ws;
}

int pair_open(ws_pair *p, const asx_ws_limits *limits, const asx_ws_deflate_params *deflate,
              const asx_allocator *alloc) {
  memset(p, 0, sizeof *p);
  asx_ws_config cfg = asx_ws_config_default(ASX_WS_SERVER);
  if (limits) cfg.limits = *limits;
  cfg.deflate = deflate;
  cfg.alloc = alloc;
  int rc = asx_ws_new(&p->server, &cfg, &rec_callbacks, &p->srec);
  if (rc) return rc;
  cfg.role = ASX_WS_CLIENT;
  cfg.alloc = NULL;
  cfg.random = test_random;
  rc = asx_ws_new(&p->client, &cfg, &rec_callbacks, &p->crec);
  if (rc) {
    asx_ws_free(p->server);
    p->server = NULL;
  }
  return rc;
}

void pair_close(ws_pair *p) {
  asx_ws_free(p->server);
  asx_ws_free(p->client);
  rec_free(&p->srec);
  rec_free(&p->crec);
  p->server = p->client = NULL;
}

/* Moves one batch from `from` to `to`; returns bytes moved. */
static size_t move(asx_ws *from, asx_ws *to, size_t chunk, int *rc_slot) {
  uint8_t buf[4096];
  size_t total = 0;
  for (;;) {
    size_t n = 0;
    if (asx_ws_pull(from, buf, sizeof buf, &n) != 0 || n == 0) break;
    total += n;
    for (size_t off = 0; off < n;) {
      size_t step = n - off < chunk ? n - off : chunk;
      size_t used = 0;
      int rc = asx_ws_recv(to, buf + off, step, &used);
      if (rc) {
        if (!*rc_slot) *rc_slot = rc;
        break;
      }
      off += step;
    }
  }
  return total;
}

void pair_pump(ws_pair *p, size_t chunk) {
  for (int rounds = 0; rounds < 1000; rounds++) {
    size_t a = move(p->client, p->server, chunk, &p->server_rc);
    size_t b = move(p->server, p->client, chunk, &p->client_rc);
    if (!a && !b) break;
  }
}

size_t drain(asx_ws *ws, uint8_t *out, size_t cap) {
  size_t total = 0;
  for (;;) {
    size_t n = 0;
    if (asx_ws_pull(ws, out + total, cap - total, &n) != 0 || n == 0) break;
    total += n;
  }
  return total;
}

size_t build_header(uint8_t *out, int fin, int rsv, int opcode, int mask, uint64_t claimed) {
  size_t o = 0;
  out[o++] = (uint8_t)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xF));
  uint8_t m = mask ? 0x80 : 0;
  if (claimed < 126) {
    out[o++] = (uint8_t)(m | claimed);
  } else if (claimed < 65536) {
    out[o++] = (uint8_t)(m | 126);
    out[o++] = (uint8_t)(claimed >> 8);
    out[o++] = (uint8_t)claimed;
  } else {
    out[o++] = (uint8_t)(m | 127);
    for (int i = 7; i >= 0; i--) out[o++] = (uint8_t)(claimed >> (8 * i));
  }
  if (mask) {
    out[o++] = 0x11;
    out[o++] = 0x22;
    out[o++] = 0x33;
    out[o++] = 0x44;
  }
  return o;
}

size_t build_frame(uint8_t *out, int fin, int rsv, int opcode, int mask, const uint8_t *payload,
                   size_t len) {
  static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
  size_t o = build_header(out, fin, rsv, opcode, mask, len);
  for (size_t i = 0; i < len; i++) out[o + i] = mask ? (uint8_t)(payload[i] ^ key[i % 4]) : payload[i];
  return o + len;
}

typedef union peak_hdr {
  size_t size;
  max_align_t align;
} peak_hdr;

static void *pa_alloc(void *ud, size_t size) {
  peak_alloc *pa = ud;
  peak_hdr *h = malloc(sizeof *h + size);
  if (!h) return NULL;
  h->size = size;
  pa->live += size;
  if (pa->live > pa->peak) pa->peak = pa->live;
  return h + 1;
}

static void *pa_realloc(void *ud, void *ptr, size_t size) {
  peak_alloc *pa = ud;
  if (!ptr) return pa_alloc(ud, size);
  peak_hdr *old = (peak_hdr *)ptr - 1;
  size_t old_size = old->size;
  peak_hdr *h = realloc(old, sizeof *h + size);
  if (!h) return NULL;
  h->size = size;
  pa->live = pa->live - old_size + size;
  if (pa->live > pa->peak) pa->peak = pa->live;
  return h + 1;
}

static void pa_free(void *ud, void *ptr) {
  peak_alloc *pa = ud;
  if (!ptr) return;
  peak_hdr *h = (peak_hdr *)ptr - 1;
  pa->live -= h->size;
  free(h);
}

void peak_alloc_init(peak_alloc *pa) {
  pa->base.alloc = pa_alloc;
  pa->base.realloc = pa_realloc;
  pa->base.free = pa_free;
  pa->base.ud = pa;
  pa->live = pa->peak = 0;
}

/* The WebSocket server glue on simulated streams under the deterministic driver: an upgrade
 * request followed by client frames (fragmented text, binary, ping, close), intact or with bytes
 * flipped, delivered with random delays and partial I/O, then a half-close. Properties: every run
 * ends (no deadlock: the close timeout runs on the virtual clock), the answer starts with a 101
 * or an HTTP error, and the runtime is left with nothing alive. The intact sequence must come back
 * as the echoed messages and the close. */
#include <criterion/criterion.h>
#include <string.h>

#include "asx/websocket_server.h"
#include "ws_testsrv.h"

#define MS 1000000ull

static asx_ws_server_config ws_cfg;
static asx_http1_server_config h1_cfg;

typedef struct run {
  const uint8_t *in;
  size_t in_len;
  uint64_t seed;
  asx_buf out;
  asx_stream *a, *b;
} run;

static int srv(asx_cx *cx, void *arg) {
  run *r = arg;
  asx_http1_serve(cx, r->b, &h1_cfg, NULL, 0);
  asx_stream_close(r->b);
  return 0;
}

static int writer(asx_cx *cx, void *arg) {
  run *r = arg;
  size_t off = 0, step = 5;
  while (off < r->in_len) {
    size_t n = r->in_len - off < step ? r->in_len - off : step;
    if (asx_stream_write_all(cx, r->a, r->in + off, n, NULL)) return 0;
    off += n;
    step = step * 7 % 61 + 1;
  }
  asx_stream_shutdown(cx, r->a);
  return 0;
}

static int reader(asx_cx *cx, void *arg) {
  run *r = arg;
  uint8_t buf[700];
  for (;;) {
    size_t n = 0;
    if (asx_stream_read(cx, r->a, buf, sizeof buf, &n)) return 0;
    if (asx_buf_append(&r->out, buf, n)) return 0;
  }
}

static int sim_main(asx_cx *cx, void *arg) {
  run *r = arg;
  ws_sim_pair(cx, 11, 512, &r->a, &r->b);
  asx_region *g = NULL;
  cr_assert_eq(asx_region_open(cx, NULL, &g), 0);
  asx_spawn(cx, g, srv, r, NULL, NULL);
  asx_spawn(cx, g, writer, r, NULL, NULL);
  asx_spawn(cx, g, reader, r, NULL, NULL);
  asx_region_close(cx, g, NULL);
  asx_stream_close(r->a);
  return 0;
}

static void run_one(run *r) {
  asx_buf_init(&r->out, NULL, 1u << 20);
  size_t n;
  ws_sim_run(r->seed, sim_main, r, false, &n);
}

/* Appends a masked client frame. */
static size_t frame(uint8_t *p, uint8_t b0, const char *payload, size_t n) {
  static const uint8_t m[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t k = 0;
  p[k++] = b0;
  p[k++] = (uint8_t)(0x80 | n);
  memcpy(p + k, m, 4);
  k += 4;
  for (size_t i = 0; i < n; i++) p[k++] = (uint8_t)payload[i] ^ m[i % 4];
  return k;
}

static size_t build_input(uint8_t *p) {
  static const char req[] =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  size_t k = sizeof req - 1;
  memcpy(p, req, k);
  k += frame(p + k, 0x01, "hel", 3);        /* text, not final */
  k += frame(p + k, 0x80, "lo", 2);         /* continuation, final */
  k += frame(p + k, 0x82, "\x00\x01\x02", 3); /* binary */
  k += frame(p + k, 0x89, "pp", 2);         /* ping */
  k += frame(p + k, 0x88, "\x03\xe8", 2);   /* close 1000 */
  return k;
}

static int route(asx_cx *cx, asx_stream *s, asx_http1_req *req, const uint8_t *rest, size_t n,
                 void *ud) {
  return asx_ws_server_hook(cx, s, req, rest, n, ud);
}

static void setup(void) {
  asx_ws_server_config_default(&ws_cfg);
  ws_cfg.handler = asx_ws_echo_handler;
  ws_cfg.limits.close_timeout_ns = 200 * MS;
  ws_cfg.limits.max_message = 64;
  asx_http1_server_config_default(&h1_cfg);
  h1_cfg.upgrade = route;
  h1_cfg.upgrade_ud = &ws_cfg;
}

TestSuite(websocket_sim, .init = setup, .timeout = 120);

Test(websocket_sim, intact_sequence_echoes_for_every_seed) {
  uint8_t in[512];
  size_t n = build_input(in);
  for (uint64_t seed = 1; seed <= 30; seed++) {
    run r = {in, n, seed, {0}, NULL, NULL};
    run_one(&r);
    cr_assert(r.out.len > 12 && memcmp(r.out.data, "HTTP/1.1 101 ", 13) == 0, "seed %llu",
              (unsigned long long)seed);
    const uint8_t close_frame[] = {0x88, 0x02, 0x03, 0xe8};
    cr_expect(r.out.len >= 4 && memcmp(r.out.data + r.out.len - 4, close_frame, 4) == 0,
              "seed %llu: the session ends with our close reply", (unsigned long long)seed);
    asx_buf_free(&r.out);
  }
}

Test(websocket_sim, mutated_frames_end_cleanly) {
  uint8_t base[512], in[512];
  size_t n = build_input(base);
  size_t head = (size_t)((const uint8_t *)strstr((const char *)base, "\r\n\r\n") - base) + 4;
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (int iter = 0; iter < 200; iter++) {
    memcpy(in, base, n);
    int flips = 1 + iter % 3;
    for (int f = 0; f < flips; f++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      /* Mostly the frames; sometimes the handshake too. */
      size_t at = iter % 5 == 0 ? x % n : head + x % (n - head);
      in[at] = (uint8_t)(x >> 40);
    }
    run r = {in, n, (uint64_t)iter + 7, {0}, NULL, NULL};
    run_one(&r);
    cr_expect(r.out.len == 0 || (r.out.len >= 9 && memcmp(r.out.data, "HTTP/1.1 ", 9) == 0),
              "iter %d", iter);
    asx_buf_free(&r.out);
  }
}

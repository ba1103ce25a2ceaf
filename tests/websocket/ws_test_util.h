/* Helpers for the websocket suites: an event recorder, an in-memory server/client pair, a raw
 * frame builder for hand-made (often invalid) frames, and a byte-counting allocator. */
#ifndef WS_TEST_UTIL_H
#define WS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "asx/websocket.h"

#define REC_MAX_MSGS 64

typedef struct rec_msg {
  asx_ws_msg_type type;
  uint8_t *data; /* malloc'd copy */
  size_t len;
} rec_msg;

/* Everything a session reported through its callbacks. */
typedef struct ws_rec {
  rec_msg msgs[REC_MAX_MSGS];
  size_t nmsgs;
  size_t npings, npongs;
  uint8_t last_ping[125], last_pong[125];
  size_t last_ping_len, last_pong_len;
  int closes;
  uint16_t close_code;
  char close_reason[128];
  int fail_on_message; /* returned by on_message when non-zero */
} ws_rec;

extern const asx_ws_callbacks rec_callbacks;
void rec_reset(ws_rec *r);
void rec_free(ws_rec *r);

/* A fixed-pattern mask source so that client output is reproducible. */
int test_random(void *ud, uint8_t *buf, size_t len);

typedef struct ws_pair {
  asx_ws *server, *client;
  ws_rec srec, crec;
  int server_rc, client_rc; /* first non-zero asx_ws_recv result on each side */
} ws_pair;

/* Creates both ends with the same limits/deflate agreement; `alloc` is used for the server only
 * (NULL = libc). Returns 0 or the first asx_ws_new error. */
int pair_open(ws_pair *p, const asx_ws_limits *limits, const asx_ws_deflate_params *deflate,
              const asx_allocator *alloc);
void pair_close(ws_pair *p);
/* Moves pending output from one end to the other, `chunk` bytes per asx_ws_recv call, until
 * neither side has anything to send. */
void pair_pump(ws_pair *p, size_t chunk);
/* Pulls everything `ws` wants to send into out (cap bytes); returns the length. */
size_t drain(asx_ws *ws, uint8_t *out, size_t cap);

/* Writes one frame (header + optionally masked payload) and returns its length. Payload
 * length encodings follow RFC 6455 minimal forms. */
size_t build_frame(uint8_t *out, int fin, int rsv, int opcode, int mask, const uint8_t *payload,
                   size_t len);
/* A frame header alone, claiming `claimed` payload bytes. */
size_t build_header(uint8_t *out, int fin, int rsv, int opcode, int mask, uint64_t claimed);

/* A session of the given role with a recorder; NULL limits = defaults. */
asx_ws *make_ws(asx_ws_role role, const asx_ws_limits *limits, const asx_ws_deflate_params *dp,
                const asx_allocator *alloc, ws_rec *rec);

/* Allocator that tracks live and peak bytes (for bounded-memory proofs). */
typedef struct peak_alloc {
  asx_allocator base;
  size_t live, peak;
} peak_alloc;
void peak_alloc_init(peak_alloc *pa);

#endif

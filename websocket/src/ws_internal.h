/* Internal helpers shared by the websocket sources (not installed). */
#ifndef ASX_WS_INTERNAL_H
#define ASX_WS_INTERNAL_H

#include <stdint.h>

#include "asx/websocket.h"

/* Incremental UTF-8 validator: feed bytes in any split; `need` is the number of continuation
 * bytes still expected, lo/hi the allowed range of the next one (tighter right after E0, ED,
 * F0, F4, which is how overlongs, surrogates and code points above U+10FFFF are excluded). */
typedef struct ws_utf8 {
  uint8_t need;
  uint8_t lo;
  uint8_t hi;
} ws_utf8;

void ws_utf8_init(ws_utf8 *u);
/* Returns false at the first invalid byte (the state is then meaningless). */
bool ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t n);
/* True when the bytes so far end on a character boundary. */
static inline bool ws_utf8_complete(const ws_utf8 *u) { return u->need == 0; }

/* RFC 7230 token characters. */
bool ws_is_tchar(uint8_t c);
/* Is `token` one of the comma-separated elements of `list` (ASCII case-insensitive)? Elements
 * may carry ";params" (ignored) and optional whitespace. */
bool ws_list_has_token(asx_slice list, const char *token);

/* One parsed extension parameter; value.ptr == NULL when the parameter had no value. Quoted
 * values are returned with the quotes removed; escapes are rejected by the caller as invalid
 * for permessage-deflate since none of its values needs one. */
typedef struct ws_ext_param {
  asx_slice name;
  asx_slice value;
  bool quoted;
} ws_ext_param;

#define WS_EXT_MAX_PARAMS 16

typedef struct ws_ext {
  asx_slice name;
  ws_ext_param params[WS_EXT_MAX_PARAMS];
  size_t nparams;
  bool too_many_params;
} ws_ext;

/* Parses the next extension of an extension list starting at *pos. Returns 1 (an extension was
 * parsed into *ext), 0 (end of list) or ASX_EPROTO (syntax error). */
int ws_ext_next(asx_slice list, size_t *pos, ws_ext *ext);

/* Base64 (standard alphabet, padded) of n bytes into out (NUL-terminated); out needs
 * 4*ceil(n/3)+1 bytes. */
void ws_base64(const uint8_t *in, size_t n, char *out);

#endif

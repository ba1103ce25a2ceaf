/* Splits an inline command line the way redis-server does (its sdssplitargs rules):
 *  - arguments are separated by spaces, tabs, CR or LF (leading blanks: any isspace byte);
 *  - "double quotes" understand \n \r \t \b \a, \xHH and \<any> (the byte itself);
 *  - 'single quotes' understand only \' ;
 *  - a closing quote must be followed by a blank or the end of the line, and an unterminated
 *    quote is an error ("unbalanced quotes");
 *  - a quote may start in the middle of a word: a"b c" is one argument "ab c";
 *  - the line is a C string to redis: a NUL byte ends it. */
#include <string.h>

#include "redis_internal.h"

static bool is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static bool is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t hex_val(uint8_t c) {
  if (c >= '0' && c <= '9') return (uint8_t)(c - '0');
  if (c >= 'a' && c <= 'f') return (uint8_t)(c - 'a' + 10);
  return (uint8_t)(c - 'A' + 10);
}

static uint8_t unescape(uint8_t c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
  }
}

int asx_redis_i_split_inline(const uint8_t *line, size_t n, uint8_t *scratch, asx_redis_i_arg_fn arg,
                             void *ud, size_t *bad_at) {
  const uint8_t *nul = n ? memchr(line, 0, n) : NULL;
  if (nul) n = (size_t)(nul - line);
  size_t i = 0;
  for (;;) {
    while (i < n && is_space(line[i])) i++;
    if (i >= n) return 0;
    bool dq = false, sq = false, done = false;
    size_t alen = 0;
    while (!done) {
      bool end = i >= n;
      uint8_t c = end ? 0 : line[i];
      if (dq) {
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && is_hex(line[i + 2]) && is_hex(line[i + 3])) {
          scratch[alen++] = (uint8_t)(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          i++;
          scratch[alen++] = unescape(line[i]);
        } else if (!end && c == '"') {
          if (i + 1 < n && !is_space(line[i + 1])) {
            *bad_at = i + 1;
            return ASX_EPROTO;
          }
          done = true;
        } else if (end) {
          *bad_at = i;
          return ASX_EPROTO;
        } else {
          scratch[alen++] = c;
        }
      } else if (sq) {
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          i++;
          scratch[alen++] = '\'';
        } else if (!end && c == '\'') {
          if (i + 1 < n && !is_space(line[i + 1])) {
            *bad_at = i + 1;
            return ASX_EPROTO;
          }
          done = true;
        } else if (end) {
          *bad_at = i;
          return ASX_EPROTO;
        } else {
          scratch[alen++] = c;
        }
      } else if (end || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        done = true;
      } else if (c == '"') {
        dq = true;
      } else if (c == '\'') {
        sq = true;
      } else {
        scratch[alen++] = c;
      }
      if (!end) i++;
    }
    int rc = arg(ud, scratch, alen);
    if (rc) return rc;
  }
}

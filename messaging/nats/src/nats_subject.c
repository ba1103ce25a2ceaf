/* Subject, reply-subject, queue-group and sid rules of the NATS client protocol.
 * Bytes >= 0x80 are accepted inside tokens because nats-server accepts UTF-8 subjects; the
 * protocol only reserves '.', blanks, and the wildcard tokens. */
#include "nats_internal.h"

/* Whitespace and control bytes can never appear in a protocol field (they would split it or
 * corrupt the control line); DEL is refused along with them. */
static bool field_byte_ok(uint8_t c) { return c > 0x20 && c != 0x7f; }

bool asx_nats_token_valid(const char *s, size_t len) {
  if (!s || len == 0) return false;
  for (size_t i = 0; i < len; i++)
    if (!field_byte_ok((uint8_t)s[i])) return false;
  return true;
}

bool asx_nats_subject_valid(const char *s, size_t len, unsigned flags) {
  if (!s || len == 0) return false;
  bool wildcards = (flags & ASX_NATS_SUBJECT_WILDCARDS) != 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && s[i] != '.') {
      if (!field_byte_ok((uint8_t)s[i])) return false;
      continue;
    }
    size_t tlen = i - start;
    if (tlen == 0) return false; /* leading, trailing or doubled '.' */
    const char *t = s + start;
    for (size_t k = 0; k < tlen; k++) {
      if (t[k] != '*' && t[k] != '>') continue;
      /* Wildcard characters are only meaningful as a whole token. */
      if (tlen != 1 || !wildcards) return false;
      if (t[k] == '>' && i != len) return false; /* '>' must be the last token */
    }
    start = i + 1;
  }
  return true;
}

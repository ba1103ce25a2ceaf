/* NATS/1.0 header blocks (ADR-4): validation of received blocks, a zero-copy iterator and
 * lookups over validated blocks, and the builder used by HPUB.
 *
 * Block grammar accepted (what nats-server and the official clients produce):
 *   "NATS/1.0" [ blanks 3DIGIT [ blanks description ] ] CRLF
 *   *( name ":" [blanks] value [blanks] CRLF )
 *   CRLF
 * name is printable ASCII (33..126) without ':'; value is any byte except CR and LF. Folded
 * continuation lines (leading blank) are refused: no NATS implementation writes them and
 * accepting them would make two readers disagree on a value. */
#include <string.h>

#include "nats_internal.h"

static bool name_byte_ok(uint8_t c) { return c >= 33 && c <= 126 && c != ':'; }

/* Length of the line starting at s (without its CRLF), or SIZE_MAX when there is no CRLF or a
 * lone CR/LF sits inside it. */
static size_t line_length(const uint8_t *s, const uint8_t *end) {
  for (const uint8_t *q = s; q < end; q++) {
    if (*q == '\n') return SIZE_MAX;
    if (*q == '\r') return (q + 1 < end && q[1] == '\n') ? (size_t)(q - s) : SIZE_MAX;
  }
  return SIZE_MAX;
}

static int hdr_fail(char *err, size_t err_len, const char *msg) {
  if (err && err_len) snprintf(err, err_len, "%s", msg);
  return ASX_EPROTO;
}

/* "NATS/1.0 503", "NATS/1.0 408 Request Timeout", or plain "NATS/1.0". */
static int check_version_line(const uint8_t *s, size_t n, int *status, asx_slice *text, char *err,
                              size_t err_len) {
  size_t vlen = sizeof ASX_NATS_HDR_VERSION - 1;
  if (n < vlen || memcmp(s, ASX_NATS_HDR_VERSION, vlen) != 0)
    return hdr_fail(err, err_len, "header block does not start with NATS/1.0");
  size_t i = vlen;
  if (i == n) return 0;
  if (!asx_nats_is_blank(s[i])) return hdr_fail(err, err_len, "bad header version line");
  while (i < n && asx_nats_is_blank(s[i])) i++;
  size_t end = n;
  while (end > i && asx_nats_is_blank(s[end - 1])) end--;
  if (i == end) return 0; /* trailing blanks only */
  if (end - i < 3) return hdr_fail(err, err_len, "bad status code in header version line");
  int code = 0;
  for (size_t k = 0; k < 3; k++) {
    if (s[i + k] < '0' || s[i + k] > '9')
      return hdr_fail(err, err_len, "bad status code in header version line");
    code = code * 10 + (s[i + k] - '0');
  }
  if (code < 100) return hdr_fail(err, err_len, "bad status code in header version line");
  i += 3;
  if (i < end) {
    if (!asx_nats_is_blank(s[i])) return hdr_fail(err, err_len, "bad status code in header version line");
    while (i < end && asx_nats_is_blank(s[i])) i++;
    *text = (asx_slice){s + i, end - i};
  }
  *status = code;
  return 0;
}

int asx_nats_hdr_block_check(const uint8_t *block, size_t len, int *status, asx_slice *status_text,
                             char *err, size_t err_len) {
  *status = 0;
  *status_text = (asx_slice){NULL, 0};
  const uint8_t *end = block + len;
  size_t n = line_length(block, end);
  if (n == SIZE_MAX) return hdr_fail(err, err_len, "header version line not ended by CRLF");
  int code = 0;
  asx_slice text = {NULL, 0};
  int rc = check_version_line(block, n, &code, &text, err, err_len);
  if (rc) return rc;
  const uint8_t *s = block + n + 2;
  for (;;) {
    n = line_length(s, end);
    if (n == SIZE_MAX) return hdr_fail(err, err_len, "header line not ended by CRLF");
    if (n == 0) break;
    if (asx_nats_is_blank(s[0])) return hdr_fail(err, err_len, "folded header line");
    size_t k = 0;
    while (k < n && name_byte_ok(s[k])) k++;
    if (k == 0 || k == n || s[k] != ':') return hdr_fail(err, err_len, "malformed header name");
    s += n + 2;
  }
  if (s + 2 != end) return hdr_fail(err, err_len, "bytes after the end of the header block");
  *status = code;
  *status_text = text;
  return 0;
}

void asx_nats_hdr_iter_init(asx_nats_hdr_iter *it, asx_slice block) {
  it->pos = block.ptr;
  it->end = block.ptr + block.len;
  if (!block.ptr) return;
  const uint8_t *nl = memchr(block.ptr, '\n', block.len);
  it->pos = nl ? nl + 1 : it->end; /* skip the version line */
}

bool asx_nats_hdr_next(asx_nats_hdr_iter *it, asx_slice *name, asx_slice *value) {
  if (!it->pos || it->pos >= it->end) return false;
  const uint8_t *s = it->pos;
  const uint8_t *nl = memchr(s, '\n', (size_t)(it->end - s));
  if (!nl || nl - s < 2) { /* the final empty line */
    it->pos = it->end;
    return false;
  }
  const uint8_t *eol = nl - 1; /* the CR */
  const uint8_t *colon = memchr(s, ':', (size_t)(eol - s));
  if (!colon) {
    it->pos = it->end;
    return false;
  }
  const uint8_t *v = colon + 1;
  while (v < eol && asx_nats_is_blank(*v)) v++;
  const uint8_t *ve = eol;
  while (ve > v && asx_nats_is_blank(ve[-1])) ve--;
  *name = (asx_slice){s, (size_t)(colon - s)};
  *value = (asx_slice){v, (size_t)(ve - v)};
  it->pos = nl + 1;
  return true;
}

int asx_nats_hdr_get(asx_slice block, const char *name, size_t nth, asx_slice *value) {
  asx_nats_hdr_iter it;
  asx_slice n, v;
  asx_nats_hdr_iter_init(&it, block);
  while (asx_nats_hdr_next(&it, &n, &v)) {
    if (asx_slice_eq(n, name) && nth-- == 0) {
      *value = v;
      return 0;
    }
  }
  return ASX_ENOTFOUND;
}

size_t asx_nats_hdr_count(asx_slice block, const char *name) {
  asx_nats_hdr_iter it;
  asx_slice n, v;
  size_t count = 0;
  asx_nats_hdr_iter_init(&it, block);
  while (asx_nats_hdr_next(&it, &n, &v)) count += asx_slice_eq(n, name);
  return count;
}

/* ---- builder ---- */

int asx_nats_hdr_init(asx_nats_hdr *h, const asx_allocator *alloc, size_t max_block) {
  if (!h) return ASX_EINVAL;
  if (max_block == 0) max_block = (size_t)64 << 10;
  if (max_block < ASX_NATS_HDR_MIN_BLOCK) return ASX_EINVAL;
  /* The buffer holds everything but the final CRLF, which the encoder writes. */
  asx_buf_init(&h->buf, alloc, max_block - 2);
  int rc = asx_buf_append_str(&h->buf, ASX_NATS_HDR_VERSION "\r\n");
  if (rc) asx_buf_free(&h->buf);
  return rc;
}

int asx_nats_hdr_add(asx_nats_hdr *h, const char *name, const char *value) {
  if (!h || !name || !value || !h->buf.data) return ASX_EINVAL;
  size_t nl = strlen(name), vl = strlen(value);
  if (nl == 0) return ASX_EINVAL;
  for (size_t i = 0; i < nl; i++)
    if (!name_byte_ok((uint8_t)name[i])) return ASX_EINVAL;
  for (size_t i = 0; i < vl; i++)
    if (value[i] == '\r' || value[i] == '\n') return ASX_EINVAL;
  /* A reader trims blanks around values, so they could never round-trip. */
  if (vl && (asx_nats_is_blank((uint8_t)value[0]) || asx_nats_is_blank((uint8_t)value[vl - 1])))
    return ASX_EINVAL;
  if (nl > SIZE_MAX / 2 || vl > SIZE_MAX / 2) return ASX_ELIMIT;
  int rc = asx_buf_reserve(&h->buf, nl + vl + 4);
  if (rc) return rc;
  asx_buf_append(&h->buf, name, nl);
  asx_buf_append(&h->buf, ": ", 2);
  asx_buf_append(&h->buf, value, vl);
  asx_buf_append(&h->buf, "\r\n", 2);
  return 0;
}

size_t asx_nats_hdr_block_len(const asx_nats_hdr *h) { return h->buf.len + 2; }

void asx_nats_hdr_free(asx_nats_hdr *h) {
  if (h) asx_buf_free(&h->buf);
}

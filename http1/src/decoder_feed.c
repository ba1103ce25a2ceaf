/* The feed loop over llhttp_execute: pauses as commit points, the roll-back on allocation
 * failure, upgrades, end of input, and the mapping of llhttp's errors to asx_http1_error. */
#include <stdio.h>
#include <string.h>

#include "decoder_internal.h"

/* A commit point: llhttp's state is a plain struct without heap pointers, so a copy of it
 * together with our per-message state is a complete snapshot. */
typedef struct snapshot {
  llhttp_t parser;
  msg_state st;
  size_t field_len;
  size_t pos;
} snapshot;

static void take(const asx_http1_decoder *d, snapshot *s, size_t pos) {
  s->parser = d->parser;
  s->st = d->st;
  s->field_len = d->field.len;
  s->pos = pos;
}

static void restore(asx_http1_decoder *d, const snapshot *s) {
  d->parser = s->parser;
  d->st = s->st;
  d->field.len = s->field_len;
}

static bool reason_has(const llhttp_t *p, const char *needle) {
  return p->reason && strstr(p->reason, needle) != NULL;
}

/* Turns an llhttp error into our specific error; llhttp's reason is kept in the message. */
static void map_llhttp_error(asx_http1_decoder *d, llhttp_errno_t e) {
  const llhttp_t *p = &d->parser;
  bool in_field = d->st.in_value || d->st.name_len > 0;
  asx_http1_error err = ASX_HTTP1_ERR_SYNTAX;
  switch (e) {
    case HPE_INVALID_METHOD: err = ASX_HTTP1_ERR_BAD_METHOD; break;
    case HPE_INVALID_URL: err = ASX_HTTP1_ERR_BAD_TARGET; break;
    case HPE_INVALID_VERSION:
      err = reason_has(p, "Invalid HTTP version") ? ASX_HTTP1_ERR_BAD_VERSION : ASX_HTTP1_ERR_SYNTAX;
      break;
    case HPE_INVALID_HEADER_TOKEN:
      err = reason_has(p, "value") ? ASX_HTTP1_ERR_BAD_HEADER_VALUE : ASX_HTTP1_ERR_BAD_HEADER_NAME;
      break;
    case HPE_UNEXPECTED_SPACE: err = ASX_HTTP1_ERR_BAD_HEADER_NAME; break;
    case HPE_LF_EXPECTED:
    case HPE_CR_EXPECTED:
      err = in_field || reason_has(p, "header value") ? ASX_HTTP1_ERR_BAD_HEADER_VALUE
            : reason_has(p, "chunk") ? ASX_HTTP1_ERR_BAD_CHUNK : ASX_HTTP1_ERR_SYNTAX;
      break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      err = reason_has(p, "Duplicate") ? ASX_HTTP1_ERR_DUP_CONTENT_LENGTH : ASX_HTTP1_ERR_CL_AND_TE;
      break;
    case HPE_INVALID_CONTENT_LENGTH: err = ASX_HTTP1_ERR_BAD_CONTENT_LENGTH; break;
    case HPE_INVALID_CHUNK_SIZE: err = ASX_HTTP1_ERR_BAD_CHUNK; break;
    case HPE_INVALID_STATUS: err = ASX_HTTP1_ERR_BAD_STATUS; break;
    case HPE_INVALID_TRANSFER_ENCODING: err = ASX_HTTP1_ERR_BAD_TE; break;
    case HPE_INVALID_CONSTANT:
      err = d->kind == ASX_HTTP1_RESPONSE ? ASX_HTTP1_ERR_BAD_STATUS : ASX_HTTP1_ERR_SYNTAX;
      break;
    case HPE_INVALID_EOF_STATE: err = ASX_HTTP1_ERR_TRUNCATED; break;
    default: break;
  }
  if (err == ASX_HTTP1_ERR_SYNTAX && (reason_has(p, "chunk") || reason_has(p, "Chunk"))) {
    err = ASX_HTTP1_ERR_BAD_CHUNK;
  }
  dec_fail(d, err, "%s (llhttp %s: %s)", asx_http1_error_name(err), llhttp_errno_name(e),
           p->reason ? p->reason : "?");
}

/* The stream switched protocol at `offset` of the current feed. */
static int emit_upgrade(asx_http1_decoder *d, asx_http1_upgrade_kind kind, size_t offset) {
  asx_http1_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = ASX_HTTP1_EV_UPGRADE;
  ev.u.upgrade.kind = kind;
  ev.u.upgrade.proto = kind == ASX_HTTP1_UPGRADE_H2_PRIOR ? ASX_HTTP1_PROTO_NONE : d->st.proto;
  ev.u.upgrade.offset = offset;
  d->upgraded = true;
  d->st.proto = ASX_HTTP1_PROTO_NONE;
  return dec_emit(d, &ev) ? d->err : 0;
}

static asx_http1_upgrade_kind upgrade_kind(const asx_http1_decoder *d) {
  bool connect = d->kind == ASX_HTTP1_REQUEST ? d->parser.method == HTTP_CONNECT
                                               : d->request_method == ASX_HTTP1_CONNECT &&
                                                     d->parser.status_code / 100 == 2;
  return connect ? ASX_HTTP1_UPGRADE_CONNECT : ASX_HTTP1_UPGRADE_PROTOCOL;
}

int asx_http1_decoder_feed(asx_http1_decoder *d, const uint8_t *data, size_t len, size_t *consumed) {
  size_t ignored;
  if (!consumed) consumed = &ignored;
  *consumed = 0;
  if (!d || (!data && len)) return ASX_EINVAL;
  if (d->err) return d->err;
  if (d->upgraded) return ASX_ESTATE;
  const char *base = (const char *)data;
  snapshot snap;
  take(d, &snap, 0);
  size_t pos = 0;
  if (len == 0) return 0;
  /* Runs until llhttp has taken all the input. After a pause at the very end, llhttp is run
   * once more on an empty range: steps that consume no byte (message end after a body that
   * ended with the input) must fire now, exactly as they would with more input behind. */
  for (;;) {
    d->exec_begin = base + pos;
    d->exec_end = base + len;
    d->last_span_end = NULL;
    d->pause = PAUSE_NONE;
    d->nomem = false;
    llhttp_errno_t e = llhttp_execute(&d->parser, base + pos, len - pos);
    if (e == HPE_OK) {
      dec_fields_end_of_input(d, base + len);
      pos = len;
      break;
    }
    const char *at_ptr = llhttp_get_error_pos(&d->parser);
    size_t at = at_ptr ? (size_t)(at_ptr - base) : pos;
    if (e == HPE_PAUSED && !d->nomem && d->err == 0) {
      llhttp_resume(&d->parser);
      pos = at;
      take(d, &snap, pos);
      if (d->pause != PAUSE_MESSAGE_DONE) continue; /* also when pos == len: see above */
      if (d->upgrade_declinable) {
        int rc = emit_upgrade(d, upgrade_kind(d), pos);
        if (rc) {
          *consumed = pos;
          return rc;
        }
      }
      break;
    }
    if (e == HPE_PAUSED_UPGRADE && d->err == 0) {
      /* Reached only after decline_upgrade: the peer keeps speaking HTTP/1.1. */
      llhttp_resume_after_upgrade(&d->parser);
      pos = at;
      take(d, &snap, pos);
      continue;
    }
    if (e == HPE_PAUSED_H2_UPGRADE && d->err == 0) {
      pos = at;
      d->st.in_message = false;
      int rc = emit_upgrade(d, ASX_HTTP1_UPGRADE_H2_PRIOR, pos);
      *consumed = pos;
      return rc;
    }
    if (d->nomem && d->err == 0) {
      restore(d, &snap);
      *consumed = snap.pos;
      return ASX_ENOMEM;
    }
    if (d->err == 0) map_llhttp_error(d, e);
    *consumed = at <= len ? at : pos;
    return d->err;
  }
  *consumed = pos;
  return 0;
}

int asx_http1_decoder_finish(asx_http1_decoder *d) {
  if (!d) return ASX_EINVAL;
  if (d->err) return d->err;
  /* Between messages llhttp may still be inside its post-message node (we paused it there),
   * where llhttp_finish would call the end unsafe; nothing is pending, so end cleanly. */
  if (d->upgraded || !d->st.in_message) return 0;
  if (dec_pending(d, false)) return d->err;
  d->pause = PAUSE_NONE;
  llhttp_errno_t e = llhttp_finish(&d->parser);
  if (d->err) return d->err; /* the MESSAGE_DONE callback failed */
  if (e == HPE_PAUSED) {
    llhttp_resume(&d->parser);
    return 0;
  }
  if (e == HPE_OK || e == HPE_INVALID_EOF_STATE) {
    dec_fail(d, ASX_HTTP1_ERR_TRUNCATED, "end of input inside a message");
  } else {
    map_llhttp_error(d, e);
  }
  return d->err;
}

int asx_http1_decoder_decline_upgrade(asx_http1_decoder *d) {
  if (!d || !d->upgraded || !d->upgrade_declinable || d->err) return ASX_ESTATE;
  d->upgraded = false;
  d->upgrade_declinable = false;
  return 0;
}

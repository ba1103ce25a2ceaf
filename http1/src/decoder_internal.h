/* Private state of the HTTP/1.1 decoder, shared by decoder.c (llhttp glue, feed loop) and
 * decoder_fields.c (header/trailer field checks). Not installed. */
#ifndef ASX_HTTP1_DECODER_INTERNAL_H
#define ASX_HTTP1_DECODER_INTERNAL_H

#include <llhttp.h>

#include "asx/http1.h"

/* Why llhttp was paused by one of our callbacks. */
enum pause_reason { PAUSE_NONE, PAUSE_EVENT, PAUSE_MESSAGE_DONE };

/* Everything that must roll back together with llhttp's own state when an allocation fails
 * half-way through a feed (see the snapshot logic in decoder.c). Plain data only. */
typedef struct msg_state {
  size_t field_len;        /* bytes of the field buffer in use (target/reason, or name+value) */
  size_t name_len;         /* bytes of the field buffer that hold the name */
  bool in_value;           /* collecting a value (name is complete) */
  bool in_trailers;        /* fields now are trailers */
  bool in_message;         /* a message has begun and not yet completed */
  bool gap_lf;             /* last byte seen between spans of this field was LF */
  bool gap_fold;           /* an LF followed by SP/HT was seen between spans (obs-fold) */
  size_t block_bytes;      /* header (or trailer) block size so far */
  size_t field_count;      /* header (or trailer) fields so far */
  uint64_t body_bytes;     /* decoded body bytes so far */
  size_t chunk_ext_bytes;  /* chunk-extension bytes of the current chunk */
  bool te_seen;            /* a Transfer-Encoding field was seen */
  bool expect_continue;
  bool keep_alive;         /* decided at the end of the header block */
  asx_http1_upgrade_proto proto;
  /* A limit crossed by a span that the end of the input cut short: raised when the span
   * really ends (or at end of input), so that a syntax error further inside the same span
   * wins exactly as it would had the input not been cut there. */
  asx_http1_error pending;
  const char *pending_what;
  uint64_t pending_limit;
} msg_state;

struct asx_http1_decoder {
  llhttp_t parser;
  llhttp_settings_t settings;
  const asx_allocator *alloc;
  asx_http1_kind kind;
  asx_http1_limits limits;
  asx_http1_event_cb cb;
  void *ud;
  asx_http1_method request_method; /* response decoders: method of the matching request */

  asx_buf field;  /* bounded copy of the field being collected (its bytes may span feeds) */
  msg_state st;

  /* The current llhttp_execute call, so span callbacks can tell where they are. */
  const char *exec_begin;
  const char *exec_end;
  const char *last_span_end; /* end of the previous span of this field inside this execute */
  enum pause_reason pause;

  bool nomem;      /* a callback could not allocate: roll back to the snapshot */
  bool upgraded;   /* the stream belongs to another protocol now */
  bool upgrade_declinable;
  int err;         /* sticky ASX_E* once failed */
  asx_http1_error error;
  char message[192];
};

/* decoder.c: record a failure (first one wins); returns -1 for llhttp. */
int dec_fail(asx_http1_decoder *d, asx_http1_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* decoder.c: a limit is crossed by a span; `flush` (the span was cut by the end of the input)
 * defers the error (see msg_state.pending). Returns 0 when deferred, else -1. */
int dec_limit(asx_http1_decoder *d, bool flush, asx_http1_error e, const char *what, uint64_t limit);
/* decoder.c: raises a deferred limit error unless `flush`; 0 if none is due. */
int dec_pending(asx_http1_decoder *d, bool flush);
/* decoder.c: deliver an event; on a callback error records it and returns -1. */
int dec_emit(asx_http1_decoder *d, const asx_http1_event *ev);

/* decoder_fields.c: llhttp callbacks for header/trailer names and values. */
int dec_on_header_field(llhttp_t *p, const char *at, size_t len);
int dec_on_header_field_complete(llhttp_t *p);
int dec_on_header_value(llhttp_t *p, const char *at, size_t len);
int dec_on_header_value_complete(llhttp_t *p);
/* decoder_fields.c: at the end of an llhttp_execute, carry the obs-fold scan across feeds. */
void dec_fields_end_of_input(asx_http1_decoder *d, const char *end);
/* decoder_fields.c: append bytes to the bounded field buffer (-1 on limit/ENOMEM). */
int dec_field_append(asx_http1_decoder *d, const char *at, size_t len, size_t limit,
                     asx_http1_error limit_error, const char *what);

#endif

/* Private state shared by the http2/src files. nghttp2 is visible only here. */
#ifndef ASX_HTTP2_INTERNAL_H
#define ASX_HTTP2_INTERNAL_H

#include <nghttp2/nghttp2.h>

#include "asx/http2.h"

/* pending() produces output in chunks of about this size so a peer that never reads cannot
 * make us buffer without bound: beyond it frames stay queued inside nghttp2, where the
 * max_outbound_ack flood limit applies. */
#define H2_OUTPUT_HIGH_WATER (64u * 1024u)

/* Per-stream state, attached to the nghttp2 stream as its stream_user_data. */
typedef struct h2_stream {
  struct h2_stream *prev, *next; /* every live stream, so free() can release them */
  int32_t id;
  bool announced;       /* the application knows this stream: events are delivered */
  bool refused;         /* asx refused it (431); its remaining input is dropped */
  bool responded;       /* server: final response submitted */
  bool has_provider;    /* a data provider is attached (body not ended at submit time) */
  bool out_eof;         /* the application ended the body (end_stream or trailers) */
  bool deferred;        /* the provider returned NGHTTP2_ERR_DEFERRED */
  int close_reason;     /* asx error that made asx reset the stream, 0 otherwise */
  asx_buf out;          /* body bytes waiting for flow-control credit */
  nghttp2_nv *trailers; /* one allocation holding the array and the bytes */
  size_t trailer_count;
} h2_stream;

struct asx_http2_session {
  const asx_allocator *alloc;
  nghttp2_session *ng;
  asx_http2_role role;
  asx_http2_limits limits;
  size_t fragment_cap;
  asx_http2_event_cb on_event;
  void *ud;

  asx_buf out; /* produced, not yet written */
  h2_stream *streams;

  uint64_t now_ns;

  /* The header block being received. Blocks never interleave on a connection (CONTINUATION
   * must follow its HEADERS directly), so one accumulator per session is enough. */
  asx_buf hdr_bytes;   /* names and values, back to back */
  asx_buf hdr_fields;  /* h2_field entries (offsets into hdr_bytes) */
  asx_buf hdr_view;    /* asx_http2_header array built when the block completes */
  size_t hdr_list_size;
  bool hdr_overflow;
  bool hdr_nomem;
  int hdr_status;      /* :status value seen in the block, -1 if none */

  /* CONTINUATION deadline and fragment cap. */
  bool block_open;
  uint64_t block_started_ns;
  size_t block_bytes;

  /* Rapid-reset token bucket, driven by the caller's clock. */
  uint64_t reset_tokens;
  uint64_t reset_refill_ns;

  bool local_goaway; /* the application asked for GOAWAY: not an error */
  bool fatal;
  int error;
  char message[192];
  asx_http2_stats stats;
};

typedef struct h2_field {
  uint32_t name_off, name_len, value_off, value_len;
} h2_field;

/* session.c */
void h2_set_error(asx_http2_session *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void h2_connection_fail(asx_http2_session *s, int err, uint32_t h2_code, const char *reason);
int h2_fatal_from_lib(asx_http2_session *s, int lib_rv, const char *where);
void h2_emit(asx_http2_session *s, const asx_http2_event *ev);
int h2_fill_output(asx_http2_session *s);
void h2_refill_reset_tokens(asx_http2_session *s);

/* callbacks.c */
int h2_callbacks_new(nghttp2_session_callbacks **out);

/* submit.c */
h2_stream *h2_stream_new(asx_http2_session *s, int32_t id);
void h2_stream_free(asx_http2_session *s, h2_stream *st);
h2_stream *h2_stream_get(const asx_http2_session *s, int32_t id);
int h2_nv_build(asx_http2_session *s, const asx_http2_header *h, size_t n, nghttp2_nv **out);
void h2_nv_release(asx_http2_session *s, nghttp2_nv *nv);
ssize_t h2_data_read(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length,
                     uint32_t *data_flags, nghttp2_data_source *source, void *user_data);

/* h2c.c */
int h2_pack_settings(const asx_http2_limits *l, bool client, nghttp2_settings_entry *iv,
                     size_t *niv);

#endif

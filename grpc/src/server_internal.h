/* Internal structures of asx_grpc_server. Not public API. */
#ifndef ASX_GRPC_SERVER_INTERNAL_H
#define ASX_GRPC_SERVER_INTERNAL_H

#include <stdatomic.h>

#include "asx/grpc_server.h"

typedef enum grpc_kind { GK_UNARY, GK_SERVER_STREAM, GK_CLIENT_STREAM, GK_BIDI } grpc_kind;

typedef struct grpc_method {
  char *path;
  size_t path_len;
  grpc_kind kind;
  union {
    asx_grpc_unary_fn unary;
    asx_grpc_server_stream_fn server_stream;
    asx_grpc_client_stream_fn client_stream;
    asx_grpc_bidi_fn bidi;
  } fn;
  void *ud;
} grpc_method;

struct asx_grpc_server {
  asx_grpc_server_config cfg;
  grpc_method *methods;
  size_t n, cap;
  _Atomic uint64_t compressed_in, compressed_out; /* messages */
};

/* Every encoding we can decode, for grpc-accept-encoding. */
#define GRPC_ACCEPT_ENCODING "identity,deflate,gzip"

#define GRPC_READ_CHUNK 16384u
#define GRPC_MAX_MD 64u              /* response headers, and trailers, a handler may add */
#define GRPC_MAX_MD_BYTES (16u << 10) /* their names and values (base64 included) together */

/* One metadata entry: offsets into the call's md_store (which may move as it grows). */
typedef struct grpc_md {
  size_t name_off, name_len, val_off, val_len;
} grpc_md;

struct asx_grpc_call {
  asx_grpc_server *srv;
  asx_http2_exchange *ex;
  asx_grpc_decoder *dec;
  uint8_t in[GRPC_READ_CHUNK];   /* body bytes read, not yet decoded */
  size_t in_off, in_len;
  bool in_end;                   /* the request body ended */
  bool headers_sent;             /* response headers (200, content-type) are out */
  bool status_set;
  int status;
  asx_buf status_msg;            /* raw text, percent-encoded when sent */
  int recv_err;                  /* sticky decoder error */
  asx_grpc_encoding recv_enc;    /* the request's grpc-encoding */
  asx_grpc_encoding send_enc;    /* what our messages use (identity unless configured+accepted) */
  asx_buf plain;                 /* the last received message, decompressed */
  asx_buf packed;                /* a message being sent, compressed */
  asx_buf md_store;              /* names and values of hdr[] and trl[] */
  grpc_md hdr[GRPC_MAX_MD], trl[GRPC_MAX_MD];
  size_t nhdr, ntrl;
  bool finished;                 /* the status went out: nothing more can be added */
};

/* server.c (setup only): unregisters the method added last (rolls back a partial registration). */
void grpc_server_drop_last(asx_grpc_server *srv);
/* server_meta.c: fills out[0..count) from a metadata list; returns count. */
size_t grpc_md_headers(const asx_grpc_call *call, const grpc_md *list, size_t count, asx_http2_header *out);

/* server_call.c: ends the call (status from rc unless set) with trailers or trailers-only. */
void grpc_call_finish(asx_cx *cx, asx_grpc_call *call, int rc);

#endif

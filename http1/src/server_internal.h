/* Private state of the HTTP/1.1 server glue: one h1conn per connection, holding the decoder,
 * the input and output buffers and the request/response pair of the exchange in progress. */
#ifndef ASX_HTTP1_SERVER_INTERNAL_H
#define ASX_HTTP1_SERVER_INTERNAL_H

#include "asx/http1_server.h"

#define H1_MAX_RESP_HEADERS 64

typedef struct h1_ref {
  uint32_t off, len;
} h1_ref;

typedef struct h1_field {
  h1_ref name, value;
} h1_field;

typedef struct h1conn h1conn;

struct asx_http1_req {
  h1conn *c;
  asx_http1_method method;
  h1_ref method_name, target;
  int minor;
  asx_http1_body body;
  uint64_t content_length;
  bool keep_alive, expect_continue, upgrade;
  asx_http1_upgrade_proto proto;
  bool head_done, msg_done;
  bool continue_sent;
  int body_err;         /* sticky error of the body reader (0 = none) */
  uint64_t body_read;   /* bytes handed to the handler */
  uint64_t index;
};

struct asx_http1_resp {
  h1conn *c;
  int code;
  bool started, finished, chunked, close_delimited, close_after, no_body;
  uint64_t remaining;   /* sized body: bytes still owed */
  asx_buf store;        /* header bytes */
  h1_field fields[H1_MAX_RESP_HEADERS];
  size_t field_count;
};

struct h1conn {
  asx_cx *cx;
  asx_stream *s;
  const asx_http1_server_config *cfg;
  asx_http1_decoder *dec;
  uint8_t *in;
  size_t in_cap, in_pos, in_len;
  asx_buf out;          /* response bytes not yet written */
  asx_buf store;        /* request line and header bytes of the current request */
  asx_buf fields;       /* h1_field array */
  asx_buf tstore;       /* trailer bytes */
  asx_buf tfields;      /* trailer h1_field array */
  asx_buf body;         /* decoded body bytes not yet handed out */
  size_t body_pos;
  bool upgrade_ev;
  asx_http1_upgrade_kind upgrade_kind;
  int io_err;           /* sticky stream error: the connection is finished */
  asx_http1_req req;
  asx_http1_resp resp;
  asx_imf_date_cache date;
};

/* server_conn.c */
int h1_feed(h1conn *c);
int h1_fill(h1conn *c);
int h1_flush(h1conn *c);
int h1_write_direct(h1conn *c, const struct iovec *iov, int iovcnt);

/* server_resp.c */
void h1_resp_reset(asx_http1_resp *r, h1conn *c);
/* Called after the handler: completes or abandons the response; false = close the connection. */
bool h1_resp_complete(asx_http1_resp *r, int handler_rc);
/* The Date value for a response now (formatted at most once per second per connection). */
asx_slice h1_date(h1conn *c);
/* Queues a minimal error response with Connection: close. */
int h1_send_error(h1conn *c, int code);

/* server_req.c */
void h1_req_reset(asx_http1_req *r, h1conn *c, uint64_t index);
int h1_on_event(void *ud, const asx_http1_event *ev);
/* Reads and discards the rest of the body (up to `limit` bytes): 0 or an error/ASX_ELIMIT. */
int h1_req_drain(asx_http1_req *r, uint64_t limit);
/* How many Host fields the request carries. */
size_t h1_req_host_count(const asx_http1_req *r);
/* The hook declined an upgrade: the request is answered as a plain one. */
void h1_req_upgrade_declined(asx_http1_req *r);

#endif

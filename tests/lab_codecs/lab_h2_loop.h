/* The small I/O loop that moves bytes between an asx_http2_session and a simulated stream in
 * the lab (used by the HTTP/2 and gRPC scenarios). */
#ifndef LAB_H2_LOOP_H
#define LAB_H2_LOOP_H

#include "asx/http2.h"
#include "lab_codec_util.h"

typedef struct lh2_conn lh2_conn;
struct lh2_conn {
  asx_cx *cx;
  lc_side *side;
  asx_http2_session *s;
  bool (*done)(lh2_conn *c); /* the application's part is over (client: every stream closed) */
  void *app;
  int err;                   /* set by an event handler that found a transcript error */
  bool until_eof;            /* server: keep reading until the client's FIN, then check done() */
};

/* Task-only: creates the session (events go to on_event with ud = the lh2_conn). */
int lh2_open(lh2_conn *c, asx_cx *cx, lc_side *side, asx_http2_role role, asx_http2_event_cb on_event,
             bool (*done)(lh2_conn *), void *app);
/* Task-only: check timeouts -> write everything pending -> read -> recv, until done() (then
 * returns 0) or the peer's end of stream (0 when done(), else ASX_ECLOSED), or an error. */
int lh2_run(lh2_conn *c);
/* Task-only, client: after done(): GOAWAY, flush, FIN, then drain until the server closes. */
int lh2_client_finish(lh2_conn *c);
/* Frees the session. */
void lh2_close(lh2_conn *c);

/* Builds a header from two C strings. */
asx_http2_header lh2_hdr(const char *name, const char *value);
/* The value of `name` in a header block, or an empty slice. */
asx_slice lh2_find(const asx_http2_event *ev, const char *name);

#endif /* LAB_H2_LOOP_H */

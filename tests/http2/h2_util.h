/* Test helpers for the HTTP/2 suites: an event recorder for the asx session, an nghttp2 peer
 * (client or server, nghttp2's own API), an in-memory pump, and a raw frame writer for
 * adversarial input (the header blocks themselves are encoded with nghttp2's HPACK deflater). */
#ifndef H2_UTIL_H
#define H2_UTIL_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

#include "asx/http2.h"

#define REC_MAX_STREAMS 512

/* What the asx side saw. */
typedef struct rec {
  int headers, data_events, ends, resets, closed, goaways;
  asx_http2_headers_kind last_kind;
  int32_t last_stream;
  size_t last_header_count;
  char last_path[64];
  char last_status[8];
  char last_trailer_value[64];
  size_t data_bytes;         /* total DATA bytes delivered */
  uint8_t data[256 * 1024];  /* first bytes of the body (truncated) */
  uint32_t last_close_code;
  int last_close_asx;
  uint32_t reset_code;
  uint32_t goaway_code;
  int32_t goaway_last_stream;
  bool auto_consume;         /* consume every DATA chunk at once */
  bool auto_respond;         /* server: answer each request at END_STREAM (200 + body + trailers) */
  const char *respond_body;
} rec;

void rec_init(rec *r);
void rec_on_event(void *ud, asx_http2_session *s, const asx_http2_event *ev);

/* An nghttp2 peer. A server peer answers each complete request with 200, a body and a
 * trailer; a client peer records responses. */
typedef struct peer {
  nghttp2_session *ng;
  bool server;
  int responses;          /* client: final response header blocks seen */
  int requests;           /* server: complete requests seen */
  int trailers;           /* trailer blocks seen */
  char last_status[8];
  char last_trailer[64];
  size_t body_bytes;
  uint8_t body[64 * 1024];
  int rst_count;
  uint32_t last_rst_code;
  int32_t last_rst_stream;
  int goaways;
  uint32_t goaway_code;
  int closed;
  size_t big_response_header; /* server: add an x-big header of this many bytes */
  bool respond;               /* server: answer requests automatically (default true) */
} peer;

/* Creates the peer with default nghttp2 behaviour plus a 1 MiB send header block limit. */
void peer_init(peer *p, bool server);
void peer_free(peer *p);
/* Moves bytes both ways until neither side produces anything (bounded). Returns the last
 * asx recv result (0 or an error). */
int pump(asx_http2_session *s, peer *p);
/* Drains every pending asx output byte into `out` (no max) and returns the count. */
size_t drain(asx_http2_session *s, uint8_t *out, size_t cap);

/* Raw frame writer. */
typedef struct raw {
  uint8_t *buf;
  size_t len, cap;
  nghttp2_hd_deflater *hd;
} raw;

void raw_init(raw *r);
void raw_free(raw *r);
void raw_reset(raw *r);
void raw_bytes(raw *r, const void *p, size_t n);
void raw_frame(raw *r, uint8_t type, uint8_t flags, int32_t id, const void *payload, size_t n);
/* Client preface + empty SETTINGS. */
void raw_preface(raw *r);
/* HPACK-encodes `nv` into out (capacity cap); returns the length. */
size_t raw_hpack(raw *r, const nghttp2_nv *nv, size_t n, uint8_t *out, size_t cap);
/* A complete GET request HEADERS frame (END_HEADERS, END_STREAM). */
void raw_get(raw *r, int32_t id, const char *path);

/* Scans frames in `p`: returns how many frames of `type` on `id` (-1 = any) it found and the
 * error code of the last RST_STREAM / GOAWAY among them. */
int frames_find(const uint8_t *p, size_t len, uint8_t type, int32_t id, uint32_t *code);

#define NV(n, v) \
  { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }
#define HDR(n, v) \
  { {(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1} }

#endif

/* Helpers shared by the NATS suites: a binary log of parser events (so that split feeds can be
 * compared byte for byte with a whole feed) and small string conveniences. */
#ifndef ASX_NATS_TESTUTIL_H
#define ASX_NATS_TESTUTIL_H

#include "asx/nats.h"

/* Appends a self-delimiting description of ev to log (aborts the test on allocation failure). */
void nt_log_event(asx_buf *log, const asx_nats_event *ev);

/* Feeds data[0..len) to p in pieces ending at each of the sorted cut offsets (and at len),
 * re-feeding leftovers after each event, logging every event. Returns the first result other than
 * 0/ASX_EAGAIN, or ASX_EAGAIN when all input was consumed. Checks the consumed accounting. */
int nt_feed_split(asx_nats_parser *p, const uint8_t *data, size_t len, const size_t *cuts,
                  size_t ncuts, asx_buf *log);

/* Same with one whole feed. */
int nt_feed_whole(asx_nats_parser *p, const uint8_t *data, size_t len, asx_buf *log);

/* Feeds a NUL-terminated string whole and expects exactly one event, returning it; the parser
 * must have consumed every byte. */
asx_nats_event nt_parse_one(asx_nats_parser *p, const char *wire);

/* Returns true if slice s equals the NUL-terminated string. */
bool nt_eq(asx_slice s, const char *str);

#endif

/* Helpers for the NATS client suites: nats-server on a free loopback port (plain, through
 * tests/nats/nats_peer.c, or with a configuration file through tests/redis/peer_process.c) and a
 * runtime run that checks teardown. */
#ifndef ASX_NCL_UTIL_H
#define ASX_NCL_UTIL_H

#include "asx/nats_client.h"
#include "nats_peer.h"

#define MS 1000000ull

/* Starts a plain nats-server; asserts on failure. */
void ncl_start(nt_peer *p);
/* Starts nats-server with `conf` (text of a configuration file) on a free port. */
void ncl_start_conf(nt_peer *p, const char *conf);
/* Starts a plain nats-server again on p->port (after ncl_stop); false if it would not start. */
bool ncl_restart(nt_peer *p);
/* Stops a server started by ncl_start / ncl_start_conf. */
void ncl_stop(nt_peer *p);
/* Stops every server still running (use as the suite's .fini). */
void ncl_cleanup(void);
/* Runs fn as the main task of a THREADS runtime and asserts that no task, region or obligation
 * is left or leaked. Returns fn's rc. */
int ncl_run(unsigned workers, asx_task_fn fn, void *arg);
/* Client options for the server. */
asx_nats_client_opts ncl_opts(const nt_peer *p);
/* Connects or fails the test. */
asx_nats_client *ncl_connect(asx_cx *cx, const nt_peer *p);

#endif

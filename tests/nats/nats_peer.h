/* Starting and stopping a real nats-server for peer tests (fork/exec on a free loopback port,
 * bounded readiness wait, stopped by PID), and a blocking loopback TCP client socket. */
#ifndef ASX_NATS_PEER_H
#define ASX_NATS_PEER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct nt_peer {
  pid_t pid;
  int port;
} nt_peer;

/* Path of the nats-server binary, or NULL when it is not installed. */
const char *nt_nats_server_path(void);

/* Starts `nats-server -a 127.0.0.1 -p PORT` and waits (at most timeout_ms) until it accepts
 * connections. Returns 0, or -1 (nothing left running). */
int nt_peer_start_nats(nt_peer *peer, int timeout_ms);

/* Stops the peer: SIGTERM, bounded wait, then SIGKILL; always reaps it. Returns true when the
 * process was reaped. */
bool nt_peer_stop(nt_peer *peer);

/* A blocking TCP socket connected to 127.0.0.1:port with SO_RCVTIMEO/SO_SNDTIMEO of timeout_ms;
 * -1 on failure. */
int nt_connect_loopback(int port, int timeout_ms);

#endif

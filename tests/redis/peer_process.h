/* Helpers for tests that talk to a real peer process on loopback: pick a free port, spawn the
 * peer, wait (bounded) until it accepts connections, connect with timeouts, stop it by PID.
 * Self-contained (POSIX only) so that they can move to tests/common unchanged. */
#ifndef ASX_TEST_PEER_PROCESS_H
#define ASX_TEST_PEER_PROCESS_H

#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int peer_free_port(void);
/* fork + execvp(argv[0], argv) with stdin/stdout/stderr on /dev/null; the child's pid, or -1. */
pid_t peer_spawn(char *const argv[]);
/* Polls until 127.0.0.1:port accepts a connection: 0, or -1 after timeout_ms or if `pid` died. */
int peer_wait_port(pid_t pid, int port, int timeout_ms);
/* A blocking TCP socket connected to 127.0.0.1:port with SO_RCVTIMEO/SO_SNDTIMEO; fd or -1. */
int peer_connect(int port, int timeout_ms);
/* Sends all bytes: 0 or -1. */
int peer_send_all(int fd, const void *p, size_t n);
/* SIGTERM, a bounded wait, then SIGKILL; always reaps the child. */
void peer_kill(pid_t pid);

#endif

#include "nats_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

const char *nt_nats_server_path(void) {
  static const char *candidates[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server",
                                     "/usr/local/bin/nats-server"};
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
    if (access(candidates[i], X_OK) == 0) return candidates[i];
  return NULL;
}

/* Asks the kernel for a free port; another process could take it before the server binds, so
 * the caller retries on failure. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

int nt_connect_loopback(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int start_once(nt_peer *peer, const char *path, int timeout_ms) {
  int port = free_port();
  if (port <= 0) return -1;
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%d", port);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execl(path, "nats-server", "-a", "127.0.0.1", "-p", port_s, (char *)NULL);
    _exit(127);
  }
  peer->pid = pid;
  peer->port = port;
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) { /* exited (e.g. port taken) */
      peer->pid = -1;
      return -1;
    }
    int fd = nt_connect_loopback(port, 1000);
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    sleep_ms(20);
  }
  nt_peer_stop(peer);
  return -1;
}

int nt_peer_start_nats(nt_peer *peer, int timeout_ms) {
  peer->pid = -1;
  peer->port = 0;
  const char *path = nt_nats_server_path();
  if (!path) return -1;
  for (int attempt = 0; attempt < 3; attempt++)
    if (start_once(peer, path, timeout_ms) == 0) return 0;
  return -1;
}

bool nt_peer_stop(nt_peer *peer) {
  if (peer->pid <= 0) return true;
  pid_t pid = peer->pid;
  peer->pid = -1;
  kill(pid, SIGTERM);
  for (int waited = 0; waited < 3000; waited += 10) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    sleep_ms(10);
  }
  kill(pid, SIGKILL);
  return waitpid(pid, NULL, 0) == pid;
}


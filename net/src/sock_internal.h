/* Socket helpers shared by streams, listeners and connect. */
#ifndef ASX_NET_SOCK_INTERNAL_H
#define ASX_NET_SOCK_INTERNAL_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>

int net_sock_set_nonblock(int fd);
void net_sock_nodelay(int fd);
/* Parses a numeric IPv4/IPv6 address (or "localhost" = 127.0.0.1) with port into ss.
 * 0 or ASX_EINVAL. */
int net_parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

#endif

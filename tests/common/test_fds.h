/* Descriptor accounting for teardown assertions: a test records the count before it starts its
 * runtime and checks it is the same at the end (no leaked socket, eventfd or epoll fd). */
#ifndef ASX_TEST_FDS_H
#define ASX_TEST_FDS_H

/* Open descriptors of this process, not counting the one used to list them; -1 if /proc is
 * unreadable. Thread-safe. */
int test_count_fds(void);

#endif

/* Every allocation of the net objects fails in turn: each constructor returns ASX_ENOMEM and
 * leaves nothing allocated and no descriptor open. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_testutil.h"
#include "test_fds.h"
#include "test_alloc.h"

TestSuite(net_alloc, .timeout = 60);

static test_alloc ta;

static int sim_objects(asx_cx *cx, void *arg) {
  (void)arg;
  for (long k = 0;; k++) {
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    asx_sim_opts o;
    asx_sim_opts_default(&o);
    o.alloc = &ta.base;
    asx_stream *a = NULL, *b = NULL;
    int rc = asx_sim_pair(cx, &o, &a, &b);
    if (rc == ASX_ENOMEM) {
      cr_assert_null(a);
      cr_assert_eq(ta.live, 0, "leak after failing allocation %ld", k);
      continue;
    }
    cr_assert_eq(rc, 0);
    asx_stream_close(a);
    asx_stream_close(b);
    cr_assert_eq(ta.live, 0);
    break;
  }
  for (long k = 0;; k++) {
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    asx_sim_opts o;
    asx_sim_opts_default(&o);
    o.alloc = &ta.base;
    asx_listener *l = NULL;
    int rc = asx_sim_listen(&o, 4, &l);
    if (rc == ASX_ENOMEM) {
      cr_assert_eq(ta.live, 0, "leak after failing allocation %ld", k);
      continue;
    }
    cr_assert_eq(rc, 0);
    asx_stream *s = NULL;
    test_alloc_fail_after(&ta, 0); /* connect cannot allocate its pair */
    cr_assert_eq(asx_sim_connect(cx, l, &s), ASX_ENOMEM);
    asx_listener_close(l);
    cr_assert_eq(ta.live, 0);
    break;
  }
  return 0;
}

Test(net_alloc, simulated_streams_and_listener) {
  cr_assert_eq(net_run(1, sim_objects, NULL), 0);
}

static int dummy_handler(asx_cx *cx, asx_stream *s, void *arg) {
  (void)cx;
  (void)s;
  (void)arg;
  return 0;
}

Test(net_alloc, listeners_server_and_fd_streams) {
  int fds = test_count_fds();
  char path[128];
  snprintf(path, sizeof(path), "/tmp/asx-net-alloc-%d.sock", (int)getpid());
  for (int kind = 0; kind < 2; kind++) {
    for (long k = 0;; k++) {
      test_alloc_init(&ta);
      test_alloc_fail_after(&ta, k);
      asx_listen_opts lo;
      asx_listen_opts_default(&lo);
      lo.alloc = &ta.base;
      asx_listener *l = NULL;
      unlink(path);
      int rc = kind ? asx_unix_listen(path, &lo, &l) : asx_tcp_listen("127.0.0.1", 0, &lo, &l);
      if (rc == ASX_ENOMEM) {
        cr_assert_eq(ta.live, 0);
        cr_assert_eq(test_count_fds(), fds);
        cr_assert_eq(access(path, F_OK), -1, "socket file left after a failed listen");
        continue;
      }
      cr_assert_eq(rc, 0);
      /* The server takes the listener, also when it cannot allocate itself. */
      asx_server_opts so;
      asx_server_opts_default(&so);
      so.alloc = &ta.base;
      test_alloc_fail_after(&ta, 0);
      asx_server *srv = NULL;
      cr_assert_eq(asx_server_new(l, &so, dummy_handler, NULL, &srv), ASX_ENOMEM);
      cr_assert_eq(ta.live, 0);
      cr_assert_eq(test_count_fds(), fds);
      break;
    }
  }
  int sv[2];
  cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  test_alloc_init(&ta);
  test_alloc_fail_after(&ta, 0);
  asx_stream *s = (asx_stream *)1;
  cr_assert_eq(asx_stream_from_fd(sv[0], &ta.base, &s), ASX_ENOMEM);
  cr_assert_null(s);
  close(sv[0]); /* still ours after the failure */
  close(sv[1]);
  cr_assert_eq(test_count_fds(), fds);
}

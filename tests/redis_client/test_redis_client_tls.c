/* The Redis client over TLS: redis-server with --tls-port and a throwaway PKI (tests/net's
 * net_pki_get), the client attached to an asx TLS stream (asx_tls_connect). */
#include <criterion/criterion.h>
#include <stdio.h>

#include "net_testutil.h"
#include "peer_process.h"
#include "rcl_util.h"

static pid_t server_pid = -1;

/* Stops the server even when an assertion ended the test early. */
static void stop_server(void) {
  if (server_pid > 0) peer_kill(server_pid);
  server_pid = -1;
}

TestSuite(redis_client_tls, .timeout = 60, .fini = stop_server);

typedef struct tls_env {
  int port;
  const net_pki *pki;
} tls_env;

static int tls_main(asx_cx *cx, void *arg) {
  tls_env *e = arg;
  asx_tls_options to;
  asx_tls_options_default(&to, ASX_TLS_CLIENT);
  to.ca_file = e->pki->ca;
  asx_tls_config *cfg = NULL;
  char err[256];
  cr_assert_eq(asx_tls_config_new(&to, &cfg, err, sizeof(err)), 0, "%s", err);
  asx_stream *tcp = NULL, *tls = NULL;
  cr_assert_eq(asx_tcp_connect(cx, "127.0.0.1", (uint16_t)e->port, NULL, &tcp), 0);
  int rc = asx_tls_connect(cx, tcp, cfg, "localhost", 5000 * MS, &tls, err, sizeof(err));
  cr_assert_eq(rc, 0, "TLS: %s", err);
  asx_redis_client_opts o;
  asx_redis_client_opts_default(&o);
  o.resp = 3;
  asx_redis_client *c = NULL;
  cr_assert_eq(asx_redis_client_attach(cx, tls, &o, &c, err, sizeof(err)), 0, "%s", err);
  asx_redis_reply *r = rcl_cmd(cx, c, "SET", "secure", "yes", NULL);
  asx_redis_reply_free(r);
  r = rcl_cmd(cx, c, "GET", "secure", NULL);
  cr_expect_str_eq(r->str, "yes");
  asx_redis_reply_free(r);
  asx_redis_client_close(cx, c);
  /* The same through the options: the client dials and runs the handshake itself. */
  o.host = "127.0.0.1";
  o.port = (uint16_t)e->port;
  o.tls = cfg;
  o.tls_server_name = "localhost";
  cr_assert_eq(asx_redis_client_connect(cx, &o, &c, err, sizeof(err)), 0, "%s", err);
  r = rcl_cmd(cx, c, "GET", "secure", NULL);
  cr_expect_str_eq(r->str, "yes");
  asx_redis_reply_free(r);
  asx_redis_client_close(cx, c);
  /* A pool with the same options (no dial hook). */
  asx_redis_pool_opts po;
  asx_redis_pool_opts_default(&po);
  po.client = o;
  po.max_conns = 2;
  asx_redis_pool *p = NULL;
  cr_assert_eq(asx_redis_pool_new(cx, &po, &p), 0);
  const char *argv[] = {"GET", "secure"};
  cr_assert_eq(asx_redis_pool_command(cx, p, 2, argv, NULL, &r), 0);
  cr_expect_str_eq(r->str, "yes");
  asx_redis_reply_free(r);
  asx_redis_pool_close(cx, p);
  /* A client that trusts another CA is refused by its own verification. */
  asx_tls_options_default(&to, ASX_TLS_CLIENT);
  to.ca_file = e->pki->other_ca;
  asx_tls_config *other = NULL;
  cr_assert_eq(asx_tls_config_new(&to, &other, err, sizeof(err)), 0, "%s", err);
  o.tls = other;
  err[0] = 0;
  cr_assert_eq(asx_redis_client_connect(cx, &o, &c, err, sizeof(err)), ASX_ETLS, "%s", err);
  cr_expect(strstr(err, "TLS handshake failed"), "%s", err);
  asx_tls_config_free(other);
  asx_tls_config_free(cfg);
  return 0;
}

Test(redis_client_tls, commands_over_tls) {
  tls_env e = {.pki = net_pki_get()};
  pid_t pid = -1;
  for (int attempt = 0; attempt < 5 && pid < 0; attempt++) {
    e.port = peer_free_port();
    char port[16];
    snprintf(port, sizeof(port), "%d", e.port);
    char *argv[] = {"redis-server", "--port", "0", "--tls-port", port, "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no",
                    "--tls-cert-file", (char *)e.pki->server_cert,
                    "--tls-key-file", (char *)e.pki->server_key,
                    "--tls-ca-cert-file", (char *)e.pki->ca,
                    "--tls-auth-clients", "no", NULL};
    pid = peer_spawn(argv);
    if (pid > 0 && peer_wait_port(pid, e.port, 5000) != 0) {
      peer_kill(pid);
      pid = -1;
    }
  }
  cr_assert_gt(pid, 0, "could not start redis-server with TLS");
  server_pid = pid;
  cr_expect_eq(rcl_run(2, tls_main, &e), 0);
}

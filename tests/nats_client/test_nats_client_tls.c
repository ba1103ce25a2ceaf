/* The NATS client over TLS the NATS way (INFO in plain text, then the TLS handshake on the same
 * socket): nats-server with a tls block and a throwaway PKI (tests/net's net_pki_get). Pub/sub and
 * request/reply through TLS; TLS asked on one side only is an error, never a downgrade; an
 * untrusted server certificate is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ncl_util.h"
#include "net_testutil.h"

TestSuite(nats_client_tls, .timeout = 60, .fini = ncl_cleanup);

typedef struct tls_env {
  nt_peer srv;
  const char *ca;        /* trust anchors for the client; NULL = plain client */
  int want_rc;           /* expected connect result */
  const char *want_err;  /* expected in err when it fails */
} tls_env;

static asx_tls_config *client_tls(const char *ca) {
  asx_tls_options to;
  asx_tls_options_default(&to, ASX_TLS_CLIENT);
  to.ca_file = ca;
  asx_tls_config *cfg = NULL;
  char err[256];
  cr_assert_eq(asx_tls_config_new(&to, &cfg, err, sizeof(err)), 0, "%s", err);
  return cfg;
}

static int echo_responder(asx_cx *cx, asx_nats_msg *m, void *ud) {
  if (m->reply) asx_nats_publish(cx, ud, m->reply, NULL, NULL, m->data, m->len);
  asx_nats_msg_free(m);
  return 0;
}

static int tls_main(asx_cx *cx, void *arg) {
  tls_env *e = arg;
  asx_tls_config *cfg = e->ca ? client_tls(e->ca) : NULL;
  asx_nats_client_opts o = ncl_opts(&e->srv);
  o.tls = cfg;
  o.max_reconnects = 0;
  asx_nats_client *c = NULL;
  char err[256] = "";
  int rc = asx_nats_client_connect(cx, &o, &c, err, sizeof(err));
  cr_assert_eq(rc, e->want_rc, "%s: %s", asx_strerror(rc), err);
  if (rc == 0) {
    asx_nats_sub *s, *svc;
    cr_assert_eq(asx_nats_subscribe(cx, c, "t.>", NULL, NULL, &s), 0);
    cr_assert_eq(asx_nats_subscribe_handler(cx, c, "svc", NULL, NULL, echo_responder, c, &svc), 0);
    static char big[200000];
    memset(big, 'x', sizeof big);
    cr_assert_eq(asx_nats_publish(cx, c, "t.a", NULL, NULL, "over tls", 8), 0);
    cr_assert_eq(asx_nats_publish(cx, c, "t.b", NULL, NULL, big, sizeof big), 0);
    asx_nats_msg *m = NULL;
    cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
    cr_expect_str_eq((const char *)m->data, "over tls");
    asx_nats_msg_free(m);
    cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
    cr_expect_eq(m->len, sizeof big);
    asx_nats_msg_free(m);
    asx_nats_msg *r = NULL;
    cr_assert_eq(asx_nats_request(cx, c, "svc", NULL, "ping", 4, 5000 * MS, &r), 0);
    cr_expect_str_eq((const char *)r->data, "ping");
    asx_nats_msg_free(r);
    cr_assert_eq(asx_nats_client_drain(cx, c, 5000 * MS), 0);
    asx_nats_sub_free(s);
    asx_nats_sub_free(svc);
  } else {
    cr_expect_null(c);
    cr_expect(strstr(err, e->want_err), "err: %s", err);
  }
  asx_tls_config_free(cfg);
  return 0;
}

static void start_tls_server(nt_peer *p) {
  const net_pki *pki = net_pki_get();
  char conf[1024];
  snprintf(conf, sizeof conf, "tls {\n  cert_file: \"%s\"\n  key_file: \"%s\"\n}\n", pki->server_cert,
           pki->server_key);
  ncl_start_conf(p, conf);
}

Test(nats_client_tls, pubsub_and_request_over_tls) {
  tls_env e = {.ca = net_pki_get()->ca, .want_rc = 0};
  start_tls_server(&e.srv);
  cr_expect_eq(ncl_run(2, tls_main, &e), 0);
  ncl_stop(&e.srv);
}

Test(nats_client_tls, plain_client_to_tls_server_is_refused) {
  tls_env e = {.ca = NULL, .want_rc = ASX_EPROTO, .want_err = "requires TLS"};
  start_tls_server(&e.srv);
  cr_expect_eq(ncl_run(2, tls_main, &e), 0);
  ncl_stop(&e.srv);
}

Test(nats_client_tls, tls_client_to_plain_server_is_refused) {
  tls_env e = {.ca = net_pki_get()->ca, .want_rc = ASX_EPROTO, .want_err = "does not offer"};
  ncl_start(&e.srv);
  cr_expect_eq(ncl_run(2, tls_main, &e), 0);
  ncl_stop(&e.srv);
}

Test(nats_client_tls, untrusted_server_certificate_is_refused) {
  tls_env e = {.ca = net_pki_get()->other_ca, .want_rc = ASX_ETLS, .want_err = "TLS handshake failed"};
  start_tls_server(&e.srv);
  cr_expect_eq(ncl_run(2, tls_main, &e), 0);
  ncl_stop(&e.srv);
}

/* The sans-I/O TLS engine, with no sockets: configuration errors are reported at config time,
 * and in-memory handshakes between an asx client and an asx server prove ALPN, verification,
 * hostname checks, mTLS, SNI, session resumption, data and close_notify. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "net_testutil.h"
#include "test_alloc.h"

static const char *const ALPN_SERVER[] = {"h2", "http/1.1"};
static const char *const ALPN_CLIENT[] = {"http/1.1", "h2"};
static const char *const ALPN_FOO[] = {"foo"};

static asx_tls_config *server_cfg(const asx_tls_options *o) {
  asx_tls_config *cfg = NULL;
  char err[512];
  int rc = asx_tls_config_new(o, &cfg, err, sizeof(err));
  cr_assert_eq(rc, 0, "config: %s (%s)", asx_errname(rc), err);
  return cfg;
}

static void opts_server(asx_tls_options *o) {
  const net_pki *p = net_pki_get();
  asx_tls_options_default(o, ASX_TLS_SERVER);
  o->cert_file = p->server_cert;
  o->key_file = p->server_key;
}

static void opts_client(asx_tls_options *o) {
  const net_pki *p = net_pki_get();
  asx_tls_options_default(o, ASX_TLS_CLIENT);
  o->ca_file = p->ca;
}

typedef struct pair {
  asx_tls_config *scfg, *ccfg;
  asx_tls_conn *s, *c;
  int crc, src;
} pair;

static void pair_run(pair *p, const asx_tls_options *so, const asx_tls_options *co, const char *name) {
  memset(p, 0, sizeof(*p));
  p->scfg = server_cfg(so);
  p->ccfg = server_cfg(co);
  cr_assert_eq(asx_tls_conn_new(p->scfg, NULL, &p->s), 0);
  cr_assert_eq(asx_tls_conn_new(p->ccfg, name, &p->c), 0);
  net_mem_handshake(p->c, p->s, &p->crc, &p->src);
}

static void pair_free(pair *p) {
  asx_tls_conn_free(p->c);
  asx_tls_conn_free(p->s);
  asx_tls_config_free(p->ccfg);
  asx_tls_config_free(p->scfg);
}

TestSuite(tls_engine, .timeout = 60);

Test(tls_engine, config_errors_are_reported_with_reason) {
  const net_pki *p = net_pki_get();
  asx_tls_options o;
  asx_tls_config *cfg = (asx_tls_config *)1;
  char err[512];

  opts_server(&o);
  o.cert_file = "/nonexistent/cert.pem";
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_ETLS);
  cr_assert_null(cfg);
  cr_assert(strstr(err, "/nonexistent/cert.pem") && strlen(err) > 40, "%s", err);

  opts_server(&o);
  o.cert_file = p->dir; /* a directory, not a file */
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_ETLS);
  cr_assert(strstr(err, "certificate chain"), "%s", err);

  opts_server(&o);
  o.cert_file = p->server_key; /* PEM, but no certificate in it */
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_ETLS);

  opts_server(&o);
  o.key_file = p->ca; /* a certificate, not a key */
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_ETLS);
  cr_assert(strstr(err, "private key"), "%s", err);

  opts_server(&o);
  o.key_file = p->alt_key; /* a key of another certificate */
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_ETLS);
  cr_assert(strstr(err, "mismatch") || strstr(err, "does not match"), "%s", err);

  asx_tls_options_default(&o, ASX_TLS_SERVER);
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_EINVAL);
  cr_assert(strstr(err, "needs cert_file"), "%s", err);

  opts_server(&o);
  o.key_file = NULL;
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_EINVAL);

  opts_server(&o);
  o.alpn = ALPN_SERVER;
  o.alpn_count = 0;
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_EINVAL);
  cr_assert(strstr(err, "ALPN list is empty"), "%s", err);

  static const char *const empty_name[] = {"h2", ""};
  opts_client(&o);
  o.alpn = empty_name;
  o.alpn_count = 2;
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_EINVAL);

  opts_client(&o);
  o.ca_file = "/nonexistent/ca.pem";
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_ETLS);
  cr_assert(strstr(err, "CA file"), "%s", err);

  opts_server(&o);
  o.require_client_cert = true; /* without ca_file */
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_EINVAL);

  asx_tls_options_default(&o, ASX_TLS_CLIENT);
  o.require_client_cert = true;
  cr_assert_eq(asx_tls_config_new(&o, &cfg, err, sizeof(err)), ASX_EINVAL);

  /* A verifying client needs a name to check. */
  opts_client(&o);
  cfg = server_cfg(&o);
  asx_tls_conn *c = NULL;
  cr_assert_eq(asx_tls_conn_new(cfg, NULL, &c), ASX_EINVAL);
  asx_tls_config_free(cfg);
}

Test(tls_engine, alpn_server_preference_and_data) {
  asx_tls_options so, co;
  opts_server(&so);
  so.alpn = ALPN_SERVER;
  so.alpn_count = 2;
  opts_client(&co);
  co.alpn = ALPN_CLIENT;
  co.alpn_count = 2;
  pair p;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.crc, 0, "%s", asx_tls_conn_error_message(p.c));
  cr_assert_eq(p.src, 0, "%s", asx_tls_conn_error_message(p.s));
  cr_assert_str_eq(asx_tls_conn_alpn(p.c), "h2");
  cr_assert_str_eq(asx_tls_conn_alpn(p.s), "h2");
  cr_assert_str_eq(asx_tls_conn_server_name(p.s), "localhost");
  cr_assert(asx_tls_conn_peer_verified(p.c));
  cr_assert_str_eq(asx_tls_conn_version(p.c), "TLSv1.3");

  cr_assert_eq(asx_tls_conn_write(p.c, "hello", 5), 0);
  net_mem_pump(p.c, p.s);
  char buf[16];
  size_t n = 0;
  cr_assert_eq(asx_tls_conn_read(p.s, buf, sizeof(buf), &n), 0);
  cr_assert_eq(n, 5);
  cr_assert_eq(memcmp(buf, "hello", 5), 0);
  cr_assert_eq(asx_tls_conn_read(p.s, buf, sizeof(buf), &n), ASX_EAGAIN);
  cr_assert_eq(asx_tls_conn_close_notify(p.c), 0);
  net_mem_pump(p.c, p.s);
  cr_assert_eq(asx_tls_conn_read(p.s, buf, sizeof(buf), &n), ASX_ECLOSED);
  pair_free(&p);
}

Test(tls_engine, alpn_no_overlap) {
  asx_tls_options so, co;
  opts_server(&so);
  so.alpn = ALPN_SERVER;
  so.alpn_count = 2;
  opts_client(&co);
  co.alpn = ALPN_FOO;
  co.alpn_count = 1;
  pair p;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.crc, 0);
  cr_assert_str_eq(asx_tls_conn_alpn(p.c), "");
  pair_free(&p);

  so.alpn_required = true;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.src, ASX_ETLS);
  cr_assert_neq(p.crc, 0);
  pair_free(&p);
}

Test(tls_engine, client_without_the_ca_is_refused) {
  asx_tls_options so, co;
  opts_server(&so);
  opts_client(&co);
  co.ca_file = net_pki_get()->other_ca;
  pair p;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.crc, ASX_ETLS);
  cr_assert(strstr(asx_tls_conn_error_message(p.c), "verification failed"), "%s",
            asx_tls_conn_error_message(p.c));
  pair_free(&p);
}

Test(tls_engine, hostname_mismatch_is_refused_ip_literal_checked) {
  asx_tls_options so, co;
  opts_server(&so);
  opts_client(&co);
  pair p;
  pair_run(&p, &so, &co, "wrong.test");
  cr_assert_eq(p.crc, ASX_ETLS);
  cr_assert(strstr(asx_tls_conn_error_message(p.c), "hostname mismatch"), "%s",
            asx_tls_conn_error_message(p.c));
  pair_free(&p);

  pair_run(&p, &so, &co, "127.0.0.1");
  cr_assert_eq(p.crc, 0, "%s", asx_tls_conn_error_message(p.c));
  cr_assert_null(asx_tls_conn_server_name(p.s)); /* no SNI for an address */
  pair_free(&p);

  pair_run(&p, &so, &co, "127.0.0.2");
  cr_assert_eq(p.crc, ASX_ETLS);
  pair_free(&p);
}

Test(tls_engine, insecure_client_only_when_asked) {
  asx_tls_options so, co;
  opts_server(&so);
  asx_tls_options_default(&co, ASX_TLS_CLIENT);
  co.ca_file = net_pki_get()->other_ca;
  co.verify_peer = false;
  pair p;
  pair_run(&p, &so, &co, NULL);
  cr_assert_eq(p.crc, 0);
  cr_assert_not(asx_tls_conn_peer_verified(p.c));
  pair_free(&p);
}

Test(tls_engine, mtls_requires_a_verified_client_cert) {
  const net_pki *pk = net_pki_get();
  asx_tls_options so, co;
  opts_server(&so);
  so.ca_file = pk->ca;
  so.require_client_cert = true;
  opts_client(&co);
  pair p;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.src, ASX_ETLS, "server accepted a client without a certificate");
  pair_free(&p);

  co.cert_file = pk->client_cert;
  co.key_file = pk->client_key;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.crc, 0, "%s", asx_tls_conn_error_message(p.c));
  cr_assert_eq(p.src, 0, "%s", asx_tls_conn_error_message(p.s));
  cr_assert(asx_tls_conn_peer_verified(p.s));
  /* TLS 1.3: the server's verdict on the client cert travels after the client's Finished;
   * exchange data both ways to be sure the connection really works. */
  cr_assert_eq(asx_tls_conn_write(p.s, "x", 1), 0);
  net_mem_pump(p.s, p.c);
  char b[4];
  size_t n;
  cr_assert_eq(asx_tls_conn_read(p.c, b, sizeof(b), &n), 0);
  cr_assert_eq(asx_tls_conn_write(p.c, "hello", 5), 0);
  net_mem_pump(p.c, p.s);
  int rc = asx_tls_conn_read(p.s, b, sizeof(b), &n);
  cr_assert_eq(rc, 0, "%s %s", asx_errname(rc), asx_tls_conn_error_message(p.s));
  pair_free(&p);

  /* A client cert from a CA the server does not trust. */
  so.ca_file = pk->other_ca;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.src, ASX_ETLS);
  pair_free(&p);
}

Test(tls_engine, sni_selects_the_alternate_certificate) {
  const net_pki *pk = net_pki_get();
  asx_tls_options so, ao, co;
  opts_server(&so);
  opts_server(&ao);
  ao.cert_file = pk->alt_cert;
  ao.key_file = pk->alt_key;
  asx_tls_config *alt = server_cfg(&ao);
  asx_tls_config *scfg = server_cfg(&so);
  cr_assert_eq(asx_tls_config_add_sni(scfg, "alt.test", alt), 0);
  opts_client(&co);
  asx_tls_config *ccfg = server_cfg(&co);
  asx_tls_conn *s, *c;
  cr_assert_eq(asx_tls_conn_new(scfg, NULL, &s), 0);
  cr_assert_eq(asx_tls_conn_new(ccfg, "alt.test", &c), 0);
  int crc, src;
  net_mem_handshake(c, s, &crc, &src);
  cr_assert_eq(crc, 0, "%s", asx_tls_conn_error_message(c));
  cr_assert_str_eq(asx_tls_conn_server_name(s), "alt.test");
  asx_tls_conn_free(c);
  asx_tls_conn_free(s);
  asx_tls_config_free(ccfg);
  asx_tls_config_free(scfg);
  asx_tls_config_free(alt);
}

static void resume_round(asx_tls_version v) {
  asx_tls_options so, co;
  opts_server(&so);
  opts_client(&co);
  co.min_version = v;
  so.min_version = v;
  pair p;
  pair_run(&p, &so, &co, "localhost");
  cr_assert_eq(p.crc, 0);
  /* TLS 1.3 tickets arrive after the handshake: let the client read them. */
  cr_assert_eq(asx_tls_conn_write(p.s, "t", 1), 0);
  net_mem_pump(p.s, p.c);
  char b[4];
  size_t n;
  cr_assert_eq(asx_tls_conn_read(p.c, b, sizeof(b), &n), 0);
  asx_tls_session *sess = NULL;
  cr_assert_eq(asx_tls_conn_get_session(p.c, &sess), 0);
  cr_assert_not(asx_tls_conn_resumed(p.c));

  asx_tls_conn *s2, *c2;
  cr_assert_eq(asx_tls_conn_new(p.scfg, NULL, &s2), 0);
  cr_assert_eq(asx_tls_conn_new(p.ccfg, "localhost", &c2), 0);
  cr_assert_eq(asx_tls_conn_set_session(c2, sess), 0);
  asx_tls_session_free(sess);
  int crc, src;
  cr_assert_eq(net_mem_handshake(c2, s2, &crc, &src), 0);
  cr_assert(asx_tls_conn_resumed(c2));
  cr_assert(asx_tls_conn_resumed(s2));
  asx_tls_conn_free(c2);
  asx_tls_conn_free(s2);
  pair_free(&p);
}

Test(tls_engine, session_tickets_resume) {
  resume_round(ASX_TLS_1_2);
  resume_round(ASX_TLS_1_3);
}

Test(tls_engine, handshake_fed_one_byte_at_a_time) {
  asx_tls_options so, co;
  opts_server(&so);
  opts_client(&co);
  asx_tls_config *scfg = server_cfg(&so), *ccfg = server_cfg(&co);
  asx_tls_conn *s, *c;
  cr_assert_eq(asx_tls_conn_new(scfg, NULL, &s), 0);
  cr_assert_eq(asx_tls_conn_new(ccfg, "localhost", &c), 0);
  int crc = ASX_EAGAIN, src = ASX_EAGAIN;
  for (int round = 0; round < 100000 && (crc || src); round++) {
    if (crc == ASX_EAGAIN) crc = asx_tls_conn_handshake(c);
    unsigned char byte;
    if (asx_tls_conn_take_output(c, &byte, 1) == 1) asx_tls_conn_feed(s, &byte, 1);
    if (src == ASX_EAGAIN) src = asx_tls_conn_handshake(s);
    if (asx_tls_conn_take_output(s, &byte, 1) == 1) asx_tls_conn_feed(c, &byte, 1);
    cr_assert(crc == 0 || crc == ASX_EAGAIN);
    cr_assert(src == 0 || src == ASX_EAGAIN);
  }
  cr_assert_eq(crc, 0);
  cr_assert_eq(src, 0);
  asx_tls_conn_free(c);
  asx_tls_conn_free(s);
  asx_tls_config_free(ccfg);
  asx_tls_config_free(scfg);
}

Test(tls_engine, failing_allocator_config_and_conn) {
  test_alloc ta;
  asx_tls_options so;
  opts_server(&so);
  so.alpn = ALPN_SERVER;
  so.alpn_count = 2;
  for (long k = 0;; k++) {
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, k);
    so.alloc = &ta.base;
    asx_tls_config *cfg = NULL;
    int rc = asx_tls_config_new(&so, &cfg, NULL, 0);
    if (rc == ASX_ENOMEM) {
      cr_assert_null(cfg);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    cr_assert_eq(rc, 0);
    asx_tls_conn *c = NULL;
    rc = asx_tls_conn_new(cfg, NULL, &c);
    if (rc == ASX_ENOMEM) {
      asx_tls_config_free(cfg);
      cr_assert_eq(ta.live, 0);
      continue;
    }
    cr_assert_eq(rc, 0);
    asx_tls_conn_free(c);
    asx_tls_config_free(cfg);
    cr_assert_eq(ta.live, 0);
    break;
  }
}

/* The sans-I/O TLS engine: an SSL object between two memory BIOs. The caller moves ciphertext
 * (feed / take_output); the engine never touches a socket, so it runs the same over TCP, Unix
 * sockets or the lab's simulated streams. */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "net_internal.h"

struct asx_tls_conn {
  asx_tls_config *cfg;
  SSL *ssl;
  BIO *rbio; /* the peer's ciphertext, fed by the caller */
  BIO *wbio; /* our ciphertext, taken by the caller */
  char alpn[256];
  char error[512];
};

static bool is_ip_literal(const char *name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int asx_tls_conn_new(asx_tls_config *cfg, const char *server_name, asx_tls_conn **out) {
  if (!cfg || !out) return ASX_EINVAL;
  *out = NULL;
  if (cfg->role == ASX_TLS_SERVER && server_name) return ASX_EINVAL;
  /* Verification without a name to check would accept any certificate the CA ever signed. */
  if (cfg->role == ASX_TLS_CLIENT && cfg->verify_peer && (!server_name || !*server_name))
    return ASX_EINVAL;
  asx_tls_conn *c = asx_calloc(cfg->alloc, 1, sizeof(*c));
  if (!c) return ASX_ENOMEM;
  c->cfg = cfg;
  ERR_clear_error();
  c->ssl = SSL_new(cfg->ctx);
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  if (!c->ssl || !c->rbio || !c->wbio) goto nomem;
  /* An empty input BIO means "wait for more", not end of stream. */
  BIO_set_mem_eof_return(c->rbio, -1);
  BIO_set_mem_eof_return(c->wbio, -1);
  SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns both BIOs from here */
  if (cfg->role == ASX_TLS_SERVER) {
    SSL_set_accept_state(c->ssl);
  } else {
    SSL_set_connect_state(c->ssl);
    if (server_name && *server_name) {
      if (is_ip_literal(server_name)) {
        /* SNI must not carry an address (RFC 6066); the check is against IP SANs instead. */
        if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), server_name)) goto tls_fail;
      } else {
        if (!SSL_set_tlsext_host_name(c->ssl, server_name)) goto tls_fail;
        if (!SSL_set1_host(c->ssl, server_name)) goto tls_fail;
      }
    }
  }
  *out = c;
  return 0;
nomem:
  BIO_free(c->rbio); /* not yet attached to the SSL */
  BIO_free(c->wbio);
  SSL_free(c->ssl);
  ERR_clear_error();
  asx_free(cfg->alloc, c);
  return ASX_ENOMEM;
tls_fail:
  ERR_clear_error();
  asx_tls_conn_free(c);
  return ASX_ETLS;
}

void asx_tls_conn_free(asx_tls_conn *c) {
  if (!c) return;
  SSL_free(c->ssl);
  asx_free(c->cfg->alloc, c);
}

int asx_tls_conn_set_session(asx_tls_conn *c, const asx_tls_session *s) {
  if (!c || !s || c->cfg->role != ASX_TLS_CLIENT) return ASX_EINVAL;
  return SSL_set_session(c->ssl, (SSL_SESSION *)s) == 1 ? 0 : ASX_ETLS;
}

int asx_tls_conn_get_session(asx_tls_conn *c, asx_tls_session **out) {
  if (!c || !out) return ASX_EINVAL;
  *out = NULL;
  SSL_SESSION *s = SSL_get1_session(c->ssl);
  if (!s) return ASX_ENOTFOUND;
  if (!SSL_SESSION_is_resumable(s)) {
    SSL_SESSION_free(s);
    return ASX_ENOTFOUND;
  }
  *out = (asx_tls_session *)s;
  return 0;
}

int asx_tls_conn_feed(asx_tls_conn *c, const void *data, size_t n) {
  if (n == 0) return 0;
  size_t written = 0;
  if (BIO_write_ex(c->rbio, data, n, &written) != 1 || written != n) {
    ERR_clear_error();
    return ASX_ENOMEM;
  }
  return 0;
}

size_t asx_tls_conn_output_pending(const asx_tls_conn *c) { return BIO_ctrl_pending(c->wbio); }

size_t asx_tls_conn_take_output(asx_tls_conn *c, void *buf, size_t cap) {
  size_t n = 0;
  if (cap == 0 || BIO_read_ex(c->wbio, buf, cap, &n) != 1) return 0;
  return n;
}

/* Records why a TLS call failed: the verification result when that is the cause, then the
 * error queue (read at once: it is thread-local and the task may migrate at the next switch). */
static int record_failure(asx_tls_conn *c, const char *what, int ssl_err) {
  long vr = SSL_get_verify_result(c->ssl);
  if (vr != X509_V_OK)
    net_tls_errf(c->error, sizeof(c->error), true, "%s: certificate verification failed: %s", what,
                 X509_verify_cert_error_string(vr));
  else
    net_tls_errf(c->error, sizeof(c->error), true, "%s failed (ssl error %d)", what, ssl_err);
  return ASX_ETLS;
}

int asx_tls_conn_handshake(asx_tls_conn *c) {
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    const unsigned char *p = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(c->ssl, &p, &len);
    if (p && len) memcpy(c->alpn, p, len);
    c->alpn[len] = '\0';
    return 0;
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return ASX_EAGAIN;
  return record_failure(c, "TLS handshake", e);
}

int asx_tls_conn_read(asx_tls_conn *c, void *buf, size_t cap, size_t *n) {
  *n = 0;
  if (cap == 0) return ASX_EINVAL;
  ERR_clear_error();
  size_t got = 0;
  if (SSL_read_ex(c->ssl, buf, cap, &got) == 1) {
    *n = got;
    return 0;
  }
  int e = SSL_get_error(c->ssl, 0);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return ASX_EAGAIN;
  if (e == SSL_ERROR_ZERO_RETURN) return ASX_ECLOSED;
  return record_failure(c, "TLS read", e);
}

int asx_tls_conn_write(asx_tls_conn *c, const void *buf, size_t n) {
  if (n == 0) return 0;
  ERR_clear_error();
  size_t done = 0;
  if (SSL_write_ex(c->ssl, buf, n, &done) == 1 && done == n) return 0;
  int e = SSL_get_error(c->ssl, 0);
  return record_failure(c, "TLS write", e);
}

int asx_tls_conn_close_notify(asx_tls_conn *c) {
  ERR_clear_error();
  int r = SSL_shutdown(c->ssl);
  if (r >= 0) return 0;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0; /* alert is queued */
  return record_failure(c, "TLS shutdown", e);
}

const char *asx_tls_conn_alpn(const asx_tls_conn *c) { return c->alpn; }

const char *asx_tls_conn_server_name(const asx_tls_conn *c) {
  return SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
}

bool asx_tls_conn_resumed(const asx_tls_conn *c) { return SSL_session_reused(c->ssl) == 1; }

bool asx_tls_conn_peer_verified(const asx_tls_conn *c) {
  X509 *peer = SSL_get0_peer_certificate(c->ssl);
  return peer && SSL_get_verify_result(c->ssl) == X509_V_OK;
}

const char *asx_tls_conn_version(const asx_tls_conn *c) { return SSL_get_version(c->ssl); }

const char *asx_tls_conn_error_message(const asx_tls_conn *c) { return c->error; }

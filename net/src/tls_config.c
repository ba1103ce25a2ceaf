/* TLS configuration: one SSL_CTX per asx_tls_config. Every option is validated here so that a
 * misconfiguration fails loudly at startup instead of weakening connections later. */
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "net_internal.h"

void net_strlcpy(char *dst, const char *src, size_t dstlen) {
  if (!dst || dstlen == 0) return;
  size_t n = strlen(src);
  if (n >= dstlen) n = dstlen - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void net_tls_errf(char *err, size_t errlen, bool with_queue, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  size_t len = strlen(msg);
  unsigned long e;
  /* The queue is thread-local: callers read it before any task switch. */
  while (with_queue && (e = ERR_get_error()) != 0) {
    char one[256];
    ERR_error_string_n(e, one, sizeof(one));
    int k = snprintf(msg + len, sizeof(msg) - len, "%s%s", len ? ": " : "", one);
    if (k < 0 || (size_t)k >= sizeof(msg) - len) break;
    len += (size_t)k;
  }
  ERR_clear_error();
  net_strlcpy(err, msg, errlen);
}

void asx_tls_options_default(asx_tls_options *o, asx_tls_role role) {
  memset(o, 0, sizeof(*o));
  o->role = role;
  o->verify_peer = role == ASX_TLS_CLIENT;
  o->session_tickets = true;
  o->min_version = ASX_TLS_1_2;
}

/* RFC 7301 wire format: each name as one length byte then the bytes. */
static int alpn_encode(const asx_tls_options *o, asx_tls_config *cfg, char *err, size_t errlen) {
  if (o->alpn_count == 0) {
    net_tls_errf(err, errlen, false, "ALPN list is empty (pass alpn = NULL for no ALPN)");
    return ASX_EINVAL;
  }
  size_t total = 0;
  for (size_t i = 0; i < o->alpn_count; i++) {
    size_t n = o->alpn[i] ? strlen(o->alpn[i]) : 0;
    if (n == 0 || n > 255) {
      net_tls_errf(err, errlen, false, "ALPN name %zu is empty or longer than 255 bytes", i);
      return ASX_EINVAL;
    }
    total += 1 + n;
  }
  if (total > 65535) {
    net_tls_errf(err, errlen, false, "ALPN list longer than 65535 bytes");
    return ASX_EINVAL;
  }
  cfg->alpn_wire = asx_alloc(cfg->alloc, total);
  if (!cfg->alpn_wire) return ASX_ENOMEM;
  size_t at = 0;
  for (size_t i = 0; i < o->alpn_count; i++) {
    size_t n = strlen(o->alpn[i]);
    cfg->alpn_wire[at++] = (unsigned char)n;
    memcpy(cfg->alpn_wire + at, o->alpn[i], n);
    at += n;
  }
  cfg->alpn_len = total;
  return 0;
}

/* Server: pick the first protocol of OUR list that the client offered. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  asx_tls_config *cfg = arg;
  for (size_t i = 0; i < cfg->alpn_len;) {
    unsigned char n = cfg->alpn_wire[i];
    const unsigned char *name = cfg->alpn_wire + i + 1;
    for (unsigned int j = 0; j < inlen;) {
      unsigned char m = in[j];
      if (j + 1u + m > inlen) break; /* malformed offer: OpenSSL already checks, be safe */
      if (m == n && memcmp(in + j + 1, name, n) == 0) {
        *out = in + j + 1;
        *outlen = m;
        return SSL_TLSEXT_ERR_OK;
      }
      j += 1u + m;
    }
    i += 1u + n;
  }
  return cfg->alpn_required ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

static int sni_select(SSL *ssl, int *alert, void *arg) {
  (void)alert;
  asx_tls_config *cfg = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_NOACK;
  for (size_t i = 0; i < cfg->nsni; i++) {
    if (strcasecmp(cfg->sni[i].name, name) != 0) continue;
    SSL_CTX *alt = cfg->sni[i].alt->ctx;
    if (!SSL_set_SSL_CTX(ssl, alt)) return SSL_TLSEXT_ERR_ALERT_FATAL;
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(alt), NULL);
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_OK; /* unknown names get the default certificate */
}

static int load_identity(const asx_tls_options *o, SSL_CTX *ctx, char *err, size_t errlen) {
  if (!o->cert_file != !o->key_file) {
    net_tls_errf(err, errlen, false, "cert_file and key_file must be given together");
    return ASX_EINVAL;
  }
  if (!o->cert_file) {
    if (o->role == ASX_TLS_SERVER) {
      net_tls_errf(err, errlen, false, "a TLS server needs cert_file and key_file");
      return ASX_EINVAL;
    }
    return 0;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
    net_tls_errf(err, errlen, true, "cannot load certificate chain '%s'", o->cert_file);
    return ASX_ETLS;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
    net_tls_errf(err, errlen, true, "cannot load private key '%s'", o->key_file);
    return ASX_ETLS;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    net_tls_errf(err, errlen, true, "private key '%s' does not match certificate '%s'",
                 o->key_file, o->cert_file);
    return ASX_ETLS;
  }
  return 0;
}

static int load_trust(const asx_tls_options *o, SSL_CTX *ctx, char *err, size_t errlen) {
  bool needs_trust = o->verify_peer || o->require_client_cert;
  if (o->ca_file) {
    if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
      net_tls_errf(err, errlen, true, "cannot load CA file '%s'", o->ca_file);
      return ASX_ETLS;
    }
    if (o->role == ASX_TLS_SERVER && needs_trust) {
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
      if (!names) {
        net_tls_errf(err, errlen, true, "cannot read CA names from '%s'", o->ca_file);
        return ASX_ETLS;
      }
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  } else if (needs_trust) {
    if (o->role == ASX_TLS_SERVER) {
      /* Client certificates from "any public CA" are almost never what is meant. */
      net_tls_errf(err, errlen, false, "verifying client certificates needs ca_file");
      return ASX_EINVAL;
    }
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      net_tls_errf(err, errlen, true, "cannot load the system's default CA roots");
      return ASX_ETLS;
    }
  }
  int mode = SSL_VERIFY_NONE;
  if (o->role == ASX_TLS_CLIENT && o->verify_peer) mode = SSL_VERIFY_PEER;
  if (o->role == ASX_TLS_SERVER && needs_trust) {
    mode = SSL_VERIFY_PEER;
    if (o->require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx, mode, NULL);
  return 0;
}

int asx_tls_config_new(const asx_tls_options *o, asx_tls_config **out, char *err, size_t errlen) {
  net_strlcpy(err, "", errlen);
  if (!o || !out || (o->role != ASX_TLS_CLIENT && o->role != ASX_TLS_SERVER)) {
    net_tls_errf(err, errlen, false, "invalid arguments");
    return ASX_EINVAL;
  }
  *out = NULL;
  if (o->require_client_cert && o->role != ASX_TLS_SERVER) {
    net_tls_errf(err, errlen, false, "require_client_cert is a server option");
    return ASX_EINVAL;
  }
  ERR_clear_error();
  asx_tls_config *cfg = asx_calloc(o->alloc, 1, sizeof(*cfg));
  if (!cfg) return ASX_ENOMEM;
  cfg->alloc = o->alloc;
  cfg->role = o->role;
  cfg->alpn_required = o->alpn_required;
  cfg->verify_peer = o->verify_peer;
  int rc;
  cfg->ctx = SSL_CTX_new(o->role == ASX_TLS_SERVER ? TLS_server_method() : TLS_client_method());
  if (!cfg->ctx) {
    net_tls_errf(err, errlen, true, "SSL_CTX_new failed");
    rc = ASX_ENOMEM;
    goto fail;
  }
  int minv = o->min_version == ASX_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (!SSL_CTX_set_min_proto_version(cfg->ctx, minv)) {
    net_tls_errf(err, errlen, true, "cannot set the minimum TLS version");
    rc = ASX_ETLS;
    goto fail;
  }
  SSL_CTX_set_mode(cfg->ctx, SSL_MODE_RELEASE_BUFFERS);
  if ((rc = load_identity(o, cfg->ctx, err, errlen)) != 0) goto fail;
  if ((rc = load_trust(o, cfg->ctx, err, errlen)) != 0) goto fail;
  if (o->alpn) {
    if ((rc = alpn_encode(o, cfg, err, errlen)) != 0) goto fail;
    if (o->role == ASX_TLS_CLIENT) {
      /* Returns 0 on success (unlike most of OpenSSL). */
      if (SSL_CTX_set_alpn_protos(cfg->ctx, cfg->alpn_wire, (unsigned)cfg->alpn_len) != 0) {
        net_tls_errf(err, errlen, true, "cannot set ALPN protocols");
        rc = ASX_ETLS;
        goto fail;
      }
    } else {
      SSL_CTX_set_alpn_select_cb(cfg->ctx, alpn_select, cfg);
    }
  } else if (o->alpn_count != 0) {
    net_tls_errf(err, errlen, false, "alpn_count set without an alpn list");
    rc = ASX_EINVAL;
    goto fail;
  }
  if (o->role == ASX_TLS_SERVER) {
    static const unsigned char sid_ctx[] = "asx";
    SSL_CTX_set_session_id_context(cfg->ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_tlsext_servername_callback(cfg->ctx, sni_select);
    SSL_CTX_set_tlsext_servername_arg(cfg->ctx, cfg);
    if (!o->session_tickets) {
      SSL_CTX_set_options(cfg->ctx, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(cfg->ctx, 0);
    }
  } else {
    /* Sessions arrive after the handshake in TLS 1.3; keep them so get_session can return them. */
    SSL_CTX_set_session_cache_mode(cfg->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (!o->session_tickets) SSL_CTX_set_options(cfg->ctx, SSL_OP_NO_TICKET);
  }
  *out = cfg;
  return 0;
fail:
  asx_tls_config_free(cfg);
  return rc;
}

void asx_tls_config_free(asx_tls_config *cfg) {
  if (!cfg) return;
  SSL_CTX_free(cfg->ctx);
  for (size_t i = 0; i < cfg->nsni; i++) asx_free(cfg->alloc, cfg->sni[i].name);
  asx_free(cfg->alloc, cfg->sni);
  asx_free(cfg->alloc, cfg->alpn_wire);
  asx_free(cfg->alloc, cfg);
}

int asx_tls_config_add_sni(asx_tls_config *cfg, const char *server_name, asx_tls_config *alt) {
  if (!cfg || !alt || !server_name || !*server_name || cfg->role != ASX_TLS_SERVER ||
      alt->role != ASX_TLS_SERVER)
    return ASX_EINVAL;
  size_t n = strlen(server_name);
  char *name = asx_alloc(cfg->alloc, n + 1);
  if (!name) return ASX_ENOMEM;
  memcpy(name, server_name, n + 1);
  tls_sni_entry *v = asx_realloc(cfg->alloc, cfg->sni, (cfg->nsni + 1) * sizeof(*v));
  if (!v) {
    asx_free(cfg->alloc, name);
    return ASX_ENOMEM;
  }
  cfg->sni = v;
  v[cfg->nsni].name = name;
  v[cfg->nsni].alt = alt;
  cfg->nsni++;
  return 0;
}

void asx_tls_session_free(asx_tls_session *s) { SSL_SESSION_free((SSL_SESSION *)s); }

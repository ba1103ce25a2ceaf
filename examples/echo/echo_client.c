/* asx-echo-client: sends lines and checks that each comes back.
 *
 *   asx-echo-client [--host 127.0.0.1] [--port 7007] [--unix PATH]
 *                   [--tls [--ca ca.pem] [--name localhost] [--cert C --key K]]
 *                   [--conns N] [--lines N]
 *
 * Without --conns/--lines it echoes stdin to stdout through the server. With them, N concurrent
 * connections each send and verify --lines lines, and a summary is printed. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asx/net.h"

typedef struct conf {
  const char *host, *unix_path, *ca, *name, *cert, *key;
  unsigned port;
  bool tls;
  int conns, lines;
  asx_tls_config *tls_cfg;
  _Atomic int ok, failed;
} conf;

static int open_stream(asx_cx *cx, conf *c, asx_stream **out) {
  asx_connect_opts co;
  asx_connect_opts_default(&co);
  co.timeout_ns = 5000000000ull;
  asx_stream *s = NULL;
  int rc = c->unix_path ? asx_unix_connect(cx, c->unix_path, &co, &s)
                        : asx_tcp_connect(cx, c->host, (uint16_t)c->port, &co, &s);
  if (rc) {
    fprintf(stderr, "asx-echo-client: connect: %s\n", asx_strerror(rc));
    return rc;
  }
  if (c->tls_cfg) {
    asx_stream *t = NULL;
    char err[512];
    rc = asx_tls_connect(cx, s, c->tls_cfg, c->name, 5000000000ull, &t, err, sizeof(err));
    if (rc) {
      fprintf(stderr, "asx-echo-client: TLS: %s\n", err);
      asx_stream_close(s);
      return rc;
    }
    s = t;
  }
  *out = s;
  return 0;
}

static int one_conn(asx_cx *cx, void *arg) {
  conf *c = arg;
  asx_stream *s = NULL;
  int rc = open_stream(cx, c, &s);
  for (int i = 0; rc == 0 && i < c->lines; i++) {
    char line[96], back[96];
    int k = snprintf(line, sizeof(line), "task %llu line %d\n",
                     (unsigned long long)asx_task_id(asx_cx_task(cx)), i);
    rc = asx_stream_write_all(cx, s, line, (size_t)k, NULL);
    if (rc == 0) rc = asx_stream_read_exact(cx, s, back, (size_t)k, NULL);
    if (rc == 0 && memcmp(line, back, (size_t)k) != 0) rc = ASX_EPROTO;
  }
  if (s) {
    if (rc == 0) asx_stream_shutdown(cx, s);
    asx_stream_close(s);
  }
  atomic_fetch_add(rc == 0 ? &c->ok : &c->failed, 1);
  return 0;
}

/* Interactive mode: stdin lines go out, echoes come back to stdout. stdin is read with blocking
 * fgets: fine for a one-connection tool (it only stalls this program's own worker). */
static int interactive(asx_cx *cx, conf *c) {
  asx_stream *s = NULL;
  int rc = open_stream(cx, c, &s);
  if (rc) return rc;
  char line[4096], back[4096];
  while (rc == 0 && fgets(line, sizeof(line), stdin)) {
    size_t k = strlen(line);
    rc = asx_stream_write_all(cx, s, line, k, NULL);
    if (rc == 0) rc = asx_stream_read_exact(cx, s, back, k, NULL);
    if (rc == 0) fwrite(back, 1, k, stdout);
    fflush(stdout);
  }
  asx_stream_close(s);
  return rc;
}

static int main_task(asx_cx *cx, void *arg) {
  conf *c = arg;
  if (c->conns == 0) return interactive(cx, c);
  asx_region *r;
  int rc = asx_region_open(cx, NULL, &r);
  if (rc) return rc;
  asx_spawn_opts so = asx_spawn_opts_default();
  so.stack_size = 64 * 1024;
  for (int i = 0; i < c->conns; i++) asx_spawn(cx, r, one_conn, c, &so, NULL);
  asx_region_close(cx, r, NULL);
  printf("%d connections ok, %d failed\n", atomic_load(&c->ok), atomic_load(&c->failed));
  return atomic_load(&c->failed) ? ASX_EIO : 0;
}

static void usage(void) {
  fprintf(stderr, "usage: asx-echo-client [--host H] [--port P] [--unix PATH] [--tls [--ca CA] "
                  "[--name N] [--cert C --key K]] [--conns N] [--lines N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  conf c = {.host = "127.0.0.1", .port = 7007, .name = "localhost", .lines = 10};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--tls")) {
      c.tls = true;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (!strcmp(a, "--host")) c.host = v;
    else if (!strcmp(a, "--port")) c.port = (unsigned)atoi(v);
    else if (!strcmp(a, "--unix")) c.unix_path = v;
    else if (!strcmp(a, "--ca")) c.ca = v;
    else if (!strcmp(a, "--name")) c.name = v;
    else if (!strcmp(a, "--cert")) c.cert = v;
    else if (!strcmp(a, "--key")) c.key = v;
    else if (!strcmp(a, "--conns")) c.conns = atoi(v);
    else if (!strcmp(a, "--lines")) c.lines = atoi(v);
    else usage();
    i++;
  }
  if (c.tls) {
    static const char *const alpn[] = {"echo"};
    asx_tls_options o;
    asx_tls_options_default(&o, ASX_TLS_CLIENT);
    o.ca_file = c.ca;
    o.cert_file = c.cert;
    o.key_file = c.key;
    o.alpn = alpn;
    o.alpn_count = 1;
    char err[512];
    if (asx_tls_config_new(&o, &c.tls_cfg, err, sizeof(err)) != 0) {
      fprintf(stderr, "asx-echo-client: TLS: %s\n", err);
      return 1;
    }
  }
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  asx_net_reactor *reactor = NULL;
  if (asx_net_reactor_new(NULL, &reactor) != 0) return 1;
  asx_net_reactor_configure(reactor, &cfg);
  asx_runtime *rt = NULL;
  if (asx_runtime_new(&cfg, &rt) != 0) return 1;
  int rc = 0;
  asx_runtime_run(rt, main_task, &c, &rc, NULL);
  asx_runtime_free(rt);
  asx_net_reactor_free(reactor);
  asx_tls_config_free(c.tls_cfg);
  return rc ? 1 : 0;
}

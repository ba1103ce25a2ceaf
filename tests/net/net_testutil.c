#include "net_testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static net_pki pki;
static bool pki_ready;

int net_sh(const char *cmd) {
  char full[4096];
  snprintf(full, sizeof(full), "(%s) >/dev/null 2>&1", cmd);
  int st = system(full);
  return st;
}

static void pki_cleanup(void) {
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki.dir);
  net_sh(cmd);
}

static void issue(const char *dir, const char *name, const char *cn, const char *san, const char *ca,
                  const char *ca_key) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
           "-keyout %s.key -out %s.csr -subj '/CN=%s' && "
           "printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\n' > %s.ext && "
           "openssl x509 -req -in %s.csr -CA '%s' -CAkey '%s' -CAcreateserial -days 2 "
           "-out %s.pem -extfile %s.ext",
           dir, name, name, cn, san, name, name, ca, ca_key, name, name);
  cr_assert_eq(net_sh(cmd), 0, "openssl failed: %s", cmd);
}

const net_pki *net_pki_get(void) {
  if (pki_ready) return &pki;
  snprintf(pki.dir, sizeof(pki.dir), "/tmp/asx-net-pki-XXXXXX");
  cr_assert_not_null(mkdtemp(pki.dir));
  atexit(pki_cleanup);
  char cmd[1024];
  const char *d = pki.dir;
  for (int i = 0; i < 2; i++) {
    const char *n = i == 0 ? "ca" : "other_ca";
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout %s.key -out %s.pem -days 2 -subj '/CN=asx test %s'",
             d, n, n, n);
    cr_assert_eq(net_sh(cmd), 0, "openssl failed: %s", cmd);
  }
  snprintf(pki.ca, sizeof(pki.ca), "%s/ca.pem", d);
  snprintf(pki.ca_key, sizeof(pki.ca_key), "%s/ca.key", d);
  snprintf(pki.other_ca, sizeof(pki.other_ca), "%s/other_ca.pem", d);
  issue(d, "server", "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", pki.ca, pki.ca_key);
  issue(d, "alt", "alt.test", "DNS:alt.test", pki.ca, pki.ca_key);
  issue(d, "client", "asx client", "DNS:client.test", pki.ca, pki.ca_key);
  snprintf(pki.server_cert, sizeof(pki.server_cert), "%s/server.pem", d);
  snprintf(pki.server_key, sizeof(pki.server_key), "%s/server.key", d);
  snprintf(pki.alt_cert, sizeof(pki.alt_cert), "%s/alt.pem", d);
  snprintf(pki.alt_key, sizeof(pki.alt_key), "%s/alt.key", d);
  snprintf(pki.client_cert, sizeof(pki.client_cert), "%s/client.pem", d);
  snprintf(pki.client_key, sizeof(pki.client_key), "%s/client.key", d);
  pki_ready = true;
  return &pki;
}

void net_mem_pump(asx_tls_conn *from, asx_tls_conn *to) {
  char buf[4096];
  size_t n;
  while ((n = asx_tls_conn_take_output(from, buf, sizeof(buf))) > 0)
    cr_assert_eq(asx_tls_conn_feed(to, buf, n), 0);
}

int net_mem_handshake(asx_tls_conn *client, asx_tls_conn *server, int *client_rc, int *server_rc) {
  int crc = ASX_EAGAIN, src = ASX_EAGAIN;
  for (int round = 0; round < 20 && (crc == ASX_EAGAIN || src == ASX_EAGAIN); round++) {
    if (crc == ASX_EAGAIN) crc = asx_tls_conn_handshake(client);
    net_mem_pump(client, server);
    if (src == ASX_EAGAIN) src = asx_tls_conn_handshake(server);
    net_mem_pump(server, client);
    if (crc != 0 && crc != ASX_EAGAIN) break;
    if (src != 0 && src != ASX_EAGAIN) {
      /* Let the client see the alert. */
      if (crc == ASX_EAGAIN) crc = asx_tls_conn_handshake(client);
      break;
    }
  }
  if (client_rc) *client_rc = crc;
  if (server_rc) *server_rc = src;
  if (crc != 0) return crc;
  return src;
}

int net_run(unsigned workers, asx_task_fn fn, void *arg) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = workers;
  asx_net_reactor *re = NULL;
  cr_assert_eq(asx_net_reactor_new(NULL, &re), 0);
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  int rc = -999;
  asx_outcome oc;
  cr_assert_eq(asx_runtime_run(rt, fn, arg, &rc, &oc), 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_assert_eq(st.live_tasks, 0);
  cr_assert_eq(st.live_regions, 0);
  cr_assert_eq(st.unresolved_obligations, 0);
  cr_assert_eq(st.obligation_leaks, 0);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  return rc;
}

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static int bg_main(asx_cx *cx, void *arg) {
  net_bg *bg = arg;
  bg->run_rc = asx_server_run(cx, bg->srv);
  return 0;
}

static void *bg_thread(void *arg) {
  net_bg *bg = arg;
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.workers = bg->workers;
  asx_net_reactor *re = NULL;
  if (asx_net_reactor_new(NULL, &re) != 0) return NULL;
  asx_net_reactor_configure(re, &cfg);
  asx_runtime *rt = NULL;
  if (asx_runtime_new(&cfg, &rt) != 0) return NULL;
  asx_runtime_run(rt, bg_main, bg, NULL, NULL);
  asx_runtime_stats_get(rt, &bg->stats);
  asx_runtime_free(rt);
  asx_net_reactor_free(re);
  return NULL;
}

void net_bg_start(net_bg *bg, asx_server *srv, unsigned workers) {
  bg->srv = srv;
  bg->workers = workers;
  bg->run_rc = -999;
  pthread_t *t = malloc(sizeof(*t));
  cr_assert_eq(pthread_create(t, NULL, bg_thread, bg), 0);
  bg->thread = t;
}

void net_bg_stop(net_bg *bg, asx_server_stats *final_stats) {
  asx_server_shutdown(bg->srv);
  pthread_t *t = bg->thread;
  pthread_join(*t, NULL);
  free(t);
  cr_assert_eq(bg->run_rc, 0, "server run: %s", asx_errname(bg->run_rc));
  cr_assert_eq(bg->stats.live_tasks, 0);
  cr_assert_eq(bg->stats.live_regions, 0);
  cr_assert_eq(bg->stats.unresolved_obligations, 0);
  cr_assert_eq(bg->stats.obligation_leaks, 0);
  if (final_stats) asx_server_stats_get(bg->srv, final_stats);
  asx_server_free(bg->srv);
  bg->srv = NULL;
}

int net_blocking_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

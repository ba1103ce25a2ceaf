/* Simulated streams on the deterministic driver: the same echo program as over TCP runs over
 * in-memory connections with random delays, partial reads/writes and resets drawn from the
 * driver's seeded PRNG; one seed always gives the same transcript and schedule. TLS runs over
 * them unchanged. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_testutil.h"
#include "test_fds.h"

#define MS 1000000ull

TestSuite(sim, .timeout = 60);

typedef struct transcript {
  uint64_t ev[4096];
  size_t n;
} transcript;

static void note(transcript *t, uint64_t v) {
  if (t->n < sizeof(t->ev) / sizeof(t->ev[0])) t->ev[t->n++] = v;
}

typedef struct sim_env {
  asx_sim_opts o;
  asx_listener *l;
  asx_tls_config *scfg, *ccfg;
  int clients;
  size_t bytes;       /* per client */
  transcript tr;
  int server_rc, client_rc[8];
  int resets;
} sim_env;

static int sim_echo_conn(asx_cx *cx, void *arg) {
  asx_stream *s = arg;
  char buf[3000];
  int rc;
  for (;;) {
    size_t n = 0;
    rc = asx_stream_read(cx, s, buf, sizeof(buf), &n);
    if (rc) break;
    rc = asx_stream_write_all(cx, s, buf, n, NULL);
    if (rc) break;
  }
  if (rc == ASX_ECLOSED) rc = asx_stream_shutdown(cx, s);
  asx_stream_close(s);
  return rc == ASX_ECONNRESET || rc == ASX_EPIPE ? 0 : rc;
}

typedef struct tls_conn_arg {
  sim_env *e;
  asx_stream *s;
} tls_conn_arg;

static int sim_server(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  for (int i = 0; i < e->clients; i++) {
    asx_stream *s = NULL;
    int rc = asx_listener_accept(cx, e->l, &s);
    if (rc) return rc;
    if (e->scfg) {
      asx_stream *t = NULL;
      rc = asx_tls_accept(cx, s, e->scfg, 5000 * MS, &t, NULL, 0);
      if (rc) {
        asx_stream_close(s);
        return rc;
      }
      s = t;
    }
    rc = asx_spawn(cx, NULL, sim_echo_conn, s, NULL, NULL);
    if (rc) return rc;
  }
  return 0;
}

typedef struct client_arg {
  sim_env *e;
  int index;
} client_arg;

typedef struct writer_arg {
  sim_env *e;
  asx_stream *s;
  const unsigned char *out;
  int index;
  int rc;
} writer_arg;

static int sim_writer(asx_cx *cx, void *arg) {
  writer_arg *w = arg;
  size_t sent = 0;
  int rc = 0;
  while (rc == 0 && sent < w->e->bytes) {
    size_t k = 1 + (size_t)(asx_random(cx) % 5000);
    if (k > w->e->bytes - sent) k = w->e->bytes - sent;
    size_t n = 0;
    rc = asx_stream_write_all(cx, w->s, w->out + sent, k, &n);
    sent += n;
    note(&w->e->tr, ((uint64_t)w->index << 56) | ((uint64_t)k << 20) | (asx_now(cx) / 1000 & 0xfffff));
  }
  if (rc == 0) rc = asx_stream_shutdown(cx, w->s);
  w->rc = rc;
  return 0;
}

static int sim_client(asx_cx *cx, void *arg) {
  client_arg *ca = arg;
  sim_env *e = ca->e;
  asx_stream *s = NULL;
  int rc = asx_sim_connect(cx, e->l, &s);
  if (rc) return rc;
  if (e->ccfg) {
    asx_stream *t = NULL;
    char err[256];
    rc = asx_tls_connect(cx, s, e->ccfg, "localhost", 5000 * MS, &t, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    s = t;
  }
  unsigned char *out = malloc(e->bytes), *in = malloc(e->bytes);
  for (size_t i = 0; i < e->bytes; i++) out[i] = (unsigned char)(asx_random(cx) >> 11);
  /* A writer task and this reader run together: an echo through bounded buffers would
   * deadlock if one task wrote everything before reading (as over TCP). */
  writer_arg wa = {e, s, out, ca->index, 0};
  asx_task *wt = NULL;
  if (rc == 0) rc = asx_spawn(cx, NULL, sim_writer, &wa, NULL, &wt);
  size_t got = 0;
  while (rc == 0 && got < e->bytes) {
    size_t n = 0;
    rc = asx_stream_read(cx, s, in + got, e->bytes - got, &n);
    got += n;
    note(&e->tr, ((uint64_t)(ca->index + 8) << 56) | ((uint64_t)n << 20) | (asx_now(cx) / 1000 & 0xfffff));
  }
  if (rc == 0) {
    cr_assert_eq(memcmp(in, out, e->bytes), 0, "echo corrupted");
    char b;
    size_t n;
    rc = asx_stream_read(cx, s, &b, 1, &n) == ASX_ECLOSED ? 0 : ASX_EPROTO;
  }
  int wrc = 0;
  if (wt) asx_task_join(cx, wt, &wrc, NULL);
  if (rc == 0) rc = wa.rc;
  if (rc == ASX_ECONNRESET) e->resets++;
  free(out);
  free(in);
  asx_stream_close(s);
  return rc;
}

static int sim_main(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  cr_assert_eq(asx_sim_listen(&e->o, 4, &e->l), 0);
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  asx_task *srv;
  cr_assert_eq(asx_spawn(cx, r, sim_server, e, NULL, &srv), 0);
  client_arg ca[8];
  asx_task *ct[8];
  for (int i = 0; i < e->clients; i++) {
    ca[i] = (client_arg){e, i};
    cr_assert_eq(asx_spawn(cx, r, sim_client, &ca[i], NULL, &ct[i]), 0);
  }
  for (int i = 0; i < e->clients; i++) asx_task_join(cx, ct[i], &e->client_rc[i], NULL);
  asx_task_join(cx, srv, &e->server_rc, NULL);
  asx_region_close(cx, r, NULL);
  asx_listener_close(e->l);
  note(&e->tr, asx_now(cx));
  return 0;
}

/* Runs the echo program on the deterministic driver; returns the recorded schedule. */
static asx_choice *det_run(sim_env *e, uint64_t seed, size_t *nchoices) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.driver = ASX_DRIVER_DETERMINISTIC;
  cfg.seed = seed;
  cfg.record_choices = 1;
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  int rc = -1;
  cr_assert_eq(asx_runtime_run(rt, sim_main, e, &rc, NULL), 0);
  cr_assert_eq(rc, 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_assert_eq(st.live_tasks, 0);
  cr_assert_eq(st.live_regions, 0);
  cr_assert_eq(st.unresolved_obligations, 0);
  cr_assert_eq(st.obligation_leaks, 0);
  cr_assert_eq(st.deadlocks, 0);
  size_t n;
  const asx_choice *c = asx_runtime_choices(rt, &n);
  asx_choice *copy = malloc(n * sizeof(*c) + 1);
  memcpy(copy, c, n * sizeof(*c));
  *nchoices = n;
  asx_runtime_free(rt);
  return copy;
}

static void env_init(sim_env *e) {
  memset(e, 0, sizeof(*e));
  asx_sim_opts_default(&e->o);
  e->o.max_delay_ns = 2 * MS;
  e->o.partial_permille = 300;
  e->o.max_segment = 700;
  e->o.capacity = 4096;
  e->clients = 3;
  e->bytes = 60000;
}

Test(sim, echo_is_reproducible_per_seed) {
  int fds = test_count_fds();
  static sim_env a, b, c;
  env_init(&a);
  env_init(&b);
  env_init(&c);
  size_t na, nb, nc;
  asx_choice *ca = det_run(&a, 42, &na);
  asx_choice *cb = det_run(&b, 42, &nb);
  asx_choice *cc = det_run(&c, 43, &nc);
  for (int i = 0; i < a.clients; i++) cr_assert_eq(a.client_rc[i], 0, "%s", asx_errname(a.client_rc[i]));
  cr_assert_eq(a.server_rc, 0);
  cr_assert_gt(na, 100);
  cr_assert_eq(na, nb);
  cr_assert_eq(memcmp(ca, cb, na * sizeof(*ca)), 0, "same seed, different schedule");
  cr_assert_eq(a.tr.n, b.tr.n);
  cr_assert_eq(memcmp(a.tr.ev, b.tr.ev, a.tr.n * sizeof(uint64_t)), 0, "same seed, different transcript");
  cr_assert(a.tr.n != c.tr.n || memcmp(a.tr.ev, c.tr.ev, a.tr.n * sizeof(uint64_t)) != 0,
            "another seed gave the same transcript");
  (void)nc;
  free(ca);
  free(cb);
  free(cc);
  cr_assert_eq(test_count_fds(), fds, "simulated streams must not use descriptors");
}

Test(sim, resets_are_reported_not_lost) {
  static sim_env e;
  env_init(&e);
  e.o.reset_permille = 20;
  size_t n;
  free(det_run(&e, 7, &n));
  int ok = 0, reset = 0;
  for (int i = 0; i < e.clients; i++) {
    if (e.client_rc[i] == 0) ok++;
    else if (e.client_rc[i] == ASX_ECONNRESET || e.client_rc[i] == ASX_EPIPE) reset++;
    else cr_assert_fail("client %d: %s", i, asx_errname(e.client_rc[i]));
  }
  cr_assert_gt(reset, 0, "no reset was injected");
}

Test(sim, tls_over_simulated_streams) {
  const net_pki *p = net_pki_get();
  static sim_env e;
  env_init(&e);
  e.bytes = 20000;
  asx_tls_options o;
  asx_tls_options_default(&o, ASX_TLS_SERVER);
  o.cert_file = p->server_cert;
  o.key_file = p->server_key;
  cr_assert_eq(asx_tls_config_new(&o, &e.scfg, NULL, 0), 0);
  asx_tls_options_default(&o, ASX_TLS_CLIENT);
  o.ca_file = p->ca;
  cr_assert_eq(asx_tls_config_new(&o, &e.ccfg, NULL, 0), 0);
  size_t n;
  free(det_run(&e, 9, &n));
  for (int i = 0; i < e.clients; i++) cr_assert_eq(e.client_rc[i], 0, "%s", asx_errname(e.client_rc[i]));
  asx_tls_config_free(e.scfg);
  asx_tls_config_free(e.ccfg);
}

/* Cancelling a read blocked on a simulated stream: prompt, exact count. */
typedef struct sim_cancel {
  asx_stream *a, *b;
  size_t got;
  int rc;
} sim_cancel;

static int sim_reader(asx_cx *cx, void *arg) {
  sim_cancel *c = arg;
  char buf[64];
  c->rc = asx_stream_read_exact(cx, c->a, buf, sizeof(buf), &c->got);
  return 0;
}

static int sim_cancel_main(asx_cx *cx, void *arg) {
  sim_cancel *c = arg;
  cr_assert_eq(asx_sim_pair(cx, NULL, &c->a, &c->b), 0);
  asx_task *t;
  cr_assert_eq(asx_spawn(cx, NULL, sim_reader, c, NULL, &t), 0);
  cr_assert_eq(asx_stream_write_all(cx, c->b, "0123456789", 10, NULL), 0);
  cr_assert_eq(asx_sleep(cx, 10 * MS), 0);
  asx_task_cancel(t, ASX_CANCEL_USER);
  cr_assert_eq(asx_task_join(cx, t, NULL, NULL), 0);
  /* Timeouts work on simulated streams too. */
  asx_stream_set_idle_timeout(c->a, 5 * MS);
  char b;
  size_t n;
  cr_assert_eq(asx_stream_read(cx, c->a, &b, 1, &n), ASX_ETIMEDOUT);
  asx_stream_close(c->a);
  cr_assert_eq(asx_stream_write_all(cx, c->b, "x", 1, NULL), ASX_EPIPE);
  asx_stream_close(c->b);
  return 0;
}

Test(sim, cancel_blocked_read_reports_bytes) {
  sim_cancel c = {0};
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.driver = ASX_DRIVER_DETERMINISTIC;
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  cr_assert_eq(asx_runtime_run(rt, sim_cancel_main, &c, NULL, NULL), 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_assert_eq(st.live_tasks, 0);
  cr_assert_eq(st.unresolved_obligations, 0);
  asx_runtime_free(rt);
  cr_assert_eq(c.rc, ASX_ECANCELED);
  cr_assert_eq(c.got, 10);
}

/* The server helper, unchanged, on the deterministic driver over a simulated listener: line
 * echo for several clients, then a graceful shutdown requested from a task; reproducible. */
typedef struct srv_env {
  asx_server *srv;
  asx_listener *l;
  int ok;
  transcript tr;
} srv_env;

static int srv_line_echo(asx_cx *cx, asx_stream *s, void *arg) {
  (void)arg;
  char buf[256];
  size_t len = 0;
  for (;;) {
    size_t n = 0;
    int rc = asx_stream_read(cx, s, buf + len, sizeof(buf) - len, &n);
    if (rc) return rc == ASX_ECLOSED ? 0 : rc;
    len += n;
    char *nl;
    while ((nl = memchr(buf, '\n', len))) {
      size_t k = (size_t)(nl - buf) + 1;
      asx_mask_push(cx);
      rc = asx_stream_write_all(cx, s, buf, k, NULL);
      asx_mask_pop(cx);
      memmove(buf, buf + k, len - k);
      len -= k;
      if (rc) return rc;
    }
    if (len == sizeof(buf)) return ASX_ELIMIT;
  }
}

static int srv_runner(asx_cx *cx, void *arg) {
  srv_env *e = arg;
  return asx_server_run(cx, e->srv);
}

static int srv_client(asx_cx *cx, void *arg) {
  srv_env *e = arg;
  asx_stream *s;
  int rc = asx_sim_connect(cx, e->l, &s);
  if (rc) return rc;
  for (int i = 0; i < 5 && rc == 0; i++) {
    char line[32], back[32];
    int k = snprintf(line, sizeof(line), "line %d %llu\n", i, (unsigned long long)(asx_random(cx) % 1000));
    rc = asx_stream_write_all(cx, s, line, (size_t)k, NULL);
    if (rc == 0) rc = asx_stream_read_exact(cx, s, back, (size_t)k, NULL);
    if (rc == 0) cr_assert_eq(memcmp(line, back, (size_t)k), 0);
    note(&e->tr, asx_now(cx));
  }
  asx_stream_close(s);
  if (rc == 0) e->ok++;
  return rc;
}

static int srv_main(asx_cx *cx, void *arg) {
  srv_env *e = arg;
  asx_sim_opts o;
  asx_sim_opts_default(&o);
  o.max_delay_ns = 3 * MS;
  o.partial_permille = 500;
  cr_assert_eq(asx_sim_listen(&o, 8, &e->l), 0);
  cr_assert_eq(asx_listener_port(e->l), 0);
  cr_assert_eq(asx_listener_fd(e->l), -1);
  asx_server_opts so;
  asx_server_opts_default(&so);
  so.max_conns = 3;
  cr_assert_eq(asx_server_new(e->l, &so, srv_line_echo, NULL, &e->srv), 0);
  asx_region *r;
  cr_assert_eq(asx_region_open(cx, NULL, &r), 0);
  asx_task *runner, *cl[6];
  cr_assert_eq(asx_spawn(cx, r, srv_runner, e, NULL, &runner), 0);
  for (int i = 0; i < 6; i++) cr_assert_eq(asx_spawn(cx, r, srv_client, e, NULL, &cl[i]), 0);
  for (int i = 0; i < 6; i++) asx_task_join(cx, cl[i], NULL, NULL);
  asx_server_shutdown(e->srv);
  int rc = -1;
  asx_task_join(cx, runner, &rc, NULL);
  cr_assert_eq(rc, 0);
  asx_region_close(cx, r, NULL);
  asx_server_stats st;
  asx_server_stats_get(e->srv, &st);
  cr_assert_eq(st.accepted, 6);
  cr_assert_eq(st.completed, 6);
  asx_server_free(e->srv);
  return 0;
}

static asx_choice *srv_run(srv_env *e, uint64_t seed, size_t *n) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.driver = ASX_DRIVER_DETERMINISTIC;
  cfg.seed = seed;
  cfg.record_choices = 1;
  asx_runtime *rt;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  int rc = -1;
  cr_assert_eq(asx_runtime_run(rt, srv_main, e, &rc, NULL), 0);
  cr_assert_eq(rc, 0);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_assert_eq(st.live_tasks, 0);
  cr_assert_eq(st.live_regions, 0);
  cr_assert_eq(st.unresolved_obligations, 0);
  cr_assert_eq(st.deadlocks, 0);
  const asx_choice *c = asx_runtime_choices(rt, n);
  asx_choice *copy = malloc(*n * sizeof(*c) + 1);
  memcpy(copy, c, *n * sizeof(*c));
  asx_runtime_free(rt);
  return copy;
}

Test(sim, server_helper_on_the_deterministic_driver) {
  static srv_env a, b;
  size_t na, nb;
  asx_choice *ca = srv_run(&a, 5, &na), *cb = srv_run(&b, 5, &nb);
  cr_assert_eq(a.ok, 6);
  cr_assert_eq(na, nb);
  cr_assert_eq(memcmp(ca, cb, na * sizeof(*ca)), 0);
  cr_assert_eq(a.tr.n, b.tr.n);
  cr_assert_eq(memcmp(a.tr.ev, b.tr.ev, a.tr.n * sizeof(uint64_t)), 0);
  free(ca);
  free(cb);
}

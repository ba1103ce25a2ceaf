/* The NATS client on the deterministic driver over a simulated stream (delays and partial I/O
 * from the seeded PRNG) against a tiny in-process server: INFO, then it answers PING, routes
 * PUB/HPUB to matching SUBs (literal subjects and the client's inbox wildcard) and sends a 503
 * for requests nobody subscribed to. Publish/subscribe, request/reply, no responders, flush and
 * drain run with no socket; the same seed replays the same schedule. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ncl_util.h"

TestSuite(nats_client_sim, .timeout = 60);

typedef struct sub_rec {
  char subject[96];
  char sid[24];
} sub_rec;

typedef struct sim_env {
  asx_stream *srv;
  sub_rec subs[8];
  int nsubs;
  int server_rc;
  int received;
} sim_env;

/* "_INBOX.x.*" matches "_INBOX.x.5": enough for this server. */
static bool matches(const char *pattern, const char *subject) {
  size_t pl = strlen(pattern);
  if (pl >= 2 && strcmp(pattern + pl - 2, ".*") == 0)
    return strncmp(pattern, subject, pl - 1) == 0 && !strchr(subject + pl - 1, '.');
  return strcmp(pattern, subject) == 0;
}

/* Reads one CRLF-terminated line (control lines are short here). */
static int read_line(asx_cx *cx, asx_stream *s, char *line, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    size_t got = 0;
    int rc = asx_stream_read_exact(cx, s, line + n, 1, &got);
    if (rc) return rc;
    if (++n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n') {
      line[n - 2] = 0;
      return 0;
    }
  }
  return ASX_ELIMIT;
}

static int server(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  const char *info = "INFO {\"server_id\":\"sim\",\"version\":\"2.9.0\",\"proto\":1,"
                     "\"headers\":true,\"max_payload\":4096}\r\n";
  int rc = asx_stream_write_all(cx, e->srv, info, strlen(info), NULL);
  char line[512], payload[4200];
  while (rc == 0) {
    rc = read_line(cx, e->srv, line, sizeof(line));
    if (rc) break;
    char out[4800];
    int n = 0;
    if (strncmp(line, "PING", 4) == 0) {
      n = snprintf(out, sizeof(out), "PONG\r\n");
    } else if (strncmp(line, "SUB ", 4) == 0 && e->nsubs < 8) {
      sub_rec *s = &e->subs[e->nsubs++];
      sscanf(line + 4, "%95s %23s", s->subject, s->sid);
    } else if (strncmp(line, "PUB ", 4) == 0 || strncmp(line, "HPUB ", 5) == 0) {
      bool h = line[0] == 'H';
      char subj[96] = "", reply[96] = "";
      long a = 0, b = 0;
      int fields = h ? sscanf(line + 5, "%95s %95s %ld %ld", subj, reply, &a, &b)
                     : sscanf(line + 4, "%95s %95s %ld", subj, reply, &a);
      if (h && fields == 3) b = a, a = atol(reply), reply[0] = 0;   /* HPUB s hdr total */
      if (!h && fields == 2) a = atol(reply), reply[0] = 0;         /* PUB s bytes */
      long total = h ? b : a;
      if (total < 0 || total > 4096) return ASX_EPROTO;
      rc = asx_stream_read_exact(cx, e->srv, payload, (size_t)total + 2, NULL);
      if (rc) break;
      bool any = false;
      for (int i = 0; i < e->nsubs; i++) {
        if (!matches(e->subs[i].subject, subj)) continue;
        any = true;
        n += snprintf(out + n, sizeof(out) - (size_t)n, h ? "HMSG %s %s %s%s%ld %ld\r\n" : "MSG %s %s %s%s%ld\r\n",
                      subj, e->subs[i].sid, reply, reply[0] ? " " : "", h ? a : total, total);
        memcpy(out + n, payload, (size_t)total + 2);
        n += (int)total + 2;
        if (n > 4000) break;
      }
      if (!any && reply[0]) /* a request nobody listens to: no responders */
        for (int i = 0; i < e->nsubs; i++)
          if (matches(e->subs[i].subject, reply))
            n += snprintf(out + n, sizeof(out) - (size_t)n, "HMSG %s %s 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
                          reply, e->subs[i].sid);
    } else if (strncmp(line, "UNSUB ", 6) == 0) {
      for (int i = 0; i < e->nsubs; i++)
        if (strcmp(e->subs[i].sid, line + 6) == 0) e->subs[i] = e->subs[--e->nsubs];
    } /* CONNECT: accepted as is */
    if (n) rc = asx_stream_write_all(cx, e->srv, out, (size_t)n, NULL);
  }
  return rc == ASX_ECLOSED || rc == ASX_ECONNRESET || rc == ASX_EPIPE ? 0 : rc;
}

static int sim_main(asx_cx *cx, void *arg) {
  sim_env *e = arg;
  asx_sim_opts so;
  asx_sim_opts_default(&so);
  so.max_segment = 11;
  so.max_delay_ns = 100 * 1000;
  so.partial_permille = 300;
  asx_stream *a = NULL;
  cr_assert_eq(asx_sim_pair(cx, &so, &a, &e->srv), 0);
  asx_task *st;
  cr_assert_eq(asx_spawn(cx, NULL, server, e, NULL, &st), 0);
  asx_nats_client_opts o;
  asx_nats_client_opts_default(&o);
  o.ping_interval_ns = 0;
  asx_nats_client *c = NULL;
  char err[128];
  cr_assert_eq(asx_nats_client_attach(cx, a, &o, &c, err, sizeof(err)), 0, "%s", err);
  cr_expect_eq(asx_nats_client_max_payload(c), 4096);
  asx_nats_sub *s;
  cr_assert_eq(asx_nats_subscribe(cx, c, "echo", NULL, NULL, &s), 0);
  for (int i = 0; i < 20; i++) {
    char b[16];
    int n = snprintf(b, sizeof(b), "m%d", i);
    cr_assert_eq(asx_nats_publish(cx, c, "echo", NULL, NULL, b, (size_t)n), 0);
  }
  cr_assert_eq(asx_nats_flush(cx, c, 0), 0);
  for (int i = 0; i < 20; i++) {
    asx_nats_msg *m;
    cr_assert_eq(asx_nats_sub_next(cx, s, &m), 0);
    char b[16];
    snprintf(b, sizeof(b), "m%d", i);
    cr_expect_str_eq((const char *)m->data, b);
    asx_nats_msg_free(m);
    e->received++;
  }
  /* A request nobody subscribed to: the server answers 503, the client reports no responders. */
  asx_nats_msg *r = NULL;
  asx_nats_hdr h;
  asx_nats_hdr_init(&h, NULL, 0);
  asx_nats_hdr_add(&h, "K", "v");
  cr_expect_eq(asx_nats_request(cx, c, "nobody", &h, "q", 1, 0, &r), ASX_ENOTFOUND);
  asx_nats_hdr_free(&h);
  cr_expect_eq(asx_nats_client_drain(cx, c, 0), 0);
  asx_nats_msg *m;
  cr_expect_eq(asx_nats_sub_next(cx, s, &m), ASX_ECLOSED);
  asx_nats_sub_free(s);
  asx_task_join(cx, st, &e->server_rc, NULL);
  asx_stream_close(e->srv);
  return 0;
}

static asx_choice *run_seed(uint64_t seed, size_t *n) {
  asx_runtime_config cfg;
  asx_runtime_config_default(&cfg);
  cfg.driver = ASX_DRIVER_DETERMINISTIC;
  cfg.seed = seed;
  cfg.record_choices = 1;
  asx_runtime *rt = NULL;
  cr_assert_eq(asx_runtime_new(&cfg, &rt), 0);
  sim_env e = {0};
  int rc = -1;
  cr_assert_eq(asx_runtime_run(rt, sim_main, &e, &rc, NULL), 0);
  cr_expect_eq(rc, 0);
  cr_expect_eq(e.server_rc, 0, "%s", asx_strerror(e.server_rc));
  cr_expect_eq(e.received, 20);
  asx_runtime_stats st;
  asx_runtime_stats_get(rt, &st);
  cr_expect_eq(st.live_tasks, 0);
  cr_expect_eq(st.live_regions, 0);
  cr_expect_eq(st.unresolved_obligations, 0);
  cr_expect_eq(st.obligation_leaks, 0);
  cr_expect_eq(st.deadlocks, 0);
  const asx_choice *ch = asx_runtime_choices(rt, n);
  asx_choice *copy = malloc((*n ? *n : 1) * sizeof(*copy));
  if (*n) memcpy(copy, ch, *n * sizeof(*copy));
  asx_runtime_free(rt);
  return copy;
}

Test(nats_client_sim, deterministic_pubsub_request_drain_over_simulated_stream) {
  size_t n1 = 0, n2 = 0, n3 = 0;
  asx_choice *a = run_seed(11, &n1);
  asx_choice *b = run_seed(11, &n2);
  asx_choice *c = run_seed(12, &n3);
  cr_expect_gt(n1, 50);
  cr_expect(n1 == n2 && memcmp(a, b, n1 * sizeof(*a)) == 0, "same seed, same schedule");
  cr_expect(n1 != n3 || memcmp(a, c, n1 * sizeof(*a)) != 0, "another seed, another schedule");
  free(a);
  free(b);
  free(c);
}

/* Simulated-network demos: net's server helper echoing for several clients over a simulated
 * listener on the lab's deterministic driver. Delays, partial reads/writes and resets come from
 * the lab config (asx_lab_faults) and are drawn by net from asx_random, so they are part of the
 * recorded run. Every read is written to the trace as a net_deliver record and every error a
 * fault surfaced as as a net_fault record (net/ has no lab hook: the scenario reports what its
 * stream calls returned). */
#include <stdio.h>
#include <string.h>

#include "asx/lab.h"
#include "asx/net.h"

#define NET_CLIENTS 3
#define NET_LINES 4
#define MS 1000000ull

typedef struct net_demo {
  asx_lab_ctx *lab;
  asx_listener *l;
  uint64_t next_conn;
  bool buggy_client;
} net_demo;

typedef struct client_arg {
  net_demo *d;
  int no;
} client_arg;

static void fault(asx_lab_ctx *lab, uint64_t stream, int err) {
  uint64_t kind = err == ASX_ECONNRESET ? ASX_LAB_FAULT_RESET
                  : err == ASX_EPIPE    ? ASX_LAB_FAULT_PIPE
                  : err == ASX_ETIMEDOUT ? ASX_LAB_FAULT_TIMEOUT
                                         : 0;
  if (kind) asx_lab_net_event(lab, ASX_LAB_REC_NET_FAULT, stream, kind, err);
}

static bool net_error(int err) {
  return err == ASX_ECONNRESET || err == ASX_EPIPE || err == ASX_ECLOSED || err == ASX_ETIMEDOUT;
}

/* The server side: echoes every byte back as it arrives (correct under any segmentation). */
static int echo_handler(asx_cx *cx, asx_stream *s, void *arg) {
  net_demo *d = arg;
  uint64_t id = ++d->next_conn;
  char buf[256];
  for (;;) {
    size_t n = 0;
    int err = asx_stream_read(cx, s, buf, sizeof buf, &n);
    if (err) {
      fault(d->lab, id, err);
      return net_error(err) ? 0 : err;
    }
    asx_lab_net_event(d->lab, ASX_LAB_REC_NET_DELIVER, id, n, 0);
    if ((err = asx_stream_write_all(cx, s, buf, n, NULL))) {
      fault(d->lab, id, err);
      return net_error(err) ? 0 : err;
    }
  }
}

static int server_task(asx_cx *cx, void *arg) {
  asx_server *srv = arg;
  return asx_server_run(cx, srv);
}

/* A correct client: sends each line, then reads until the whole echo is back. */
static int client(asx_cx *cx, void *arg) {
  client_arg *ca = arg;
  net_demo *d = ca->d;
  const int *no = &ca->no;
  uint64_t id = 100 + (uint64_t)*no;
  asx_stream *s;
  int err = asx_sim_connect(cx, d->l, &s);
  if (err) {
    fault(d->lab, id, err);
    return net_error(err) ? 0 : err;
  }
  for (int i = 0; i < NET_LINES && !err; i++) {
    char line[64], back[64];
    int len = snprintf(line, sizeof line, "client %d line %d: hello over a lossy wire\n", *no, i);
    if ((err = asx_stream_write_all(cx, s, line, (size_t)len, NULL))) break;
    size_t got = 0;
    while (got < (size_t)len && !err) {
      size_t n = 0;
      err = asx_stream_read(cx, s, back + got, d->buggy_client ? sizeof back : (size_t)len - got, &n);
      if (err) break;
      asx_lab_net_event(d->lab, ASX_LAB_REC_NET_DELIVER, id, n, 0);
      if (d->buggy_client) { /* the planted bug: one read is assumed to return the whole line */
        if (n != (size_t)len || memcmp(back, line, n) != 0) {
          char msg[96];
          snprintf(msg, sizeof msg, "client %d line %d: echo has %zu of %d bytes", *no, i, n, len);
          asx_lab_fail(d->lab, cx, "echo_mismatch", msg);
        }
        got = (size_t)len;
        break;
      }
      got += n;
    }
    if (!err && !d->buggy_client && memcmp(back, line, (size_t)len) != 0)
      asx_lab_fail(d->lab, cx, "echo_corrupt", "the echo differs from the line sent");
  }
  if (err) fault(d->lab, id, err);
  asx_stream_close(s);
  return err && !net_error(err) ? err : 0;
}

static int run_net_echo(asx_cx *cx, asx_lab_ctx *lab, bool buggy) {
  net_demo d;
  memset(&d, 0, sizeof d);
  d.lab = lab;
  d.buggy_client = buggy;
  asx_lab_net_faults f = asx_lab_faults(lab);
  asx_sim_opts so;
  asx_sim_opts_default(&so);
  so.capacity = 4096;
  so.max_segment = 512;
  so.max_delay_ns = f.max_delay_ns;
  so.partial_permille = f.partial_permille;
  so.reset_permille = f.reset_permille;
  int err = asx_sim_listen(&so, 4, &d.l);
  if (err) return err;
  asx_server_opts o;
  asx_server_opts_default(&o);
  o.max_conns = 2; /* fewer than the clients: the cap is exercised too */
  o.grace_ns = 100 * MS;
  o.name = "echo";
  asx_server *srv;
  if ((err = asx_server_new(d.l, &o, echo_handler, &d, &srv))) return err;
  client_arg ca[NET_CLIENTS];
  asx_region *rs, *rc;
  if ((err = asx_region_open(cx, NULL, &rs))) {
    asx_server_free(srv);
    return err;
  }
  asx_spawn_opts sp = asx_spawn_opts_default();
  sp.name = "server";
  err = asx_spawn(cx, rs, server_task, srv, &sp, NULL);
  if (!err) err = asx_region_open(cx, NULL, &rc);
  if (!err) {
    for (int i = 0; i < NET_CLIENTS && !err; i++) {
      ca[i] = (client_arg){&d, i};
      sp.name = "client";
      err = asx_spawn(cx, rc, client, &ca[i], &sp, NULL);
    }
    int cerr = asx_region_close(cx, rc, NULL);
    if (!err) err = cerr;
  }
  asx_server_shutdown(srv);
  int cerr = asx_region_close(cx, rs, NULL);
  asx_server_stats st;
  asx_server_stats_get(srv, &st);
  asx_trace_user(cx, "server.completed", st.completed);
  asx_server_free(srv);
  return err ? err : cerr;
}

static int scenario_net_echo(asx_cx *cx, asx_lab_ctx *lab) { return run_net_echo(cx, lab, false); }
static int scenario_net_echo_bug(asx_cx *cx, asx_lab_ctx *lab) { return run_net_echo(cx, lab, true); }

int asx_lab_register_net_demos(void) {
  int err = asx_lab_register("net_echo", scenario_net_echo,
                             "net server helper echoing for 3 clients over a simulated listener "
                             "(faults: --net-delay/--net-partial/--net-reset): must pass");
  if (err && err != ASX_EEXIST) return err;
  err = asx_lab_register("net_echo_bug", scenario_net_echo_bug,
                         "planted bug: a client assumes one read returns a whole line (found "
                         "with --net-partial)");
  return err == ASX_EEXIST ? 0 : err;
}

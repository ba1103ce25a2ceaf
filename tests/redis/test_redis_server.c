/* Against a real redis-server (7.x) on a free loopback port: commands encoded by asx, replies
 * decoded by asx, over a plain blocking socket. Covers HELLO 3 (map), SET/GET, a RESP3 null and
 * double, an error, binary-safe values, pipelining, and a SUBSCRIBE push. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_process.h"
#include "redis_test_util.h"

TestSuite(redis_server, .timeout = 40);

typedef struct conn {
  int fd;
  asx_redis_decoder *dec;
  uint8_t buf[16384];
  size_t off, len;
} conn;

static void conn_open(conn *c, int port) {
  memset(c, 0, sizeof *c);
  c->fd = peer_connect(port, 5000);
  cr_assert_geq(c->fd, 0, "connect to redis-server on port %d", port);
  cr_assert_eq(asx_redis_decoder_new(&c->dec, NULL, NULL), 0);
}

static void conn_close(conn *c) {
  asx_redis_decoder_free(c->dec);
  close(c->fd);
}

/* Sends one command; arguments are NUL-terminated strings. */
static void send_cmd(conn *c, int argc, ...) {
  const char *argv[16];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc; i++) argv[i] = va_arg(ap, const char *);
  va_end(ap);
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_redis_encode_command(&b, (size_t)argc, argv, NULL), 0);
  cr_assert_eq(peer_send_all(c->fd, b.data, b.len), 0);
  asx_buf_free(&b);
}

/* The next reply, reading (bounded by SO_RCVTIMEO) as needed. */
static asx_redis_reply *next_reply(conn *c) {
  for (;;) {
    if (c->off < c->len) {
      size_t used;
      asx_redis_reply *r = NULL;
      int rc = asx_redis_decoder_feed(c->dec, c->buf + c->off, c->len - c->off, &used, &r);
      c->off += used;
      if (rc == 0) return r;
      cr_assert_eq(rc, ASX_EAGAIN, "decode: %s", asx_redis_decoder_error_message(c->dec));
    }
    ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
    cr_assert_gt(n, 0, "recv from redis-server failed or timed out");
    c->off = 0;
    c->len = (size_t)n;
  }
}

static bool str_is(const asx_redis_reply *r, const char *s) {
  return (r->type == ASX_REDIS_STRING || r->type == ASX_REDIS_BULK || r->type == ASX_REDIS_VERBATIM) &&
         r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

static const asx_redis_reply *map_get(const asx_redis_reply *m, const char *key) {
  for (size_t i = 0; i + 1 < m->n; i += 2)
    if (str_is(m->elements[i], key)) return m->elements[i + 1];
  return NULL;
}

static pid_t server_pid;
static int server_port;

static void start_server(void) {
  server_port = peer_free_port();
  cr_assert_gt(server_port, 0);
  char port[16];
  snprintf(port, sizeof port, "%d", server_port);
  char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", NULL};
  server_pid = peer_spawn(argv);
  cr_assert_gt(server_pid, 0);
  cr_assert_eq(peer_wait_port(server_pid, server_port, 10000), 0, "redis-server did not start on port %d",
               server_port);
}

static void stop_server(void) { peer_kill(server_pid); }

Test(redis_server, real_replies_decode, .init = start_server, .fini = stop_server) {
  conn c, pub;
  conn_open(&c, server_port);

  /* RESP2 first: a null bulk. */
  send_cmd(&c, 2, "GET", "missing");
  asx_redis_reply *r = next_reply(&c);
  cr_assert_eq(r->type, ASX_REDIS_NULL);
  cr_assert_eq(r->wire, '$');
  asx_redis_reply_free(r);

  /* HELLO 3 answers with a map and switches the connection to RESP3. */
  send_cmd(&c, 2, "HELLO", "3");
  r = next_reply(&c);
  cr_assert_eq(r->type, ASX_REDIS_MAP, "HELLO 3 gave %s", asx_redis_type_name(r->type));
  const asx_redis_reply *v = map_get(r, "server");
  cr_assert(v && str_is(v, "redis"));
  v = map_get(r, "proto");
  cr_assert(v && v->type == ASX_REDIS_INTEGER && v->integer == 3);
  v = map_get(r, "modules");
  cr_assert(v && v->type == ASX_REDIS_ARRAY);
  asx_redis_reply_free(r);

  send_cmd(&c, 3, "SET", "asx:key", "value");
  r = next_reply(&c);
  cr_assert(str_is(r, "OK") && r->type == ASX_REDIS_STRING);
  asx_redis_reply_free(r);
  send_cmd(&c, 2, "GET", "asx:key");
  r = next_reply(&c);
  cr_assert(r->type == ASX_REDIS_BULK && str_is(r, "value"));
  asx_redis_reply_free(r);
  send_cmd(&c, 2, "GET", "missing");
  r = next_reply(&c);
  cr_assert(r->type == ASX_REDIS_NULL && r->wire == '_');
  asx_redis_reply_free(r);

  /* Binary-safe values survive the trip. */
  const char *bargv[] = {"SET", "asx:bin", "a\0\r\nb"};
  size_t blen[] = {3, 7, 5};
  asx_buf b;
  asx_buf_init(&b, NULL, 0);
  cr_assert_eq(asx_redis_encode_command(&b, 3, bargv, blen), 0);
  cr_assert_eq(peer_send_all(c.fd, b.data, b.len), 0);
  asx_buf_free(&b);
  asx_redis_reply_free(next_reply(&c));
  send_cmd(&c, 2, "GET", "asx:bin");
  r = next_reply(&c);
  cr_assert(r->type == ASX_REDIS_BULK && r->len == 5 && memcmp(r->str, "a\0\r\nb", 5) == 0);
  asx_redis_reply_free(r);

  /* A RESP3 double and an error. */
  send_cmd(&c, 4, "ZADD", "asx:z", "1.5", "m");
  asx_redis_reply_free(next_reply(&c));
  send_cmd(&c, 3, "ZSCORE", "asx:z", "m");
  r = next_reply(&c);
  cr_assert(r->type == ASX_REDIS_DOUBLE && r->dbl == 1.5, "ZSCORE gave %s", asx_redis_type_name(r->type));
  asx_redis_reply_free(r);
  send_cmd(&c, 1, "NOSUCHCOMMAND");
  r = next_reply(&c);
  cr_assert_eq(r->type, ASX_REDIS_ERROR);
  cr_assert(strncmp(r->str, "ERR ", 4) == 0, "%s", r->str);
  asx_redis_reply_free(r);
  send_cmd(&c, 2, "INCR", "asx:key");
  r = next_reply(&c);
  cr_assert(r->type == ASX_REDIS_ERROR && strstr(r->str, "not an integer"));
  asx_redis_reply_free(r);

  /* Pipelined: three commands in one write, three replies in order. */
  asx_buf_init(&b, NULL, 0);
  const char *p1[] = {"INCR", "asx:n"};
  for (int i = 0; i < 3; i++) cr_assert_eq(asx_redis_encode_command(&b, 2, p1, NULL), 0);
  cr_assert_eq(peer_send_all(c.fd, b.data, b.len), 0);
  asx_buf_free(&b);
  for (int i = 1; i <= 3; i++) {
    r = next_reply(&c);
    cr_assert(r->type == ASX_REDIS_INTEGER && r->integer == i);
    asx_redis_reply_free(r);
  }

  /* SUBSCRIBE in RESP3 answers with a push; a PUBLISH from another connection arrives as one. */
  send_cmd(&c, 2, "SUBSCRIBE", "asx:ch");
  r = next_reply(&c);
  cr_assert_eq(r->type, ASX_REDIS_PUSH, "SUBSCRIBE gave %s", asx_redis_type_name(r->type));
  cr_assert_eq(r->n, 3);
  cr_assert(str_is(r->elements[0], "subscribe") && str_is(r->elements[1], "asx:ch"));
  cr_assert(r->elements[2]->type == ASX_REDIS_INTEGER && r->elements[2]->integer == 1);
  asx_redis_reply_free(r);
  conn_open(&pub, server_port);
  send_cmd(&pub, 3, "PUBLISH", "asx:ch", "hello");
  r = next_reply(&pub);
  cr_assert(r->type == ASX_REDIS_INTEGER && r->integer == 1);
  asx_redis_reply_free(r);
  r = next_reply(&c);
  cr_assert_eq(r->type, ASX_REDIS_PUSH);
  cr_assert(r->n == 3 && str_is(r->elements[0], "message") && str_is(r->elements[2], "hello"));
  asx_redis_reply_free(r);

  conn_close(&pub);
  conn_close(&c);
}

/* Inline commands: redis-server's own splitting must agree with asx's command decoder. Each
 * line is "ECHO <arg>"; the server echoes how it split the argument, asx splits it locally. */
Test(redis_server, inline_splitting_matches_redis_server, .init = start_server, .fini = stop_server) {
  static const char *lines[] = {
      "ECHO plain\r\n",         "ECHO \"a b\"\r\n",        "ECHO 'it\\'s'\r\n",   "ECHO \"\\x41\\n\\t\\q\"\r\n",
      "ECHO a\"b c\"\r\n",      "ECHO 'a\\nb'\r\n",        "ECHO \"\"\r\n",        "  ECHO   spaced  \r\n",
      "ECHO \"\\xzz\"\r\n",     "ECHO x'y z'\n",
  };
  conn c;
  conn_open(&c, server_port);
  asx_redis_cmd_decoder *d;
  cr_assert_eq(asx_redis_cmd_decoder_new(&d, NULL, NULL), 0);
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    size_t n = strlen(lines[i]), used;
    const asx_redis_command *cmd;
    cr_assert_eq(asx_redis_cmd_decoder_feed(d, (const uint8_t *)lines[i], n, &used, &cmd), 0, "#%zu", i);
    cr_assert(cmd->inline_form && cmd->argc == 2, "#%zu argc %zu", i, cmd->argc);
    cr_assert_eq(peer_send_all(c.fd, lines[i], n), 0);
    asx_redis_reply *r = next_reply(&c);
    cr_assert_eq(r->type, ASX_REDIS_BULK, "#%zu: %s", i, r->str ? r->str : "");
    cr_assert(r->len == cmd->argv[1].len && memcmp(r->str, cmd->argv[1].ptr, r->len) == 0,
              "#%zu: server '%s'", i, r->str);
    asx_redis_reply_free(r);
  }
  /* Unbalanced quotes: both refuse (the server answers with an error and closes). */
  const char *bad = "ECHO \"open\r\n";
  size_t used;
  const asx_redis_command *cmd;
  cr_assert_eq(asx_redis_cmd_decoder_feed(d, (const uint8_t *)bad, strlen(bad), &used, &cmd), ASX_EPROTO);
  cr_assert_eq(peer_send_all(c.fd, bad, strlen(bad)), 0);
  asx_redis_reply *r = next_reply(&c);
  cr_assert(r->type == ASX_REDIS_ERROR && strstr(r->str, "unbalanced quotes"), "%s", r->str);
  asx_redis_reply_free(r);
  asx_redis_cmd_decoder_free(d);
  conn_close(&c);
}

/* Every file of the two HTTP/1.1 fuzz seed corpora, decoded whole, one byte at a time and split
 * in two at every position, with the default limits and with the fuzz harness's tiny ones (and,
 * for responses, after each request method the harness uses): all must give the same events and
 * the same error. The harness itself checks only one split per input, so this turns each corpus
 * file (fuzz regressions included) into an exhaustive split-independence check. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_test_util.h"

#ifndef H1_CORPUS_DIR
#error "H1_CORPUS_DIR must name fuzz/corpus"
#endif

TestSuite(http1_corpus, .timeout = 240);

/* Reads a whole corpus file (seeds are small; anything over 64 KiB is a mistake). */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "open %s", path);
  size_t cap = 64 * 1024;
  char *buf = malloc(cap);
  cr_assert_not_null(buf);
  *len = fread(buf, 1, cap, f);
  cr_assert(feof(f), "%s is larger than %zu bytes", path, cap);
  fclose(f);
  return buf;
}

static asx_http1_limits tiny_limits(void) {
  asx_http1_limits l = asx_http1_limits_default();
  l.max_target = 64;
  l.max_header_block = 256;
  l.max_headers = 8;
  l.max_body = 512;
  l.max_chunk_ext = 16;
  return l;
}

/* Runs the split checks over every file of fuzz/corpus/<target>; returns how many files. */
static size_t check_corpus(const char *target, asx_http1_kind kind) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", H1_CORPUS_DIR, target);
  DIR *dh = opendir(dir);
  cr_assert_not_null(dh, "open %s", dir);
  static const asx_http1_method methods[] = {ASX_HTTP1_GET, ASX_HTTP1_HEAD, ASX_HTTP1_CONNECT,
                                             ASX_HTTP1_POST};
  size_t nmethods = kind == ASX_HTTP1_RESPONSE ? sizeof methods / sizeof methods[0] : 1;
  asx_http1_limits limits[2] = {asx_http1_limits_default(), tiny_limits()};
  size_t files = 0;
  struct dirent *e;
  while ((e = readdir(dh)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len = 0;
    char *in = read_file(path, &len);
    for (size_t li = 0; li < 2; li++) {
      for (size_t mi = 0; mi < nmethods; mi++) {
        h1_opts o = {.kind = kind, .limits = &limits[li], .method = methods[mi], .finish = 1};
        cr_log_info("%s: %s limits, method %d", e->d_name, li ? "tiny" : "default", (int)methods[mi]);
        h1_assert_split_invariant(&o, in, len, 1);
      }
    }
    free(in);
    files++;
  }
  closedir(dh);
  return files;
}

Test(http1_corpus, request_seeds_decode_the_same_for_every_split) {
  size_t n = check_corpus("fuzz_http1_request", ASX_HTTP1_REQUEST);
  cr_assert_gt(n, 2, "only %zu request seeds found", n);
}

Test(http1_corpus, response_seeds_decode_the_same_for_every_split) {
  size_t n = check_corpus("fuzz_http1_response", ASX_HTTP1_RESPONSE);
  cr_assert_gt(n, 2, "only %zu response seeds found", n);
}

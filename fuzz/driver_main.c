/* Entry point shared by every harness (each defines LLVMFuzzerTestOneInput):
 *  - built with afl-cc / afl-clang-fast: AFL++ persistent mode with shared-memory test cases;
 *  - otherwise (and with file arguments under AFL): replays files and directories given on the
 *    command line, so a crash found by any engine reproduces without it, e.g. under ASan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger inputs are not meaningful for any asx decoder and would only slow replays. */
#define FUZZ_MAX_INPUT (64u << 20)

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz replay: cannot open %s\n", path);
    return 1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > FUZZ_MAX_INPUT) {
    fprintf(stderr, "fuzz replay: %s is unreadable or larger than %u bytes\n", path, FUZZ_MAX_INPUT);
    fclose(f);
    return 1;
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf || fread(buf, 1, n, f) != n) {
    fprintf(stderr, "fuzz replay: cannot read %s\n", path);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int replay_path(const char *path, unsigned *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz replay: no such path %s\n", path);
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    (*count)++;
    return replay_file(path);
  }
  DIR *d = opendir(path);
  if (!d) return 1;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    char *child = malloc(len);
    if (!child) {
      rc = 1;
      break;
    }
    snprintf(child, len, "%s/%s", path, e->d_name);
    rc |= replay_path(child, count);
    free(child);
  }
  closedir(d);
  return rc;
}

static int replay_args(int argc, char **argv) {
  unsigned count = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++) rc |= replay_path(argv[i], &count);
  fprintf(stderr, "fuzz replay: %u inputs, %s\n", count, rc ? "errors" : "ok");
  return rc;
}

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();

int main(int argc, char **argv) {
  if (argc > 1) return replay_args(argc, argv);
  __AFL_INIT();
  unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP(10000)) {
    int len = __AFL_FUZZ_TESTCASE_LEN;
    LLVMFuzzerTestOneInput(buf, (size_t)len);
  }
  return 0;
}
#else
int main(int argc, char **argv) {
  if (argc > 1) return replay_args(argc, argv);
  fprintf(stderr, "usage: %s FILE|DIR...  (replays inputs through the harness)\n", argv[0]);
  return 2;
}
#endif

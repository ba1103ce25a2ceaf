#include "test_fds.h"

#include <dirent.h>
#include <stddef.h>

int test_count_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(dir);
  return n - 1; /* the DIR's own descriptor */
}

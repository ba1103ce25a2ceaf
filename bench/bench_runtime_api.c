/* asx-bench runtime: benches against the public runtime API (spawn+join, yield, channel,
 * sleeping tasks). Filled in once runtime/include/asx/runtime.h lands. */
#include "bench.h"

int bench_runtime_api(const char *filter);

int bench_runtime_api(const char *filter) {
  (void)filter;
  return 0;
}

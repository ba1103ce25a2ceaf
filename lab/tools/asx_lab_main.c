/* asx-lab: the lab's command line with the built-in demo scenarios registered. A user's own
 * binary does the same with its scenarios: register them, then call asx_lab_main. */
#include <stdio.h>

#include "asx/lab.h"

int main(int argc, char **argv) {
  if (asx_lab_register_demos() != 0 || asx_lab_register_net_demos() != 0) {
    fprintf(stderr, "asx-lab: cannot register the demo scenarios\n");
    return 4;
  }
  return asx_lab_main(argc, argv);
}

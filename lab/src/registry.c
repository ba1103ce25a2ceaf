/* The scenario registry: a fixed table filled at start-up (asx_lab_register) so that the CLI and
 * the run functions can find a program by the name stored in a trace header. */
#include <string.h>

#include "lab_internal.h"

#define MAX_SCENARIOS 256

static struct entry {
  const char *name;
  asx_lab_scenario_fn fn;
  const char *description;
} table[MAX_SCENARIOS];
static size_t count;

int asx_lab_register(const char *name, asx_lab_scenario_fn fn, const char *description) {
  if (!name || !fn) return ASX_EINVAL;
  size_t len = strlen(name);
  if (len == 0 || len > ASX_LAB_NAME_MAX) return ASX_EINVAL;
  if (asx_lab_find(name, NULL)) return ASX_EEXIST;
  if (count == MAX_SCENARIOS) return ASX_ELIMIT;
  table[count++] = (struct entry){name, fn, description ? description : ""};
  return 0;
}

asx_lab_scenario_fn asx_lab_find(const char *name, const char **description) {
  if (!name) return NULL;
  for (size_t i = 0; i < count; i++)
    if (strcmp(table[i].name, name) == 0) {
      if (description) *description = table[i].description;
      return table[i].fn;
    }
  return NULL;
}

const char *asx_lab_scenario_name(size_t i, const char **description) {
  if (i >= count) return NULL;
  if (description) *description = table[i].description;
  return table[i].name;
}

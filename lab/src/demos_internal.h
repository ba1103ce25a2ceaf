/* Shared by the demo scenario sources. Not public API. */
#ifndef ASX_LAB_DEMOS_INTERNAL_H
#define ASX_LAB_DEMOS_INTERNAL_H

#include "asx/lab.h"

/* Runs fns[i](args[i]) named names[i] in a fresh region and closes it (close implies quiescence). */
int lab_demo_run_region(asx_cx *cx, size_t n, asx_task_fn const *fns, void *const *args,
                        const char *const *names);
int lab_register_oracle_demos(void);

#endif

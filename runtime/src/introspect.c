/* Wait sites and introspection for lab/ and debugging: a note emitted before each call that may
 * block (so a deadlock report can say what every blocked task waits on), and a read-only query
 * of the obligations a task holds (the futurelock oracle). Additive: nothing here is on a hot
 * path unless cfg.wait_sites is set. */
#include "rt_internal.h"

asx_cx *asx_wait_site_note(asx_cx *cx, const char *what, const char *file, int line) {
  if (!cx) return cx;
  asx_task *t = cx->task;
  asx_runtime *rt = t->rt;
  if (rt->cfg.wait_sites && rt->cfg.trace) {
    asx_trace_event ev = rt_event(rt, ASX_TRACE_WAIT_SITE, t, NULL);
    ev.name = what;
    ev.file = file;
    ev.line = line;
    rt_trace(rt, &ev);
  }
  return cx;
}

static asx_task *find_task(asx_region *r, uint64_t id) {
  for (rt_link *l = r->tasks.next; l != &r->tasks; l = l->next) {
    asx_task *t = RT_CONTAINER_OF(l, asx_task, region_link);
    if (t->id == id) return t;
  }
  for (rt_link *l = r->children.next; l != &r->children; l = l->next) {
    asx_task *t = find_task(RT_CONTAINER_OF(l, asx_region, sibling), id);
    if (t) return t;
  }
  return NULL;
}

size_t asx_runtime_task_obligations(asx_runtime *rt, uint64_t task_id, asx_obligation_info *out,
                                    size_t max) {
  if (!rt || rt->cfg.driver != ASX_DRIVER_DETERMINISTIC || !rt->root) return 0;
  size_t n = 0;
  pthread_mutex_lock(&rt->tree_lock);
  asx_task *t = find_task(rt->root, task_id);
  if (t && !t->done)
    for (rt_link *l = t->obligations.next; l != &t->obligations; l = l->next, n++) {
      asx_obligation *ob = RT_CONTAINER_OF(l, asx_obligation, link);
      if (n < max) out[n] = (asx_obligation_info){ob->kind, ob->file, ob->line};
    }
  pthread_mutex_unlock(&rt->tree_lock);
  return n;
}

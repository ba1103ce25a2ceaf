/* Obligations: two-phase effects that must be committed or aborted by the task that reserved
 * them. A task that ends holding one leaks it: reported with its reserve site, counted, aborted. */
#include "rt_internal.h"

int asx_obligation_reserve_at(asx_cx *cx, const char *kind, void (*abort_fn)(void *), void *abort_arg,
                              asx_obligation **out, const char *file, int line) {
  if (!cx || !out) return ASX_EINVAL;
  asx_task *t = cx->task;
  asx_obligation *ob = t->nob_cache ? t->ob_cache[--t->nob_cache] : asx_alloc(t->rt->alloc, sizeof(*ob));
  if (!ob) return ASX_ENOMEM;
  ob->owner = t;
  ob->kind = kind ? kind : "obligation";
  ob->file = file;
  ob->line = line;
  ob->abort_fn = abort_fn;
  ob->abort_arg = abort_arg;
  rt_list_push_back(&t->obligations, &ob->link);
  atomic_fetch_add(&t->rt->unresolved, 1);
  *out = ob;
  return 0;
}

static void resolve(asx_obligation *ob, bool run_abort) {
  asx_task *t = ob->owner;
  asx_runtime *rt = t->rt;
  rt_list_remove(&ob->link);
  if (run_abort && ob->abort_fn) ob->abort_fn(ob->abort_arg);
  atomic_fetch_sub(&rt->unresolved, 1);
  /* Two-phase sends reserve and resolve constantly: keep a few tokens (owner-only list). */
  if (t->nob_cache < sizeof(t->ob_cache) / sizeof(t->ob_cache[0]))
    t->ob_cache[t->nob_cache++] = ob;
  else
    asx_free(rt->alloc, ob);
}

void rt_obligation_cache_free(asx_task *t) {
  while (t->nob_cache) asx_free(t->rt->alloc, t->ob_cache[--t->nob_cache]);
}

void asx_obligation_commit(asx_obligation *ob) {
  if (ob) resolve(ob, false);
}

void asx_obligation_abort(asx_obligation *ob) {
  if (ob) resolve(ob, true);
}

void rt_obligations_leaked(asx_task *t) {
  asx_runtime *rt = t->rt;
  while (!rt_list_empty(&t->obligations)) {
    asx_obligation *ob = RT_CONTAINER_OF(t->obligations.next, asx_obligation, link);
    asx_trace_event ev = rt_event(rt, ASX_TRACE_OBLIGATION_LEAK, t, NULL);
    ev.name = ob->kind;
    ev.file = ob->file;
    ev.line = ob->line;
    rt_trace(rt, &ev);
    atomic_fetch_add(&rt->obligation_leaks, 1);
    resolve(ob, true);
  }
}

/* Obligations: two-phase effects that must be committed or aborted by the task that reserved
 * them. A task that ends holding one leaks it: reported with its reserve site, counted, aborted. */
#include "rt_internal.h"

int asx_obligation_reserve_at(asx_cx *cx, const char *kind, void (*abort_fn)(void *), void *abort_arg,
                              asx_obligation **out, const char *file, int line) {
  if (!cx || !out) return ASX_EINVAL;
  asx_task *t = cx->task;
  asx_obligation *ob = asx_alloc(t->rt->alloc, sizeof(*ob));
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
  asx_runtime *rt = ob->owner->rt;
  rt_list_remove(&ob->link);
  if (run_abort && ob->abort_fn) ob->abort_fn(ob->abort_arg);
  atomic_fetch_sub(&rt->unresolved, 1);
  asx_free(rt->alloc, ob);
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

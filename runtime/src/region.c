/* Regions: the tree, open/close (close implies quiescence), finalizers in reverse order, outcome
 * aggregation under the lattice, fail-fast, and cancellation propagation to descendants. */
#include "rt_internal.h"

int rt_region_new(asx_runtime *rt, asx_region *parent, asx_task *owner, const asx_region_opts *opts,
                  asx_region **out) {
  asx_region_opts o = opts ? *opts : asx_region_opts_default();
  asx_region *r = asx_calloc(rt->alloc, 1, sizeof(*r));
  if (!r) return ASX_ENOMEM;
  r->rt = rt;
  r->parent = parent;
  r->name = o.name;
  r->policy = o.policy;
  r->propagate = o.propagate_outcome;
  r->state = ASX_REGION_OPEN;
  r->outcome = ASX_OUTCOME_OK;
  r->cancel_deadline = ASX_UNLIMITED;
  rt_list_init(&r->tasks);
  rt_list_init(&r->children);
  rt_list_init(&r->sibling);
  rt_list_init(&r->owner_link);
  asx_budget base = owner ? owner->budget : (parent ? parent->budget : asx_budget_unlimited());
  r->budget = asx_budget_combine(base, o.budget);
  pthread_mutex_lock(&rt->tree_lock);
  r->id = rt_counter_add(&rt->next_id, 1) - 1;
  if (parent) {
    rt_list_push_back(&parent->children, &r->sibling);
    parent->nchildren++;
    if (parent->cancel_kind != ASX_CANCEL_NONE) {
      r->cancel_kind = ASX_CANCEL_PARENT;
      r->cancel_deadline = parent->cancel_deadline;
    }
  }
  r->owner = owner;
  if (owner) rt_list_push_front(&owner->owned_regions, &r->owner_link);
  rt_counter_add(&rt->live_regions, 1);
  rt_counter_add(&rt->regions_opened, 1);
  asx_trace_event ev = rt_event(rt, ASX_TRACE_REGION_OPEN, owner, r);
  ev.name = r->name;
  pthread_mutex_unlock(&rt->tree_lock);
  rt_trace(rt, &ev);
  *out = r;
  return 0;
}

int asx_region_open(asx_cx *cx, const asx_region_opts *opts, asx_region **out) {
  if (!cx || !out) return ASX_EINVAL;
  asx_task *t = cx->task;
  if (rt_cancel_observable(t)) return ASX_ECANCELED;
  return rt_region_new(t->rt, t->region, t, opts, out);
}

/* Folds a finished region into its parent and frees it. tree_lock NOT held. */
void rt_region_finalize(asx_region *r, rt_worker *w) {
  asx_runtime *rt = r->rt;
  pthread_mutex_lock(&rt->tree_lock);
  r->state = ASX_REGION_FINALIZING;
  if (rt_linked(&r->owner_link)) rt_list_remove(&r->owner_link);
  pthread_mutex_unlock(&rt->tree_lock);
  /* Finalizers run without the lock, newest first; registration is closed by FINALIZING. */
  for (size_t i = r->nfin; i-- > 0;) r->fin[i].fn(r->fin[i].arg);
  pthread_mutex_lock(&rt->tree_lock);
  r->state = ASX_REGION_CLOSED;
  asx_trace_event ev = rt_event(rt, ASX_TRACE_REGION_CLOSE, NULL, r);
  ev.outcome = r->outcome;
  ev.kind = r->cancel_kind;
  asx_region *p = r->parent;
  if (p) {
    rt_list_remove(&r->sibling);
    p->nchildren--;
    if (r->propagate) {
      p->outcome = asx_outcome_join(p->outcome, r->outcome);
      if (p->policy == ASX_REGION_FAIL_FAST &&
          (r->outcome == ASX_OUTCOME_ERR || r->outcome == ASX_OUTCOME_PANICKED))
        rt_cancel_region_locked(p, ASX_CANCEL_FAIL_FAST,
                                rt_now(rt) + rt_cleanup_budget(rt, ASX_CANCEL_FAIL_FAST), w);
    }
    if (p->ntasks == 0 && p->nchildren == 0 && p->closer) rt_wake(p->closer, w);
  }
  rt_counter_add(&rt->live_regions, -1);
  pthread_mutex_unlock(&rt->tree_lock);
  rt_trace(rt, &ev);
  while (r->blocks) {
    rt_region_block *b = r->blocks;
    r->blocks = b->next;
    asx_free(rt->alloc, b);
  }
  asx_free(rt->alloc, r->fin);
  asx_free(rt->alloc, r);
}

int asx_region_close(asx_cx *cx, asx_region *r, asx_outcome *outcome) {
  if (!cx || !r) return ASX_EINVAL;
  asx_task *self = cx->task;
  asx_runtime *rt = self->rt;
  pthread_mutex_lock(&rt->tree_lock);
  if (r->owner != self || r->state != ASX_REGION_OPEN) {
    pthread_mutex_unlock(&rt->tree_lock);
    return ASX_ESTATE;
  }
  r->state = r->cancel_kind != ASX_CANCEL_NONE ? ASX_REGION_DRAINING : ASX_REGION_CLOSING;
  while (r->ntasks > 0 || r->nchildren > 0) {
    r->closer = self;
    pthread_mutex_unlock(&rt->tree_lock);
    rt_wait_uninterruptible(self);
    pthread_mutex_lock(&rt->tree_lock);
  }
  r->closer = NULL;
  asx_outcome o = r->outcome;
  pthread_mutex_unlock(&rt->tree_lock);
  rt_region_finalize(r, self->worker);
  if (outcome) *outcome = o;
  return 0;
}

int asx_region_defer(asx_region *r, void (*fn)(void *), void *arg) {
  if (!r || !fn) return ASX_EINVAL;
  asx_runtime *rt = r->rt;
  int err = 0;
  pthread_mutex_lock(&rt->tree_lock);
  if (r->state >= ASX_REGION_FINALIZING) {
    err = ASX_ESTATE;
  } else {
    if (r->nfin == r->capfin) {
      size_t cap = r->capfin ? r->capfin * 2 : 4;
      rt_finalizer *f = asx_realloc(rt->alloc, r->fin, cap * sizeof(*f));
      if (!f) err = ASX_ENOMEM;
      else {
        r->fin = f;
        r->capfin = cap;
      }
    }
    if (!err) r->fin[r->nfin++] = (rt_finalizer){fn, arg};
  }
  pthread_mutex_unlock(&rt->tree_lock);
  return err;
}

void *asx_region_alloc(asx_region *r, size_t size) {
  if (!r || size > SIZE_MAX - sizeof(rt_region_block)) return NULL;
  asx_runtime *rt = r->rt;
  rt_region_block *b = asx_alloc(rt->alloc, sizeof(*b) + size);
  if (!b) return NULL;
  pthread_mutex_lock(&rt->tree_lock);
  if (r->state >= ASX_REGION_FINALIZING) {
    pthread_mutex_unlock(&rt->tree_lock);
    asx_free(rt->alloc, b);
    return NULL;
  }
  b->next = r->blocks;
  r->blocks = b;
  pthread_mutex_unlock(&rt->tree_lock);
  return b->data;
}

asx_region_state asx_region_state_get(asx_region *r) {
  pthread_mutex_lock(&r->rt->tree_lock);
  asx_region_state s = r->state;
  pthread_mutex_unlock(&r->rt->tree_lock);
  return s;
}

asx_outcome asx_region_outcome(asx_region *r) {
  pthread_mutex_lock(&r->rt->tree_lock);
  asx_outcome o = r->outcome;
  pthread_mutex_unlock(&r->rt->tree_lock);
  return o;
}

uint64_t asx_region_id(const asx_region *r) { return r->id; }

/* ---- Cancellation propagation (tree_lock held) ---- */

void rt_cancel_task_locked(asx_task *t, asx_cancel_kind k, uint64_t deadline, bool owned,
                           rt_worker *w) {
  if (t->done) return;
  asx_runtime *rt = t->rt;
  asx_cancel_kind old = (asx_cancel_kind)atomic_load_explicit(&t->cancel_kind, memory_order_relaxed);
  uint64_t old_dl = atomic_load_explicit(&t->cancel_deadline, memory_order_relaxed);
  bool changed = false;
  if (asx_cancel_severity(k) > asx_cancel_severity(old)) {
    atomic_store_explicit(&t->cancel_kind, k, memory_order_release);
    changed = true;
  }
  if (deadline < old_dl) {
    atomic_store_explicit(&t->cancel_deadline, deadline, memory_order_release);
    changed = true;
  }
  if (changed) {
    atomic_fetch_add(&rt->cancels, 1);
    if (rt->cfg.trace) {
      asx_trace_event ev = rt_event(rt, ASX_TRACE_CANCEL, t, NULL);
      ev.kind = (asx_cancel_kind)atomic_load_explicit(&t->cancel_kind, memory_order_relaxed);
      ev.value = atomic_load_explicit(&t->cancel_deadline, memory_order_relaxed);
      rt_trace(rt, &ev);
    }
    if (deadline < old_dl) rt_cleanup_watch(t, deadline);
    rt_wake(t, w);
  }
  if (owned) {
    for (rt_link *l = t->owned_regions.next; l != &t->owned_regions; l = l->next)
      rt_cancel_region_locked(RT_CONTAINER_OF(l, asx_region, owner_link), ASX_CANCEL_PARENT, deadline,
                              w);
  }
}

void rt_cancel_region_locked(asx_region *r, asx_cancel_kind k, uint64_t deadline, rt_worker *w) {
  if (r->state >= ASX_REGION_FINALIZING) return;
  bool stronger = asx_cancel_severity(k) > asx_cancel_severity(r->cancel_kind);
  bool tighter = deadline < r->cancel_deadline;
  if (!stronger && !tighter) return; /* idempotent: nothing new to tell anyone */
  if (stronger) r->cancel_kind = k;
  if (tighter) r->cancel_deadline = deadline;
  if (r->state == ASX_REGION_CLOSING) r->state = ASX_REGION_DRAINING;
  asx_runtime *rt = r->rt;
  asx_trace_event ev = rt_event(rt, ASX_TRACE_CANCEL, NULL, r);
  ev.kind = r->cancel_kind;
  ev.value = r->cancel_deadline;
  rt_trace(rt, &ev);
  /* Tasks of the target get the kind itself; everything below gets parent_cancelled. Regions
   * owned by these tasks are children of r and are reached through r->children. */
  for (rt_link *l = r->tasks.next; l != &r->tasks; l = l->next)
    rt_cancel_task_locked(RT_CONTAINER_OF(l, asx_task, region_link), k, deadline, false, w);
  for (rt_link *l = r->children.next; l != &r->children; l = l->next)
    rt_cancel_region_locked(RT_CONTAINER_OF(l, asx_region, sibling), ASX_CANCEL_PARENT, deadline, w);
}

void asx_region_cancel(asx_region *r, asx_cancel_kind k) {
  if (!r || k == ASX_CANCEL_NONE) return;
  asx_runtime *rt = r->rt;
  pthread_mutex_lock(&rt->tree_lock);
  rt_cancel_region_locked(r, k, rt_now(rt) + rt_cleanup_budget(rt, k), NULL);
  pthread_mutex_unlock(&rt->tree_lock);
}

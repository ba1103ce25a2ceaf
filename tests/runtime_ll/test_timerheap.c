/* Timer heap: ordering by deadline, ties in insertion order, removal from the middle, re-arming,
 * and allocation failure leaving the heap intact. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "ll/rng.h"
#include "ll/timerheap.h"
#include "test_alloc.h"

TestSuite(timerheap, .timeout = 60);

struct timer {
  asx_timer_node node; /* first member: a node pointer is a timer pointer */
  int id;
};

static void set(struct timer *t, int id, uint64_t deadline) {
  asx_timer_node_init(&t->node);
  t->id = id;
  t->node.deadline = deadline;
}

Test(timerheap, pops_in_deadline_order) {
  asx_timer_heap h;
  cr_assert_eq(asx_timer_heap_init(&h, NULL), 0);
  enum { N = 1000 };
  struct timer *t = calloc(N, sizeof *t);
  asx_rng r;
  asx_rng_seed(&r, 7);
  for (int i = 0; i < N; i++) {
    set(&t[i], i, asx_rng_below(&r, 500)); /* many ties on purpose */
    cr_assert_eq(asx_timer_heap_push(&h, &t[i].node), 0);
  }
  cr_assert_eq(asx_timer_heap_len(&h), N);
  uint64_t last_deadline = 0, last_seq = 0;
  for (int i = 0; i < N; i++) {
    asx_timer_node *peek = asx_timer_heap_peek(&h);
    asx_timer_node *n = asx_timer_heap_pop(&h);
    cr_assert_eq(peek, n);
    cr_assert(n->deadline >= last_deadline);
    if (i > 0 && n->deadline == last_deadline) cr_assert(n->seq > last_seq, "ties pop in insertion order");
    last_deadline = n->deadline;
    last_seq = n->seq;
    cr_assert_eq(n->index, SIZE_MAX, "popped node is marked unqueued");
  }
  cr_assert_null(asx_timer_heap_pop(&h));
  cr_assert_null(asx_timer_heap_peek(&h));
  asx_timer_heap_destroy(&h);
  free(t);
}

Test(timerheap, ties_fire_in_insertion_order) {
  asx_timer_heap h;
  asx_timer_heap_init(&h, NULL);
  struct timer t[6];
  int deadlines[6] = {5, 3, 5, 3, 5, 1};
  for (int i = 0; i < 6; i++) {
    set(&t[i], i, (uint64_t)deadlines[i]);
    asx_timer_heap_push(&h, &t[i].node);
  }
  int expect[6] = {5, 1, 3, 0, 2, 4};
  for (int i = 0; i < 6; i++) cr_assert_eq(((struct timer *)asx_timer_heap_pop(&h))->id, expect[i]);
  asx_timer_heap_destroy(&h);
}

Test(timerheap, remove_from_the_middle) {
  asx_timer_heap h;
  asx_timer_heap_init(&h, NULL);
  enum { N = 64 };
  struct timer t[N];
  for (int i = 0; i < N; i++) {
    set(&t[i], i, (uint64_t)((i * 37) % N)); /* a permutation of 0..63 */
    asx_timer_heap_push(&h, &t[i].node);
  }
  int removed[N] = {0};
  for (int i = 0; i < N; i += 3) {
    asx_timer_heap_remove(&h, &t[i].node);
    removed[i] = 1;
    cr_assert_eq(t[i].node.index, SIZE_MAX);
  }
  asx_timer_heap_remove(&h, &t[0].node); /* removing twice is a no-op */
  struct timer stranger;
  set(&stranger, 99, 0);
  asx_timer_heap_remove(&h, &stranger.node); /* never queued: no-op */
  size_t expect_len = 0;
  for (int i = 0; i < N; i++) expect_len += !removed[i];
  cr_assert_eq(asx_timer_heap_len(&h), expect_len);
  uint64_t last = 0;
  size_t popped = 0;
  for (asx_timer_node *n; (n = asx_timer_heap_pop(&h)) != NULL; popped++) {
    struct timer *tm = (struct timer *)n;
    cr_assert_not(removed[tm->id], "removed timer %d fired", tm->id);
    cr_assert(n->deadline >= last);
    last = n->deadline;
  }
  cr_assert_eq(popped, expect_len);
  asx_timer_heap_destroy(&h);
}

Test(timerheap, push_of_a_queued_node_rearms_it) {
  asx_timer_heap h;
  asx_timer_heap_init(&h, NULL);
  struct timer a, b;
  set(&a, 1, 10);
  set(&b, 2, 20);
  asx_timer_heap_push(&h, &a.node);
  asx_timer_heap_push(&h, &b.node);
  a.node.deadline = 30;
  asx_timer_heap_push(&h, &a.node);
  cr_assert_eq(asx_timer_heap_len(&h), 2, "re-arming does not duplicate");
  cr_assert_eq(asx_timer_heap_pop(&h), &b.node);
  cr_assert_eq(asx_timer_heap_pop(&h), &a.node);
  asx_timer_heap_destroy(&h);
}

Test(timerheap, allocation_failure_leaves_heap_intact) {
  /* 100 pushes need 4 allocations (capacity 16, 32, 64, 128): fail from each of them in turn. */
  for (long fail_after = 0; fail_after <= 4; fail_after++) {
    test_alloc ta;
    test_alloc_init(&ta);
    test_alloc_fail_after(&ta, fail_after);
    asx_timer_heap h;
    asx_timer_heap_init(&h, &ta.base);
    struct timer t[100];
    size_t queued = 0;
    int saw_enomem = 0;
    for (int i = 0; i < 100; i++) {
      set(&t[i], i, (uint64_t)(100 - i));
      int rc = asx_timer_heap_push(&h, &t[i].node);
      if (rc == ASX_ENOMEM) {
        saw_enomem = 1;
        cr_assert_eq(t[i].node.index, SIZE_MAX, "a node that failed to queue is not queued");
      } else {
        cr_assert_eq(rc, 0);
        queued++;
      }
      cr_assert_eq(asx_timer_heap_len(&h), queued);
    }
    cr_assert_eq(saw_enomem, fail_after < 4, "fail_after %ld", fail_after);
    uint64_t last = 0;
    size_t popped = 0;
    for (asx_timer_node *n; (n = asx_timer_heap_pop(&h)) != NULL; popped++) {
      cr_assert(n->deadline >= last);
      last = n->deadline;
    }
    cr_assert_eq(popped, queued);
    asx_timer_heap_destroy(&h);
    cr_assert_eq(ta.live, 0, "no leak");
  }
}

/* Random push / remove / pop / re-arm against a plain array model: same earliest node each time. */
Test(timerheap, matches_a_reference_model) {
  enum { N = 256, STEPS = 20000 };
  struct timer *t = calloc(N, sizeof *t);
  int *queued = calloc(N, sizeof *queued);
  uint64_t *seq_model = calloc(N, sizeof *seq_model);
  uint64_t next_seq = 0;
  asx_timer_heap h;
  asx_timer_heap_init(&h, NULL);
  for (int i = 0; i < N; i++) set(&t[i], i, 0);
  asx_rng r;
  asx_rng_seed(&r, 2024);
  for (int step = 0; step < STEPS; step++) {
    int i = (int)asx_rng_below(&r, N);
    switch (asx_rng_below(&r, 4)) {
      case 0: /* push or re-arm */
      case 1:
        t[i].node.deadline = asx_rng_below(&r, 64);
        cr_assert_eq(asx_timer_heap_push(&h, &t[i].node), 0);
        queued[i] = 1;
        seq_model[i] = next_seq++;
        break;
      case 2:
        asx_timer_heap_remove(&h, &t[i].node);
        queued[i] = 0;
        break;
      default: {
        int best = -1;
        for (int k = 0; k < N; k++) {
          if (!queued[k]) continue;
          if (best < 0 || t[k].node.deadline < t[best].node.deadline ||
              (t[k].node.deadline == t[best].node.deadline && seq_model[k] < seq_model[best]))
            best = k;
        }
        asx_timer_node *n = asx_timer_heap_pop(&h);
        if (best < 0) {
          cr_assert_null(n);
        } else {
          cr_assert_eq(n, &t[best].node, "step %d: heap popped %d, model says %d", step,
                       n ? ((struct timer *)n)->id : -1, best);
          queued[best] = 0;
        }
      }
    }
    size_t count = 0;
    for (int k = 0; k < N; k++) count += (size_t)queued[k];
    cr_assert_eq(asx_timer_heap_len(&h), count);
  }
  asx_timer_heap_destroy(&h);
  free(seq_model);
  free(queued);
  free(t);
}

/* Work-stealing deque: owner LIFO / thief FIFO order, bounds, steal-half, and a stress test in
 * which an owner and several thieves deliver every item exactly once. Also the injection queue. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "asx/base.h"
#include "ll/injectq.h"
#include "ll/wsdeque.h"

TestSuite(wsdeque, .timeout = 120);
TestSuite(injectq, .timeout = 120);

#define ITEM(i) ((void *)(uintptr_t)(i))
#define IDX(p) ((size_t)(uintptr_t)(p))

Test(wsdeque, init_rejects_bad_capacity) {
  asx_wsdeque d;
  cr_assert_eq(asx_wsdeque_init(&d, 0), ASX_EINVAL);
  cr_assert_eq(asx_wsdeque_init(&d, 1), ASX_EINVAL);
  cr_assert_eq(asx_wsdeque_init(&d, 6), ASX_EINVAL);
  cr_assert_eq(asx_wsdeque_init(NULL, 8), ASX_EINVAL);
  cr_assert_eq(asx_wsdeque_init(&d, 8), 0);
  cr_assert_eq(asx_wsdeque_capacity(&d), 8);
  asx_wsdeque_destroy(&d);
}

Test(wsdeque, owner_lifo_thief_fifo_and_bounds) {
  asx_wsdeque d;
  cr_assert_eq(asx_wsdeque_init(&d, 4), 0);
  cr_assert_null(asx_wsdeque_pop(&d));
  cr_assert_null(asx_wsdeque_steal(&d));
  for (int i = 1; i <= 4; i++) cr_assert(asx_wsdeque_push(&d, ITEM(i)));
  cr_assert_not(asx_wsdeque_push(&d, ITEM(5)), "capacity 4: the fifth push fails");
  cr_assert_eq(asx_wsdeque_len(&d), 4);
  cr_assert_eq(IDX(asx_wsdeque_pop(&d)), 4, "owner pops the newest");
  cr_assert_eq(IDX(asx_wsdeque_steal(&d)), 1, "thief steals the oldest");
  cr_assert(asx_wsdeque_push(&d, ITEM(6)));
  cr_assert(asx_wsdeque_push(&d, ITEM(7)), "room again after pop and steal (ring wraps)");
  cr_assert_not(asx_wsdeque_push(&d, ITEM(8)));
  cr_assert_eq(IDX(asx_wsdeque_steal(&d)), 2);
  cr_assert_eq(IDX(asx_wsdeque_pop(&d)), 7);
  cr_assert_eq(IDX(asx_wsdeque_pop(&d)), 6);
  cr_assert_eq(IDX(asx_wsdeque_pop(&d)), 3);
  cr_assert_null(asx_wsdeque_pop(&d));
  cr_assert_eq(asx_wsdeque_len(&d), 0);
  asx_wsdeque_destroy(&d);
}

Test(wsdeque, steal_into_takes_half) {
  asx_wsdeque v, dst;
  cr_assert_eq(asx_wsdeque_init(&v, 16), 0);
  cr_assert_eq(asx_wsdeque_init(&dst, 16), 0);
  for (int i = 1; i <= 9; i++) asx_wsdeque_push(&v, ITEM(i));
  void *first = asx_wsdeque_steal_into(&v, &dst);
  cr_assert_eq(IDX(first), 1, "the oldest item is returned to run now");
  cr_assert_eq(asx_wsdeque_len(&dst), 4, "ceil(9/2) = 5 taken: one returned, four moved");
  cr_assert_eq(asx_wsdeque_len(&v), 4);
  for (int i = 5; i >= 2; i--) cr_assert_eq(IDX(asx_wsdeque_pop(&dst)), (size_t)i);
  for (int i = 9; i >= 6; i--) cr_assert_eq(IDX(asx_wsdeque_pop(&v)), (size_t)i);
  cr_assert_null(asx_wsdeque_steal_into(&v, &dst), "nothing to steal");
  asx_wsdeque_push(&v, ITEM(42));
  cr_assert_eq(IDX(asx_wsdeque_steal_into(&v, &dst)), 42, "a single item is stolen too");
  cr_assert_eq(asx_wsdeque_len(&dst), 0);
  /* dst nearly full: only what fits is moved, nothing is lost. */
  asx_wsdeque small;
  cr_assert_eq(asx_wsdeque_init(&small, 2), 0);
  asx_wsdeque_push(&small, ITEM(100));
  for (int i = 1; i <= 10; i++) asx_wsdeque_push(&v, ITEM(i));
  cr_assert_eq(IDX(asx_wsdeque_steal_into(&v, &small)), 1);
  cr_assert_eq(asx_wsdeque_len(&small), 2);
  cr_assert_eq(asx_wsdeque_len(&v), 8);
  asx_wsdeque_destroy(&small);
  asx_wsdeque_destroy(&v);
  asx_wsdeque_destroy(&dst);
}

/* ---- stress: one owner, several thieves ------------------------------------------------------ */
#define STRESS_ITEMS 200000
#define THIEVES 3
struct stress {
  asx_wsdeque victim;
  _Atomic unsigned char *seen; /* per item: how many times it was delivered */
  _Atomic int owner_done;
  _Atomic size_t duplicates;
  size_t owner_count;
  size_t thief_count[THIEVES];
  size_t thief_batches[THIEVES];
};
struct thief_arg {
  struct stress *s;
  int id;
};

static void deliver(struct stress *s, void *item) {
  size_t i = IDX(item);
  if (atomic_fetch_add(&s->seen[i], 1) != 0) atomic_fetch_add(&s->duplicates, 1);
}

static void *thief(void *p) {
  struct thief_arg *a = p;
  struct stress *s = a->s;
  asx_wsdeque mine;
  cr_assert_eq(asx_wsdeque_init(&mine, 64), 0);
  for (unsigned spin = 0;; spin++) {
    void *item = (spin & 1) ? asx_wsdeque_steal(&s->victim) : asx_wsdeque_steal_into(&s->victim, &mine);
    if (item != NULL) {
      deliver(s, item);
      a->s->thief_count[a->id]++;
      size_t got = 0;
      for (void *x; (x = asx_wsdeque_pop(&mine)) != NULL; got++) deliver(s, x);
      a->s->thief_count[a->id] += got;
      if (got) a->s->thief_batches[a->id]++;
    } else if (atomic_load(&s->owner_done) && asx_wsdeque_len(&s->victim) == 0) {
      break;
    } else {
      sched_yield();
    }
  }
  asx_wsdeque_destroy(&mine);
  return NULL;
}

Test(wsdeque, stress_every_item_exactly_once) {
  struct stress *s = calloc(1, sizeof *s);
  s->seen = calloc(STRESS_ITEMS + 1, 1);
  cr_assert_eq(asx_wsdeque_init(&s->victim, 256), 0);
  pthread_t th[THIEVES];
  struct thief_arg args[THIEVES];
  for (int i = 0; i < THIEVES; i++) {
    args[i] = (struct thief_arg){s, i};
    cr_assert_eq(pthread_create(&th[i], NULL, thief, &args[i]), 0);
  }
  /* The owner pushes 1..N, popping every third push and whenever the ring is full. */
  for (size_t i = 1; i <= STRESS_ITEMS; i++) {
    while (!asx_wsdeque_push(&s->victim, ITEM(i))) {
      void *x = asx_wsdeque_pop(&s->victim);
      if (x) {
        deliver(s, x);
        s->owner_count++;
      }
    }
    if (i % 3 == 0) {
      void *x = asx_wsdeque_pop(&s->victim);
      if (x) {
        deliver(s, x);
        s->owner_count++;
      }
    }
  }
  for (void *x; (x = asx_wsdeque_pop(&s->victim)) != NULL;) {
    deliver(s, x);
    s->owner_count++;
  }
  atomic_store(&s->owner_done, 1);
  for (int i = 0; i < THIEVES; i++) pthread_join(th[i], NULL);

  size_t total = s->owner_count, missing = 0;
  for (int i = 0; i < THIEVES; i++) total += s->thief_count[i];
  for (size_t i = 1; i <= STRESS_ITEMS; i++) missing += atomic_load(&s->seen[i]) == 0;
  cr_assert_eq(atomic_load(&s->duplicates), 0, "items delivered twice");
  cr_assert_eq(missing, 0, "items lost");
  cr_assert_eq(total, STRESS_ITEMS, "owner %zu + thieves %zu/%zu/%zu", s->owner_count, s->thief_count[0],
               s->thief_count[1], s->thief_count[2]);
  cr_log_info("owner %zu, thieves %zu %zu %zu (batches %zu %zu %zu)", s->owner_count, s->thief_count[0],
              s->thief_count[1], s->thief_count[2], s->thief_batches[0], s->thief_batches[1], s->thief_batches[2]);
  asx_wsdeque_destroy(&s->victim);
  free((void *)s->seen);
  free(s);
}

/* ---- stress: every thread owns a deque and steals from the others (the scheduler's pattern) ----
 * Threads 0 and 1 produce in bursts faster than they consume; 2 and 3 only steal (into their own
 * deques, from which anyone may steal again). Every deque is both a victim and a destination. */
#define MESH_THREADS 4
#define MESH_PRODUCERS 2
#define MESH_ITEMS_PER_THREAD 50000
struct mesh {
  asx_wsdeque dq[MESH_THREADS];
  _Atomic unsigned char *seen;
  _Atomic size_t delivered;
  _Atomic size_t duplicates;
  _Atomic int started; /* start gate: nobody produces before every thread runs */
  size_t ran[MESH_THREADS];
  size_t stolen_batches[MESH_THREADS];
};
struct mesh_arg {
  struct mesh *m;
  int id;
};

static void mesh_run(struct mesh *m, int id, void *item) {
  size_t i = IDX(item);
  for (volatile int spin = 0; spin < 2000; spin++) {
  } /* a little work per item, so that thieves get scheduled while producers still have a backlog */
  if (atomic_fetch_add(&m->seen[i], 1) != 0) atomic_fetch_add(&m->duplicates, 1);
  atomic_fetch_add(&m->delivered, 1);
  m->ran[id]++;
}

static void *mesh_worker(void *p) {
  struct mesh_arg *a = p;
  struct mesh *m = a->m;
  asx_wsdeque *mine = &m->dq[a->id];
  size_t next = a->id < MESH_PRODUCERS ? 0 : MESH_ITEMS_PER_THREAD; /* thieves produce nothing */
  const size_t total = (size_t)MESH_PRODUCERS * MESH_ITEMS_PER_THREAD;
  unsigned victim = (unsigned)a->id;
  int failed_rounds = 0;
  atomic_fetch_add(&m->started, 1);
  while (atomic_load(&m->started) < MESH_THREADS) sched_yield();
  while (atomic_load(&m->delivered) < total) {
    /* Producers keep their deque full and only pop when it is full (or when they are done
     * producing), so a thief that gets the CPU always finds a backlog to steal half of. */
    bool full = false;
    for (int k = 0; k < 8 && next < MESH_ITEMS_PER_THREAD; k++) {
      void *item = ITEM((size_t)a->id * MESH_ITEMS_PER_THREAD + next + 1);
      if (!asx_wsdeque_push(mine, item)) {
        full = true;
        break;
      }
      next++;
    }
    if (full || next == MESH_ITEMS_PER_THREAD) {
      void *x = asx_wsdeque_pop(mine);
      if (x != NULL) {
        mesh_run(m, a->id, x);
        continue;
      }
    } else {
      continue;
    }
    victim = (victim + 1) % MESH_THREADS;
    if (victim == (unsigned)a->id) continue;
    void *x = asx_wsdeque_steal_into(&m->dq[victim], mine);
    if (x != NULL) {
      m->stolen_batches[a->id]++;
      mesh_run(m, a->id, x);
      failed_rounds = 0;
    } else if (++failed_rounds >= MESH_THREADS - 1) {
      failed_rounds = 0;
      sched_yield(); /* every victim looked empty */
    }
  }
  return NULL;
}

Test(wsdeque, stress_mesh_owners_and_thieves) {
  struct mesh *m = calloc(1, sizeof *m);
  const size_t total = (size_t)MESH_PRODUCERS * MESH_ITEMS_PER_THREAD;
  m->seen = calloc(total + 1, 1);
  for (int i = 0; i < MESH_THREADS; i++) cr_assert_eq(asx_wsdeque_init(&m->dq[i], 64), 0);
  pthread_t th[MESH_THREADS];
  struct mesh_arg args[MESH_THREADS];
  for (int i = 0; i < MESH_THREADS; i++) {
    args[i] = (struct mesh_arg){m, i};
    cr_assert_eq(pthread_create(&th[i], NULL, mesh_worker, &args[i]), 0);
  }
  for (int i = 0; i < MESH_THREADS; i++) pthread_join(th[i], NULL);
  size_t missing = 0, ran = 0;
  for (size_t i = 1; i <= total; i++) missing += atomic_load(&m->seen[i]) != 1;
  for (int i = 0; i < MESH_THREADS; i++) ran += m->ran[i];
  cr_assert_eq(atomic_load(&m->duplicates), 0);
  cr_assert_eq(missing, 0, "items not delivered exactly once");
  cr_assert_eq(ran, total);
  for (int i = 0; i < MESH_THREADS; i++) cr_assert_eq(asx_wsdeque_len(&m->dq[i]), 0);
  /* How much was stolen depends on the OS scheduler (2 shared cores): reported, not asserted. */
  cr_log_info("ran %zu %zu %zu %zu, steal batches %zu %zu %zu %zu", m->ran[0], m->ran[1], m->ran[2], m->ran[3],
              m->stolen_batches[0], m->stolen_batches[1], m->stolen_batches[2], m->stolen_batches[3]);
  for (int i = 0; i < MESH_THREADS; i++) asx_wsdeque_destroy(&m->dq[i]);
  free((void *)m->seen);
  free(m);
}

/* ---- injection queue ------------------------------------------------------------------------- */
struct node {
  asx_qnode q;
  int producer;
  int seq;
};

Test(injectq, fifo_and_len) {
  asx_injectq q;
  asx_injectq_init(&q);
  struct node n[5];
  cr_assert_null(asx_injectq_pop(&q));
  for (int i = 0; i < 5; i++) {
    n[i].seq = i;
    asx_injectq_push(&q, &n[i].q);
  }
  cr_assert_eq(asx_injectq_len(&q), 5);
  for (int i = 0; i < 5; i++) {
    struct node *x = (struct node *)asx_injectq_pop(&q);
    cr_assert_eq(x, &n[i]);
  }
  cr_assert_null(asx_injectq_pop(&q));
  cr_assert_eq(asx_injectq_len(&q), 0);
  asx_injectq_push(&q, &n[0].q); /* usable again after draining */
  cr_assert_eq(asx_injectq_pop(&q), &n[0].q);
  asx_injectq_destroy(&q);
}

#define PRODUCERS 3
#define CONSUMERS 2
#define PER_PRODUCER 30000
struct mpmc {
  asx_injectq q;
  struct node *nodes; /* PRODUCERS * PER_PRODUCER */
  _Atomic int consumed;
  _Atomic int order_violations;
  _Atomic unsigned char *seen;
};
struct role {
  struct mpmc *m;
  int id;
};

static void *producer(void *p) {
  struct role *r = p;
  for (int i = 0; i < PER_PRODUCER; i++) asx_injectq_push(&r->m->q, &r->m->nodes[r->id * PER_PRODUCER + i].q);
  return NULL;
}

static void *consumer(void *p) {
  struct role *r = p;
  int last[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) last[i] = -1;
  while (atomic_load(&r->m->consumed) < PRODUCERS * PER_PRODUCER) {
    struct node *n = (struct node *)asx_injectq_pop(&r->m->q);
    if (n == NULL) {
      sched_yield();
      continue;
    }
    atomic_fetch_add(&r->m->seen[n->producer * PER_PRODUCER + n->seq], 1);
    if (n->seq <= last[n->producer]) atomic_fetch_add(&r->m->order_violations, 1); /* FIFO per producer */
    last[n->producer] = n->seq;
    atomic_fetch_add(&r->m->consumed, 1);
  }
  return NULL;
}

Test(injectq, mpmc_each_node_once_in_producer_order) {
  struct mpmc m;
  asx_injectq_init(&m.q);
  m.nodes = calloc(PRODUCERS * PER_PRODUCER, sizeof *m.nodes);
  m.seen = calloc(PRODUCERS * PER_PRODUCER, 1);
  atomic_init(&m.consumed, 0);
  atomic_init(&m.order_violations, 0);
  for (int p = 0; p < PRODUCERS; p++)
    for (int i = 0; i < PER_PRODUCER; i++) m.nodes[p * PER_PRODUCER + i] = (struct node){{NULL}, p, i};
  pthread_t th[PRODUCERS + CONSUMERS];
  struct role roles[PRODUCERS + CONSUMERS];
  for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
    roles[i] = (struct role){&m, i < PRODUCERS ? i : i - PRODUCERS};
    cr_assert_eq(pthread_create(&th[i], NULL, i < PRODUCERS ? producer : consumer, &roles[i]), 0);
  }
  for (int i = 0; i < PRODUCERS + CONSUMERS; i++) pthread_join(th[i], NULL);
  cr_assert_eq(atomic_load(&m.order_violations), 0);
  for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++) cr_assert_eq(atomic_load(&m.seen[i]), 1, "node %d", i);
  cr_assert_eq(asx_injectq_len(&m.q), 0);
  cr_assert_null(asx_injectq_pop(&m.q));
  asx_injectq_destroy(&m.q);
  free((void *)m.seen);
  free(m.nodes);
}

/* Builds reply trees from decoder events. Nothing is allocated from an announced length: blob
 * storage and element arrays grow geometrically as data arrives, capped by what was announced.
 * Every event handler is atomic so that an ASX_ENOMEM can be retried with the same event. */
#include <string.h>

#include "redis_internal.h"

/* A reply node with the private bookkeeping behind the public view. */
typedef struct node {
  asx_redis_reply pub; /* first member: a node* is an asx_redis_reply* */
  const asx_allocator *alloc;
  size_t str_cap;
  size_t elem_cap;
  bool str_in_node; /* str lives in the node's own block (line values) */
} node;

struct asx_redis_i_tree {
  const asx_allocator *alloc;
  unsigned max_depth;
  asx_redis_reply *root;   /* the top-level value being built */
  node **open;             /* open aggregate at each depth */
  uint64_t *expect;        /* total elements the open aggregate will hold */
  asx_redis_reply **attr;  /* a finished attribute waiting for the next value, per depth */
  node *blob;              /* the open blob, if any */
  uint64_t blob_total;     /* its announced payload length */
  asx_redis_reply *done;   /* finished reply, until taken */
};

static void node_free(asx_redis_reply *r) {
  if (!r) return;
  node *nd = (node *)r;
  asx_redis_reply_free(r->attribute);
  for (size_t i = 0; i < r->n; i++) asx_redis_reply_free(r->elements[i]);
  asx_free(nd->alloc, r->elements);
  if (!nd->str_in_node) asx_free(nd->alloc, (void *)r->str);
  asx_free(nd->alloc, nd);
}

void asx_redis_reply_free(asx_redis_reply *r) { node_free(r); }

int asx_redis_i_tree_new(asx_redis_i_tree **out, const asx_allocator *a, unsigned max_depth) {
  asx_redis_i_tree *t = asx_calloc(a, 1, sizeof *t);
  if (!t) return ASX_ENOMEM;
  t->alloc = a;
  t->max_depth = max_depth;
  t->open = asx_calloc(a, max_depth, sizeof *t->open);
  t->expect = asx_calloc(a, max_depth, sizeof *t->expect);
  t->attr = asx_calloc(a, (size_t)max_depth + 1, sizeof *t->attr);
  if (!t->open || !t->expect || !t->attr) {
    asx_redis_i_tree_free(t);
    return ASX_ENOMEM;
  }
  *out = t;
  return 0;
}

void asx_redis_i_tree_reset(asx_redis_i_tree *t) {
  /* Non-attribute nodes hang from the root; attribute nodes are attached to nothing until the
   * value they annotate begins, so they are freed on their own. Deepest first: freeing an open
   * attribute frees the open nodes below it, which must not be looked at afterwards. */
  for (unsigned i = t->max_depth; i-- > 0;) {
    if (t->open[i] && t->open[i]->pub.type == ASX_REDIS_ATTRIBUTE) node_free(&t->open[i]->pub);
    t->open[i] = NULL;
  }
  for (unsigned i = 0; i <= t->max_depth; i++) {
    node_free(t->attr[i]);
    t->attr[i] = NULL;
  }
  node_free(t->root);
  node_free(t->done);
  t->root = NULL;
  t->done = NULL;
  t->blob = NULL;
}

void asx_redis_i_tree_free(asx_redis_i_tree *t) {
  if (!t) return;
  if (t->open && t->expect && t->attr) asx_redis_i_tree_reset(t);
  asx_free(t->alloc, t->open);
  asx_free(t->alloc, t->expect);
  asx_free(t->alloc, t->attr);
  asx_free(t->alloc, t);
}

asx_redis_reply *asx_redis_i_tree_take(asx_redis_i_tree *t) {
  asx_redis_reply *r = t->done;
  t->done = NULL;
  return r;
}

static node *node_new(asx_redis_i_tree *t, const asx_redis_event *ev) {
  node *nd = asx_calloc(t->alloc, 1, sizeof *nd);
  if (!nd) return NULL;
  nd->alloc = t->alloc;
  nd->pub.type = ev->type;
  nd->pub.wire = ev->wire;
  return nd;
}

/* Makes room for one more element in the aggregate open at `depth`. */
static int reserve_element(asx_redis_i_tree *t, unsigned depth) {
  node *p = t->open[depth];
  if (p->pub.n < p->elem_cap) return 0;
  uint64_t want = p->elem_cap ? (uint64_t)p->elem_cap * 2 : 4;
  if (want > t->expect[depth]) want = t->expect[depth];
  if (want < p->pub.n + 1) want = p->pub.n + 1;
  if (want > SIZE_MAX / sizeof(asx_redis_reply *)) return ASX_ENOMEM;
  asx_redis_reply **e = asx_realloc(t->alloc, p->pub.elements, (size_t)want * sizeof *e);
  if (!e) return ASX_ENOMEM;
  p->pub.elements = e;
  p->elem_cap = (size_t)want;
  return 0;
}

/* Hangs a new (non-attribute) value at `depth`; hands it the pending attribute. */
static int attach(asx_redis_i_tree *t, unsigned depth, node *nd) {
  if (depth == 0) {
    t->root = &nd->pub;
  } else {
    int rc = reserve_element(t, depth - 1);
    if (rc) return rc;
    node *p = t->open[depth - 1];
    p->pub.elements[p->pub.n++] = &nd->pub;
  }
  nd->pub.attribute = t->attr[depth];
  t->attr[depth] = NULL;
  return 0;
}

static int on_value(asx_redis_i_tree *t, const asx_redis_event *ev) {
  /* A line value's text is bounded by max_line and never grows: it lives in the node's block.
   * The text is kept for integers and doubles too (what the server actually sent). */
  size_t len = ev->type == ASX_REDIS_NULL ? 0 : ev->data.len;
  node *nd = asx_calloc(t->alloc, 1, sizeof *nd + len + 1);
  if (!nd) return ASX_ENOMEM;
  nd->alloc = t->alloc;
  asx_redis_reply *r = &nd->pub;
  r->type = ev->type;
  r->wire = ev->wire;
  r->integer = ev->integer;
  r->dbl = ev->dbl;
  char *s = (char *)(nd + 1);
  if (len) memcpy(s, ev->data.ptr, len);
  s[len] = '\0';
  r->str = s;
  r->len = len;
  nd->str_in_node = true;
  int rc = attach(t, ev->depth, nd);
  if (rc) asx_free(t->alloc, nd);
  return rc;
}

static int on_blob_begin(asx_redis_i_tree *t, const asx_redis_event *ev) {
  node *nd = node_new(t, ev);
  if (!nd) return ASX_ENOMEM;
  /* A small first block; the rest grows with the data actually received. */
  size_t cap = (size_t)(ev->len < 64 ? ev->len : 64) + 1;
  char *s = asx_alloc(t->alloc, cap);
  if (!s) {
    asx_free(t->alloc, nd);
    return ASX_ENOMEM;
  }
  s[0] = '\0';
  nd->pub.str = s;
  nd->str_cap = cap;
  memcpy(nd->pub.format, ev->format, sizeof nd->pub.format);
  int rc = attach(t, ev->depth, nd);
  if (rc) {
    asx_free(t->alloc, s);
    asx_free(t->alloc, nd);
    return rc;
  }
  t->blob = nd;
  t->blob_total = ev->len;
  return 0;
}

static int on_blob_data(asx_redis_i_tree *t, const asx_redis_event *ev) {
  node *nd = t->blob;
  size_t need = nd->pub.len + ev->data.len + 1;
  if (need > nd->str_cap) {
    uint64_t cap = (uint64_t)nd->str_cap * 2;
    if (cap > t->blob_total + 1) cap = t->blob_total + 1;
    if (cap < need) cap = need;
    char *s = asx_realloc(t->alloc, (void *)nd->pub.str, (size_t)cap);
    if (!s) return ASX_ENOMEM;
    nd->pub.str = s;
    nd->str_cap = (size_t)cap;
  }
  char *s = (char *)nd->pub.str;
  memcpy(s + nd->pub.len, ev->data.ptr, ev->data.len);
  nd->pub.len += ev->data.len;
  s[nd->pub.len] = '\0';
  return 0;
}

static int on_agg_begin(asx_redis_i_tree *t, const asx_redis_event *ev) {
  unsigned depth = ev->depth;
  uint64_t count = ev->len;
  if (ev->type == ASX_REDIS_MAP || ev->type == ASX_REDIS_ATTRIBUTE) count *= 2;
  if (ev->type == ASX_REDIS_ATTRIBUTE && t->attr[depth]) {
    /* Consecutive attributes before one value merge into one map: the tree stays shallow. */
    node *nd = (node *)t->attr[depth];
    t->attr[depth] = NULL;
    t->open[depth] = nd;
    t->expect[depth] = nd->pub.n + count;
    return 0;
  }
  node *nd = node_new(t, ev);
  if (!nd) return ASX_ENOMEM;
  if (ev->type != ASX_REDIS_ATTRIBUTE) {
    int rc = attach(t, depth, nd);
    if (rc) {
      asx_free(t->alloc, nd);
      return rc;
    }
  }
  t->open[depth] = nd;
  t->expect[depth] = count;
  return 0;
}

static int on_agg_end(asx_redis_i_tree *t, const asx_redis_event *ev) {
  node *nd = t->open[ev->depth];
  t->open[ev->depth] = NULL;
  if (nd->pub.type == ASX_REDIS_ATTRIBUTE) t->attr[ev->depth] = &nd->pub;
  return 0;
}

int asx_redis_i_tree_event(void *ud, const asx_redis_event *ev) {
  asx_redis_i_tree *t = ud;
  switch (ev->kind) {
    case ASX_REDIS_EV_VALUE: return on_value(t, ev);
    case ASX_REDIS_EV_BLOB_BEGIN: return on_blob_begin(t, ev);
    case ASX_REDIS_EV_BLOB_DATA: return on_blob_data(t, ev);
    case ASX_REDIS_EV_BLOB_END: t->blob = NULL; return 0;
    case ASX_REDIS_EV_AGG_BEGIN: return on_agg_begin(t, ev);
    case ASX_REDIS_EV_AGG_END: return on_agg_end(t, ev);
    case ASX_REDIS_EV_REPLY_END:
      t->done = t->root;
      t->root = NULL;
      return 0;
  }
  return ASX_EINVAL;
}

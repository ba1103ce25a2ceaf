#include "cl_pump.h"

int cl_pump_run(asx_cx *cx, const cl_pump *p) {
  asx_buf mine;
  asx_buf_init(&mine, p->alloc, 0);
  int rc = 0;
  for (;;) {
    pthread_mutex_lock(p->mu);
    while (rc == 0 && *p->err == 0 && p->out->len == 0)
      rc = cl_wait(cx, p->mu, p->writer_wq, ASX_UNLIMITED);
    if (rc || *p->err) {
      pthread_mutex_unlock(p->mu);
      break;
    }
    /* Take everything queued so far: one write for many requests. */
    asx_buf t = *p->out;
    *p->out = mine;
    mine = t;
    if (p->space_wq) cl_wake_all(p->space_wq);
    pthread_mutex_unlock(p->mu);
    if (p->batches) atomic_fetch_add(p->batches, 1);
    if (p->bytes) atomic_fetch_add(p->bytes, mine.len);
    rc = asx_stream_write_all(cx, p->stream, mine.data, mine.len, NULL);
    if (rc) break;
    asx_buf_reset(&mine);
  }
  asx_buf_free(&mine);
  return rc;
}

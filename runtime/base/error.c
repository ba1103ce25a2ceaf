#include "asx/base.h"

struct err_entry {
  int code;
  const char *name;
  const char *text;
};

static const struct err_entry err_table[] = {
  {ASX_OK, "ASX_OK", "success"},
  {ASX_EINVAL, "ASX_EINVAL", "invalid argument"},
  {ASX_ENOMEM, "ASX_ENOMEM", "out of memory"},
  {ASX_EAGAIN, "ASX_EAGAIN", "needs more input or would block"},
  {ASX_ECANCELED, "ASX_ECANCELED", "operation canceled"},
  {ASX_ETIMEDOUT, "ASX_ETIMEDOUT", "timed out"},
  {ASX_ECLOSED, "ASX_ECLOSED", "closed"},
  {ASX_EBUSY, "ASX_EBUSY", "resource busy"},
  {ASX_ENOTFOUND, "ASX_ENOTFOUND", "not found"},
  {ASX_EEXIST, "ASX_EEXIST", "already exists"},
  {ASX_ESTATE, "ASX_ESTATE", "not allowed in the current state"},
  {ASX_ELIMIT, "ASX_ELIMIT", "configured limit exceeded"},
  {ASX_EPROTO, "ASX_EPROTO", "protocol violation"},
  {ASX_EUNSUPPORTED, "ASX_EUNSUPPORTED", "not supported"},
  {ASX_EOVERFLOW, "ASX_EOVERFLOW", "does not fit or arithmetic overflow"},
  {ASX_EIO, "ASX_EIO", "I/O error"},
  {ASX_ECONNRESET, "ASX_ECONNRESET", "connection reset by peer"},
  {ASX_EPIPE, "ASX_EPIPE", "broken pipe"},
  {ASX_ETLS, "ASX_ETLS", "TLS error"},
  {ASX_EDEADLINE, "ASX_EDEADLINE", "deadline exceeded"},
  {ASX_EBUDGET, "ASX_EBUDGET", "budget exhausted"},
  {ASX_ECHECKSUM, "ASX_ECHECKSUM", "checksum mismatch"},
  {ASX_EDECOMPRESS, "ASX_EDECOMPRESS", "invalid compressed data"},
  {ASX_EPANIC, "ASX_EPANIC", "task panicked"},
  {ASX_EFATAL, "ASX_EFATAL", "fatal error"},
  {ASX_ECORRUPT, "ASX_ECORRUPT", "internal state corrupt"},
};

static const struct err_entry *find(int code) {
  for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++) {
    if (err_table[i].code == code) return &err_table[i];
  }
  return NULL;
}

const char *asx_strerror(int err) {
  const struct err_entry *e = find(err);
  return e ? e->text : "unknown error";
}

const char *asx_errname(int err) {
  const struct err_entry *e = find(err);
  return e ? e->name : "ASX_E?";
}

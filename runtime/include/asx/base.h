/* asx base: error codes, the allocator hook, byte slices and a bounded growable buffer.
 * Every asx module (including the sans-I/O codecs) builds on this header alone. */
#ifndef ASX_BASE_H
#define ASX_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: every asx function that can fail returns 0 or one of these (negative).
 * Codes above ASX_EFATAL are recoverable: the object stays usable. Fatal codes (<= ASX_EFATAL)
 * leave the object poisoned: afterwards only its _free function may be called. */
enum asx_error {
  ASX_OK = 0,
  ASX_EINVAL = -1,         /* invalid argument from the caller */
  ASX_ENOMEM = -2,         /* allocation failed; nothing already accepted was lost */
  ASX_EAGAIN = -3,         /* needs more input, or would block */
  ASX_ECANCELED = -4,      /* the operation observed a cancellation request */
  ASX_ETIMEDOUT = -5,      /* an explicit timeout expired */
  ASX_ECLOSED = -6,        /* the peer, channel or object is closed */
  ASX_EBUSY = -7,          /* resource in use */
  ASX_ENOTFOUND = -8,      /* no such item */
  ASX_EEXIST = -9,         /* item already exists */
  ASX_ESTATE = -10,        /* call not allowed in the current state */
  ASX_ELIMIT = -11,        /* a configured size or count limit was exceeded */
  ASX_EPROTO = -12,        /* the peer or input violated the protocol */
  ASX_EUNSUPPORTED = -13,  /* valid but not supported by this implementation */
  ASX_EOVERFLOW = -14,     /* output does not fit, or an arithmetic overflow */
  ASX_EIO = -15,           /* operating-system I/O error */
  ASX_ECONNRESET = -16,    /* connection reset by peer */
  ASX_EPIPE = -17,         /* write to a closed connection */
  ASX_ETLS = -18,          /* TLS failure (handshake, verification, record) */
  ASX_EDEADLINE = -19,     /* the budget's deadline passed */
  ASX_EBUDGET = -20,       /* the budget's poll or cost quota is exhausted */
  ASX_ECHECKSUM = -21,     /* checksum or hash mismatch */
  ASX_EDECOMPRESS = -22,   /* compressed data is invalid */
  ASX_EPANIC = -23,        /* the task panicked */
  ASX_EFATAL = -1000,      /* generic fatal error: object must be freed */
  ASX_ECORRUPT = -1001     /* internal invariant broken (a bug in asx): object must be freed */
};

/* Thread-safe, pure. */
static inline bool asx_err_is_fatal(int err) { return err <= ASX_EFATAL; }

/* Thread-safe; returns a static human-readable description ("unknown error" for others). */
const char *asx_strerror(int err);

/* Thread-safe; returns the static symbolic name, e.g. "ASX_ELIMIT" ("ASX_E?" for others). */
const char *asx_errname(int err);

/* Allocator hook. Every asx object that allocates takes a `const asx_allocator *`; NULL means
 * the C library allocator. The hook must stay valid for the lifetime of the objects using it and
 * must be thread-safe if those objects are used from several threads. */
typedef struct asx_allocator {
  void *(*alloc)(void *ud, size_t size);
  void *(*realloc)(void *ud, void *ptr, size_t size);
  void (*free)(void *ud, void *ptr);
  void *ud;
} asx_allocator;

/* Thread-safe; the C library allocator as an asx_allocator. */
const asx_allocator *asx_allocator_default(void);

/* Thread-safe if `a` is; `a` may be NULL (default allocator). Return NULL on failure. */
void *asx_alloc(const asx_allocator *a, size_t size);
/* Thread-safe if `a` is; zeroed; NULL on failure or when nmemb*size overflows. */
void *asx_calloc(const asx_allocator *a, size_t nmemb, size_t size);
/* Thread-safe if `a` is; like realloc; on failure `ptr` is untouched and NULL is returned. */
void *asx_realloc(const asx_allocator *a, void *ptr, size_t size);
/* Thread-safe if `a` is; NULL is ignored. */
void asx_free(const asx_allocator *a, void *ptr);

/* A borrowed byte range. The owner of the bytes decides its lifetime. */
typedef struct asx_slice {
  const uint8_t *ptr;
  size_t len;
} asx_slice;

/* Thread-safe, pure: compare a slice with a NUL-terminated string (exact / ASCII-case-insensitive). */
bool asx_slice_eq(asx_slice s, const char *str);
bool asx_slice_eq_nocase(asx_slice s, const char *str);

/* A growable byte buffer with a hard size cap. A value type: the caller owns the struct and the
 * bytes; not thread-safe. Growth never exceeds `max` (ASX_ELIMIT) and never allocates from an
 * unchecked length. On any error the existing contents are unchanged. */
typedef struct asx_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t max;                 /* hard cap on len; 0 at init means SIZE_MAX */
  const asx_allocator *alloc; /* NULL = default */
} asx_buf;

/* Caller owns `b`; sets an empty buffer. */
void asx_buf_init(asx_buf *b, const asx_allocator *a, size_t max);
/* Ensures room for `extra` more bytes: 0, ASX_ELIMIT (len+extra > max) or ASX_ENOMEM. */
int asx_buf_reserve(asx_buf *b, size_t extra);
/* Appends n bytes (0, ASX_ELIMIT, ASX_ENOMEM). */
int asx_buf_append(asx_buf *b, const void *p, size_t n);
/* Appends one byte. */
int asx_buf_append_byte(asx_buf *b, uint8_t byte);
/* Appends a NUL-terminated string without the NUL. */
int asx_buf_append_str(asx_buf *b, const char *s);
/* Appends printf-formatted text (no NUL kept in len). */
int asx_buf_appendf(asx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n > len drops all). */
void asx_buf_consume(asx_buf *b, size_t n);
/* Empties the buffer but keeps its storage. */
void asx_buf_reset(asx_buf *b);
/* Releases the storage; the buffer is empty and reusable afterwards. */
void asx_buf_free(asx_buf *b);

/* The HTTP date format (IMF-fixdate, RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
#define ASX_IMF_FIXDATE_LEN 29
/* Thread-safe, pure: formats unix_sec (seconds since 1970-01-01 UTC; years past 9999 clamp to
 * 9999-12-31 23:59:59) into out with a NUL; returns ASX_IMF_FIXDATE_LEN. */
size_t asx_imf_fixdate(uint64_t unix_sec, char out[ASX_IMF_FIXDATE_LEN + 1]);
/* A value type, not thread-safe: the last date formatted, so a server formats once per second. */
typedef struct asx_imf_date_cache {
  uint64_t sec; /* UINT64_MAX = empty */
  char text[ASX_IMF_FIXDATE_LEN + 1];
} asx_imf_date_cache;
/* Empties the cache. */
void asx_imf_date_cache_init(asx_imf_date_cache *c);
/* The date of unix_sec as a slice of c->text (valid until the next call with another second). */
asx_slice asx_imf_date_cached(asx_imf_date_cache *c, uint64_t unix_sec);

#ifdef __cplusplus
}
#endif
#endif /* ASX_BASE_H */

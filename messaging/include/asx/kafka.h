/* asx Kafka wire protocol codec (sans-I/O).
 *
 * Primitives (bounded reader / sticky-error writer), CRC32C, request header v1/v2 and response
 * header v0/v1, a length-prefixed response framer, a correlation-id tracker, record batch v2
 * encode/decode (none/gzip/lz4/zstd) and request encoders + response decoders for ApiVersions,
 * Metadata, Produce, Fetch, ListOffsets, FindCoordinator, OffsetCommit and OffsetFetch.
 *
 * Memory: decoded structures live in an asx_kafka_decoder's arena until asx_kafka_decoder_reset
 * (or _free). Strings and bytes in decoded structures are borrowed slices pointing into the input
 * buffer (or into decompressed data owned by the arena): keep the input alive while using them. */
#ifndef ASX_KAFKA_H
#define ASX_KAFKA_H

#include "asx/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ------------------------------------------------------------------------------ */

enum asx_kafka_api_key {
  ASX_KAFKA_PRODUCE = 0,
  ASX_KAFKA_FETCH = 1,
  ASX_KAFKA_LIST_OFFSETS = 2,
  ASX_KAFKA_METADATA = 3,
  ASX_KAFKA_OFFSET_COMMIT = 8,
  ASX_KAFKA_OFFSET_FETCH = 9,
  ASX_KAFKA_FIND_COORDINATOR = 10,
  ASX_KAFKA_API_VERSIONS = 18
};

/* Record batch attributes (low bits: compression codec). */
enum asx_kafka_codec {
  ASX_KAFKA_CODEC_NONE = 0,
  ASX_KAFKA_CODEC_GZIP = 1,
  ASX_KAFKA_CODEC_SNAPPY = 2, /* recognised, not supported (ASX_EUNSUPPORTED) */
  ASX_KAFKA_CODEC_LZ4 = 3,
  ASX_KAFKA_CODEC_ZSTD = 4
};
#define ASX_KAFKA_ATTR_CODEC_MASK 0x07
#define ASX_KAFKA_ATTR_LOG_APPEND_TIME 0x08
#define ASX_KAFKA_ATTR_TRANSACTIONAL 0x10
#define ASX_KAFKA_ATTR_CONTROL 0x20

/* ---- limits --------------------------------------------------------------------------------- */

/* Value type. Every decoder checks these before allocating or trusting a length. */
typedef struct asx_kafka_limits {
  size_t max_response_size;       /* framed response body; default 100 MiB */
  size_t max_record_batch_size;   /* one batch, also caps decompressed records; default 1 MiB */
  uint32_t max_records_per_batch; /* default 100000 */
  uint32_t max_array_elements;    /* any protocol array; default 1000000 */
  uint32_t max_string_length;     /* any (compact) string; default 32767 */
  uint32_t max_tagged_fields;     /* tagged fields per structure; default 64 */
  uint32_t max_headers_per_record; /* default 1024 */
} asx_kafka_limits;

/* Thread-safe, pure: the documented defaults. */
asx_kafka_limits asx_kafka_limits_default(void);

/* ---- borrowed strings, bytes, UUIDs ---------------------------------------------------------- */

/* A borrowed, not NUL-terminated string; len == -1 means null. */
typedef struct asx_kafka_str {
  const char *ptr;
  int32_t len;
} asx_kafka_str;

/* Borrowed bytes; len == -1 means null. */
typedef struct asx_kafka_bytes {
  const uint8_t *ptr;
  int32_t len;
} asx_kafka_bytes;

typedef struct asx_kafka_uuid {
  uint8_t b[16];
} asx_kafka_uuid;

/* Thread-safe, pure: compares a (non-null) asx_kafka_str with a C string. */
bool asx_kafka_str_eq(asx_kafka_str s, const char *c);

/* ---- reader: bounded, sticky error ---------------------------------------------------------- */

/* A cursor over a borrowed byte slice. Every read checks bounds; the first failure sets `err`
 * (ASX_EPROTO truncated/malformed, ASX_ELIMIT over a limit) and names the field; later reads
 * return zero values. Value type, not thread-safe. */
typedef struct asx_kafka_reader {
  const uint8_t *data;
  size_t len;
  size_t pos;
  int err;
  const char *err_field;  /* name of the field that failed (static string) */
  const char *err_reason; /* what was wrong (static string) */
  const asx_kafka_limits *limits;
} asx_kafka_reader;

/* Caller owns r; `limits` NULL = defaults (borrowed, must outlive r). */
void asx_kafka_reader_init(asx_kafka_reader *r, const void *data, size_t len,
                           const asx_kafka_limits *limits);
/* Not thread-safe (r). Fixed-width big-endian integers. */
int8_t asx_kafka_read_int8(asx_kafka_reader *r, const char *field);
int16_t asx_kafka_read_int16(asx_kafka_reader *r, const char *field);
int32_t asx_kafka_read_int32(asx_kafka_reader *r, const char *field);
int64_t asx_kafka_read_int64(asx_kafka_reader *r, const char *field);
uint32_t asx_kafka_read_uint32(asx_kafka_reader *r, const char *field);
bool asx_kafka_read_bool(asx_kafka_reader *r, const char *field);
/* Not thread-safe (r). Zigzag varint (max 5 bytes) / varlong (max 10) / unsigned varint. */
int32_t asx_kafka_read_varint(asx_kafka_reader *r, const char *field);
int64_t asx_kafka_read_varlong(asx_kafka_reader *r, const char *field);
uint32_t asx_kafka_read_uvarint(asx_kafka_reader *r, const char *field);
/* Not thread-safe (r). Strings: int16 length (classic) or uvarint length+1 (compact). A null
 * where the schema forbids one, a negative length or a length over max_string_length is an error.*/
asx_kafka_str asx_kafka_read_string(asx_kafka_reader *r, bool compact, bool nullable,
                                    const char *field);
/* Not thread-safe (r). Bytes: int32 length (classic) or uvarint length+1 (compact). */
asx_kafka_bytes asx_kafka_read_bytes(asx_kafka_reader *r, bool compact, bool nullable,
                                     const char *field);
/* Not thread-safe (r). Array length: -1 for a null array (only if nullable). The count is checked
 * against max_array_elements and against the bytes left (each element needs >= min_elem_size). */
int32_t asx_kafka_read_array_len(asx_kafka_reader *r, bool compact, bool nullable,
                                 size_t min_elem_size, const char *field);
/* Not thread-safe (r). Reads and skips a tagged-field section (count bounded by the limits). */
void asx_kafka_read_tagged_fields(asx_kafka_reader *r, const char *field);
/* Not thread-safe (r). */
asx_kafka_uuid asx_kafka_read_uuid(asx_kafka_reader *r, const char *field);
/* Not thread-safe (r). Borrows n raw bytes (NULL and error when fewer are left). */
const uint8_t *asx_kafka_read_raw(asx_kafka_reader *r, size_t n, const char *field);

/* ---- writer: sticky error over an asx_buf ----------------------------------------------------- */

/* Appends to a caller-owned asx_buf; the first failure (ASX_ENOMEM/ASX_ELIMIT/ASX_EINVAL) sticks
 * in `err`. Value type, not thread-safe. */
typedef struct asx_kafka_writer {
  asx_buf *buf;
  int err;
} asx_kafka_writer;

/* Caller owns w and buf. */
void asx_kafka_writer_init(asx_kafka_writer *w, asx_buf *buf);
/* Not thread-safe (w). */
void asx_kafka_write_int8(asx_kafka_writer *w, int8_t v);
void asx_kafka_write_int16(asx_kafka_writer *w, int16_t v);
void asx_kafka_write_int32(asx_kafka_writer *w, int32_t v);
void asx_kafka_write_int64(asx_kafka_writer *w, int64_t v);
void asx_kafka_write_uint32(asx_kafka_writer *w, uint32_t v);
void asx_kafka_write_bool(asx_kafka_writer *w, bool v);
void asx_kafka_write_varint(asx_kafka_writer *w, int32_t v);
void asx_kafka_write_varlong(asx_kafka_writer *w, int64_t v);
void asx_kafka_write_uvarint(asx_kafka_writer *w, uint32_t v);
/* Not thread-safe (w). `s` NULL writes a null string (EINVAL if !nullable); len from strlen. */
void asx_kafka_write_string(asx_kafka_writer *w, bool compact, bool nullable, const char *s);
/* Not thread-safe (w). `p` NULL writes null bytes (EINVAL if !nullable). */
void asx_kafka_write_bytes(asx_kafka_writer *w, bool compact, bool nullable, const void *p,
                           size_t n);
/* Not thread-safe (w). n == -1 writes a null array. */
void asx_kafka_write_array_len(asx_kafka_writer *w, bool compact, int32_t n);
/* Not thread-safe (w). Writes an empty tagged-field section (a single 0). */
void asx_kafka_write_empty_tags(asx_kafka_writer *w);
void asx_kafka_write_uuid(asx_kafka_writer *w, const asx_kafka_uuid *u);
void asx_kafka_write_raw(asx_kafka_writer *w, const void *p, size_t n);

/* ---- CRC32C --------------------------------------------------------------------------------- */

/* Thread-safe, pure. Castagnoli CRC; pass 0 to start, the previous result to continue. */
uint32_t asx_kafka_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- decoder (arena + limits + error message) ------------------------------------------------ */

typedef struct asx_kafka_decoder asx_kafka_decoder;

/* Caller owns *out (free with _free); limits copied (NULL = defaults); alloc NULL = libc.
 * Not thread-safe: one decoder per thread/connection. */
int asx_kafka_decoder_new(asx_kafka_decoder **out, const asx_kafka_limits *limits,
                          const asx_allocator *alloc);
/* Frees the decoder and everything it decoded. NULL is ignored. */
void asx_kafka_decoder_free(asx_kafka_decoder *d);
/* Not thread-safe (d). Releases every structure decoded so far (keeps limits). */
void asx_kafka_decoder_reset(asx_kafka_decoder *d);
/* Not thread-safe (d). Borrowed message for the last error ("" if none), naming the field. */
const char *asx_kafka_decoder_error_message(const asx_kafka_decoder *d);
/* Not thread-safe (d). Borrowed pointer to the decoder's limits. */
const asx_kafka_limits *asx_kafka_decoder_limits(const asx_kafka_decoder *d);

/* ---- headers, versions, framing, correlation ids ---------------------------------------------- */

typedef struct asx_kafka_request_header {
  int16_t api_key;
  int16_t api_version;
  int32_t correlation_id;
  const char *client_id; /* NULL = null */
} asx_kafka_request_header;

/* Thread-safe, pure. Lowest/highest version this codec implements for an API (-1 if none). */
int asx_kafka_api_min_version(int16_t api_key);
int asx_kafka_api_max_version(int16_t api_key);
/* Thread-safe, pure. Whether (key, version) uses flexible encoding (compact types, tags). */
bool asx_kafka_is_flexible(int16_t api_key, int16_t api_version);
/* Thread-safe, pure. Request header version (1 or 2) / response header version (0 or 1); ApiVersions
 * responses always use header v0. Negative ASX_EUNSUPPORTED for an unknown key/version. */
int asx_kafka_request_header_version(int16_t api_key, int16_t api_version);
int asx_kafka_response_header_version(int16_t api_key, int16_t api_version);

/* Not thread-safe (out). Writes the 4-byte size placeholder and the request header; *frame_start
 * receives the position of the size field for asx_kafka_request_end. */
int asx_kafka_request_begin(asx_buf *out, const asx_kafka_request_header *h, size_t *frame_start);
/* Not thread-safe (out). Patches the size field; ASX_ELIMIT if the frame exceeds INT32_MAX. */
int asx_kafka_request_end(asx_buf *out, size_t frame_start);

/* Thread-safe, pure. Decodes a response header (v0: correlation id; v1: + tagged fields) at the
 * start of `frame` (the bytes after the size prefix); *header_len = bytes used. */
int asx_kafka_response_header_decode(const uint8_t *frame, size_t len, int header_version,
                                     int32_t *correlation_id, size_t *header_len);

/* Assembles length-prefixed frames from a byte stream. Opaque; not thread-safe. */
typedef struct asx_kafka_framer asx_kafka_framer;
/* Caller owns *out; max_frame is the body limit (0 = 100 MiB default); alloc NULL = libc. */
int asx_kafka_framer_new(asx_kafka_framer **out, size_t max_frame, const asx_allocator *alloc);
/* NULL is ignored. */
void asx_kafka_framer_free(asx_kafka_framer *f);
/* Not thread-safe (f). Consumes bytes up to the end of the current frame (*consumed <= len).
 * Returns 0 when a frame is complete (fetch it with _frame), ASX_EAGAIN when more input is needed,
 * ASX_EPROTO for a negative size, ASX_ELIMIT for a size over max_frame, ASX_ENOMEM. */
int asx_kafka_framer_feed(asx_kafka_framer *f, const uint8_t *data, size_t len, size_t *consumed);
/* Not thread-safe (f). Borrows the complete frame body (valid until _next/_free). */
int asx_kafka_framer_frame(const asx_kafka_framer *f, const uint8_t **body, size_t *len);
/* Not thread-safe (f). Drops the complete frame so the next one can be assembled. */
void asx_kafka_framer_next(asx_kafka_framer *f);

/* Outstanding requests: correlation id -> (api key, version). Opaque; not thread-safe. */
typedef struct asx_kafka_tracker asx_kafka_tracker;
/* Caller owns *out; capacity = max outstanding requests (>= 1); alloc NULL = libc. */
int asx_kafka_tracker_new(asx_kafka_tracker **out, size_t capacity, const asx_allocator *alloc);
/* NULL is ignored. */
void asx_kafka_tracker_free(asx_kafka_tracker *t);
/* Not thread-safe (t). Allocates the next correlation id for (key, version): ASX_ELIMIT if full. */
int asx_kafka_tracker_begin(asx_kafka_tracker *t, int16_t api_key, int16_t api_version,
                            int32_t *correlation_id);
/* Not thread-safe (t). Removes the entry; ASX_ENOTFOUND for an unknown id. */
int asx_kafka_tracker_complete(asx_kafka_tracker *t, int32_t correlation_id, int16_t *api_key,
                               int16_t *api_version);
/* Not thread-safe (t). Number of outstanding requests. */
size_t asx_kafka_tracker_pending(const asx_kafka_tracker *t);

/* ---- record batch v2 -------------------------------------------------------------------------- */

typedef struct asx_kafka_record_header {
  asx_kafka_bytes key; /* header keys are never null on the wire */
  asx_kafka_bytes value;
} asx_kafka_record_header;

typedef struct asx_kafka_record {
  int8_t attributes;
  int64_t timestamp_delta;
  int32_t offset_delta;
  asx_kafka_bytes key;
  asx_kafka_bytes value;
  const asx_kafka_record_header *headers;
  int32_t header_count;
} asx_kafka_record;

typedef struct asx_kafka_record_batch {
  int64_t base_offset;
  int32_t batch_length; /* decode: as read; encode: computed */
  int32_t partition_leader_epoch;
  int8_t magic;         /* always 2 */
  uint32_t crc;         /* decode: as read (verified); encode: computed */
  int16_t attributes;   /* codec | timestamp type | transactional | control */
  int32_t last_offset_delta; /* encode: taken from the last record when there is one */
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;    /* -1 when not idempotent */
  int16_t producer_epoch; /* -1 */
  int32_t base_sequence;  /* -1 */
  const asx_kafka_record *records;
  int32_t record_count;
} asx_kafka_record_batch;

/* Not thread-safe (d). Decodes one batch at the start of data. ASX_EAGAIN: data holds only part of
 * a batch (normal at the end of a Fetch record set); ASX_ECHECKSUM: CRC mismatch; ASX_ELIMIT: the
 * batch, its record count or its decompressed size exceeds the limits; ASX_EUNSUPPORTED: magic != 2
 * or snappy. *consumed = bytes of the batch. Results live in d's arena. */
int asx_kafka_record_batch_decode(asx_kafka_decoder *d, const uint8_t *data, size_t len,
                                  asx_kafka_record_batch *out, size_t *consumed);
/* Not thread-safe (out). Appends one encoded batch (compressing per attributes). On error out is
 * unchanged. alloc is used for compression scratch (NULL = libc). */
int asx_kafka_record_batch_encode(asx_buf *out, const asx_kafka_record_batch *batch,
                                  const asx_allocator *alloc);

/* ---- API structures --------------------------------------------------------------------------- */

typedef struct asx_kafka_int32_array {
  const int32_t *items;
  int32_t count; /* -1 = null */
} asx_kafka_int32_array;

/* ApiVersions (key 18), v0-v3. */
typedef struct asx_kafka_api_versions_request {
  const char *client_software_name;    /* v3+ */
  const char *client_software_version; /* v3+ */
} asx_kafka_api_versions_request;
typedef struct asx_kafka_api_version_range {
  int16_t api_key, min_version, max_version;
} asx_kafka_api_version_range;
typedef struct asx_kafka_api_versions_response {
  int16_t error_code;
  const asx_kafka_api_version_range *api_keys;
  int32_t api_key_count;
  int32_t throttle_time_ms; /* v1+ */
} asx_kafka_api_versions_response;

/* Metadata (key 3), v0-v12. */
typedef struct asx_kafka_metadata_request {
  const char *const *topics; /* topic names */
  int32_t topic_count;       /* -1 = all topics */
  bool allow_auto_topic_creation;             /* v4+ */
  bool include_cluster_authorized_operations; /* v8-v10 */
  bool include_topic_authorized_operations;   /* v8+ */
} asx_kafka_metadata_request;
typedef struct asx_kafka_metadata_broker {
  int32_t node_id;
  asx_kafka_str host;
  int32_t port;
  asx_kafka_str rack; /* v1+ */
} asx_kafka_metadata_broker;
typedef struct asx_kafka_metadata_partition {
  int16_t error_code;
  int32_t partition_index;
  int32_t leader_id;
  int32_t leader_epoch; /* v7+, else -1 */
  asx_kafka_int32_array replica_nodes, isr_nodes, offline_replicas; /* offline: v5+ */
} asx_kafka_metadata_partition;
typedef struct asx_kafka_metadata_topic {
  int16_t error_code;
  asx_kafka_str name;       /* nullable v12+ */
  asx_kafka_uuid topic_id;  /* v10+ */
  bool is_internal;         /* v1+ */
  const asx_kafka_metadata_partition *partitions;
  int32_t partition_count;
  int32_t topic_authorized_operations; /* v8+ */
} asx_kafka_metadata_topic;
typedef struct asx_kafka_metadata_response {
  int32_t throttle_time_ms; /* v3+ */
  const asx_kafka_metadata_broker *brokers;
  int32_t broker_count;
  asx_kafka_str cluster_id; /* v2+ */
  int32_t controller_id;    /* v1+ */
  const asx_kafka_metadata_topic *topics;
  int32_t topic_count;
  int32_t cluster_authorized_operations; /* v8-v10 */
} asx_kafka_metadata_response;

/* Produce (key 0), v0-v11 (v10+ only add tagged fields, which are skipped). `records` are
 * encoded record batches (asx_kafka_record_batch_encode). */
typedef struct asx_kafka_produce_partition {
  int32_t index;
  const uint8_t *records; /* NULL = null records */
  size_t records_len;
} asx_kafka_produce_partition;
typedef struct asx_kafka_produce_topic {
  const char *name;
  const asx_kafka_produce_partition *partitions;
  int32_t partition_count;
} asx_kafka_produce_topic;
typedef struct asx_kafka_produce_request {
  const char *transactional_id; /* v3+, NULL = null */
  int16_t acks;
  int32_t timeout_ms;
  const asx_kafka_produce_topic *topics;
  int32_t topic_count;
} asx_kafka_produce_request;
typedef struct asx_kafka_produce_record_error {
  int32_t batch_index;
  asx_kafka_str message;
} asx_kafka_produce_record_error;
typedef struct asx_kafka_produce_partition_response {
  int32_t index;
  int16_t error_code;
  int64_t base_offset;
  int64_t log_append_time_ms; /* v2+, else -1 */
  int64_t log_start_offset;   /* v5+, else -1 */
  const asx_kafka_produce_record_error *record_errors; /* v8+ */
  int32_t record_error_count;
  asx_kafka_str error_message; /* v8+ */
} asx_kafka_produce_partition_response;
typedef struct asx_kafka_produce_topic_response {
  asx_kafka_str name;
  const asx_kafka_produce_partition_response *partitions;
  int32_t partition_count;
} asx_kafka_produce_topic_response;
typedef struct asx_kafka_produce_response {
  const asx_kafka_produce_topic_response *topics;
  int32_t topic_count;
  int32_t throttle_time_ms; /* v1+ */
} asx_kafka_produce_response;

/* Fetch (key 1), v0-v16 (v13+ names topics by id, v15+ drops replica_id). */
typedef struct asx_kafka_fetch_partition {
  int32_t partition;
  int32_t current_leader_epoch; /* v9+ */
  int64_t fetch_offset;
  int32_t last_fetched_epoch; /* v12+ */
  int64_t log_start_offset;   /* v5+ */
  int32_t partition_max_bytes;
} asx_kafka_fetch_partition;
typedef struct asx_kafka_fetch_topic {
  const char *name; /* v0-v12 */
  const asx_kafka_fetch_partition *partitions;
  int32_t partition_count;
  asx_kafka_uuid topic_id; /* v13+ (from Metadata v10+) */
} asx_kafka_fetch_topic;
typedef struct asx_kafka_fetch_forgotten {
  const char *name; /* v7-v12 */
  const int32_t *partitions;
  int32_t partition_count;
  asx_kafka_uuid topic_id; /* v13+ */
} asx_kafka_fetch_forgotten;
typedef struct asx_kafka_fetch_request {
  int32_t replica_id; /* v0-v14; -1 for consumers */
  int32_t max_wait_ms, min_bytes;
  int32_t max_bytes;       /* v3+ */
  int8_t isolation_level;  /* v4+ */
  int32_t session_id, session_epoch; /* v7+ */
  const asx_kafka_fetch_topic *topics;
  int32_t topic_count;
  const asx_kafka_fetch_forgotten *forgotten; /* v7+ */
  int32_t forgotten_count;
  const char *rack_id; /* v11+ (NULL = "") */
} asx_kafka_fetch_request;
typedef struct asx_kafka_fetch_aborted {
  int64_t producer_id, first_offset;
} asx_kafka_fetch_aborted;
typedef struct asx_kafka_fetch_partition_response {
  int32_t partition_index;
  int16_t error_code;
  int64_t high_watermark;
  int64_t last_stable_offset; /* v4+, else -1 */
  int64_t log_start_offset;   /* v5+, else -1 */
  const asx_kafka_fetch_aborted *aborted; /* v4+ */
  int32_t aborted_count;                  /* -1 = null */
  int32_t preferred_read_replica;         /* v11+, else -1 */
  asx_kafka_bytes records; /* record batches; iterate with asx_kafka_record_batch_decode */
} asx_kafka_fetch_partition_response;
typedef struct asx_kafka_fetch_topic_response {
  asx_kafka_str topic; /* v0-v12 (null from v13) */
  const asx_kafka_fetch_partition_response *partitions;
  int32_t partition_count;
  asx_kafka_uuid topic_id; /* v13+ */
} asx_kafka_fetch_topic_response;
typedef struct asx_kafka_fetch_response {
  int32_t throttle_time_ms; /* v1+ */
  int16_t error_code;       /* v7+ */
  int32_t session_id;       /* v7+ */
  const asx_kafka_fetch_topic_response *topics;
  int32_t topic_count;
} asx_kafka_fetch_response;

/* ListOffsets (key 2), v0-v7. */
typedef struct asx_kafka_list_offsets_partition {
  int32_t partition_index;
  int32_t current_leader_epoch; /* v4+ */
  int64_t timestamp;            /* -1 latest, -2 earliest */
  int32_t max_num_offsets;      /* v0 only */
} asx_kafka_list_offsets_partition;
typedef struct asx_kafka_list_offsets_topic {
  const char *name;
  const asx_kafka_list_offsets_partition *partitions;
  int32_t partition_count;
} asx_kafka_list_offsets_topic;
typedef struct asx_kafka_list_offsets_request {
  int32_t replica_id;
  int8_t isolation_level; /* v2+ */
  const asx_kafka_list_offsets_topic *topics;
  int32_t topic_count;
} asx_kafka_list_offsets_request;
typedef struct asx_kafka_list_offsets_partition_response {
  int32_t partition_index;
  int16_t error_code;
  const int64_t *old_style_offsets; /* v0 only */
  int32_t old_style_offset_count;
  int64_t timestamp;    /* v1+, else -1 */
  int64_t offset;       /* v1+, else -1 */
  int32_t leader_epoch; /* v4+, else -1 */
} asx_kafka_list_offsets_partition_response;
typedef struct asx_kafka_list_offsets_topic_response {
  asx_kafka_str name;
  const asx_kafka_list_offsets_partition_response *partitions;
  int32_t partition_count;
} asx_kafka_list_offsets_topic_response;
typedef struct asx_kafka_list_offsets_response {
  int32_t throttle_time_ms; /* v2+ */
  const asx_kafka_list_offsets_topic_response *topics;
  int32_t topic_count;
} asx_kafka_list_offsets_response;

/* FindCoordinator (key 10), v0-v6 (v4+ batches several keys of one type, KIP-699). */
typedef struct asx_kafka_find_coordinator_request {
  const char *key;  /* v0-v3; from v4 on, used as the single key when coordinator_keys is NULL */
  int8_t key_type;  /* v1+: 0 group, 1 transaction */
  const char *const *coordinator_keys; /* v4+ */
  int32_t coordinator_key_count;
} asx_kafka_find_coordinator_request;
typedef struct asx_kafka_coordinator {
  asx_kafka_str key;
  int32_t node_id;
  asx_kafka_str host;
  int32_t port;
  int16_t error_code;
  asx_kafka_str error_message;
} asx_kafka_coordinator;
typedef struct asx_kafka_find_coordinator_response {
  int32_t throttle_time_ms; /* v1+ */
  int16_t error_code;          /* v0-v3 */
  asx_kafka_str error_message; /* v1-v3 */
  int32_t node_id;             /* v0-v3 */
  asx_kafka_str host;          /* v0-v3 */
  int32_t port;                /* v0-v3 */
  const asx_kafka_coordinator *coordinators; /* v4+ */
  int32_t coordinator_count;
} asx_kafka_find_coordinator_response;

/* OffsetCommit (key 8), v0-v8. */
typedef struct asx_kafka_offset_commit_partition {
  int32_t partition_index;
  int64_t committed_offset;
  int32_t committed_leader_epoch; /* v6+ */
  int64_t commit_timestamp;       /* v1 only */
  const char *committed_metadata; /* NULL = null */
} asx_kafka_offset_commit_partition;
typedef struct asx_kafka_offset_commit_topic {
  const char *name;
  const asx_kafka_offset_commit_partition *partitions;
  int32_t partition_count;
} asx_kafka_offset_commit_topic;
typedef struct asx_kafka_offset_commit_request {
  const char *group_id;
  int32_t generation_id;          /* v1+ */
  const char *member_id;          /* v1+ */
  const char *group_instance_id;  /* v7+, NULL = null */
  int64_t retention_time_ms;      /* v2-v4 */
  const asx_kafka_offset_commit_topic *topics;
  int32_t topic_count;
} asx_kafka_offset_commit_request;
typedef struct asx_kafka_partition_error {
  int32_t partition_index;
  int16_t error_code;
} asx_kafka_partition_error;
typedef struct asx_kafka_offset_commit_topic_response {
  asx_kafka_str name;
  const asx_kafka_partition_error *partitions;
  int32_t partition_count;
} asx_kafka_offset_commit_topic_response;
typedef struct asx_kafka_offset_commit_response {
  int32_t throttle_time_ms; /* v3+ */
  const asx_kafka_offset_commit_topic_response *topics;
  int32_t topic_count;
} asx_kafka_offset_commit_response;

/* OffsetFetch (key 9), v0-v9 (v8+ asks for several groups at once; v9 adds KIP-848 member
 * fields). */
typedef struct asx_kafka_offset_fetch_topic {
  const char *name;
  const int32_t *partition_indexes;
  int32_t partition_count;
} asx_kafka_offset_fetch_topic;
typedef struct asx_kafka_offset_fetch_group {
  const char *group_id;
  const char *member_id; /* v9+, NULL = null */
  int32_t member_epoch;  /* v9+, -1 outside the KIP-848 protocol */
  const asx_kafka_offset_fetch_topic *topics;
  int32_t topic_count; /* -1 = all topics */
} asx_kafka_offset_fetch_group;
typedef struct asx_kafka_offset_fetch_request {
  const char *group_id;  /* v0-v7; from v8 on, the single group when groups is NULL */
  const asx_kafka_offset_fetch_topic *topics;
  int32_t topic_count;   /* -1 = all topics (v2+) */
  bool require_stable;   /* v7+ */
  const asx_kafka_offset_fetch_group *groups; /* v8+ */
  int32_t group_count;
} asx_kafka_offset_fetch_request;
typedef struct asx_kafka_offset_fetch_partition_response {
  int32_t partition_index;
  int64_t committed_offset;
  int32_t committed_leader_epoch; /* v5+, else -1 */
  asx_kafka_str metadata;
  int16_t error_code;
} asx_kafka_offset_fetch_partition_response;
typedef struct asx_kafka_offset_fetch_topic_response {
  asx_kafka_str name;
  const asx_kafka_offset_fetch_partition_response *partitions;
  int32_t partition_count;
} asx_kafka_offset_fetch_topic_response;
typedef struct asx_kafka_offset_fetch_group_response {
  asx_kafka_str group_id;
  const asx_kafka_offset_fetch_topic_response *topics;
  int32_t topic_count;
  int16_t error_code;
} asx_kafka_offset_fetch_group_response;
typedef struct asx_kafka_offset_fetch_response {
  int32_t throttle_time_ms; /* v3+ */
  const asx_kafka_offset_fetch_topic_response *topics; /* v0-v7 */
  int32_t topic_count;
  int16_t error_code; /* v2-v7 */
  const asx_kafka_offset_fetch_group_response *groups; /* v8+ */
  int32_t group_count;
} asx_kafka_offset_fetch_response;

/* ---- request encoders --------------------------------------------------------------------------
 * Each appends one complete frame (size prefix, header, body) to `out`; h->api_key is ignored and
 * set from the function. ASX_EUNSUPPORTED for a version outside the supported range, ASX_EINVAL
 * for a missing required field or a negative count; on error `out` is unchanged. Not thread-safe
 * (out); the request structures are only read. */
int asx_kafka_encode_api_versions_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_api_versions_request *req);
int asx_kafka_encode_metadata_request(asx_buf *out, const asx_kafka_request_header *h,
                                      const asx_kafka_metadata_request *req);
int asx_kafka_encode_produce_request(asx_buf *out, const asx_kafka_request_header *h,
                                     const asx_kafka_produce_request *req);
int asx_kafka_encode_fetch_request(asx_buf *out, const asx_kafka_request_header *h,
                                   const asx_kafka_fetch_request *req);
int asx_kafka_encode_list_offsets_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_list_offsets_request *req);
int asx_kafka_encode_find_coordinator_request(asx_buf *out, const asx_kafka_request_header *h,
                                              const asx_kafka_find_coordinator_request *req);
int asx_kafka_encode_offset_commit_request(asx_buf *out, const asx_kafka_request_header *h,
                                           const asx_kafka_offset_commit_request *req);
int asx_kafka_encode_offset_fetch_request(asx_buf *out, const asx_kafka_request_header *h,
                                          const asx_kafka_offset_fetch_request *req);

/* ---- response decoders --------------------------------------------------------------------------
 * Each decodes a response body (the bytes after the response header) of the given version. Results
 * live in d's arena and borrow `body`. ASX_EPROTO malformed/truncated/trailing bytes, ASX_ELIMIT a
 * limit, ASX_EUNSUPPORTED version, ASX_ENOMEM; asx_kafka_decoder_error_message names the field.
 * Not thread-safe (d). */
int asx_kafka_decode_api_versions_response(asx_kafka_decoder *d, int16_t version,
                                           const uint8_t *body, size_t len,
                                           asx_kafka_api_versions_response *out);
int asx_kafka_decode_metadata_response(asx_kafka_decoder *d, int16_t version, const uint8_t *body,
                                       size_t len, asx_kafka_metadata_response *out);
int asx_kafka_decode_produce_response(asx_kafka_decoder *d, int16_t version, const uint8_t *body,
                                      size_t len, asx_kafka_produce_response *out);
int asx_kafka_decode_fetch_response(asx_kafka_decoder *d, int16_t version, const uint8_t *body,
                                    size_t len, asx_kafka_fetch_response *out);
int asx_kafka_decode_list_offsets_response(asx_kafka_decoder *d, int16_t version,
                                           const uint8_t *body, size_t len,
                                           asx_kafka_list_offsets_response *out);
int asx_kafka_decode_find_coordinator_response(asx_kafka_decoder *d, int16_t version,
                                               const uint8_t *body, size_t len,
                                               asx_kafka_find_coordinator_response *out);
int asx_kafka_decode_offset_commit_response(asx_kafka_decoder *d, int16_t version,
                                            const uint8_t *body, size_t len,
                                            asx_kafka_offset_commit_response *out);
int asx_kafka_decode_offset_fetch_response(asx_kafka_decoder *d, int16_t version,
                                           const uint8_t *body, size_t len,
                                           asx_kafka_offset_fetch_response *out);

/* Any supported response, tagged by API. */
typedef struct asx_kafka_response {
  int16_t api_key;
  int16_t api_version;
  int32_t correlation_id;
  union {
    asx_kafka_api_versions_response api_versions;
    asx_kafka_metadata_response metadata;
    asx_kafka_produce_response produce;
    asx_kafka_fetch_response fetch;
    asx_kafka_list_offsets_response list_offsets;
    asx_kafka_find_coordinator_response find_coordinator;
    asx_kafka_offset_commit_response offset_commit;
    asx_kafka_offset_fetch_response offset_fetch;
  } u;
} asx_kafka_response;

/* Not thread-safe (d). Decodes a body of the given API/version into the tagged union. */
int asx_kafka_decode_response_body(asx_kafka_decoder *d, int16_t api_key, int16_t version,
                                   const uint8_t *body, size_t len, asx_kafka_response *out);
/* Not thread-safe (d, t). Decodes a whole frame (after the size prefix): reads the correlation id,
 * looks it up in t (ASX_ENOTFOUND for an unknown id; the entry is removed), picks the header and
 * body schema from the tracked api key/version, decodes into out. */
int asx_kafka_decode_response(asx_kafka_decoder *d, asx_kafka_tracker *t, const uint8_t *frame,
                              size_t len, asx_kafka_response *out);

#ifdef __cplusplus
}
#endif
#endif /* ASX_KAFKA_H */

/* kinesis.h — a Kinesis Data Streams client (JSON 1.1 protocol, SigV4 via tp_aws).
 *
 * Wraps one tp_aws_client, so NOT thread-safe: one per thread. All calls are single attempts
 * except where noted: callers own retry policy (tp_backoff) and decide by tp_err_retryable().
 * Strings in results are owned by the result struct; free with the matching _free. */
#ifndef TP_KINESIS_H
#define TP_KINESIS_H

#include <stddef.h>
#include <stdint.h>

#include "tp/aws.h"
#include "tp/err.h"

typedef struct tp_kinesis tp_kinesis;

int tp_kinesis_new(const tp_aws_config *cfg, tp_kinesis **out) TP_MUSTCHECK;
void tp_kinesis_free(tp_kinesis *k); /* NULL-safe */

/* --- stream administration --- */
/* Creates the stream (TP_EEXIST if it exists). */
int tp_kinesis_create_stream(tp_kinesis *k, const char *stream, int shards, char *err, size_t errlen) TP_MUSTCHECK;
int tp_kinesis_delete_stream(tp_kinesis *k, const char *stream, char *err, size_t errlen) TP_MUSTCHECK;
/* status: "CREATING" | "ACTIVE" | "UPDATING" | "DELETING"; retention hours. */
int tp_kinesis_describe_summary(tp_kinesis *k, const char *stream, char status[32], int *retention_hours,
                                int *open_shards, char *err, size_t errlen) TP_MUSTCHECK;
/* Polls DescribeStreamSummary until ACTIVE or timeout_ms passes (TP_ETIMEDOUT). */
int tp_kinesis_wait_active(tp_kinesis *k, const char *stream, int timeout_ms, char *err, size_t errlen) TP_MUSTCHECK;
int tp_kinesis_increase_retention(tp_kinesis *k, const char *stream, int hours, char *err, size_t errlen) TP_MUSTCHECK;
/* new_starting_hash_key: decimal string. */
int tp_kinesis_split_shard(tp_kinesis *k, const char *stream, const char *shard_id, const char *new_starting_hash_key,
                           char *err, size_t errlen) TP_MUSTCHECK;

/* --- shards --- */
typedef struct tp_shard {
    char shard_id[128];
    char parent_shard_id[128];          /* "" if none */
    char adjacent_parent_shard_id[128]; /* "" if none */
    char starting_hash_key[48];         /* decimal, 0 .. 2^128-1 */
    char ending_hash_key[48];
    char starting_sequence[160];
    char ending_sequence[160]; /* "" while the shard is open */
} tp_shard;

typedef struct tp_shard_list {
    tp_shard *shards;
    size_t n;
} tp_shard_list;

/* ListShards, following NextToken until done. */
int tp_kinesis_list_shards(tp_kinesis *k, const char *stream, tp_shard_list *out, char *err, size_t errlen) TP_MUSTCHECK;
void tp_shard_list_free(tp_shard_list *l); /* NULL-safe, leaves it empty */

/* The 128-bit hash Kinesis maps a partition key with (MD5 of the key, big-endian), as decimal
 * string, and whether it lies in [start, end] of a shard (decimal strings). */
void tp_kinesis_hash_key(const char *pkey, size_t len, char out[48]);
int tp_kinesis_hash_in_range(const char *hash_dec, const char *start_dec, const char *end_dec);
/* 1 if dec is a decimal number in 0 .. 2^128-1 (a valid ExplicitHashKey). */
int tp_kinesis_hash_valid(const char *dec);
/* The NewStartingHashKey that splits [start, end] in half: start + (end - start) / 2 + 1, so the
 * children are [start, mid-1] and [mid, end]. TP_EINVAL unless start < end. */
int tp_kinesis_split_point(const char *start_dec, const char *end_dec, char out[48]) TP_MUSTCHECK;

/* --- producing --- */
typedef struct tp_put_entry {
    const void *data;
    size_t len;
    const char *partition_key;
    const char *explicit_hash_key; /* decimal or NULL */
} tp_put_entry;

typedef struct tp_put_result_entry {
    int err;                /* 0, or TP_ETHROTTLED / TP_EUNAVAIL / TP_EINTERNAL ... */
    char shard_id[128];     /* on success */
    char sequence[160];     /* on success */
    char error_code[96];    /* AWS ErrorCode on failure */
} tp_put_result_entry;

/* PutRecords (≤ 500 entries, ≤ 5 MiB). Returns 0 when the call was answered; then results[i]
 * says per entry whether it was stored (a partial failure leaves only those entries to resend).
 * A non-zero return means nothing is known to be stored (retry all per tp_err_retryable). */
int tp_kinesis_put_records(tp_kinesis *k, const char *stream, const tp_put_entry *entries, size_t n,
                           tp_put_result_entry *results, size_t *failed_count, char *err,
                           size_t errlen) TP_MUSTCHECK;

/* The same call driven by the caller's curl multi handle: start builds and signs the request
 * (entries are copied into the body) and prepares tp_kinesis_easy(k) (a CURL *; add it to the
 * multi); when curl reports it done, finish takes curl's result code and returns as
 * tp_kinesis_put_records does. One call per client at a time. */
int tp_kinesis_put_start(tp_kinesis *k, const char *stream, const tp_put_entry *entries, size_t n, char *err,
                         size_t errlen) TP_MUSTCHECK;
void *tp_kinesis_easy(tp_kinesis *k);
int tp_kinesis_put_finish(tp_kinesis *k, int curl_result, tp_put_result_entry *results, size_t *failed_count,
                          char *err, size_t errlen) TP_MUSTCHECK;

/* --- consuming --- */
typedef enum {
    TP_ITER_TRIM_HORIZON,
    TP_ITER_LATEST,
    TP_ITER_AT_SEQUENCE,
    TP_ITER_AFTER_SEQUENCE,
    TP_ITER_AT_TIMESTAMP
} tp_iterator_type;

/* *iterator_out is malloc'd (caller frees). sequence for AT/AFTER, timestamp_ms for AT_TIMESTAMP. */
int tp_kinesis_get_shard_iterator(tp_kinesis *k, const char *stream, const char *shard_id, tp_iterator_type type,
                                  const char *sequence, int64_t timestamp_ms, char **iterator_out, char *err,
                                  size_t errlen) TP_MUSTCHECK;

typedef struct tp_kinesis_record {
    char *data;            /* base64-decoded bytes, malloc'd (NUL-terminated for convenience) */
    size_t len;
    char *partition_key;   /* malloc'd */
    char sequence[160];
    int64_t arrival_ms;    /* ApproximateArrivalTimestamp */
} tp_kinesis_record;

typedef struct tp_get_records_result {
    tp_kinesis_record *records;
    size_t n;
    char *next_iterator;       /* malloc'd; NULL when the shard is closed and fully read */
    int64_t millis_behind;     /* MillisBehindLatest */
    /* Child shards announced when the end of a closed shard is reached (may be empty). */
    char (*child_shards)[128];
    size_t n_children;
} tp_get_records_result;

/* GetRecords (limit 1..10000). TP_ETHROTTLED when over the per-shard read limits,
 * TP_ENOTFOUND/TP_EINVAL on an expired iterator ("ExpiredIteratorException" → TP_ETIMEDOUT). */
int tp_kinesis_get_records(tp_kinesis *k, const char *iterator, int limit, tp_get_records_result *out, char *err,
                           size_t errlen) TP_MUSTCHECK;
void tp_get_records_result_free(tp_get_records_result *r); /* NULL-safe, leaves it empty */

#endif

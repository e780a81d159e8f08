/* kpl.h — the KPL aggregated-record format, so several events share one Kinesis record.
 *
 * Wire format (as the Kinesis Producer Library writes it, and KCL / AWS deaggregation
 * libraries read it): 4 magic bytes F3 89 9A C2, a protobuf AggregatedRecord
 *   message AggregatedRecord { repeated string partition_key_table = 1;
 *                              repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3; repeated Tag tags = 4; }
 * then the 16-byte MD5 of the protobuf bytes. A record without the magic is a plain record. */
#ifndef TP_KPL_H
#define TP_KPL_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

#define TP_KPL_MAGIC_LEN 4
#define TP_KPL_DIGEST_LEN 16

typedef struct tp_kpl_builder tp_kpl_builder;

/* A builder accumulates user records for one aggregated record. Owns its buffers. */
int tp_kpl_builder_new(tp_kpl_builder **out) TP_MUSTCHECK;
void tp_kpl_builder_free(tp_kpl_builder *b); /* NULL-safe */
void tp_kpl_builder_reset(tp_kpl_builder *b);
/* Bytes the aggregated record would take if rec were added now (to respect the 1 MiB limit). */
size_t tp_kpl_builder_size_with(const tp_kpl_builder *b, const char *pkey, size_t datalen);
size_t tp_kpl_builder_count(const tp_kpl_builder *b);
/* Add a user record (copies pkey and data). Partition keys are de-duplicated in the table. */
int tp_kpl_builder_add(tp_kpl_builder *b, const char *pkey, const void *data, size_t len) TP_MUSTCHECK;
/* Serialize: *out points into the builder (valid until the next add/reset/free). */
int tp_kpl_builder_finish(tp_kpl_builder *b, const uint8_t **out, size_t *outlen) TP_MUSTCHECK;

/* 1 if data starts with the magic (it may still fail to decode). */
int tp_kpl_is_aggregated(const void *data, size_t len);

/* Deaggregation callback: called once per user record, in order. data borrows from the
 * input. Return non-zero to stop (that value is returned by tp_kpl_deaggregate). */
typedef int (*tp_kpl_record_cb)(void *ctx, size_t index, const char *pkey, size_t pkey_len, const uint8_t *data,
                                size_t len);
/* Decode an aggregated record. Plain records (no magic) are passed through as one record with
 * pkey = outer_pkey. Bad MD5, truncated protobuf or out-of-range indexes → TP_ECORRUPT
 * (the callback has not been called for any record then: validation precedes delivery). */
int tp_kpl_deaggregate(const void *data, size_t len, const char *outer_pkey, tp_kpl_record_cb cb,
                       void *ctx) TP_MUSTCHECK;

#endif

/* lease.h — shard leases and instance heartbeats in PostgreSQL (tables from
 * db/migrations/002_processor_leases.sql).
 *
 * Every call borrows an open connection and runs one statement (no transaction of its own),
 * so the fenced calls can sit inside a sink's transaction. Times are the database's now(),
 * never a local clock, so instances with skewed clocks still agree on expiry.
 * TP_ECONFLICT from this module always means "the fence did not hold / someone moved first";
 * database trouble (including deadlocks) is TP_EUNAVAIL or TP_EINTERNAL. */
#ifndef TP_LEASE_H
#define TP_LEASE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "processor.h"
#include "tp/err.h"
#include "tp/kinesis.h"

/* Who may write a lease row: the owner at the counter it took the lease with. */
typedef struct tp_lease_fence {
    const char *consumer;
    const char *stream;
    const char *shard_id;
    const char *owner;
    int64_t counter;
} tp_lease_fence;

/* A lease row as the balancer sees it. */
typedef struct tp_lease_row {
    char stream[PROC_NAME_MAX];
    char shard_id[PROC_SHARD_MAX];
    char owner[PROC_NAME_MAX]; /* "" when free */
    int64_t counter;
    int available; /* free or expired: may be taken without stealing */
} tp_lease_row;

typedef struct tp_lease_rows {
    tp_lease_row *rows;
    size_t n;
} tp_lease_rows;
void tp_lease_rows_free(tp_lease_rows *r); /* NULL-safe, leaves it empty */

/* Where a newly taken lease resumes. */
typedef struct tp_lease_resume {
    int64_t counter;
    char checkpoint_seq[PROC_SEQ_MAX]; /* "" = nothing processed yet */
    int64_t checkpoint_sub;
    char pending_seq[PROC_SEQ_MAX];    /* "" = no pending flush */
    int64_t pending_sub;
} tp_lease_resume;

/* Upsert this instance's heartbeat. */
int tp_lease_heartbeat(PGconn *c, const char *instance_id, char *err, size_t errlen) TP_MUSTCHECK;
/* Remove this instance's heartbeat (clean shutdown). */
int tp_lease_deregister(PGconn *c, const char *instance_id, char *err, size_t errlen) TP_MUSTCHECK;
/* Instances heard from within window_ms (at least 1: this one). */
int tp_lease_live_instances(PGconn *c, int64_t window_ms, int *out, char *err, size_t errlen) TP_MUSTCHECK;

/* Insert a lease row per (consumer, shard) that is missing, with the shard's parents. */
int tp_lease_sync_shards(PGconn *c, const char *const *consumers, size_t nconsumers, const char *stream,
                         const tp_shard_list *shards, char *err, size_t errlen) TP_MUSTCHECK;

/* The consumer's leases that may be worked now: not finished, and every parent shard either
 * finished or unknown (trimmed). */
int tp_lease_list_eligible(PGconn *c, const char *consumer, tp_lease_rows *out, char *err,
                           size_t errlen) TP_MUSTCHECK;

/* Take a lease: free/expired (victim NULL) or stolen from victim. Succeeds only if the row
 * still has expected_counter (and victim as owner when stealing): then the counter goes up by
 * one and *out tells where to resume. TP_ECONFLICT when someone else moved first. */
int tp_lease_take(PGconn *c, const char *consumer, const char *stream, const char *shard_id, int64_t expected_counter,
                  const char *victim, const char *me, int64_t lease_ms, tp_lease_resume *out, char *err,
                  size_t errlen) TP_MUSTCHECK;
/* Extend the lease; TP_ECONFLICT when it is no longer ours. */
int tp_lease_renew(PGconn *c, const tp_lease_fence *f, int64_t lease_ms, char *err, size_t errlen) TP_MUSTCHECK;
/* Give the lease up (owner NULL) so any instance may take it at once. */
int tp_lease_release(PGconn *c, const tp_lease_fence *f, char *err, size_t errlen) TP_MUSTCHECK;

/* Fenced checkpoint: set the checkpoint to (seq, sub), clear any pending flush, and mark
 * the shard finished if finished. seq NULL keeps the checkpoint (finishing an empty tail).
 * TP_ECONFLICT when the fence does not hold (0 rows). */
int tp_lease_checkpoint(PGconn *c, const tp_lease_fence *f, const char *seq, int64_t sub, int finished, char *err,
                        size_t errlen) TP_MUSTCHECK;
/* Fenced: announce the end of the flush about to be written. */
int tp_lease_set_pending(PGconn *c, const tp_lease_fence *f, const char *seq, int64_t sub, char *err,
                         size_t errlen) TP_MUSTCHECK;

/* Housekeeping: delete seen_events older than retention_h hours (at most batch rows per
 * call; *deleted says how many) and heartbeats silent for an hour. */
int tp_lease_prune(PGconn *c, int64_t retention_h, int64_t batch, int64_t *deleted, char *err,
                   size_t errlen) TP_MUSTCHECK;

/* Run a statement expecting a command result (BEGIN/COMMIT/ROLLBACK). */
int tp_lease_exec(PGconn *c, const char *sql, char *err, size_t errlen) TP_MUSTCHECK;

#endif

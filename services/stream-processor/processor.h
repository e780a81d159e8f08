/* processor.h — what the stream processor's parts share: configuration, the process-wide
 * context, a shard worker, the user record a sink consumes, and the sink interface.
 *
 * Shape (docs/stream-processing.md): the coordinator (main thread) heartbeats, syncs shards
 * into processor.leases, renews / takes / steals leases per consumer and runs one reader
 * thread per held lease. A reader pulls GetRecords for its shard, deaggregates KPL records
 * and hands each response's user records to its consumer's sink (rollup: one PostgreSQL
 * transaction per response; archive: buffered gzip NDJSON objects in S3). Every sink commit
 * is fenced on (owner, lease_counter), so whoever lost a lease can no longer checkpoint.
 *
 * Ownership: proc_ctx owns the pool, metrics and config; workers borrow it. A worker owns its
 * Kinesis client and sink state; the coordinator owns the workers. */
#ifndef TP_PROCESSOR_H
#define TP_PROCESSOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tp/aws.h"
#include "tp/db.h"
#include "tp/err.h"
#include "tp/event.h"
#include "tp/metrics.h"

#define PROC_SEQ_MAX 160
#define PROC_SHARD_MAX 128
#define PROC_NAME_MAX 64

typedef struct proc_config {
    char *database_url;
    int64_t port;
    char *bind_addr;
    char *instance_id;
    char *streams;   /* "tenants,users,jobs" */
    char *consumers; /* "rollup,archive" */
    int64_t lease_ms;
    int64_t renew_ms;
    int64_t shard_sync_ms;
    int64_t get_limit;
    int64_t poll_idle_ms;
    int64_t poll_min_ms;
    int64_t db_pool;
    int64_t dedupe_retention_h;
    int64_t shutdown_flush_ms;
    char *archive_bucket;
    int archive_bucket_per_tenant;
    char *archive_key_template;
    char *archive_error_prefix;
    int64_t archive_max_bytes;
    int64_t archive_max_age_ms;
} proc_config;

typedef enum { PROC_CONSUMER_ROLLUP = 0, PROC_CONSUMER_ARCHIVE, PROC_CONSUMER__COUNT } proc_consumer;

const char *proc_consumer_name(proc_consumer c); /* "rollup" | "archive" */

typedef struct proc_ctx {
    const proc_config *cfg;   /* borrowed from main */
    tp_aws_config aws;
    tp_db_pool *pool;
    tp_metrics *metrics;
    atomic_int stopping;      /* SIGTERM seen: finish the batch, checkpoint, leave */
    atomic_int coordinator_ok; /* last lease cycle reached the database */
} proc_ctx;

/* One user record: a plain Kinesis record, or one record inside a KPL aggregate (sub is its
 * index; 0 for a plain record). data borrows from the GetRecords result. */
typedef struct proc_urec {
    const char *seq;
    int64_t sub;
    int64_t arrival_ms;
    const uint8_t *data;
    size_t len;
    const char *corrupt; /* non-NULL: the Kinesis record could not be deaggregated (why) */
} proc_urec;

/* Why a worker ended; the coordinator decides what to do with the lease from it. */
typedef enum {
    PROC_EXIT_RUNNING = 0,
    PROC_EXIT_FINISHED, /* shard closed and fully checkpointed: release */
    PROC_EXIT_LOST,     /* the fence failed: someone else owns it now */
    PROC_EXIT_STOPPED,  /* shutdown: release */
    PROC_EXIT_FAILED,   /* an error it could not get past: release so it can be retried */
} proc_exit;

typedef struct proc_worker proc_worker;

/* A consumer's sink. Every call is on the worker's thread. records/finish must retry what is
 * retryable themselves (until done, lost lease, or shutdown) and return 0, TP_ECONFLICT (lease
 * lost), TP_ESHUTDOWN, or a permanent error. */
typedef struct proc_sink_vt {
    int (*open)(proc_worker *w, void **state, char *err, size_t errlen);
    /* The user records of one GetRecords response, in order, after the checkpoint. shard_end:
     * this was the last response of a closed shard: also mark it finished. */
    int (*records)(proc_worker *w, void *state, const proc_urec *recs, size_t n, int shard_end, char *err,
                   size_t errlen);
    /* Called between polls: the archive flushes by age here. */
    int (*tick)(proc_worker *w, void *state, char *err, size_t errlen);
    /* Shutdown with the lease still held: last chance to checkpoint buffered work. */
    int (*drain)(proc_worker *w, void *state, char *err, size_t errlen);
    /* The checkpoint is gone from the stream (trimmed, or lost by an emulator): the reader
     * starts again at TRIM_HORIZON, so drop whatever was buffered after the checkpoint. */
    void (*rewind)(proc_worker *w, void *state);
    void (*close)(void *state);
} proc_sink_vt;

extern const proc_sink_vt proc_rollup_sink;
extern const proc_sink_vt proc_archive_sink;

/* A held lease and the thread working it. */
struct proc_worker {
    proc_ctx *ctx;
    proc_consumer consumer;
    char stream[PROC_NAME_MAX];
    char shard_id[PROC_SHARD_MAX];
    int64_t lease_counter;
    /* Where to resume: after (checkpoint_seq, checkpoint_sub); "" = from the oldest record. */
    char checkpoint_seq[PROC_SEQ_MAX];
    int64_t checkpoint_sub;
    /* Archive: a flush announced but not confirmed: re-flush exactly up to here first. */
    char pending_seq[PROC_SEQ_MAX];
    int64_t pending_sub;

    pthread_t thread;
    int started;
    int64_t started_mono;
    atomic_int lost; /* set by the coordinator when renewal failed */
    atomic_int done; /* set by the worker when its thread is about to return */
    proc_exit exit_reason;

    tp_gauge *lag;        /* millis behind latest */
    tp_counter *records;  /* Kinesis records read */
    tp_counter *events;   /* valid user records handled */
    tp_counter *invalid;  /* user records that are not valid events */
    tp_counter *read_errors; /* failed GetShardIterator / GetRecords calls (each retried) */
    tp_counter *rewinds;  /* checkpoints the stream no longer had: restarted at TRIM_HORIZON */
};

/* 1 when the worker should stop at the next safe point (shutdown or lease lost). */
int proc_worker_should_stop(const proc_worker *w);
/* Sleep up to ms, returning early (1) when the worker should stop. */
int proc_worker_sleep(const proc_worker *w, int64_t ms);

/* reader.c: the worker thread body (arg: proc_worker *). */
void *proc_reader_main(void *arg);

/* Compare (seq, sub) positions: Kinesis sequence numbers are decimal strings of up to 128
 * bits, ordered numerically. Returns <0, 0, >0. */
int proc_pos_cmp(const char *seq_a, int64_t sub_a, const char *seq_b, int64_t sub_b);

#endif

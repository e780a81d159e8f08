/* producer_internal.h — what producer.c (requests, batcher), producer_batch.c (shard map,
 * batch forming, KPL aggregation), producer_send.c (senders, drainer, spooling) and
 * producer_lane.c (batching and sending on an HTTP loop's thread) share.
 * Not a public header: producer.h is the contract.
 *
 * Data flow:
 *   lane submit → the lane's formers → batch → async PutRecords on the loop → ack on the loop
 *                                                 └─ (failed entries, stop) → send queue → senders
 *   submit (no lane, or spool mode) → inbox (lock-free) → batcher thread → per-stream former → batch → send queue → senders
 *                                  └─ (spool mode) → tp_spool_append → callbacks
 *   spool → drainer thread → drainer's formers → batches (from_spool) → send queue → senders → ack
 * Memory: one allocation per request (preq: header, records, copied bytes); batches are pooled
 * and own an arena holding the Kinesis records' bytes; the request is freed when its last
 * record is durable. */
#ifndef TP_PRODUCER_INTERNAL_H
#define TP_PRODUCER_INTERNAL_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "producer.h"
#include "tp/kinesis.h"
#include "tp/kpl.h"
#include "tp/spool.h"

#define P_MAX_ENTRIES 500                     /* PutRecords entries */
#define P_MAX_LANES 256                       /* as many as TP_INGEST_THREADS allows */
#define P_MAX_RECORD ((size_t)1024 * 1024)    /* data + partition key of one Kinesis record */
#define P_MAX_REQUEST ((size_t)5 * 1024 * 1024)
#define P_MAX_PKEY 256                        /* Kinesis partition key limit */

/* Why a lane sent what it held (tp_ingest_lane_flushes_total{reason}). */
enum { P_FLUSH_COUNT, P_FLUSH_ALL_WAITING, P_FLUSH_QUIET, P_FLUSH_LINGER, P_FLUSH__N };

typedef unsigned __int128 p_u128;

struct preq;

/* One user record (an event). Lives in its request's allocation, or for records read back from
 * the spool in the drainer's buffers (req == NULL). */
struct prec {
    struct preq *req;
    const char *pkey; /* NUL-terminated */
    const uint8_t *data;
    uint32_t len;
    uint16_t pkey_len;
    uint8_t stream;
};

/* One submitted request: this header, n records, then their keys and bytes. */
struct preq {
    struct preq *next;
    tp_producer_done_cb cb;
    void *ctx;
    atomic_size_t remaining; /* records not yet durable */
    atomic_int status;       /* first failure, 0 if none */
    atomic_size_t *waiting;  /* a lane's count of unanswered requests (in the producer), or NULL */
    size_t n;
    size_t bytes; /* size of the allocation, for the buffered-bytes budget */
    struct prec recs[];
};

/* One Kinesis record of a batch: a KPL aggregate or a single user record. */
struct pentry {
    size_t data_off; /* into the batch arena */
    size_t len;
    size_t pkey_off; /* NUL-terminated, in the arena */
    int shard;       /* index into batch->map when aggregated, else -1 */
    size_t rec_first, nrecs; /* its user records: batch->recs[rec_first ..] */
    int done;
};

struct drain_group; /* producer_send.c */
struct shardmap;

/* Up to 500 Kinesis records for one stream, sent by one PutRecords call (plus retries). */
struct pbatch {
    struct pbatch *next;
    int stream;
    int from_spool;            /* retried until stored, acked in the spool by the drainer */
    struct drain_group *group; /* from_spool only */
    struct shardmap *map;      /* reference held while aggregated entries point into it */
    struct pentry ents[P_MAX_ENTRIES];
    size_t n;
    struct prec **recs;
    size_t nrecs, caprecs;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    size_t bytes; /* what Kinesis counts: data + partition keys */
    int64_t deadline_ms;
};

/* Open shards of one stream, sorted by starting hash key. Immutable once published;
 * reference-counted so batches may hold on to one across a refresh. */
struct shard_range {
    p_u128 start, end;
    char id[128];
    char start_dec[48]; /* the ExplicitHashKey that lands on this shard */
};
struct shardmap {
    atomic_int refs;
    size_t n;
    struct shard_range r[];
};

/* One KPL aggregate in the making (per shard). */
struct agg {
    tp_kpl_builder *b;
    struct prec **recs;
    size_t n, cap;
};

/* Forms batches for one stream; used by one thread. emit receives each finished batch. */
struct former {
    tp_producer *p;
    int stream;
    struct pbatch *cur;
    struct shardmap *map; /* aggregation only */
    struct agg *aggs;
    size_t naggs;
    size_t open_recs;  /* records added and not yet emitted */
    int64_t born_ms;   /* when the oldest of them came */
    EVP_MD_CTX *md;
    void (*emit)(void *ctx, struct pbatch *b);
    void *emit_ctx;
};

/* One sender thread: its own Kinesis client (not thread-safe) and reusable call buffers. */
struct psender {
    tp_producer *p;
    tp_kinesis *k;
    pthread_t th;
    int started;
    tp_put_entry pe[P_MAX_ENTRIES];
    tp_put_result_entry res[P_MAX_ENTRIES];
    size_t idx[P_MAX_ENTRIES];
};

struct tp_producer {
    char stream_names[TP_STREAM__COUNT][128];
    int aggregate;
    int linger_ms;
    size_t flush_events;
    int nsenders;
    int max_attempt_ms;
    size_t agg_max_bytes;
    size_t batch_max_bytes;
    uint64_t max_buffered_bytes;
    tp_aws_config aws;
    tp_aws_config send_aws; /* aws, each call capped at max(max_attempt_ms, 1 s): senders and lanes */
    tp_spool *spool;

    /* metrics (NULL handles when no registry) */
    tp_counter *m_lane_flushes[P_FLUSH__N];
    tp_histogram *m_put_seconds[TP_STREAM__COUNT];
    tp_counter *m_kinesis_records[TP_STREAM__COUNT];
    tp_counter *m_retry_throttled, *m_retry_unavailable, *m_retry_timeout, *m_retry_error;
    tp_counter *m_spooled;
    tp_gauge *m_spool_bytes, *m_spool_entries;

    pthread_mutex_t mu;
    pthread_cond_t batch_cv; /* batcher: new requests or stop */
    pthread_cond_t send_cv;  /* senders: queue or stop */
    pthread_cond_t drain_cv; /* drainer: spool grew, group finished, refresh wanted, stop */
    pthread_cond_t stop_cv;  /* backoff sleeps: broadcast only on stop */
    /* Submitted requests not yet taken by the batcher: a lock-free stack (newest first), so
     * a request costs the service thread one compare-and-swap, and a wake-up only when the
     * batcher sleeps with nothing held (batcher_idle). While it lingers over held records it
     * is not woken per request: it takes them all when it wakes anyway. */
    _Atomic(struct preq *) inbox;
    atomic_int batcher_idle;
    atomic_llong inbox_events; /* events pushed since the batcher last took the inbox */
    atomic_llong linger_wake;  /* > 0: wake the lingering batcher once inbox_events reach it */
    atomic_int closing;    /* set first by tp_producer_free: submit refuses */
    /* Requests each lane submitted and not yet answered. Here, not in the lane: a request the
     * lane handed to the senders may be answered after the lane is gone. */
    struct {
        alignas(64) atomic_size_t n; /* a line each: loops and senders update them all the time */
    } lane_waiting[P_MAX_LANES];
    atomic_int lanes_made;
    atomic_int submitting; /* submits between their closing check and their push */
    struct pbatch *q_head, *q_tail;
    struct pbatch *free_batches;
    size_t nfree;
    int idle_senders;  /* senders waiting for a batch: the batcher sends what it holds now */
    int stopping;      /* no more submits; flush */
    int senders_exit;  /* queue will not grow any more */

    pthread_t batcher, drainer;
    int batcher_started, drainer_started;
    struct psender *senders; /* nsenders */
    tp_kinesis *kin_drain;    /* drainer's client: shard maps and nothing else */

    pthread_mutex_t maps_mu;
    struct shardmap *maps[TP_STREAM__COUNT];
    atomic_int refresh_wanted;
    unsigned map_failures[TP_STREAM__COUNT]; /* consecutive ListShards failures (drainer only) */
    EVP_MD *md5;

    atomic_llong fail_since_ms; /* start of the current run of failed calls, 0 if none */
    atomic_ullong buffered_bytes;
    atomic_int spool_has_data;  /* a cheap hint for the batcher; the spool is the truth */
};

/* producer.c */
void p_complete_rec(tp_producer *p, struct prec *r, int status);
void p_update_spool_gauges(tp_producer *p);
int p_monotonic_cond_init(pthread_cond_t *cv);
/* Wait on cv until woken or ms passes (monotonic). Caller holds p->mu. */
void p_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

/* producer_batch.c */
struct shardmap *p_map_get(tp_producer *p, int stream); /* new reference or NULL */
void p_map_put(struct shardmap *m);                      /* NULL-safe */
int p_map_refresh(tp_producer *p, tp_kinesis *k, int stream);
int p_maps_ready(tp_producer *p);
struct pbatch *p_batch_get(tp_producer *p, int stream);
void p_batch_release(tp_producer *p, struct pbatch *b);
void p_batch_free(struct pbatch *b);
int p_former_init(struct former *f, tp_producer *p, int stream, void (*emit)(void *, struct pbatch *), void *ctx);
void p_former_free(struct former *f);
/* Add one record (may emit batches). Only TP_ENOMEM fails; the record is then not taken. */
int p_former_add(struct former *f, struct prec *r);
/* Emit everything held. */
int p_former_flush(struct former *f);
/* Flush first if the stream's shard map changed since the former took it. */
int p_former_sync_map(struct former *f);

/* producer_send.c */
void *p_sender_main(void *arg);
void *p_drainer_main(void *arg);
void p_enqueue(tp_producer *p, struct pbatch *b);
/* Append records to the spool (durable on 0); counts them and wakes the drainer. Does not
 * complete them: the caller does, with 0 or a failure. */
int p_spool_append_recs(tp_producer *p, struct prec **recs, size_t n);
/* 1 while calls to Kinesis have been failing for a while (new records go to the spool). */
int p_kinesis_down(tp_producer *p);
void p_count_retry(tp_producer *p, int err, uint64_t n);
/* The entries of b not yet stored, as PutRecords entries; idx maps them back. Returns how many. */
size_t p_batch_entries(const struct pbatch *b, tp_put_entry *pe, size_t *idx);
/* An answered call: entries stored are done and their records completed, the rest counted. */
void p_batch_apply(tp_producer *p, struct pbatch *b, const size_t *idx, const tp_put_result_entry *res, size_t m);
/* A call that failed as a whole: starts the "Kinesis down" clock, counts, logs. */
void p_call_failed(tp_producer *p, const char *stream, int rc, unsigned attempt, const char *err);

/* producer.c */
/* A request's records copied into one allocation (NULL on bad input or OOM: *rc says which). */
struct preq *p_req_new(const tp_producer_record *recs, size_t n, tp_producer_done_cb cb, void *ctx, int *rc);
int p_spool_mode(tp_producer *p);

#endif

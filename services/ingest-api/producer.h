/* producer.h — durable delivery of validated events to Kinesis, with a local spool behind it.
 *
 * Requests hand records to the producer and are told, exactly once and from a producer
 * thread, when every record of theirs is durable: accepted by Kinesis (PutRecords said so
 * for that entry) or fsync'ed to the local spool. Records from concurrent requests are
 * group-committed: one or more PutRecords calls (≤ 500 entries, ≤ 5 MiB), several in flight
 * at once; records go out as soon as a sender is free, and fill bigger batches while none is. With aggregation on, records bound for the same
 * shard are packed into KPL aggregated records (shard map from ListShards, refreshed on
 * resharding). Throttled and failed entries are retried (full-jitter backoff) until
 * max_attempt_ms; whatever is still not stored then goes to the spool. While the spool holds
 * anything, new records go to the spool too, so a stream's records drain in order; a drainer
 * thread ships the spool to Kinesis when it answers again, also after a restart.
 *
 * Owns its threads, Kinesis clients and the spool. */
#ifndef TP_PRODUCER_H
#define TP_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "tp/aws.h"
#include "tp/err.h"
#include "tp/event.h"
#include "tp/metrics.h"

typedef struct tp_producer tp_producer;

typedef struct tp_producer_config {
    const tp_aws_config *aws;           /* borrowed for the call to _new only (copied) */
    const char *stream_names[TP_STREAM__COUNT]; /* copied; default "tenants","users","jobs" */
    int aggregate;                      /* KPL aggregation on/off */
    int linger_ms;                      /* how long a batch may wait for a busy sender before
                                           it queues behind the calls in flight */
    int senders;                        /* PutRecords calls in flight at once */
    int flush_events;                   /* this many waiting events go out at once when a
                                           sender is free, linger or not (0: default 64) */
    int max_attempt_ms;                 /* then spool what is not yet stored */
    const char *spool_dir;              /* copied */
    uint64_t spool_max_bytes;           /* beyond this: TP_EFULL */
    tp_metrics *metrics;                /* borrowed; NULL for none */
    /* Tuning; 0 = default. */
    int aggregate_max_bytes;            /* one KPL aggregated record (default 256 KiB, max ~1 MiB) */
    int batch_max_bytes;                /* one PutRecords call (default 1 MiB, max 5 MiB) */
    uint64_t max_buffered_bytes;        /* requests waiting for Kinesis beyond this go to the
                                           spool instead of memory (default 24 MiB) */
} tp_producer_config;

typedef struct tp_producer_record {
    tp_stream stream;
    const char *partition_key; /* copied by submit */
    const void *data;          /* copied by submit */
    size_t len;
} tp_producer_record;

/* status: 0 = every record durable; TP_EFULL = the spool is full (or failing) and some records
 * are NOT stored (answer 503 + Retry-After; others of the request may be stored, so a retry can
 * duplicate them: consumers dedupe by event_id). TP_ESHUTDOWN is not used: tp_producer_free
 * makes every submitted record durable before returning. */
typedef void (*tp_producer_done_cb)(void *ctx, int status);

int tp_producer_new(const tp_producer_config *cfg, tp_producer **out, char *err, size_t errlen) TP_MUSTCHECK;
/* Copies the records (one allocation per call). If it returns non-zero, cb is never called:
 * TP_EINVAL (bad stream, empty or > 256-char partition key, record near 1 MiB), TP_ENOMEM,
 * TP_ESHUTDOWN (tp_producer_free has begun). Otherwise cb is called exactly once, from a
 * producer thread (never from inside submit). */
int tp_producer_submit(tp_producer *p, const tp_producer_record *recs, size_t n, tp_producer_done_cb cb,
                       void *ctx) TP_MUSTCHECK;
/* For /readyz: 0 while records can be made durable (Kinesis answers or the spool has room);
 * why then says "ok" or "kinesis unavailable; spooling". TP_EFULL when the spool is (nearly)
 * full, TP_EIO when it failed; why says so. */
int tp_producer_ready(tp_producer *p, char *why, size_t whylen);
typedef struct tp_producer_stats {
    uint64_t spool_entries; /* events waiting in the spool */
    uint64_t spool_bytes;
    uint64_t buffered_bytes; /* submitted, not yet durable */
    int kinesis_down;        /* calls have been failing for a while: new records go to the spool */
} tp_producer_stats;
/* Thread-safe snapshot (for tests and diagnostics; the same numbers are metrics). */
void tp_producer_get_stats(tp_producer *p, tp_producer_stats *st);

/* Stop taking records, make every submitted record durable (Kinesis or spool), call every
 * pending callback, join threads. Then free. NULL-safe. */
void tp_producer_free(tp_producer *p);

/* --- lanes: batching and sending on an event loop's own thread (producer_lane.c) ---
 * One lane per HTTP loop, used only on that loop's thread: submit behaves like
 * tp_producer_submit (the callback may run inside a later pass/event call on this thread, or on
 * a producer thread for records it handed over; and when memory runs out forming a batch, inside
 * submit itself for the records refused, which then still returns 0); pass runs its group
 * commit after each HTTP pass; timeout_ms says when it next needs a pass (-1: not before an
 * event); event forwards readiness of a descriptor the lane asked to watch through
 * loop->watch. loop->connections lets the lane send at once when every connection of its loop
 * is waiting for it.
 * free hands whatever it holds or has in flight to the producer's senders: call it before
 * tp_producer_free. The lane borrows p. */
typedef struct tp_producer_lane tp_producer_lane;
typedef struct tp_producer_lane_loop {
    int (*watch)(void *ctx, int fd, unsigned events); /* events 0: stop watching */
    unsigned (*connections)(void *ctx);               /* client connections open on the loop */
    void *ctx;
} tp_producer_lane_loop;
tp_producer_lane *tp_producer_lane_new(tp_producer *p, int nlanes, const tp_producer_lane_loop *loop);
void tp_producer_lane_free(tp_producer_lane *l); /* NULL-safe */
int tp_producer_lane_submit(tp_producer_lane *l, const tp_producer_record *recs, size_t n, tp_producer_done_cb cb,
                            void *ctx) TP_MUSTCHECK;
void tp_producer_lane_pass(tp_producer_lane *l);
long tp_producer_lane_timeout_ms(tp_producer_lane *l);
void tp_producer_lane_event(tp_producer_lane *l, int fd, unsigned events);

#endif

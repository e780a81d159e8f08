/* coordinator.c — lease balancing and reader threads (see coordinator.h). */
#include "coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "tp/backoff.h"
#include "tp/kinesis.h"
#include "tp/log.h"

#define MAX_STREAMS 8
#define PRUNE_EVERY_MS (10LL * 60 * 1000)
#define PRUNE_BATCH 50000
#define FAIL_BASE_MS 1000
#define FAIL_CAP_MS 60000
#define FAIL_FORGET_MS 60000 /* a reader that ran this long before failing starts the backoff afresh */
#define MAX_PENALTIES 256

/* A shard whose reader failed is not taken again before until_mono, so a reader that cannot get
 * past an error backs off instead of restarting every lease round. */
typedef struct penalty {
    proc_consumer consumer;
    char stream[PROC_NAME_MAX];
    char shard_id[PROC_SHARD_MAX];
    unsigned fails;
    int64_t until_mono;
} penalty;

struct tp_coord {
    proc_ctx *ctx;
    proc_consumer consumers[PROC_CONSUMER__COUNT];
    size_t ncons;
    char streams[MAX_STREAMS][PROC_NAME_MAX];
    size_t nstreams;
    proc_worker **workers;
    size_t nworkers, capworkers;
    tp_kinesis *k;
    int64_t next_sync, next_prune;
    penalty penalties[MAX_PENALTIES];
    size_t npenalties;
    tp_gauge *held_g[PROC_CONSUMER__COUNT];
    tp_counter *taken[PROC_CONSUMER__COUNT], *stolen[PROC_CONSUMER__COUNT], *lost[PROC_CONSUMER__COUNT];
};

int tp_coord_new(proc_ctx *ctx, const char *streams, const proc_consumer *consumers, size_t nconsumers,
                 tp_coord **out, char *err, size_t errlen)
{
    *out = NULL;
    tp_coord *c = calloc(1, sizeof *c);
    if (!c)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
    c->ctx = ctx;
    for (size_t i = 0; i < nconsumers && i < PROC_CONSUMER__COUNT; i++)
        c->consumers[c->ncons++] = consumers[i];
    const char *p = streams;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0) {
            if (c->nstreams == MAX_STREAMS || n >= PROC_NAME_MAX) {
                tp_coord_free(c);
                return tp_errf(err, errlen, TP_EINVAL, "too many or too long stream names in '%s'", streams);
            }
            memcpy(c->streams[c->nstreams], p, n);
            c->streams[c->nstreams++][n] = '\0';
        }
        p += n + (p[n] == ',');
    }
    if (!c->nstreams) {
        tp_coord_free(c);
        return tp_errf(err, errlen, TP_EINVAL, "no stream names in '%s'", streams);
    }
    int rc = tp_kinesis_new(&ctx->aws, &c->k);
    if (rc) {
        tp_coord_free(c);
        return tp_errf(err, errlen, rc, "creating Kinesis client");
    }
    for (size_t i = 0; i < c->ncons; i++) {
        proc_consumer cons = c->consumers[i];
        char labels[64];
        snprintf(labels, sizeof labels, "consumer=%s", proc_consumer_name(cons));
        c->held_g[cons] = tp_metrics_gauge(ctx->metrics, "tp_processor_leases_held", "Shard leases held", labels);
        char l2[96];
        snprintf(l2, sizeof l2, "consumer=%s,kind=taken", proc_consumer_name(cons));
        c->taken[cons] = tp_metrics_counter(ctx->metrics, "tp_processor_lease_changes_total", "Lease changes", l2);
        snprintf(l2, sizeof l2, "consumer=%s,kind=stolen", proc_consumer_name(cons));
        c->stolen[cons] = tp_metrics_counter(ctx->metrics, "tp_processor_lease_changes_total", "Lease changes", l2);
        snprintf(l2, sizeof l2, "consumer=%s,kind=lost", proc_consumer_name(cons));
        c->lost[cons] = tp_metrics_counter(ctx->metrics, "tp_processor_lease_changes_total", "Lease changes", l2);
    }
    *out = c;
    return 0;
}

static tp_lease_fence fence_of(const proc_worker *w)
{
    return (tp_lease_fence){proc_consumer_name(w->consumer), w->stream, w->shard_id, w->ctx->cfg->instance_id,
                            w->lease_counter};
}

size_t tp_coord_held(const tp_coord *c, proc_consumer consumer)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nworkers; i++)
        if (c->workers[i]->consumer == consumer && !atomic_load(&c->workers[i]->done))
            n++;
    return n;
}

static void worker_free(proc_worker *w) { free(w); }

static penalty *find_penalty(tp_coord *c, proc_consumer cons, const char *stream, const char *shard)
{
    for (size_t i = 0; i < c->npenalties; i++) {
        penalty *p = &c->penalties[i];
        if (p->consumer == cons && !strcmp(p->stream, stream) && !strcmp(p->shard_id, shard))
            return p;
    }
    return NULL;
}

static void settle_penalty(tp_coord *c, const proc_worker *w)
{
    penalty *p = find_penalty(c, w->consumer, w->stream, w->shard_id);
    int64_t now = tp_now_mono_ms();
    if (w->exit_reason != PROC_EXIT_FAILED) {
        if (p) /* swap-remove: order does not matter */
            *p = c->penalties[--c->npenalties];
        return;
    }
    if (!p) {
        if (c->npenalties == MAX_PENALTIES)
            return; /* more failing shards than that: the lease round's own pace is the backoff */
        p = &c->penalties[c->npenalties++];
        memset(p, 0, sizeof *p);
        p->consumer = w->consumer;
        snprintf(p->stream, sizeof p->stream, "%s", w->stream);
        snprintf(p->shard_id, sizeof p->shard_id, "%s", w->shard_id);
    }
    if (now - w->started_mono >= FAIL_FORGET_MS)
        p->fails = 0;
    uint32_t ms = tp_backoff_ms(p->fails, FAIL_BASE_MS, FAIL_CAP_MS);
    p->fails++;
    p->until_mono = now + ms;
    tp_log_warn("shard reader failed: backing off before taking the shard again", "consumer",
                proc_consumer_name(w->consumer), "stream", w->stream, "shard", w->shard_id);
}

static int penalized(tp_coord *c, proc_consumer cons, const char *stream, const char *shard)
{
    const penalty *p = find_penalty(c, cons, stream, shard);
    return p && tp_now_mono_ms() < p->until_mono;
}

/* Join finished readers and settle their leases: released unless lost. */
static void reap(tp_coord *c, PGconn *conn)
{
    size_t keep = 0;
    for (size_t i = 0; i < c->nworkers; i++) {
        proc_worker *w = c->workers[i];
        if (!atomic_load(&w->done)) {
            c->workers[keep++] = w;
            continue;
        }
        pthread_join(w->thread, NULL);
        settle_penalty(c, w);
        if (w->exit_reason == PROC_EXIT_LOST) {
            tp_counter_add(c->lost[w->consumer], 1);
        } else if (conn) {
            char err[256];
            tp_lease_fence f = fence_of(w);
            if (tp_lease_release(conn, &f, err, sizeof err) != 0)
                tp_log_debug("lease release failed", "shard", w->shard_id, "error", err);
        }
        if (w->exit_reason == PROC_EXIT_FINISHED)
            c->next_sync = 0; /* children may become eligible now */
        worker_free(w);
    }
    c->nworkers = keep;
}

static int start_worker(tp_coord *c, proc_consumer cons, const char *stream, const char *shard,
                        const tp_lease_resume *r)
{
    if (c->nworkers == c->capworkers) {
        size_t cap = c->capworkers ? c->capworkers * 2 : 16;
        proc_worker **ws = realloc(c->workers, cap * sizeof *ws);
        if (!ws)
            return TP_ENOMEM;
        c->workers = ws;
        c->capworkers = cap;
    }
    proc_worker *w = calloc(1, sizeof *w);
    if (!w)
        return TP_ENOMEM;
    w->ctx = c->ctx;
    w->consumer = cons;
    snprintf(w->stream, sizeof w->stream, "%s", stream);
    snprintf(w->shard_id, sizeof w->shard_id, "%s", shard);
    w->lease_counter = r->counter;
    snprintf(w->checkpoint_seq, sizeof w->checkpoint_seq, "%s", r->checkpoint_seq);
    w->checkpoint_sub = r->checkpoint_sub;
    w->started_mono = tp_now_mono_ms();
    snprintf(w->pending_seq, sizeof w->pending_seq, "%s", r->pending_seq);
    w->pending_sub = r->pending_sub;
    char labels[320];
    tp_metrics *m = c->ctx->metrics;
    snprintf(labels, sizeof labels, "stream=%s,shard=%s,consumer=%s", stream, shard, proc_consumer_name(cons));
    w->lag = tp_metrics_gauge(m, "tp_processor_millis_behind_latest", "MillisBehindLatest of the last GetRecords",
                              labels);
    snprintf(labels, sizeof labels, "consumer=%s,stream=%s", proc_consumer_name(cons), stream);
    w->records = tp_metrics_counter(m, "tp_processor_records_total", "Kinesis records read", labels);
    w->events = tp_metrics_counter(m, "tp_processor_events_total", "Events written by the sink", labels);
    w->invalid = tp_metrics_counter(m, "tp_processor_invalid_records_total",
                                    "User records that are not valid events", labels);
    w->read_errors = tp_metrics_counter(m, "tp_processor_kinesis_errors_total",
                                        "Failed GetShardIterator / GetRecords calls (each retried)", labels);
    w->rewinds = tp_metrics_counter(m, "tp_processor_checkpoint_rewinds_total",
                                    "Checkpoints the stream no longer had: reading restarted at TRIM_HORIZON",
                                    labels);
    if (pthread_create(&w->thread, NULL, proc_reader_main, w) != 0) {
        free(w);
        return TP_EINTERNAL;
    }
    w->started = 1;
    c->workers[c->nworkers++] = w;
    return 0;
}

static int have_worker(const tp_coord *c, proc_consumer cons, const char *stream, const char *shard)
{
    for (size_t i = 0; i < c->nworkers; i++) {
        const proc_worker *w = c->workers[i];
        if (w->consumer == cons && !strcmp(w->stream, stream) && !strcmp(w->shard_id, shard))
            return 1;
    }
    return 0;
}

static int take(tp_coord *c, PGconn *conn, proc_consumer cons, const tp_lease_row *row, const char *victim)
{
    char err[256];
    tp_lease_resume r;
    const char *me = c->ctx->cfg->instance_id;
    int rc = tp_lease_take(conn, proc_consumer_name(cons), row->stream, row->shard_id, row->counter, victim, me,
                           c->ctx->cfg->lease_ms, &r, err, sizeof err);
    if (rc)
        return rc;
    tp_log_info(victim ? "lease stolen" : "lease taken", "consumer", proc_consumer_name(cons), "stream", row->stream,
                "shard", row->shard_id, "from", victim && victim[0] ? victim : NULL);
    tp_counter_add(victim ? c->stolen[cons] : c->taken[cons], 1);
    if ((rc = start_worker(c, cons, row->stream, row->shard_id, &r))) {
        tp_lease_fence f = {proc_consumer_name(cons), row->stream, row->shard_id, me, r.counter};
        if (tp_lease_release(conn, &f, err, sizeof err) != 0)
            tp_log_debug("lease release failed", "shard", row->shard_id, "error", err);
    }
    return rc;
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int balance(tp_coord *c, PGconn *conn, proc_consumer cons, int live, char *err, size_t errlen)
{
    tp_lease_rows rows = {0};
    int rc = tp_lease_list_eligible(conn, proc_consumer_name(cons), &rows, err, errlen);
    if (rc)
        return rc;
    const char *me = c->ctx->cfg->instance_id;
    size_t target = (rows.n + (size_t)live - 1) / (size_t)live;
    size_t held = tp_coord_held(c, cons);

    /* Free and expired leases first, starting at an instance-specific offset so instances that
     * start together do not all race for the same rows. */
    size_t start = rows.n ? (size_t)(str_hash(me) % rows.n) : 0;
    for (size_t k = 0; k < rows.n && held < target; k++) {
        const tp_lease_row *r = &rows.rows[(start + k) % rows.n];
        if (!r->available || have_worker(c, cons, r->stream, r->shard_id) ||
            penalized(c, cons, r->stream, r->shard_id))
            continue;
        if (take(c, conn, cons, r, NULL) == 0)
            held++;
    }
    if (held < target) {
        /* Then one steal from the most loaded other owner, if it is above the target. */
        const char *victim = NULL;
        size_t most = 0;
        for (size_t i = 0; i < rows.n; i++) {
            const tp_lease_row *r = &rows.rows[i];
            if (r->available || !r->owner[0] || !strcmp(r->owner, me))
                continue;
            size_t n = 0;
            for (size_t j = 0; j < rows.n; j++)
                n += !rows.rows[j].available && !strcmp(rows.rows[j].owner, r->owner);
            if (n > most) {
                most = n;
                victim = r->owner;
            }
        }
        if (victim && most > target) {
            for (size_t i = 0; i < rows.n; i++) {
                const tp_lease_row *r = &rows.rows[i];
                if (!r->available && !strcmp(r->owner, victim) && !penalized(c, cons, r->stream, r->shard_id) &&
                    take(c, conn, cons, r, victim) == 0)
                    break;
            }
        }
    }
    tp_gauge_set(c->held_g[cons], (double)tp_coord_held(c, cons));
    tp_lease_rows_free(&rows);
    return 0;
}

static void sync_shards(tp_coord *c, PGconn *conn)
{
    const char *names[PROC_CONSUMER__COUNT];
    for (size_t i = 0; i < c->ncons; i++)
        names[i] = proc_consumer_name(c->consumers[i]);
    for (size_t s = 0; s < c->nstreams; s++) {
        char err[512];
        tp_shard_list shards = {0};
        int rc = tp_kinesis_list_shards(c->k, c->streams[s], &shards, err, sizeof err);
        if (!rc)
            rc = tp_lease_sync_shards(conn, names, c->ncons, c->streams[s], &shards, err, sizeof err);
        if (rc)
            tp_log_warn("shard sync failed", "stream", c->streams[s], "error", err);
        tp_shard_list_free(&shards);
    }
}

static void prune(tp_coord *c, PGconn *conn)
{
    for (int i = 0; i < 20; i++) { /* bounded: the rest waits for the next round */
        char err[256];
        int64_t deleted = 0;
        if (tp_lease_prune(conn, c->ctx->cfg->dedupe_retention_h, PRUNE_BATCH, &deleted, err, sizeof err) != 0) {
            tp_log_warn("pruning failed", "error", err);
            return;
        }
        if (deleted < PRUNE_BATCH)
            return;
    }
}

int tp_coord_cycle(tp_coord *c, char *err, size_t errlen)
{
    PGconn *conn = NULL;
    int rc = tp_db_acquire(c->ctx->pool, 5000, &conn, err, errlen);
    if (rc) {
        atomic_store(&c->ctx->coordinator_ok, 0);
        reap(c, NULL);
        return rc;
    }
    const proc_config *cfg = c->ctx->cfg;
    if ((rc = tp_lease_heartbeat(conn, cfg->instance_id, err, errlen)))
        goto out;
    int64_t now = tp_now_mono_ms();
    if (now >= c->next_sync) {
        sync_shards(c, conn);
        c->next_sync = now + cfg->shard_sync_ms;
    }
    reap(c, conn);
    for (size_t i = 0; i < c->nworkers; i++) {
        proc_worker *w = c->workers[i];
        if (atomic_load(&w->done) || atomic_load(&w->lost))
            continue;
        tp_lease_fence f = fence_of(w);
        char e2[256];
        int r2 = tp_lease_renew(conn, &f, cfg->lease_ms, e2, sizeof e2);
        if (r2 == TP_ECONFLICT)
            atomic_store(&w->lost, 1);
        else if (r2)
            tp_log_warn("lease renewal failed", "shard", w->shard_id, "error", e2);
    }
    int live = 1;
    if ((rc = tp_lease_live_instances(conn, cfg->lease_ms, &live, err, errlen)))
        goto out;
    if (!atomic_load(&c->ctx->stopping)) {
        for (size_t i = 0; i < c->ncons && !rc; i++)
            rc = balance(c, conn, c->consumers[i], live, err, errlen);
    }
    if (!rc && now >= c->next_prune) {
        if (c->next_prune)
            prune(c, conn);
        c->next_prune = now + PRUNE_EVERY_MS;
    }
out:
    tp_db_release(c->ctx->pool, conn, rc && PQstatus(conn) != CONNECTION_OK);
    atomic_store(&c->ctx->coordinator_ok, rc == 0);
    return rc;
}

void tp_coord_shutdown(tp_coord *c)
{
    if (!c)
        return;
    /* Readers see ctx->stopping, finish their batch and checkpoint; keep renewing meanwhile
     * so a slow final flush does not lose its lease to an impatient peer. */
    for (;;) {
        int running = 0;
        for (size_t i = 0; i < c->nworkers; i++)
            running += !atomic_load(&c->workers[i]->done);
        if (!running)
            break;
        char err[256];
        if (tp_coord_cycle(c, err, sizeof err) != 0)
            tp_log_warn("lease round failed during shutdown", "error", err);
        tp_sleep_ms(200);
    }
    PGconn *conn = NULL;
    char err[256];
    int rc = tp_db_acquire(c->ctx->pool, 5000, &conn, err, sizeof err);
    reap(c, rc ? NULL : conn);
    if (!rc) {
        if (tp_lease_deregister(conn, c->ctx->cfg->instance_id, err, sizeof err) != 0)
            tp_log_warn("deregister failed", "error", err);
        tp_db_release(c->ctx->pool, conn, PQstatus(conn) != CONNECTION_OK);
    }
}

void tp_coord_free(tp_coord *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nworkers; i++) {
        proc_worker *w = c->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        worker_free(w);
    }
    free(c->workers);
    tp_kinesis_free(c->k);
    free(c);
}

/* sink_rollup.c — the rollup consumer: each GetRecords response becomes one PostgreSQL
 * transaction holding the lease fence, the dedupe of event ids, the rollup upserts for the
 * events not seen before, and the checkpoint. Either all of it commits or none, so a crash
 * anywhere neither loses nor double-counts; a commit whose outcome was lost is simply retried
 * (its events are then already seen and count zero). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "processor.h"
#include "rollup_agg.h"
#include "rollup_sql.h"
#include "tp/backoff.h"
#include "tp/log.h"

typedef struct rollup_state {
    tp_rollup_agg *agg;
    tp_rollup_sql *sql;
    tp_keytab *batch_ids; /* event ids already taken from this response */
    tp_keytab *fresh;     /* ids the database had not seen */
    json_t **objs;        /* parsed events of the response (owned references) */
    tp_event *evs;
    const char **ids;
    int64_t *occurred;
    size_t n, cap;
    char source[PROC_NAME_MAX + PROC_SHARD_MAX + 2];
    tp_counter *duplicates, *commits, *db_errors;
    tp_histogram *txn_seconds;
} rollup_state;

static void drop_events(rollup_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        json_decref(st->objs[i]);
    st->n = 0;
}

static void rollup_close(void *state)
{
    rollup_state *st = state;
    if (!st)
        return;
    drop_events(st);
    tp_rollup_agg_free(st->agg);
    tp_rollup_sql_free(st->sql);
    tp_keytab_free(st->batch_ids);
    tp_keytab_free(st->fresh);
    free(st->objs);
    free(st->evs);
    free(st->ids);
    free(st->occurred);
    free(st);
}

static int rollup_open(proc_worker *w, void **state, char *err, size_t errlen)
{
    *state = NULL;
    rollup_state *st = calloc(1, sizeof *st);
    if (!st)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
    int rc = tp_rollup_agg_new(&st->agg);
    if (!rc)
        rc = tp_rollup_sql_new(&st->sql);
    if (!rc)
        rc = tp_keytab_new(sizeof(size_t), &st->batch_ids);
    if (!rc)
        rc = tp_keytab_new(1, &st->fresh);
    if (rc) {
        rollup_close(st);
        return tp_errf(err, errlen, rc, "creating rollup state");
    }
    snprintf(st->source, sizeof st->source, "%s/%s", w->stream, w->shard_id);
    char labels[256];
    snprintf(labels, sizeof labels, "stream=%s", w->stream);
    tp_metrics *m = w->ctx->metrics;
    st->duplicates = tp_metrics_counter(m, "tp_processor_duplicates_total",
                                        "Events skipped because their event_id was already counted", labels);
    st->commits = tp_metrics_counter(m, "tp_processor_checkpoints_total", "Checkpoint commits", "consumer=rollup");
    st->db_errors = tp_metrics_counter(m, "tp_processor_errors_total", "Errors by consumer and kind",
                                       "consumer=rollup,kind=db");
    st->txn_seconds = tp_metrics_histogram(m, "tp_processor_batch_seconds", "Time to commit one batch",
                                           "consumer=rollup", tp_metrics_latency_bounds, tp_metrics_latency_nbounds);
    *state = st;
    return 0;
}

static int grow(rollup_state *st, size_t need)
{
    if (need <= st->cap)
        return 0;
    size_t cap = st->cap ? st->cap : 256;
    while (cap < need)
        cap *= 2;
    json_t **o = realloc(st->objs, cap * sizeof *o);
    if (o)
        st->objs = o;
    tp_event *e = realloc(st->evs, cap * sizeof *e);
    if (e)
        st->evs = e;
    const char **ids = realloc(st->ids, cap * sizeof *ids);
    if (ids)
        st->ids = ids;
    int64_t *oc = realloc(st->occurred, cap * sizeof *oc);
    if (oc)
        st->occurred = oc;
    if (!o || !e || !ids || !oc)
        return TP_ENOMEM;
    st->cap = cap;
    return 0;
}

/* Parse and validate the response's user records; keep each event_id's first valid record. */
static int collect(proc_worker *w, rollup_state *st, const proc_urec *recs, size_t n, char *err, size_t errlen)
{
    drop_events(st);
    tp_keytab_reset(st->batch_ids);
    if (grow(st, n))
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory holding a batch");
    size_t invalid = 0, dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].corrupt) {
            invalid++;
            continue;
        }
        json_t *obj = json_loadb((const char *)recs[i].data, recs[i].len, JSON_REJECT_DUPLICATES, NULL);
        tp_event_error verr;
        int64_t now = recs[i].arrival_ms > 0 ? recs[i].arrival_ms : tp_now_wall_ms();
        tp_event *ev = &st->evs[st->n];
        if (!obj || tp_event_validate(obj, now, ev, &verr) != 0) {
            json_decref(obj);
            invalid++;
            continue;
        }
        for (char *p = ev->event_id; *p; p++) /* the database hands uuids back in lower case */
            *p = (char)tolower((unsigned char)*p);
        int created;
        if (!tp_keytab_get(st->batch_ids, ev->event_id, strlen(ev->event_id), &created)) {
            json_decref(obj);
            return tp_errf(err, errlen, TP_ENOMEM, "out of memory deduplicating a batch");
        }
        if (!created) {
            dups++;
            json_decref(obj);
            continue;
        }
        st->objs[st->n] = obj;
        st->ids[st->n] = ev->event_id;
        st->occurred[st->n] = ev->occurred_at_ms;
        st->n++;
    }
    tp_counter_add(w->invalid, invalid);
    tp_counter_add(st->duplicates, dups);
    return 0;
}

/* ids must be sorted for the seen insert (lock order); sort an index, not the events. */
static _Thread_local const char *const *sort_ids;
static int cmp_id(const void *a, const void *b)
{
    return strcmp(sort_ids[*(const size_t *)a], sort_ids[*(const size_t *)b]);
}

/* One attempt at the whole transaction. */
static int commit_batch(proc_worker *w, rollup_state *st, PGconn *c, const char *seq, int64_t sub, int shard_end,
                        const size_t *order, size_t *fresh_count, int *lost, char *err, size_t errlen)
{
    tp_lease_fence f = {proc_consumer_name(w->consumer), w->stream, w->shard_id, w->ctx->cfg->instance_id,
                        w->lease_counter};
    int rc = tp_lease_exec(c, "BEGIN", err, errlen);
    if (rc)
        return rc;
    /* The fence first: it also locks the lease row, so a take-over waits for this batch. */
    if ((rc = tp_lease_checkpoint(c, &f, seq, sub, shard_end, err, errlen))) {
        *lost = rc == TP_ECONFLICT;
        goto fail;
    }
    *fresh_count = 0;
    if (st->n) {
        const char **ids = malloc(st->n * sizeof *ids);
        int64_t *occ = malloc(st->n * sizeof *occ);
        if (!ids || !occ) {
            free(ids);
            free(occ);
            rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t k = 0; k < st->n; k++) {
            ids[k] = st->ids[order[k]];
            occ[k] = st->occurred[order[k]];
        }
        rc = tp_rollup_sql_seen(st->sql, c, ids, occ, st->n, st->fresh, err, errlen);
        free(ids);
        free(occ);
        if (rc)
            goto fail;
        tp_rollup_agg_reset(st->agg);
        for (size_t i = 0; i < st->n; i++) {
            const tp_event *ev = &st->evs[i];
            if (!tp_keytab_find(st->fresh, ev->event_id, strlen(ev->event_id)))
                continue;
            if ((rc = tp_rollup_agg_add(st->agg, ev))) {
                rc = tp_errf(err, errlen, rc, "out of memory aggregating");
                goto fail;
            }
        }
        *fresh_count = st->agg->nevents;
        if ((rc = tp_rollup_sql_apply(st->sql, c, st->agg, st->source, err, errlen)))
            goto fail;
    }
    return tp_lease_exec(c, "COMMIT", err, errlen);
fail:
    if (PQstatus(c) == CONNECTION_OK) {
        char e2[128];
        if (tp_lease_exec(c, "ROLLBACK", e2, sizeof e2) != 0)
            tp_log_debug("rollback failed", "error", e2);
    }
    return rc;
}

static int rollup_records(proc_worker *w, void *state, const proc_urec *recs, size_t n, int shard_end, char *err,
                          size_t errlen)
{
    rollup_state *st = state;
    if (!n && !shard_end)
        return 0;
    int rc = collect(w, st, recs, n, err, errlen);
    if (rc)
        return rc;
    size_t *order = NULL;
    if (st->n) {
        if (!(order = malloc(st->n * sizeof *order)))
            return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
        for (size_t i = 0; i < st->n; i++)
            order[i] = i;
        sort_ids = st->ids;
        qsort(order, st->n, sizeof *order, cmp_id);
    }
    const char *seq = n ? recs[n - 1].seq : NULL;
    int64_t sub = n ? recs[n - 1].sub : -1;

    for (unsigned attempt = 0;; attempt++) {
        int64_t t0 = tp_now_mono_ns();
        PGconn *c = NULL;
        rc = tp_db_acquire(w->ctx->pool, 5000, &c, err, errlen);
        size_t fresh = 0;
        int lost = 0;
        if (!rc) {
            rc = commit_batch(w, st, c, seq, sub, shard_end, order, &fresh, &lost, err, errlen);
            tp_db_release(w->ctx->pool, c, rc && PQstatus(c) != CONNECTION_OK);
        }
        if (!rc) {
            tp_counter_add(st->commits, 1);
            tp_counter_add(w->events, fresh);
            tp_counter_add(st->duplicates, st->n - fresh);
            tp_histogram_observe(st->txn_seconds, (double)(tp_now_mono_ns() - t0) / 1e9);
            break;
        }
        if (lost) {
            rc = TP_ECONFLICT; /* someone else owns the shard now: they resume from our checkpoint */
            break;
        }
        tp_counter_add(st->db_errors, 1);
        tp_log(TP_LOG_WARN, "rollup batch failed, retrying", "stream", w->stream, "shard", w->shard_id, "error", err,
               (const char *)0);
        if (proc_worker_sleep(w, tp_backoff_ms(attempt, 100, 5000))) {
            rc = atomic_load(&w->lost) ? TP_ECONFLICT : TP_ESHUTDOWN;
            break;
        }
    }
    free(order);
    drop_events(st);
    return rc;
}

static int rollup_tick(proc_worker *w, void *state, char *err, size_t errlen) { return 0; }
static int rollup_drain(proc_worker *w, void *state, char *err, size_t errlen) { return 0; }
/* Nothing is buffered across responses: every response committed before the next was read. */
static void rollup_rewind(proc_worker *w, void *state) {}

const proc_sink_vt proc_rollup_sink = {
    .open = rollup_open,
    .records = rollup_records,
    .tick = rollup_tick,
    .drain = rollup_drain,
    .rewind = rollup_rewind,
    .close = rollup_close,
};

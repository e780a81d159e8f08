/* producer_send.c — sender threads (PutRecords with per-entry retries), spooling what Kinesis
 * would not take in time, and the drainer that ships the spool back to Kinesis.
 *
 * Retry rule: only entries Kinesis did not store are sent again, never a whole batch (that
 * would duplicate the stored ones). A request batch is retried with full-jitter backoff until
 * max_attempt_ms, then its remaining records go to the spool. A batch read from the spool is
 * retried until stored: it is already durable, and the spool is only acknowledged once every
 * batch of a peek is in Kinesis. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer_internal.h"
#include "tp/backoff.h"
#include "tp/log.h"

#define RETRY_BASE_MS 50
#define RETRY_CAP_MS 2000
#define DRAIN_RETRY_CAP_MS 5000
#define DOWN_AFTER_MS 1000   /* failing this long: Kinesis counts as down, new records go to the spool */
#define MAP_REFRESH_MS 60000 /* re-read shard maps this often even without a hint */

struct drain_group {
    size_t pending; /* batches not finished (under p->mu) */
    int failed;
};

static int stopping(tp_producer *p)
{
    pthread_mutex_lock(&p->mu);
    int s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* Sleep ms unless the producer starts stopping. */
static void backoff_sleep(tp_producer *p, int64_t ms)
{
    int64_t until = tp_now_mono_ms() + ms;
    pthread_mutex_lock(&p->mu);
    for (int64_t now = tp_now_mono_ms(); !p->stopping && now < until; now = tp_now_mono_ms())
        p_cond_wait_ms(&p->stop_cv, &p->mu, until - now);
    pthread_mutex_unlock(&p->mu);
}

int p_kinesis_down(tp_producer *p)
{
    int64_t since = atomic_load(&p->fail_since_ms);
    return since != 0 && tp_now_mono_ms() - since >= DOWN_AFTER_MS;
}

void p_count_retry(tp_producer *p, int err, uint64_t n)
{
    switch (err) {
    case TP_ETHROTTLED:
        tp_counter_add(p->m_retry_throttled, n);
        break;
    case TP_EUNAVAIL:
        tp_counter_add(p->m_retry_unavailable, n);
        break;
    case TP_ETIMEDOUT:
        tp_counter_add(p->m_retry_timeout, n);
        break;
    default:
        tp_counter_add(p->m_retry_error, n);
        break;
    }
}

void p_enqueue(tp_producer *p, struct pbatch *b)
{
    b->next = NULL;
    /* Set once: a batch a lane already tried keeps the deadline its first call started. */
    if (!b->from_spool && b->deadline_ms == 0)
        b->deadline_ms = tp_now_mono_ms() + p->max_attempt_ms;
    pthread_mutex_lock(&p->mu);
    if (p->q_tail)
        p->q_tail->next = b;
    else
        p->q_head = b;
    p->q_tail = b;
    pthread_cond_signal(&p->send_cv);
    pthread_mutex_unlock(&p->mu);
}

int p_spool_append_recs(tp_producer *p, struct prec **recs, size_t n)
{
    char err[256];
    int rc;
    if (n == 0)
        return 0;
    tp_spool_entry *es = malloc(n * sizeof *es);
    if (!es)
        return TP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        es[i].tag = recs[i]->stream;
        es[i].key = recs[i]->pkey;
        es[i].key_len = recs[i]->pkey_len;
        es[i].data = recs[i]->data;
        es[i].len = recs[i]->len;
    }
    rc = tp_spool_append(p->spool, es, n, err, sizeof err);
    free(es);
    if (rc != 0) {
        if (rc != TP_EFULL)
            tp_log_error("producer: spool append failed", "error", err);
        return rc;
    }
    tp_counter_add(p->m_spooled, n);
    atomic_store(&p->spool_has_data, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_signal(&p->drain_cv);
    pthread_mutex_unlock(&p->mu);
    p_update_spool_gauges(p);
    return 0;
}

/* Spool the user records of every entry not yet stored, and complete them. */
static void spool_remainder(tp_producer *p, struct pbatch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->ents[i].done)
            n += b->ents[i].nrecs;
    struct prec **recs = malloc((n ? n : 1) * sizeof *recs);
    int rc = recs ? 0 : TP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; recs && i < b->n; i++) {
        if (b->ents[i].done)
            continue;
        memcpy(recs + k, b->recs + b->ents[i].rec_first, b->ents[i].nrecs * sizeof *recs);
        k += b->ents[i].nrecs;
    }
    if (rc == 0)
        rc = p_spool_append_recs(p, recs, n);
    if (rc != 0) {
        char nb[24];
        snprintf(nb, sizeof nb, "%zu", n);
        tp_log_error("producer: records neither in Kinesis nor spooled; their requests fail", "stream",
                     p->stream_names[b->stream], "records", nb, "error", tp_errname(rc));
    }
    for (size_t i = 0; i < b->n; i++) {
        struct pentry *e = &b->ents[i];
        if (e->done)
            continue;
        for (size_t j = 0; j < e->nrecs; j++)
            p_complete_rec(p, b->recs[e->rec_first + j], rc == 0 ? 0 : TP_EFULL);
        e->done = 1;
    }
    free(recs);
}

void p_batch_apply(tp_producer *p, struct pbatch *b, const size_t *idx, const tp_put_result_entry *res, size_t m)
{
    atomic_store(&p->fail_since_ms, 0);
    for (size_t j = 0; j < m; j++) {
        struct pentry *e = &b->ents[idx[j]];
        if (res[j].err != 0) {
            p_count_retry(p, res[j].err, 1);
            continue;
        }
        if (e->shard >= 0 && strcmp(res[j].shard_id, b->map->r[e->shard].id) != 0)
            atomic_store(&p->refresh_wanted, 1); /* resharded under us */
        e->done = 1;
        tp_counter_add(p->m_kinesis_records[b->stream], e->nrecs);
        for (size_t k = 0; k < e->nrecs; k++)
            p_complete_rec(p, b->recs[e->rec_first + k], 0);
    }
}

void p_call_failed(tp_producer *p, const char *stream, int rc, unsigned attempt, const char *err)
{
    int64_t zero = 0;
    atomic_compare_exchange_strong(&p->fail_since_ms, &zero, tp_now_mono_ms());
    p_count_retry(p, rc, 1);
    if (attempt == 0 || attempt % 10 == 0) {
        char ab[16];
        snprintf(ab, sizeof ab, "%u", attempt);
        tp_log_warn("producer: PutRecords failed", "stream", stream, "attempt", ab, "error", err);
    }
}

size_t p_batch_entries(const struct pbatch *b, tp_put_entry *pe, size_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct pentry *e = &b->ents[i];
        if (e->done)
            continue;
        pe[m].data = b->arena + e->data_off;
        pe[m].len = e->len;
        pe[m].partition_key = (const char *)b->arena + e->pkey_off;
        pe[m].explicit_hash_key = e->shard >= 0 ? b->map->r[e->shard].start_dec : NULL;
        idx[m++] = i;
    }
    return m;
}

/* PutRecords until every entry is stored, or (request batches) the deadline passes and the rest
 * is spooled. Returns 1 when every entry is in Kinesis or the spool, 0 when a spool batch gave
 * up because the producer is stopping. */
static int send_batch(struct psender *s, struct pbatch *b)
{
    tp_producer *p = s->p;
    const char *stream = p->stream_names[b->stream];
    char err[512];
    unsigned attempt = 0;
    if (!b->from_spool && p_kinesis_down(p)) {
        /* Kinesis has been failing for a while: do not make these requests wait on it; the
         * drainer probes Kinesis and ships the spool once it answers. */
        spool_remainder(p, b);
        return 1;
    }
    for (;;) {
        size_t m = p_batch_entries(b, s->pe, s->idx);
        if (m == 0)
            return 1;
        size_t failed = 0;
        int64_t t0 = tp_now_mono_ns();
        int rc = tp_kinesis_put_records(s->k, stream, s->pe, m, s->res, &failed, err, sizeof err);
        tp_histogram_observe(p->m_put_seconds[b->stream], (double)(tp_now_mono_ns() - t0) / 1e9);
        if (rc == 0) {
            p_batch_apply(p, b, s->idx, s->res, m);
            if (failed == 0)
                return 1;
        } else {
            p_call_failed(p, stream, rc, attempt, err);
        }
        int stop = stopping(p);
        if (b->from_spool) {
            if (stop)
                return 0; /* stays in the spool; the next start sends it */
        } else if (stop || tp_now_mono_ms() >= b->deadline_ms || p_kinesis_down(p)) {
            spool_remainder(p, b);
            return 1;
        }
        int64_t delay = tp_backoff_ms(attempt++, RETRY_BASE_MS, b->from_spool ? DRAIN_RETRY_CAP_MS : RETRY_CAP_MS);
        if (!b->from_spool && delay > b->deadline_ms - tp_now_mono_ms())
            delay = b->deadline_ms - tp_now_mono_ms();
        if (delay > 0)
            backoff_sleep(p, delay);
    }
}

void *p_sender_main(void *arg)
{
    struct psender *s = arg;
    tp_producer *p = s->p;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->q_head && !p->senders_exit) {
            /* The batcher holds records back while every sender is busy (they fill bigger
             * batches meanwhile); a free sender tells it to send them now. */
            p->idle_senders++;
            pthread_cond_signal(&p->batch_cv);
            pthread_cond_wait(&p->send_cv, &p->mu);
            p->idle_senders--;
        }
        struct pbatch *b = p->q_head;
        if (b) {
            p->q_head = b->next;
            if (!p->q_head) {
                p->q_tail = NULL;
                pthread_cond_signal(&p->batch_cv); /* the queue is empty: see above */
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (!b)
            break;
        int ok = send_batch(s, b);
        if (b->from_spool) {
            pthread_mutex_lock(&p->mu);
            if (!ok)
                b->group->failed = 1;
            b->group->pending--;
            pthread_cond_broadcast(&p->drain_cv);
            pthread_mutex_unlock(&p->mu);
        }
        p_batch_release(p, b);
    }
    return NULL;
}

/* --- drainer --- */

struct drainer {
    tp_producer *p;
    struct former formers[TP_STREAM__COUNT];
    struct drain_group group;
    tp_spool_batch sb;
    struct prec *recs;
    size_t caprecs;
    char *keys;
    size_t capkeys;
    int64_t last_refresh_ms;
};

static void drain_emit(void *ctx, struct pbatch *b)
{
    struct drainer *d = ctx;
    b->from_spool = 1;
    b->group = &d->group;
    pthread_mutex_lock(&d->p->mu);
    d->group.pending++;
    pthread_mutex_unlock(&d->p->mu);
    p_enqueue(d->p, b);
}

static void refresh_maps(struct drainer *d)
{
    tp_producer *p = d->p;
    atomic_store(&p->refresh_wanted, 0);
    d->last_refresh_ms = tp_now_mono_ms();
    if (!p->aggregate)
        return;
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        (void)p_map_refresh(p, p->kin_drain, s); /* failures are logged; the old map stays */
}

static int maybe_refresh(struct drainer *d)
{
    if (atomic_load(&d->p->refresh_wanted) || tp_now_mono_ms() - d->last_refresh_ms >= MAP_REFRESH_MS) {
        refresh_maps(d);
        return 1;
    }
    return 0;
}

/* Turn the peeked spool entries into records (keys NUL-terminated in d->keys). */
static int prepare_records(struct drainer *d, size_t *nout)
{
    const tp_spool_batch *sb = &d->sb;
    size_t keybytes = 0, n = 0;
    for (size_t i = 0; i < sb->n; i++)
        keybytes += sb->entries[i].key_len + 1;
    if (sb->n > d->caprecs) {
        struct prec *nr = realloc(d->recs, sb->n * sizeof *nr);
        if (!nr)
            return TP_ENOMEM;
        d->recs = nr;
        d->caprecs = sb->n;
    }
    if (keybytes > d->capkeys) {
        char *nk = realloc(d->keys, keybytes);
        if (!nk)
            return TP_ENOMEM;
        d->keys = nk;
        d->capkeys = keybytes;
    }
    char *kp = d->keys;
    for (size_t i = 0; i < sb->n; i++) {
        const tp_spool_entry *e = &sb->entries[i];
        if (e->tag >= TP_STREAM__COUNT || e->key_len == 0 || e->key_len > P_MAX_PKEY) {
            /* Only this producer writes the spool; anything else cannot be delivered anywhere. */
            tp_log_error("producer: skipping an undeliverable spool entry");
            continue;
        }
        memcpy(kp, e->key, e->key_len);
        kp[e->key_len] = '\0';
        d->recs[n] = (struct prec){NULL, kp, e->data, (uint32_t)e->len, (uint16_t)e->key_len, (uint8_t)e->tag};
        kp += e->key_len + 1;
        n++;
    }
    *nout = n;
    return 0;
}

/* Send one peek's worth of spool entries; 0 when all are in Kinesis. */
static int drain_once(struct drainer *d)
{
    tp_producer *p = d->p;
    size_t n = 0;
    int rc = prepare_records(d, &n);
    if (rc != 0)
        return rc;
    d->group.pending = 0;
    d->group.failed = 0;
    for (int s = 0; s < TP_STREAM__COUNT && rc == 0; s++)
        rc = p_former_sync_map(&d->formers[s]);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = p_former_add(&d->formers[d->recs[i].stream], &d->recs[i]);
    for (int s = 0; s < TP_STREAM__COUNT; s++) {
        int r = p_former_flush(&d->formers[s]);
        if (rc == 0)
            rc = r;
    }
    /* Wait for every batch handed out, also after an error: they point into our buffers. */
    pthread_mutex_lock(&p->mu);
    while (d->group.pending > 0) {
        pthread_mutex_unlock(&p->mu);
        maybe_refresh(d);
        pthread_mutex_lock(&p->mu);
        if (d->group.pending > 0)
            p_cond_wait_ms(&p->drain_cv, &p->mu, 200);
    }
    int failed = d->group.failed;
    pthread_mutex_unlock(&p->mu);
    if (rc != 0) {
        /* Some records never made it into a batch: drop the formers' leftovers, retry the peek. */
        for (int s = 0; s < TP_STREAM__COUNT; s++) {
            p_former_free(&d->formers[s]);
            if (p_former_init(&d->formers[s], p, s, drain_emit, d) != 0)
                return TP_ENOMEM;
        }
        return rc;
    }
    return failed ? TP_EUNAVAIL : 0;
}

void *p_drainer_main(void *arg)
{
    tp_producer *p = arg;
    struct drainer d;
    char err[256];
    unsigned attempt = 0;
    memset(&d, 0, sizeof d);
    d.p = p;
    d.last_refresh_ms = tp_now_mono_ms();
    for (int s = 0; s < TP_STREAM__COUNT; s++) {
        if (p_former_init(&d.formers[s], p, s, drain_emit, &d) != 0) {
            tp_log_error("producer: drainer out of memory; the spool is not drained until restart");
            goto out;
        }
    }
    size_t drain_bytes = p->batch_max_bytes * (size_t)p->nsenders * 2;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stopping && !atomic_load(&p->spool_has_data) && !atomic_load(&p->refresh_wanted) &&
               tp_now_mono_ms() - d.last_refresh_ms < MAP_REFRESH_MS)
            p_cond_wait_ms(&p->drain_cv, &p->mu, 1000);
        int stop = p->stopping;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        maybe_refresh(&d);

        /* Clear the hint before looking, so an append racing with us sets it again. */
        atomic_store(&p->spool_has_data, 0);
        tp_spool_stats st;
        tp_spool_get_stats(p->spool, &st);
        if (st.entries == 0)
            continue;
        atomic_store(&p->spool_has_data, 1);
        if (!p_maps_ready(p)) {
            refresh_maps(&d);
            if (!p_maps_ready(p)) {
                backoff_sleep(p, tp_backoff_ms(attempt++, 200, DRAIN_RETRY_CAP_MS));
                continue;
            }
        }
        int rc = tp_spool_peek(p->spool, 100000, drain_bytes, &d.sb, err, sizeof err);
        if (rc != 0) {
            tp_log_error("producer: spool read failed", "error", err);
            backoff_sleep(p, tp_backoff_ms(attempt++, 200, DRAIN_RETRY_CAP_MS));
            continue;
        }
        if (d.sb.n == 0) { /* written but not yet synced: the appender is about to finish */
            backoff_sleep(p, 5);
            continue;
        }
        rc = drain_once(&d);
        if (rc != 0) {
            if (!stopping(p))
                backoff_sleep(p, tp_backoff_ms(attempt++, 200, DRAIN_RETRY_CAP_MS));
            continue;
        }
        attempt = 0;
        rc = tp_spool_ack(p->spool, &d.sb, d.sb.n, err, sizeof err);
        if (rc != 0) {
            /* Everything is in Kinesis; not acknowledging only means sending it again later. */
            tp_log_error("producer: spool ack failed", "error", err);
            backoff_sleep(p, 1000);
        }
        p_update_spool_gauges(p);
    }
out:
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        p_former_free(&d.formers[s]);
    tp_spool_batch_free(&d.sb);
    free(d.recs);
    free(d.keys);
    return NULL;
}

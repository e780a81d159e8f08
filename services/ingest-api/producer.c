/* producer.c — the producer's lifecycle, submit, request completion and the batcher thread
 * (see producer.h; batch forming is in producer_batch.c, sending and draining in
 * producer_send.c).
 *
 * The batcher takes every submitted request at once (a submit is one compare-and-swap onto
 * a lock-free inbox). Normally their records go into per-stream formers, which emit batches
 * to the senders when full, or as soon as a sender is free and none is queued (group commit:
 * under load, batches grow while every sender is busy), or when the oldest record has waited
 * linger_ms and the queue is empty. They go to the spool instead (one group-committed append
 * for the whole round) while the spool holds anything (so the spool drains in order), while
 * Kinesis has been failing for a while, while the shard maps are unknown, or while more than
 * max_buffered_bytes of requests wait for Kinesis (the spool absorbs bursts instead of memory
 * growing). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer_internal.h"
#include "tp/backoff.h"
#include "tp/log.h"

#define DEFAULT_SENDERS 2
#define DEFAULT_FLUSH_EVENTS 64
#define DEFAULT_MAX_ATTEMPT_MS 10000
#define DEFAULT_AGG_MAX ((size_t)256 * 1024)
#define DEFAULT_BATCH_MAX ((size_t)1024 * 1024)
#define DEFAULT_MAX_BUFFERED ((uint64_t)24 * 1024 * 1024)
#define DEFAULT_SPOOL_MAX ((uint64_t)1 << 30)

int p_monotonic_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return TP_ENOMEM;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc == 0 ? 0 : TP_ENOMEM;
}

void p_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000LL;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(cv, mu, &ts);
}

void p_update_spool_gauges(tp_producer *p)
{
    tp_spool_stats st;
    tp_spool_get_stats(p->spool, &st);
    tp_gauge_set(p->m_spool_bytes, (double)st.bytes);
    tp_gauge_set(p->m_spool_entries, (double)st.entries);
}

void p_complete_rec(tp_producer *p, struct prec *r, int status)
{
    struct preq *q = r->req;
    if (!q)
        return; /* read back from the spool: the drainer acknowledges it there */
    if (status != 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&q->status, &zero, status);
    }
    if (atomic_fetch_sub(&q->remaining, 1) == 1) {
        atomic_fetch_sub(&p->buffered_bytes, q->bytes);
        if (q->waiting)
            atomic_fetch_sub(q->waiting, 1);
        q->cb(q->ctx, atomic_load(&q->status));
        free(q);
    }
}

static void register_metrics(tp_producer *p, tp_metrics *m)
{
    char labels[160];
    if (!m)
        return;
    for (int s = 0; s < TP_STREAM__COUNT; s++) {
        snprintf(labels, sizeof labels, "stream=%s", p->stream_names[s]);
        p->m_put_seconds[s] =
            tp_metrics_histogram(m, "tp_ingest_putrecords_seconds", "PutRecords call latency", labels,
                                 tp_metrics_latency_bounds, tp_metrics_latency_nbounds);
        p->m_kinesis_records[s] = tp_metrics_counter(m, "tp_ingest_kinesis_records_total",
                                                     "events stored in Kinesis (before aggregation)", labels);
    }
    static const char help_retry[] = "PutRecords entries or calls retried, by reason";
    p->m_retry_throttled = tp_metrics_counter(m, "tp_ingest_retries_total", help_retry, "reason=throttled");
    p->m_retry_unavailable = tp_metrics_counter(m, "tp_ingest_retries_total", help_retry, "reason=unavailable");
    p->m_retry_timeout = tp_metrics_counter(m, "tp_ingest_retries_total", help_retry, "reason=timeout");
    p->m_retry_error = tp_metrics_counter(m, "tp_ingest_retries_total", help_retry, "reason=error");
    p->m_spooled = tp_metrics_counter(m, "tp_ingest_spooled_events_total", "events written to the local spool", NULL);
    p->m_spool_bytes = tp_metrics_gauge(m, "tp_ingest_spool_bytes", "bytes waiting in the spool", NULL);
    p->m_spool_entries = tp_metrics_gauge(m, "tp_ingest_spool_entries", "events waiting in the spool", NULL);
    static const char help_flush[] = "times an HTTP loop sent what it held, by the rule that sent it";
    static const char *const why[P_FLUSH__N] = {"reason=count", "reason=all_waiting", "reason=quiet", "reason=linger"};
    for (int i = 0; i < P_FLUSH__N; i++)
        p->m_lane_flushes[i] = tp_metrics_counter(m, "tp_ingest_lane_flushes_total", help_flush, why[i]);
}

/* --- the batcher --- */

struct batcher {
    tp_producer *p;
    struct former formers[TP_STREAM__COUNT];
    struct prec **tmp; /* records of one round, for spooling */
    size_t captmp;
};

static void batcher_emit(void *ctx, struct pbatch *b)
{
    struct batcher *bt = ctx;
    p_enqueue(bt->p, b);
}

int p_spool_mode(tp_producer *p)
{
    tp_spool_stats st;
    tp_spool_get_stats(p->spool, &st);
    return st.entries > 0 || atomic_load(&p->spool_has_data) || p_kinesis_down(p) || !p_maps_ready(p) ||
           atomic_load(&p->buffered_bytes) > p->max_buffered_bytes;
}

/* One append for the whole round; if the spool is too full for all of it, request by request
 * so the ones that fit still succeed. */
static void spool_requests(struct batcher *bt, struct preq *list)
{
    tp_producer *p = bt->p;
    size_t n = 0;
    for (struct preq *q = list; q; q = q->next)
        n += q->n;
    int rc = 0;
    if (n > bt->captmp) {
        struct prec **nt = realloc(bt->tmp, n * sizeof *nt);
        if (nt) {
            bt->tmp = nt;
            bt->captmp = n;
        } else {
            rc = TP_ENOMEM;
        }
    }
    if (rc == 0) {
        size_t k = 0;
        for (struct preq *q = list; q; q = q->next)
            for (size_t i = 0; i < q->n; i++)
                bt->tmp[k++] = &q->recs[i];
        rc = p_spool_append_recs(p, bt->tmp, n);
    }
    struct preq *q = list;
    while (q) {
        struct preq *next = q->next; /* q may be freed by its last completion */
        int qrc = rc;
        if (rc == TP_EFULL || rc == TP_ENOMEM) {
            struct prec *rp[64];
            struct prec **arr = q->n <= 64 ? rp : malloc(q->n * sizeof *arr);
            qrc = TP_ENOMEM;
            if (arr) {
                for (size_t i = 0; i < q->n; i++)
                    arr[i] = &q->recs[i];
                qrc = p_spool_append_recs(p, arr, q->n);
                if (arr != rp)
                    free(arr);
            }
        }
        size_t nrec = q->n;
        struct prec *recs = q->recs;
        for (size_t i = 0; i < nrec; i++)
            p_complete_rec(p, &recs[i], qrc == 0 ? 0 : TP_EFULL);
        q = next;
    }
}

static void form_requests(struct batcher *bt, struct preq *list)
{
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        if (p_former_sync_map(&bt->formers[s]) != 0)
            tp_log_warn("producer: out of memory switching shard maps");
    while (list) {
        struct preq *next = list->next;
        size_t nrec = list->n;
        struct prec *recs = list->recs;
        for (size_t i = 0; i < nrec; i++) {
            if (p_former_add(&bt->formers[recs[i].stream], &recs[i]) != 0) {
                tp_log_error("producer: out of memory forming a batch; the record is refused");
                p_complete_rec(bt->p, &recs[i], TP_EFULL);
            }
        }
        list = next;
    }
}

/* Group commit: records held by the formers go out at once when a sender is free to take them
 * and either flush_events of them wait or no batch has gone out in the last linger_ms (a quiet
 * service answers in one round trip); otherwise they keep filling bigger batches until their
 * oldest has waited linger_ms. Without the gap a fast Kinesis (or a fast proxy) would be sent
 * one tiny call per request, and each call costs ~80 µs of CPU in curl and signing: at full
 * load that was half the service's CPU. Without flush_events every request under load would
 * wait out the gap, and with a fixed number of clients that wait, not CPU, caps throughput
 * (Little's law: 128 clients waiting ~2 ms each cannot send more than ~64k requests/s).
 * Never behind a queued batch: that would only make more, smaller calls. Caller holds p->mu. */
static int send_now(tp_producer *p, int64_t now, int64_t last_flush_ms, int linger_passed, size_t held)
{
    if (p->q_head)
        return 0;
    return linger_passed ||
           (p->idle_senders > 0 && (now - last_flush_ms >= p->linger_ms || held >= p->flush_events));
}

static size_t held_events(const struct batcher *bt)
{
    size_t n = 0;
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        n += bt->formers[s].open_recs;
    return n;
}

/* Everything submitted so far, oldest first. Once stopping, waits for submits that got past
 * their closing check, so none can push after the batcher's last look. */
static struct preq *take_inbox(tp_producer *p, int stop)
{
    if (stop)
        while (atomic_load(&p->submitting) > 0)
            sched_yield();
    struct preq *q = atomic_exchange(&p->inbox, NULL), *list = NULL;
    /* Events pushed after the exchange but counted before this store are counted in the next
     * round: an early wake-up at worst. */
    atomic_store(&p->inbox_events, 0);
    while (q) {
        struct preq *next = q->next;
        q->next = list;
        list = q;
        q = next;
    }
    return list;
}

static void *batcher_main(void *arg)
{
    tp_producer *p = arg;
    struct batcher bt;
    memset(&bt, 0, sizeof bt);
    bt.p = p;
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        if (p_former_init(&bt.formers[s], p, s, batcher_emit, &bt) != 0)
            tp_log_error("producer: batcher out of memory"); /* p_former_add then fails per record */
    int64_t last_flush_ms = INT64_MIN / 2; /* last flush of batches that were not full */
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stopping && !atomic_load(&p->inbox)) {
            int64_t due = INT64_MAX;
            for (int s = 0; s < TP_STREAM__COUNT; s++)
                if (bt.formers[s].open_recs > 0 && bt.formers[s].born_ms + p->linger_ms < due)
                    due = bt.formers[s].born_ms + p->linger_ms;
            if (due == INT64_MAX) {
                /* Say so before the last look at the inbox: a submit either sees the flag
                 * (and wakes us under mu) or pushed before that look. */
                atomic_store(&p->batcher_idle, 1);
                if (!atomic_load(&p->inbox))
                    pthread_cond_wait(&p->batch_cv, &p->mu);
                atomic_store(&p->batcher_idle, 0);
                continue;
            }
            int64_t now = tp_now_mono_ms();
            size_t held = held_events(&bt);
            if (send_now(p, now, last_flush_ms, due <= now, held))
                break;
            /* Woken by a free sender, an emptied queue, or the submit that brings flush_events
             * (only worth it while a sender is free); the timeout guards the linger and the end
             * of the gap after the last flush. A submit either sees linger_wake (and wakes us
             * under mu) or pushed before the look at the inbox below. */
            int64_t gap_end = last_flush_ms + p->linger_ms;
            if (p->idle_senders > 0 && gap_end > now && gap_end < due)
                due = gap_end;
            if (p->idle_senders > 0 && !p->q_head)
                atomic_store(&p->linger_wake, (long long)(p->flush_events - held));
            if (!atomic_load(&p->inbox))
                p_cond_wait_ms(&p->batch_cv, &p->mu, due > now ? due - now : p->linger_ms + 1);
            atomic_store(&p->linger_wake, 0);
        }
        int stop = p->stopping;
        pthread_mutex_unlock(&p->mu);
        struct preq *list = take_inbox(p, stop);

        if (list) {
            if (p_spool_mode(p))
                spool_requests(&bt, list);
            else
                form_requests(&bt, list);
        }
        int64_t now = tp_now_mono_ms();
        pthread_mutex_lock(&p->mu);
        size_t held = held_events(&bt);
        int go = send_now(p, now, last_flush_ms, 0, held), go_late = send_now(p, now, last_flush_ms, 1, held);
        pthread_mutex_unlock(&p->mu);
        for (int s = 0; s < TP_STREAM__COUNT; s++) {
            struct former *f = &bt.formers[s];
            if (f->open_recs > 0 && (stop || go || (go_late && now >= f->born_ms + p->linger_ms))) {
                last_flush_ms = now;
                if (p_former_flush(f) != 0)
                    tp_log_warn("producer: out of memory flushing a batch; retrying");
            }
        }
        if (stop && !list)
            break; /* submit refuses new requests once stopping is set: nothing more can come */
    }
    for (int s = 0; s < TP_STREAM__COUNT; s++) {
        /* Records a failed flush left behind are refused rather than forgotten. */
        struct former *f = &bt.formers[s];
        for (size_t i = 0; i < f->naggs; i++)
            for (size_t j = 0; j < f->aggs[i].n; j++)
                p_complete_rec(p, f->aggs[i].recs[j], TP_EFULL);
        for (size_t i = 0; f->cur && i < f->cur->nrecs; i++)
            p_complete_rec(p, f->cur->recs[i], TP_EFULL);
        p_former_free(f);
    }
    free(bt.tmp);
    return NULL;
}

/* --- public API --- */

int tp_producer_new(const tp_producer_config *cfg, tp_producer **out, char *err, size_t errlen)
{
    int rc = 0;
    tp_producer *p = NULL;
    *out = NULL;
    if (!cfg || !cfg->aws || !cfg->spool_dir || !*cfg->spool_dir)
        return tp_errf(err, errlen, TP_EINVAL, "producer: aws config and spool_dir are required");
    /* Aligned as its per-lane counters are (a cache line each); sizeof is a multiple of it. */
    p = aligned_alloc(alignof(tp_producer), sizeof *p);
    if (!p)
        return tp_errf(err, errlen, TP_ENOMEM, "producer: out of memory");
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->maps_mu, NULL);
    if (p_monotonic_cond_init(&p->batch_cv) || p_monotonic_cond_init(&p->send_cv) ||
        p_monotonic_cond_init(&p->drain_cv) || p_monotonic_cond_init(&p->stop_cv)) {
        free(p); /* nothing else to undo yet */
        return tp_errf(err, errlen, TP_ENOMEM, "producer: cannot create condition variables");
    }
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        snprintf(p->stream_names[s], sizeof p->stream_names[s], "%s",
                 cfg->stream_names[s] && *cfg->stream_names[s] ? cfg->stream_names[s] : tp_stream_name(s));
    p->aggregate = cfg->aggregate != 0;
    p->linger_ms = cfg->linger_ms > 0 ? cfg->linger_ms : 0;
    p->flush_events = cfg->flush_events > 0 ? (size_t)cfg->flush_events : DEFAULT_FLUSH_EVENTS;
    p->nsenders = cfg->senders > 0 ? cfg->senders : DEFAULT_SENDERS;
    p->max_attempt_ms = cfg->max_attempt_ms > 0 ? cfg->max_attempt_ms : DEFAULT_MAX_ATTEMPT_MS;
    p->agg_max_bytes = cfg->aggregate_max_bytes > 0 ? (size_t)cfg->aggregate_max_bytes : DEFAULT_AGG_MAX;
    if (p->agg_max_bytes > P_MAX_RECORD - 2 * P_MAX_PKEY)
        p->agg_max_bytes = P_MAX_RECORD - 2 * P_MAX_PKEY;
    p->batch_max_bytes = cfg->batch_max_bytes > 0 ? (size_t)cfg->batch_max_bytes : DEFAULT_BATCH_MAX;
    if (p->batch_max_bytes > P_MAX_REQUEST)
        p->batch_max_bytes = P_MAX_REQUEST;
    p->max_buffered_bytes = cfg->max_buffered_bytes ? cfg->max_buffered_bytes : DEFAULT_MAX_BUFFERED;
    p->aws = *cfg->aws;
    atomic_init(&p->refresh_wanted, 0);
    atomic_init(&p->fail_since_ms, 0);
    atomic_init(&p->buffered_bytes, 0);
    atomic_init(&p->spool_has_data, 0);
    atomic_init(&p->inbox, NULL);
    atomic_init(&p->batcher_idle, 0);
    atomic_init(&p->closing, 0);
    atomic_init(&p->submitting, 0);
    for (int i = 0; i < P_MAX_LANES; i++)
        atomic_init(&p->lane_waiting[i].n, 0);
    atomic_init(&p->lanes_made, 0);

    if (p->aggregate && !(p->md5 = EVP_MD_fetch(NULL, "MD5", NULL))) {
        rc = tp_errf(err, errlen, TP_EINTERNAL, "producer: MD5 unavailable in libcrypto");
        goto out;
    }
    tp_spool_options so = {cfg->spool_max_bytes ? cfg->spool_max_bytes : DEFAULT_SPOOL_MAX, 0};
    rc = tp_spool_open(cfg->spool_dir, &so, &p->spool, NULL, err, errlen);
    if (rc != 0)
        goto out;
    p->senders = calloc((size_t)p->nsenders, sizeof *p->senders);
    if (!p->senders) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "producer: out of memory");
        goto out;
    }
    /* A call (a sender's or a lane's) may not outlast the time a request is allowed to wait for
     * Kinesis: one that hangs would hold its requests past TP_MAX_ATTEMPT_MS, and the outage
     * would go unnoticed (no spooling) until it timed out. */
    p->send_aws = p->aws;
    long cap = p->max_attempt_ms > 1000 ? p->max_attempt_ms : 1000;
    if (p->send_aws.request_timeout_ms <= 0 || p->send_aws.request_timeout_ms > cap)
        p->send_aws.request_timeout_ms = cap;
    for (int i = 0; i < p->nsenders; i++) {
        p->senders[i].p = p;
        if ((rc = tp_kinesis_new(&p->send_aws, &p->senders[i].k)) != 0) {
            tp_errf(err, errlen, rc, "producer: cannot create a Kinesis client");
            goto out;
        }
    }
    if ((rc = tp_kinesis_new(&p->aws, &p->kin_drain)) != 0) {
        tp_errf(err, errlen, rc, "producer: cannot create a Kinesis client");
        goto out;
    }
    register_metrics(p, cfg->metrics);
    if (p->aggregate)
        for (int s = 0; s < TP_STREAM__COUNT; s++)
            (void)p_map_refresh(p, p->kin_drain, s); /* Kinesis may be down: the drainer retries */
    tp_spool_stats st;
    tp_spool_get_stats(p->spool, &st);
    atomic_store(&p->spool_has_data, st.entries > 0);
    p_update_spool_gauges(p);

    for (int i = 0; i < p->nsenders; i++) {
        if (pthread_create(&p->senders[i].th, NULL, p_sender_main, &p->senders[i]) != 0) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "producer: cannot start a sender thread");
            goto out;
        }
        p->senders[i].started = 1;
        pthread_setname_np(p->senders[i].th, "tp-sender"); /* for top -H, perf, gdb */
    }
    if (pthread_create(&p->drainer, NULL, p_drainer_main, p) != 0) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "producer: cannot start the drainer thread");
        goto out;
    }
    p->drainer_started = 1;
    pthread_setname_np(p->drainer, "tp-drainer");
    if (pthread_create(&p->batcher, NULL, batcher_main, p) != 0) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "producer: cannot start the batcher thread");
        goto out;
    }
    p->batcher_started = 1;
    pthread_setname_np(p->batcher, "tp-batcher");
    *out = p;
    p = NULL;
out:
    tp_producer_free(p);
    return rc;
}

struct preq *p_req_new(const tp_producer_record *recs, size_t n, tp_producer_done_cb cb, void *ctx, int *rc)
{
    *rc = TP_EINVAL;
    if (!recs || n == 0 || !cb)
        return NULL;
    size_t size = sizeof(struct preq) + n * sizeof(struct prec);
    for (size_t i = 0; i < n; i++) {
        const tp_producer_record *r = &recs[i];
        size_t kl = r->partition_key ? strlen(r->partition_key) : 0;
        if ((unsigned)r->stream >= TP_STREAM__COUNT || kl == 0 || kl > P_MAX_PKEY || (!r->data && r->len) ||
            r->len + 2 * kl + 64 > P_MAX_RECORD)
            return NULL;
        size += kl + 1 + r->len;
    }
    *rc = TP_ENOMEM;
    struct preq *q = malloc(size);
    if (!q)
        return NULL;
    *rc = 0;
    q->next = NULL;
    q->cb = cb;
    q->ctx = ctx;
    atomic_init(&q->remaining, n);
    atomic_init(&q->status, 0);
    q->waiting = NULL;
    q->n = n;
    q->bytes = size;
    char *blob = (char *)&q->recs[n];
    for (size_t i = 0; i < n; i++) {
        const tp_producer_record *r = &recs[i];
        size_t kl = strlen(r->partition_key);
        struct prec *pr = &q->recs[i];
        memcpy(blob, r->partition_key, kl + 1);
        pr->req = q;
        pr->pkey = blob;
        pr->pkey_len = (uint16_t)kl;
        blob += kl + 1;
        if (r->len)
            memcpy(blob, r->data, r->len);
        pr->data = (const uint8_t *)blob;
        pr->len = (uint32_t)r->len;
        pr->stream = (uint8_t)r->stream;
        blob += r->len;
    }
    return q;
}

int tp_producer_submit(tp_producer *p, const tp_producer_record *recs, size_t n, tp_producer_done_cb cb, void *ctx)
{
    int rc;
    if (!p)
        return TP_EINVAL;
    struct preq *q = p_req_new(recs, n, cb, ctx, &rc);
    if (!q)
        return rc;
    size_t size = q->bytes;
    atomic_fetch_add(&p->submitting, 1);
    if (atomic_load(&p->closing)) {
        atomic_fetch_sub(&p->submitting, 1);
        free(q);
        return TP_ESHUTDOWN;
    }
    atomic_fetch_add(&p->buffered_bytes, size);
    struct preq *head = atomic_load(&p->inbox);
    do
        q->next = head;
    while (!atomic_compare_exchange_weak(&p->inbox, &head, q));
    /* A non-empty inbox means an earlier submit already woke the batcher, or it will look. A
     * lingering batcher with a sender free wants waking once flush_events are there. */
    long long after = atomic_fetch_add(&p->inbox_events, (long long)n) + (long long)n;
    long long want = atomic_load(&p->linger_wake);
    int wake = (head == NULL && atomic_load(&p->batcher_idle)) ||
               (want > 0 && after >= want && after - (long long)n < want);
    atomic_fetch_sub(&p->submitting, 1);
    if (wake) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->batch_cv);
        pthread_mutex_unlock(&p->mu);
    }
    return 0;
}

int tp_producer_ready(tp_producer *p, char *why, size_t whylen)
{
    tp_spool_stats st;
    if (!p)
        return tp_errf(why, whylen, TP_EINVAL, "no producer");
    tp_spool_get_stats(p->spool, &st);
    if (st.failed)
        return tp_errf(why, whylen, TP_EIO, "spool disabled after an I/O error");
    uint64_t headroom = st.max_bytes / 20 < (1u << 20) ? st.max_bytes / 20 : (1u << 20);
    if (st.bytes + headroom > st.max_bytes)
        return tp_errf(why, whylen, TP_EFULL, "spool full (%llu of %llu bytes)", (unsigned long long)st.bytes,
                       (unsigned long long)st.max_bytes);
    return tp_errf(why, whylen, 0, "%s", p_kinesis_down(p) ? "kinesis unavailable; spooling" : "ok");
}

void tp_producer_get_stats(tp_producer *p, tp_producer_stats *st)
{
    tp_spool_stats ss;
    memset(st, 0, sizeof *st);
    if (!p)
        return;
    tp_spool_get_stats(p->spool, &ss);
    st->spool_entries = ss.entries;
    st->spool_bytes = ss.bytes;
    st->buffered_bytes = atomic_load(&p->buffered_bytes);
    st->kinesis_down = p_kinesis_down(p);
}

void tp_producer_free(tp_producer *p)
{
    if (!p)
        return;
    atomic_store(&p->closing, 1);
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->batch_cv);
    pthread_cond_broadcast(&p->drain_cv);
    pthread_cond_broadcast(&p->stop_cv);
    pthread_mutex_unlock(&p->mu);
    /* Order matters: the batcher and the drainer hand batches to the senders, so the senders
     * are told the queue is final only once both are gone. */
    if (p->batcher_started)
        pthread_join(p->batcher, NULL);
    if (p->drainer_started)
        pthread_join(p->drainer, NULL);
    pthread_mutex_lock(&p->mu);
    p->senders_exit = 1;
    pthread_cond_broadcast(&p->send_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; p->senders && i < p->nsenders; i++)
        if (p->senders[i].started)
            pthread_join(p->senders[i].th, NULL);
    /* Requests submitted while threads never started (a failed _new) are not possible:
     * _new returns only a fully started producer. */
    for (int i = 0; p->senders && i < p->nsenders; i++)
        tp_kinesis_free(p->senders[i].k);
    free(p->senders);
    tp_kinesis_free(p->kin_drain);
    while (p->free_batches) {
        struct pbatch *b = p->free_batches;
        p->free_batches = b->next;
        p_batch_free(b);
    }
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        p_map_put(p->maps[s]);
    if (p->spool) {
        p_update_spool_gauges(p);
        tp_spool_free(p->spool);
    }
    EVP_MD_free(p->md5);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->maps_mu);
    pthread_cond_destroy(&p->batch_cv);
    pthread_cond_destroy(&p->send_cv);
    pthread_cond_destroy(&p->drain_cv);
    pthread_cond_destroy(&p->stop_cv);
    free(p);
}

/* sink_archive.c — the archive consumer: raw events to S3 as gzipped NDJSON, Firehose-like.
 *
 * User records are buffered per shard and flushed by size (TP_ARCHIVE_MAX_BYTES) or age
 * (TP_ARCHIVE_MAX_AGE_MS). A flush covers a contiguous range of the shard; its records are
 * grouped by the rendered key template (tenant / user / UTC date and hour of occurred_at), and
 * each group's object key carries the shard and the position of its first record, so the
 * same range always yields the same keys and bytes.
 *
 * Exactly-once in S3 without transactions: before writing, a flush announces the end of its
 * range in the lease row (fenced); after every object is written it checkpoints (fenced),
 * clearing the announcement. A new owner that finds an announcement re-flushes exactly that
 * range first, overwriting whatever a crashed or stalled predecessor wrote with identical
 * objects; a predecessor that lost the lease cannot announce a different range. Records that
 * are not valid events go to the error prefix with the reason and the payload in base64. */
#include <stdlib.h>
#include <string.h>

#include "archive_key.h"
#include "keytab.h"
#include "lease.h"
#include "processor.h"
#include "tp/backoff.h"
#include "tp/log.h"
#include "tp/s3.h"

#define KEY_MAX 1024

typedef struct arec {
    char seq[PROC_SEQ_MAX];
    int64_t sub;
    int64_t arrival_ms;
    char *data; /* one NDJSON line without the newline (valid) or the raw payload (invalid) */
    size_t len;
    int valid;
    char tenant[TP_ID_MAX + 1];
    char user[TP_ID_MAX + 1];
    int64_t occurred_ms;
    char reason[320];
} arec;

typedef struct group {
    size_t head, tail, count; /* records chained through next[] */
    char bucket[64];
} group;

typedef struct archive_state {
    proc_worker *w;
    tp_s3 *s3;
    arec *recs;
    size_t n, cap, bytes;
    int64_t first_mono; /* when the oldest buffered record arrived */
    int replay;         /* a predecessor's announced flush must be redone exactly first */
    char replay_seq[PROC_SEQ_MAX];
    int64_t replay_sub;
    tp_keytab *groups, *buckets;
    size_t *next;
    size_t capnext;
    int64_t deadline_mono; /* during drain: give up writing after this */
    tp_counter *objects, *error_objects, *commits, *s3_errors;
    tp_histogram *flush_seconds;
} archive_state;

static void drop_records(archive_state *st, size_t k)
{
    for (size_t i = 0; i < k; i++)
        free(st->recs[i].data);
    if (k < st->n) /* never memmove on an empty buffer: recs may still be NULL */
        memmove(st->recs, st->recs + k, (st->n - k) * sizeof *st->recs);
    st->n -= k;
    st->bytes = 0;
    for (size_t i = 0; i < st->n; i++)
        st->bytes += st->recs[i].len + 1;
    if (st->n)
        st->first_mono = tp_now_mono_ms(); /* what remains was read just now */
}

static void archive_close(void *state)
{
    archive_state *st = state;
    if (!st)
        return;
    drop_records(st, st->n);
    free(st->recs);
    free(st->next);
    tp_keytab_free(st->groups);
    tp_keytab_free(st->buckets);
    tp_s3_free(st->s3);
    free(st);
}

static int archive_open(proc_worker *w, void **state, char *err, size_t errlen)
{
    *state = NULL;
    archive_state *st = calloc(1, sizeof *st);
    if (!st)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
    st->w = w;
    int rc = tp_s3_new(&w->ctx->aws, &st->s3);
    if (!rc)
        rc = tp_keytab_new(sizeof(group), &st->groups);
    if (!rc)
        rc = tp_keytab_new(1, &st->buckets);
    if (rc) {
        archive_close(st);
        return tp_errf(err, errlen, rc, "creating archive state");
    }
    if (w->pending_seq[0]) {
        st->replay = 1;
        snprintf(st->replay_seq, sizeof st->replay_seq, "%s", w->pending_seq);
        st->replay_sub = w->pending_sub;
        tp_log_info("re-flushing an announced archive range", "stream", w->stream, "shard", w->shard_id, "until",
                    st->replay_seq);
    }
    tp_metrics *m = w->ctx->metrics;
    st->objects = tp_metrics_counter(m, "tp_processor_s3_objects_total", "Objects written to S3", "kind=data");
    st->error_objects = tp_metrics_counter(m, "tp_processor_s3_objects_total", "Objects written to S3", "kind=error");
    st->commits = tp_metrics_counter(m, "tp_processor_checkpoints_total", "Checkpoint commits", "consumer=archive");
    st->s3_errors = tp_metrics_counter(m, "tp_processor_errors_total", "Errors by consumer and kind",
                                       "consumer=archive,kind=s3");
    st->flush_seconds = tp_metrics_histogram(m, "tp_processor_batch_seconds", "Time to commit one batch",
                                             "consumer=archive", tp_metrics_latency_bounds,
                                             tp_metrics_latency_nbounds);
    *state = st;
    return 0;
}

/* Copy one user record into the buffer, validated the way the rollup validates it. */
static int append(archive_state *st, const proc_urec *u)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        arec *r = realloc(st->recs, cap * sizeof *r);
        if (!r)
            return TP_ENOMEM;
        st->recs = r;
        st->cap = cap;
    }
    arec *r = &st->recs[st->n];
    memset(r, 0, sizeof *r);
    snprintf(r->seq, sizeof r->seq, "%s", u->seq);
    r->sub = u->sub;
    r->arrival_ms = u->arrival_ms > 0 ? u->arrival_ms : tp_now_wall_ms();
    json_t *obj = NULL;
    tp_event ev;
    tp_event_error verr;
    if (u->corrupt) {
        snprintf(r->reason, sizeof r->reason, "%s", u->corrupt);
    } else if (!(obj = json_loadb((const char *)u->data, u->len, JSON_REJECT_DUPLICATES, NULL))) {
        snprintf(r->reason, sizeof r->reason, "not a JSON object");
    } else if (tp_event_validate(obj, r->arrival_ms, &ev, &verr) != 0) {
        snprintf(r->reason, sizeof r->reason, "%s: %s", verr.field, verr.message);
    } else {
        r->valid = 1;
        snprintf(r->tenant, sizeof r->tenant, "%s", ev.tenant_id);
        snprintf(r->user, sizeof r->user, "%s", ev.user_id[0] ? ev.user_id : TP_ARCHIVE_NO_USER);
        r->occurred_ms = ev.occurred_at_ms;
    }
    /* NDJSON needs one line per event: a payload with line breaks is re-encoded compactly. */
    if (r->valid && (memchr(u->data, '\n', u->len) || memchr(u->data, '\r', u->len))) {
        r->data = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        r->len = r->data ? strlen(r->data) : 0;
    } else {
        r->data = malloc(u->len + 1);
        if (r->data) {
            memcpy(r->data, u->data, u->len);
            r->data[u->len] = '\0';
            r->len = u->len;
        }
    }
    json_decref(obj);
    if (!r->data)
        return TP_ENOMEM;
    if (!st->n)
        st->first_mono = tp_now_mono_ms();
    st->n++;
    st->bytes += r->len + 1;
    return 0;
}

/* Retry an S3 call until it succeeds, the lease is lost, or shutdown ends the attempt. */
static int s3_retry_wait(archive_state *st, unsigned *attempt, int rc, const char *what, const char *key,
                         const char *err)
{
    proc_worker *w = st->w;
    tp_counter_add(st->s3_errors, 1);
    if (*attempt == 0 || *attempt % 10 == 0)
        tp_log(TP_LOG_WARN, "S3 write failed, retrying", "what", what, "key", key, "error", err, "stream", w->stream,
               "shard", w->shard_id, (const char *)0);
    if (atomic_load(&w->lost))
        return TP_ECONFLICT;
    if (atomic_load(&w->ctx->stopping) && (!st->deadline_mono || tp_now_mono_ms() >= st->deadline_mono))
        return TP_ESHUTDOWN;
    uint32_t ms = tp_backoff_ms(*attempt, 200, 5000);
    (*attempt)++;
    int64_t end = tp_now_mono_ms() + ms;
    while (tp_now_mono_ms() < end) {
        if (atomic_load(&w->lost))
            return TP_ECONFLICT;
        if (atomic_load(&w->ctx->stopping) && (!st->deadline_mono || tp_now_mono_ms() >= st->deadline_mono))
            return TP_ESHUTDOWN;
        tp_sleep_ms(50);
    }
    (void)rc;
    return 0;
}

static int ensure_bucket(archive_state *st, const char *bucket)
{
    if (tp_keytab_find(st->buckets, bucket, strlen(bucket)))
        return 0;
    for (unsigned attempt = 0;;) {
        char err[256];
        int rc = tp_s3_create_bucket(st->s3, bucket, err, sizeof err);
        if (!rc)
            break;
        if ((rc = s3_retry_wait(st, &attempt, rc, "create bucket", bucket, err)))
            return rc;
    }
    return tp_keytab_get(st->buckets, bucket, strlen(bucket), NULL) ? 0 : TP_ENOMEM;
}

static int put(archive_state *st, const char *bucket, const char *key, const void *body, size_t len,
               const char *ctype, const char *cenc)
{
    int rc = ensure_bucket(st, bucket);
    if (rc)
        return rc;
    for (unsigned attempt = 0;;) {
        char err[256];
        rc = tp_s3_put_object(st->s3, bucket, key, body, len, ctype, cenc, err, sizeof err);
        if (!rc)
            return 0;
        if ((rc = s3_retry_wait(st, &attempt, rc, "put object", key, err)))
            return rc;
    }
}

static const char *bucket_of(archive_state *st, const arec *r, char *buf, size_t cap)
{
    const proc_config *cfg = st->w->ctx->cfg;
    if (r->valid && cfg->archive_bucket_per_tenant &&
        tp_archive_tenant_bucket(cfg->archive_bucket, r->tenant, buf, cap) == 0)
        return buf;
    return cfg->archive_bucket;
}

static int write_group(archive_state *st, const group *g)
{
    const proc_worker *w = st->w;
    const arec *first = &st->recs[g->head];
    size_t total = 0;
    for (size_t i = g->head, k = 0; k < g->count; i = st->next[i], k++)
        total += st->recs[i].len + 1;
    char *body = malloc(total ? total : 1);
    if (!body)
        return TP_ENOMEM;
    size_t off = 0;
    for (size_t i = g->head, k = 0; k < g->count; i = st->next[i], k++) {
        memcpy(body + off, st->recs[i].data, st->recs[i].len);
        off += st->recs[i].len;
        body[off++] = '\n';
    }
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    int rc = tp_archive_gzip(body, off, &gz, &gzlen);
    free(body);
    if (rc)
        return rc;
    char key[KEY_MAX];
    tp_archive_vars v = {first->tenant, first->user, first->occurred_ms, w->stream, w->shard_id, first->seq,
                         first->sub};
    rc = tp_archive_render(w->ctx->cfg->archive_key_template, &v, key, sizeof key);
    if (!rc)
        rc = put(st, g->bucket, key, gz, gzlen, "application/x-ndjson", "gzip");
    if (!rc)
        tp_counter_add(st->objects, 1);
    free(gz);
    return rc;
}

static int write_error(archive_state *st, const arec *r)
{
    const proc_worker *w = st->w;
    const proc_config *cfg = w->ctx->cfg;
    char key[KEY_MAX];
    int rc = tp_archive_error_key(cfg->archive_error_prefix, w->stream, w->shard_id, r->seq, r->sub, r->arrival_ms,
                                  key, sizeof key);
    if (rc)
        return rc;
    char *b64 = NULL;
    if ((rc = tp_archive_base64(r->data, r->len, &b64)))
        return rc;
    char arrival[32];
    tp_rfc3339_format(r->arrival_ms, arrival);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "reason", r->reason, "stream", w->stream, "shard",
                          w->shard_id, "sequence", r->seq, "sub_sequence", (json_int_t)r->sub, "arrival", arrival,
                          "data_base64", b64);
    free(b64);
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!body)
        return TP_ENOMEM;
    rc = put(st, cfg->archive_bucket, key, body, strlen(body), "application/json", NULL);
    free(body);
    if (!rc)
        tp_counter_add(st->error_objects, 1);
    return rc;
}

static tp_lease_fence fence_of(const proc_worker *w)
{
    return (tp_lease_fence){"archive", w->stream, w->shard_id, w->ctx->cfg->instance_id, w->lease_counter};
}

/* One fenced statement in autocommit, retried while the database is unreachable. */
static int fenced(archive_state *st, int pending, const char *seq, int64_t sub, int finished)
{
    proc_worker *w = st->w;
    tp_lease_fence f = fence_of(w);
    for (unsigned attempt = 0;; attempt++) {
        char err[512];
        PGconn *c = NULL;
        int rc = tp_db_acquire(w->ctx->pool, 5000, &c, err, sizeof err);
        if (!rc) {
            rc = pending ? tp_lease_set_pending(c, &f, seq, sub, err, sizeof err)
                         : tp_lease_checkpoint(c, &f, seq, sub, finished, err, sizeof err);
            tp_db_release(w->ctx->pool, c, rc && PQstatus(c) != CONNECTION_OK);
        }
        if (!rc || rc == TP_ECONFLICT)
            return rc;
        tp_log_warn("archive checkpoint failed, retrying", "shard", w->shard_id, "error", err);
        if (proc_worker_sleep(w, tp_backoff_ms(attempt, 100, 5000)))
            return atomic_load(&w->lost) ? TP_ECONFLICT : TP_ESHUTDOWN;
    }
}

/* Write records [0, k) and checkpoint after the last of them. announce: record the range
 * first (not when redoing a predecessor's announced range, which is recorded already). */
static int flush(archive_state *st, size_t k, int announce, int finished)
{
    proc_worker *w = st->w;
    int64_t t0 = tp_now_mono_ns();
    if (!k)
        return finished ? fenced(st, 0, NULL, -1, 1) : 0;
    const arec *last = &st->recs[k - 1];
    int rc = 0;
    if (announce && (rc = fenced(st, 1, last->seq, last->sub, 0)))
        return rc;

    if (st->capnext < k) {
        size_t *nx = realloc(st->next, k * sizeof *nx);
        if (!nx)
            return TP_ENOMEM;
        st->next = nx;
        st->capnext = k;
    }
    tp_keytab_reset(st->groups);
    for (size_t i = 0; i < k; i++) {
        const arec *r = &st->recs[i];
        if (!r->valid)
            continue;
        char bucket[64], gkey[KEY_MAX + 64];
        const char *b = bucket_of(st, r, bucket, sizeof bucket);
        tp_archive_vars v = {r->tenant, r->user, r->occurred_ms, w->stream, w->shard_id, NULL, -1};
        size_t bl = strlen(b);
        memcpy(gkey, b, bl + 1); /* the bucket and the key without its position name the group */
        if (tp_archive_render(w->ctx->cfg->archive_key_template, &v, gkey + bl + 1, sizeof gkey - bl - 1) != 0)
            return TP_ETOOBIG;
        int created;
        group *g = tp_keytab_get(st->groups, gkey, bl + 1 + strlen(gkey + bl + 1), &created);
        if (!g)
            return TP_ENOMEM;
        if (created) {
            g->head = i;
            snprintf(g->bucket, sizeof g->bucket, "%s", b);
        } else {
            st->next[g->tail] = i;
        }
        g->tail = i;
        g->count++;
    }
    for (size_t gi = 0; gi < tp_keytab_count(st->groups) && !rc; gi++)
        rc = write_group(st, tp_keytab_at(st->groups, gi));
    for (size_t i = 0; i < k && !rc; i++)
        if (!st->recs[i].valid)
            rc = write_error(st, &st->recs[i]);
    if (!rc)
        rc = fenced(st, 0, last->seq, last->sub, finished && k == st->n);
    if (rc)
        return rc;
    tp_counter_add(w->events, k);
    tp_counter_add(st->commits, 1);
    tp_histogram_observe(st->flush_seconds, (double)(tp_now_mono_ns() - t0) / 1e9);
    drop_records(st, k);
    return 0;
}

static int archive_records(proc_worker *w, void *state, const proc_urec *recs, size_t n, int shard_end, char *err,
                           size_t errlen)
{
    archive_state *st = state;
    int rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = append(st, &recs[i])))
            return tp_errf(err, errlen, rc, "buffering a record");
        if (!st->recs[st->n - 1].valid)
            tp_counter_add(w->invalid, 1);
        if (st->replay && proc_pos_cmp(recs[i].seq, recs[i].sub, st->replay_seq, st->replay_sub) >= 0) {
            /* The predecessor's announced range is complete: write it exactly as it would have. */
            if ((rc = flush(st, st->n, 0, 0)))
                return tp_errf(err, errlen, rc, "re-flushing the announced range");
            st->replay = 0;
        }
    }
    if (shard_end)
        rc = flush(st, st->n, 1, 1);
    else if (!st->replay && st->bytes >= (size_t)w->ctx->cfg->archive_max_bytes)
        rc = flush(st, st->n, 1, 0);
    else
        rc = 0;
    return rc ? tp_errf(err, errlen, rc, "flushing to S3") : 0;
}

static int archive_tick(proc_worker *w, void *state, char *err, size_t errlen)
{
    archive_state *st = state;
    if (st->replay || !st->n || tp_now_mono_ms() - st->first_mono < w->ctx->cfg->archive_max_age_ms)
        return 0;
    int rc = flush(st, st->n, 1, 0);
    return rc ? tp_errf(err, errlen, rc, "flushing to S3") : 0;
}

static int archive_drain(proc_worker *w, void *state, char *err, size_t errlen)
{
    archive_state *st = state;
    if (st->replay || !st->n || atomic_load(&w->lost))
        return 0; /* a replay range is redone by the next owner */
    st->deadline_mono = tp_now_mono_ms() + w->ctx->cfg->shutdown_flush_ms;
    int rc = flush(st, st->n, 1, 0);
    return rc ? tp_errf(err, errlen, rc, "final flush") : 0;
}

/* The reader starts over at the oldest record: what is buffered (not yet checkpointed) will be
 * read again, and an announced range may no longer exist in the stream, so both are dropped. */
static void archive_rewind(proc_worker *w, void *state)
{
    archive_state *st = state;
    if (st->replay)
        tp_log_warn("dropping the announced archive range: its records are gone from the stream", "stream",
                    w->stream, "shard", w->shard_id, "until", st->replay_seq);
    st->replay = 0;
    drop_records(st, st->n);
}

const proc_sink_vt proc_archive_sink = {
    .open = archive_open,
    .records = archive_records,
    .tick = archive_tick,
    .drain = archive_drain,
    .rewind = archive_rewind,
    .close = archive_close,
};

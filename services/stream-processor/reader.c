/* reader.c — one shard's consumer thread: GetRecords in a loop within the per-shard read
 * limits, KPL deaggregation, and handing each response to the consumer's sink.
 *
 * Position is (sequence, sub-index) of the last user record handed to the sink. A reader
 * resumes AT_SEQUENCE of that record and skips what is at or before it, so a record that was
 * half-processed (a KPL aggregate cut by a flush) is re-read whole and trimmed. */
#include <stdlib.h>
#include <string.h>

#include "processor.h"
#include "tp/backoff.h"
#include "tp/kinesis.h"
#include "tp/kpl.h"
#include "tp/log.h"

const char *proc_consumer_name(proc_consumer c) { return c == PROC_CONSUMER_ROLLUP ? "rollup" : "archive"; }

int proc_worker_should_stop(const proc_worker *w)
{
    return atomic_load(&w->ctx->stopping) || atomic_load(&((proc_worker *)w)->lost);
}

int proc_worker_sleep(const proc_worker *w, int64_t ms)
{
    int64_t end = tp_now_mono_ms() + ms;
    for (;;) {
        if (proc_worker_should_stop(w))
            return 1;
        int64_t left = end - tp_now_mono_ms();
        if (left <= 0)
            return 0;
        tp_sleep_ms((uint32_t)(left < 50 ? left : 50));
    }
}

/* Numeric order of decimal strings without leading-zero surprises, then the sub-index. */
int proc_pos_cmp(const char *a, int64_t sub_a, const char *b, int64_t sub_b)
{
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = strcmp(a, b);
    if (c)
        return c < 0 ? -1 : 1;
    return (sub_a > sub_b) - (sub_a < sub_b);
}

typedef struct urec_vec {
    proc_urec *v;
    size_t n, cap;
    /* for the deaggregation callback */
    const tp_kinesis_record *rec;
    const char *skip_seq; /* "" = skip nothing */
    int64_t skip_sub;
} urec_vec;

static int push(urec_vec *u, const proc_urec *r)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 512;
        proc_urec *v = realloc(u->v, cap * sizeof *v);
        if (!v)
            return TP_ENOMEM;
        u->v = v;
        u->cap = cap;
    }
    u->v[u->n++] = *r;
    return 0;
}

static int on_user_record(void *ctx, size_t index, const char *pkey, size_t pkey_len, const uint8_t *data,
                          size_t len)
{
    urec_vec *u = ctx;
    if (u->skip_seq[0] && proc_pos_cmp(u->rec->sequence, (int64_t)index, u->skip_seq, u->skip_sub) <= 0)
        return 0;
    proc_urec r = {u->rec->sequence, (int64_t)index, u->rec->arrival_ms, data, len, NULL};
    return push(u, &r);
}

/* Split every record of the response into user records after the skip position. */
static int deaggregate(const tp_get_records_result *res, urec_vec *u, const char *skip_seq, int64_t skip_sub)
{
    u->n = 0;
    u->skip_seq = skip_seq;
    u->skip_sub = skip_sub;
    for (size_t i = 0; i < res->n; i++) {
        const tp_kinesis_record *r = &res->records[i];
        u->rec = r;
        int rc = tp_kpl_deaggregate(r->data, r->len, r->partition_key, on_user_record, u);
        if (rc == TP_ECORRUPT) {
            /* Not decodable: passed on whole as one invalid record (the archive keeps it under the
             * error prefix; the rollup counts it invalid). Nothing was delivered before this. */
            if (skip_seq[0] && proc_pos_cmp(r->sequence, 0, skip_seq, skip_sub) <= 0)
                continue;
            proc_urec bad = {r->sequence, 0, r->arrival_ms, (const uint8_t *)r->data, r->len,
                             "corrupt KPL aggregated record"};
            rc = push(u, &bad);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Count a failed Kinesis call; log the first of a run and every tenth after it, so an outage
 * shows without flooding the log (throttling is routine and only counted). */
static void read_failed(proc_worker *w, unsigned attempt, const char *what, int rc, const char *err)
{
    tp_counter_add(w->read_errors, 1);
    if (rc != TP_ETHROTTLED && (attempt == 0 || attempt % 10 == 0))
        tp_log_warn("Kinesis read failed, retrying", "call", what, "consumer", proc_consumer_name(w->consumer),
                    "stream", w->stream, "shard", w->shard_id, "error", err);
}

static int stop_code(const proc_worker *w) { return atomic_load(&w->lost) ? TP_ECONFLICT : TP_ESHUTDOWN; }

/* A new iterator at the resume position (*seq, "" = TRIM_HORIZON), retried with backoff until it
 * works or the worker must stop (TP_ESHUTDOWN / TP_ECONFLICT); it never gives up otherwise.
 *
 * A position the stream no longer has (trimmed by retention, or lost by an emulator that was
 * killed before it persisted) must not wedge the shard: when AT_SEQUENCE_NUMBER is refused but
 * TRIM_HORIZON is not, the stream and shard exist and only the record is gone, so reading
 * starts again at the oldest record: *seq is cleared and the sink rewinds. What is read twice
 * is harmless: the rollup dedupes by event_id, archive keys are deterministic. If TRIM_HORIZON
 * is refused too, the stream itself is missing (being recreated): wait and ask again. */
static int get_iterator(proc_worker *w, tp_kinesis *k, const proc_sink_vt *vt, void *state, char *seq, char **iter)
{
    char err[256];
    for (unsigned attempt = 0;; attempt++) {
        int rc = tp_kinesis_get_shard_iterator(k, w->stream, w->shard_id,
                                               seq[0] ? TP_ITER_AT_SEQUENCE : TP_ITER_TRIM_HORIZON,
                                               seq[0] ? seq : NULL, 0, iter, err, sizeof err);
        if (!rc)
            return 0;
        if (seq[0] && (rc == TP_ENOTFOUND || rc == TP_EINVAL)) {
            char err2[256];
            if (tp_kinesis_get_shard_iterator(k, w->stream, w->shard_id, TP_ITER_TRIM_HORIZON, NULL, 0, iter, err2,
                                              sizeof err2) == 0) {
                tp_log_error("checkpoint is no longer in the stream: reading again from TRIM_HORIZON", "consumer",
                             proc_consumer_name(w->consumer), "stream", w->stream, "shard", w->shard_id,
                             "checkpoint", seq, "error", err);
                tp_counter_add(w->rewinds, 1);
                seq[0] = '\0';
                vt->rewind(w, state);
                return 0;
            }
        }
        read_failed(w, attempt, "GetShardIterator", rc, err);
        if (proc_worker_sleep(w, tp_backoff_ms(attempt, 200, 5000)))
            return stop_code(w);
    }
}

void *proc_reader_main(void *arg)
{
    proc_worker *w = arg;
    const proc_config *cfg = w->ctx->cfg;
    const proc_sink_vt *vt = w->consumer == PROC_CONSUMER_ROLLUP ? &proc_rollup_sink : &proc_archive_sink;
    tp_kinesis *k = NULL;
    void *state = NULL;
    char *iter = NULL;
    urec_vec u = {0};
    char err[512] = "";
    char pos_seq[PROC_SEQ_MAX];
    int64_t pos_sub = w->checkpoint_sub;
    snprintf(pos_seq, sizeof pos_seq, "%s", w->checkpoint_seq);
    proc_exit why = PROC_EXIT_FAILED;

    int rc = tp_kinesis_new(&w->ctx->aws, &k);
    if (rc) {
        snprintf(err, sizeof err, "creating Kinesis client: %s", tp_strerror(rc));
        goto out;
    }
    if ((rc = vt->open(w, &state, err, sizeof err)))
        goto out;
    tp_log_info("shard reader started", "consumer", proc_consumer_name(w->consumer), "stream", w->stream, "shard",
                w->shard_id, "checkpoint", pos_seq[0] ? pos_seq : "TRIM_HORIZON");
    if ((rc = get_iterator(w, k, vt, state, pos_seq, &iter)))
        goto stopped;

    int64_t last_call = 0;
    unsigned attempt = 0;
    for (;;) {
        if (proc_worker_should_stop(w))
            goto stopped;
        int64_t wait = last_call + cfg->poll_min_ms - tp_now_mono_ms();
        if (wait > 0 && proc_worker_sleep(w, wait))
            goto stopped;
        last_call = tp_now_mono_ms();

        tp_get_records_result res = {0};
        rc = tp_kinesis_get_records(k, iter, (int)cfg->get_limit, &res, err, sizeof err);
        if (rc) {
            tp_get_records_result_free(&res);
            /* Every failure is retried after a backoff: throttling with the same iterator, anything
             * else (an expired iterator, Kinesis away, a restarted emulator) with a new one at the
             * last position handed to the sink. */
            read_failed(w, attempt, "GetRecords", rc, err);
            if (proc_worker_sleep(w, tp_backoff_ms(attempt, 200, 5000)))
                goto stopped;
            attempt++;
            if (rc != TP_ETHROTTLED) {
                free(iter);
                iter = NULL;
                if ((rc = get_iterator(w, k, vt, state, pos_seq, &iter)))
                    goto stopped;
            }
            continue;
        }
        attempt = 0;
        tp_gauge_set(w->lag, (double)res.millis_behind);
        tp_counter_add(w->records, res.n);
        if ((rc = deaggregate(&res, &u, pos_seq, pos_sub))) {
            tp_get_records_result_free(&res);
            snprintf(err, sizeof err, "deaggregating: %s", tp_strerror(rc));
            goto out;
        }
        int shard_end = res.next_iterator == NULL;
        rc = vt->records(w, state, u.v, u.n, shard_end, err, sizeof err);
        if (!rc && u.n) {
            snprintf(pos_seq, sizeof pos_seq, "%s", u.v[u.n - 1].seq);
            pos_sub = u.v[u.n - 1].sub;
        }
        size_t got = res.n;
        free(iter);
        iter = res.next_iterator;
        res.next_iterator = NULL;
        tp_get_records_result_free(&res);
        if (!rc && !shard_end)
            rc = vt->tick(w, state, err, sizeof err);
        if (rc == TP_ECONFLICT) {
            why = PROC_EXIT_LOST;
            goto out;
        }
        if (rc == TP_ESHUTDOWN)
            goto stopped;
        if (rc)
            goto out;
        if (shard_end) {
            tp_log_info("shard finished", "consumer", proc_consumer_name(w->consumer), "stream", w->stream, "shard",
                        w->shard_id);
            why = PROC_EXIT_FINISHED;
            goto out;
        }
        if (!got && proc_worker_sleep(w, cfg->poll_idle_ms))
            goto stopped;
    }

stopped:
    if (atomic_load(&w->lost)) {
        why = PROC_EXIT_LOST;
    } else if (atomic_load(&w->ctx->stopping)) {
        why = PROC_EXIT_STOPPED;
        if (state && (rc = vt->drain(w, state, err, sizeof err)) != 0)
            tp_log_warn("drain failed", "consumer", proc_consumer_name(w->consumer), "stream", w->stream, "shard",
                        w->shard_id, "error", err);
        if (rc == TP_ECONFLICT)
            why = PROC_EXIT_LOST;
    }
out:
    if (why == PROC_EXIT_FAILED)
        tp_log_error("shard reader failed", "consumer", proc_consumer_name(w->consumer), "stream", w->stream, "shard",
                     w->shard_id, "error", err[0] ? err : tp_strerror(rc));
    else if (why == PROC_EXIT_LOST)
        tp_log_info("lease lost", "consumer", proc_consumer_name(w->consumer), "stream", w->stream, "shard",
                    w->shard_id);
    tp_gauge_set(w->lag, 0);
    if (state)
        vt->close(state);
    free(u.v);
    free(iter);
    tp_kinesis_free(k);
    w->exit_reason = why;
    atomic_store(&w->done, 1);
    return NULL;
}

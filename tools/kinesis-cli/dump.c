/* dump.c — `tp-kinesis dump`: read a whole stream and print every user record as NDJSON.
 *
 * Shards are read round-robin so one idle period ends the dump, not one per shard. A child shard
 * starts only once its parents are read to their end (or are gone from the listing), so records
 * of one partition key come out in the order they were written, even across a split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tp/aws.h"
#include "tp/backoff.h"
#include "tp/kpl.h"
#include "tp/log.h"

enum shard_state { SHARD_WAIT, SHARD_ACTIVE, SHARD_DONE };

struct shard_reader {
    tp_shard info;
    enum shard_state state;
    char *iter;
    char last_seq[160];
    unsigned backoff;
};

struct dump {
    tp_kinesis *k;
    const char *stream;
    tp_iterator_type from;
    struct shard_reader *shards;
    size_t n;
    char err[512];
};

struct emit_ctx {
    const char *stream;
    const char *shard;
    const char *sequence;
};

static json_t *json_or_b64(const uint8_t *data, size_t len, const char **field)
{
    json_error_t je;
    json_t *v = json_loadb((const char *)data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (v) {
        *field = "data";
        return v;
    }
    char *b64 = NULL;
    size_t blen;
    *field = "data_b64";
    if (tp_aws_base64_encode(data, len, &b64, &blen) != 0)
        return NULL;
    v = json_stringn(b64, blen);
    free(b64);
    return v;
}

static int emit(void *vctx, size_t index, const char *pkey, size_t pkey_len, const uint8_t *data, size_t len)
{
    struct emit_ctx *c = vctx;
    const char *field;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "stream", c->stream, "shard", c->shard, "sequence", c->sequence, "sub",
                          (json_int_t)index);
    json_t *pk = json_stringn(pkey, pkey_len);
    json_t *d = json_or_b64(data, len, &field);
    if (!o || !pk || !d) {
        json_decref(o);
        json_decref(pk);
        json_decref(d);
        return TP_ENOMEM;
    }
    json_object_set_new(o, "partition_key", pk);
    json_object_set_new(o, field, d);
    cli_print(o);
    return 0;
}

static void emit_record(struct dump *d, const struct shard_reader *s, const tp_kinesis_record *r)
{
    struct emit_ctx c = {d->stream, s->info.shard_id, r->sequence};
    int rc = tp_kpl_deaggregate(r->data, r->len, r->partition_key, emit, &c);
    if (rc == TP_ECORRUPT) {
        /* Print it whole rather than lose it; the magic makes it land in data_b64. */
        tp_log_warn("corrupt aggregated record", "shard", s->info.shard_id, "sequence", r->sequence);
        rc = emit(&c, 0, r->partition_key, strlen(r->partition_key), (const uint8_t *)r->data, r->len);
    }
    if (rc != 0)
        tp_log_error("could not print record", "sequence", r->sequence, "error", tp_strerror(rc));
}

static struct shard_reader *find_shard(struct dump *d, const char *id)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->shards[i].info.shard_id, id) == 0)
            return &d->shards[i];
    return NULL;
}

/* Merge a fresh listing: shards not seen before join as WAIT. */
static int refresh_shards(struct dump *d)
{
    tp_shard_list l = {0};
    unsigned attempt = 0;
    int rc;
    do
        rc = tp_kinesis_list_shards(d->k, d->stream, &l, d->err, sizeof d->err);
    while (rc != 0 && cli_should_retry(rc, &attempt));
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        if (find_shard(d, l.shards[i].shard_id))
            continue;
        struct shard_reader *ns = realloc(d->shards, (d->n + 1) * sizeof *ns);
        if (!ns) {
            tp_shard_list_free(&l);
            return TP_ENOMEM;
        }
        d->shards = ns;
        memset(&ns[d->n], 0, sizeof ns[d->n]);
        ns[d->n].info = l.shards[i];
        /* Reading from LATEST: closed shards hold nothing new. */
        if (d->from == TP_ITER_LATEST && l.shards[i].ending_sequence[0])
            ns[d->n].state = SHARD_DONE;
        d->n++;
    }
    tp_shard_list_free(&l);
    return 0;
}

static int parent_done(struct dump *d, const char *id)
{
    if (!id[0])
        return 1;
    const struct shard_reader *p = find_shard(d, id);
    return !p || p->state == SHARD_DONE;
}

static int open_iterator(struct dump *d, struct shard_reader *s)
{
    tp_iterator_type t = s->last_seq[0] ? TP_ITER_AFTER_SEQUENCE : d->from;
    unsigned attempt = 0;
    int rc;
    free(s->iter);
    s->iter = NULL;
    do
        rc = tp_kinesis_get_shard_iterator(d->k, d->stream, s->info.shard_id, t, s->last_seq, 0, &s->iter, d->err,
                                           sizeof d->err);
    while (rc != 0 && cli_should_retry(rc, &attempt));
    return rc;
}

/* Start every waiting shard whose parents are finished; *started counts them. */
static int activate(struct dump *d, int *started)
{
    for (size_t i = 0; i < d->n; i++) {
        struct shard_reader *s = &d->shards[i];
        if (s->state != SHARD_WAIT || !parent_done(d, s->info.parent_shard_id) ||
            !parent_done(d, s->info.adjacent_parent_shard_id))
            continue;
        int rc = open_iterator(d, s);
        if (rc != 0)
            return rc;
        s->state = SHARD_ACTIVE;
        (*started)++;
    }
    return 0;
}

/* One GetRecords on s; *progress set when records came or the shard changed state. */
static int read_once(struct dump *d, struct shard_reader *s, int *progress, int *finished)
{
    tp_get_records_result r = {0};
    int rc = tp_kinesis_get_records(d->k, s->iter, 10000, &r, d->err, sizeof d->err);
    if (rc == TP_ETIMEDOUT) /* expired iterator: resume after what we printed */
        return open_iterator(d, s);
    if (rc != 0 && tp_err_retryable(rc)) {
        tp_log_warn("GetRecords retry", "shard", s->info.shard_id, "error", d->err);
        tp_sleep_ms(tp_backoff_ms(s->backoff < 10 ? s->backoff++ : s->backoff, 100, 5000));
        return 0;
    }
    if (rc != 0)
        return rc;
    s->backoff = 0;
    for (size_t i = 0; i < r.n; i++) {
        emit_record(d, s, &r.records[i]);
        snprintf(s->last_seq, sizeof s->last_seq, "%s", r.records[i].sequence);
    }
    if (r.n > 0 || r.millis_behind > 0)
        *progress = 1;
    free(s->iter);
    s->iter = r.next_iterator;
    r.next_iterator = NULL;
    if (!s->iter) {
        s->state = SHARD_DONE;
        *finished = 1;
        *progress = 1;
    }
    tp_get_records_result_free(&r);
    return 0;
}

int cmd_dump(tp_kinesis *k, int argc, char **argv)
{
    struct dump d = {.k = k, .from = TP_ITER_TRIM_HORIZON};
    long idle_ms = 3000;
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "trim") == 0)
                d.from = TP_ITER_TRIM_HORIZON;
            else if (strcmp(f, "latest") == 0)
                d.from = TP_ITER_LATEST;
            else
                goto usage;
        } else if (strcmp(argv[i], "--max-idle-ms") == 0 && i + 1 < argc) {
            char *end;
            idle_ms = strtol(argv[++i], &end, 10);
            if (*end || idle_ms < 0 || idle_ms > 3600000)
                goto usage;
        } else if (!d.stream && argv[i][0] != '-') {
            d.stream = argv[i];
        } else {
            goto usage;
        }
    }
    if (!d.stream)
        goto usage;

    int started = 0;
    rc = refresh_shards(&d);
    if (rc == 0)
        rc = activate(&d, &started);
    int64_t last_progress = tp_now_mono_ms();
    while (rc == 0) {
        int progress = 0, finished = 0, active = 0;
        for (size_t i = 0; rc == 0 && i < d.n; i++) {
            if (d.shards[i].state != SHARD_ACTIVE)
                continue;
            active++;
            rc = read_once(&d, &d.shards[i], &progress, &finished);
        }
        if (rc == 0 && finished) {
            /* A finished shard may have children we have not listed yet (a split during the dump). */
            started = 0;
            rc = refresh_shards(&d);
            if (rc == 0)
                rc = activate(&d, &started);
            if (started)
                progress = 1;
        }
        if (rc != 0)
            break;
        int64_t now = tp_now_mono_ms();
        if (progress)
            last_progress = now;
        if (!active && !started)
            break; /* every shard read to its end */
        if (!progress) {
            if (now - last_progress >= idle_ms)
                break;
            long nap = idle_ms / 4 + 1;
            tp_sleep_ms((uint32_t)(nap < 250 ? nap : 250));
        }
    }
    for (size_t i = 0; i < d.n; i++)
        free(d.shards[i].iter);
    free(d.shards);
    if (rc != 0)
        return cli_fail(rc, d.err[0] ? d.err : tp_strerror(rc));
    return CLI_OK;
usage:
    fprintf(stderr, "usage: tp-kinesis dump STREAM [--from trim|latest] [--max-idle-ms N]\n");
    return CLI_USAGE;
}

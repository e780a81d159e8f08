/* bench_sink.c — tp-bench-processor-sink: the stream processor's sinks without Kinesis.
 *
 *   tp-bench-processor-sink rollup|archive EVENTS.ndjson [BATCH] [SHARDS]
 *
 * Feeds the events of an NDJSON file (e.g. tp-sim --out) to the rollup sink (PostgreSQL,
 * DATABASE_URL) or the archive sink (S3, AWS_* and TP_ARCHIVE_BUCKET) in batches of BATCH user
 * records (default 5000, about one busy GetRecords response of KPL aggregates), exactly as
 * shard readers would: the events are spread over SHARDS (default 1) by their partition key,
 * and each shard has its own thread, lease row and sink. Prints one JSON line with events/s.
 * kinesis-local cannot feed 20k events/s on this machine, so this isolates what the processor
 * itself sustains; bench_processor.sh measures the end-to-end path separately. The events must
 * be new to the database (fresh simulator seed), or the rollup dedupes them and does no work. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_key.h"
#include "lease.h"
#include "processor.h"
#include "tp/backoff.h"
#include "tp/log.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

typedef struct shard_run {
    proc_ctx *ctx;
    int archive;
    size_t batch;
    proc_urec *recs;
    size_t n, cap;
    int rc;
    char err[512];
} shard_run;

static int add_rec(shard_run *s, const proc_urec *r)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        proc_urec *v = realloc(s->recs, cap * sizeof *v);
        if (!v)
            return -1;
        s->recs = v;
        s->cap = cap;
    }
    s->recs[s->n++] = *r;
    return 0;
}

/* One shard: a lease row of its own, its sink, its batches. */
static void *shard_main(void *arg)
{
    shard_run *s = arg;
    proc_ctx *ctx = s->ctx;
    proc_worker w = {0};
    w.ctx = ctx;
    w.consumer = s->archive ? PROC_CONSUMER_ARCHIVE : PROC_CONSUMER_ROLLUP;
    const char *cons = proc_consumer_name(w.consumer);
    snprintf(w.stream, sizeof w.stream, "bench");
    snprintf(w.shard_id, sizeof w.shard_id, "bench-%ld-%p-%" PRId64, (long)getpid(), (void *)s, tp_now_wall_ms());
    PGconn *c = NULL;
    tp_lease_resume r;
    s->rc = 1;
    if (tp_db_acquire(ctx->pool, 5000, &c, s->err, sizeof s->err))
        return NULL;
    const char *p[2] = {cons, w.shard_id};
    PGresult *res = PQexecParams(c,
                                 "INSERT INTO processor.leases (consumer, stream, shard_id) VALUES ($1, 'bench', $2)",
                                 2, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok || tp_lease_take(c, cons, "bench", w.shard_id, 0, NULL, "bench", 3600000, &r, s->err, sizeof s->err)) {
        tp_db_release(ctx->pool, c, 0);
        return NULL;
    }
    tp_db_release(ctx->pool, c, 0);
    w.lease_counter = r.counter;
    w.records = tp_metrics_counter(ctx->metrics, "b_records", "", NULL);
    w.events = tp_metrics_counter(ctx->metrics, "b_events", "", NULL);
    w.invalid = tp_metrics_counter(ctx->metrics, "b_invalid", "", NULL);
    const proc_sink_vt *vt = s->archive ? &proc_archive_sink : &proc_rollup_sink;
    void *state = NULL;
    if (vt->open(&w, &state, s->err, sizeof s->err))
        return NULL;
    int rc = 0;
    for (size_t i = 0; i < s->n && !rc; i += s->batch) {
        size_t k = s->n - i < s->batch ? s->n - i : s->batch;
        rc = vt->records(&w, state, s->recs + i, k, i + k == s->n, s->err, sizeof s->err);
    }
    vt->close(state);
    if (!tp_db_acquire(ctx->pool, 5000, &c, s->err, sizeof s->err)) { /* leave no bench lease behind */
        PQclear(PQexecParams(c, "DELETE FROM processor.leases WHERE consumer = $1 AND stream = 'bench' AND shard_id = $2",
                             2, NULL, p, NULL, NULL, 0));
        tp_db_release(ctx->pool, c, 0);
    }
    s->rc = rc;
    return NULL;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "rollup") && strcmp(argv[1], "archive"))) {
        fprintf(stderr, "usage: %s rollup|archive EVENTS.ndjson [BATCH] [SHARDS]\n", argv[0]);
        return 2;
    }
    int archive = !strcmp(argv[1], "archive");
    size_t batch = argc > 3 ? (size_t)atol(argv[3]) : 5000;
    int nshards = argc > 4 ? atoi(argv[4]) : 1;
    if (!batch || nshards < 1 || nshards > 64) {
        fprintf(stderr, "bad BATCH or SHARDS\n");
        return 2;
    }
    tp_log_init("bench-sink");
    tp_log_set_level(TP_LOG_WARN);

    size_t len = 0, n = 0;
    char *text = slurp(argv[2], &len);
    if (!text) {
        perror(argv[2]);
        return 1;
    }
    size_t lines = 1;
    for (char *q = text; *q; q++)
        lines += *q == '\n';
    char (*seqs)[24] = malloc(lines * sizeof *seqs);
    shard_run *shards = calloc((size_t)nshards, sizeof *shards);
    if (!seqs || !shards) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (char *q = text; *q;) {
        char *nl = strchr(q, '\n');
        size_t l = nl ? (size_t)(nl - q) : strlen(q);
        if (l) {
            /* the Kinesis partition key: tenant_id[:user_id] */
            json_t *o = json_loadb(q, l, 0, NULL);
            const char *t = o ? json_string_value(json_object_get(o, "tenant_id")) : NULL;
            const char *u = o ? json_string_value(json_object_get(o, "user_id")) : NULL;
            char pk[160];
            snprintf(pk, sizeof pk, "%s%s%s", t ? t : "", u ? ":" : "", u ? u : "");
            json_decref(o);
            snprintf(seqs[n], sizeof seqs[n], "%" PRIu64, (uint64_t)1000000000000ULL + n);
            proc_urec r = {seqs[n], 0, tp_now_wall_ms(), (const uint8_t *)q, l, NULL};
            if (add_rec(&shards[fnv(pk) % (uint64_t)nshards], &r)) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
            n++;
        }
        q += l + (nl != NULL);
    }

    proc_config cfg = {0};
    cfg.instance_id = "bench";
    cfg.archive_bucket = getenv("TP_ARCHIVE_BUCKET") ? getenv("TP_ARCHIVE_BUCKET") : "tenantpulse-archive";
    cfg.archive_key_template = TP_ARCHIVE_DEFAULT_TEMPLATE;
    cfg.archive_error_prefix = "errors/";
    cfg.archive_max_bytes = 64 << 20;
    cfg.archive_max_age_ms = 3600000;
    proc_ctx ctx = {0};
    ctx.cfg = &cfg;
    char err[512];
    const char *dburl = getenv("DATABASE_URL");
    if (!dburl || tp_aws_config_from_env(&ctx.aws, err, sizeof err) || tp_metrics_new(&ctx.metrics) ||
        tp_db_pool_new(dburl, nshards + 1, &ctx.pool, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", dburl ? err : "DATABASE_URL unset");
        return 1;
    }
    pthread_t th[64];
    int64_t t0 = tp_now_mono_ns();
    for (int i = 0; i < nshards; i++) {
        shards[i].ctx = &ctx;
        shards[i].archive = archive;
        shards[i].batch = batch;
        if (pthread_create(&th[i], NULL, shard_main, &shards[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    int bad = 0;
    for (int i = 0; i < nshards; i++) {
        pthread_join(th[i], NULL);
        if (shards[i].rc) {
            fprintf(stderr, "shard %d: %s\n", i, shards[i].err);
            bad = 1;
        }
    }
    double secs = (double)(tp_now_mono_ns() - t0) / 1e9;
    if (!bad)
        printf("{\"measure\":\"sink_%s\",\"events\":%zu,\"batch\":%zu,\"shards\":%d,\"seconds\":%.2f,"
               "\"events_per_s\":%.0f}\n",
               proc_consumer_name(archive ? PROC_CONSUMER_ARCHIVE : PROC_CONSUMER_ROLLUP), n, batch, nshards, secs,
               (double)n / secs);
    tp_db_pool_free(ctx.pool);
    tp_metrics_free(ctx.metrics);
    for (int i = 0; i < nshards; i++)
        free(shards[i].recs);
    free(shards);
    free(seqs);
    free(text);
    return bad;
}

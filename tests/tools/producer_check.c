/* producer_check.c — drive the ingest producer directly, and check what reached Kinesis.
 *
 *   tp-producer-check produce --count N [--seed S] [--acked FILE] [--spool DIR] [--batch B]
 *                     [--inflight R] [--aggregate 0|1] [--linger MS] [--senders K]
 *                     [--max-attempt MS] [--spool-max BYTES] [--agg-max BYTES] [--batch-max BYTES]
 *                     [--pace EVENTS_PER_S] [--wait-drain SECONDS]
 *       Generates N events (deterministic from the seed), submits them B per request with up to
 *       R requests outstanding, and appends each acknowledged event's JSON line to FILE (one
 *       write per acknowledged request, so a kill -9 leaves whole lines). Prints a JSON summary
 *       (acknowledged / refused counts, events/s, request latency p50/p99). --wait-drain: then
 *       wait up to SECONDS for the spool to be empty (exit 3 if it is not). --count 0 with
 *       --wait-drain just drains what an earlier run left in the spool.
 *   tp-producer-check gen --count N [--seed S]
 *       Prints the N events of seed S as NDJSON (what produce would submit), e.g. to POST them.
 *   tp-producer-check verify --acked FILE [--streams tenants,users,jobs] [--exact-seed S --count N] [--allow-extra-keys]
 *       Reads every shard of the three streams from TRIM_HORIZON, deaggregates KPL records and
 *       checks that every acknowledged event is there, byte for byte, in the right stream with
 *       the right partition key. With --exact-seed, also that all N generated events are.
 *       Prints a JSON summary (found, missing, mismatched, duplicates); exit 1 on any loss.
 *
 * AWS settings come from the usual environment (AWS_ENDPOINT_URL_KINESIS, AWS_REGION, keys). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_common.h"
#include "producer.h"
#include "tp/backoff.h"
#include "tp/log.h"

struct run {
    tp_producer *prod;
    struct gen_event *evs;
    size_t count, batch;
    int acked_fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t inflight, max_inflight;
    size_t acked, refused, done_reqs;
    int64_t *lat_us;
    size_t nlat;
};

struct req_ctx {
    struct run *r;
    size_t first, n;
    int64_t t0;
};

static void on_done(void *ctx, int status)
{
    struct req_ctx *c = ctx;
    struct run *r = c->r;
    int64_t lat = (tp_now_mono_ns() - c->t0) / 1000;
    if (status == 0 && r->acked_fd >= 0) {
        size_t len = 0;
        for (size_t i = 0; i < c->n; i++)
            len += r->evs[c->first + i].len + 1;
        char *buf = malloc(len);
        if (buf) {
            char *p = buf;
            for (size_t i = 0; i < c->n; i++) {
                memcpy(p, r->evs[c->first + i].json, r->evs[c->first + i].len);
                p += r->evs[c->first + i].len;
                *p++ = '\n';
            }
            if (write(r->acked_fd, buf, len) != (ssize_t)len)
                fprintf(stderr, "producer-check: write acked: %s\n", strerror(errno));
            free(buf);
        }
    }
    pthread_mutex_lock(&r->mu);
    if (status == 0)
        r->acked += c->n;
    else
        r->refused += c->n;
    r->lat_us[r->nlat++] = lat;
    r->inflight--;
    r->done_reqs++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    free(c);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int produce(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    tp_aws_config aws;
    char err[512];
    if (tp_aws_config_from_env(&aws, err, sizeof err) != 0) {
        fprintf(stderr, "producer-check: %s\n", err);
        return 2;
    }
    struct run r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.count = o.count;
    r.batch = o.batch;
    r.max_inflight = o.inflight;
    r.acked_fd = -1;
    r.evs = gen_events(o.seed, o.count);
    r.lat_us = calloc(o.count / o.batch + 2, sizeof *r.lat_us);
    if (!r.evs || !r.lat_us) {
        fprintf(stderr, "producer-check: out of memory\n");
        return 2;
    }
    if (o.acked && (r.acked_fd = open(o.acked, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "producer-check: %s: %s\n", o.acked, strerror(errno));
        return 2;
    }
    tp_producer_config pc = {0};
    pc.aws = &aws;
    pc.aggregate = o.aggregate;
    pc.linger_ms = o.linger;
    pc.senders = o.senders;
    pc.max_attempt_ms = o.max_attempt;
    pc.spool_dir = o.spool;
    pc.spool_max_bytes = o.spool_max;
    pc.aggregate_max_bytes = o.agg_max;
    pc.batch_max_bytes = o.batch_max;
    if (tp_producer_new(&pc, &r.prod, err, sizeof err) != 0) {
        fprintf(stderr, "producer-check: %s\n", err);
        return 2;
    }
    int64_t t0 = tp_now_mono_ns();
    size_t submitted_reqs = 0;
    tp_producer_record *recs = calloc(o.batch, sizeof *recs);
    for (size_t first = 0; first < o.count; first += o.batch) {
        size_t n = o.count - first < o.batch ? o.count - first : o.batch;
        if (o.pace > 0) { /* open-loop pacing: where this batch should start */
            int64_t due = t0 + (int64_t)((double)first / o.pace * 1e9);
            int64_t now = tp_now_mono_ns();
            if (due > now)
                tp_sleep_ms((uint32_t)((due - now) / 1000000));
        }
        pthread_mutex_lock(&r.mu);
        while (r.inflight >= r.max_inflight)
            pthread_cond_wait(&r.cv, &r.mu);
        r.inflight++;
        pthread_mutex_unlock(&r.mu);
        for (size_t i = 0; i < n; i++) {
            struct gen_event *e = &r.evs[first + i];
            recs[i] = (tp_producer_record){e->stream, e->pkey, e->json, e->len};
        }
        struct req_ctx *c = malloc(sizeof *c);
        *c = (struct req_ctx){&r, first, n, tp_now_mono_ns()};
        int rc = tp_producer_submit(r.prod, recs, n, on_done, c);
        if (rc != 0) {
            fprintf(stderr, "producer-check: submit: %s\n", tp_strerror(rc));
            free(c);
            pthread_mutex_lock(&r.mu);
            r.inflight--;
            r.refused += n;
            pthread_mutex_unlock(&r.mu);
            continue;
        }
        submitted_reqs++;
    }
    pthread_mutex_lock(&r.mu);
    while (r.done_reqs < submitted_reqs)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    double secs = (double)(tp_now_mono_ns() - t0) / 1e9;
    /* Optionally wait for the spool to drain into Kinesis (after an outage or a restart). */
    tp_producer_stats ps;
    tp_producer_get_stats(r.prod, &ps);
    int64_t drain_until = tp_now_mono_ms() + (int64_t)o.wait_drain * 1000;
    while (o.wait_drain > 0 && ps.spool_entries > 0 && tp_now_mono_ms() < drain_until) {
        tp_sleep_ms(200);
        tp_producer_get_stats(r.prod, &ps);
    }
    double drain_secs = (double)(tp_now_mono_ns() - t0) / 1e9 - secs;
    int64_t tf = tp_now_mono_ns();
    tp_producer_free(r.prod);
    double free_secs = (double)(tp_now_mono_ns() - tf) / 1e9;
    qsort(r.lat_us, r.nlat, sizeof *r.lat_us, cmp_i64);
    int64_t p50 = r.nlat ? r.lat_us[r.nlat / 2] : 0, p99 = r.nlat ? r.lat_us[(r.nlat * 99) / 100] : 0;
    int64_t pmax = r.nlat ? r.lat_us[r.nlat - 1] : 0;
    printf("{\"acked\":%zu,\"refused\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
           "\"max_ms\":%.2f,\"free_seconds\":%.3f,\"drain_seconds\":%.3f,\"spool_left\":%llu}\n",
           r.acked, r.refused, secs, secs > 0 ? (double)r.acked / secs : 0.0, (double)p50 / 1000,
           (double)p99 / 1000, (double)pmax / 1000, free_secs, drain_secs, (unsigned long long)ps.spool_entries);
    if (r.acked_fd >= 0)
        close(r.acked_fd);
    free(recs);
    free(r.lat_us);
    gen_events_free(r.evs, o.count);
    if (o.wait_drain > 0 && ps.spool_entries > 0)
        return 3;
    return r.refused ? 1 : 0;
}

int main(int argc, char **argv)
{
    tp_log_init("producer-check");
    if (argc >= 2 && strcmp(argv[1], "produce") == 0)
        return produce(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return verify_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "gen") == 0) {
        struct opts o;
        if (parse_opts(argc - 1, argv + 1, &o) != 0)
            return 2;
        struct gen_event *evs = gen_events(o.seed, o.count);
        for (size_t i = 0; evs && i < o.count; i++)
            printf("%s\n", evs[i].json);
        gen_events_free(evs, o.count);
        return evs || o.count == 0 ? 0 : 2;
    }
    fprintf(stderr, "usage: tp-producer-check produce|verify [options] (see the source header)\n");
    return 2;
}

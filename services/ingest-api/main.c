/* main.c — tp-ingest-api: configuration, wiring, and the stop sequence.
 *
 * Stop (SIGTERM/SIGINT): /readyz turns 503 and no new connection is accepted; requests in
 * flight finish (their events reach Kinesis or the spool) for up to TP_DRAIN_MS; then the
 * producer is freed, which makes every record it still holds durable; then exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "tp/aws.h"
#include "tp/config.h"
#include "tp/db.h"
#include "tp/log.h"
#include "tp/service.h"

struct ingest_config {
    int64_t port;
    char *bind;
    int64_t threads;
    char *database_url;
    int64_t db_pool;
    char *spool_dir;
    int64_t spool_max_bytes;
    int aggregation;
    int64_t linger_ms;
    int64_t senders;
    int64_t flush_events;
    int loop_lanes;
    int64_t max_attempt_ms;
    int64_t auth_cache_ms;
    char *stream_tenants, *stream_users, *stream_jobs;
    int64_t drain_ms;
};

#define C struct ingest_config
static const tp_config_key ingest_keys[] = {
    TP_CFG_INT("TP_INGEST_PORT", C, port, 8081, 0, 65535, "listen port (0: any free port)"),
    TP_CFG_STR("TP_INGEST_BIND", C, bind, "127.0.0.1", 0, "listen address (IPv4 or IPv6 literal)"),
    TP_CFG_INT("TP_INGEST_THREADS", C, threads, 2, 1, 256, "HTTP event loops (one thread each)"),
    TP_CFG_STR("DATABASE_URL", C, database_url, NULL, TP_CFG_REQUIRED | TP_CFG_SECRET,
               "libpq conninfo or URI of the database holding api_keys"),
    TP_CFG_INT("TP_INGEST_DB_POOL", C, db_pool, 4, 1, 64, "PostgreSQL connections for key lookups"),
    TP_CFG_STR("TP_SPOOL_DIR", C, spool_dir, NULL, TP_CFG_REQUIRED,
               "directory of the local spool (events not yet in Kinesis)"),
    TP_CFG_INT("TP_SPOOL_MAX_BYTES", C, spool_max_bytes, 1073741824LL, 1048576LL, 1099511627776LL,
               "spool size limit; beyond it requests get 503"),
    TP_CFG_BOOL("TP_KPL_AGGREGATION", C, aggregation, 1, "pack events into KPL aggregated records"),
    TP_CFG_INT("TP_LINGER_MS", C, linger_ms, 2, 0, 10000,
               "under load, how long a record may wait for others to share its PutRecords call"),
    TP_CFG_INT("TP_SENDERS", C, senders, 8, 1, 64,
               "PutRecords calls in flight at once, per HTTP loop and in the sender threads"),
    TP_CFG_INT("TP_FLUSH_EVENTS", C, flush_events, 64, 1, 100000,
               "this many waiting events go out at once when a sender is free, linger or not"),
    TP_CFG_BOOL("TP_SEND_FROM_LOOPS", C, loop_lanes, 1,
                "form batches and call PutRecords on the HTTP loops' own threads (false: batcher and senders only)"),
    TP_CFG_INT("TP_MAX_ATTEMPT_MS", C, max_attempt_ms, 5000, 100, 600000,
               "retry Kinesis this long, then spool what is not stored"),
    TP_CFG_INT("TP_AUTH_CACHE_MS", C, auth_cache_ms, 1000, 0, 600000,
               "how long a verified key is trusted without asking PostgreSQL"),
    TP_CFG_STR("TP_STREAM_TENANTS", C, stream_tenants, "tenants", 0, "Kinesis stream for tenant.* events"),
    TP_CFG_STR("TP_STREAM_USERS", C, stream_users, "users", 0, "Kinesis stream for user.* and dataset.* events"),
    TP_CFG_STR("TP_STREAM_JOBS", C, stream_jobs, "jobs", 0, "Kinesis stream for job.* events"),
    TP_CFG_INT("TP_DRAIN_MS", C, drain_ms, 10000, 0, 600000,
               "on SIGTERM, wait this long for requests in flight before answering them 503"),
};
#undef C
#define NKEYS (sizeof ingest_keys / sizeof ingest_keys[0])

static const char summary[] =
    "tenantpulse ingest API: POST /v1/events (JSON, array or NDJSON) into the Kinesis streams\n"
    "tenants / users / jobs, API key administration under /v1/admin/keys, and /healthz, /readyz,\n"
    "/metrics. AWS settings come from AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
    "AWS_ENDPOINT_URL_KINESIS (or AWS_ENDPOINT_URL).";

static int ready(void *ctx, char *why, size_t whylen)
{
    struct ingest *ing = ctx;
    return tp_producer_ready(ing->producer, why, whylen);
}

/* Each HTTP loop gets a producer lane: the happy path of a request stays on its loop's thread. */
static int lane_watch(void *loop, int fd, unsigned events) { return tp_http_loop_watch(loop, fd, events); }
static unsigned lane_connections(void *loop) { return tp_http_loop_connections(loop); }
static void *lane_start(void *ctx, tp_http_loop *loop)
{
    struct ingest *ing = ctx;
    const tp_producer_lane_loop ll = {.watch = lane_watch, .connections = lane_connections, .ctx = loop};
    return tp_producer_lane_new(ing->producer, ing->nloops, &ll);
}
static void lane_pass(void *lane) { if (lane) tp_producer_lane_pass(lane); }
static long lane_timeout(void *lane) { return lane ? tp_producer_lane_timeout_ms(lane) : -1; }
static void lane_event(void *lane, int fd, unsigned events) { if (lane) tp_producer_lane_event(lane, fd, events); }
static void lane_stop(void *lane) { tp_producer_lane_free(lane); }

int main(int argc, char **argv)
{
    struct ingest_config cfg = {0};
    struct ingest ing = {0};
    tp_aws_config aws;
    tp_metrics *metrics = NULL;
    tp_db_pool *pool = NULL;
    tp_auth *auth = NULL;
    tp_producer *producer = NULL;
    tp_http_server *http = NULL;
    char err[512];
    int rc = 1;

    if (tp_service_signals_block() != 0) {
        fprintf(stderr, "tp-ingest-api: cannot block signals\n");
        return 1;
    }
    tp_log_init("ingest-api");
    int a = tp_config_handle_args(argc, argv, summary, ingest_keys, NKEYS);
    if (a != 0)
        return a > 0 ? 0 : 2;
    if (tp_config_load(ingest_keys, NKEYS, &cfg, err, sizeof err) != 0) {
        tp_log_error("bad configuration", "error", err);
        rc = 2;
        goto out;
    }
    tp_config_log(ingest_keys, NKEYS, &cfg);
    if (tp_aws_config_from_env(&aws, err, sizeof err) != 0) {
        tp_log_error("bad AWS configuration", "error", err);
        rc = 2;
        goto out;
    }
    if (tp_metrics_new(&metrics) != 0) {
        tp_log_error("out of memory");
        goto out;
    }
    if (tp_db_pool_new(cfg.database_url, (int)cfg.db_pool, &pool, err, sizeof err) != 0 ||
        tp_auth_new(pool, (int)cfg.auth_cache_ms, &auth, err, sizeof err) != 0) {
        tp_log_error("cannot set up the key store", "error", err);
        rc = 2;
        goto out;
    }
    /* Not fatal: keys are looked up lazily and the pool reconnects; but say so early. */
    if (tp_db_ping(pool, err, sizeof err) != 0)
        tp_log_warn("key store not reachable yet", "error", err);

    tp_producer_config pc = {
        .aws = &aws,
        .stream_names = {cfg.stream_tenants, cfg.stream_users, cfg.stream_jobs},
        .aggregate = cfg.aggregation,
        .linger_ms = (int)cfg.linger_ms,
        .senders = (int)cfg.senders,
        .flush_events = (int)cfg.flush_events,
        .max_attempt_ms = (int)cfg.max_attempt_ms,
        .spool_dir = cfg.spool_dir,
        .spool_max_bytes = (uint64_t)cfg.spool_max_bytes,
        .metrics = metrics,
    };
    if (tp_producer_new(&pc, &producer, err, sizeof err) != 0) {
        tp_log_error("cannot start the producer", "error", err);
        goto out;
    }
    ing.auth = auth;
    ing.producer = producer;
    ing.metrics = metrics;
    if (ingest_metrics_init(&ing) != 0) {
        tp_log_error("out of memory registering metrics");
        goto out;
    }

    tp_http_options ho = {
        .svc = "ingest-api",
        .bind_addr = cfg.bind,
        .port = (int)cfg.port,
        .threads = (int)cfg.threads,
        .max_body = INGEST_MAX_BODY,
        .conn_timeout_s = 30,
        .metrics = metrics,
        .ready = ready,
        .ready_ctx = &ing,
    };
    ing.nloops = cfg.loop_lanes ? (int)cfg.threads : 0;
    const tp_http_loop_hooks hooks = {.ctx = &ing, .start = lane_start, .pass = lane_pass,
                                      .timeout_ms = lane_timeout, .event = lane_event, .stop = lane_stop};
    if (tp_http_server_new(&ho, &http, err, sizeof err) != 0 || ingest_routes_events(http, &ing) != 0 ||
        ingest_routes_admin(http, &ing) != 0 || (ing.nloops && tp_http_set_loop_hooks(http, &hooks) != 0) ||
        tp_http_start(http, err, sizeof err) != 0) {
        tp_log_error("cannot start the HTTP server", "error", err);
        goto out;
    }

    int sig = tp_service_signals_wait();
    tp_log_info("stopping", "signal", tp_service_signal_name(sig));
    tp_http_stop(http, (int)cfg.drain_ms);
    rc = 0;
out:
    /* The producer goes before the server: freeing it answers every request still waiting on
     * it, and those answers need the (stopped) server's request objects. */
    tp_producer_free(producer);
    tp_http_server_free(http);
    tp_auth_free(auth);
    tp_db_pool_free(pool);
    tp_metrics_free(metrics);
    tp_config_free(ingest_keys, NKEYS, &cfg);
    if (rc == 0)
        tp_log_info("stopped");
    return rc;
}

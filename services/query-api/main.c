/* main.c — tp-query-api: configuration, wiring, signals. The routes live in routes_*.c. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "tp/config.h"
#include "tp/log.h"

struct query_config {
    int64_t port;
    char *bind;
    int64_t threads;
    char *database_url;
    int64_t pool_size;
    int64_t auth_cache_ms;
    int64_t db_timeout_ms;
    int64_t max_range_days;
    int64_t max_hour_range_days;
    int64_t drain_ms;
};

static const tp_config_key query_keys[] = {
    TP_CFG_INT("TP_QUERY_PORT", struct query_config, port, 8082, 0, 65535, "listen port (0 = any free port)"),
    TP_CFG_STR("TP_QUERY_BIND", struct query_config, bind, "127.0.0.1", 0, "listen address"),
    TP_CFG_INT("TP_QUERY_THREADS", struct query_config, threads, 4, 1, 64, "HTTP event loops (one thread each)"),
    TP_CFG_STR("DATABASE_URL", struct query_config, database_url, NULL, TP_CFG_REQUIRED | TP_CFG_SECRET,
               "libpq connection string of the PostgreSQL holding the reporting views and api_keys"),
    TP_CFG_INT("TP_DB_POOL_SIZE", struct query_config, pool_size, 8, 1, 256, "PostgreSQL connections"),
    TP_CFG_INT("TP_AUTH_CACHE_MS", struct query_config, auth_cache_ms, 1000, 0, 600000,
               "how long a verified API key is trusted before it is checked again"),
    TP_CFG_INT("TP_DB_TIMEOUT_MS", struct query_config, db_timeout_ms, 2000, 1, 60000,
               "wait for a free PostgreSQL connection before answering 503"),
    TP_CFG_INT("TP_MAX_RANGE_DAYS", struct query_config, max_range_days, 400, 1, 3660,
               "longest from..to range for granularity=day"),
    TP_CFG_INT("TP_MAX_HOUR_RANGE_DAYS", struct query_config, max_hour_range_days, 31, 1, 366,
               "longest from..to range for granularity=hour, in days"),
    TP_CFG_INT("TP_DRAIN_MS", struct query_config, drain_ms, 5000, 0, 600000,
               "on SIGTERM, how long in-flight requests may finish"),
};
#define NKEYS (sizeof query_keys / sizeof query_keys[0])

static const char summary[] =
    "tp-query-api answers the business questions over HTTP (JSON or CSV) from the reporting views:\n"
    "/v1/metrics/summary, /v1/metrics/signups, /v1/tenants[/{id}[/activity|/jobs]], /v1/insights/*.\n"
    "See openapi/query.yaml.";

static int ready(void *ctx, char *why, size_t whylen) { return tp_db_ping(ctx, why, whylen); }

int main(int argc, char **argv)
{
    struct query_config cfg;
    tp_query_api api;
    tp_metrics *metrics = NULL;
    tp_http_server *srv = NULL;
    char err[512] = "";
    int status = 1, rc;
    memset(&cfg, 0, sizeof cfg);
    memset(&api, 0, sizeof api);

    tp_log_init("query-api");
    rc = tp_config_handle_args(argc, argv, summary, query_keys, NKEYS);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (tp_config_load(query_keys, NKEYS, &cfg, err, sizeof err)) {
        tp_log_error("bad configuration", "error", err);
        status = 2;
        goto out;
    }
    tp_config_log(query_keys, NKEYS, &cfg);

    /* Block the stop signals before any thread exists so only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = tp_metrics_new(&metrics))) {
        snprintf(err, sizeof err, "metrics: %s", tp_strerror(rc));
        goto fail;
    }
    if (tp_db_pool_new(cfg.database_url, (int)cfg.pool_size, &api.pool, err, sizeof err) ||
        tp_auth_new(api.pool, (int)cfg.auth_cache_ms, &api.auth, err, sizeof err))
        goto fail;
    api.db_timeout_ms = (int)cfg.db_timeout_ms;
    api.max_day_days = (int)cfg.max_range_days;
    api.max_hour_days = (int)cfg.max_hour_range_days;
    api.db_seconds = tp_metrics_histogram(metrics, "tp_query_db_seconds", "time spent in PostgreSQL per statement",
                                          NULL, tp_metrics_latency_bounds, tp_metrics_latency_nbounds);
    api.db_errors = tp_metrics_counter(metrics, "tp_query_errors_total", "requests answered 5xx", NULL);
    if (!api.db_seconds || !api.db_errors) {
        snprintf(err, sizeof err, "metrics: out of memory");
        goto fail;
    }

    tp_http_options opts = {
        .svc = "query-api",
        .bind_addr = cfg.bind,
        .port = (int)cfg.port,
        .threads = (int)cfg.threads,
        .max_body = 4096, /* every route is a GET */
        .conn_timeout_s = 30,
        .metrics = metrics,
        .ready = ready,
        .ready_ctx = api.pool,
    };
    if (tp_http_server_new(&opts, &srv, err, sizeof err))
        goto fail;
    if (tp_query_routes_metrics(srv, &api) || tp_query_routes_tenants(srv, &api) ||
        tp_query_routes_insights(srv, &api)) {
        snprintf(err, sizeof err, "registering routes failed");
        goto fail;
    }
    if (tp_http_start(srv, err, sizeof err))
        goto fail;
    char port[16];
    snprintf(port, sizeof port, "%d", tp_http_port(srv));
    tp_log_info("listening", "bind", cfg.bind, "port", port);

    int sig = 0;
    sigwait(&stop, &sig);
    tp_log_info("stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    tp_http_stop(srv, (int)cfg.drain_ms);
    status = 0;
    goto out;
fail:
    tp_log_error("start-up failed", "error", err);
out:
    tp_http_server_free(srv);
    tp_auth_free(api.auth);
    tp_db_pool_free(api.pool);
    tp_metrics_free(metrics);
    tp_config_free(query_keys, NKEYS, &cfg);
    return status;
}

/* main.c — tp-stream-processor: configuration, wiring, signals. The work is in
 * coordinator.c (leases), reader.c (shards), sink_rollup.c and sink_archive.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_key.h"
#include "coordinator.h"
#include "processor.h"
#include "tp/backoff.h"
#include "tp/config.h"
#include "tp/http.h"
#include "tp/log.h"
#include "tp/service.h"

static const tp_config_key proc_keys[] = {
    TP_CFG_STR("DATABASE_URL", proc_config, database_url, NULL, TP_CFG_REQUIRED | TP_CFG_SECRET,
               "libpq connection string of the PostgreSQL holding leases, rollups and reporting views"),
    TP_CFG_INT("TP_PROCESSOR_PORT", proc_config, port, 8083, 0, 65535,
               "port of /healthz, /readyz and /metrics (0 = any free port)"),
    TP_CFG_STR("TP_PROCESSOR_BIND", proc_config, bind_addr, "127.0.0.1", 0, "listen address"),
    TP_CFG_STR("TP_PROCESSOR_INSTANCE_ID", proc_config, instance_id, NULL, 0,
               "lease owner name of this instance (default: <host>-<pid>-<random>); must be unique"),
    TP_CFG_STR("TP_PROCESSOR_STREAMS", proc_config, streams, "tenants,users,jobs", 0,
               "Kinesis streams to consume, comma-separated"),
    TP_CFG_STR("TP_PROCESSOR_CONSUMERS", proc_config, consumers, "rollup,archive", 0,
               "sinks to run: rollup (PostgreSQL), archive (S3), or both"),
    TP_CFG_INT("TP_PROCESSOR_LEASE_MS", proc_config, lease_ms, 10000, 1000, 600000,
               "lease duration: a silent instance's shards are taken over after this"),
    TP_CFG_INT("TP_PROCESSOR_RENEW_MS", proc_config, renew_ms, 2000, 100, 300000,
               "lease round interval: heartbeat, renew, balance (less than half the lease)"),
    TP_CFG_INT("TP_PROCESSOR_SHARD_SYNC_MS", proc_config, shard_sync_ms, 10000, 500, 3600000,
               "how often ListShards looks for new shards (splits, merges)"),
    TP_CFG_INT("TP_PROCESSOR_GET_LIMIT", proc_config, get_limit, 10000, 1, 10000, "GetRecords Limit"),
    TP_CFG_INT("TP_PROCESSOR_POLL_IDLE_MS", proc_config, poll_idle_ms, 400, 0, 60000,
               "wait after an empty GetRecords"),
    TP_CFG_INT("TP_PROCESSOR_POLL_MIN_MS", proc_config, poll_min_ms, 400, 0, 60000,
               "least time between GetRecords per shard and consumer (Kinesis allows 5/s per shard, shared)"),
    TP_CFG_INT("TP_PROCESSOR_DB_POOL", proc_config, db_pool, 8, 1, 256, "PostgreSQL connections"),
    TP_CFG_INT("TP_PROCESSOR_DEDUPE_RETENTION_H", proc_config, dedupe_retention_h, 192, 1, 87600,
               "keep seen event_ids this long (longer than the streams' retention)"),
    TP_CFG_INT("TP_PROCESSOR_SHUTDOWN_FLUSH_MS", proc_config, shutdown_flush_ms, 5000, 0, 600000,
               "on SIGTERM, how long the archive may keep trying its final flush"),
    TP_CFG_STR("TP_ARCHIVE_BUCKET", proc_config, archive_bucket, "tenantpulse-archive", 0,
               "S3 bucket of the archive (and of error objects); the prefix in bucket-per-tenant mode"),
    TP_CFG_BOOL("TP_ARCHIVE_BUCKET_PER_TENANT", proc_config, archive_bucket_per_tenant, 0,
                "one bucket per tenant, named <TP_ARCHIVE_BUCKET>-<tenant> (see docs/stream-processing.md)"),
    TP_CFG_STR("TP_ARCHIVE_KEY_TEMPLATE", proc_config, archive_key_template, TP_ARCHIVE_DEFAULT_TEMPLATE, 0,
               "object key template: {tenant} {user} {date} {hour} {stream} {shard} {first_seq} {first_sub}"),
    TP_CFG_STR("TP_ARCHIVE_ERROR_PREFIX", proc_config, archive_error_prefix, "errors/", 0,
               "key prefix of records that are not valid events"),
    TP_CFG_INT("TP_ARCHIVE_MAX_BYTES", proc_config, archive_max_bytes, 8 << 20, 1024, 256 << 20,
               "flush a shard's buffer at this many uncompressed bytes"),
    TP_CFG_INT("TP_ARCHIVE_MAX_AGE_MS", proc_config, archive_max_age_ms, 10000, 0, 3600000,
               "flush a shard's buffer when its oldest record waited this long"),
};
#define NKEYS (sizeof proc_keys / sizeof proc_keys[0])

static const char summary[] =
    "tp-stream-processor consumes the Kinesis streams like KCL (shard leases in PostgreSQL) into two\n"
    "independent sinks: exactly-once rollups in PostgreSQL (reporting.* views) and a gzipped NDJSON\n"
    "archive in S3. AWS_* variables configure Kinesis and S3. See docs/stream-processing.md.";

static int parse_consumers(const char *s, proc_consumer *out, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        proc_consumer c;
        if (len == 6 && !strncmp(s, "rollup", 6))
            c = PROC_CONSUMER_ROLLUP;
        else if (len == 7 && !strncmp(s, "archive", 7))
            c = PROC_CONSUMER_ARCHIVE;
        else
            return tp_errf(err, errlen, TP_EINVAL, "TP_PROCESSOR_CONSUMERS: unknown consumer '%.*s'", (int)len, s);
        int dup = 0;
        for (size_t i = 0; i < *n; i++)
            dup |= out[i] == c;
        if (!dup)
            out[(*n)++] = c;
        s += len + (s[len] == ',');
    }
    if (!*n)
        return tp_errf(err, errlen, TP_EINVAL, "TP_PROCESSOR_CONSUMERS names no consumer");
    return 0;
}

static int validate(proc_config *cfg, char *err, size_t errlen)
{
    if (cfg->renew_ms * 2 >= cfg->lease_ms)
        return tp_errf(err, errlen, TP_EINVAL, "TP_PROCESSOR_RENEW_MS=%lld must be under half of TP_PROCESSOR_LEASE_MS=%lld",
                       (long long)cfg->renew_ms, (long long)cfg->lease_ms);
    if (tp_archive_template_check(cfg->archive_key_template, err, errlen))
        return TP_EINVAL;
    if (!cfg->archive_bucket || !cfg->archive_bucket[0])
        return tp_errf(err, errlen, TP_EINVAL, "TP_ARCHIVE_BUCKET must not be empty");
    if (!cfg->instance_id || !cfg->instance_id[0]) {
        char host[64] = "host", id[128];
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "host");
        host[sizeof host - 1] = '\0';
        snprintf(id, sizeof id, "%s-%ld-%04x", host, (long)getpid(), (unsigned)(tp_now_wall_ms() & 0xffff));
        free(cfg->instance_id);
        if (!(cfg->instance_id = strdup(id)))
            return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
    }
    if (strlen(cfg->instance_id) >= PROC_NAME_MAX)
        return tp_errf(err, errlen, TP_EINVAL, "TP_PROCESSOR_INSTANCE_ID is longer than %d", PROC_NAME_MAX - 1);
    return 0;
}

static int ready(void *arg, char *why, size_t whylen)
{
    proc_ctx *ctx = arg;
    if (!atomic_load(&ctx->coordinator_ok))
        return tp_errf(why, whylen, TP_EUNAVAIL, "lease round has not reached PostgreSQL yet");
    return tp_db_ping(ctx->pool, why, whylen);
}

int main(int argc, char **argv)
{
    proc_config cfg;
    proc_ctx ctx;
    tp_coord *coord = NULL;
    tp_http_server *srv = NULL;
    char err[512] = "";
    int status = 1;
    memset(&cfg, 0, sizeof cfg);
    memset(&ctx, 0, sizeof ctx);

    tp_log_init("stream-processor");
    int rc = tp_config_handle_args(argc, argv, summary, proc_keys, NKEYS);
    if (rc)
        return rc > 0 ? 0 : 2;
    proc_consumer consumers[PROC_CONSUMER__COUNT];
    size_t ncons = 0;
    if (tp_config_load(proc_keys, NKEYS, &cfg, err, sizeof err) || validate(&cfg, err, sizeof err) ||
        parse_consumers(cfg.consumers, consumers, &ncons, err, sizeof err) ||
        tp_aws_config_from_env(&ctx.aws, err, sizeof err)) {
        tp_log_error("bad configuration", "error", err);
        status = 2;
        goto out;
    }
    tp_config_log(proc_keys, NKEYS, &cfg);
    ctx.cfg = &cfg;

    /* Before any thread exists, so only the main thread ever sees SIGTERM/SIGINT. */
    if (tp_service_signals_block() != 0) {
        snprintf(err, sizeof err, "cannot block signals");
        goto fail;
    }
    if ((rc = tp_metrics_new(&ctx.metrics))) {
        snprintf(err, sizeof err, "metrics: %s", tp_strerror(rc));
        goto fail;
    }
    if (tp_db_pool_new(cfg.database_url, (int)cfg.db_pool, &ctx.pool, err, sizeof err))
        goto fail;
    if (tp_coord_new(&ctx, cfg.streams, consumers, ncons, &coord, err, sizeof err))
        goto fail;

    tp_http_options opts = {
        .svc = "stream-processor",
        .bind_addr = cfg.bind_addr,
        .port = (int)cfg.port,
        .threads = 2,
        .max_body = 1024,
        .conn_timeout_s = 30,
        .metrics = ctx.metrics,
        .ready = ready,
        .ready_ctx = &ctx,
    };
    if (tp_http_server_new(&opts, &srv, err, sizeof err) || tp_http_start(srv, err, sizeof err))
        goto fail;
    char port[16];
    snprintf(port, sizeof port, "%d", tp_http_port(srv));
    tp_log_info("stream processor started", "instance", cfg.instance_id, "port", port, "consumers", cfg.consumers);

    int sig = 0;
    while (!sig) {
        if (tp_coord_cycle(coord, err, sizeof err) != 0)
            tp_log_warn("lease round failed", "error", err);
        sig = tp_service_signals_wait_ms((int)cfg.renew_ms);
    }
    tp_log_info("stopping: finishing batches and releasing leases", "signal", tp_service_signal_name(sig));
    atomic_store(&ctx.stopping, 1);
    tp_coord_shutdown(coord);
    status = 0;
    goto out;

fail:
    tp_log_error("start-up failed", "error", err);
out:
    if (coord && status != 0) {
        atomic_store(&ctx.stopping, 1);
        tp_coord_shutdown(coord);
    }
    tp_http_server_free(srv);
    tp_coord_free(coord);
    tp_db_pool_free(ctx.pool);
    tp_metrics_free(ctx.metrics);
    tp_config_free(proc_keys, NKEYS, &cfg);
    if (status == 0)
        tp_log_info("stopped");
    return status;
}

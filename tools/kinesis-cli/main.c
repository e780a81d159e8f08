/* tp-kinesis — Kinesis stream administration and test tool (see usage below).
 *
 * Every command prints JSON on stdout (one object per line) so scripts can check results;
 * diagnostics go to stderr as tp_log lines. Configuration is the standard AWS_* environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tp/aws.h"
#include "tp/backoff.h"
#include "tp/kinesis.h"
#include "tp/kpl.h"
#include "tp/log.h"

#define CLI_MAX_ATTEMPTS 8

static const char usage[] =
    "usage: tp-kinesis COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  create-streams [--shards N] [--retention-hours H] STREAM...\n"
    "        create each stream (existing ones are fine), wait until ACTIVE, raise retention to H\n"
    "  delete-stream STREAM\n"
    "  describe STREAM                 status, retention and open shards as JSON\n"
    "  list-shards STREAM              the shards as a JSON array\n"
    "  split-shard STREAM SHARD_ID     split at the midpoint of the shard's hash range, wait ACTIVE\n"
    "  put STREAM PKEY DATA [PKEY DATA]...\n"
    "        one PutRecords call with plain records; one result line per entry;\n"
    "        exit 3 if some entries failed, 1 if the call failed\n"
    "  put-agg STREAM OUTER_PKEY PKEY DATA [PKEY DATA]...\n"
    "        one KPL-aggregated record holding the given user records\n"
    "  dump STREAM [--from trim|latest] [--max-idle-ms N]\n"
    "        read every shard (parents before children) until no record came for N ms\n"
    "        (default 3000); print one NDJSON line per user record (aggregates expanded):\n"
    "        {\"stream\",\"shard\",\"sequence\",\"sub\",\"partition_key\",\"data\"|\"data_b64\"}\n"
    "\n"
    "Environment: AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
    "AWS_SESSION_TOKEN (optional), AWS_ENDPOINT_URL_KINESIS (or AWS_ENDPOINT_URL), TP_LOG_LEVEL.\n"
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 partial PutRecords failure.\n";

int cli_should_retry(int rc, unsigned *attempt)
{
    if (!tp_err_retryable(rc) || *attempt + 1 >= CLI_MAX_ATTEMPTS)
        return 0;
    tp_sleep_ms(tp_backoff_ms((*attempt)++, 100, 5000));
    return 1;
}

void cli_print(json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    } else {
        tp_log_error("out of memory printing a result");
    }
    json_decref(obj);
}

int cli_fail(int rc, const char *msg)
{
    cli_print(json_pack("{s:s,s:s}", "error", tp_errname(rc), "message", msg ? msg : ""));
    return CLI_FAIL;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int describe_json(tp_kinesis *k, const char *stream, int created, char *err, size_t errlen)
{
    char status[32];
    int hours = 0, open = 0, rc;
    unsigned attempt = 0;
    do
        rc = tp_kinesis_describe_summary(k, stream, status, &hours, &open, err, errlen);
    while (rc != 0 && cli_should_retry(rc, &attempt));
    if (rc != 0)
        return rc;
    json_t *o = json_pack("{s:s,s:s,s:i,s:i}", "stream", stream, "status", status, "retention_hours", hours,
                          "open_shards", open);
    if (o && created >= 0)
        json_object_set_new(o, "created", json_boolean(created));
    cli_print(o);
    return 0;
}

static int cmd_create_streams(tp_kinesis *k, int argc, char **argv)
{
    int shards = 1, retention = 24, i = 0;
    char err[512];
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        int *dst = strcmp(argv[i], "--shards") == 0           ? &shards
                   : strcmp(argv[i], "--retention-hours") == 0 ? &retention
                                                               : NULL;
        if (!dst || i + 1 >= argc || parse_int(argv[i + 1], dst == &shards ? 1 : 24, 100000, dst) != 0) {
            fprintf(stderr, "create-streams: bad option %s\n%s", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "create-streams: no stream named\n%s", usage);
        return CLI_USAGE;
    }
    for (; i < argc; i++) {
        const char *s = argv[i];
        int rc, created = 1, hours = 0;
        unsigned attempt = 0;
        char status[32];
        do
            rc = tp_kinesis_create_stream(k, s, shards, err, sizeof err);
        while (rc != 0 && cli_should_retry(rc, &attempt));
        if (rc == TP_EEXIST) {
            created = 0;
            rc = 0;
        }
        if (rc == 0)
            rc = tp_kinesis_wait_active(k, s, 120000, err, sizeof err);
        if (rc == 0)
            rc = tp_kinesis_describe_summary(k, s, status, &hours, NULL, err, sizeof err);
        if (rc == 0 && hours < retention) {
            rc = tp_kinesis_increase_retention(k, s, retention, err, sizeof err);
            if (rc == 0)
                rc = tp_kinesis_wait_active(k, s, 120000, err, sizeof err);
        }
        if (rc == 0)
            rc = describe_json(k, s, created, err, sizeof err);
        if (rc != 0)
            return cli_fail(rc, err);
    }
    return CLI_OK;
}

static json_t *shard_json(const tp_shard *s)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "shard_id", s->shard_id, "starting_hash_key", s->starting_hash_key,
                          "ending_hash_key", s->ending_hash_key, "starting_sequence", s->starting_sequence);
    if (!o)
        return NULL;
    json_object_set_new(o, "open", json_boolean(!s->ending_sequence[0]));
    json_object_set_new(o, "parent_shard_id", s->parent_shard_id[0] ? json_string(s->parent_shard_id) : json_null());
    json_object_set_new(o, "adjacent_parent_shard_id",
                        s->adjacent_parent_shard_id[0] ? json_string(s->adjacent_parent_shard_id) : json_null());
    json_object_set_new(o, "ending_sequence", s->ending_sequence[0] ? json_string(s->ending_sequence) : json_null());
    return o;
}

static int list_shards_retry(tp_kinesis *k, const char *stream, tp_shard_list *l, char *err, size_t errlen)
{
    int rc;
    unsigned attempt = 0;
    do
        rc = tp_kinesis_list_shards(k, stream, l, err, errlen);
    while (rc != 0 && cli_should_retry(rc, &attempt));
    return rc;
}

static int cmd_list_shards(tp_kinesis *k, const char *stream)
{
    char err[512];
    tp_shard_list l = {0};
    int rc = list_shards_retry(k, stream, &l, err, sizeof err);
    if (rc != 0)
        return cli_fail(rc, err);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l.n; i++)
        json_array_append_new(arr, shard_json(&l.shards[i]));
    cli_print(arr);
    tp_shard_list_free(&l);
    return CLI_OK;
}

static int cmd_split_shard(tp_kinesis *k, const char *stream, const char *shard_id)
{
    char err[512], mid[48];
    tp_shard_list l = {0};
    int rc = list_shards_retry(k, stream, &l, err, sizeof err);
    const tp_shard *s = NULL;
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (strcmp(l.shards[i].shard_id, shard_id) == 0)
            s = &l.shards[i];
    if (rc == 0 && !s)
        rc = tp_errf(err, sizeof err, TP_ENOTFOUND, "no shard %s in %s", shard_id, stream);
    if (rc == 0 && s->ending_sequence[0])
        rc = tp_errf(err, sizeof err, TP_EINVAL, "shard %s is closed", shard_id);
    if (rc == 0 && tp_kinesis_split_point(s->starting_hash_key, s->ending_hash_key, mid) != 0)
        rc = tp_errf(err, sizeof err, TP_EINVAL, "shard %s has a one-key range", shard_id);
    if (rc == 0)
        rc = tp_kinesis_split_shard(k, stream, shard_id, mid, err, sizeof err);
    if (rc == 0)
        rc = tp_kinesis_wait_active(k, stream, 120000, err, sizeof err);
    tp_shard_list_free(&l);
    if (rc != 0)
        return cli_fail(rc, err);
    cli_print(json_pack("{s:s,s:s,s:s}", "stream", stream, "shard", shard_id, "new_starting_hash_key", mid));
    return CLI_OK;
}

/* One PutRecords; print a line per entry. */
static int put_entries(tp_kinesis *k, const char *stream, const tp_put_entry *e, size_t n)
{
    char err[512];
    size_t failed = 0;
    tp_put_result_entry *res = calloc(n, sizeof *res);
    if (!res)
        return cli_fail(TP_ENOMEM, "out of memory");
    int rc = tp_kinesis_put_records(k, stream, e, n, res, &failed, err, sizeof err);
    if (rc != 0) {
        free(res);
        return cli_fail(rc, err);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = res[i].err == 0 ? json_pack("{s:i,s:b,s:s,s:s}", "index", (int)i, "ok", 1, "shard",
                                                res[i].shard_id, "sequence", res[i].sequence)
                                    : json_pack("{s:i,s:b,s:s,s:s,s:b}", "index", (int)i, "ok", 0, "error",
                                                tp_errname(res[i].err), "error_code", res[i].error_code,
                                                "retryable", tp_err_retryable(res[i].err));
        cli_print(o);
    }
    free(res);
    return failed ? CLI_PARTIAL : CLI_OK;
}

static int cmd_put(tp_kinesis *k, int argc, char **argv)
{
    if (argc < 3 || (argc - 1) % 2 != 0) {
        fprintf(stderr, "put: need STREAM and PKEY DATA pairs\n%s", usage);
        return CLI_USAGE;
    }
    size_t n = (size_t)(argc - 1) / 2;
    tp_put_entry *e = calloc(n, sizeof *e);
    if (!e)
        return cli_fail(TP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        e[i].partition_key = argv[1 + 2 * i];
        e[i].data = argv[2 + 2 * i];
        e[i].len = strlen(argv[2 + 2 * i]);
    }
    int rc = put_entries(k, argv[0], e, n);
    free(e);
    return rc;
}

static int cmd_put_agg(tp_kinesis *k, int argc, char **argv)
{
    if (argc < 4 || (argc - 2) % 2 != 0) {
        fprintf(stderr, "put-agg: need STREAM OUTER_PKEY and PKEY DATA pairs\n%s", usage);
        return CLI_USAGE;
    }
    tp_kpl_builder *b = NULL;
    const uint8_t *agg;
    size_t agglen;
    int rc = tp_kpl_builder_new(&b);
    for (int i = 2; rc == 0 && i < argc; i += 2)
        rc = tp_kpl_builder_add(b, argv[i], argv[i + 1], strlen(argv[i + 1]));
    if (rc == 0)
        rc = tp_kpl_builder_finish(b, &agg, &agglen);
    if (rc != 0) {
        tp_kpl_builder_free(b);
        return cli_fail(rc, "building the aggregate");
    }
    tp_put_entry e = {.data = agg, .len = agglen, .partition_key = argv[1]};
    rc = put_entries(k, argv[0], &e, 1);
    tp_kpl_builder_free(b);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = CLI_USAGE;
    tp_kinesis *k = NULL;
    char err[512];
    tp_aws_config cfg;

    tp_log_init("tp-kinesis");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (tp_aws_global_init() != 0) {
        tp_log_error("curl_global_init failed");
        return CLI_FAIL;
    }
    int e = tp_aws_config_from_env(&cfg, err, sizeof err);
    if (e == 0)
        e = tp_kinesis_new(&cfg, &k);
    if (e != 0) {
        tp_log_error("configuration", "error", err[0] ? err : tp_strerror(e));
        rc = CLI_FAIL;
        goto out;
    }

    const char *cmd = argv[1];
    int n = argc - 2;
    char **a = argv + 2;
    if (strcmp(cmd, "create-streams") == 0)
        rc = cmd_create_streams(k, n, a);
    else if (strcmp(cmd, "delete-stream") == 0 && n == 1)
        rc = (e = tp_kinesis_delete_stream(k, a[0], err, sizeof err)) == 0 ? CLI_OK : cli_fail(e, err);
    else if (strcmp(cmd, "describe") == 0 && n == 1)
        rc = (e = describe_json(k, a[0], -1, err, sizeof err)) == 0 ? CLI_OK : cli_fail(e, err);
    else if (strcmp(cmd, "list-shards") == 0 && n == 1)
        rc = cmd_list_shards(k, a[0]);
    else if (strcmp(cmd, "split-shard") == 0 && n == 2)
        rc = cmd_split_shard(k, a[0], a[1]);
    else if (strcmp(cmd, "put") == 0)
        rc = cmd_put(k, n, a);
    else if (strcmp(cmd, "put-agg") == 0)
        rc = cmd_put_agg(k, n, a);
    else if (strcmp(cmd, "dump") == 0)
        rc = cmd_dump(k, n, a);
    else
        fprintf(stderr, "tp-kinesis: unknown command or wrong arguments: %s\n%s", cmd, usage);
out:
    fflush(stdout);
    tp_kinesis_free(k);
    memset(&cfg, 0, sizeof cfg);
    tp_aws_global_cleanup();
    return rc;
}

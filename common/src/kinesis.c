/* kinesis.c — Kinesis client: the JSON 1.1 call, stream administration, shards and the 128-bit
 * hash-key arithmetic (see kinesis.h). Producing and consuming are in kinesis_data.c. */
#include "tp/kinesis.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinesis_internal.h"
#include "tp/backoff.h"
#include "tp/log.h"

typedef unsigned __int128 u128;

int tp_kinesis_new(const tp_aws_config *cfg, tp_kinesis **out)
{
    if (!cfg || !out)
        return TP_EINVAL;
    *out = NULL;
    tp_kinesis *k = calloc(1, sizeof *k);
    if (!k)
        return TP_ENOMEM;
    int rc = tp_aws_client_new(cfg, "kinesis", &k->aws);
    if (rc != 0) {
        free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void tp_kinesis_free(tp_kinesis *k)
{
    if (!k)
        return;
    free(k->put_body);
    tp_aws_response_free(&k->put_res);
    tp_aws_client_free(k->aws);
    free(k);
}

const char *tp_kinesis__str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int tp_kinesis__copy(const json_t *obj, const char *key, char *dst, size_t cap)
{
    const char *s = tp_kinesis__str(obj, key);
    dst[0] = '\0';
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n >= cap)
        return TP_EPROTO;
    memcpy(dst, s, n + 1);
    return 0;
}

int tp_kinesis__call(tp_kinesis *k, const char *op, json_t *req, json_t **resp, char *err, size_t errlen)
{
    *resp = NULL;
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body)
        return tp_errf(err, errlen, TP_ENOMEM, "%s: out of memory serializing request", op);
    int rc = tp_kinesis__call_body(k, op, body, strlen(body), resp, err, errlen);
    free(body);
    return rc;
}

int tp_kinesis__call_body(tp_kinesis *k, const char *op, const char *body, size_t len, json_t **resp, char *err,
                          size_t errlen)
{
    int rc;
    char target[96];
    tp_aws_response res = {0};
    *resp = NULL;

    snprintf(target, sizeof target, "Kinesis_20131202.%s", op);
    const tp_aws_header hdrs[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", target},
    };
    rc = tp_aws_request(k->aws, "POST", "/", hdrs, 2, body, len, &res, err, errlen);
    if (rc == 0)
        rc = tp_kinesis__answer(op, &res, resp, err, errlen);
    tp_aws_response_free(&res);
    return rc;
}

int tp_kinesis__answer(const char *op, const tp_aws_response *res, json_t **resp, char *err, size_t errlen)
{
    int rc = 0;
    *resp = NULL;
    if (res->status < 200 || res->status >= 300) {
        rc = tp_aws_classify(res->status, res->error_code);
        if (rc == 0)
            rc = TP_EPROTO;
        return tp_errf(err, errlen, rc, "%s: HTTP %ld %s: %s", op, res->status,
                       res->error_code[0] ? res->error_code : "-", res->error_message);
    }
    json_error_t je;
    if (res->body_len == 0) {
        /* CreateStream, DeleteStream, SplitShard... answer 200 with an empty body. */
        *resp = json_object();
        return *resp ? 0 : tp_errf(err, errlen, TP_ENOMEM, "%s: out of memory", op);
    }
    *resp = json_loadb(res->body, res->body_len, 0, &je);
    if (!*resp || !json_is_object(*resp)) {
        json_decref(*resp);
        *resp = NULL;
        rc = tp_errf(err, errlen, TP_EPROTO, "%s: response is not a JSON object: %s", op, je.text);
    }
    return rc;
}

/* Build {"StreamName": stream, ...} — returns NULL on OOM. */
static json_t *stream_req(const char *stream)
{
    json_t *o = json_object();
    if (o && json_object_set_new(o, "StreamName", json_string(stream)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Send {"StreamName": stream, extra_key: extra} and discard the answer. */
static int simple_call(tp_kinesis *k, const char *op, const char *stream, const char *extra_key, json_t *extra,
                       char *err, size_t errlen)
{
    int rc;
    json_t *resp = NULL;
    json_t *req = stream_req(stream);
    if (!req) {
        json_decref(extra);
        rc = tp_errf(err, errlen, TP_ENOMEM, "%s: out of memory", op);
        goto out;
    }
    /* json_object_set_new consumes extra even when it fails. */
    if (extra_key && json_object_set_new(req, extra_key, extra) != 0) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "%s: out of memory", op);
        goto out;
    }
    rc = tp_kinesis__call(k, op, req, &resp, err, errlen);
out:
    json_decref(req);
    json_decref(resp);
    return rc;
}

int tp_kinesis_create_stream(tp_kinesis *k, const char *stream, int shards, char *err, size_t errlen)
{
    if (!k || !stream || !*stream || shards < 1)
        return tp_errf(err, errlen, TP_EINVAL, "CreateStream: bad arguments");
    return simple_call(k, "CreateStream", stream, "ShardCount", json_integer(shards), err, errlen);
}

int tp_kinesis_delete_stream(tp_kinesis *k, const char *stream, char *err, size_t errlen)
{
    if (!k || !stream || !*stream)
        return tp_errf(err, errlen, TP_EINVAL, "DeleteStream: bad arguments");
    return simple_call(k, "DeleteStream", stream, "EnforceConsumerDeletion", json_true(), err, errlen);
}

int tp_kinesis_increase_retention(tp_kinesis *k, const char *stream, int hours, char *err, size_t errlen)
{
    if (!k || !stream || !*stream || hours < 24)
        return tp_errf(err, errlen, TP_EINVAL, "IncreaseStreamRetentionPeriod: bad arguments");
    return simple_call(k, "IncreaseStreamRetentionPeriod", stream, "RetentionPeriodHours", json_integer(hours), err,
                       errlen);
}

int tp_kinesis_split_shard(tp_kinesis *k, const char *stream, const char *shard_id, const char *new_starting_hash_key,
                           char *err, size_t errlen)
{
    int rc;
    json_t *resp = NULL;
    json_t *req = NULL;
    if (!k || !stream || !shard_id || !new_starting_hash_key)
        return tp_errf(err, errlen, TP_EINVAL, "SplitShard: bad arguments");
    req = stream_req(stream);
    if (!req || json_object_set_new(req, "ShardToSplit", json_string(shard_id)) != 0 ||
        json_object_set_new(req, "NewStartingHashKey", json_string(new_starting_hash_key)) != 0) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "SplitShard: out of memory");
        goto out;
    }
    rc = tp_kinesis__call(k, "SplitShard", req, &resp, err, errlen);
out:
    json_decref(req);
    json_decref(resp);
    return rc;
}

int tp_kinesis_describe_summary(tp_kinesis *k, const char *stream, char status[32], int *retention_hours,
                                int *open_shards, char *err, size_t errlen)
{
    int rc;
    json_t *resp = NULL;
    json_t *req = NULL;
    if (!k || !stream || !*stream)
        return tp_errf(err, errlen, TP_EINVAL, "DescribeStreamSummary: bad arguments");
    req = stream_req(stream);
    if (!req) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "DescribeStreamSummary: out of memory");
        goto out;
    }
    rc = tp_kinesis__call(k, "DescribeStreamSummary", req, &resp, err, errlen);
    if (rc != 0)
        goto out;
    json_t *sum = json_object_get(resp, "StreamDescriptionSummary");
    if (!json_is_object(sum)) {
        rc = tp_errf(err, errlen, TP_EPROTO, "DescribeStreamSummary: no StreamDescriptionSummary");
        goto out;
    }
    if (status && tp_kinesis__copy(sum, "StreamStatus", status, 32) != 0) {
        rc = tp_errf(err, errlen, TP_EPROTO, "DescribeStreamSummary: StreamStatus too long");
        goto out;
    }
    if (retention_hours)
        *retention_hours = (int)json_integer_value(json_object_get(sum, "RetentionPeriodHours"));
    if (open_shards)
        *open_shards = (int)json_integer_value(json_object_get(sum, "OpenShardCount"));
out:
    json_decref(req);
    json_decref(resp);
    return rc;
}

int tp_kinesis_wait_active(tp_kinesis *k, const char *stream, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = tp_now_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    char status[32] = "";
    int rc;
    for (;;) {
        rc = tp_kinesis_describe_summary(k, stream, status, NULL, NULL, err, errlen);
        if (rc == 0 && strcmp(status, "ACTIVE") == 0)
            return 0;
        /* Not found can be a just-created stream not yet visible; keep polling for it too. */
        if (rc != 0 && rc != TP_ENOTFOUND && !tp_err_retryable(rc))
            return rc;
        if (tp_now_mono_ms() >= deadline)
            return tp_errf(err, errlen, TP_ETIMEDOUT, "stream %s not ACTIVE after %d ms (status %s)", stream,
                           timeout_ms, rc == 0 ? status : tp_errname(rc));
        tp_sleep_ms(200);
    }
}

/* --- shards --- */

void tp_shard_list_free(tp_shard_list *l)
{
    if (!l)
        return;
    free(l->shards);
    l->shards = NULL;
    l->n = 0;
}

static int parse_shard(const json_t *js, tp_shard *s)
{
    json_t *hk = json_object_get(js, "HashKeyRange");
    json_t *sr = json_object_get(js, "SequenceNumberRange");
    memset(s, 0, sizeof *s);
    if (!tp_kinesis__str(js, "ShardId"))
        return TP_EPROTO;
    if (tp_kinesis__copy(js, "ShardId", s->shard_id, sizeof s->shard_id) ||
        tp_kinesis__copy(js, "ParentShardId", s->parent_shard_id, sizeof s->parent_shard_id) ||
        tp_kinesis__copy(js, "AdjacentParentShardId", s->adjacent_parent_shard_id,
                         sizeof s->adjacent_parent_shard_id) ||
        tp_kinesis__copy(hk, "StartingHashKey", s->starting_hash_key, sizeof s->starting_hash_key) ||
        tp_kinesis__copy(hk, "EndingHashKey", s->ending_hash_key, sizeof s->ending_hash_key) ||
        tp_kinesis__copy(sr, "StartingSequenceNumber", s->starting_sequence, sizeof s->starting_sequence) ||
        tp_kinesis__copy(sr, "EndingSequenceNumber", s->ending_sequence, sizeof s->ending_sequence))
        return TP_EPROTO;
    return 0;
}

int tp_kinesis_list_shards(tp_kinesis *k, const char *stream, tp_shard_list *out, char *err, size_t errlen)
{
    int rc = 0;
    json_t *req = NULL, *resp = NULL;
    char *token = NULL;
    size_t cap = 0;
    if (!k || !stream || !*stream || !out)
        return tp_errf(err, errlen, TP_EINVAL, "ListShards: bad arguments");
    out->shards = NULL;
    out->n = 0;
    do {
        /* With a NextToken the stream name must be left out (the token encodes it). */
        req = token ? json_object() : stream_req(stream);
        if (!req || (token && json_object_set_new(req, "NextToken", json_string(token)) != 0)) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "ListShards: out of memory");
            goto out;
        }
        rc = tp_kinesis__call(k, "ListShards", req, &resp, err, errlen);
        if (rc != 0)
            goto out;
        json_t *arr = json_object_get(resp, "Shards");
        size_t na = json_is_array(arr) ? json_array_size(arr) : 0;
        if (out->n + na > cap) {
            size_t ncap = cap ? cap : 8;
            while (ncap < out->n + na)
                ncap *= 2;
            tp_shard *ns = realloc(out->shards, ncap * sizeof *ns);
            if (!ns) {
                rc = tp_errf(err, errlen, TP_ENOMEM, "ListShards: out of memory");
                goto out;
            }
            out->shards = ns;
            cap = ncap;
        }
        for (size_t i = 0; i < na; i++) {
            if (parse_shard(json_array_get(arr, i), &out->shards[out->n]) != 0) {
                rc = tp_errf(err, errlen, TP_EPROTO, "ListShards: malformed shard %zu", i);
                goto out;
            }
            out->n++;
        }
        free(token);
        token = NULL;
        const char *next = tp_kinesis__str(resp, "NextToken");
        if (next && *next && !(token = strdup(next))) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "ListShards: out of memory");
            goto out;
        }
        json_decref(req);
        json_decref(resp);
        req = resp = NULL;
    } while (token);
out:
    if (rc != 0)
        tp_shard_list_free(out);
    free(token);
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* --- 128-bit hash keys --- */

static int parse_u128(const char *s, u128 *out)
{
    u128 v = 0;
    const u128 max = ~(u128)0;
    if (!s || !*s)
        return TP_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return TP_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return TP_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void fmt_u128(u128 v, char out[48])
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

void tp_kinesis_hash_key(const char *pkey, size_t len, char out[48])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    u128 v = 0;
    if (EVP_Digest(pkey ? pkey : "", pkey ? len : 0, md, &mdlen, EVP_md5(), NULL) && mdlen == 16) {
        for (int i = 0; i < 16; i++)
            v = v << 8 | md[i];
    }
    fmt_u128(v, out);
}

int tp_kinesis_hash_in_range(const char *hash_dec, const char *start_dec, const char *end_dec)
{
    u128 h, a, b;
    if (parse_u128(hash_dec, &h) || parse_u128(start_dec, &a) || parse_u128(end_dec, &b))
        return 0;
    return a <= h && h <= b;
}

int tp_kinesis_hash_valid(const char *dec)
{
    u128 v;
    return parse_u128(dec, &v) == 0;
}

int tp_kinesis_split_point(const char *start_dec, const char *end_dec, char out[48])
{
    u128 a, b;
    if (parse_u128(start_dec, &a) || parse_u128(end_dec, &b) || a >= b)
        return TP_EINVAL;
    fmt_u128(a + (b - a) / 2 + 1, out);
    return 0;
}

/* kinesis_data.c — PutRecords, GetShardIterator and GetRecords (see kinesis.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinesis_internal.h"
#include "tp/kinesis.h"

#define TP_KINESIS_MAX_BATCH 500
#define TP_KINESIS_MAX_RECORD ((size_t)1024 * 1024)
#define TP_KINESIS_MAX_REQUEST ((size_t)5 * 1024 * 1024)
#define TP_KINESIS_MAX_PKEY_CHARS 256

/* Characters in s if it is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), else SIZE_MAX. Partition-key limits count characters, not bytes, and the key goes
 * into a JSON request, which must be UTF-8. */
static size_t utf8_chars(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = 0;
    while (*s) {
        unsigned c = *s, cp;
        size_t k;
        if (c < 0x80) {
            s++;
            n++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return SIZE_MAX;
        }
        for (size_t i = 1; i <= k; i++) {
            if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
                return SIZE_MAX;
            cp = cp << 6 | (s[i] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return SIZE_MAX;
        s += k + 1;
        n++;
    }
    return n;
}

static int check_entries(const tp_put_entry *e, size_t n, char *err, size_t errlen)
{
    size_t total = 0;
    if (n == 0 || n > TP_KINESIS_MAX_BATCH)
        return tp_errf(err, errlen, TP_EINVAL, "PutRecords: %zu entries (1..%d allowed)", n, TP_KINESIS_MAX_BATCH);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].partition_key || (!e[i].data && e[i].len))
            return tp_errf(err, errlen, TP_EINVAL, "PutRecords: entry %zu has no partition key or data", i);
        size_t chars = utf8_chars(e[i].partition_key);
        if (chars == SIZE_MAX)
            return tp_errf(err, errlen, TP_EINVAL, "PutRecords: entry %zu partition key is not valid UTF-8", i);
        if (chars < 1 || chars > TP_KINESIS_MAX_PKEY_CHARS)
            return tp_errf(err, errlen, TP_EINVAL, "PutRecords: entry %zu partition key has %zu characters", i,
                           chars);
        if (e[i].explicit_hash_key && !tp_kinesis_hash_valid(e[i].explicit_hash_key))
            return tp_errf(err, errlen, TP_EINVAL, "PutRecords: entry %zu explicit hash key is not 0..2^128-1", i);
        /* kl is at most 1 KiB (256 characters), so only len can be near SIZE_MAX: compare it
         * without adding, or the sum could wrap below the limit. */
        size_t kl = strlen(e[i].partition_key);
        if (kl > TP_KINESIS_MAX_RECORD || e[i].len > TP_KINESIS_MAX_RECORD - kl)
            return tp_errf(err, errlen, TP_ETOOBIG, "PutRecords: entry %zu is %zu + %zu bytes (max %zu)", i,
                           e[i].len, kl, TP_KINESIS_MAX_RECORD);
        total += e[i].len + kl;
    }
    if (total > TP_KINESIS_MAX_REQUEST)
        return tp_errf(err, errlen, TP_ETOOBIG, "PutRecords: batch is %zu bytes (max %zu)", total,
                       TP_KINESIS_MAX_REQUEST);
    return 0;
}

/* Worst-case size of s as a JSON string literal: quotes plus six bytes (\u00XX) per byte. */
static size_t json_str_bound(const char *s) { return 2 + 6 * strlen(s); }

static char *put_lit(char *o, const char *lit)
{
    size_t n = strlen(lit);
    memcpy(o, lit, n);
    return o + n;
}

/* s (valid UTF-8) as a JSON string literal: only '"', '\\' and control characters need escapes. */
static char *put_json_str(char *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o = put_lit(o, "\\u00");
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    return o;
}

/* The PutRecords body, written directly into one buffer sized up front. Building it as a jansson
 * tree and dumping that cost ~6.6 us a record (a 5 MiB batch took ~75 ms, at ~70 MB/s), the
 * bulk of the producer's CPU; base64 straight into the buffer is an order of magnitude cheaper.
 * Entries were checked by check_entries (UTF-8 keys, decimal hash keys, sizes), which also
 * keeps the size sum far from overflow. malloc'd, NUL-terminated; NULL on OOM. */
static char *build_put_body(const char *stream, const tp_put_entry *e, size_t n, size_t *len_out)
{
    size_t cap = 32 + json_str_bound(stream);
    for (size_t i = 0; i < n; i++) {
        cap += 64 + (e[i].len + 2) / 3 * 4 + json_str_bound(e[i].partition_key);
        if (e[i].explicit_hash_key)
            cap += 24 + strlen(e[i].explicit_hash_key);
    }
    char *body = malloc(cap);
    if (!body)
        return NULL;
    char *o = put_lit(body, "{\"StreamName\":");
    o = put_json_str(o, stream);
    o = put_lit(o, ",\"Records\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        o = put_lit(o, "{\"Data\":\"");
        o += tp_aws__base64_encode_to(e[i].data, e[i].len, o);
        o = put_lit(o, "\",\"PartitionKey\":");
        o = put_json_str(o, e[i].partition_key);
        if (e[i].explicit_hash_key) {
            o = put_lit(o, ",\"ExplicitHashKey\":");
            o = put_json_str(o, e[i].explicit_hash_key);
        }
        *o++ = '}';
    }
    o = put_lit(o, "]}");
    *o = '\0';
    *len_out = (size_t)(o - body);
    return body;
}

/* Per-record failures carry only an ErrorCode; anything unexpected is treated as retryable so a
 * record is never silently dropped on a code we do not know. */
static int classify_entry(const char *code)
{
    int e = tp_aws_classify(0, code);
    return (e == 0 || e == TP_EPROTO) ? TP_EUNAVAIL : e;
}

static int put_check(tp_kinesis *k, const char *stream, const tp_put_entry *entries, size_t n,
                     const tp_put_result_entry *results, char *err, size_t errlen)
{
    if (!k || !stream || !*stream || !entries || !results)
        return tp_errf(err, errlen, TP_EINVAL, "PutRecords: bad arguments");
    if (utf8_chars(stream) == SIZE_MAX)
        return tp_errf(err, errlen, TP_EINVAL, "PutRecords: stream name is not valid UTF-8");
    return check_entries(entries, n, err, errlen);
}

/* Per-entry outcomes of an answered call. */
static int put_results(json_t *resp, size_t n, tp_put_result_entry *results, size_t *failed_count, char *err,
                       size_t errlen)
{
    json_t *recs = json_object_get(resp, "Records");
    if (!json_is_array(recs) || json_array_size(recs) != n)
        return tp_errf(err, errlen, TP_EPROTO, "PutRecords: answer has %zu records for %zu sent",
                       json_is_array(recs) ? json_array_size(recs) : 0, n);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(recs, i);
        tp_put_result_entry *res = &results[i];
        memset(res, 0, sizeof *res);
        const char *code = tp_kinesis__str(r, "ErrorCode");
        if (code && *code) {
            snprintf(res->error_code, sizeof res->error_code, "%s", code);
            res->err = classify_entry(code);
            failed++;
            continue;
        }
        if (!tp_kinesis__str(r, "SequenceNumber") ||
            tp_kinesis__copy(r, "SequenceNumber", res->sequence, sizeof res->sequence) != 0 ||
            tp_kinesis__copy(r, "ShardId", res->shard_id, sizeof res->shard_id) != 0) {
            /* The call was answered but this entry's outcome is unreadable: report it failed and
             * retryable so the caller resends it (a possible duplicate beats a possible loss;
             * TP_EPROTO would read as permanent to a caller that obeys tp_err_retryable). */
            snprintf(res->error_code, sizeof res->error_code, "MalformedResult");
            res->err = TP_EUNAVAIL;
            failed++;
        }
    }
    if (failed_count)
        *failed_count = failed;
    return 0;
}

int tp_kinesis_put_records(tp_kinesis *k, const char *stream, const tp_put_entry *entries, size_t n,
                           tp_put_result_entry *results, size_t *failed_count, char *err, size_t errlen)
{
    json_t *resp = NULL;
    int rc = put_check(k, stream, entries, n, results, err, errlen);
    if (rc != 0)
        return rc;
    size_t body_len = 0;
    char *body = build_put_body(stream, entries, n, &body_len);
    if (!body)
        return tp_errf(err, errlen, TP_ENOMEM, "PutRecords: out of memory building request");
    rc = tp_kinesis__call_body(k, "PutRecords", body, body_len, &resp, err, errlen);
    if (rc == 0)
        rc = put_results(resp, n, results, failed_count, err, errlen);
    free(body);
    json_decref(resp);
    return rc;
}

static const tp_aws_header put_hdrs[] = {
    {"Content-Type", "application/x-amz-json-1.1"},
    {"X-Amz-Target", "Kinesis_20131202.PutRecords"},
};

int tp_kinesis_put_start(tp_kinesis *k, const char *stream, const tp_put_entry *entries, size_t n, char *err,
                         size_t errlen)
{
    static tp_put_result_entry unused;
    int rc = put_check(k, stream, entries, n, &unused, err, errlen);
    if (rc != 0)
        return rc;
    if (k->put_body)
        return tp_errf(err, errlen, TP_EINVAL, "PutRecords: a call is already in flight on this client");
    size_t body_len = 0;
    k->put_body = build_put_body(stream, entries, n, &body_len);
    if (!k->put_body)
        return tp_errf(err, errlen, TP_ENOMEM, "PutRecords: out of memory building request");
    k->put_n = n;
    rc = tp_aws_request_start(k->aws, "POST", "/", put_hdrs, 2, k->put_body, body_len, &k->put_res, err, errlen);
    if (rc != 0) {
        free(k->put_body);
        k->put_body = NULL;
    }
    return rc;
}

void *tp_kinesis_easy(tp_kinesis *k) { return k ? tp_aws_client_easy(k->aws) : NULL; }

int tp_kinesis_put_finish(tp_kinesis *k, int curl_result, tp_put_result_entry *results, size_t *failed_count,
                          char *err, size_t errlen)
{
    if (!k || !k->put_body || !results)
        return tp_errf(err, errlen, TP_EINVAL, "PutRecords: no call in flight");
    json_t *resp = NULL;
    int rc = tp_aws_request_finish(k->aws, curl_result, err, errlen);
    if (rc == 0)
        rc = tp_kinesis__answer("PutRecords", &k->put_res, &resp, err, errlen);
    if (rc == 0)
        rc = put_results(resp, k->put_n, results, failed_count, err, errlen);
    json_decref(resp);
    tp_aws_response_free(&k->put_res);
    free(k->put_body);
    k->put_body = NULL;
    return rc;
}

/* --- consuming --- */

static const char *iterator_type_name(tp_iterator_type t)
{
    switch (t) {
    case TP_ITER_TRIM_HORIZON:
        return "TRIM_HORIZON";
    case TP_ITER_LATEST:
        return "LATEST";
    case TP_ITER_AT_SEQUENCE:
        return "AT_SEQUENCE_NUMBER";
    case TP_ITER_AFTER_SEQUENCE:
        return "AFTER_SEQUENCE_NUMBER";
    case TP_ITER_AT_TIMESTAMP:
        return "AT_TIMESTAMP";
    }
    return NULL;
}

int tp_kinesis_get_shard_iterator(tp_kinesis *k, const char *stream, const char *shard_id, tp_iterator_type type,
                                  const char *sequence, int64_t timestamp_ms, char **iterator_out, char *err,
                                  size_t errlen)
{
    int rc;
    json_t *req = NULL, *resp = NULL;
    const char *tname = iterator_type_name(type);
    int needs_seq = type == TP_ITER_AT_SEQUENCE || type == TP_ITER_AFTER_SEQUENCE;
    if (!k || !stream || !shard_id || !iterator_out || !tname || (needs_seq && (!sequence || !*sequence)))
        return tp_errf(err, errlen, TP_EINVAL, "GetShardIterator: bad arguments");
    *iterator_out = NULL;
    req = json_object();
    if (!req || json_object_set_new(req, "StreamName", json_string(stream)) != 0 ||
        json_object_set_new(req, "ShardId", json_string(shard_id)) != 0 ||
        json_object_set_new(req, "ShardIteratorType", json_string(tname)) != 0 ||
        (needs_seq && json_object_set_new(req, "StartingSequenceNumber", json_string(sequence)) != 0) ||
        (type == TP_ITER_AT_TIMESTAMP &&
         json_object_set_new(req, "Timestamp", json_real((double)timestamp_ms / 1000.0)) != 0)) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "GetShardIterator: out of memory");
        goto out;
    }
    rc = tp_kinesis__call(k, "GetShardIterator", req, &resp, err, errlen);
    if (rc != 0)
        goto out;
    const char *it = tp_kinesis__str(resp, "ShardIterator");
    if (!it || !*it) {
        rc = tp_errf(err, errlen, TP_EPROTO, "GetShardIterator: no ShardIterator in answer");
        goto out;
    }
    *iterator_out = strdup(it);
    if (!*iterator_out)
        rc = tp_errf(err, errlen, TP_ENOMEM, "GetShardIterator: out of memory");
out:
    json_decref(req);
    json_decref(resp);
    return rc;
}

void tp_get_records_result_free(tp_get_records_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->records[i].data);
        free(r->records[i].partition_key);
    }
    free(r->records);
    free(r->next_iterator);
    free(r->child_shards);
    memset(r, 0, sizeof *r);
}

static int parse_record(const json_t *jr, tp_kinesis_record *rec)
{
    const char *data = tp_kinesis__str(jr, "Data");
    const char *pkey = tp_kinesis__str(jr, "PartitionKey");
    if (!data || !pkey || tp_kinesis__copy(jr, "SequenceNumber", rec->sequence, sizeof rec->sequence) != 0 ||
        !rec->sequence[0])
        return TP_EPROTO;
    unsigned char *bytes = NULL;
    int rc = tp_aws_base64_decode(data, strlen(data), &bytes, &rec->len);
    if (rc != 0)
        return rc == TP_ENOMEM ? rc : TP_EPROTO;
    rec->data = (char *)bytes;
    rec->partition_key = strdup(pkey);
    if (!rec->partition_key)
        return TP_ENOMEM;
    json_t *ts = json_object_get(jr, "ApproximateArrivalTimestamp");
    /* Epoch seconds with a fraction; round to the nearest millisecond. A value no int64 can hold
     * (the conversion would be undefined) stays 0, "unknown", rather than failing the batch. */
    if (json_is_number(ts)) {
        double ms = json_number_value(ts) * 1000.0;
        if (ms > -9.2e18 && ms < 9.2e18)
            rec->arrival_ms = (int64_t)(ms >= 0 ? ms + 0.5 : ms - 0.5);
    }
    return 0;
}

int tp_kinesis_get_records(tp_kinesis *k, const char *iterator, int limit, tp_get_records_result *out, char *err,
                           size_t errlen)
{
    int rc;
    json_t *req = NULL, *resp = NULL;
    if (!k || !iterator || !*iterator || !out || limit < 1 || limit > 10000)
        return tp_errf(err, errlen, TP_EINVAL, "GetRecords: bad arguments");
    memset(out, 0, sizeof *out);
    req = json_object();
    if (!req || json_object_set_new(req, "ShardIterator", json_string(iterator)) != 0 ||
        json_object_set_new(req, "Limit", json_integer(limit)) != 0) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "GetRecords: out of memory");
        goto out;
    }
    rc = tp_kinesis__call(k, "GetRecords", req, &resp, err, errlen);
    if (rc != 0)
        goto out;
    json_t *recs = json_object_get(resp, "Records");
    size_t n = json_is_array(recs) ? json_array_size(recs) : 0;
    if (n) {
        out->records = calloc(n, sizeof *out->records);
        if (!out->records) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "GetRecords: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* Count the record first so a half-parsed one is freed with the rest. */
        out->n++;
        rc = parse_record(json_array_get(recs, i), &out->records[i]);
        if (rc != 0) {
            tp_errf(err, errlen, rc, "GetRecords: record %zu: %s", i, tp_strerror(rc));
            goto out;
        }
    }
    const char *next = tp_kinesis__str(resp, "NextShardIterator");
    if (next && *next && !(out->next_iterator = strdup(next))) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "GetRecords: out of memory");
        goto out;
    }
    json_t *mb = json_object_get(resp, "MillisBehindLatest");
    out->millis_behind = json_is_integer(mb) ? (int64_t)json_integer_value(mb) : 0;
    json_t *kids = json_object_get(resp, "ChildShards");
    size_t nk = json_is_array(kids) ? json_array_size(kids) : 0;
    if (nk) {
        out->child_shards = calloc(nk, sizeof *out->child_shards);
        if (!out->child_shards) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "GetRecords: out of memory");
            goto out;
        }
        for (size_t i = 0; i < nk; i++) {
            json_t *c = json_array_get(kids, i);
            if (!tp_kinesis__str(c, "ShardId") ||
                tp_kinesis__copy(c, "ShardId", out->child_shards[out->n_children], 128) != 0) {
                rc = tp_errf(err, errlen, TP_EPROTO, "GetRecords: malformed ChildShards[%zu]", i);
                goto out;
            }
            out->n_children++;
        }
    }
out:
    if (rc != 0)
        tp_get_records_result_free(out);
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* s3.c — S3 over REST with path-style URLs (see s3.h).
 *
 * Keys are URI-encoded once with '/' kept: S3 signs the path as sent (it is the one service
 * that does not double-encode the canonical URI), and curl signs exactly the path we give it. */
#include "tp/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/log.h"

struct tp_s3 {
    tp_aws_client *aws;
    char region[64];
};

int tp_s3_new(const tp_aws_config *cfg, tp_s3 **out)
{
    if (!cfg || !out)
        return TP_EINVAL;
    *out = NULL;
    tp_s3 *s = calloc(1, sizeof *s);
    if (!s)
        return TP_ENOMEM;
    int rc = tp_aws_client_new(cfg, "s3", &s->aws);
    if (rc != 0) {
        free(s);
        return rc;
    }
    snprintf(s->region, sizeof s->region, "%s", cfg->region);
    *out = s;
    return 0;
}

void tp_s3_free(tp_s3 *s)
{
    if (!s)
        return;
    tp_aws_client_free(s->aws);
    free(s);
}

/* "/<bucket>[/<key>]" encoded, malloc'd; NULL on OOM or a bad bucket. */
static char *object_path(const char *bucket, const char *key)
{
    size_t bl = strlen(bucket), kl = key ? strlen(key) : 0;
    size_t cap = 3 * (bl + kl) + 3;
    char *p = malloc(cap);
    if (!p)
        return NULL;
    p[0] = '/';
    if (tp_aws_uri_encode(bucket, 0, p + 1, cap - 1) != 0) {
        free(p);
        return NULL;
    }
    if (key) {
        size_t n = strlen(p);
        p[n++] = '/';
        if (tp_aws_uri_encode(key, 1, p + n, cap - n) != 0) {
            free(p);
            return NULL;
        }
    }
    return p;
}

static int fail(const char *what, const tp_aws_response *res, char *err, size_t errlen)
{
    int rc = tp_aws_classify(res->status, res->error_code);
    if (rc == 0)
        rc = TP_EPROTO;
    return tp_errf(err, errlen, rc, "S3 %s: HTTP %ld %s: %s", what, res->status,
                   res->error_code[0] ? res->error_code : "-", res->error_message);
}

static int valid_name(const char *bucket, const char *key)
{
    return bucket && *bucket && strchr(bucket, '/') == NULL && (!key || *key);
}

/* Simple request on bucket/key with no interesting answer: 2xx → 0, else the classified error. */
static int simple(tp_s3 *s, const char *method, const char *what, const char *bucket, const char *key,
                  const tp_aws_header *hdrs, size_t nh, const void *body, size_t len, long *status, char *err,
                  size_t errlen)
{
    int rc;
    tp_aws_response res = {0};
    char *path = object_path(bucket, key);
    if (!path)
        return tp_errf(err, errlen, TP_ENOMEM, "S3 %s: out of memory", what);
    rc = tp_aws_request(s->aws, method, path, hdrs, nh, body, len, &res, err, errlen);
    if (rc == 0 && (res.status < 200 || res.status >= 300))
        rc = fail(what, &res, err, errlen);
    if (status)
        *status = res.status;
    tp_aws_response_free(&res);
    free(path);
    return rc;
}

int tp_s3_create_bucket(tp_s3 *s, const char *bucket, char *err, size_t errlen)
{
    char body[256] = "";
    if (!s || !valid_name(bucket, NULL))
        return tp_errf(err, errlen, TP_EINVAL, "S3 CreateBucket: bad arguments");
    /* Outside us-east-1 real S3 wants the region named in the body. */
    if (strcmp(s->region, "us-east-1") != 0)
        snprintf(body, sizeof body,
                 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                 s->region);
    const tp_aws_header h[] = {{"Content-Type", "application/xml"}};
    int rc = simple(s, "PUT", "CreateBucket", bucket, NULL, h, 1, body, strlen(body), NULL, err, errlen);
    if (rc == TP_EEXIST) {
        /* BucketAlreadyOwnedByYou, or a stand-in that says BucketAlreadyExists for its only
         * owner: a HEAD we are allowed to make proves the bucket is usable by us. */
        rc = simple(s, "HEAD", "HeadBucket", bucket, NULL, NULL, 0, NULL, 0, NULL, err, errlen);
        if (rc != 0)
            rc = tp_errf(err, errlen, TP_EEXIST, "S3 CreateBucket: %s exists and is not ours", bucket);
    }
    return rc;
}

int tp_s3_delete_bucket(tp_s3 *s, const char *bucket, char *err, size_t errlen)
{
    if (!s || !valid_name(bucket, NULL))
        return tp_errf(err, errlen, TP_EINVAL, "S3 DeleteBucket: bad arguments");
    return simple(s, "DELETE", "DeleteBucket", bucket, NULL, NULL, 0, NULL, 0, NULL, err, errlen);
}

int tp_s3_put_object(tp_s3 *s, const char *bucket, const char *key, const void *body, size_t len,
                     const char *content_type, const char *content_encoding, char *err, size_t errlen)
{
    if (!s || !valid_name(bucket, key) || (!body && len))
        return tp_errf(err, errlen, TP_EINVAL, "S3 PutObject: bad arguments");
    tp_aws_header h[2] = {{"Content-Type", content_type && *content_type ? content_type : "application/octet-stream"}};
    size_t nh = 1;
    if (content_encoding && *content_encoding)
        h[nh++] = (tp_aws_header){"Content-Encoding", content_encoding};
    return simple(s, "PUT", "PutObject", bucket, key, h, nh, body, len, NULL, err, errlen);
}

int tp_s3_delete_object(tp_s3 *s, const char *bucket, const char *key, char *err, size_t errlen)
{
    if (!s || !valid_name(bucket, key))
        return tp_errf(err, errlen, TP_EINVAL, "S3 DeleteObject: bad arguments");
    return simple(s, "DELETE", "DeleteObject", bucket, key, NULL, 0, NULL, 0, NULL, err, errlen);
}

int tp_s3_get_object(tp_s3 *s, const char *bucket, const char *key, char **body, size_t *len, char *err,
                     size_t errlen)
{
    int rc;
    tp_aws_response res = {0};
    char *path = NULL;
    if (!s || !valid_name(bucket, key) || !body || !len)
        return tp_errf(err, errlen, TP_EINVAL, "S3 GetObject: bad arguments");
    *body = NULL;
    *len = 0;
    path = object_path(bucket, key);
    if (!path) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "S3 GetObject: out of memory");
        goto out;
    }
    rc = tp_aws_request(s->aws, "GET", path, NULL, 0, NULL, 0, &res, err, errlen);
    if (rc != 0)
        goto out;
    if (res.status < 200 || res.status >= 300) {
        rc = fail("GetObject", &res, err, errlen);
        goto out;
    }
    *body = res.body;
    *len = res.body_len;
    res.body = NULL;
out:
    tp_aws_response_free(&res);
    free(path);
    return rc;
}

void tp_s3_listing_free(tp_s3_listing *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->objects[i].key);
    free(l->objects);
    l->objects = NULL;
    l->n = 0;
}

/* Append "&name=value" (value URI-encoded) to a growing query; first parameter gets '?'. */
static int query_add(char **q, size_t *qlen, const char *name, const char *value)
{
    size_t vcap = 3 * strlen(value) + 1;
    size_t need = *qlen + strlen(name) + vcap + 3;
    char *nq = realloc(*q, need);
    if (!nq)
        return TP_ENOMEM;
    *q = nq;
    int w = snprintf(nq + *qlen, need - *qlen, "%c%s=", *qlen ? '&' : '?', name);
    *qlen += (size_t)w;
    if (tp_aws_uri_encode(value, 0, nq + *qlen, need - *qlen) != 0)
        return TP_ENOMEM;
    *qlen += strlen(nq + *qlen);
    return 0;
}

/* Append the <Contents> of one ListObjectsV2 page; sets *token to the continuation token
 * (malloc'd) when the page says it is truncated. */
static int parse_list_page(const char *xml, size_t len, tp_s3_listing *out, size_t *cap, char **token)
{
    const char *p = xml, *end = xml + len, *inner;
    size_t ilen;
    while ((p = tp_aws_xml_find(p, end, "Contents", &inner, &ilen)) != NULL) {
        const char *kin, *sin;
        size_t klen, slen;
        if (!tp_aws_xml_find(inner, inner + ilen, "Key", &kin, &klen))
            return TP_EPROTO;
        if (out->n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            tp_s3_object *no = realloc(out->objects, nc * sizeof *no);
            if (!no)
                return TP_ENOMEM;
            out->objects = no;
            *cap = nc;
        }
        tp_s3_object *o = &out->objects[out->n];
        o->size = 0;
        int rc = tp_aws_xml_unescape(kin, klen, &o->key);
        if (rc != 0)
            return rc == TP_ENOMEM ? rc : TP_EPROTO;
        out->n++;
        if (tp_aws_xml_find(inner, inner + ilen, "Size", &sin, &slen)) {
            /* Server text: refuse a number past int64 rather than overflow. */
            for (size_t i = 0; i < slen && sin[i] >= '0' && sin[i] <= '9'; i++) {
                int d = sin[i] - '0';
                if (o->size > (INT64_MAX - d) / 10)
                    return TP_EPROTO;
                o->size = o->size * 10 + d;
            }
        }
    }
    const char *tin;
    size_t tlen;
    *token = NULL;
    if (tp_aws_xml_find(xml, end, "IsTruncated", &tin, &tlen) && tlen == 4 && memcmp(tin, "true", 4) == 0) {
        if (!tp_aws_xml_find(xml, end, "NextContinuationToken", &tin, &tlen) || tlen == 0)
            return TP_EPROTO;
        int rc = tp_aws_xml_unescape(tin, tlen, token);
        if (rc != 0)
            return rc == TP_ENOMEM ? rc : TP_EPROTO;
    }
    return 0;
}

int tp_s3_list_paged(tp_s3 *s, const char *bucket, const char *prefix, int page_size, tp_s3_listing *out,
                     char *err, size_t errlen)
{
    int rc = 0;
    char *token = NULL, *query = NULL, *path = NULL, *full = NULL;
    size_t cap = 0, qlen = 0;
    char maxkeys[16];
    tp_aws_response res = {0};
    if (!s || !valid_name(bucket, NULL) || !out || page_size < 1 || page_size > 1000)
        return tp_errf(err, errlen, TP_EINVAL, "S3 ListObjectsV2: bad arguments");
    out->objects = NULL;
    out->n = 0;
    snprintf(maxkeys, sizeof maxkeys, "%d", page_size);
    path = object_path(bucket, NULL);
    if (!path) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "S3 ListObjectsV2: out of memory");
        goto out;
    }
    int pages = 0;
    do {
        /* Parameters in sorted order: curl signs the query exactly as given. */
        qlen = 0;
        if ((token && query_add(&query, &qlen, "continuation-token", token)) ||
            query_add(&query, &qlen, "list-type", "2") || query_add(&query, &qlen, "max-keys", maxkeys) ||
            (prefix && *prefix && query_add(&query, &qlen, "prefix", prefix))) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "S3 ListObjectsV2: out of memory");
            goto out;
        }
        free(full);
        size_t fl = strlen(path) + qlen + 1;
        full = malloc(fl);
        if (!full) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "S3 ListObjectsV2: out of memory");
            goto out;
        }
        snprintf(full, fl, "%s%s", path, query);
        rc = tp_aws_request(s->aws, "GET", full, NULL, 0, NULL, 0, &res, err, errlen);
        if (rc != 0)
            goto out;
        if (res.status < 200 || res.status >= 300) {
            rc = fail("ListObjectsV2", &res, err, errlen);
            goto out;
        }
        free(token);
        token = NULL;
        rc = parse_list_page(res.body, res.body_len, out, &cap, &token);
        if (rc != 0) {
            rc = tp_errf(err, errlen, rc, "S3 ListObjectsV2: page %d: %s", pages, tp_strerror(rc));
            goto out;
        }
        tp_aws_response_free(&res);
        pages++;
    } while (token);
out:
    if (rc != 0)
        tp_s3_listing_free(out);
    tp_aws_response_free(&res);
    free(token);
    free(query);
    free(path);
    free(full);
    return rc;
}

int tp_s3_list(tp_s3 *s, const char *bucket, const char *prefix, tp_s3_listing *out, char *err, size_t errlen)
{
    return tp_s3_list_paged(s, bucket, prefix, 1000, out, err, errlen);
}

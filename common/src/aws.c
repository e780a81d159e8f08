/* aws.c — AWS configuration, SigV4-signed requests over libcurl, error parsing (see aws.h).
 *
 * curl 7.88 computes the signature itself (CURLOPT_AWS_SIGV4) over the method, the URL path and
 * query exactly as given, the Host and X-Amz-Date headers, every header we pass, and the SHA-256
 * of the POSTFIELDS body. What it leaves to us: the x-amz-content-sha256 header (S3 requires it),
 * the session-token header, a pre-sorted and pre-encoded query, and an explicit Content-Type
 * (otherwise curl adds an unsigned form-urlencoded one). Encoding helpers (URI, base64, XML) live in aws_codec.c. */
#include "tp/aws.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tp/log.h"

/* A response larger than this is refused rather than buffered (no AWS API we use comes near). */
#define TP_AWS_MAX_BODY ((size_t)256 * 1024 * 1024)

struct capture {
    tp_aws_response *res;
    size_t cap;
    int oom;
    int too_big;
    char error_type[128]; /* x-amzn-ErrorType, before any ':' */
};

struct tp_aws_client {
    CURL *curl;
    tp_aws_config cfg;
    char service[32];
    char endpoint[512];
    char sigv4[160]; /* "aws:amz:<region>:<service>" */
    /* The request between start and finish. */
    int busy;
    struct curl_slist *hl;
    char *url;
    const char *method, *path; /* the caller's, for logs and errors */
    struct capture cp;
};

static void request_clear(tp_aws_client *c);

int tp_aws_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : TP_EINTERNAL; }

void tp_aws_global_cleanup(void) { curl_global_cleanup(); }

static int copy_env(const char *name, char *dst, size_t cap, int required, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        dst[0] = '\0';
        return required ? tp_errf(err, errlen, TP_EINVAL, "%s is not set", name) : 0;
    }
    size_t n = strlen(v);
    if (n >= cap)
        return tp_errf(err, errlen, TP_EINVAL, "%s is too long (%zu bytes, max %zu)", name, n, cap - 1);
    memcpy(dst, v, n + 1);
    return 0;
}

/* Per-service endpoint: the service's own variable, then AWS_ENDPOINT_URL, then the public one. */
static int endpoint_from_env(const char *var, const char *public_fmt, const char *region, char *dst, size_t cap,
                             char *err, size_t errlen)
{
    const char *used = var;
    int rc = copy_env(var, dst, cap, 0, err, errlen);
    if (rc == 0 && !dst[0]) {
        used = "AWS_ENDPOINT_URL";
        rc = copy_env(used, dst, cap, 0, err, errlen);
    }
    if (rc != 0)
        return rc;
    if (!dst[0]) {
        int n = snprintf(dst, cap, public_fmt, region);
        if (n < 0 || (size_t)n >= cap)
            return tp_errf(err, errlen, TP_EINVAL, "AWS_REGION too long for an endpoint");
        return 0;
    }
    if (strncmp(dst, "http://", 7) != 0 && strncmp(dst, "https://", 8) != 0)
        return tp_errf(err, errlen, TP_EINVAL, "%s=%s: must start with http:// or https://", used, dst);
    size_t n = strlen(dst);
    while (n > 0 && dst[n - 1] == '/')
        dst[--n] = '\0';
    return 0;
}

int tp_aws_config_from_env(tp_aws_config *cfg, char *err, size_t errlen)
{
    int rc;
    if (!cfg)
        return tp_errf(err, errlen, TP_EINVAL, "no config");
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = 2000;
    cfg->request_timeout_ms = 10000;

    rc = copy_env("AWS_REGION", cfg->region, sizeof cfg->region, 0, err, errlen);
    if (rc == 0 && !cfg->region[0])
        rc = copy_env("AWS_DEFAULT_REGION", cfg->region, sizeof cfg->region, 0, err, errlen);
    if (rc == 0 && !cfg->region[0])
        rc = tp_errf(err, errlen, TP_EINVAL, "AWS_REGION (or AWS_DEFAULT_REGION) is not set");
    if (rc == 0)
        rc = copy_env("AWS_ACCESS_KEY_ID", cfg->access_key, sizeof cfg->access_key, 1, err, errlen);
    if (rc == 0)
        rc = copy_env("AWS_SECRET_ACCESS_KEY", cfg->secret_key, sizeof cfg->secret_key, 1, err, errlen);
    if (rc == 0)
        rc = copy_env("AWS_SESSION_TOKEN", cfg->session_token, sizeof cfg->session_token, 0, err, errlen);
    if (rc == 0)
        rc = endpoint_from_env("AWS_ENDPOINT_URL_KINESIS", "https://kinesis.%s.amazonaws.com", cfg->region,
                               cfg->endpoint_kinesis, sizeof cfg->endpoint_kinesis, err, errlen);
    if (rc == 0)
        rc = endpoint_from_env("AWS_ENDPOINT_URL_S3", "https://s3.%s.amazonaws.com", cfg->region, cfg->endpoint_s3,
                               sizeof cfg->endpoint_s3, err, errlen);
    if (rc == 0)
        rc = endpoint_from_env("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "https://runtime.sagemaker.%s.amazonaws.com",
                               cfg->region, cfg->endpoint_sagemaker, sizeof cfg->endpoint_sagemaker, err, errlen);
    return rc;
}

int tp_aws_client_new(const tp_aws_config *cfg, const char *service, tp_aws_client **out)
{
    if (!cfg || !service || !out)
        return TP_EINVAL;
    *out = NULL;
    const char *ep;
    if (strcmp(service, "kinesis") == 0)
        ep = cfg->endpoint_kinesis;
    else if (strcmp(service, "s3") == 0)
        ep = cfg->endpoint_s3;
    else if (strcmp(service, "sagemaker") == 0)
        ep = cfg->endpoint_sagemaker;
    else
        return TP_EINVAL;
    if (!ep[0] || !cfg->region[0] || strlen(ep) >= sizeof((tp_aws_client *)0)->endpoint)
        return TP_EINVAL;

    tp_aws_client *c = calloc(1, sizeof *c);
    if (!c)
        return TP_ENOMEM;
    c->cfg = *cfg;
    snprintf(c->service, sizeof c->service, "%s", service);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep);
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    int w = snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:%s", cfg->region, service);
    if (w < 0 || (size_t)w >= sizeof c->sigv4) {
        free(c);
        return TP_EINVAL;
    }
    if (c->cfg.connect_timeout_ms <= 0)
        c->cfg.connect_timeout_ms = 2000;
    if (c->cfg.request_timeout_ms <= 0)
        c->cfg.request_timeout_ms = 10000;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return TP_ENOMEM;
    }
    *out = c;
    return 0;
}

void tp_aws_client_free(tp_aws_client *c)
{
    if (!c)
        return;
    request_clear(c);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    /* The secret is in cfg; don't leave it in freed memory. */
    memset(&c->cfg, 0, sizeof c->cfg);
    free(c);
}

void tp_aws_response_free(tp_aws_response *res)
{
    if (!res)
        return;
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* --- response capture --- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct capture *cp = ud;
    tp_aws_response *r = cp->res;
    size_t n = size * nmemb;
    if (r->body_len + n + 1 > TP_AWS_MAX_BODY) {
        cp->too_big = 1;
        return 0;
    }
    if (r->body_len + n + 1 > cp->cap) {
        size_t ncap = cp->cap ? cp->cap : 4096;
        while (ncap < r->body_len + n + 1)
            ncap *= 2;
        char *nb = realloc(r->body, ncap);
        if (!nb) {
            cp->oom = 1;
            return 0;
        }
        r->body = nb;
        cp->cap = ncap;
    }
    memcpy(r->body + r->body_len, ptr, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

/* Copy a header's value (trimmed) if its name matches. */
static int header_value(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return 0;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t n = (size_t)(end - v);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 1;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct capture *cp = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the previous one's headers. */
        cp->res->request_id[0] = '\0';
        cp->error_type[0] = '\0';
        return n;
    }
    if (!header_value(ptr, n, "x-amzn-RequestId", cp->res->request_id, sizeof cp->res->request_id))
        header_value(ptr, n, "x-amz-request-id", cp->res->request_id, sizeof cp->res->request_id);
    if (header_value(ptr, n, "x-amzn-ErrorType", cp->error_type, sizeof cp->error_type)) {
        char *colon = strchr(cp->error_type, ':');
        if (colon)
            *colon = '\0';
    }
    return n;
}

/* Error code and message of a failed call: JSON protocols put {"__type": "prefix#Code",
 * "message": ...} in the body, S3 puts <Error><Code>..</Code><Message>..</Message></Error>,
 * and either may only send the x-amzn-ErrorType header. */
/* The string value of "key" in a flat JSON object, escapes resolved as far as error text needs
 * (\uXXXX becomes '?'). Enough for error bodies; real parsing happens in the service modules. */
static int json_string_field(const char *json, const char *key, char *dst, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(json, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, kl) != 0 || p[1 + kl] != '"')
            continue;
        const char *q = p + 2 + kl;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (*q != ':')
            continue;
        q++;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (*q != '"')
            return 0;
        size_t n = 0;
        for (q++; *q && *q != '"'; q++) {
            char ch = *q;
            if (ch == '\\' && q[1]) {
                q++;
                ch = *q == 'n' ? ' ' : *q == 't' ? ' ' : *q == 'u' ? '?' : *q;
                if (*q == 'u')
                    for (int i = 0; i < 4 && q[1]; i++)
                        q++;
            }
            if (n + 1 < cap)
                dst[n++] = ch;
        }
        dst[n] = '\0';
        return 1;
    }
    return 0;
}

static int xml_text(const char *body, size_t len, const char *tag, char *dst, size_t cap)
{
    const char *inner;
    size_t ilen;
    char *txt = NULL;
    if (!tp_aws_xml_find(body, body + len, tag, &inner, &ilen))
        return 0;
    if (tp_aws_xml_unescape(inner, ilen, &txt) != 0)
        return 0;
    snprintf(dst, cap, "%s", txt);
    free(txt);
    return 1;
}

static void parse_error(tp_aws_response *r, const char *error_type)
{
    char tmp[sizeof r->error_code];
    r->error_code[0] = '\0';
    r->error_message[0] = '\0';
    if (r->body && r->body_len > 0) {
        if (json_string_field(r->body, "__type", tmp, sizeof tmp) ||
            json_string_field(r->body, "code", tmp, sizeof tmp)) {
            const char *hash = strrchr(tmp, '#');
            snprintf(r->error_code, sizeof r->error_code, "%s", hash ? hash + 1 : tmp);
            if (!json_string_field(r->body, "message", r->error_message, sizeof r->error_message))
                json_string_field(r->body, "Message", r->error_message, sizeof r->error_message);
        } else if (xml_text(r->body, r->body_len, "Code", r->error_code, sizeof r->error_code)) {
            xml_text(r->body, r->body_len, "Message", r->error_message, sizeof r->error_message);
        }
    }
    if (!r->error_code[0] && error_type[0])
        snprintf(r->error_code, sizeof r->error_code, "%s", error_type);
    /* Some codes arrive with a trailing ":http://internal.amazon.com/..." — keep the name only. */
    char *colon = strchr(r->error_code, ':');
    if (colon)
        *colon = '\0';
}

static int sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return TP_ENOMEM;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int append_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line)
        return TP_ENOMEM;
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *nl = curl_slist_append(*list, line);
    free(line);
    if (!nl)
        return TP_ENOMEM;
    *list = nl;
    return 0;
}

static void request_clear(tp_aws_client *c)
{
    curl_slist_free_all(c->hl);
    free(c->url);
    c->hl = NULL;
    c->url = NULL;
    c->busy = 0;
}

int tp_aws_request_start(tp_aws_client *c, const char *method, const char *path_and_query,
                         const tp_aws_header *headers, size_t nheaders, const void *body, size_t body_len,
                         tp_aws_response *res, char *err, size_t errlen)
{
    int rc = 0;
    char payload_hash[65];

    if (!c || c->busy || !method || !path_and_query || path_and_query[0] != '/' || !res || (nheaders && !headers) ||
        (body_len && !body))
        return tp_errf(err, errlen, TP_EINVAL, "tp_aws_request: bad arguments");
    memset(res, 0, sizeof *res);
    memset(&c->cp, 0, sizeof c->cp);
    c->cp.res = res;
    c->busy = 1;
    c->method = method;
    c->path = path_and_query;

    size_t ulen = strlen(c->endpoint) + strlen(path_and_query) + 1;
    c->url = malloc(ulen);
    if (!c->url) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(c->url, ulen, "%s%s", c->endpoint, path_and_query);

    rc = sha256_hex(body, body_len, payload_hash);
    if (rc == 0)
        rc = append_header(&c->hl, "x-amz-content-sha256", payload_hash);
    if (rc == 0 && c->cfg.session_token[0])
        rc = append_header(&c->hl, "x-amz-security-token", c->cfg.session_token);
    int has_ctype = 0;
    for (size_t i = 0; rc == 0 && i < nheaders; i++) {
        if (!headers[i].name || !headers[i].value || !headers[i].value[0]) {
            /* An empty value would make curl remove the header yet still sign it (curl#11664). */
            rc = tp_errf(err, errlen, TP_EINVAL, "tp_aws_request: header %zu has no name or value", i);
            goto out;
        }
        if (strcasecmp(headers[i].name, "Content-Type") == 0)
            has_ctype = 1;
        rc = append_header(&c->hl, headers[i].name, headers[i].value);
    }
    int sends_body = body_len > 0 || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
    if (rc == 0 && sends_body && !has_ctype)
        rc = append_header(&c->hl, "Content-Type", "application/octet-stream");
    if (rc != 0) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory building headers");
        goto out;
    }

    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connection cache, so the next request reuses the socket */
    CURLcode cc = CURLE_OK;
#define SETOPT(opt, val)                                 \
    do {                                                 \
        if (cc == CURLE_OK)                              \
            cc = curl_easy_setopt(h, opt, val);          \
    } while (0)
    SETOPT(CURLOPT_URL, c->url);
    /* S3 keys are literal: without this curl drops "/./" and "/x/../" from the path and the
     * request (signed and sent alike) names a different object than the caller asked for. */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, c->cfg.request_timeout_ms);
    SETOPT(CURLOPT_AWS_SIGV4, c->sigv4);
    SETOPT(CURLOPT_USERNAME, c->cfg.access_key);
    SETOPT(CURLOPT_PASSWORD, c->cfg.secret_key);
    SETOPT(CURLOPT_HTTPHEADER, c->hl);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &c->cp);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, &c->cp);
    if (sends_body) {
        /* curl sends "Expect: 100-continue" for bodies over 1 MiB and then waits a second for an
         * interim answer kinesis-local never gives. Removing the header with "Expect:" would get it
         * signed but not sent (curl#11664), so send the body without waiting instead. */
        SETOPT(CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        SETOPT(CURLOPT_POSTFIELDS, body_len ? (const char *)body : "");
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SETOPT
    if (cc != CURLE_OK)
        rc = tp_errf(err, errlen, cc == CURLE_OUT_OF_MEMORY ? TP_ENOMEM : TP_EINTERNAL, "curl setup: %s",
                     curl_easy_strerror(cc));
out:
    if (rc != 0) {
        tp_aws_response_free(res);
        res->status = 0;
        request_clear(c);
    }
    return rc;
}

void *tp_aws_client_easy(tp_aws_client *c) { return c ? c->curl : NULL; }

int tp_aws_request_finish(tp_aws_client *c, int curl_result, char *err, size_t errlen)
{
    int rc = 0;
    if (!c || !c->busy)
        return tp_errf(err, errlen, TP_EINVAL, "tp_aws_request_finish: no request started");
    tp_aws_response *res = c->cp.res;
    CURLcode cc = (CURLcode)curl_result;
    if (c->cp.oom) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory reading response");
        goto out;
    }
    if (c->cp.too_big) {
        rc = tp_errf(err, errlen, TP_ETOOBIG, "response body over %zu bytes", TP_AWS_MAX_BODY);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = tp_errf(err, errlen, cc == CURLE_OPERATION_TIMEDOUT ? TP_ETIMEDOUT : TP_EUNAVAIL, "%s %s %s: %s",
                     c->service, c->method, c->endpoint, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
    if (!res->body) {
        res->body = malloc(1);
        if (!res->body) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory");
            goto out;
        }
        res->body[0] = '\0';
    }
    if (res->status >= 300)
        parse_error(res, c->cp.error_type);
    if (tp_log_enabled(TP_LOG_DEBUG)) {
        char st[16];
        snprintf(st, sizeof st, "%ld", res->status);
        tp_log_debug("aws request", "service", c->service, "method", c->method, "path", c->path, "status", st,
                     "aws_request_id", res->request_id, "error_code", res->error_code[0] ? res->error_code : NULL);
    }
out:
    if (rc != 0) {
        tp_aws_response_free(res);
        res->status = 0;
    }
    request_clear(c);
    return rc;
}

int tp_aws_request(tp_aws_client *c, const char *method, const char *path_and_query, const tp_aws_header *headers,
                   size_t nheaders, const void *body, size_t body_len, tp_aws_response *res, char *err, size_t errlen)
{
    int rc = tp_aws_request_start(c, method, path_and_query, headers, nheaders, body, body_len, res, err, errlen);
    if (rc != 0)
        return rc;
    return tp_aws_request_finish(c, (int)curl_easy_perform(c->curl), err, errlen);
}

/* --- classification --- */

struct code_class {
    const char *name; /* without any "Exception" suffix */
    int err;
};

static const struct code_class code_classes[] = {
    {"ProvisionedThroughputExceeded", TP_ETHROTTLED},
    {"LimitExceeded", TP_ETHROTTLED},
    {"Throttling", TP_ETHROTTLED},
    {"Throttled", TP_ETHROTTLED},
    {"KMSThrottling", TP_ETHROTTLED},
    {"TooManyRequests", TP_ETHROTTLED},
    {"RequestLimitExceeded", TP_ETHROTTLED},
    {"SlowDown", TP_ETHROTTLED},
    {"InternalFailure", TP_EUNAVAIL},
    {"InternalError", TP_EUNAVAIL},
    {"InternalServerError", TP_EUNAVAIL},
    {"ServiceUnavailable", TP_EUNAVAIL},
    {"ServiceFailure", TP_EUNAVAIL},
    {"ResourceNotFound", TP_ENOTFOUND},
    {"NoSuchBucket", TP_ENOTFOUND},
    {"NoSuchKey", TP_ENOTFOUND},
    {"NotFound", TP_ENOTFOUND},
    {"KMSNotFound", TP_ENOTFOUND},
    {"ResourceInUse", TP_EEXIST},
    {"BucketAlreadyExists", TP_EEXIST},
    {"BucketAlreadyOwnedByYou", TP_EEXIST},
    {"ExpiredIterator", TP_ETIMEDOUT},
    {"ExpiredNextToken", TP_ETIMEDOUT},
    {"RequestTimeout", TP_ETIMEDOUT},
    {"Validation", TP_EINVAL},
    {"InvalidArgument", TP_EINVAL},
    {"InvalidParameterValue", TP_EINVAL},
    {"Serialization", TP_EINVAL},
    {"MalformedXML", TP_EINVAL},
    {"InvalidBucketName", TP_EINVAL},
    {"KeyTooLongError", TP_ETOOBIG},
    {"EntityTooLarge", TP_ETOOBIG},
    {"UnrecognizedClient", TP_EAUTH},
    {"InvalidSignature", TP_EAUTH},
    {"IncompleteSignature", TP_EAUTH},
    {"MissingAuthenticationToken", TP_EAUTH},
    {"InvalidClientTokenId", TP_EAUTH},
    {"SignatureDoesNotMatch", TP_EAUTH},
    {"InvalidAccessKeyId", TP_EAUTH},
    {"ExpiredToken", TP_EAUTH},
    {"AuthFailure", TP_EAUTH},
    {"AccessDenied", TP_EFORBIDDEN},
    {"KMSAccessDenied", TP_EFORBIDDEN},
    {"KMSDisabled", TP_EFORBIDDEN},
    {"KMSInvalidState", TP_EFORBIDDEN},
    {"KMSOptInRequired", TP_EFORBIDDEN},
};

int tp_aws_classify(long status, const char *error_code)
{
    if (status >= 200 && status < 300)
        return 0;
    if (error_code && *error_code) {
        size_t n = strlen(error_code);
        static const char sfx[] = "Exception";
        if (n > sizeof sfx - 1 && strcmp(error_code + n - (sizeof sfx - 1), sfx) == 0)
            n -= sizeof sfx - 1;
        for (size_t i = 0; i < sizeof code_classes / sizeof code_classes[0]; i++) {
            const char *nm = code_classes[i].name;
            if (strlen(nm) == n && strncmp(nm, error_code, n) == 0)
                return code_classes[i].err;
        }
    }
    if (status == 429)
        return TP_ETHROTTLED;
    if (status >= 500)
        return TP_EUNAVAIL;
    switch (status) {
    case 401:
        return TP_EAUTH;
    case 403:
        return TP_EFORBIDDEN;
    case 404:
        return TP_ENOTFOUND;
    case 408:
        return TP_ETIMEDOUT;
    case 409:
        return TP_ECONFLICT;
    case 413:
        return TP_ETOOBIG;
    default:
        break;
    }
    if (status >= 400)
        return TP_EINVAL;
    return TP_EPROTO; /* no response, a redirect, or an unknown code without a status */
}

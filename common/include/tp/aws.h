/* aws.h — AWS configuration and SigV4-signed HTTP requests over libcurl.
 *
 * Configuration comes from the standard variables: AWS_REGION (or AWS_DEFAULT_REGION),
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, and per-service endpoints
 * AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (then
 * AWS_ENDPOINT_URL), falling back to the real https://<service>.<region>.amazonaws.com.
 * Signing is libcurl's CURLOPT_AWS_SIGV4; this module adds what curl 7.88 leaves out
 * (x-amz-content-sha256, sorted/encoded query, the session-token header).
 *
 * A tp_aws_client wraps one curl easy handle (connection reuse) and is NOT thread-safe: use
 * one per thread. Responses are owned by the caller (tp_aws_response_free). */
#ifndef TP_AWS_H
#define TP_AWS_H

#include <stddef.h>

#include "tp/err.h"

typedef struct tp_aws_config {
    char region[64];
    char access_key[128];
    char secret_key[128];
    char session_token[2048]; /* "" when not set */
    char endpoint_kinesis[512];
    char endpoint_s3[512];
    char endpoint_sagemaker[512];
    long connect_timeout_ms; /* default 2000 */
    long request_timeout_ms; /* default 10000 */
} tp_aws_config;

/* Process-wide libcurl set-up/tear-down: call once from main before any thread starts
 * (curl_global_init is not guaranteed thread-safe on every build). */
int tp_aws_global_init(void) TP_MUSTCHECK;
void tp_aws_global_cleanup(void);

/* Read the environment. TP_EINVAL naming the variable when something required is missing. */
int tp_aws_config_from_env(tp_aws_config *cfg, char *err, size_t errlen) TP_MUSTCHECK;

typedef struct tp_aws_client tp_aws_client;

/* service: "kinesis", "s3", "sagemaker" — the SigV4 service name. */
int tp_aws_client_new(const tp_aws_config *cfg, const char *service, tp_aws_client **out) TP_MUSTCHECK;
void tp_aws_client_free(tp_aws_client *c); /* NULL-safe */

typedef struct tp_aws_header {
    const char *name;
    const char *value;
} tp_aws_header;

typedef struct tp_aws_response {
    long status;     /* HTTP status, 0 when no response arrived */
    char *body;      /* NUL-terminated, malloc'd */
    size_t body_len;
    char request_id[128];
    char error_code[128]; /* parsed AWS error code ("ProvisionedThroughputExceededException"), "" if none */
    char error_message[512];
} tp_aws_response;

/* Send one signed request. path_and_query must already have a sorted, RFC 3986-encoded query.
 * Returns 0 when an HTTP response arrived (any status; inspect res->status), a retryable
 * TP_EUNAVAIL / TP_ETIMEDOUT on transport failure. Borrows everything; fills *res. */
int tp_aws_request(tp_aws_client *c, const char *method, const char *path_and_query, const tp_aws_header *headers,
                   size_t nheaders, const void *body, size_t body_len, tp_aws_response *res, char *err,
                   size_t errlen) TP_MUSTCHECK;
void tp_aws_response_free(tp_aws_response *res); /* frees body, NULL-safe, leaves struct reusable */

/* The same request in two halves, for callers that drive libcurl themselves (a curl multi handle
 * in an event loop): start prepares the client's easy handle (tp_aws_client_easy; add it to the
 * multi), and once curl reports it done, finish takes curl's result code and fills the res given
 * to start, with the same returns as tp_aws_request. body and res must stay valid until finish;
 * one request per client at a time. */
int tp_aws_request_start(tp_aws_client *c, const char *method, const char *path_and_query,
                         const tp_aws_header *headers, size_t nheaders, const void *body, size_t body_len,
                         tp_aws_response *res, char *err, size_t errlen) TP_MUSTCHECK;
int tp_aws_request_finish(tp_aws_client *c, int curl_result, char *err, size_t errlen) TP_MUSTCHECK;
void *tp_aws_client_easy(tp_aws_client *c);       /* CURL *, owned by the client */

/* Map an AWS error code / HTTP status to a TP_E* code (throttling → TP_ETHROTTLED, 5xx →
 * TP_EUNAVAIL, ResourceNotFound → TP_ENOTFOUND, ...). Decided here from the parsed code,
 * never from message text. */
int tp_aws_classify(long status, const char *error_code);

/* RFC 3986 percent-encoding of s into out (unreserved kept; '/' kept if keep_slash).
 * TP_ETOOBIG when out (cap bytes, including the NUL) is too small. */
int tp_aws_uri_encode(const char *s, int keep_slash, char *out, size_t cap) TP_MUSTCHECK;

/* --- wire helpers shared by the service clients (added by B) --- */

/* Standard base64 (RFC 4648, padded, no line breaks). *out is malloc'd and NUL-terminated
 * (caller frees); *outlen excludes the NUL. */
int tp_aws_base64_encode(const void *data, size_t len, char **out, size_t *outlen) TP_MUSTCHECK;
/* Strict decode: padding required to a multiple of 4, no whitespace; TP_ECORRUPT otherwise.
 * *out is malloc'd with a NUL after the bytes (caller frees). */
int tp_aws_base64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen) TP_MUSTCHECK;

/* Find the first <tag>...</tag> (no attributes expected) in [p, end). Returns a pointer just past
 * the closing tag and sets *inner and *inner_len to the raw text between (borrowed), or NULL if absent.
 * Enough for the flat documents S3 answers with; not a general XML parser. */
const char *tp_aws_xml_find(const char *p, const char *end, const char *tag, const char **inner,
                            size_t *inner_len);
/* Resolve XML entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;) into a malloc'd string
 * (caller frees). TP_ECORRUPT on a malformed entity. */
int tp_aws_xml_unescape(const char *s, size_t len, char **out) TP_MUSTCHECK;

#endif

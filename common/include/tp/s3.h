/* s3.h — an S3 client (REST, path-style addressing, SigV4 via tp_aws).
 *
 * Path-style (endpoint/bucket/key) works with s3rver and with real S3 endpoints given in
 * AWS_ENDPOINT_URL_S3. One tp_aws_client inside: NOT thread-safe, one per thread. */
#ifndef TP_S3_H
#define TP_S3_H

#include <stddef.h>
#include <stdint.h>

#include "tp/aws.h"
#include "tp/err.h"

typedef struct tp_s3 tp_s3;

int tp_s3_new(const tp_aws_config *cfg, tp_s3 **out) TP_MUSTCHECK;
void tp_s3_free(tp_s3 *s); /* NULL-safe */

/* CreateBucket; an existing bucket owned by us is success. */
int tp_s3_create_bucket(tp_s3 *s, const char *bucket, char *err, size_t errlen) TP_MUSTCHECK;
/* PutObject with Content-Type and optional Content-Encoding (NULL for none). Borrows body. */
int tp_s3_put_object(tp_s3 *s, const char *bucket, const char *key, const void *body, size_t len,
                     const char *content_type, const char *content_encoding, char *err, size_t errlen) TP_MUSTCHECK;
/* GetObject: *body malloc'd (caller frees). TP_ENOTFOUND when absent. */
int tp_s3_get_object(tp_s3 *s, const char *bucket, const char *key, char **body, size_t *len, char *err,
                     size_t errlen) TP_MUSTCHECK;

typedef struct tp_s3_object {
    char *key; /* malloc'd */
    int64_t size;
} tp_s3_object;

typedef struct tp_s3_listing {
    tp_s3_object *objects;
    size_t n;
} tp_s3_listing;

/* ListObjectsV2 under prefix (may be ""), following continuation tokens. */
int tp_s3_list(tp_s3 *s, const char *bucket, const char *prefix, tp_s3_listing *out, char *err,
               size_t errlen) TP_MUSTCHECK;
void tp_s3_listing_free(tp_s3_listing *l); /* NULL-safe */

/* --- added by B --- */
/* tp_s3_list with max-keys = page_size (1..1000) per ListObjectsV2 call. */
int tp_s3_list_paged(tp_s3 *s, const char *bucket, const char *prefix, int page_size, tp_s3_listing *out,
                     char *err, size_t errlen) TP_MUSTCHECK;
/* DeleteObject (absent keys are success, as in S3) and DeleteBucket (must be empty). */
int tp_s3_delete_object(tp_s3 *s, const char *bucket, const char *key, char *err, size_t errlen) TP_MUSTCHECK;
int tp_s3_delete_bucket(tp_s3 *s, const char *bucket, char *err, size_t errlen) TP_MUSTCHECK;

#endif

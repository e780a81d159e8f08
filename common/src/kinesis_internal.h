/* kinesis_internal.h — what kinesis.c and kinesis_data.c share; not part of the public API. */
#ifndef TP_KINESIS_INTERNAL_H
#define TP_KINESIS_INTERNAL_H

#include <jansson.h>

#include "tp/kinesis.h"

struct tp_kinesis {
    tp_aws_client *aws;
    /* An asynchronous PutRecords between start and finish (kinesis_data.c). */
    char *put_body;
    size_t put_n;
    tp_aws_response put_res;
};

/* One JSON 1.1 call: POST / with X-Amz-Target Kinesis_20131202.<op>. Borrows req. On success
 * *resp is the parsed response object (caller json_decref's); on an AWS error returns the code
 * tp_aws_classify gives and names op, the error code and message in err. */
int tp_kinesis__call(tp_kinesis *k, const char *op, json_t *req, json_t **resp, char *err, size_t errlen);

/* The same call with the request body already serialized (body borrowed, len bytes). */
int tp_kinesis__call_body(tp_kinesis *k, const char *op, const char *body, size_t len, json_t **resp, char *err,
                          size_t errlen);

/* The parsed answer of a call whose HTTP exchange is done (res filled): the same results as
 * tp_kinesis__call_body. */
int tp_kinesis__answer(const char *op, const tp_aws_response *res, json_t **resp, char *err, size_t errlen);

/* Standard padded base64 of data into out (room for (len + 2) / 3 * 4 bytes, no NUL written);
 * returns the length. Defined in aws_codec.c next to tp_aws_base64_encode. */
size_t tp_aws__base64_encode_to(const void *data, size_t len, char *out);

/* A string member, or NULL when absent, null or not a string (kinesis-mock sends nulls). */
const char *tp_kinesis__str(const json_t *obj, const char *key);

/* Copy a string member into dst ("" when absent); TP_EPROTO if it does not fit. */
int tp_kinesis__copy(const json_t *obj, const char *key, char *dst, size_t cap);

#endif

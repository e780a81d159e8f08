/* kinesis_internal.h — what kinesis.c and kinesis_data.c share; not part of the public API. */
#ifndef TP_KINESIS_INTERNAL_H
#define TP_KINESIS_INTERNAL_H

#include <jansson.h>

#include "tp/kinesis.h"

struct tp_kinesis {
    tp_aws_client *aws;
};

/* One JSON 1.1 call: POST / with X-Amz-Target Kinesis_20131202.<op>. Borrows req. On success
 * *resp is the parsed response object (caller json_decref's); on an AWS error returns the code
 * tp_aws_classify gives and names op, the error code and message in err. */
int tp_kinesis__call(tp_kinesis *k, const char *op, json_t *req, json_t **resp, char *err, size_t errlen);

/* A string member, or NULL when absent, null or not a string (kinesis-mock sends nulls). */
const char *tp_kinesis__str(const json_t *obj, const char *key);

/* Copy a string member into dst ("" when absent); TP_EPROTO if it does not fit. */
int tp_kinesis__copy(const json_t *obj, const char *key, char *dst, size_t cap);

#endif

/* pgarr.h — PostgreSQL array literals ("{...}" text) to pass whole batches as one parameter.
 *
 * The rollup sends a batch as a few statements over unnest($n::type[]) instead of one
 * statement per row. Elements are always double-quoted and escaped, so any text is safe as a
 * parameter value (the SQL text itself never contains data). Errors are sticky, PgBouncer's
 * pktbuf style: add freely, check tp_pgarr_finish once. Owns its buffer. */
#ifndef TP_PGARR_H
#define TP_PGARR_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

typedef struct tp_pgarr {
    char *buf;
    size_t len, cap;
    size_t n;   /* elements added */
    int failed; /* sticky TP_ENOMEM */
} tp_pgarr;

void tp_pgarr_init(tp_pgarr *a);  /* empty, no allocation */
void tp_pgarr_reset(tp_pgarr *a); /* empty again, keeps memory */
void tp_pgarr_free(tp_pgarr *a);  /* NULL-safe */
void tp_pgarr_add_str(tp_pgarr *a, const char *s);
void tp_pgarr_add_strn(tp_pgarr *a, const char *s, size_t len);
void tp_pgarr_add_i64(tp_pgarr *a, int64_t v);
void tp_pgarr_add_null(tp_pgarr *a);
/* A timestamp (UTC ms since the epoch) as RFC 3339 text with milliseconds. */
void tp_pgarr_add_ts(tp_pgarr *a, int64_t ms);
/* A timestamp, or NULL when has is 0. */
void tp_pgarr_add_ts_opt(tp_pgarr *a, int has, int64_t ms);
/* A UTC date, days since 1970-01-01, as YYYY-MM-DD. */
void tp_pgarr_add_date(tp_pgarr *a, int64_t day);
void tp_pgarr_add_double(tp_pgarr *a, double v);

/* The literal, NUL-terminated and valid until the next add/reset/free; TP_ENOMEM if any add
 * failed. */
int tp_pgarr_finish(tp_pgarr *a, const char **out) TP_MUSTCHECK;

#endif

/* params.h — strict parsing and validation of the query-api's request parameters.
 *
 * Everything a client can put in a URL passes through here before it reaches SQL (where it is
 * still only ever a bound parameter): the query arguments as a whole (unknown names, repeats,
 * bad bytes), times (RFC 3339 UTC or a date), granularities, time ranges with their caps,
 * windows ("7d", "24h") anchored at an optional `to`, limits, sort specs, enumerations and
 * tenant ids. A failure returns TP_EINVAL and fills a tp_query_perr naming the parameter and
 * saying what is allowed, which the routes turn into the project's 400 body. Pure functions:
 * no I/O, no clock (callers pass now), no allocation. Strings in tp_query_args are borrowed. */
#ifndef TP_QUERY_PARAMS_H
#define TP_QUERY_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

#define TP_QUERY_MS_HOUR 3600000LL
#define TP_QUERY_MS_DAY 86400000LL
#define TP_QUERY_MAX_ARGS 32
#define TP_QUERY_MAX_VALUE 256 /* bytes in one query value */

/* Why a parameter was rejected. field is the parameter's name (sanitised to printable ASCII). */
typedef struct tp_query_perr {
    char field[64];
    char message[256];
} tp_query_perr;

/* Fill e and return TP_EINVAL. */
int tp_query_fail(tp_query_perr *e, const char *field, const char *fmt, ...) TP_PRINTF(3, 4);

/* --- the query string as a whole --- */
typedef struct tp_query_args {
    size_t n;
    int overflow; /* more than TP_QUERY_MAX_ARGS were given */
    struct {
        const char *key;
        const char *val;
    } kv[TP_QUERY_MAX_ARGS];
} tp_query_args;

/* Borrows k and v (they must outlive the args). v NULL is stored as "". */
void tp_query_args_add(tp_query_args *a, const char *k, const char *v);
/* The value of key, or NULL when absent. */
const char *tp_query_args_get(const tp_query_args *a, const char *key);
/* Reject too many arguments, names not in allowed (NULL-terminated), names given twice, and
 * values that are longer than TP_QUERY_MAX_VALUE, not UTF-8 or hold control characters. */
int tp_query_args_check(const tp_query_args *a, const char *const *allowed, tp_query_perr *e) TP_MUSTCHECK;

/* --- times --- */
/* "2026-01-01", "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.250+02:00" → ms since the epoch (UTC).
 * Years 1970..2199. TP_EINVAL for anything else (including lower-case t/z, missing seconds). */
int tp_query_time_parse(const char *s, int64_t *ms) TP_MUSTCHECK;
/* RFC 3339 UTC: "2026-01-01T10:00:00Z", with ".mmm" only when the milliseconds are not zero. */
void tp_query_time_format(int64_t ms, char out[32]);
/* The UTC date of ms: "2026-01-01". */
void tp_query_date_format(int64_t ms, char out[16]);
int64_t tp_query_floor(int64_t ms, int64_t step);
int64_t tp_query_ceil(int64_t ms, int64_t step);

/* --- granularity and ranges --- */
typedef enum { TP_QUERY_HOUR = 0, TP_QUERY_DAY = 1 } tp_query_gran;
#define TP_QUERY_GRAN_BIT(g) (1u << (g))

const char *tp_query_gran_name(tp_query_gran g); /* "hour" | "day" */
int64_t tp_query_gran_ms(tp_query_gran g);

typedef struct tp_query_range_opts {
    int64_t now_ms;
    unsigned grans;          /* allowed granularities (TP_QUERY_GRAN_BIT) */
    tp_query_gran def_gran;  /* when granularity is absent */
    int max_hour_days;       /* cap on to - from for hour granularity */
    int max_day_days;        /* cap for day granularity */
} tp_query_range_opts;

typedef struct tp_query_range {
    tp_query_gran gran;
    int64_t from_ms; /* inclusive, aligned to the period */
    int64_t to_ms;   /* exclusive, aligned */
    int64_t periods;
} tp_query_range;

/* Reads granularity, from and to. Defaults: to = now rounded up to the next period boundary,
 * from = to minus 7 days (hour) or 30 days (day). from is rounded down and to up to whole
 * periods; from must be before to; the span is capped per granularity. */
int tp_query_range_parse(const tp_query_args *a, const tp_query_range_opts *o, tp_query_range *out,
                         tp_query_perr *e) TP_MUSTCHECK;

/* --- windows for insights --- */
typedef struct tp_query_window {
    tp_query_gran unit; /* hours ("24h", 1..744) or days ("7d", 1..365) */
    int count;
    int64_t from_ms;    /* to_ms - count units */
    int64_t to_ms;      /* the anchor `to` (default now) rounded up to the unit */
    char text[16];      /* normalised, e.g. "7d" */
} tp_query_window;

/* Reads window (default def, e.g. "7d") and the optional anchor to. */
int tp_query_window_parse(const tp_query_args *a, const char *def, int64_t now_ms, tp_query_window *out,
                          tp_query_perr *e) TP_MUSTCHECK;

/* --- small values --- */
/* name's value as an integer in [min, max] (digits only, no sign, no leading zero); def when absent. */
int tp_query_int_parse(const tp_query_args *a, const char *name, long def, long min, long max, long *out,
                       tp_query_perr *e) TP_MUSTCHECK;
/* name's value must be one of values (NULL-terminated); *idx = -1 when absent. */
int tp_query_enum_parse(const tp_query_args *a, const char *name, const char *const *values, int *idx,
                        tp_query_perr *e) TP_MUSTCHECK;
/* Free text (already checked for bytes by args_check): 1..maxlen bytes; *out NULL when absent. */
int tp_query_text_parse(const tp_query_args *a, const char *name, size_t maxlen, const char **out,
                        tp_query_perr *e) TP_MUSTCHECK;

typedef struct tp_query_sort_key {
    const char *name;
    int default_desc; /* direction when the spec names no direction */
} tp_query_sort_key;

/* sort=field[:asc|desc] from keys; def (an index into keys) when absent. */
int tp_query_sort_parse(const tp_query_args *a, const tp_query_sort_key *keys, size_t nkeys, size_t def,
                        size_t *idx, int *desc, tp_query_perr *e) TP_MUSTCHECK;

/* 1 if s is a valid id: 1..64 of [A-Za-z0-9._-] (the event catalog's rule). */
int tp_query_id_valid(const char *s);
/* 1 if s is valid UTF-8 without control characters (bytes < 0x20 and 0x7f). */
int tp_query_text_valid(const char *s);
/* 1 if s is valid UTF-8 (control characters allowed). */
int tp_query_utf8_valid(const char *s);

/* 1 if the Accept header prefers text/csv over application/json (q-values honoured; on a tie the
 * type listed first wins); 0 for JSON (also when accept is NULL). */
int tp_query_accept_csv(const char *accept);

#endif

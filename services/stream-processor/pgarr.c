/* pgarr.c — array literal builder (see pgarr.h). */
#include "pgarr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/event.h"

void tp_pgarr_init(tp_pgarr *a) { memset(a, 0, sizeof *a); }

void tp_pgarr_reset(tp_pgarr *a)
{
    a->len = 0;
    a->n = 0;
    a->failed = 0;
}

void tp_pgarr_free(tp_pgarr *a)
{
    if (!a)
        return;
    free(a->buf);
    memset(a, 0, sizeof *a);
}

static int reserve(tp_pgarr *a, size_t more)
{
    if (a->failed)
        return -1;
    /* +3: room for the closing brace and NUL that finish adds, and the opening brace. */
    if (a->len + more + 3 <= a->cap)
        return 0;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more + 3)
        cap *= 2;
    char *b = realloc(a->buf, cap);
    if (!b) {
        a->failed = 1;
        return -1;
    }
    a->buf = b;
    a->cap = cap;
    return 0;
}

/* Open the literal on the first element, else add the separator. */
static int begin_elem(tp_pgarr *a, size_t more)
{
    if (reserve(a, more + 1) != 0)
        return -1;
    a->buf[a->len++] = a->n ? ',' : '{';
    a->n++;
    return 0;
}

void tp_pgarr_add_strn(tp_pgarr *a, const char *s, size_t len)
{
    size_t need = 2;
    for (size_t i = 0; i < len; i++)
        need += (s[i] == '"' || s[i] == '\\') ? 2 : 1;
    if (begin_elem(a, need) != 0)
        return;
    a->buf[a->len++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            a->buf[a->len++] = '\\';
        a->buf[a->len++] = s[i];
    }
    a->buf[a->len++] = '"';
}

void tp_pgarr_add_str(tp_pgarr *a, const char *s) { tp_pgarr_add_strn(a, s, strlen(s)); }

static void add_raw(tp_pgarr *a, const char *s)
{
    size_t n = strlen(s);
    if (begin_elem(a, n) != 0)
        return;
    memcpy(a->buf + a->len, s, n);
    a->len += n;
}

void tp_pgarr_add_i64(tp_pgarr *a, int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%" PRId64, v);
    add_raw(a, tmp);
}

void tp_pgarr_add_null(tp_pgarr *a) { add_raw(a, "NULL"); }

void tp_pgarr_add_ts(tp_pgarr *a, int64_t ms)
{
    char tmp[32];
    tp_rfc3339_format(ms, tmp);
    add_raw(a, tmp);
}

void tp_pgarr_add_ts_opt(tp_pgarr *a, int has, int64_t ms)
{
    if (has)
        tp_pgarr_add_ts(a, ms);
    else
        tp_pgarr_add_null(a);
}

void tp_pgarr_add_date(tp_pgarr *a, int64_t day)
{
    char tmp[32];
    tp_rfc3339_format(day * 86400000LL, tmp);
    tmp[10] = '\0'; /* "YYYY-MM-DD" */
    add_raw(a, tmp);
}

void tp_pgarr_add_double(tp_pgarr *a, double v)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.17g", v); /* round-trips exactly through float8 */
    add_raw(a, tmp);
}

int tp_pgarr_finish(tp_pgarr *a, const char **out)
{
    *out = NULL;
    if (a->failed || reserve(a, 0) != 0)
        return TP_ENOMEM;
    if (!a->n) {
        memcpy(a->buf, "{}", 3);
        *out = a->buf;
        return 0;
    }
    a->buf[a->len] = '}';
    a->buf[a->len + 1] = '\0';
    *out = a->buf;
    return 0;
}

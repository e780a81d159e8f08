/* params.c — strict request-parameter parsing for the query-api (see params.h). */
#include "params.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIN_YEAR 1970
#define MAX_YEAR 2199
#define MAX_WINDOW_HOURS 744 /* 31 days: longer windows are asked in days (daily rollups) */
#define MAX_WINDOW_DAYS 365

int tp_query_fail(tp_query_perr *e, const char *field, const char *fmt, ...)
{
    if (!e)
        return TP_EINVAL;
    /* The field may be a name the client made up: keep it printable so it can go into JSON. */
    size_t i = 0;
    for (; field && field[i] && i + 1 < sizeof e->field; i++) {
        unsigned char c = (unsigned char)field[i];
        e->field[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    e->field[i] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return TP_EINVAL;
}

/* ------------------------------------------------------------------ arguments */

void tp_query_args_add(tp_query_args *a, const char *k, const char *v)
{
    if (a->n == TP_QUERY_MAX_ARGS) {
        a->overflow = 1;
        return;
    }
    a->kv[a->n].key = k ? k : "";
    a->kv[a->n].val = v ? v : "";
    a->n++;
}

const char *tp_query_args_get(const tp_query_args *a, const char *key)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->kv[i].key, key) == 0)
            return a->kv[i].val;
    return NULL;
}

static int utf8_check(const char *s, int allow_controls)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if (!allow_controls && (c < 0x20 || c == 0x7f))
                return 0;
            p++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* overlong forms, UTF-16 surrogates and code points past Unicode are not UTF-8 */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        if (!allow_controls && cp >= 0x80 && cp < 0xa0) /* C1 controls */
            return 0;
        p += n + 1;
    }
    return 1;
}

int tp_query_text_valid(const char *s) { return utf8_check(s, 0); }

int tp_query_utf8_valid(const char *s) { return utf8_check(s, 1); }

static void join_names(const char *const *names, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && off + 1 < cap; i++) {
        int w = snprintf(out + off, cap - off, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

int tp_query_args_check(const tp_query_args *a, const char *const *allowed, tp_query_perr *e)
{
    char names[160];
    if (a->overflow)
        return tp_query_fail(e, "query", "too many query parameters (at most %d)", TP_QUERY_MAX_ARGS);
    for (size_t i = 0; i < a->n; i++) {
        const char *k = a->kv[i].key;
        int known = 0;
        for (size_t j = 0; allowed[j]; j++)
            if (strcmp(allowed[j], k) == 0)
                known = 1;
        if (!known) {
            join_names(allowed, names, sizeof names);
            if (!allowed[0])
                return tp_query_fail(e, k, "unknown parameter; this endpoint takes no query parameters");
            return tp_query_fail(e, k, "unknown parameter; allowed: %s", names);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->kv[j].key, k) == 0)
                return tp_query_fail(e, k, "given more than once");
        const char *v = a->kv[i].val;
        if (strlen(v) > TP_QUERY_MAX_VALUE)
            return tp_query_fail(e, k, "value too long (at most %d bytes)", TP_QUERY_MAX_VALUE);
        if (!tp_query_text_valid(v))
            return tp_query_fail(e, k, "value must be UTF-8 text without control characters");
    }
    return 0;
}

/* ------------------------------------------------------------------ times */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Proleptic Gregorian calendar in 400-year eras (March-based years make leap days last). */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

int tp_query_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
    int64_t offset_min = 0;
    if (!s || strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return TP_EINVAL;
    if (y < MIN_YEAR || y > MAX_YEAR || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return TP_EINVAL;
    const char *p = s + 10;
    if (*p) {
        if (p[0] != 'T' || digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) || p[6] != ':' ||
            digits(p + 7, 2, &se))
            return TP_EINVAL;
        if (h > 23 || mi > 59 || se > 59)
            return TP_EINVAL;
        p += 9;
        if (*p == '.') {
            int nd = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, nd++)
                if (nd < 3)
                    frac = frac * 10 + (*p - '0');
            if (nd == 0 || nd > 9)
                return TP_EINVAL;
            for (; nd < 3; nd++)
                frac *= 10;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
                return TP_EINVAL;
            offset_min = (*p == '-' ? -1 : 1) * (int64_t)(oh * 60 + om);
            p += 6;
        } else {
            return TP_EINVAL;
        }
        if (*p)
            return TP_EINVAL;
    }
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    *ms = secs * 1000 + frac;
    return 0;
}

void tp_query_time_format(int64_t ms, char out[32])
{
    int64_t secs = tp_query_floor(ms, 1000) / 1000;
    int64_t days = tp_query_floor(secs, 86400) / 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* Bounded values (the modulos are no-ops for real dates) keep every field's width known. */
    unsigned yy = (unsigned)y % 10000u, msec = (unsigned)(ms - secs * 1000) % 1000u;
    unsigned sod = (unsigned)(secs - days * 86400) % 86400u;
    unsigned hh = sod / 3600u, mi = sod / 60u % 60u, ss = sod % 60u;
    if (msec)
        snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", yy, m % 100u, d % 100u, hh, mi, ss, msec);
    else
        snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", yy, m % 100u, d % 100u, hh, mi, ss);
}

void tp_query_date_format(int64_t ms, char out[16])
{
    int y;
    unsigned m, d;
    civil_from_days(tp_query_floor(ms, TP_QUERY_MS_DAY) / TP_QUERY_MS_DAY, &y, &m, &d);
    snprintf(out, 16, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
}

int64_t tp_query_floor(int64_t ms, int64_t step)
{
    int64_t r = ms % step;
    return r < 0 ? ms - r - step : ms - r;
}

int64_t tp_query_ceil(int64_t ms, int64_t step)
{
    int64_t f = tp_query_floor(ms, step);
    return f == ms ? ms : f + step;
}

/* ------------------------------------------------------------------ ranges */

const char *tp_query_gran_name(tp_query_gran g) { return g == TP_QUERY_HOUR ? "hour" : "day"; }

int64_t tp_query_gran_ms(tp_query_gran g) { return g == TP_QUERY_HOUR ? TP_QUERY_MS_HOUR : TP_QUERY_MS_DAY; }

static const char time_help[] = "must be an RFC 3339 UTC time like 2026-01-01T00:00:00Z or a date like 2026-01-01";

static int time_arg(const tp_query_args *a, const char *name, int *given, int64_t *ms, tp_query_perr *e)
{
    const char *v = tp_query_args_get(a, name);
    *given = v != NULL;
    if (!v)
        return 0;
    if (!*v)
        return tp_query_fail(e, name, "must not be empty; %s", time_help);
    if (tp_query_time_parse(v, ms))
        return tp_query_fail(e, name, "%s (years %d..%d)", time_help, MIN_YEAR, MAX_YEAR);
    return 0;
}

int tp_query_range_parse(const tp_query_args *a, const tp_query_range_opts *o, tp_query_range *out,
                         tp_query_perr *e)
{
    tp_query_gran g = o->def_gran;
    const char *gs = tp_query_args_get(a, "granularity");
    if (gs) {
        int ok_hour = strcmp(gs, "hour") == 0 && (o->grans & TP_QUERY_GRAN_BIT(TP_QUERY_HOUR));
        int ok_day = strcmp(gs, "day") == 0 && (o->grans & TP_QUERY_GRAN_BIT(TP_QUERY_DAY));
        if (!ok_hour && !ok_day) {
            if (o->grans == TP_QUERY_GRAN_BIT(TP_QUERY_DAY))
                return tp_query_fail(e, "granularity", "must be day");
            if (o->grans == TP_QUERY_GRAN_BIT(TP_QUERY_HOUR))
                return tp_query_fail(e, "granularity", "must be hour");
            return tp_query_fail(e, "granularity", "must be one of: hour, day");
        }
        g = ok_hour ? TP_QUERY_HOUR : TP_QUERY_DAY;
    }
    int64_t step = tp_query_gran_ms(g);
    int cap_days = g == TP_QUERY_HOUR ? o->max_hour_days : o->max_day_days;
    int64_t cap = cap_days * TP_QUERY_MS_DAY;
    int64_t def_span = (g == TP_QUERY_HOUR ? 7 : 30) * TP_QUERY_MS_DAY;
    if (def_span > cap)
        def_span = cap;

    int has_from, has_to;
    int64_t from = 0, to = 0;
    if (time_arg(a, "from", &has_from, &from, e) || time_arg(a, "to", &has_to, &to, e))
        return TP_EINVAL;
    to = tp_query_ceil(has_to ? to : o->now_ms, step);
    from = has_from ? tp_query_floor(from, step) : to - def_span;
    if (from >= to) {
        if (has_to)
            return tp_query_fail(e, "to", "must be after from");
        return tp_query_fail(e, "from", "must be before to (to defaults to now)");
    }
    if (to - from > cap)
        return tp_query_fail(e, has_to && has_from ? "to" : "from",
                             "the range spans more than %d days, the cap for granularity=%s", cap_days,
                             tp_query_gran_name(g));
    out->gran = g;
    out->from_ms = from;
    out->to_ms = to;
    out->periods = (to - from) / step;
    return 0;
}

/* ------------------------------------------------------------------ windows */

int tp_query_window_parse(const tp_query_args *a, const char *def, int64_t now_ms, tp_query_window *out,
                          tp_query_perr *e)
{
    const char *w = tp_query_args_get(a, "window");
    if (!w)
        w = def;
    size_t n = strlen(w);
    int count = 0;
    if (n < 2 || n > 5 || w[0] < '1' || w[0] > '9' || digits(w, (int)n - 1, &count) ||
        (w[n - 1] != 'h' && w[n - 1] != 'd'))
        return tp_query_fail(e, "window", "must be a number of hours or days like 24h or 7d (1h..%dh, 1d..%dd)",
                             MAX_WINDOW_HOURS, MAX_WINDOW_DAYS);
    tp_query_gran unit = w[n - 1] == 'h' ? TP_QUERY_HOUR : TP_QUERY_DAY;
    if ((unit == TP_QUERY_HOUR && count > MAX_WINDOW_HOURS) || (unit == TP_QUERY_DAY && count > MAX_WINDOW_DAYS))
        return tp_query_fail(e, "window", "out of range: at most %dh (use days for longer windows) or %dd",
                             MAX_WINDOW_HOURS, MAX_WINDOW_DAYS);
    int has_to;
    int64_t to = 0;
    if (time_arg(a, "to", &has_to, &to, e))
        return TP_EINVAL;
    int64_t step = tp_query_gran_ms(unit);
    out->unit = unit;
    out->count = count;
    out->to_ms = tp_query_ceil(has_to ? to : now_ms, step);
    out->from_ms = out->to_ms - count * step;
    snprintf(out->text, sizeof out->text, "%d%c", count, unit == TP_QUERY_HOUR ? 'h' : 'd');
    return 0;
}

/* ------------------------------------------------------------------ small values */

int tp_query_int_parse(const tp_query_args *a, const char *name, long def, long min, long max, long *out,
                       tp_query_perr *e)
{
    const char *v = tp_query_args_get(a, name);
    if (!v) {
        *out = def;
        return 0;
    }
    size_t n = strlen(v);
    int x = 0;
    if (n == 0 || n > 9 || (n > 1 && v[0] == '0') || digits(v, (int)n, &x))
        return tp_query_fail(e, name, "must be an integer from %ld to %ld", min, max);
    if (x < min || x > max)
        return tp_query_fail(e, name, "out of range: must be from %ld to %ld", min, max);
    *out = x;
    return 0;
}

int tp_query_enum_parse(const tp_query_args *a, const char *name, const char *const *values, int *idx,
                        tp_query_perr *e)
{
    const char *v = tp_query_args_get(a, name);
    *idx = -1;
    if (!v)
        return 0;
    for (int i = 0; values[i]; i++) {
        if (strcmp(values[i], v) == 0) {
            *idx = i;
            return 0;
        }
    }
    char names[160];
    join_names(values, names, sizeof names);
    return tp_query_fail(e, name, "must be one of: %s", names);
}

int tp_query_text_parse(const tp_query_args *a, const char *name, size_t maxlen, const char **out,
                        tp_query_perr *e)
{
    const char *v = tp_query_args_get(a, name);
    *out = NULL;
    if (!v)
        return 0;
    if (!*v)
        return tp_query_fail(e, name, "must not be empty");
    if (strlen(v) > maxlen)
        return tp_query_fail(e, name, "too long (at most %zu bytes)", maxlen);
    *out = v;
    return 0;
}

int tp_query_sort_parse(const tp_query_args *a, const tp_query_sort_key *keys, size_t nkeys, size_t def,
                        size_t *idx, int *desc, tp_query_perr *e)
{
    const char *v = tp_query_args_get(a, "sort");
    *idx = def;
    *desc = keys[def].default_desc;
    if (!v)
        return 0;
    const char *colon = strchr(v, ':');
    size_t flen = colon ? (size_t)(colon - v) : strlen(v);
    int dir = -1;
    if (colon) {
        if (strcmp(colon + 1, "asc") == 0)
            dir = 0;
        else if (strcmp(colon + 1, "desc") == 0)
            dir = 1;
        else
            return tp_query_fail(e, "sort", "direction must be asc or desc, as in sort=%s:desc", keys[def].name);
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (strlen(keys[i].name) == flen && strncmp(keys[i].name, v, flen) == 0) {
            *idx = i;
            *desc = dir >= 0 ? dir : keys[i].default_desc;
            return 0;
        }
    }
    char names[256];
    size_t off = 0;
    names[0] = '\0';
    for (size_t i = 0; i < nkeys && off + 1 < sizeof names; i++) {
        int w = snprintf(names + off, sizeof names - off, "%s%s", i ? ", " : "", keys[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return tp_query_fail(e, "sort", "must be field[:asc|desc] with field one of: %s", names);
}

int tp_query_id_valid(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return n >= 1 && n <= 64;
}

/* ------------------------------------------------------------------ content negotiation */

/* q of one media range's parameters ("; q=0.5"); 1 when absent, -1 when malformed. */
static double accept_q(const char *params, const char *end)
{
    double q = 1.0;
    const char *p = params;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            double v = 0, scale = 1;
            int seen = 0, dot = 0;
            for (; p < end && ((*p >= '0' && *p <= '9') || *p == '.'); p++) {
                if (*p == '.') {
                    if (dot++)
                        return -1;
                    continue;
                }
                seen = 1;
                if (dot) {
                    scale /= 10;
                    v += (*p - '0') * scale;
                } else {
                    v = v * 10 + (*p - '0');
                }
            }
            if (!seen || v > 1)
                return -1;
            q = v;
        }
        while (p < end && *p != ';')
            p++;
    }
    return q;
}

/* s[0..n) equals type, ignoring case. Byte by byte rather than strncasecmp: n comes from the
 * header, and gcc -O2 cannot see that the length check bounds the read of type (it reported
 * -Wstringop-overread here). */
static int media_is(const char *s, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++, type++)
        if (!*type || tolower((unsigned char)s[i]) != tolower((unsigned char)*type))
            return 0;
    return *type == '\0';
}

int tp_query_accept_csv(const char *accept)
{
    /* For each side: the q of the most specific matching range and where that range was listed. */
    double qc = -1, qj = -1;
    int sc = 0, sj = 0, pc = 0, pj = 0, pos = 0;
    for (const char *p = accept; p && *p; pos++) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *semi = end > p ? memchr(p, ';', (size_t)(end - p)) : NULL;
        const char *tend = semi ? semi : end;
        while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
            tend--;
        size_t tn = (size_t)(tend - p);
        double q = accept_q(semi ? semi : end, end);
        int spec_c = media_is(p, tn, "text/csv") ? 3 : media_is(p, tn, "text/*") ? 2 : media_is(p, tn, "*/*") ? 1 : 0;
        int spec_j = media_is(p, tn, "application/json") ? 3
                     : media_is(p, tn, "application/*") ? 2
                     : media_is(p, tn, "*/*")           ? 1
                                                        : 0;
        if (q >= 0 && spec_c > sc) {
            sc = spec_c, qc = q, pc = pos;
        }
        if (q >= 0 && spec_j > sj) {
            sj = spec_j, qj = q, pj = pos;
        }
        p = *end ? end + 1 : end;
    }
    if (qc <= 0 || sc < 2)
        return 0; /* CSV only when asked for by name (text/csv or text/any) */
    if (qc != qj)
        return qc > qj;
    return pc < pj;
}

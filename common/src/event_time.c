/* event_time.c — RFC 3339 timestamps (see event.h).
 *
 * Our own parser and formatter, because strptime/timegm depend on the locale and the TZ
 * environment and mktime takes a lock; this runs once per event at 500k events/s.
 * Accepted: YYYY-MM-DD "T" hh:mm:ss [.1-9 digits] ("Z" | +hh:mm | -hh:mm), "t"/"z" in either
 * case (RFC 3339 §5.6 allows it). Rejected: a space instead of "T", missing seconds or offset,
 * more than 9 fraction digits, impossible dates (2026-02-30), hour > 23, minute > 59,
 * offset beyond ±23:59.
 * Leap second: ss = 60 is accepted (RFC 3339 allows it in any minute where one was
 * inserted; we cannot know which, so any minute) and maps to the last millisecond of
 * second 59. That keeps it after every other instant of its minute and before the next
 * minute, so ordering by occurred_at still works. Fractions are truncated to milliseconds. */
#include "event_priv.h"

#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date. Works on eras of 400 years
 * (146097 days), which makes leap years fall out of the arithmetic. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);                    /* [0, 399] */
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* n decimal digits at *p; advances *p. -1 if any is not a digit. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

int tp_rfc3339_parse(const char *s, int64_t *ms_out)
{
    if (!s || !ms_out)
        return TP_EINVAL;
    const char *p = s;
    int year = digits(&p, 4);
    if (year < 0 || expect(&p, '-'))
        return TP_EINVAL;
    int mon = digits(&p, 2);
    if (mon < 1 || mon > 12 || expect(&p, '-'))
        return TP_EINVAL;
    int day = digits(&p, 2);
    if (day < 1 || (unsigned)day > days_in_month(year, (unsigned)mon))
        return TP_EINVAL;
    if (*p != 'T' && *p != 't')
        return TP_EINVAL;
    p++;
    int hh = digits(&p, 2);
    if (hh < 0 || hh > 23 || expect(&p, ':'))
        return TP_EINVAL;
    int mm = digits(&p, 2);
    if (mm < 0 || mm > 59 || expect(&p, ':'))
        return TP_EINVAL;
    int ss = digits(&p, 2);
    if (ss < 0 || ss > 60)
        return TP_EINVAL;

    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (n <= 9 && p[n] >= '0' && p[n] <= '9')
            n++;
        if (n < 1 || n > 9)
            return TP_EINVAL;
        for (int i = 0; i < 3; i++)
            frac_ms = frac_ms * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    if (ss == 60) {
        ss = 59;
        frac_ms = 999;
    }

    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || expect(&p, ':'))
            return TP_EINVAL;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return TP_EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return TP_EINVAL;
    }
    if (*p != '\0')
        return TP_EINVAL;

    int64_t days = days_from_civil(year, (unsigned)mon, (unsigned)day);
    int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)offset_min * 60;
    *ms_out = secs * 1000 + frac_ms;
    return 0;
}

static void put_num(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* The format has room for four year digits only, so instants outside years 0000..9999 are
 * clamped to the nearest representable one rather than written in a shape no parser takes. */
#define MS_MIN (-62167219200000LL)  /* 0000-01-01T00:00:00.000Z */
#define MS_MAX (253402300799999LL)  /* 9999-12-31T23:59:59.999Z */

void tp_rfc3339_format(int64_t ms, char out[32])
{
    if (ms < MS_MIN)
        ms = MS_MIN;
    if (ms > MS_MAX)
        ms = MS_MAX;
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put_num(out, (unsigned)y, 4);
    put_num(out + 5, m, 2);
    put_num(out + 8, d, 2);
    put_num(out + 11, (unsigned)(sod / 3600), 2);
    put_num(out + 14, (unsigned)(sod / 60 % 60), 2);
    put_num(out + 17, (unsigned)(sod % 60), 2);
    put_num(out + 20, (unsigned)rem, 3);
}

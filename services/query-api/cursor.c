/* cursor.c — base64url and the keyset-pagination cursor (see cursor.h). */
#include "cursor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int tp_query_b64url_encode(const void *data, size_t len, char *out, size_t cap)
{
    const unsigned char *in = data;
    size_t need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    if (need + 1 > cap)
        return TP_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        size_t left = len - i;
        if (left > 1)
            v |= (unsigned)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (left > 1)
            out[o++] = b64[(v >> 6) & 63];
        if (left > 2)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return (int)o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int tp_query_b64url_decode(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n % 4 == 1)
        return TP_EINVAL;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > cap)
        return TP_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        size_t chunk = n - i < 4 ? n - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int x = j < chunk ? b64_value(s[i + j]) : 0;
            if (x < 0)
                return TP_EINVAL;
            v = v << 6 | (unsigned)x;
        }
        out[o++] = (unsigned char)(v >> 16);
        if (chunk > 2)
            out[o++] = (unsigned char)(v >> 8);
        if (chunk > 3)
            out[o++] = (unsigned char)v;
        /* Reject non-canonical encodings (stray low bits), so one cursor has one spelling. */
        if ((chunk == 2 && (v & 0xffff)) || (chunk == 3 && (v & 0xff)))
            return TP_EINVAL;
    }
    return (int)o;
}

int tp_query_cursor_encode(const char *sort, int desc, const char *id, const char *value, char *out, size_t cap)
{
    char raw[TP_QUERY_CURSOR_MAX];
    int n = snprintf(raw, sizeof raw, "1\t%s\t%c\t%s\t%s", sort, desc ? 'd' : 'a', id, value ? value : "");
    if (n < 0 || (size_t)n >= sizeof raw)
        return TP_ETOOBIG;
    int rc = tp_query_b64url_encode(raw, (size_t)n, out, cap);
    return rc < 0 ? rc : 0;
}

static int value_valid(const char *v, tp_query_key_kind kind)
{
    switch (kind) {
    case TP_QUERY_KEY_INT: {
        if (!*v || strlen(v) > 20)
            return 0;
        char *end;
        errno = 0;
        (void)strtoll(v, &end, 10);
        return !errno && !*end && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'));
    }
    case TP_QUERY_KEY_NUM: {
        if (strcmp(v, "-Infinity") == 0 || strcmp(v, "Infinity") == 0)
            return 1;
        if (!*v || strlen(v) > 32 || strspn(v, "0123456789eE+-.") != strlen(v))
            return 0;
        char *end;
        errno = 0;
        (void)strtod(v, &end);
        return !errno && !*end;
    }
    case TP_QUERY_KEY_TEXT:
        return tp_query_utf8_valid(v);
    }
    return 0;
}

int tp_query_cursor_decode(const char *cursor, const char *sort, int desc, tp_query_key_kind kind, char *id,
                           size_t idcap, char *value, size_t vcap, tp_query_perr *e)
{
    unsigned char raw[TP_QUERY_CURSOR_MAX];
    if (!*cursor)
        return tp_query_fail(e, "cursor", "must not be empty; pass the next value of the previous page");
    int n = strlen(cursor) < TP_QUERY_CURSOR_MAX ? tp_query_b64url_decode(cursor, raw, sizeof raw - 1) : TP_ETOOBIG;
    if (n < 0 || memchr(raw, '\0', (size_t)n))
        return tp_query_fail(e, "cursor", "not a cursor returned by this API");
    raw[n] = '\0';
    char *parts[5];
    char *p = (char *)raw;
    for (int i = 0; i < 4; i++) {
        parts[i] = p;
        p = strchr(p, '\t');
        if (!p)
            return tp_query_fail(e, "cursor", "not a cursor returned by this API");
        *p++ = '\0';
    }
    parts[4] = p; /* the value is last: it may hold anything but control characters */
    if (strcmp(parts[0], "1") != 0 || (strcmp(parts[2], "a") != 0 && strcmp(parts[2], "d") != 0) ||
        !tp_query_id_valid(parts[3]) || !value_valid(parts[4], kind))
        return tp_query_fail(e, "cursor", "not a cursor returned by this API");
    if (strcmp(parts[1], sort) != 0 || (parts[2][0] == 'd') != (desc != 0))
        return tp_query_fail(e, "cursor", "the cursor was made for sort=%s:%s; repeat that sort or drop the cursor",
                             parts[1], parts[2][0] == 'd' ? "desc" : "asc");
    if (strlen(parts[3]) >= idcap || strlen(parts[4]) >= vcap)
        return tp_query_fail(e, "cursor", "not a cursor returned by this API");
    strcpy(id, parts[3]);
    strcpy(value, parts[4]);
    return 0;
}

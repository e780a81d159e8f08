/* jscan_read.c — readers of text the checker accepted (see jscan.h): member iteration, string
 * decoding, numbers. They skip every syntax check the checker already made. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jscan_priv.h"

/* Decoded-byte cursor over a checked string value. */
struct dec {
    const char *p, *end; /* raw bytes between the quotes */
    unsigned char buf[4];
    size_t n, k; /* buf holds n bytes, k already handed out */
};

static void dec_init(struct dec *d, tp_jvalue v)
{
    d->p = v.p + 1;
    d->end = v.p + v.len - 1;
    d->n = d->k = 0;
}

static size_t utf8_put(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Next decoded byte, or -1 at the end. */
static int dec_byte(struct dec *d)
{
    if (d->k < d->n)
        return d->buf[d->k++];
    if (d->p >= d->end)
        return -1;
    if (*d->p != '\\')
        return (unsigned char)*d->p++;
    char e = d->p[1];
    d->p += 2;
    switch (e) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default: return (unsigned char)e; /* " \ / */
    }
    unsigned u = 0, lo = 0;
    (void)tp_jscan__hex4(d->p, &u);
    d->p += 4;
    if (u >= 0xD800 && u <= 0xDBFF) { /* the checker saw the low half follow */
        (void)tp_jscan__hex4(d->p + 2, &lo);
        d->p += 6;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
    }
    d->n = utf8_put(d->buf, u);
    d->k = 1;
    return d->buf[0];
}

int tp_jscan__strings_cmp(tp_jvalue a, tp_jvalue b)
{
    struct dec da, db;
    dec_init(&da, a);
    dec_init(&db, b);
    for (;;) {
        int x = dec_byte(&da), y = dec_byte(&db);
        if (x != y)
            return x < y ? -1 : 1;
        if (x < 0)
            return 0;
    }
}

int tp_jscan__strings_equal(tp_jvalue a, tp_jvalue b)
{
    return tp_jscan__strings_cmp(a, b) == 0;
}

uint32_t tp_jscan__string_hash(tp_jvalue v)
{
    struct dec d;
    uint32_t h = 2166136261u; /* FNV-1a */
    int c;
    dec_init(&d, v);
    while ((c = dec_byte(&d)) >= 0)
        h = (h ^ (uint32_t)c) * 16777619u;
    return h;
}

int tp_jvalue_string_is(tp_jvalue v, const char *lit, size_t lit_len)
{
    if (v.len < 2 || v.p[0] != '"')
        return 0;
    if (!memchr(v.p, '\\', v.len))
        return v.len - 2 == lit_len && memcmp(v.p + 1, lit, lit_len) == 0;
    struct dec d;
    dec_init(&d, v);
    for (size_t k = 0; k < lit_len; k++)
        if (dec_byte(&d) != (unsigned char)lit[k])
            return 0;
    return dec_byte(&d) < 0;
}

static size_t count_codepoints(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t k = 0; k < n; k++)
        c += ((unsigned char)p[k] & 0xC0) != 0x80;
    return c;
}

size_t tp_jvalue_string(tp_jvalue v, char *out, size_t cap, size_t *codepoints)
{
    const char *raw = v.p + 1;
    size_t rlen = v.len - 2;
    if (!memchr(raw, '\\', rlen)) { /* most strings: the bytes between the quotes as they are */
        if (cap) {
            size_t end = rlen < cap ? rlen : cap - 1;
            if (end < rlen) /* cut: never inside a character */
                while (end > 0 && ((unsigned char)raw[end] & 0xC0) == 0x80)
                    end--;
            memcpy(out, raw, end);
            out[end] = '\0';
        }
        if (codepoints)
            *codepoints = count_codepoints(raw, rlen);
        return rlen;
    }
    struct dec d;
    size_t n = 0, cps = 0;
    int c, cut_in_char = 0;
    dec_init(&d, v);
    while ((c = dec_byte(&d)) >= 0) {
        cps += (c & 0xC0) != 0x80;
        if (cap && n < cap - 1)
            out[n] = (char)c;
        else if (cap && n == cap - 1)
            cut_in_char = (c & 0xC0) == 0x80; /* the first byte left out continues a character */
        n++;
    }
    if (cap) {
        size_t end = n < cap ? n : cap - 1;
        if (cut_in_char) { /* drop the partial character: its continuation bytes, then its lead */
            while (end > 0 && ((unsigned char)out[end - 1] & 0xC0) == 0x80)
                end--;
            if (end > 0)
                end--;
        }
        out[end] = '\0';
    }
    if (codepoints)
        *codepoints = cps;
    return n;
}

tp_json_kind tp_jvalue_kind(tp_jvalue v)
{
    switch (v.p[0]) {
    case '"': return TP_JSON_STRING;
    case '{': return TP_JSON_OBJECT;
    case '[': return TP_JSON_ARRAY;
    case 't': return TP_JSON_TRUE;
    case 'f': return TP_JSON_FALSE;
    case 'n': return TP_JSON_NULL;
    default:
        for (size_t k = 0; k < v.len; k++)
            if (v.p[k] == '.' || v.p[k] == 'e' || v.p[k] == 'E')
                return TP_JSON_REAL;
        return TP_JSON_INTEGER;
    }
}

int tp_jscan__convert(const char *s, size_t n, int real, double *d, long long *i, int *overflow)
{
    char stack[128], *buf = stack; /* strtod / strtoll need the text NUL-terminated */
    if (n >= sizeof stack && !(buf = malloc(n + 1)))
        return TP_ENOMEM;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    int over;
    if (real) {
        double v = strtod(buf, NULL);
        over = errno == ERANGE && (v > 1.0 || v < -1.0);
        if (d)
            *d = v;
    } else {
        long long v = strtoll(buf, NULL, 10);
        over = errno == ERANGE;
        if (i)
            *i = v;
    }
    if (overflow)
        *overflow = over;
    if (buf != stack)
        free(buf);
    return 0;
}

long long tp_jvalue_integer(tp_jvalue v)
{
    long long i = 0; /* a checked integer is short: the copy cannot fail */
    (void)tp_jscan__convert(v.p, v.len, 0, NULL, &i, NULL);
    return i;
}

double tp_jvalue_real(tp_jvalue v)
{
    if (tp_jvalue_kind(v) == TP_JSON_INTEGER)
        return (double)tp_jvalue_integer(v);
    double d = 0.0 / 0.0; /* stays NaN, which fails every range check, if the copy fails */
    (void)tp_jscan__convert(v.p, v.len, 1, &d, NULL, NULL);
    return d;
}

/* Just past the closing quote of the checked string opening at p: the next quote that an odd
 * run of backslashes does not escape. */
static const char *string_end(const char *p, const char *end)
{
    const char *q = p + 1;
    for (;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q)
            return end;
        size_t bs = 0;
        while (q - bs > p + 1 && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        q++;
    }
}

/* End of the checked value starting at p (strings, containers, scalars). */
static const char *value_end(const char *p, const char *end)
{
    if (*p == '"')
        return string_end(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        for (; p < end; p++) {
            char c = *p;
            if (c == '"') {
                p = string_end(p, end) - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return p + 1;
            }
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    return p;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

void tp_jiter_init(tp_jiter *it, tp_jvalue obj)
{
    it->p = obj.p + 1;
    it->end = obj.p + obj.len - 1; /* the closing brace */
}

int tp_jiter_next(tp_jiter *it, tp_jvalue *key, tp_jvalue *val)
{
    const char *p = skip_ws(it->p, it->end);
    if (p < it->end && *p == ',')
        p = skip_ws(p + 1, it->end);
    if (p >= it->end)
        return 0;
    const char *k = p;
    p = value_end(p, it->end);
    *key = (tp_jvalue){k, (size_t)(p - k)};
    p = skip_ws(p, it->end);
    p = skip_ws(p + 1, it->end); /* the colon */
    const char *v = p;
    p = value_end(p, it->end);
    *val = (tp_jvalue){v, (size_t)(p - v)};
    it->p = p;
    return 1;
}

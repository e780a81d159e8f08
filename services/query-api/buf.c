/* buf.c — growable response buffer with a sticky failure flag (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(tp_query_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void tp_query_buf_put(tp_query_buf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tp_query_buf_puts(tp_query_buf *b, const char *s) { tp_query_buf_put(b, s, strlen(s)); }

void tp_query_buf_putc(tp_query_buf *b, char c) { tp_query_buf_put(b, &c, 1); }

void tp_query_buf_printf(tp_query_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        tp_query_buf_put(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tp_query_buf_json_str(tp_query_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    tp_query_buf_putc(b, '"');
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\0' && c != '"' && c != '\\' && c >= 0x20)
            continue;
        /* flush the plain run before the byte that needs escaping (or the end) */
        tp_query_buf_put(b, run, (size_t)(p - run));
        if (c == '\0')
            break;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            tp_query_buf_put(b, esc, 2);
        } else if (c == '\n') {
            tp_query_buf_put(b, "\\n", 2);
        } else if (c == '\r') {
            tp_query_buf_put(b, "\\r", 2);
        } else if (c == '\t') {
            tp_query_buf_put(b, "\\t", 2);
        } else {
            tp_query_buf_put(b, esc, 6);
        }
        run = p + 1;
    }
    tp_query_buf_putc(b, '"');
}

void tp_query_buf_csv_field(tp_query_buf *b, const char *s)
{
    if (!s)
        return;
    if (*s && !strpbrk(s, ",\"\r\n")) {
        tp_query_buf_puts(b, s);
        return;
    }
    tp_query_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            tp_query_buf_putc(b, '"');
        tp_query_buf_putc(b, *p);
    }
    tp_query_buf_putc(b, '"');
}

int tp_query_buf_ok(const tp_query_buf *b) { return b->failed ? TP_ENOMEM : 0; }

char *tp_query_buf_steal(tp_query_buf *b, size_t *len)
{
    if (b->failed) {
        tp_query_buf_free(b);
        return NULL;
    }
    if (!b->data) {
        if (reserve(b, 0))
            return NULL;
        b->data[0] = '\0';
    }
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void tp_query_buf_free(tp_query_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

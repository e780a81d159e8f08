/* buf.h — a growable byte buffer for building response bodies (JSON and CSV) in the query-api.
 *
 * The buffer keeps a sticky `failed` flag: once an append runs out of memory every later append
 * is a no-op, and the caller checks once at the end with tp_query_buf_ok (so renderers need no
 * error check per write). The buffer owns its bytes; tp_query_buf_steal hands them to the caller
 * (who frees them with free()). Contents are always NUL-terminated when ok. */
#ifndef TP_QUERY_BUF_H
#define TP_QUERY_BUF_H

#include <stddef.h>

#include "tp/err.h"

typedef struct tp_query_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} tp_query_buf;

#define TP_QUERY_BUF_INIT {NULL, 0, 0, 0}

void tp_query_buf_put(tp_query_buf *b, const char *s, size_t n);
void tp_query_buf_puts(tp_query_buf *b, const char *s);
void tp_query_buf_putc(tp_query_buf *b, char c);
void tp_query_buf_printf(tp_query_buf *b, const char *fmt, ...) TP_PRINTF(2, 3);
/* A JSON string literal with its quotes; bytes ≥ 0x80 are copied as they are (callers pass UTF-8). */
void tp_query_buf_json_str(tp_query_buf *b, const char *s);
/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, or is empty; quotes doubled.
 * s == NULL (SQL NULL) writes nothing, so NULL and "" stay distinguishable. */
void tp_query_buf_csv_field(tp_query_buf *b, const char *s);

/* 0 when every append succeeded, TP_ENOMEM otherwise. */
int tp_query_buf_ok(const tp_query_buf *b) TP_MUSTCHECK;
/* Take the bytes (NUL-terminated; "" allocated when empty); the buffer is reset. NULL if failed. */
char *tp_query_buf_steal(tp_query_buf *b, size_t *len);
void tp_query_buf_free(tp_query_buf *b); /* releases the bytes; the struct may be reused */

#endif

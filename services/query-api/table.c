/* table.c — result tables and their JSON / CSV renderings (see table.h). */
#include "table.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

#define NULL_CELL SIZE_MAX

struct tp_query_table {
    const tp_query_col *cols;
    size_t ncols;
    size_t nrows;
    size_t *offs;   /* nrows * ncols offsets into text, NULL_CELL for SQL NULL */
    size_t offs_cap; /* rows allocated in offs */
    tp_query_buf text;
};

int tp_query_table_new(const tp_query_col *cols, size_t ncols, tp_query_table **out)
{
    *out = NULL;
    tp_query_table *t = calloc(1, sizeof *t);
    if (!t)
        return TP_ENOMEM;
    t->cols = cols;
    t->ncols = ncols;
    *out = t;
    return 0;
}

void tp_query_table_free(tp_query_table *t)
{
    if (!t)
        return;
    free(t->offs);
    tp_query_buf_free(&t->text);
    free(t);
}

int tp_query_table_add_row(tp_query_table *t, const char *const *cells)
{
    if (t->nrows == t->offs_cap) {
        size_t cap = t->offs_cap ? t->offs_cap * 2 : 16;
        size_t *o = realloc(t->offs, cap * t->ncols * sizeof *o + 1);
        if (!o)
            return TP_ENOMEM;
        t->offs = o;
        t->offs_cap = cap;
    }
    size_t *row = t->offs + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        if (!cells[c]) {
            row[c] = NULL_CELL;
            continue;
        }
        row[c] = t->text.len;
        tp_query_buf_put(&t->text, cells[c], strlen(cells[c]) + 1); /* keep each cell's NUL */
    }
    if (tp_query_buf_ok(&t->text))
        return TP_ENOMEM;
    t->nrows++;
    return 0;
}

size_t tp_query_table_rows(const tp_query_table *t) { return t->nrows; }
void tp_query_table_truncate(tp_query_table *t, size_t nrows)
{
    if (nrows < t->nrows)
        t->nrows = nrows;
}

size_t tp_query_table_ncols(const tp_query_table *t) { return t->ncols; }
const tp_query_col *tp_query_table_col(const tp_query_table *t, size_t col) { return &t->cols[col]; }

const char *tp_query_table_cell(const tp_query_table *t, size_t row, size_t col)
{
    size_t o = t->offs[row * t->ncols + col];
    return o == NULL_CELL ? NULL : t->text.data + o;
}

/* ------------------------------------------------------------------ JSON */

/* 1 if s is a JSON number as written (PostgreSQL prints integers, numerics and finite floats so;
 * "Infinity"/"NaN" are not). */
static int json_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (*p == '.') {
        if (*++p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int time_cell(const char *v, char out[32])
{
    char *end;
    errno = 0;
    long long ms = strtoll(v, &end, 10);
    if (errno || *end || end == v)
        return -1;
    tp_query_time_format(ms, out);
    return 0;
}

static void json_value(const tp_query_col *c, const char *v, tp_query_buf *b)
{
    char ts[32];
    if (!v) {
        tp_query_buf_puts(b, "null");
        return;
    }
    switch (c->kind) {
    case TP_QCOL_INT:
    case TP_QCOL_NUM:
        tp_query_buf_puts(b, json_number(v) ? v : "null");
        break;
    case TP_QCOL_BOOL:
        tp_query_buf_puts(b, v[0] == 't' ? "true" : "false");
        break;
    case TP_QCOL_TIME:
        if (time_cell(v, ts) == 0)
            tp_query_buf_json_str(b, ts);
        else
            tp_query_buf_puts(b, "null");
        break;
    case TP_QCOL_TEXT:
        tp_query_buf_json_str(b, v);
        break;
    }
}

void tp_query_table_json_members(const tp_query_table *t, size_t row, tp_query_buf *b)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            tp_query_buf_putc(b, ',');
        tp_query_buf_json_str(b, t->cols[c].name);
        tp_query_buf_putc(b, ':');
        json_value(&t->cols[c], tp_query_table_cell(t, row, c), b);
    }
}

void tp_query_table_json_object(const tp_query_table *t, size_t row, tp_query_buf *b)
{
    tp_query_buf_putc(b, '{');
    tp_query_table_json_members(t, row, b);
    tp_query_buf_putc(b, '}');
}

void tp_query_table_json_array(const tp_query_table *t, tp_query_buf *b)
{
    tp_query_buf_putc(b, '[');
    for (size_t r = 0; r < t->nrows; r++) {
        if (r)
            tp_query_buf_putc(b, ',');
        tp_query_table_json_object(t, r, b);
    }
    tp_query_buf_putc(b, ']');
}

/* ------------------------------------------------------------------ CSV */

void tp_query_table_csv_header_fields(const tp_query_table *t, const char *prefix, tp_query_buf *b)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            tp_query_buf_putc(b, ',');
        if (prefix) {
            tp_query_buf_puts(b, prefix);
            tp_query_buf_puts(b, t->cols[c].name);
        } else {
            tp_query_buf_csv_field(b, t->cols[c].name);
        }
    }
}

void tp_query_table_csv_row_fields(const tp_query_table *t, size_t row, tp_query_buf *b)
{
    char ts[32];
    for (size_t c = 0; c < t->ncols; c++) {
        const char *v = tp_query_table_cell(t, row, c);
        if (c)
            tp_query_buf_putc(b, ',');
        if (!v)
            continue;
        switch (t->cols[c].kind) {
        case TP_QCOL_BOOL:
            tp_query_buf_puts(b, v[0] == 't' ? "true" : "false");
            break;
        case TP_QCOL_TIME:
            if (time_cell(v, ts) == 0)
                tp_query_buf_puts(b, ts);
            break;
        default:
            tp_query_buf_csv_field(b, v);
            break;
        }
    }
}

void tp_query_table_csv(const tp_query_table *t, tp_query_buf *b)
{
    tp_query_table_csv_header_fields(t, NULL, b);
    tp_query_buf_puts(b, "\r\n");
    for (size_t r = 0; r < t->nrows; r++) {
        tp_query_table_csv_row_fields(t, r, b);
        tp_query_buf_puts(b, "\r\n");
    }
}

/* ------------------------------------------------------------------ series */

int tp_query_series_fill(const tp_query_table *rows, int64_t from_ms, int64_t to_ms, int64_t step_ms,
                         const tp_query_col *out_cols, tp_query_table **out)
{
    tp_query_table *t = NULL;
    const char **cells = NULL;
    char ms_text[24];
    int rc = tp_query_table_new(out_cols, rows->ncols, &t);
    if (rc)
        goto out;
    cells = calloc(rows->ncols, sizeof *cells);
    if (!cells) {
        rc = TP_ENOMEM;
        goto out;
    }
    size_t r = 0;
    for (int64_t start = from_ms; start < to_ms; start += step_ms) {
        /* Skip rows before this period (off-grid or out-of-range rows never match). */
        int64_t row_ms = INT64_MIN;
        while (r < rows->nrows) {
            const char *s = tp_query_table_cell(rows, r, 0);
            row_ms = s ? strtoll(s, NULL, 10) * 1000 : INT64_MIN;
            if (row_ms >= start)
                break;
            r++;
        }
        int hit = r < rows->nrows && row_ms == start;
        snprintf(ms_text, sizeof ms_text, "%lld", (long long)start);
        cells[0] = ms_text;
        for (size_t c = 1; c < rows->ncols; c++) {
            const char *v = hit ? tp_query_table_cell(rows, r, c) : NULL;
            cells[c] = v ? v : "0";
        }
        rc = tp_query_table_add_row(t, cells);
        if (rc)
            goto out;
        if (hit)
            r++;
    }
out:
    free(cells);
    if (rc) {
        tp_query_table_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}

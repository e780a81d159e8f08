/* table.h — a result table (named, typed columns; rows of text cells) and its two renderings.
 *
 * Every query-api answer is one or more tables: the routes copy PostgreSQL's text results into a
 * table and render it as JSON (an array of objects, numbers as numbers) or as CSV (RFC 4180,
 * header row first), so both formats come from one code path and cannot drift apart. Cells are
 * text as PostgreSQL prints them; a NULL cell is SQL NULL (JSON null, empty CSV field).
 * Column kinds: INT (integer text), NUM (decimal/float text; non-finite → null), TEXT, BOOL
 * ("t"/"f"), TIME (milliseconds since the epoch, rendered as RFC 3339 UTC).
 * The table owns copies of its cells; it borrows the column array (use static arrays). */
#ifndef TP_QUERY_TABLE_H
#define TP_QUERY_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tp/err.h"

typedef enum { TP_QCOL_INT, TP_QCOL_NUM, TP_QCOL_TEXT, TP_QCOL_BOOL, TP_QCOL_TIME } tp_query_col_kind;

typedef struct tp_query_col {
    const char *name;
    tp_query_col_kind kind;
} tp_query_col;

typedef struct tp_query_table tp_query_table;

int tp_query_table_new(const tp_query_col *cols, size_t ncols, tp_query_table **out) TP_MUSTCHECK;
void tp_query_table_free(tp_query_table *t); /* NULL-safe */
/* Copies ncols cells (NULL = SQL NULL). */
int tp_query_table_add_row(tp_query_table *t, const char *const *cells) TP_MUSTCHECK;
size_t tp_query_table_rows(const tp_query_table *t);
/* Keep only the first nrows rows (no-op when the table has fewer). */
void tp_query_table_truncate(tp_query_table *t, size_t nrows);
size_t tp_query_table_ncols(const tp_query_table *t);
const tp_query_col *tp_query_table_col(const tp_query_table *t, size_t col);
/* Borrowed; NULL for SQL NULL. */
const char *tp_query_table_cell(const tp_query_table *t, size_t row, size_t col);

/* JSON: the members of one row without braces ("a":1,"b":"x"), one row as an object, or all
 * rows as an array. */
void tp_query_table_json_members(const tp_query_table *t, size_t row, tp_query_buf *b);
void tp_query_table_json_object(const tp_query_table *t, size_t row, tp_query_buf *b);
void tp_query_table_json_array(const tp_query_table *t, tp_query_buf *b);
/* CSV: the header fields (each name prefixed by prefix, may be NULL), one row's fields, or the
 * whole table (header + rows, CRLF line ends). The _fields variants write no line end. */
void tp_query_table_csv_header_fields(const tp_query_table *t, const char *prefix, tp_query_buf *b);
void tp_query_table_csv_row_fields(const tp_query_table *t, size_t row, tp_query_buf *b);
void tp_query_table_csv(const tp_query_table *t, tp_query_buf *b);

/* Zero-filled series. rows: column 0 is the period start in seconds since the epoch (ascending),
 * the others are counters. Returns a table with out_cols (column 0 "start" of kind TIME, then the
 * counters in the same order as rows' columns 1..) holding one row per period in [from_ms, to_ms)
 * by step_ms: the matching row's counters, or "0" in every counter where no row matches. Rows
 * outside the range or off the period grid are ignored. */
int tp_query_series_fill(const tp_query_table *rows, int64_t from_ms, int64_t to_ms, int64_t step_ms,
                         const tp_query_col *out_cols, tp_query_table **out) TP_MUSTCHECK;

#endif

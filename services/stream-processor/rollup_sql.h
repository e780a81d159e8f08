/* rollup_sql.h — the rollup's set-based statements: one per table per batch.
 *
 * Each call turns one table of a tp_rollup_agg into array parameters (rows in key order, so
 * concurrent batches lock shared rows in one global order and cannot deadlock on them) and
 * runs one statement on the borrowed connection, inside the caller's transaction. */
#ifndef TP_ROLLUP_SQL_H
#define TP_ROLLUP_SQL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "keytab.h"
#include "rollup_agg.h"
#include "tp/err.h"

typedef struct tp_rollup_sql tp_rollup_sql;

int tp_rollup_sql_new(tp_rollup_sql **out) TP_MUSTCHECK;
void tp_rollup_sql_free(tp_rollup_sql *s); /* NULL-safe */

/* Record event ids as seen. ids/occurred: n events of the batch (ids lower-case, unique).
 * Fills fresh (a keytab of the ids that were NOT seen before; entries unused) after
 * resetting it. */
int tp_rollup_sql_seen(tp_rollup_sql *s, PGconn *c, const char *const *ids, const int64_t *occurred_ms, size_t n,
                       tp_keytab *fresh, char *err, size_t errlen) TP_MUSTCHECK;

/* Apply every table of agg. source names the shard ("<stream>/<shard_id>") for the
 * per-source sign-up rows. */
int tp_rollup_sql_apply(tp_rollup_sql *s, PGconn *c, tp_rollup_agg *agg, const char *source, char *err,
                        size_t errlen) TP_MUSTCHECK;

/* Dataset sizes (rollup_ds.c): apply agg's dataset events in event-time order against
 * rollup.datasets and add the per-day changes to rollup.tenant_data_size_daily. */
int tp_rollup_apply_datasets(PGconn *c, tp_rollup_agg *agg, char *err, size_t errlen) TP_MUSTCHECK;

#endif

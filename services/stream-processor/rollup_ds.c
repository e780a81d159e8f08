/* rollup_ds.c — dataset sizes for the rollup: apply a batch's dataset events in event-time
 * order against the current rows, set-based.
 *
 * Four statements per batch whatever its size: create missing rows, lock and read the
 * batch's rows (in key order, like every other rollup statement), fold the events in C
 * (tp_rollup_ds_apply), write the changed rows back, and add the per-day size changes to
 * tenant_data_size_daily. The row locks make a concurrent batch touching the same dataset
 * wait, so the fold always starts from committed state. */
#include <stdlib.h>
#include <string.h>

#include "keytab.h"
#include "pgarr.h"
#include "rollup_agg.h"
#include "rollup_sql.h"
#include "tp/db.h"

typedef struct day_delta {
    char tenant_id[TP_ID_MAX + 1];
    int64_t day;
    int64_t delta;
} day_delta;

static int failed(PGconn *c, PGresult *res, const char *what, char *err, size_t errlen)
{
    char msg[384];
    int rc = tp_db_classify(c, res, msg, sizeof msg);
    PQclear(res);
    return tp_errf(err, errlen, rc ? rc : TP_EINTERNAL, "%s: %s", what, msg);
}

static size_t ds_key(char *buf, size_t cap, const char *tenant, const char *dataset)
{
    size_t a = strlen(tenant), b = strlen(dataset);
    if (a + b + 1 > cap)
        return 0;
    memcpy(buf, tenant, a);
    buf[a] = '\x1f';
    memcpy(buf + a + 1, dataset, b);
    return a + b + 1;
}

int tp_rollup_apply_datasets(PGconn *c, tp_rollup_agg *agg, char *err, size_t errlen)
{
    if (!agg->nds)
        return 0;
    tp_rollup_agg_sort_datasets(agg);
    tp_keytab *states = NULL, *days = NULL;
    size_t *order = NULL;
    PGresult *res = NULL;
    tp_pgarr a[7];
    for (int i = 0; i < 7; i++)
        tp_pgarr_init(&a[i]);
    char key[2 * TP_ID_MAX + 2];
    const char *p[7];
    int rc = tp_keytab_new(sizeof(tp_rollup_ds_state), &states);
    if (!rc)
        rc = tp_keytab_new(sizeof(day_delta), &days);
    if (rc)
        goto oom;

    for (size_t i = 0; i < agg->nds; i++) {
        const tp_rollup_dataset_ev *d = &agg->ds[i];
        int created;
        tp_rollup_ds_state *st = tp_keytab_get(states, key, ds_key(key, sizeof key, d->tenant_id, d->dataset_id),
                                               &created);
        if (!st)
            goto oom;
        if (created) {
            memcpy(st->tenant_id, d->tenant_id, sizeof st->tenant_id);
            memcpy(st->dataset_id, d->dataset_id, sizeof st->dataset_id);
        }
    }
    if (tp_keytab_sorted(states, &order))
        goto oom;
    for (size_t k = 0; k < tp_keytab_count(states); k++) {
        const tp_rollup_ds_state *st = tp_keytab_at(states, order[k]);
        tp_pgarr_add_str(&a[0], st->tenant_id);
        tp_pgarr_add_str(&a[1], st->dataset_id);
    }
    if (tp_pgarr_finish(&a[0], &p[0]) || tp_pgarr_finish(&a[1], &p[1]))
        goto oom;
    res = PQexecParams(c,
                       "INSERT INTO rollup.datasets (tenant_id, dataset_id, size_bytes, live, state_at) "
                       "SELECT x.t, x.d, 0, false, '-infinity' FROM unnest($1::text[], $2::text[]) AS x(t, d) "
                       "ON CONFLICT DO NOTHING",
                       2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = failed(c, res, "creating dataset rows", err, errlen);
        goto out;
    }
    PQclear(res);
    res = PQexecParams(c,
                       "SELECT d.tenant_id, d.dataset_id, d.size_bytes, d.live, "
                       "       CASE WHEN d.state_at = '-infinity' THEN NULL "
                       "            ELSE (extract(epoch FROM d.state_at) * 1000)::bigint END "
                       "  FROM rollup.datasets d JOIN unnest($1::text[], $2::text[]) AS x(t, ds) "
                       "    ON d.tenant_id = x.t AND d.dataset_id = x.ds "
                       " ORDER BY d.tenant_id, d.dataset_id FOR UPDATE OF d",
                       2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = failed(c, res, "reading dataset rows", err, errlen);
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        tp_rollup_ds_state *st =
            tp_keytab_find(states, key, ds_key(key, sizeof key, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)));
        if (!st)
            continue;
        st->size_bytes = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        st->live = PQgetvalue(res, r, 3)[0] == 't';
        st->has_state = !PQgetisnull(res, r, 4);
        st->state_ms = st->has_state ? strtoll(PQgetvalue(res, r, 4), NULL, 10) : 0;
    }
    PQclear(res);
    res = NULL;

    /* The fold: every event in order against its dataset's state; a day row for every event
     * (the day had a dataset event even when the change is 0). */
    for (size_t i = 0; i < agg->nds; i++) {
        const tp_rollup_dataset_ev *d = &agg->ds[i];
        tp_rollup_ds_state *st = tp_keytab_find(states, key, ds_key(key, sizeof key, d->tenant_id, d->dataset_id));
        int64_t delta = tp_rollup_ds_apply(st, d);
        int64_t day = tp_rollup_day(d->at_ms);
        char dk[TP_ID_MAX + 24];
        int n = snprintf(dk, sizeof dk, "%s\x1f%016llx", d->tenant_id, (unsigned long long)day);
        int created;
        day_delta *dd = tp_keytab_get(days, dk, (size_t)n, &created);
        if (!dd)
            goto oom;
        if (created) {
            memcpy(dd->tenant_id, d->tenant_id, sizeof dd->tenant_id);
            dd->day = day;
        }
        dd->delta += delta;
    }

    for (int i = 0; i < 7; i++)
        tp_pgarr_reset(&a[i]);
    for (size_t k = 0; k < tp_keytab_count(states); k++) {
        const tp_rollup_ds_state *st = tp_keytab_at(states, order[k]);
        if (!st->dirty)
            continue;
        tp_pgarr_add_str(&a[0], st->tenant_id);
        tp_pgarr_add_str(&a[1], st->dataset_id);
        tp_pgarr_add_i64(&a[2], st->size_bytes);
        tp_pgarr_add_str(&a[3], st->live ? "t" : "f");
        tp_pgarr_add_ts(&a[4], st->state_ms);
        tp_pgarr_add_ts_opt(&a[5], st->has_created, st->created_ms);
        tp_pgarr_add_ts_opt(&a[6], st->has_deleted, st->deleted_ms);
    }
    if (a[0].n) {
        for (int i = 0; i < 7; i++)
            if (tp_pgarr_finish(&a[i], &p[i]))
                goto oom;
        res = PQexecParams(c,
                           "UPDATE rollup.datasets d SET size_bytes = x.s, live = x.l, state_at = x.at, "
                           "       created_at = coalesce(d.created_at, x.c), deleted_at = coalesce(x.del, d.deleted_at) "
                           "  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::timestamptz[], "
                           "              $6::timestamptz[], $7::timestamptz[]) AS x(t, ds, s, l, at, c, del) "
                           " WHERE d.tenant_id = x.t AND d.dataset_id = x.ds",
                           7, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = failed(c, res, "writing dataset rows", err, errlen);
            goto out;
        }
        PQclear(res);
        res = NULL;
    }

    free(order);
    order = NULL;
    if (tp_keytab_sorted(days, &order))
        goto oom;
    for (int i = 0; i < 3; i++)
        tp_pgarr_reset(&a[i]);
    for (size_t k = 0; k < tp_keytab_count(days); k++) {
        const day_delta *dd = tp_keytab_at(days, order[k]);
        tp_pgarr_add_str(&a[0], dd->tenant_id);
        tp_pgarr_add_date(&a[1], dd->day);
        tp_pgarr_add_i64(&a[2], dd->delta);
    }
    for (int i = 0; i < 3; i++)
        if (tp_pgarr_finish(&a[i], &p[i]))
            goto oom;
    res = PQexecParams(c,
                       "INSERT INTO rollup.tenant_data_size_daily AS z (tenant_id, day, bytes_delta) "
                       "SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[]) "
                       "ON CONFLICT (tenant_id, day) DO UPDATE SET bytes_delta = z.bytes_delta + excluded.bytes_delta",
                       3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = failed(c, res, "adding data size changes", err, errlen);
        goto out;
    }
    PQclear(res);
    res = NULL;
    rc = 0;
    goto out;
oom:
    rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory applying dataset events");
out:
    PQclear(res);
    for (int i = 0; i < 7; i++)
        tp_pgarr_free(&a[i]);
    free(order);
    tp_keytab_free(states);
    tp_keytab_free(days);
    return rc;
}

/* rollup_sql.c — set-based upserts for the rollup sink (see rollup_sql.h). Statement texts
 * are fixed at start-up (the per-period ones generated from the counter list); data only
 * ever travels as array parameters. */
#include "rollup_sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarr.h"
#include "tp/db.h"

#define MAX_PARAMS (RC__COUNT + 8)

struct tp_rollup_sql {
    char *period_sql[2]; /* hourly, daily */
    tp_pgarr arr[MAX_PARAMS];
};

static const char *const seen_sql =
    "INSERT INTO processor.seen_events (event_id, occurred_at) "
    "SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) "
    "ON CONFLICT DO NOTHING RETURNING event_id::text";

static const char *const users_sql =
    "INSERT INTO rollup.users AS u (tenant_id, user_id, added_at, deleted_at, last_activity_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[]) "
    "ON CONFLICT (tenant_id, user_id) DO UPDATE SET "
    "  added_at = greatest(u.added_at, excluded.added_at), "
    "  deleted_at = greatest(u.deleted_at, excluded.deleted_at), "
    "  last_activity_at = greatest(u.last_activity_at, excluded.last_activity_at)";

static const char *const tenants_known_sql =
    "INSERT INTO rollup.tenants (tenant_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING";

static const char *const totals_sql =
    "INSERT INTO rollup.tenant_totals AS t (tenant_id, users_added, users_deleted, last_activity_at, events) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::bigint[]) "
    "ON CONFLICT (tenant_id) DO UPDATE SET "
    "  users_added = t.users_added + excluded.users_added, "
    "  users_deleted = t.users_deleted + excluded.users_deleted, "
    "  last_activity_at = greatest(t.last_activity_at, excluded.last_activity_at), "
    "  events = t.events + excluded.events";

/* A field with its own event time: the newer write wins; a tie goes to the later batch. */
#define NEWER(f) \
    "  " f " = CASE WHEN excluded." f "_at IS NOT NULL AND (p." f "_at IS NULL OR excluded." f "_at >= p." f "_at) " \
    "THEN excluded." f " ELSE p." f " END, " \
    "  " f "_at = greatest(p." f "_at, excluded." f "_at), "

static const char *const profiles_sql =
    "INSERT INTO rollup.tenants AS p (tenant_id, company_name, company_name_at, industry, industry_at, plan, plan_at, "
    "                                 sentiment, sentiment_at, created_at, closed_at, close_reason) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::text[], "
    "                     $7::timestamptz[], $8::float8[], $9::timestamptz[], $10::timestamptz[], "
    "                     $11::timestamptz[], $12::text[]) "
    "ON CONFLICT (tenant_id) DO UPDATE SET " NEWER("company_name") NEWER("industry") NEWER("plan") NEWER("sentiment")
    "  created_at = least(p.created_at, excluded.created_at), "
    "  close_reason = CASE WHEN excluded.closed_at IS NOT NULL AND (p.closed_at IS NULL OR excluded.closed_at >= "
    "p.closed_at) THEN excluded.close_reason ELSE p.close_reason END, "
    "  closed_at = greatest(p.closed_at, excluded.closed_at)";

static const char *const signups_sql =
    "INSERT INTO rollup.signups_hourly AS s (hour, source, tenants_created, users_added) "
    "SELECT x.h, $1, x.tc, x.ua FROM unnest($2::timestamptz[], $3::bigint[], $4::bigint[]) AS x(h, tc, ua) "
    "ON CONFLICT (hour, source) DO UPDATE SET "
    "  tenants_created = s.tenants_created + excluded.tenants_created, "
    "  users_added = s.users_added + excluded.users_added";

/* Appends with a sticky overflow check, for generating the per-period statements. */
typedef struct {
    char *buf;
    size_t len, cap;
    int bad;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) TP_PRINTF(2, 3);

static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        b->bad = 1;
    else
        b->len += (size_t)n;
}

/* The per-period upsert: new active-user memberships (inserted in a CTE) count into
 * active_users of the same row, so the set and the counter change together.
 * $1 tenants, $2 periods, $3.. one array per counter, then member tenants/periods/users. */
static char *build_period_sql(int daily)
{
    const char *tab = daily ? "tenant_daily" : "tenant_hourly";
    const char *au = daily ? "active_users_daily" : "active_users_hourly";
    const char *col = daily ? "day" : "hour";
    const char *typ = daily ? "date" : "timestamptz";
    int m = RC__COUNT + 3; /* first member parameter */
    sbuf b = {.cap = 8192};
    if (!(b.buf = malloc(b.cap)))
        return NULL;
    sb_add(&b,
           "WITH au AS (INSERT INTO rollup.%s (tenant_id, %s, user_id) "
           "            SELECT * FROM unnest($%d::text[], $%d::%s[], $%d::text[]) "
           "            ON CONFLICT DO NOTHING RETURNING tenant_id, %s), "
           "     n AS (SELECT au.tenant_id, au.%s AS p, count(*) AS k FROM au GROUP BY 1, 2) "
           "INSERT INTO rollup.%s AS r (tenant_id, %s",
           au, col, m, m + 1, typ, m + 2, col, col, tab, col);
    for (int i = 0; i < RC__COUNT; i++)
        sb_add(&b, ", %s", tp_rollup_counter_names[i]);
    sb_add(&b, ", active_users) SELECT x.t, x.p");
    for (int i = 0; i < RC__COUNT; i++)
        sb_add(&b, ", x.c%d", i);
    sb_add(&b, ", coalesce(n.k, 0) FROM unnest($1::text[], $2::%s[]", typ);
    for (int i = 0; i < RC__COUNT; i++)
        sb_add(&b, ", $%d::bigint[]", i + 3);
    sb_add(&b, ") WITH ORDINALITY AS x(t, p");
    for (int i = 0; i < RC__COUNT; i++)
        sb_add(&b, ", c%d", i);
    sb_add(&b, ", o) LEFT JOIN n ON n.tenant_id = x.t AND n.p = x.p ORDER BY x.o "
               "ON CONFLICT (tenant_id, %s) DO UPDATE SET active_users = r.active_users + excluded.active_users",
           col);
    for (int i = 0; i < RC__COUNT; i++)
        sb_add(&b, ", %s = r.%s + excluded.%s", tp_rollup_counter_names[i], tp_rollup_counter_names[i],
               tp_rollup_counter_names[i]);
    if (b.bad) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

int tp_rollup_sql_new(tp_rollup_sql **out)
{
    *out = NULL;
    tp_rollup_sql *s = calloc(1, sizeof *s);
    if (!s)
        return TP_ENOMEM;
    for (int i = 0; i < MAX_PARAMS; i++)
        tp_pgarr_init(&s->arr[i]);
    s->period_sql[0] = build_period_sql(0);
    s->period_sql[1] = build_period_sql(1);
    if (!s->period_sql[0] || !s->period_sql[1]) {
        tp_rollup_sql_free(s);
        return TP_ENOMEM;
    }
    *out = s;
    return 0;
}

void tp_rollup_sql_free(tp_rollup_sql *s)
{
    if (!s)
        return;
    free(s->period_sql[0]);
    free(s->period_sql[1]);
    for (int i = 0; i < MAX_PARAMS; i++)
        tp_pgarr_free(&s->arr[i]);
    free(s);
}

static void reset_arrays(tp_rollup_sql *s, int n)
{
    for (int i = 0; i < n; i++)
        tp_pgarr_reset(&s->arr[i]);
}

/* Finish arrays [first, first+n) into params[first..]; params before first are the caller's. */
static int finish_arrays(tp_rollup_sql *s, int first, int n, const char **params, char *err, size_t errlen)
{
    for (int i = first; i < first + n; i++)
        if (tp_pgarr_finish(&s->arr[i - first], &params[i]) != 0)
            return tp_errf(err, errlen, TP_ENOMEM, "out of memory building a rollup statement");
    return 0;
}

static int run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want, PGresult **keep,
               const char *what, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        char msg[384];
        int rc = tp_db_classify(c, res, msg, sizeof msg);
        PQclear(res);
        return tp_errf(err, errlen, rc ? rc : TP_EINTERNAL, "%s: %s", what, msg);
    }
    if (keep)
        *keep = res;
    else
        PQclear(res);
    return 0;
}

int tp_rollup_sql_seen(tp_rollup_sql *s, PGconn *c, const char *const *ids, const int64_t *occurred_ms, size_t n,
                       tp_keytab *fresh, char *err, size_t errlen)
{
    tp_keytab_reset(fresh);
    if (!n)
        return 0;
    reset_arrays(s, 2);
    for (size_t i = 0; i < n; i++) {
        tp_pgarr_add_str(&s->arr[0], ids[i]);
        tp_pgarr_add_ts(&s->arr[1], occurred_ms[i]);
    }
    const char *p[2];
    int rc = finish_arrays(s, 0, 2, p, err, errlen);
    PGresult *res = NULL;
    if (rc || (rc = run(c, seen_sql, 2, p, PGRES_TUPLES_OK, &res, "recording event ids", err, errlen)))
        return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        if (!tp_keytab_get(fresh, id, strlen(id), NULL)) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory reading new event ids");
            break;
        }
    }
    PQclear(res);
    return rc;
}

static int apply_periods(tp_rollup_sql *s, PGconn *c, tp_keytab *periods, tp_keytab *members, int daily, char *err,
                         size_t errlen)
{
    if (!tp_keytab_count(periods))
        return 0;
    size_t *order = NULL, *morder = NULL;
    int rc = tp_keytab_sorted(periods, &order);
    if (!rc)
        rc = tp_keytab_sorted(members, &morder);
    if (rc) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory sorting rollup rows");
        goto out;
    }
    int np = RC__COUNT + 5;
    reset_arrays(s, np);
    for (size_t k = 0; k < tp_keytab_count(periods); k++) {
        const tp_rollup_period *p = tp_keytab_at(periods, order[k]);
        tp_pgarr_add_str(&s->arr[0], p->tenant_id);
        if (daily)
            tp_pgarr_add_date(&s->arr[1], p->period);
        else
            tp_pgarr_add_ts(&s->arr[1], p->period);
        for (int i = 0; i < RC__COUNT; i++)
            tp_pgarr_add_i64(&s->arr[2 + i], p->c[i]);
    }
    for (size_t k = 0; k < tp_keytab_count(members); k++) {
        const tp_rollup_member *m = tp_keytab_at(members, morder[k]);
        tp_pgarr_add_str(&s->arr[RC__COUNT + 2], m->tenant_id);
        if (daily)
            tp_pgarr_add_date(&s->arr[RC__COUNT + 3], m->period);
        else
            tp_pgarr_add_ts(&s->arr[RC__COUNT + 3], m->period);
        tp_pgarr_add_str(&s->arr[RC__COUNT + 4], m->user_id);
    }
    const char *params[MAX_PARAMS];
    if (!(rc = finish_arrays(s, 0, np, params, err, errlen)))
        rc = run(c, s->period_sql[daily], np, params, PGRES_COMMAND_OK, NULL,
                 daily ? "upserting daily rollup" : "upserting hourly rollup", err, errlen);
out:
    free(order);
    free(morder);
    return rc;
}

static int apply_users(tp_rollup_sql *s, PGconn *c, tp_keytab *users, char *err, size_t errlen)
{
    if (!tp_keytab_count(users))
        return 0;
    size_t *order = NULL;
    if (tp_keytab_sorted(users, &order))
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory sorting users");
    reset_arrays(s, 5);
    for (size_t k = 0; k < tp_keytab_count(users); k++) {
        const tp_rollup_user *u = tp_keytab_at(users, order[k]);
        tp_pgarr_add_str(&s->arr[0], u->tenant_id);
        tp_pgarr_add_str(&s->arr[1], u->user_id);
        tp_pgarr_add_ts_opt(&s->arr[2], u->has_added, u->added_ms);
        tp_pgarr_add_ts_opt(&s->arr[3], u->has_deleted, u->deleted_ms);
        tp_pgarr_add_ts_opt(&s->arr[4], u->has_activity, u->activity_ms);
    }
    free(order);
    const char *p[5];
    int rc = finish_arrays(s, 0, 5, p, err, errlen);
    return rc ? rc : run(c, users_sql, 5, p, PGRES_COMMAND_OK, NULL, "upserting users", err, errlen);
}

static int apply_totals(tp_rollup_sql *s, PGconn *c, tp_keytab *totals, char *err, size_t errlen)
{
    if (!tp_keytab_count(totals))
        return 0;
    size_t *order = NULL;
    if (tp_keytab_sorted(totals, &order))
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory sorting tenants");
    reset_arrays(s, 5);
    for (size_t k = 0; k < tp_keytab_count(totals); k++) {
        const tp_rollup_total *t = tp_keytab_at(totals, order[k]);
        tp_pgarr_add_str(&s->arr[0], t->tenant_id);
        tp_pgarr_add_i64(&s->arr[1], t->users_added);
        tp_pgarr_add_i64(&s->arr[2], t->users_deleted);
        tp_pgarr_add_ts_opt(&s->arr[3], t->has_activity, t->activity_ms);
        tp_pgarr_add_i64(&s->arr[4], t->events);
    }
    free(order);
    const char *p[5];
    int rc = finish_arrays(s, 0, 5, p, err, errlen);
    if (!rc) /* the tenant row first, so reporting.tenants lists a tenant seen only in user events */
        rc = run(c, tenants_known_sql, 1, p, PGRES_COMMAND_OK, NULL, "registering tenants", err, errlen);
    if (!rc)
        rc = run(c, totals_sql, 5, p, PGRES_COMMAND_OK, NULL, "upserting tenant totals", err, errlen);
    return rc;
}

static int apply_profiles(tp_rollup_sql *s, PGconn *c, tp_keytab *profiles, char *err, size_t errlen)
{
    if (!tp_keytab_count(profiles))
        return 0;
    size_t *order = NULL;
    if (tp_keytab_sorted(profiles, &order))
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory sorting profiles");
    reset_arrays(s, 12);
    for (size_t k = 0; k < tp_keytab_count(profiles); k++) {
        const tp_rollup_profile *p = tp_keytab_at(profiles, order[k]);
        tp_pgarr_add_str(&s->arr[0], p->tenant_id);
        if (p->has_name)
            tp_pgarr_add_str(&s->arr[1], p->company_name);
        else
            tp_pgarr_add_null(&s->arr[1]);
        tp_pgarr_add_ts_opt(&s->arr[2], p->has_name, p->name_ms);
        if (p->has_industry)
            tp_pgarr_add_str(&s->arr[3], p->industry);
        else
            tp_pgarr_add_null(&s->arr[3]);
        tp_pgarr_add_ts_opt(&s->arr[4], p->has_industry, p->industry_ms);
        if (p->has_plan)
            tp_pgarr_add_str(&s->arr[5], p->plan);
        else
            tp_pgarr_add_null(&s->arr[5]);
        tp_pgarr_add_ts_opt(&s->arr[6], p->has_plan, p->plan_ms);
        if (p->has_sentiment)
            tp_pgarr_add_double(&s->arr[7], p->sentiment);
        else
            tp_pgarr_add_null(&s->arr[7]);
        tp_pgarr_add_ts_opt(&s->arr[8], p->has_sentiment, p->sentiment_ms);
        tp_pgarr_add_ts_opt(&s->arr[9], p->has_created, p->created_ms);
        tp_pgarr_add_ts_opt(&s->arr[10], p->has_closed, p->closed_ms);
        if (p->has_closed)
            tp_pgarr_add_str(&s->arr[11], p->close_reason);
        else
            tp_pgarr_add_null(&s->arr[11]);
    }
    free(order);
    const char *p[12];
    int rc = finish_arrays(s, 0, 12, p, err, errlen);
    return rc ? rc : run(c, profiles_sql, 12, p, PGRES_COMMAND_OK, NULL, "upserting tenant profiles", err, errlen);
}

static int apply_signups(tp_rollup_sql *s, PGconn *c, tp_keytab *signups, const char *source, char *err,
                         size_t errlen)
{
    if (!tp_keytab_count(signups))
        return 0;
    size_t *order = NULL;
    if (tp_keytab_sorted(signups, &order))
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory sorting sign-ups");
    reset_arrays(s, 3);
    for (size_t k = 0; k < tp_keytab_count(signups); k++) {
        const tp_rollup_signup *g = tp_keytab_at(signups, order[k]);
        tp_pgarr_add_ts(&s->arr[0], g->hour_ms);
        tp_pgarr_add_i64(&s->arr[1], g->tenants_created);
        tp_pgarr_add_i64(&s->arr[2], g->users_added);
    }
    free(order);
    const char *p[4] = {source};
    int rc = finish_arrays(s, 1, 3, p, err, errlen);
    return rc ? rc : run(c, signups_sql, 4, p, PGRES_COMMAND_OK, NULL, "upserting sign-ups", err, errlen);
}

int tp_rollup_sql_apply(tp_rollup_sql *s, PGconn *c, tp_rollup_agg *agg, const char *source, char *err,
                        size_t errlen)
{
    /* One fixed table order for every batch (with rows in key order inside each), so two
     * shards' transactions wait on each other at worst, never deadlock. */
    int rc = apply_periods(s, c, agg->hourly, agg->au_hourly, 0, err, errlen);
    if (!rc)
        rc = apply_periods(s, c, agg->daily, agg->au_daily, 1, err, errlen);
    if (!rc)
        rc = apply_users(s, c, agg->users, err, errlen);
    if (!rc)
        rc = apply_totals(s, c, agg->totals, err, errlen);
    if (!rc)
        rc = apply_profiles(s, c, agg->profiles, err, errlen);
    if (!rc)
        rc = tp_rollup_apply_datasets(c, agg, err, errlen);
    if (!rc)
        rc = apply_signups(s, c, agg->signups, source, err, errlen);
    return rc;
}

/* routes_metrics.c — platform-wide figures: GET /v1/metrics/summary and /v1/metrics/signups.
 *
 * The login.gov questions ("how many sign-ups this month", "how many users so far", "the hourly
 * sign-up trend") answered from the sign-up and activity rollups instead of scanning events. A
 * tenant-scoped key gets the same figures restricted to its own tenant. */
#include <stdio.h>
#include <string.h>

#include "api.h"

/* ------------------------------------------------------------------ summary */

static const tp_query_col summary_cols[] = {
    {"as_of", TP_QCOL_TIME},
    {"tenants_total", TP_QCOL_INT},
    {"tenants_active", TP_QCOL_INT},
    {"tenants_closed", TP_QCOL_INT},
    {"users_total", TP_QCOL_INT},
    {"users_added_total", TP_QCOL_INT},
    {"month_start", TP_QCOL_TIME},
    {"tenants_created_this_month", TP_QCOL_INT},
    {"users_added_this_month", TP_QCOL_INT},
    {"day_start", TP_QCOL_TIME},
    {"jobs_submitted_today", TP_QCOL_INT},
    {"jobs_terminated_today", TP_QCOL_INT},
    {"jobs_succeeded_today", TP_QCOL_INT},
    {"jobs_failed_today", TP_QCOL_INT},
    {"jobs_cancelled_today", TP_QCOL_INT},
};

/* $1 scope tenant (NULL = all), $2 month start (timestamptz), $3 month start (date), $4 today (date),
 * $5 now ms, $6 month start ms, $7 day start ms. Users so far come from the per-tenant totals
 * (one row per tenant), this month's sign-ups from the hourly sign-up rollup (an index range), or
 * from the tenant's own daily rollup for a tenant-scoped key. */
static const char summary_sql[] =
    "WITH t AS ("
    "  SELECT count(*) AS total, count(*) FILTER (WHERE status = 'active') AS active,"
    "         count(*) FILTER (WHERE status = 'closed') AS closed, COALESCE(sum(user_count), 0) AS users,"
    "         COALESCE(sum(users_added), 0) AS added,"
    "         count(*) FILTER (WHERE created_at >= $2::timestamptz) AS created_month"
    "  FROM query.tenants WHERE $1::text IS NULL OR tenant_id = $1),"
    " m AS ("
    "  SELECT COALESCE(sum(users_added), 0) AS added_month FROM reporting.signups_hourly"
    "  WHERE $1::text IS NULL AND hour >= $2::timestamptz"
    "  UNION ALL"
    "  SELECT COALESCE(sum(users_added), 0) FROM reporting.tenant_activity_daily"
    "  WHERE $1::text IS NOT NULL AND tenant_id = $1 AND day >= $3::date),"
    " j AS ("
    "  SELECT COALESCE(sum(jobs_submitted), 0) AS submitted, COALESCE(sum(jobs_terminated), 0) AS terminated,"
    "         COALESCE(sum(jobs_succeeded), 0) AS succeeded, COALESCE(sum(jobs_failed), 0) AS failed,"
    "         COALESCE(sum(jobs_cancelled), 0) AS cancelled"
    "  FROM reporting.tenant_activity_daily WHERE day = $4::date AND ($1::text IS NULL OR tenant_id = $1))"
    " SELECT $5::bigint, t.total, t.active, t.closed, t.users, t.added,"
    "        $6::bigint, t.created_month, (SELECT sum(added_month) FROM m),"
    "        $7::bigint, j.submitted, j.terminated, j.succeeded, j.failed, j.cancelled"
    " FROM t, j";

static void summary(tp_http_req *req, void *ctx)
{
    static const char *const allowed[] = {NULL};
    tp_query_ctx cx;
    tp_query_table *t = NULL;
    if (tp_query_begin(ctx, req, allowed, &cx))
        goto out;

    char today[16], month_date[16], month_ts[32], now_ms[24], month_ms[24], day_ms[24];
    int64_t day_start = tp_query_floor(cx.now_ms, TP_QUERY_MS_DAY);
    tp_query_date_format(cx.now_ms, today);
    snprintf(month_date, sizeof month_date, "%.8s01", today); /* "YYYY-MM-" + "01" */
    int64_t month_start = 0;
    if (tp_query_time_parse(month_date, &month_start)) {
        tp_query_fail_internal(&cx, TP_EINTERNAL, "summary");
        goto out;
    }
    tp_query_time_format(month_start, month_ts);
    snprintf(now_ms, sizeof now_ms, "%lld", (long long)cx.now_ms);
    snprintf(month_ms, sizeof month_ms, "%lld", (long long)month_start);
    snprintf(day_ms, sizeof day_ms, "%lld", (long long)day_start);
    const char *params[] = {cx.scope_tenant, month_ts, month_date, today, now_ms, month_ms, day_ms};
    if (tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, summary_sql, 7, params, summary_cols,
                       sizeof summary_cols / sizeof summary_cols[0], &t))
        goto out;
    if (tp_query_table_rows(t) != 1) {
        tp_query_fail_internal(&cx, TP_EINTERNAL, "summary");
        goto out;
    }
    tp_query_buf b = TP_QUERY_BUF_INIT;
    if (cx.csv)
        tp_query_table_csv(t, &b);
    else
        tp_query_table_json_object(t, 0, &b);
    tp_query_send(&cx, &b);
out:
    tp_query_table_free(t);
    tp_query_end(&cx);
}

/* ------------------------------------------------------------------ signups */

static const tp_query_col signup_cols[] = {
    {"start", TP_QCOL_TIME},
    {"tenants_created", TP_QCOL_INT},
    {"users_added", TP_QCOL_INT},
};
#define NSIGNUP (sizeof signup_cols / sizeof signup_cols[0])

/* All tenants: the sign-up rollups. $1 from, $2 to. */
static const char signups_all_hour[] =
    "SELECT " TP_SQL_HOUR_S("hour") ", tenants_created, users_added FROM reporting.signups_hourly"
    " WHERE hour >= $1::timestamptz AND hour < $2::timestamptz ORDER BY hour";
static const char signups_all_day[] =
    "SELECT " TP_SQL_DAY_S("day") ", tenants_created, users_added FROM reporting.signups_daily"
    " WHERE day >= $1::date AND day < $2::date ORDER BY day";

/* One tenant ($3): its own creation plus the users it added, per period. */
static const char signups_one_hour[] =
    "SELECT s, sum(tc)::bigint, sum(ua)::bigint FROM ("
    "  SELECT " TP_SQL_HOUR_S("hour") " AS s, 0 AS tc, users_added AS ua FROM reporting.tenant_activity_hourly"
    "  WHERE tenant_id = $3 AND hour >= $1::timestamptz AND hour < $2::timestamptz AND users_added > 0"
    "  UNION ALL"
    "  SELECT " TP_SQL_HOUR_S("date_trunc('hour', created_at AT TIME ZONE 'UTC')") ", 1, 0 FROM query.tenants"
    "  WHERE tenant_id = $3 AND created_at >= $1::timestamptz AND created_at < $2::timestamptz"
    ") x GROUP BY s ORDER BY s";
static const char signups_one_day[] =
    "SELECT s, sum(tc)::bigint, sum(ua)::bigint FROM ("
    "  SELECT " TP_SQL_DAY_S("day") " AS s, 0 AS tc, users_added AS ua FROM reporting.tenant_activity_daily"
    "  WHERE tenant_id = $3 AND day >= $1::date AND day < $2::date AND users_added > 0"
    "  UNION ALL"
    "  SELECT " TP_SQL_DAY_S("(created_at AT TIME ZONE 'UTC')::date") ", 1, 0 FROM query.tenants"
    "  WHERE tenant_id = $3 AND created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'"
    "    AND created_at < ($2::date)::timestamp AT TIME ZONE 'UTC'"
    ") x GROUP BY s ORDER BY s";

static void signups(tp_http_req *req, void *ctx)
{
    static const char *const allowed[] = {"from", "to", "granularity", NULL};
    tp_query_ctx cx;
    tp_query_table *rows = NULL, *series = NULL;
    if (tp_query_begin(ctx, req, allowed, &cx))
        goto out;
    tp_query_api *api = ctx;
    tp_query_range_opts ro = {cx.now_ms, TP_QUERY_GRAN_BIT(TP_QUERY_HOUR) | TP_QUERY_GRAN_BIT(TP_QUERY_DAY),
                              TP_QUERY_HOUR, api->max_hour_days, api->max_day_days};
    tp_query_range rg;
    tp_query_perr e;
    if (tp_query_range_parse(&cx.args, &ro, &rg, &e)) {
        tp_query_reject(&cx, &e);
        goto out;
    }
    char from[32], to[32];
    if (rg.gran == TP_QUERY_HOUR) {
        tp_query_time_format(rg.from_ms, from);
        tp_query_time_format(rg.to_ms, to);
    } else {
        tp_query_date_format(rg.from_ms, from);
        tp_query_date_format(rg.to_ms, to);
    }
    const char *params[] = {from, to, cx.scope_tenant};
    const char *sql = cx.scope_tenant ? (rg.gran == TP_QUERY_HOUR ? signups_one_hour : signups_one_day)
                                      : (rg.gran == TP_QUERY_HOUR ? signups_all_hour : signups_all_day);
    if (tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, sql, cx.scope_tenant ? 3 : 2, params, signup_cols, NSIGNUP, &rows))
        goto out;
    int rc = tp_query_series_fill(rows, rg.from_ms, rg.to_ms, tp_query_gran_ms(rg.gran), signup_cols, &series);
    if (rc) {
        tp_query_fail_internal(&cx, rc, "signups");
        goto out;
    }
    tp_query_send_series(&cx, &rg, NULL, series);
out:
    tp_query_table_free(rows);
    tp_query_table_free(series);
    tp_query_end(&cx);
}

int tp_query_routes_metrics(tp_http_server *s, tp_query_api *api)
{
    int rc = tp_http_route(s, "GET", "/v1/metrics/summary", summary, api);
    if (!rc)
        rc = tp_http_route(s, "GET", "/v1/metrics/signups", signups, api);
    return rc;
}

/* routes_insights.c — per-tenant rankings over a time window.
 *
 *   GET /v1/insights/engagement    "which customers do little after logging in"
 *   GET /v1/insights/least-active  "the customers doing the very minimum"
 *   GET /v1/insights/data-size     data-set size per tenant and its growth
 *
 * A window is N days (summed from the daily rollups, whole UTC days) or N hours (hourly rollups)
 * ending at `to` rounded up to the unit — `to` defaults to now, so 7d means the last 7 UTC days
 * including today; tests pass an explicit `to` for reproducible answers. Tenants count when they
 * existed during the window: created before its end and not closed before its start. */
#include <stdio.h>
#include <string.h>

#include "api.h"

static const char *const statuses[] = {"active", "closed", NULL};

#define DAY_PRED "day >= $1::date AND day < $2::date"
#define HOUR_PRED "hour >= $1::timestamptz AND hour < $2::timestamptz"
#define ALIVE_IN_WINDOW                                                                                \
    " t.created_at < $4::timestamptz AND (t.closed_at IS NULL OR t.closed_at >= $3::timestamptz)" \
    " AND ($6::text IS NULL OR t.status = $6)"
/* The tenant scope is spelled into the statement text rather than tested as "$5 IS NULL OR
 * tenant_id = $5": each variant then has one good generic plan and can be prepared once per
 * connection (TP_QUERY_PLAN_CACHED), which saves the planning that was a third of the work. */
#define SCOPE_ALL(col) " AND $5::text IS NULL"
#define SCOPE_ONE(col) " AND " col " = $5"

/* Parameters shared by every insight: $1/$2 window as dates or timestamps (per unit), $3/$4 as
 * timestamps, $5 scope tenant, $6 status filter, $7 limit. */
struct window_params {
    char from[32], to[32], from_ts[32], to_ts[32], limit[24];
    const char *v[7];
};

static void window_params_fill(struct window_params *p, const tp_query_window *w, const char *scope,
                               const char *status, long limit)
{
    tp_query_time_format(w->from_ms, p->from_ts);
    tp_query_time_format(w->to_ms, p->to_ts);
    if (w->unit == TP_QUERY_DAY) {
        tp_query_date_format(w->from_ms, p->from);
        tp_query_date_format(w->to_ms, p->to);
    } else {
        strcpy(p->from, p->from_ts);
        strcpy(p->to, p->to_ts);
    }
    snprintf(p->limit, sizeof p->limit, "%ld", limit);
    const char *v[7] = {p->from, p->to, p->from_ts, p->to_ts, scope, status, p->limit};
    memcpy(p->v, v, sizeof v);
}

static void window_extra(tp_query_buf *b, void *arg)
{
    const tp_query_window *w = arg;
    tp_query_buf_puts(b, ",\"window\":");
    tp_query_buf_json_str(b, w->text);
    tp_query_json_time(b, "from", w->from_ms);
    tp_query_json_time(b, "to", w->to_ms);
}

/* Common prelude: window (default def), to, status, limit. Returns 0 or -1 after answering. */
static int insight_params(tp_query_ctx *cx, const char *def_window, long def_limit, tp_query_window *w,
                          const char **status, long *limit)
{
    tp_query_perr e;
    int status_i;
    if (tp_query_window_parse(&cx->args, def_window, cx->now_ms, w, &e) ||
        tp_query_enum_parse(&cx->args, "status", statuses, &status_i, &e) ||
        tp_query_int_parse(&cx->args, "limit", def_limit, 1, 1000, limit, &e))
        return tp_query_reject(cx, &e);
    *status = status_i >= 0 ? statuses[status_i] : NULL;
    return 0;
}

/* ------------------------------------------------------------------ engagement */

static const tp_query_col engagement_cols[] = {
    {"tenant_id", TP_QCOL_TEXT},
    {"company_name", TP_QCOL_TEXT},
    {"status", TP_QCOL_TEXT},
    {"logins", TP_QCOL_INT},
    {"dataset_actions", TP_QCOL_INT},
    {"jobs_submitted", TP_QCOL_INT},
    {"actions_per_login", TP_QCOL_NUM},
    {"dataset_actions_per_login", TP_QCOL_NUM},
    {"jobs_per_login", TP_QCOL_NUM},
};

/* Lowest actions per login first; tenants without a login in the window (ratio NULL) come last,
 * most logins first among equals. */
#define ENGAGEMENT_SQL(src, pred, scope)                                                                  \
    "WITH a AS (SELECT tenant_id, sum(logins) AS logins, sum(dataset_actions) AS dataset_actions,"       \
    "                  sum(jobs_submitted) AS jobs_submitted"                                              \
    "           FROM " src " WHERE " pred scope("tenant_id") " GROUP BY tenant_id)"                        \
    " SELECT t.tenant_id, t.company_name, t.status, COALESCE(a.logins, 0) AS logins,"                      \
    "        COALESCE(a.dataset_actions, 0), COALESCE(a.jobs_submitted, 0),"                               \
    "        (a.dataset_actions + a.jobs_submitted)::float8 / NULLIF(a.logins, 0)::float8 AS actions_per_login," \
    "        a.dataset_actions::float8 / NULLIF(a.logins, 0)::float8,"                                     \
    "        a.jobs_submitted::float8 / NULLIF(a.logins, 0)::float8"                                       \
    " FROM query.tenants t LEFT JOIN a ON a.tenant_id = t.tenant_id"                                   \
    " WHERE" ALIVE_IN_WINDOW scope("t.tenant_id")                                                          \
    " ORDER BY actions_per_login ASC NULLS LAST, logins DESC, t.tenant_id LIMIT $7::int"

/* [unit][scoped] */
static const char *const engagement_sql[2][2] = {
    {ENGAGEMENT_SQL("reporting.tenant_activity_hourly", HOUR_PRED, SCOPE_ALL),
     ENGAGEMENT_SQL("reporting.tenant_activity_hourly", HOUR_PRED, SCOPE_ONE)},
    {ENGAGEMENT_SQL("reporting.tenant_activity_daily", DAY_PRED, SCOPE_ALL),
     ENGAGEMENT_SQL("reporting.tenant_activity_daily", DAY_PRED, SCOPE_ONE)},
};

/* ------------------------------------------------------------------ least active */

static const tp_query_col least_cols[] = {
    {"tenant_id", TP_QCOL_TEXT},       {"company_name", TP_QCOL_TEXT},    {"status", TP_QCOL_TEXT},
    {"activity", TP_QCOL_INT},         {"logins", TP_QCOL_INT},           {"dataset_actions", TP_QCOL_INT},
    {"jobs_submitted", TP_QCOL_INT},   {"sessions", TP_QCOL_INT},         {"session_seconds", TP_QCOL_INT},
    {"events", TP_QCOL_INT},           {"active_periods", TP_QCOL_INT},   {"user_count", TP_QCOL_INT},
    {"data_size_bytes", TP_QCOL_INT},  {"last_activity_at", TP_QCOL_TIME}, {"created_at", TP_QCOL_TIME},
};

/* activity = logins + data-lake actions + jobs submitted in the window: the work a customer does.
 * Ties: fewer events, then the longest idle (no activity at all first), then id. */
#define LEAST_SQL(src, pred, scope)                                                                        \
    "WITH a AS (SELECT tenant_id, sum(logins) AS logins, sum(dataset_actions) AS dataset_actions,"        \
    "                  sum(jobs_submitted) AS jobs_submitted, sum(sessions) AS sessions,"                   \
    "                  sum(session_seconds) AS session_seconds, sum(events) AS events,"                     \
    "                  count(*) FILTER (WHERE events > 0) AS active_periods"                               \
    "           FROM " src " WHERE " pred scope("tenant_id") " GROUP BY tenant_id)"                         \
    " SELECT t.tenant_id, t.company_name, t.status,"                                                        \
    "        COALESCE(a.logins + a.dataset_actions + a.jobs_submitted, 0) AS activity,"                     \
    "        COALESCE(a.logins, 0), COALESCE(a.dataset_actions, 0), COALESCE(a.jobs_submitted, 0),"         \
    "        COALESCE(a.sessions, 0), COALESCE(a.session_seconds, 0), COALESCE(a.events, 0) AS events,"     \
    "        COALESCE(a.active_periods, 0), t.user_count, t.data_size_bytes,"                                \
    "        " TP_SQL_MS("t.last_activity_at") ", " TP_SQL_MS("t.created_at")                              \
    " FROM query.tenants t LEFT JOIN a ON a.tenant_id = t.tenant_id"                                    \
    " WHERE" ALIVE_IN_WINDOW scope("t.tenant_id")                                                           \
    " ORDER BY activity ASC, events ASC, t.last_activity_at ASC NULLS FIRST, t.tenant_id LIMIT $7::int"

/* [unit][scoped] */
static const char *const least_sql[2][2] = {
    {LEAST_SQL("reporting.tenant_activity_hourly", HOUR_PRED, SCOPE_ALL),
     LEAST_SQL("reporting.tenant_activity_hourly", HOUR_PRED, SCOPE_ONE)},
    {LEAST_SQL("reporting.tenant_activity_daily", DAY_PRED, SCOPE_ALL),
     LEAST_SQL("reporting.tenant_activity_daily", DAY_PRED, SCOPE_ONE)},
};

/* ------------------------------------------------------------------ ranking handler */

/* What distinguishes the two rankings; data size differs more (its sort) and has its own handler. */
struct ranking_def {
    const char *const (*sql)[2]; /* [unit][scoped] */
    const tp_query_col *cols;
    size_t ncols;
    const char *def_window;
    long def_limit;
};

static void ranking(tp_http_req *req, tp_query_api *api, const struct ranking_def *d)
{
    static const char *const allowed[] = {"window", "to", "status", "limit", NULL};
    tp_query_ctx cx;
    tp_query_table *t = NULL;
    tp_query_window w;
    const char *status;
    long limit;
    struct window_params p;
    if (tp_query_begin(api, req, allowed, &cx) || insight_params(&cx, d->def_window, d->def_limit, &w, &status, &limit))
        goto out;
    window_params_fill(&p, &w, cx.scope_tenant, status, limit);
    if (tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, d->sql[w.unit][cx.scope_tenant != NULL], 7, p.v, d->cols, d->ncols,
                       &t))
        goto out;
    tp_query_send_table(&cx, "tenants", t, window_extra, &w);
out:
    tp_query_table_free(t);
    tp_query_end(&cx);
}

static const struct ranking_def engagement_def = {
    engagement_sql, engagement_cols, sizeof engagement_cols / sizeof engagement_cols[0], "7d", 100};
static const struct ranking_def least_def = {least_sql, least_cols, sizeof least_cols / sizeof least_cols[0], "30d",
                                             10};

static void engagement(tp_http_req *req, void *ctx) { ranking(req, ctx, &engagement_def); }
static void least_active(tp_http_req *req, void *ctx) { ranking(req, ctx, &least_def); }

/* ------------------------------------------------------------------ data size */

static const tp_query_col size_cols[] = {
    {"tenant_id", TP_QCOL_TEXT},           {"company_name", TP_QCOL_TEXT},  {"status", TP_QCOL_TEXT},
    {"data_size_bytes", TP_QCOL_INT},      {"data_size_bytes_start", TP_QCOL_INT},
    {"growth_bytes", TP_QCOL_INT},         {"growth_pct", TP_QCOL_NUM},     {"change_days", TP_QCOL_INT},
};

static const tp_query_sort_key size_sort_keys[] = {
    {"data_size_bytes", 1}, {"growth_bytes", 1}, {"growth_pct", 1}, {"tenant_id", 0}};

/* Sizes at the window's end and start are the sums of the daily size changes before each bound
 * (query.data_size_changes, migration 010). The %s are, in order: the scope in the CTE and in the
 * outer query (SCOPE_ALL or SCOPE_ONE), the sort column (an output name) and its direction. */
static const char size_sql_fmt[] =
    "WITH c AS (SELECT tenant_id, sum(bytes_delta) FILTER (WHERE day < $2::date) AS end_bytes,"
    "                  sum(bytes_delta) FILTER (WHERE day < $1::date) AS start_bytes,"
    "                  count(*) FILTER (WHERE day >= $1::date AND day < $2::date) AS change_days"
    "           FROM query.data_size_changes WHERE day < $2::date%s"
    "           GROUP BY tenant_id)"
    " SELECT t.tenant_id, t.company_name, t.status, COALESCE(c.end_bytes, 0)::bigint AS data_size_bytes,"
    "        COALESCE(c.start_bytes, 0)::bigint AS data_size_bytes_start,"
    "        (COALESCE(c.end_bytes, 0) - COALESCE(c.start_bytes, 0))::bigint AS growth_bytes,"
    "        (COALESCE(c.end_bytes, 0) - c.start_bytes)::float8 * 100 / NULLIF(c.start_bytes, 0)::float8 AS growth_pct,"
    "        COALESCE(c.change_days, 0)"
    " FROM query.tenants t LEFT JOIN c ON c.tenant_id = t.tenant_id"
    " WHERE" ALIVE_IN_WINDOW "%s"
    " ORDER BY %s %s NULLS LAST, t.tenant_id LIMIT $7::int";

static void data_size(tp_http_req *req, void *ctx)
{
    static const char *const allowed[] = {"window", "to", "status", "limit", "sort", NULL};
    tp_query_ctx cx;
    tp_query_table *t = NULL;
    tp_query_window w;
    const char *status;
    long limit;
    size_t sort_i;
    int desc;
    tp_query_perr e;
    struct window_params p;
    if (tp_query_begin(ctx, req, allowed, &cx) || insight_params(&cx, "30d", 100, &w, &status, &limit))
        goto out;
    if (w.unit != TP_QUERY_DAY) {
        tp_query_fail(&e, "window", "must be in days (data-set sizes are kept per day), like 30d");
        tp_query_reject(&cx, &e);
        goto out;
    }
    if (tp_query_sort_parse(&cx.args, size_sort_keys, sizeof size_sort_keys / sizeof size_sort_keys[0], 0,
                            &sort_i, &desc, &e)) {
        tp_query_reject(&cx, &e);
        goto out;
    }
    char sql[sizeof size_sql_fmt + 128];
    snprintf(sql, sizeof sql, size_sql_fmt, cx.scope_tenant ? SCOPE_ONE("tenant_id") : SCOPE_ALL("tenant_id"),
             cx.scope_tenant ? SCOPE_ONE("t.tenant_id") : SCOPE_ALL("t.tenant_id"), size_sort_keys[sort_i].name,
             desc ? "DESC" : "ASC");
    window_params_fill(&p, &w, cx.scope_tenant, status, limit);
    if (tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, sql, 7, p.v, size_cols, sizeof size_cols / sizeof size_cols[0],
                       &t))
        goto out;
    tp_query_send_table(&cx, "tenants", t, window_extra, &w);
out:
    tp_query_table_free(t);
    tp_query_end(&cx);
}

int tp_query_routes_insights(tp_http_server *s, tp_query_api *api)
{
    int rc = tp_http_route(s, "GET", "/v1/insights/engagement", engagement, api);
    if (!rc)
        rc = tp_http_route(s, "GET", "/v1/insights/least-active", least_active, api);
    if (!rc)
        rc = tp_http_route(s, "GET", "/v1/insights/data-size", data_size, api);
    return rc;
}

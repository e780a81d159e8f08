/* routes_tenants.c — the tenant list, one tenant's profile, and its activity and job series.
 *
 *   GET /v1/tenants                      filter, sort, keyset (cursor) pagination
 *   GET /v1/tenants/{id}                 profile + all-time totals + the last 7 days
 *   GET /v1/tenants/{id}/activity        "how often do tenants log in, work on the data lake, then submit jobs"
 *   GET /v1/tenants/{id}/jobs            "how many batches per customer per day"
 *
 * All read the reporting views only. Sort columns and directions come from constant tables below
 * (the client picks an entry by name); every client value is a bound parameter. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "cursor.h"

/* ------------------------------------------------------------------ tenant rows */

static const tp_query_col tenant_cols[] = {
    {"tenant_id", TP_QCOL_TEXT},       {"company_name", TP_QCOL_TEXT},    {"industry", TP_QCOL_TEXT},
    {"plan", TP_QCOL_TEXT},            {"sentiment", TP_QCOL_NUM},        {"status", TP_QCOL_TEXT},
    {"created_at", TP_QCOL_TIME},      {"closed_at", TP_QCOL_TIME},       {"close_reason", TP_QCOL_TEXT},
    {"user_count", TP_QCOL_INT},       {"data_size_bytes", TP_QCOL_INT},  {"last_activity_at", TP_QCOL_TIME},
    {"churn_score", TP_QCOL_NUM},      {"churn_scored_at", TP_QCOL_TIME},
};
#define NTENANT (sizeof tenant_cols / sizeof tenant_cols[0])

#define TENANT_SELECT                                                                                            \
    "t.tenant_id, t.company_name, t.industry, t.plan, t.sentiment, t.status, " TP_SQL_MS("t.created_at") ", " \
    TP_SQL_MS("t.closed_at") ", t.close_reason, t.user_count, t.data_size_bytes, "                             \
    TP_SQL_MS("t.last_activity_at") ", t.churn_score, " TP_SQL_MS("t.churn_scored_at")

/* Sortable fields. Each expression is NOT NULL (NULLs sort as the lowest value) so that a
 * keyset condition "(key, tenant_id) > (cursor key, cursor id)" is exact; timestamps compare
 * as microseconds so no two distinct instants share a key. */
static const tp_query_sort_key sort_keys[] = {
    {"tenant_id", 0},  {"company_name", 0},    {"created_at", 1}, {"last_activity_at", 1},
    {"user_count", 1}, {"data_size_bytes", 1}, {"churn_score", 1}, {"sentiment", 1},
};
static const struct {
    const char *expr;
    const char *type;
    tp_query_key_kind kind;
} sort_defs[] = {
    {"t.tenant_id", "text", TP_QUERY_KEY_TEXT},
    {"COALESCE(t.company_name, '')", "text", TP_QUERY_KEY_TEXT},
    {"floor(extract(epoch from t.created_at) * 1000000)::bigint", "bigint", TP_QUERY_KEY_INT},
    {"COALESCE(floor(extract(epoch from t.last_activity_at) * 1000000)::bigint, -9223372036854775807)", "bigint",
     TP_QUERY_KEY_INT},
    {"t.user_count", "bigint", TP_QUERY_KEY_INT},
    {"t.data_size_bytes", "bigint", TP_QUERY_KEY_INT},
    {"COALESCE(t.churn_score, '-Infinity'::float8)", "float8", TP_QUERY_KEY_NUM},
    {"COALESCE(t.sentiment, '-Infinity'::float8)", "float8", TP_QUERY_KEY_NUM},
};
#define NSORT (sizeof sort_keys / sizeof sort_keys[0])

/* %1 key expr, %2 key expr, %3 > or <, %4 key type, %5 key expr, %6 / %7 direction.
 * $1 scope, $2 status, $3 industry, $4 plan, $5 name prefix, $6 cursor key, $7 cursor id, $8 limit. */
static const char list_sql_fmt[] =
    "SELECT " TENANT_SELECT ", (%s)::text FROM query.tenants t"
    " WHERE ($1::text IS NULL OR t.tenant_id = $1) AND ($2::text IS NULL OR t.status = $2)"
    "   AND ($3::text IS NULL OR t.industry = $3) AND ($4::text IS NULL OR t.plan = $4)"
    "   AND ($5::text IS NULL OR starts_with(lower(t.company_name), lower($5)))"
    "   AND ($6::text IS NULL OR ((%s), t.tenant_id) %s ($6::%s, $7::text))"
    " ORDER BY (%s) %s, t.tenant_id %s LIMIT $8::int";

static const char *const statuses[] = {"active", "closed", NULL};
static const char *const plans[] = {"free", "starter", "business", "enterprise", NULL};

struct list_page {
    const char *next; /* NULL when this is the last page */
};

static void list_extra(tp_query_buf *b, void *arg)
{
    const struct list_page *pg = arg;
    tp_query_buf_puts(b, ",\"next\":");
    if (pg->next)
        tp_query_buf_json_str(b, pg->next);
    else
        tp_query_buf_puts(b, "null");
}

static void list_tenants(tp_http_req *req, void *ctx)
{
    static const char *const allowed[] = {"status", "industry", "plan", "q", "sort", "limit", "cursor", NULL};
    tp_query_ctx cx;
    tp_query_table *t = NULL;
    PGresult *res = NULL;
    if (tp_query_begin(ctx, req, allowed, &cx))
        goto out;

    tp_query_perr e;
    int status_i, plan_i;
    const char *industry, *q, *cursor;
    size_t sort_i;
    int desc;
    long limit;
    char cur_id[TP_ID_MAX + 1], cur_val[TP_QUERY_CURSOR_MAX], limit_s[24];
    if (tp_query_enum_parse(&cx.args, "status", statuses, &status_i, &e) ||
        tp_query_text_parse(&cx.args, "industry", 64, &industry, &e) ||
        tp_query_enum_parse(&cx.args, "plan", plans, &plan_i, &e) ||
        tp_query_text_parse(&cx.args, "q", 64, &q, &e) ||
        tp_query_sort_parse(&cx.args, sort_keys, NSORT, 0, &sort_i, &desc, &e) ||
        tp_query_int_parse(&cx.args, "limit", 100, 1, 1000, &limit, &e)) {
        tp_query_reject(&cx, &e);
        goto out;
    }
    cursor = tp_query_args_get(&cx.args, "cursor");
    if (cursor && tp_query_cursor_decode(cursor, sort_keys[sort_i].name, desc, sort_defs[sort_i].kind, cur_id,
                                         sizeof cur_id, cur_val, sizeof cur_val, &e)) {
        tp_query_reject(&cx, &e);
        goto out;
    }

    char sql[sizeof list_sql_fmt + 512];
    const char *expr = sort_defs[sort_i].expr, *dir = desc ? "DESC" : "ASC";
    snprintf(sql, sizeof sql, list_sql_fmt, expr, expr, desc ? "<" : ">", sort_defs[sort_i].type, expr, dir, dir);
    snprintf(limit_s, sizeof limit_s, "%ld", limit + 1); /* one more row tells whether a next page exists */
    const char *params[] = {cx.scope_tenant, status_i >= 0 ? statuses[status_i] : NULL, industry,
                            plan_i >= 0 ? plans[plan_i] : NULL, q, cursor ? cur_val : NULL,
                            cursor ? cur_id : NULL, limit_s};
    if (tp_query_exec(&cx, TP_QUERY_PLAN_CACHED, sql, 8, params, &res) ||
        tp_query_table_from(&cx, res, tenant_cols, NTENANT, &t))
        goto out;

    char next[TP_QUERY_CURSOR_MAX];
    struct list_page pg = {NULL};
    int n = PQntuples(res);
    if (n > limit) {
        /* The cursor is the last row shown (row limit-1); the extra row is not returned. */
        int last = (int)limit - 1;
        if (tp_query_cursor_encode(sort_keys[sort_i].name, desc, PQgetvalue(res, last, 0),
                                   PQgetvalue(res, last, (int)NTENANT), next, sizeof next) == 0)
            pg.next = next;
        tp_query_table_truncate(t, (size_t)limit);
    }
    if (cx.csv && pg.next)
        tp_http_req_add_header(req, "X-Next-Cursor", pg.next);
    tp_query_send_table(&cx, "tenants", t, list_extra, &pg);
out:
    PQclear(res);
    tp_query_table_free(t);
    tp_query_end(&cx);
}

/* ------------------------------------------------------------------ one tenant */

static const tp_query_col total_cols[] = {
    {"logins", TP_QCOL_INT},           {"logoffs", TP_QCOL_INT},         {"session_timeouts", TP_QCOL_INT},
    {"sessions", TP_QCOL_INT},         {"session_seconds", TP_QCOL_INT}, {"dataset_actions", TP_QCOL_INT},
    {"datasets_created", TP_QCOL_INT}, {"datasets_updated", TP_QCOL_INT}, {"datasets_deleted", TP_QCOL_INT},
    {"jobs_submitted", TP_QCOL_INT},   {"jobs_terminated", TP_QCOL_INT}, {"jobs_succeeded", TP_QCOL_INT},
    {"jobs_failed", TP_QCOL_INT},      {"jobs_cancelled", TP_QCOL_INT},  {"servers_used", TP_QCOL_INT},
    {"job_data_bytes", TP_QCOL_INT},   {"users_added", TP_QCOL_INT},     {"users_deleted", TP_QCOL_INT},
    {"events", TP_QCOL_INT},           {"active_days", TP_QCOL_INT},
};
#define NTOTAL (sizeof total_cols / sizeof total_cols[0])

static const char profile_sql[] = "SELECT " TENANT_SELECT " FROM query.tenants t WHERE t.tenant_id = $1";

/* $1 tenant, $2 / $3 optional day range. */
static const char totals_sql[] =
    "SELECT COALESCE(sum(logins), 0), COALESCE(sum(logoffs), 0), COALESCE(sum(session_timeouts), 0),"
    " COALESCE(sum(sessions), 0), COALESCE(sum(session_seconds), 0), COALESCE(sum(dataset_actions), 0),"
    " COALESCE(sum(datasets_created), 0), COALESCE(sum(datasets_updated), 0), COALESCE(sum(datasets_deleted), 0),"
    " COALESCE(sum(jobs_submitted), 0), COALESCE(sum(jobs_terminated), 0), COALESCE(sum(jobs_succeeded), 0),"
    " COALESCE(sum(jobs_failed), 0), COALESCE(sum(jobs_cancelled), 0), COALESCE(sum(servers_used), 0),"
    " COALESCE(sum(job_data_bytes), 0), COALESCE(sum(users_added), 0), COALESCE(sum(users_deleted), 0),"
    " COALESCE(sum(events), 0), count(*) FILTER (WHERE events > 0)"
    " FROM reporting.tenant_activity_daily"
    " WHERE tenant_id = $1 AND ($2::date IS NULL OR day >= $2::date) AND ($3::date IS NULL OR day < $3::date)";

static void get_tenant(tp_http_req *req, void *ctx)
{
    static const char *const allowed[] = {NULL};
    tp_query_ctx cx;
    tp_query_table *prof = NULL, *all = NULL, *week = NULL;
    if (tp_query_begin(ctx, req, allowed, &cx))
        goto out;
    const char *id = tp_http_req_param(req, "id");
    if (tp_query_tenant_visible(&cx, id))
        goto out;
    /* "Last 7 days" = the 7 UTC days ending with today, the same rule as window=7d in insights. */
    int64_t to = tp_query_ceil(cx.now_ms, TP_QUERY_MS_DAY), from = to - 7 * TP_QUERY_MS_DAY;
    char from_d[16], to_d[16];
    tp_query_date_format(from, from_d);
    tp_query_date_format(to, to_d);
    const char *p1[] = {id};
    const char *p_all[] = {id, NULL, NULL};
    const char *p_week[] = {id, from_d, to_d};
    if (tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, profile_sql, 1, p1, tenant_cols, NTENANT, &prof) ||
        tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, totals_sql, 3, p_all, total_cols, NTOTAL, &all) ||
        tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, totals_sql, 3, p_week, total_cols, NTOTAL, &week))
        goto out;
    if (tp_query_table_rows(prof) != 1 || tp_query_table_rows(all) != 1 || tp_query_table_rows(week) != 1) {
        /* Deleted between the visibility check and now: answer as if it never existed. */
        tp_http_respond_error(req, 404, "not_found", "id", "no tenant %s", id);
        goto out;
    }
    tp_query_buf b = TP_QUERY_BUF_INIT;
    char ts[32];
    if (cx.csv) {
        tp_query_table_csv_header_fields(prof, NULL, &b);
        tp_query_buf_putc(&b, ',');
        tp_query_table_csv_header_fields(all, "totals.", &b);
        tp_query_buf_puts(&b, ",last_7d.from,last_7d.to,");
        tp_query_table_csv_header_fields(week, "last_7d.", &b);
        tp_query_buf_puts(&b, "\r\n");
        tp_query_table_csv_row_fields(prof, 0, &b);
        tp_query_buf_putc(&b, ',');
        tp_query_table_csv_row_fields(all, 0, &b);
        tp_query_time_format(from, ts);
        tp_query_buf_printf(&b, ",%s,", ts);
        tp_query_time_format(to, ts);
        tp_query_buf_printf(&b, "%s,", ts);
        tp_query_table_csv_row_fields(week, 0, &b);
        tp_query_buf_puts(&b, "\r\n");
    } else {
        tp_query_buf_putc(&b, '{');
        tp_query_table_json_members(prof, 0, &b);
        tp_query_buf_puts(&b, ",\"totals\":");
        tp_query_table_json_object(all, 0, &b);
        tp_query_buf_puts(&b, ",\"last_7d\":{");
        tp_query_table_json_members(week, 0, &b);
        tp_query_json_time(&b, "from", from);
        tp_query_json_time(&b, "to", to);
        tp_query_buf_puts(&b, "}}");
    }
    tp_query_send(&cx, &b);
out:
    tp_query_table_free(prof);
    tp_query_table_free(all);
    tp_query_table_free(week);
    tp_query_end(&cx);
}

/* ------------------------------------------------------------------ series */

static const tp_query_col activity_cols[] = {
    {"start", TP_QCOL_TIME},           {"logins", TP_QCOL_INT},           {"logoffs", TP_QCOL_INT},
    {"session_timeouts", TP_QCOL_INT}, {"sessions", TP_QCOL_INT},         {"session_seconds", TP_QCOL_INT},
    {"session_minutes", TP_QCOL_NUM},  {"dataset_actions", TP_QCOL_INT},  {"datasets_created", TP_QCOL_INT},
    {"datasets_updated", TP_QCOL_INT}, {"datasets_deleted", TP_QCOL_INT}, {"jobs_submitted", TP_QCOL_INT},
    {"jobs_terminated", TP_QCOL_INT},  {"jobs_succeeded", TP_QCOL_INT},   {"jobs_failed", TP_QCOL_INT},
    {"jobs_cancelled", TP_QCOL_INT},   {"servers_used", TP_QCOL_INT},     {"job_data_bytes", TP_QCOL_INT},
    {"active_users", TP_QCOL_INT},     {"users_added", TP_QCOL_INT},      {"users_deleted", TP_QCOL_INT},
    {"events", TP_QCOL_INT},
};

#define ACTIVITY_COUNTERS                                                                                    \
    "logins, logoffs, session_timeouts, sessions, session_seconds, session_minutes::float8, dataset_actions," \
    " datasets_created, datasets_updated, datasets_deleted, jobs_submitted, jobs_terminated, jobs_succeeded,"  \
    " jobs_failed, jobs_cancelled, servers_used, job_data_bytes, active_users, users_added, users_deleted, events"

static const char activity_hour_sql[] =
    "SELECT " TP_SQL_HOUR_S("hour") ", " ACTIVITY_COUNTERS " FROM reporting.tenant_activity_hourly"
    " WHERE tenant_id = $1 AND hour >= $2::timestamptz AND hour < $3::timestamptz ORDER BY hour";
static const char activity_day_sql[] =
    "SELECT " TP_SQL_DAY_S("day") ", " ACTIVITY_COUNTERS " FROM reporting.tenant_activity_daily"
    " WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date ORDER BY day";

static const tp_query_col jobs_cols[] = {
    {"start", TP_QCOL_TIME},         {"jobs_submitted", TP_QCOL_INT}, {"jobs_terminated", TP_QCOL_INT},
    {"jobs_succeeded", TP_QCOL_INT}, {"jobs_failed", TP_QCOL_INT},    {"jobs_cancelled", TP_QCOL_INT},
    {"servers_used", TP_QCOL_INT},   {"job_data_bytes", TP_QCOL_INT},
};

#define JOB_COUNTERS \
    "jobs_submitted, jobs_terminated, jobs_succeeded, jobs_failed, jobs_cancelled, servers_used, job_data_bytes"

static const char jobs_hour_sql[] =
    "SELECT " TP_SQL_HOUR_S("hour") ", " JOB_COUNTERS " FROM reporting.tenant_activity_hourly"
    " WHERE tenant_id = $1 AND hour >= $2::timestamptz AND hour < $3::timestamptz"
    "   AND jobs_submitted + jobs_terminated + jobs_cancelled > 0 ORDER BY hour";
static const char jobs_day_sql[] =
    "SELECT " TP_SQL_DAY_S("day") ", " JOB_COUNTERS " FROM reporting.jobs_daily"
    " WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date ORDER BY day";

struct series_def {
    const tp_query_col *cols;
    size_t ncols;
    const char *hour_sql;
    const char *day_sql;
    tp_query_gran def_gran;
};

static const struct series_def activity_def = {activity_cols, sizeof activity_cols / sizeof activity_cols[0],
                                               activity_hour_sql, activity_day_sql, TP_QUERY_DAY};
static const struct series_def jobs_def = {jobs_cols, sizeof jobs_cols / sizeof jobs_cols[0], jobs_hour_sql,
                                           jobs_day_sql, TP_QUERY_DAY};

static void tenant_series(tp_http_req *req, tp_query_api *api, const struct series_def *d)
{
    static const char *const allowed[] = {"from", "to", "granularity", NULL};
    tp_query_ctx cx;
    tp_query_table *rows = NULL, *series = NULL;
    if (tp_query_begin(api, req, allowed, &cx))
        goto out;
    const char *id = tp_http_req_param(req, "id");
    tp_query_range_opts ro = {cx.now_ms, TP_QUERY_GRAN_BIT(TP_QUERY_HOUR) | TP_QUERY_GRAN_BIT(TP_QUERY_DAY),
                              d->def_gran, api->max_hour_days, api->max_day_days};
    tp_query_range rg;
    tp_query_perr e;
    /* Parameters first: a malformed request is a 400 whoever's tenant it names. */
    if (!tp_query_id_valid(id) ? tp_query_fail(&e, "id", "must be a tenant id, 1..64 characters of [A-Za-z0-9._-]")
                               : tp_query_range_parse(&cx.args, &ro, &rg, &e)) {
        tp_query_reject(&cx, &e);
        goto out;
    }
    if (tp_query_tenant_visible(&cx, id))
        goto out;
    char from[32], to[32];
    if (rg.gran == TP_QUERY_HOUR) {
        tp_query_time_format(rg.from_ms, from);
        tp_query_time_format(rg.to_ms, to);
    } else {
        tp_query_date_format(rg.from_ms, from);
        tp_query_date_format(rg.to_ms, to);
    }
    const char *params[] = {id, from, to};
    const char *sql = rg.gran == TP_QUERY_HOUR ? d->hour_sql : d->day_sql;
    if (tp_query_fetch(&cx, TP_QUERY_PLAN_CACHED, sql, 3, params, d->cols, d->ncols, &rows))
        goto out;
    int rc = tp_query_series_fill(rows, rg.from_ms, rg.to_ms, tp_query_gran_ms(rg.gran), d->cols, &series);
    if (rc) {
        tp_query_fail_internal(&cx, rc, "series");
        goto out;
    }
    tp_query_send_series(&cx, &rg, id, series);
out:
    tp_query_table_free(rows);
    tp_query_table_free(series);
    tp_query_end(&cx);
}

static void tenant_activity(tp_http_req *req, void *ctx) { tenant_series(req, ctx, &activity_def); }
static void tenant_jobs(tp_http_req *req, void *ctx) { tenant_series(req, ctx, &jobs_def); }

int tp_query_routes_tenants(tp_http_server *s, tp_query_api *api)
{
    int rc = tp_http_route(s, "GET", "/v1/tenants", list_tenants, api);
    if (!rc)
        rc = tp_http_route(s, "GET", "/v1/tenants/{id}", get_tenant, api);
    if (!rc)
        rc = tp_http_route(s, "GET", "/v1/tenants/{id}/activity", tenant_activity, api);
    if (!rc)
        rc = tp_http_route(s, "GET", "/v1/tenants/{id}/jobs", tenant_jobs, api);
    return rc;
}

/* api.c — the request prelude, SQL execution and answers shared by the routes (see api.h). */
#include "api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp/log.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void collect_arg(void *ctx, const char *k, const char *v) { tp_query_args_add(ctx, k, v); }

int tp_query_begin(tp_query_api *api, tp_http_req *req, const char *const *allowed, tp_query_ctx *cx)
{
    memset(cx, 0, sizeof *cx);
    cx->api = api;
    cx->req = req;
    cx->now_ms = wall_ms();

    int rc = tp_auth_verify(api->auth, tp_http_req_header(req, "Authorization"), &cx->who);
    if (rc == TP_EAUTH) {
        tp_http_req_add_header(req, "WWW-Authenticate", "Bearer");
        tp_http_respond_error(req, 401, "unauthorized", NULL,
                              "a valid API key is required: Authorization: Bearer tp_...");
        return -1;
    }
    if (rc) {
        tp_http_req_add_header(req, "Retry-After", "1");
        tp_http_respond_error(req, 503, "unavailable", NULL, "the key store cannot be reached; retry shortly");
        return -1;
    }
    /* Scope tenant before anything else so the access log carries it even for rejections. */
    if (cx->who.tenant_id[0])
        tp_http_req_set_tenant(req, cx->who.tenant_id);
    if (!tp_principal_has(&cx->who, TP_SCOPE_READ) && !tp_principal_has(&cx->who, TP_SCOPE_ADMIN)) {
        tp_http_respond_error(req, 403, "forbidden", NULL, "this key lacks the read scope");
        return -1;
    }
    /* An admin key reads every tenant; any other tenant-bound key reads only its own. */
    if (cx->who.tenant_id[0] && !tp_principal_has(&cx->who, TP_SCOPE_ADMIN))
        cx->scope_tenant = cx->who.tenant_id;

    tp_http_req_query_each(req, collect_arg, &cx->args);
    tp_query_perr e;
    if (tp_query_args_check(&cx->args, allowed, &e))
        return tp_query_reject(cx, &e);
    cx->csv = tp_query_accept_csv(tp_http_req_header(req, "Accept"));
    return 0;
}

void tp_query_end(tp_query_ctx *cx)
{
    if (cx && cx->conn) {
        tp_db_release(cx->api->pool, cx->conn, cx->conn_broken);
        cx->conn = NULL;
    }
}

int tp_query_reject(tp_query_ctx *cx, const tp_query_perr *e)
{
    tp_http_respond_error(cx->req, 400, "invalid_parameter", e->field, "%s: %s", e->field, e->message);
    return -1;
}

int tp_query_fail_internal(tp_query_ctx *cx, int rc, const char *what)
{
    tp_counter_add(cx->api->db_errors, 1);
    if (tp_err_retryable(rc) || rc == TP_EUNAVAIL) {
        tp_http_req_add_header(cx->req, "Retry-After", "1");
        tp_http_respond_error(cx->req, 503, "unavailable", NULL, "%s: the database is unavailable; retry shortly",
                              what);
    } else {
        tp_http_respond_error(cx->req, 500, "internal", NULL, "%s failed", what);
    }
    return -1;
}

/* Every statement is prepared once per connection under a name derived from its text, then
 * executed by name: parsing and view rewriting happen once instead of per request. Connections
 * are the pool's and may be reset underneath us, so a missing statement (SQLSTATE 26000) is
 * simply prepared again. The SQL texts are the routes' constants, a few dozen in all. */
static PGresult *exec_prepared(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    char name[32];
    snprintf(name, sizeof name, "tpq_%016llx", (unsigned long long)h);
    PGresult *r = PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!r || PQresultStatus(r) != PGRES_FATAL_ERROR || !state || strcmp(state, "26000") != 0)
        return r;
    PQclear(r);
    r = PQprepare(c, name, sql, nparams, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        return r;
    PQclear(r);
    return PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
}

int tp_query_exec(tp_query_ctx *cx, tp_query_plan plan, const char *sql, int nparams, const char *const *params,
                  PGresult **res)
{
    char err[256];
    *res = NULL;
    if (!cx->conn) {
        int rc = tp_db_acquire(cx->api->pool, cx->api->db_timeout_ms, &cx->conn, err, sizeof err);
        if (rc) {
            cx->conn = NULL;
            tp_log(TP_LOG_ERROR, "database connection unavailable", "req_id", tp_http_req_id(cx->req), "error", err,
                   (const char *)0);
            return tp_query_fail_internal(cx, rc, "query");
        }
    }
    double t0 = mono_s();
    PGresult *r = plan == TP_QUERY_PLAN_CACHED ? exec_prepared(cx->conn, sql, nparams, params)
                                               : PQexecParams(cx->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    tp_histogram_observe(cx->api->db_seconds, mono_s() - t0);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
        *res = r;
        return 0;
    }
    int rc = tp_db_classify(cx->conn, r, err, sizeof err);
    if (tp_db_conn_broken(cx->conn))
        cx->conn_broken = 1;
    tp_log(TP_LOG_ERROR, "query failed", "req_id", tp_http_req_id(cx->req), "error", err, (const char *)0);
    PQclear(r);
    return tp_query_fail_internal(cx, rc ? rc : TP_EINTERNAL, "query");
}

int tp_query_table_from(tp_query_ctx *cx, const PGresult *res, const tp_query_col *cols, size_t ncols,
                        tp_query_table **out)
{
    const char *cells[64];
    tp_query_table *t = NULL;
    int rc = TP_EINTERNAL;
    *out = NULL;
    if (ncols > 64 || (size_t)PQnfields(res) < ncols) {
        tp_log(TP_LOG_ERROR, "query returned fewer columns than expected", "req_id", tp_http_req_id(cx->req),
               (const char *)0);
        goto out;
    }
    rc = tp_query_table_new(cols, ncols, &t);
    for (int r = 0; !rc && r < PQntuples(res); r++) {
        for (size_t c = 0; c < ncols; c++)
            cells[c] = PQgetisnull(res, r, (int)c) ? NULL : PQgetvalue(res, r, (int)c);
        rc = tp_query_table_add_row(t, cells);
    }
out:
    if (rc) {
        tp_query_table_free(t);
        return tp_query_fail_internal(cx, rc, "rendering");
    }
    *out = t;
    return 0;
}

int tp_query_fetch(tp_query_ctx *cx, tp_query_plan plan, const char *sql, int nparams, const char *const *params,
                   const tp_query_col *cols, size_t ncols, tp_query_table **out)
{
    PGresult *res;
    *out = NULL;
    if (tp_query_exec(cx, plan, sql, nparams, params, &res))
        return -1;
    int rc = tp_query_table_from(cx, res, cols, ncols, out);
    PQclear(res);
    return rc;
}

int tp_query_tenant_visible(tp_query_ctx *cx, const char *tenant_id)
{
    if (!tp_query_id_valid(tenant_id)) {
        tp_http_respond_error(cx->req, 400, "invalid_parameter", "id",
                              "id: must be a tenant id, 1..64 characters of [A-Za-z0-9._-]");
        return -1;
    }
    /* Someone else's tenant answers exactly like a missing one, so keys cannot probe for ids. */
    if (cx->scope_tenant && strcmp(cx->scope_tenant, tenant_id) != 0)
        goto not_found;
    static const char sql[] = "SELECT 1 FROM query.tenants WHERE tenant_id = $1";
    const char *params[] = {tenant_id};
    PGresult *res;
    if (tp_query_exec(cx, TP_QUERY_PLAN_CACHED, sql, 1, params, &res))
        return -1;
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (found)
        return 0;
not_found:
    tp_http_respond_error(cx->req, 404, "not_found", "id", "no tenant %s", tenant_id);
    return -1;
}

void tp_query_send(tp_query_ctx *cx, tp_query_buf *b)
{
    size_t len = 0;
    char *body = tp_query_buf_steal(b, &len);
    if (!body) {
        tp_query_fail_internal(cx, TP_ENOMEM, "rendering");
        return;
    }
    tp_http_respond(cx->req, 200, cx->csv ? "text/csv; charset=utf-8" : "application/json", body, len);
    free(body);
}

void tp_query_send_table(tp_query_ctx *cx, const char *key, const tp_query_table *t,
                         void (*extra)(tp_query_buf *b, void *arg), void *arg)
{
    tp_query_buf b = TP_QUERY_BUF_INIT;
    if (cx->csv) {
        tp_query_table_csv(t, &b);
    } else {
        tp_query_buf_putc(&b, '{');
        tp_query_buf_json_str(&b, key);
        tp_query_buf_putc(&b, ':');
        tp_query_table_json_array(t, &b);
        if (extra)
            extra(&b, arg);
        tp_query_buf_puts(&b, "}");
    }
    tp_query_send(cx, &b);
}

void tp_query_json_time(tp_query_buf *b, const char *name, int64_t ms)
{
    char ts[32];
    tp_query_time_format(ms, ts);
    tp_query_buf_putc(b, ',');
    tp_query_buf_json_str(b, name);
    tp_query_buf_putc(b, ':');
    tp_query_buf_json_str(b, ts);
}

void tp_query_send_series(tp_query_ctx *cx, const tp_query_range *rg, const char *tenant_id,
                          const tp_query_table *series)
{
    tp_query_buf b = TP_QUERY_BUF_INIT;
    if (cx->csv) {
        tp_query_table_csv(series, &b);
    } else {
        tp_query_buf_putc(&b, '{');
        if (tenant_id) {
            tp_query_buf_puts(&b, "\"tenant_id\":");
            tp_query_buf_json_str(&b, tenant_id);
            tp_query_buf_putc(&b, ',');
        }
        tp_query_buf_puts(&b, "\"granularity\":");
        tp_query_buf_json_str(&b, tp_query_gran_name(rg->gran));
        tp_query_json_time(&b, "from", rg->from_ms);
        tp_query_json_time(&b, "to", rg->to_ms);
        tp_query_buf_puts(&b, ",\"series\":");
        tp_query_table_json_array(series, &b);
        tp_query_buf_putc(&b, '}');
    }
    tp_query_send(cx, &b);
}

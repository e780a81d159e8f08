/* api.h — what every query-api route shares: the service context, the request prelude
 * (authentication, read scope, tenant scope, query-argument checks, content negotiation), SQL
 * execution into result tables, and the answers (JSON or CSV, the project's error shape).
 *
 * A route handler opens with tp_query_begin, which answers the request itself (401/403/400/503)
 * and returns non-zero when the handler must just return. Then it runs its parameterised SQL
 * with tp_query_exec / tp_query_fetch (which also answer 5xx themselves on failure), renders into
 * a tp_query_buf, answers with tp_query_send, and always finishes with tp_query_end (which returns
 * the borrowed database connection). Tenant-scoped keys see only their own tenant: routes pass
 * cx->scope_tenant (NULL = every tenant) into every statement and call tp_query_tenant_visible
 * for a tenant in the path, which answers 404 for tenants that are not theirs or do not exist. */
#ifndef TP_QUERY_API_H
#define TP_QUERY_API_H

#include <libpq-fe.h>
#include <stdint.h>

#include "buf.h"
#include "params.h"
#include "table.h"
#include "tp/auth.h"
#include "tp/db.h"
#include "tp/http.h"
#include "tp/metrics.h"

/* The service context, shared read-only by all request threads (main.c owns everything in it). */
typedef struct tp_query_api {
    tp_db_pool *pool;
    tp_auth *auth;
    int db_timeout_ms;    /* wait for a pooled connection */
    int max_hour_days;    /* range cap for granularity=hour */
    int max_day_days;     /* range cap for granularity=day */
    tp_histogram *db_seconds;
    tp_counter *db_errors;
} tp_query_api;

/* One request, on the handler's stack. */
typedef struct tp_query_ctx {
    tp_query_api *api;
    tp_http_req *req;
    tp_principal who;
    const char *scope_tenant; /* NULL: every tenant; else the only tenant this key may see */
    tp_query_args args;
    int csv;                  /* the client asked for text/csv */
    int64_t now_ms;
    PGconn *conn;             /* borrowed from the pool on first use */
    int conn_broken;
} tp_query_ctx;

/* Authenticate, authorise (read or admin scope), check the query arguments against allowed
 * (NULL-terminated) and pick the format. Returns 0 to continue, or -1 after answering. */
int tp_query_begin(tp_query_api *api, tp_http_req *req, const char *const *allowed, tp_query_ctx *cx);
/* Release what the request holds (NULL-safe on a context begin rejected). */
void tp_query_end(tp_query_ctx *cx);

/* Answer 400 invalid_parameter naming e->field. Returns -1. */
int tp_query_reject(tp_query_ctx *cx, const tp_query_perr *e);
/* Answer a 5xx for an internal failure rc (503 when retryable, else 500). Returns -1. */
int tp_query_fail_internal(tp_query_ctx *cx, int rc, const char *what);

/* Validate the path's tenant id and check this key may see it and that it exists.
 * Returns 0 to continue, or -1 after answering (400 for a malformed id, 404 otherwise). */
int tp_query_tenant_visible(tp_query_ctx *cx, const char *tenant_id);

/* How a statement is planned. CACHED: prepared once per connection and executed by name, so
 * PostgreSQL may reuse a generic plan (planning a statement over the query views costs about as
 * much as running it) — what every route uses. FRESH: planned with the actual values every time,
 * for a statement whose generic plan would be badly wrong; the insights had such a plan while
 * their tenant scope was an optional filter ("$5 IS NULL OR tenant_id = $5": a nested loop on a
 * 1-row estimate, 6x slower), so they now spell the scope into separate statement texts. */
typedef enum { TP_QUERY_PLAN_CACHED, TP_QUERY_PLAN_FRESH } tp_query_plan;

/* Run sql with text parameters (NULL = SQL NULL) and expect rows. On failure answers 5xx and
 * returns -1; on success *res is the caller's to PQclear. */
int tp_query_exec(tp_query_ctx *cx, tp_query_plan plan, const char *sql, int nparams, const char *const *params,
                  PGresult **res);
/* Copy the first ncols columns of res into a new table (caller frees). Answers 500 on failure. */
int tp_query_table_from(tp_query_ctx *cx, const PGresult *res, const tp_query_col *cols, size_t ncols,
                        tp_query_table **out);
/* exec + table_from in one step. */
int tp_query_fetch(tp_query_ctx *cx, tp_query_plan plan, const char *sql, int nparams, const char *const *params,
                   const tp_query_col *cols, size_t ncols, tp_query_table **out);

/* Answer 200 with b's bytes as CSV or JSON per cx->csv (answers 500 if b failed). */
void tp_query_send(tp_query_ctx *cx, tp_query_buf *b);

/* Answer a single JSON object or CSV table for a table: {"key": [rows]} plus members written by
 * extra (may be NULL) for JSON; the plain table for CSV. */
void tp_query_send_table(tp_query_ctx *cx, const char *key, const tp_query_table *t,
                         void (*extra)(tp_query_buf *b, void *arg), void *arg);

/* Answer a zero-filled series: JSON {"tenant_id"?, "granularity", "from", "to", "series": [...]}
 * (tenant_id omitted when NULL), or the series table as CSV. */
void tp_query_send_series(tp_query_ctx *cx, const tp_query_range *rg, const char *tenant_id,
                          const tp_query_table *series);

/* Write ,"name":"<RFC 3339 of ms>" into a JSON object under construction. */
void tp_query_json_time(tp_query_buf *b, const char *name, int64_t ms);

/* Route registration, one function per routes_*.c. */
int tp_query_routes_metrics(tp_http_server *s, tp_query_api *api) TP_MUSTCHECK;
int tp_query_routes_tenants(tp_http_server *s, tp_query_api *api) TP_MUSTCHECK;
int tp_query_routes_insights(tp_http_server *s, tp_query_api *api) TP_MUSTCHECK;

/* SQL fragments shared by routes: a timestamptz as milliseconds since the epoch (bigint), and a
 * period column as seconds since the epoch, independent of the session's TimeZone. */
#define TP_SQL_MS(x) "floor(extract(epoch from " x ") * 1000)::bigint"
#define TP_SQL_HOUR_S(x) "floor(extract(epoch from " x "))::bigint"
#define TP_SQL_DAY_S(x) "((" x " - DATE '1970-01-01')::bigint * 86400)"

#endif

/* http.h — the HTTP server every service runs (libmicrohttpd underneath).
 *
 * Routes are (method, pattern) pairs; patterns may hold "{name}" segments read back with
 * tp_http_req_param. The server reads the whole body (bounded by max_body: larger → 413
 * before the handler runs), assigns a request id (X-Request-Id, echoed), logs one JSON line
 * per request, counts requests and latency per route in the metrics registry, and serves
 * /healthz, /readyz and /metrics itself.
 *
 * Handler contract: a handler must answer exactly once with one of the tp_http_respond*
 * calls, either before it returns or — after tp_http_req_suspend — later from any thread.
 * The request (and everything its accessors return) is owned by the server and stays valid
 * until the response is given. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "tp/err.h"
#include "tp/metrics.h"

typedef struct tp_http_server tp_http_server;
typedef struct tp_http_req tp_http_req;

typedef void (*tp_http_handler)(tp_http_req *req, void *ctx);
/* Readiness probe: return 0 when ready, else fill why (shown in /readyz's body). */
typedef int (*tp_http_ready_fn)(void *ctx, char *why, size_t whylen);

typedef struct tp_http_options {
    const char *svc;       /* service name for logs/metrics */
    const char *bind_addr; /* e.g. "127.0.0.1" or "0.0.0.0" */
    int port;
    int threads;           /* event loops, each a thread with its own MHD daemon */
    size_t max_body;       /* bytes; larger bodies get 413 */
    unsigned conn_timeout_s;
    tp_metrics *metrics;   /* borrowed; the server registers its own series in it */
    tp_http_ready_fn ready;
    void *ready_ctx;
} tp_http_options;

int tp_http_server_new(const tp_http_options *opts, tp_http_server **out, char *err, size_t errlen) TP_MUSTCHECK;
/* Register before tp_http_start. pattern: "/v1/tenants/{id}/activity". Borrows both strings. */
int tp_http_route(tp_http_server *s, const char *method, const char *pattern, tp_http_handler h,
                  void *ctx) TP_MUSTCHECK;
int tp_http_start(tp_http_server *s, char *err, size_t errlen) TP_MUSTCHECK;

/* Work that belongs on an event loop's thread (ingest-api sends PutRecords from the loops and
 * answers there, with no thread hand-off). start runs on each loop's thread before it serves
 * and returns that loop's data; pass runs after every libmicrohttpd pass; timeout_ms bounds the
 * loop's next wait (-1: no bound); event reports a descriptor watched with tp_http_loop_watch;
 * stop runs on the loop's thread after its last pass, once its requests are answered or forced.
 * Set before tp_http_start; hooks and ctx are copied / borrowed. */
typedef struct http_loop tp_http_loop;
typedef struct tp_http_loop_hooks {
    void *ctx;
    void *(*start)(void *ctx, tp_http_loop *loop);
    void (*pass)(void *data);
    long (*timeout_ms)(void *data);
    void (*event)(void *data, int fd, unsigned events);
    void (*stop)(void *data);
} tp_http_loop_hooks;
int tp_http_set_loop_hooks(tp_http_server *s, const tp_http_loop_hooks *hooks) TP_MUSTCHECK;
/* Watch fd for EPOLLIN / EPOLLOUT (0: stop watching); only on the loop's own thread. */
int tp_http_loop_watch(tp_http_loop *loop, int fd, unsigned events) TP_MUSTCHECK;
/* Client connections open on this loop, idle keep-alive and suspended ones included; only on
 * the loop's own thread. */
unsigned tp_http_loop_connections(tp_http_loop *loop);
/* The data the start hook returned for the loop that holds r (NULL without hooks). Only valid
 * on that loop's thread, i.e. inside the handler. */
void *tp_http_req_loop_data(tp_http_req *r);
/* Stop accepting, wait up to drain_ms for in-flight (incl. suspended) requests to be answered. */
void tp_http_stop(tp_http_server *s, int drain_ms);
void tp_http_server_free(tp_http_server *s); /* NULL-safe; stops first if running */
/* The bound port (useful when opts.port was 0). */
int tp_http_port(const tp_http_server *s);

/* --- request accessors (borrowed strings, valid until the response) --- */
const char *tp_http_req_method(const tp_http_req *r);
const char *tp_http_req_path(const tp_http_req *r);
const char *tp_http_req_id(const tp_http_req *r);
const char *tp_http_req_param(const tp_http_req *r, const char *name);  /* path param or NULL */
const char *tp_http_req_query(const tp_http_req *r, const char *name);  /* decoded, NULL if absent */
/* All query argument names, to reject unknown ones: calls cb per (name, value). */
void tp_http_req_query_each(const tp_http_req *r, void (*cb)(void *ctx, const char *k, const char *v), void *ctx);
const char *tp_http_req_header(const tp_http_req *r, const char *name); /* case-insensitive, NULL if absent */
const char *tp_http_req_body(const tp_http_req *r, size_t *len);        /* NUL-terminated; "" if none */
/* Attach the authenticated tenant (for the access log line). Copies. */
void tp_http_req_set_tenant(tp_http_req *r, const char *tenant_id);

/* --- responding (exactly once per request) --- */
/* Add a response header before responding. Copies. */
void tp_http_req_add_header(tp_http_req *r, const char *name, const char *value);
/* Copies body. */
void tp_http_respond(tp_http_req *r, int status, const char *content_type, const char *body, size_t len);
/* Steals the reference to body. */
void tp_http_respond_json(tp_http_req *r, int status, json_t *body);
/* The one error shape of the project: {"error": code, "message": text, "field": field?}.
 * field may be NULL. */
void tp_http_respond_error(tp_http_req *r, int status, const char *code, const char *field, const char *fmt, ...)
    TP_PRINTF(5, 6);
/* Keep the request open after the handler returns; respond later from any thread. */
void tp_http_req_suspend(tp_http_req *r);

#endif

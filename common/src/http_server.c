/* http_server.c — the HTTP server's life: options, route registration, the built-in /healthz,
 * /readyz and /metrics, starting the event loops (http_loop.c), and the graceful stop (see
 * http.h). */
#include "tp/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "tp/log.h"

/* ---------- routes ---------- */

static int split_pattern(struct http_route *rt, const char *pattern)
{
    const char *p = pattern;
    int params = 0;
    if (*p != '/')
        return TP_EINVAL;
    rt->nsegs = 0;
    while (*p == '/') {
        p++;
        if (*p == '\0' && rt->nsegs == 0)
            break; /* the root pattern "/" */
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || rt->nsegs == TP_HTTP_MAX_SEGS)
            return TP_EINVAL;
        int i = rt->nsegs++;
        if (p[0] == '{') {
            if (len < 3 || p[len - 1] != '}' || len - 2 >= sizeof rt->pname[0] || params == TP_HTTP_MAX_PARAMS)
                return TP_EINVAL;
            memcpy(rt->pname[params], p + 1, len - 2);
            rt->pname[params][len - 2] = '\0';
            rt->is_param[i] = 1;
            rt->segs[i] = rt->pname[params++];
            rt->seglen[i] = len - 2;
        } else {
            rt->is_param[i] = 0;
            rt->segs[i] = p;
            rt->seglen[i] = len;
        }
        p += len;
    }
    return 0;
}

/* Does path match rt's segments? Fills starts/lens of each segment of path on success. */
static struct http_route *route_alloc(tp_http_server *s, const char *method, const char *pattern)
{
    struct http_route *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->method = method;
    rt->pattern = pattern;
    if (pattern[0] == '/' && split_pattern(rt, pattern) != 0) {
        free(rt);
        return NULL;
    }
    if (s->opts.metrics) {
        char labels[256];
        snprintf(labels, sizeof labels, "route=%s", pattern);
        rt->latency = tp_metrics_histogram(s->opts.metrics, "tp_http_request_seconds",
                                           "HTTP request latency by route, seconds", labels,
                                           tp_metrics_latency_bounds, tp_metrics_latency_nbounds);
    }
    return rt;
}

int tp_http_route(tp_http_server *s, const char *method, const char *pattern, tp_http_handler h, void *ctx)
{
    if (!s || !method || !pattern || !h || s->started || pattern[0] != '/')
        return TP_EINVAL;
    if (s->nroutes == s->routes_cap) {
        size_t cap = s->routes_cap ? s->routes_cap * 2 : 16;
        struct http_route **n = realloc(s->routes, cap * sizeof *n);
        if (!n)
            return TP_ENOMEM;
        s->routes = n;
        s->routes_cap = cap;
    }
    struct http_route *rt = route_alloc(s, method, pattern);
    if (!rt)
        return TP_EINVAL; /* a bad pattern; out of memory is far less likely at start-up */
    rt->handler = h;
    rt->ctx = ctx;
    s->routes[s->nroutes++] = rt;
    return 0;
}

/* ---------- built-in endpoints ---------- */

static void h_healthz(tp_http_req *r, void *ctx)
{
    (void)ctx;
    tp_http_respond(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void h_readyz(tp_http_req *r, void *ctx)
{
    tp_http_server *s = ctx;
    char why[256] = "";
    int rc = 0;
    if (atomic_load(&s->stopping)) {
        snprintf(why, sizeof why, "shutting down");
        rc = -1;
    } else if (s->opts.ready) {
        rc = s->opts.ready(s->opts.ready_ctx, why, sizeof why);
    }
    if (rc == 0) {
        tp_http_respond(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
        return;
    }
    json_t *o = json_pack("{s:s,s:s}", "status", "not_ready", "reason", why[0] ? why : "not ready");
    tp_http_respond_json(r, 503, o);
}

static void h_metrics(tp_http_req *r, void *ctx)
{
    tp_http_server *s = ctx;
    char *text = NULL;
    size_t len = 0;
    if (!s->opts.metrics) {
        tp_http_respond(r, 200, "text/plain; version=0.0.4", "", 0);
        return;
    }
    if (tp_metrics_render(s->opts.metrics, &text, &len) != 0) {
        tp_http_respond_error(r, 500, "internal", NULL, "could not render metrics");
        return;
    }
    tp_http_respond(r, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

/* ---------- lifecycle ---------- */

int tp_http_server_new(const tp_http_options *opts, tp_http_server **out, char *err, size_t errlen)
{
    int rc = TP_ENOMEM;
    tp_http_server *s = NULL;
    *out = NULL;
    if (!opts || opts->port < 0 || opts->port > 65535) {
        rc = tp_errf(err, errlen, TP_EINVAL, "http: bad options (port)");
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        s = NULL;
        goto oom;
    }
    s->opts = *opts;
    s->listen_fd = -1;
    s->svc = strdup(opts->svc ? opts->svc : "tp");
    s->bind_addr = strdup(opts->bind_addr ? opts->bind_addr : "127.0.0.1");
    if (!s->svc || !s->bind_addr)
        goto oom;
    s->opts.svc = s->svc;
    s->opts.bind_addr = s->bind_addr;
    if (s->opts.threads < 1)
        s->opts.threads = 1;
    if (s->opts.max_body == 0)
        s->opts.max_body = 1024 * 1024;
    if (s->opts.conn_timeout_s == 0)
        s->opts.conn_timeout_s = 30;
    const char *al = getenv("TP_ACCESS_LOG");
    s->access_log_all = al && (strcmp(al, "1") == 0 || strcmp(al, "true") == 0);
    s->unmatched = route_alloc(s, "", "unmatched");
    if (!s->unmatched)
        goto oom;
    if (tp_http_route(s, "GET", "/healthz", h_healthz, s) || tp_http_route(s, "GET", "/readyz", h_readyz, s) ||
        tp_http_route(s, "GET", "/metrics", h_metrics, s))
        goto oom;
    *out = s;
    s = NULL;
    rc = 0;
    goto out;
oom:
    rc = tp_errf(err, errlen, TP_ENOMEM, "http: out of memory creating the server");
out:
    tp_http_server_free(s);
    return rc;
}

int tp_http_port(const tp_http_server *s) { return s ? s->port : 0; }

void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    tp_log_warn("libmicrohttpd", "detail", msg);
}

int tp_http_set_loop_hooks(tp_http_server *s, const tp_http_loop_hooks *hooks)
{
    if (!s || !hooks || s->loops)
        return TP_EINVAL;
    s->hooks = *hooks;
    return 0;
}

int tp_http_start(tp_http_server *s, char *err, size_t errlen)
{
    if (!s || s->started)
        return tp_errf(err, errlen, TP_EINVAL, "http: server already started");
    int rc = http_loops_start(s, err, errlen);
    if (rc != 0)
        return rc;
    s->started = 1;
    char port[16], threads[16];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(threads, sizeof threads, "%d", s->opts.threads);
    tp_log_info("http: listening", "addr", s->bind_addr, "port", port, "threads", threads);
    return 0;
}

/* Answer every still-parked request with 503 and resume it: MHD cannot stop while a
 * connection is suspended, and a handler that never answers must not hang the stop.
 * MHD_resume_connection takes MHD's own lock, so it is called after ours is released; a
 * request we moved to REQ_FORCED stays parked (and alive) until we resume it. */
static int force_parked(tp_http_server *s)
{
    struct tp_http_req *forced = NULL;
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (struct tp_http_req *r = s->susp_head; r; r = r->susp_next) {
        int st = REQ_SUSPENDED;
        if (atomic_load(&r->state) != REQ_SUSPENDED)
            continue;
        r->forced = http_make_error(r->req_id, "shutting_down", NULL, "the server stopped before an answer");
        if (atomic_compare_exchange_strong(&r->state, &st, REQ_FORCED)) {
            r->force_next = forced;
            forced = r;
        } else if (r->forced) {
            MHD_destroy_response(r->forced);
            r->forced = NULL;
        }
    }
    pthread_mutex_unlock(&s->mu);
    while (forced) {
        struct tp_http_req *r = forced;
        forced = r->force_next;
        http_resume(r);
        n++;
    }
    return n;
}

static int wait_drained(tp_http_server *s, int ms)
{
    int64_t deadline = http_mono_ms() + ms;
    while (atomic_load(&s->inflight) > 0) {
        if (http_mono_ms() >= deadline)
            return 0;
        http_sleep_ms(2);
    }
    return 1;
}

void tp_http_stop(tp_http_server *s, int drain_ms)
{
    if (!s || !s->started || s->stopped)
        return;
    atomic_store(&s->stopping, 1);
    http_loops_quiesce(s);
    if (!wait_drained(s, drain_ms < 0 ? 0 : drain_ms)) {
        char left[16];
        snprintf(left, sizeof left, "%d", atomic_load(&s->inflight));
        tp_log_warn("http: drain timed out; answering what is left with 503", "in_flight", left);
        /* Repeat: a handler returning right now parks its request after our first pass. */
        int64_t deadline = http_mono_ms() + 2000;
        while (atomic_load(&s->inflight) > 0 && http_mono_ms() < deadline) {
            force_parked(s);
            http_sleep_ms(5);
        }
        if (atomic_load(&s->inflight) > 0)
            tp_log_error("http: requests still in flight at stop");
    }
    http_loops_stop(s);
    s->stopped = 1;
    tp_log_info("http: stopped");
}

void tp_http_server_free(tp_http_server *s)
{
    if (!s)
        return;
    if (s->started && !s->stopped)
        tp_http_stop(s, 0);
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i]);
    free(s->routes);
    free(s->unmatched);
    pthread_mutex_destroy(&s->mu);
    free(s->svc);
    free(s->bind_addr);
    free(s);
}

/* http.c — the request path over libmicrohttpd: request ids, route matching, body limits,
 * dispatch and the suspend/answer handshake, per-request metrics and the access log (see
 * http.h, http_internal.h). Server set-up, built-in endpoints and stop are in http_server.c. */
#include "tp/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "tp/log.h"

/* ---------- request ids ---------- */

static int req_id_acceptable(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || n >= TP_HTTP_REQ_ID_MAX)
            return 0;
    }
    return n > 0;
}

/* Request ids only need to be unique enough to find a request in the logs, so a per-thread
 * xorshift seeded once from getrandom() is plenty and costs no syscall per request. */
static void req_id_generate(char out[TP_HTTP_REQ_ID_MAX + 1])
{
    static _Thread_local uint64_t s;
    static const char hex[] = "0123456789abcdef";
    if (s == 0) {
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
            s = (uint64_t)http_mono_ns() ^ (uint64_t)(uintptr_t)&s;
        s |= 1;
    }
    for (int half = 0; half < 2; half++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t v = s * 0x2545F4914F6CDD1Dull;
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(v >> (i * 4)) & 15];
    }
    out[32] = '\0';
}


/* ---------- route matching ---------- */

int http_route_matches(const struct http_route *rt, const char *path, const char **starts, size_t *lens)
{
    const char *p = path;
    int n = 0;
    if (*p != '/')
        return 0;
    if (p[1] == '\0')
        return rt->nsegs == 0;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || n >= rt->nsegs)
            return 0;
        if (!rt->is_param[n] && (len != rt->seglen[n] || memcmp(p, rt->segs[n], len) != 0))
            return 0;
        starts[n] = p;
        lens[n] = len;
        n++;
        p += len;
    }
    return n == rt->nsegs;
}


/* ---------- per-request accounting ---------- */

static tp_counter *status_counter(tp_http_server *s, struct http_route *rt, int status)
{
    if (!s->opts.metrics || status < 0 || status >= TP_HTTP_STATUS_SLOTS)
        return NULL;
    tp_counter *c = atomic_load_explicit(&rt->by_status[status], memory_order_acquire);
    if (c)
        return c;
    /* First time this (route, status) is seen: register it once, under the lock, so the
     * registry is never touched concurrently from request threads. */
    char labels[300];
    snprintf(labels, sizeof labels, "route=%s,status=%d", rt->pattern, status);
    pthread_mutex_lock(&s->mu);
    c = atomic_load(&rt->by_status[status]);
    if (!c) {
        c = tp_metrics_counter(s->opts.metrics, "tp_http_requests_total", "HTTP requests by route and status",
                               labels);
        atomic_store_explicit(&rt->by_status[status], c, memory_order_release);
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void access_log(tp_http_server *s, struct tp_http_req *r, double secs)
{
    tp_log_level lvl = r->status >= 500   ? TP_LOG_WARN
                       : r->status >= 400 ? TP_LOG_INFO
                       : s->access_log_all ? TP_LOG_INFO
                                           : TP_LOG_DEBUG;
    if (!tp_log_enabled(lvl))
        return;
    char status[8], ms[32];
    snprintf(status, sizeof status, "%d", r->status);
    snprintf(ms, sizeof ms, "%.3f", secs * 1000.0);
    tp_log(lvl, "request", "method", r->method, "path", r->path, "status", status, "ms", ms, "req_id", r->req_id,
           "tenant_id", r->tenant[0] ? r->tenant : NULL, (const char *)0);
}

static void susp_unlink(tp_http_server *s, struct tp_http_req *r)
{
    if (!r->in_susp_list)
        return;
    pthread_mutex_lock(&s->mu);
    if (r->susp_prev)
        r->susp_prev->susp_next = r->susp_next;
    else
        s->susp_head = r->susp_next;
    if (r->susp_next)
        r->susp_next->susp_prev = r->susp_prev;
    r->in_susp_list = 0;
    pthread_mutex_unlock(&s->mu);
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    tp_http_server *s = cls;
    struct tp_http_req *r = *con_cls;
    (void)conn;
    if (!r)
        return;
    *con_cls = NULL;
    double secs = (double)(http_mono_ns() - r->start_ns) / 1e9;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status == 0)
        r->status = 499; /* the client went away before an answer was sent */
    struct http_route *rt = r->route ? r->route : s->unmatched;
    tp_counter_add(status_counter(s, rt, r->status), 1);
    if (rt->latency)
        tp_histogram_observe(rt->latency, secs);
    access_log(s, r, secs);
    susp_unlink(s, r);
    http_req_unref(r);
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---------- MHD glue ---------- */

static enum MHD_Result queue(struct tp_http_req *r, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO; /* out of memory: dropping the connection is all that is left */
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result queue_error(struct tp_http_req *r, int status, const char *code, const char *msg,
                                   const char *hname, const char *hval)
{
    struct MHD_Response *resp = http_make_error(r->req_id, code, NULL, msg);
    if (resp && hname)
        MHD_add_response_header(resp, hname, hval);
    return queue(r, status, resp);
}

/* Match the route; on success fill r->route and the params. 404/405 are answered here. */
static enum MHD_Result route_request(tp_http_server *s, struct tp_http_req *r, int *answered)
{
    const char *starts[TP_HTTP_MAX_SEGS];
    size_t lens[TP_HTTP_MAX_SEGS];
    char allow[128] = "";
    size_t alen = 0;
    *answered = 1;
    for (size_t i = 0; i < s->nroutes; i++) {
        struct http_route *rt = s->routes[i];
        if (!http_route_matches(rt, r->path, starts, lens))
            continue;
        if (strcmp(rt->method, r->method) != 0) {
            int w = snprintf(allow + alen, sizeof allow - alen, "%s%s", alen ? ", " : "", rt->method);
            if (w > 0 && (size_t)w < sizeof allow - alen)
                alen += (size_t)w;
            continue;
        }
        r->route = rt;
        size_t need = 0;
        for (int k = 0; k < rt->nsegs; k++)
            if (rt->is_param[k])
                need += lens[k] + 1;
        if (need) {
            char *p = r->pbuf = malloc(need);
            if (!p)
                return MHD_NO;
            for (int k = 0; k < rt->nsegs; k++) {
                if (!rt->is_param[k])
                    continue;
                /* Names are borrowed from the pattern; terminate a copy instead of the pattern. */
                memcpy(p, starts[k], lens[k]);
                p[lens[k]] = '\0';
                r->pnames[r->nparams] = rt->segs[k];
                r->pvals[r->nparams++] = p;
                p += lens[k] + 1;
            }
        }
        *answered = 0;
        return MHD_YES;
    }
    if (alen)
        return queue_error(r, 405, "method_not_allowed", "method not allowed", "Allow", allow);
    return queue_error(r, 404, "not_found", "no such endpoint", NULL, NULL);
}

static struct tp_http_req *req_new(tp_http_server *s, struct MHD_Connection *conn, const char *url,
                                   const char *method)
{
    struct tp_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->start_ns = http_mono_ns();
    atomic_init(&r->state, REQ_HANDLING);
    atomic_init(&r->refs, 1);
    const char *in = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (req_id_acceptable(in))
        snprintf(r->req_id, sizeof r->req_id, "%s", in);
    else
        req_id_generate(r->req_id);
    return r;
}

/* The first call for a request: headers are in, the body is not. Anything that can be
 * refused without the body (stopping, unknown path, declared size too large) is refused
 * here, so an oversized upload is never read. */
static enum MHD_Result first_call(tp_http_server *s, struct tp_http_req *r)
{
    int answered = 0;
    if (atomic_load(&s->stopping))
        return queue_error(r, 503, "shutting_down", "the server is shutting down", "Connection", "close");
    enum MHD_Result ok = route_request(s, r, &answered);
    if (answered || ok != MHD_YES)
        return ok;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || *end)
            return queue_error(r, 400, "bad_request", "bad Content-Length", NULL, NULL);
        if (n > s->opts.max_body)
            return queue_error(r, 413, "too_large", "request body too large", "Connection", "close");
        if (n > 0) {
            r->body = malloc((size_t)n + 1);
            if (!r->body)
                return MHD_NO;
            r->body_cap = (size_t)n + 1;
        }
    }
    return MHD_YES;
}

static int body_append(tp_http_server *s, struct tp_http_req *r, const char *data, size_t n)
{
    if (r->too_large)
        return 0;
    if (r->body_len + n > s->opts.max_body) {
        /* Chunked uploads have no declared size: keep draining, answer 413 at the end. */
        r->too_large = 1;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return 0;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > s->opts.max_body + 1)
            cap = s->opts.max_body + 1;
        char *b = realloc(r->body, cap);
        if (!b)
            return TP_ENOMEM;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* The handler said it will answer later: park the connection unless the answer already came. */
static enum MHD_Result park(tp_http_server *s, struct tp_http_req *r)
{
    pthread_mutex_lock(&s->mu);
    r->susp_prev = NULL;
    r->susp_next = s->susp_head;
    if (s->susp_head)
        s->susp_head->susp_prev = r;
    s->susp_head = r;
    r->in_susp_list = 1;
    pthread_mutex_unlock(&s->mu);

    MHD_suspend_connection(r->conn);
    int st = REQ_HANDLING;
    if (!atomic_compare_exchange_strong(&r->state, &st, REQ_SUSPENDED)) {
        /* Answered between the handler's return and the suspend: resume at once; MHD will
         * call us again and we queue it then. */
        http_resume(r);
    }
    return MHD_YES;
}

static enum MHD_Result after_handler(tp_http_server *s, struct tp_http_req *r)
{
    int st = atomic_load(&r->state);
    if (st == REQ_ANSWERED) {
        struct MHD_Response *resp = r->pending;
        r->pending = NULL;
        return queue(r, r->pending_status, resp);
    }
    if (st == REQ_FORCED) {
        struct MHD_Response *resp = r->forced;
        r->forced = NULL;
        return queue(r, 503, resp);
    }
    if (r->wants_suspend)
        return park(s, r);
    /* The handler returned without answering or suspending: a bug, but the client still
     * deserves an answer. Without a suspend it may not answer later, so its reference goes. */
    tp_log_error("http: handler returned without answering", "path", r->path, "req_id", r->req_id);
    if (atomic_compare_exchange_strong(&r->state, &st, REQ_FORCED)) {
        http_req_unref(r);
        return queue_error(r, 500, "internal", "the handler did not answer", NULL, NULL);
    }
    return after_handler(s, r);
}

enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct http_loop *loop = cls;
    tp_http_server *s = loop->srv;
    struct tp_http_req *r = *con_cls;
    (void)version;
    if (!r) {
        r = req_new(s, conn, url, method);
        if (!r)
            return MHD_NO;
        r->loop = loop;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        return first_call(s, r);
    }
    if (!r->route || (r->status && !r->dispatched)) {
        /* Answered on the first call (404, 405, 400 or 413 on its Content-Length, 503 while
         * stopping): MHD may still hand us what the client sent after its headers. Nothing is
         * dispatched; the body is dropped. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (body_append(s, r, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->dispatched) /* resumed: the answer is in */
        return after_handler(s, r);
    if (r->too_large)
        return queue_error(r, 413, "too_large", "request body too large", "Connection", "close");
    r->dispatched = 1;
    atomic_fetch_add(&r->refs, 1); /* the handler's reference, dropped by its answer */
    r->route->handler(r, r->route->ctx);
    return after_handler(s, r);
}

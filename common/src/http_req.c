/* http_req.c — request accessors and the respond-from-any-thread handshake (see http.h and
 * http_internal.h for the request's life). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "tp/log.h"

struct MHD_Response *http_make_response(const char *req_id, const char *ctype, char *buf, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return NULL;
    }
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    if (req_id && *req_id)
        MHD_add_response_header(resp, "X-Request-Id", req_id);
    return resp;
}

static json_t *error_body(const char *code, const char *field, const char *msg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "error", json_string(code ? code : "error")) ||
        json_object_set_new(o, "message", json_string(msg ? msg : "")) ||
        (field && json_object_set_new(o, "field", json_string(field)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct MHD_Response *http_make_error(const char *req_id, const char *code, const char *field, const char *msg)
{
    json_t *o = error_body(code, field, msg);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return NULL;
    return http_make_response(req_id, "application/json", s, strlen(s));
}

static void drop_headers(struct tp_http_req *r)
{
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    free(r->hdrs);
    r->hdrs = NULL;
    r->nhdrs = 0;
}

void http_req_unref(struct tp_http_req *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->pending)
        MHD_destroy_response(r->pending);
    if (r->forced)
        MHD_destroy_response(r->forced);
    drop_headers(r);
    free(r->body);
    free(r->pbuf);
    free(r);
}

/* Hand the handler's answer (or NULL when it could not be built) to MHD's side. Whoever finds
 * the connection parked (REQ_SUSPENDED) resumes it; otherwise the access handler, still on
 * the stack, picks the answer up itself. Drops the handler's reference. */
static void deliver(struct tp_http_req *r, int status, const char *ctype, char *buf, size_t len)
{
    struct MHD_Response *resp = NULL;
    int st = atomic_load(&r->state);
    if (st == REQ_ANSWERED) {
        /* A contract breach; the handler's reference went with the first answer. */
        tp_log_error("http: handler answered a request twice", "req_id", r->req_id);
        free(buf);
        return;
    }
    if (st == REQ_FORCED) {
        free(buf);
        goto out;
    }
    if (buf)
        resp = http_make_response(r->req_id, ctype, buf, len);
    if (resp) {
        for (size_t i = 0; i < r->nhdrs; i++)
            MHD_add_response_header(resp, r->hdrs[i].name, r->hdrs[i].value);
    } else {
        /* Out of memory (or a handler passed a NULL JSON body): a static 500 needs no copy. */
        static char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";
        tp_log_error("http: could not build a response", "req_id", r->req_id);
        status = 500;
        resp = MHD_create_response_from_buffer(sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", "application/json");
    }
    drop_headers(r);
    r->pending = resp;
    r->pending_status = status;
    for (;;) {
        st = atomic_load(&r->state);
        if (st == REQ_HANDLING) {
            if (atomic_compare_exchange_weak(&r->state, &st, REQ_ANSWERED))
                break;
        } else if (st == REQ_SUSPENDED) {
            if (atomic_compare_exchange_weak(&r->state, &st, REQ_ANSWERED)) {
                http_resume(r);
                break;
            }
        } else {
            /* REQ_FORCED: a graceful stop gave up waiting and answered meanwhile. */
            r->pending = NULL;
            if (resp)
                MHD_destroy_response(resp);
            break;
        }
    }
out:
    http_req_unref(r);
}

void tp_http_respond(tp_http_req *r, int status, const char *content_type, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        if (len)
            memcpy(copy, body, len);
        copy[len] = '\0';
    }
    deliver(r, status, content_type, copy, len);
}

void tp_http_respond_json(tp_http_req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    deliver(r, status, "application/json", s, s ? strlen(s) : 0);
}

void tp_http_respond_error(tp_http_req *r, int status, const char *code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = error_body(code, field, msg);
    tp_http_respond_json(r, status, o);
}

void tp_http_req_suspend(tp_http_req *r) { r->wants_suspend = 1; }

void tp_http_req_add_header(tp_http_req *r, const char *name, const char *value)
{
    struct http_header *h = realloc(r->hdrs, (r->nhdrs + 1) * sizeof *h);
    if (!h)
        goto oom;
    r->hdrs = h;
    h[r->nhdrs].name = strdup(name);
    h[r->nhdrs].value = strdup(value);
    if (!h[r->nhdrs].name || !h[r->nhdrs].value) {
        free(h[r->nhdrs].name);
        free(h[r->nhdrs].value);
        goto oom;
    }
    r->nhdrs++;
    return;
oom:
    tp_log_error("http: out of memory adding a header", "req_id", r->req_id, "header", name);
}

const char *tp_http_req_method(const tp_http_req *r) { return r->method; }
const char *tp_http_req_path(const tp_http_req *r) { return r->path; }
const char *tp_http_req_id(const tp_http_req *r) { return r->req_id; }

const char *tp_http_req_param(const tp_http_req *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->pnames[i], name) == 0)
            return r->pvals[i];
    return NULL;
}

struct query_find {
    const char *name;
    const char *value;
    int found;
};

static enum MHD_Result query_find_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_find *q = cls;
    (void)kind;
    if (key && strcmp(key, q->name) == 0) {
        q->found = 1;
        q->value = value ? value : ""; /* "?flag" counts as present and empty */
        return MHD_NO;
    }
    return MHD_YES;
}

const char *tp_http_req_query(const tp_http_req *r, const char *name)
{
    struct query_find q = {name, NULL, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_find_cb, &q);
    return q.found ? q.value : NULL;
}

struct query_each {
    void (*cb)(void *ctx, const char *k, const char *v);
    void *ctx;
};

static enum MHD_Result query_each_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_each *q = cls;
    (void)kind;
    q->cb(q->ctx, key ? key : "", value ? value : "");
    return MHD_YES;
}

void tp_http_req_query_each(const tp_http_req *r, void (*cb)(void *ctx, const char *k, const char *v), void *ctx)
{
    struct query_each q = {cb, ctx};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_each_cb, &q);
}

const char *tp_http_req_header(const tp_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *tp_http_req_body(const tp_http_req *r, size_t *len)
{
    if (len)
        *len = r->body ? r->body_len : 0;
    return r->body ? r->body : "";
}

void tp_http_req_set_tenant(tp_http_req *r, const char *tenant_id)
{
    if (!tenant_id) {
        r->tenant[0] = '\0';
        return;
    }
    snprintf(r->tenant, sizeof r->tenant, "%s", tenant_id);
}

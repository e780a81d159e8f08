/* test_http.c — the HTTP server on an ephemeral port, driven with libcurl: routing and path
 * params, 404/405, body limits (declared and chunked), answers from another thread (slow and
 * racing the suspend), many concurrent parked requests, probes and metrics, request ids,
 * query decoding, and graceful stop with answered and stuck requests and with requests still
 * arriving on kept-alive connections. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "tp/http.h"
#include "tp/metrics.h"

/* ---------- a tiny libcurl client ---------- */

struct reply {
    long status;
    char body[65536];
    size_t len;
    char req_id[128];
    char allow[128];
    char ctype[128];
    char custom[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    size_t room = sizeof r->body - 1 - r->len;
    size_t c = k < room ? k : room;
    memcpy(r->body + r->len, p, c);
    r->len += c;
    r->body[r->len] = '\0';
    return k;
}

static void grab(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (n > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
        const char *v = line + nl + 1;
        while (*v == ' ')
            v++;
        size_t vl = n - (size_t)(v - line);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        if (vl >= cap)
            vl = cap - 1;
        memcpy(dst, v, vl);
        dst[vl] = '\0';
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    grab(p, k, "X-Request-Id", r->req_id, sizeof r->req_id);
    grab(p, k, "Allow", r->allow, sizeof r->allow);
    grab(p, k, "Content-Type", r->ctype, sizeof r->ctype);
    grab(p, k, "X-Custom", r->custom, sizeof r->custom);
    return k;
}

static int g_port;

/* method NULL = GET. body NULL = none. extra: a NULL-terminated list of header lines. */
static void http_call(const char *method, const char *path, const char *body, long bodylen, int chunked,
                      struct reply *out, ...)
{
    char url[512];
    struct curl_slist *hdrs = NULL;
    va_list ap;
    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g_port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (!chunked)
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, bodylen);
    }
    va_start(ap, out);
    for (const char *h; (h = va_arg(ap, const char *));)
        hdrs = curl_slist_append(hdrs, h);
    va_end(ap);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (chunked)
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "curl %s: %s\n", url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
}

#define GET(path, out, ...) http_call(NULL, path, NULL, 0, 0, out, ##__VA_ARGS__, (const char *)0)

/* ---------- handlers ---------- */

static void h_params(tp_http_req *r, void *ctx)
{
    (void)ctx;
    json_t *o = json_pack("{s:s,s:s,s:s}", "id", tp_http_req_param(r, "id"), "name", tp_http_req_param(r, "name"),
                          "path", tp_http_req_path(r));
    tp_http_respond_json(r, 200, o);
}

static atomic_int g_echo_calls;
static void h_echo(tp_http_req *r, void *ctx)
{
    size_t len;
    (void)ctx;
    atomic_fetch_add(&g_echo_calls, 1);
    const char *b = tp_http_req_body(r, &len);
    char n[32];
    snprintf(n, sizeof n, "%zu", len);
    tp_http_req_add_header(r, "X-Custom", n);
    tp_http_respond(r, 200, "text/plain", b, len);
}

static void collect_query(void *ctx, const char *k, const char *v)
{
    json_object_set_new(ctx, k, json_string(v));
}

static void h_query(tp_http_req *r, void *ctx)
{
    (void)ctx;
    json_t *all = json_object();
    tp_http_req_query_each(r, collect_query, all);
    const char *a = tp_http_req_query(r, "a");
    const char *missing = tp_http_req_query(r, "nope");
    json_t *o = json_pack("{s:o,s:s?,s:b}", "all", all, "a", a, "missing_is_null", missing == NULL);
    tp_http_respond_json(r, 200, o);
}

struct later {
    tp_http_req *r;
    int delay_ms;
    int status;
};

static void *answer_later(void *arg)
{
    struct later *l = arg;
    if (l->delay_ms)
        usleep((useconds_t)l->delay_ms * 1000);
    tp_http_respond_error(l->r, l->status, "later", NULL, "answered from thread");
    free(l);
    return NULL;
}

static void spawn_answer(tp_http_req *r, int delay_ms, int status)
{
    pthread_t t;
    struct later *l = malloc(sizeof *l);
    assert_non_null(l);
    l->r = r;
    l->delay_ms = delay_ms;
    l->status = status;
    tp_http_req_suspend(r);
    assert_int_equal(pthread_create(&t, NULL, answer_later, l), 0);
    pthread_detach(t);
}

static void h_async_slow(tp_http_req *r, void *ctx) { (void)ctx, spawn_answer(r, 30, 202); }
static void h_async_fast(tp_http_req *r, void *ctx) { (void)ctx, spawn_answer(r, 0, 202); }

/* Parks the request and hands it to the test, which answers it whenever it likes. */
static _Atomic(tp_http_req *) g_parked;
static void h_park(tp_http_req *r, void *ctx)
{
    (void)ctx;
    tp_http_req_suspend(r);
    g_parked = r;
}

static void h_forget(tp_http_req *r, void *ctx) { (void)r, (void)ctx; }

/* Which loop thread runs the handler (handlers run on the loop that holds the connection). */
static void h_whoami(tp_http_req *r, void *ctx)
{
    char body[32];
    (void)ctx;
    int n = snprintf(body, sizeof body, "%ld", (long)syscall(SYS_gettid));
    tp_http_respond(r, 200, "text/plain", body, (size_t)n);
}

static atomic_int g_ready = 1;
static int ready(void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    if (g_ready)
        return 0;
    snprintf(why, whylen, "warming up");
    return -1;
}

/* ---------- fixture ---------- */

struct fx {
    tp_metrics *m;
    tp_http_server *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];
    if (!f || tp_metrics_new(&f->m) != 0)
        return -1;
    tp_http_options o = {.svc = "test", .bind_addr = "127.0.0.1", .port = 0, .threads = 2, .max_body = 1024,
                         .conn_timeout_s = 5, .metrics = f->m, .ready = ready};
    if (tp_http_server_new(&o, &f->s, err, sizeof err) != 0)
        return -1;
    if (tp_http_route(f->s, "GET", "/v1/items/{id}/sub/{name}", h_params, NULL) ||
        tp_http_route(f->s, "POST", "/echo", h_echo, NULL) || tp_http_route(f->s, "PUT", "/echo", h_echo, NULL) ||
        tp_http_route(f->s, "GET", "/q", h_query, NULL) ||
        tp_http_route(f->s, "GET", "/async/slow", h_async_slow, NULL) ||
        tp_http_route(f->s, "GET", "/async/fast", h_async_fast, NULL) ||
        tp_http_route(f->s, "POST", "/async/fast", h_async_fast, NULL) ||
        tp_http_route(f->s, "GET", "/park", h_park, NULL) || tp_http_route(f->s, "GET", "/forget", h_forget, NULL) ||
        tp_http_route(f->s, "GET", "/whoami", h_whoami, NULL))
        return -1;
    if (tp_http_start(f->s, err, sizeof err) != 0) {
        fprintf(stderr, "start: %s\n", err);
        return -1;
    }
    g_port = tp_http_port(f->s);
    g_ready = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tp_http_server_free(f->s);
    tp_metrics_free(f->m);
    free(f);
    return 0;
}

/* ---------- tests ---------- */

static void test_route_params(void **state)
{
    struct reply r;
    (void)state;
    assert_true(g_port > 0);
    GET("/v1/items/abc-1/sub/x.y", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"id\":\"abc-1\",\"name\":\"x.y\",\"path\":\"/v1/items/abc-1/sub/x.y\"}");
    assert_string_equal(r.ctype, "application/json");
}

static void test_not_found(void **state)
{
    struct reply r;
    (void)state;
    const char *paths[] = {"/nope", "/v1/items/abc/sub", "/v1/items/abc/sub/x/extra", "/v1/items//sub/x", "/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        GET(paths[i], &r);
        assert_int_equal(r.status, 404);
        assert_non_null(strstr(r.body, "\"error\":\"not_found\""));
    }
    /* Answered before the body is read: the body (declared or chunked) must not reach a
     * handler that does not exist. */
    for (int chunked = 0; chunked < 2; chunked++) {
        http_call("POST", "/nope", "{\"a\":1}", 7, chunked, &r, (const char *)0);
        assert_int_equal(r.status, 404);
        http_call("DELETE", "/echo", "{\"a\":1}", 7, chunked, &r, (const char *)0);
        assert_int_equal(r.status, 405);
    }
    GET("/healthz", &r);
    assert_int_equal(r.status, 200);
}

static void test_method_not_allowed(void **state)
{
    struct reply r;
    (void)state;
    http_call("DELETE", "/echo", NULL, 0, 0, &r, (const char *)0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST, PUT");
    assert_non_null(strstr(r.body, "method_not_allowed"));
    GET("/echo", &r);
    assert_int_equal(r.status, 405);
}

static void test_body_limits(void **state)
{
    struct reply r;
    char big[2048];
    (void)state;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* exactly max_body is fine */
    http_call("POST", "/echo", big, 1024, 0, &r, (const char *)0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 1024);
    assert_string_equal(r.custom, "1024");
    /* declared too large: refused before the body is read, and never handed to the handler
     * even if MHD passes the body on after the answer */
    int calls = atomic_load(&g_echo_calls);
    http_call("POST", "/echo", big, 1025, 0, &r, (const char *)0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "too_large"));
    assert_int_equal(atomic_load(&g_echo_calls), calls);
    /* chunked: no declared size, grows past the limit */
    http_call("POST", "/echo", big, 0, 1, &r, (const char *)0);
    assert_int_equal(r.status, 413);
    /* chunked within the limit */
    http_call("POST", "/echo", "hello", 0, 1, &r, (const char *)0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    /* no body at all: "" */
    http_call("POST", "/echo", NULL, 0, 0, &r, (const char *)0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.custom, "0");
}

static void test_async_answers(void **state)
{
    struct reply r;
    (void)state;
    GET("/async/slow", &r);
    assert_int_equal(r.status, 202);
    assert_non_null(strstr(r.body, "answered from thread"));
    /* the answer races MHD_suspend_connection: must never be lost */
    for (int i = 0; i < 200; i++) {
        GET("/async/fast", &r);
        assert_int_equal(r.status, 202);
    }
}

static void test_async_concurrent(void **state)
{
    (void)state;
    enum { N = 64 };
    CURLM *m = curl_multi_init();
    CURL *e[N];
    struct reply *rs = calloc(N, sizeof *rs);
    assert_non_null(rs);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/async/slow", g_port);
    for (int i = 0; i < N; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &rs[i]);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT, 10L);
        curl_multi_add_handle(m, e[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < N; i++) {
        long st = 0;
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &st);
        assert_int_equal(st, 202);
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    free(rs);
}

static void test_probes_and_metrics(void **state)
{
    struct reply r;
    (void)state;
    GET("/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    GET("/readyz", &r);
    assert_int_equal(r.status, 200);
    g_ready = 0;
    GET("/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":\"not_ready\",\"reason\":\"warming up\"}");
    g_ready = 1;
    GET("/v1/items/1/sub/2", &r);
    GET("/nowhere", &r);
    /* Requests are counted when MHD reports them complete, just after the client has its
     * answer: allow a moment for the last one. */
    for (int i = 0; i < 50; i++) {
        GET("/metrics", &r);
        if (strstr(r.body, "route=\"unmatched\",status=\"404\"} 1"))
            break;
        usleep(10000);
    }
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4");
    assert_non_null(strstr(r.body, "tp_http_requests_total{route=\"/v1/items/{id}/sub/{name}\",status=\"200\"} 1"));
    assert_non_null(strstr(r.body, "tp_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
    assert_non_null(strstr(r.body, "tp_http_requests_total{route=\"/readyz\",status=\"503\"} 1"));
    assert_non_null(strstr(r.body, "tp_http_request_seconds_count{route=\"/healthz\"} 1"));
}

static void test_request_id(void **state)
{
    struct reply r;
    (void)state;
    GET("/healthz", &r, "X-Request-Id: abc-DEF-123");
    assert_string_equal(r.req_id, "abc-DEF-123");
    GET("/healthz", &r, "X-Request-Id: has_underscore");
    assert_int_equal(strlen(r.req_id), 32);
    assert_int_equal(strspn(r.req_id, "0123456789abcdef"), 32);
    char longid[100];
    memset(longid, 'a', sizeof longid);
    snprintf(longid, sizeof longid, "X-Request-Id: %065d", 7); /* 65 chars: one too many */
    GET("/healthz", &r, longid);
    assert_int_equal(strlen(r.req_id), 32);
    char first[128];
    GET("/healthz", &r);
    snprintf(first, sizeof first, "%s", r.req_id);
    GET("/healthz", &r);
    assert_string_not_equal(first, r.req_id);
    /* errors produced by the server itself carry it too */
    GET("/nope", &r, "X-Request-Id: rid-404");
    assert_string_equal(r.req_id, "rid-404");
}

static void test_query_decoding(void **state)
{
    struct reply r;
    (void)state;
    GET("/q?a=hello%20w%C3%B6rld&b=x%2By&flag", &r);
    assert_int_equal(r.status, 200);
    json_t *o = json_loads(r.body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "a")), "hello w\xc3\xb6rld");
    json_t *all = json_object_get(o, "all");
    assert_string_equal(json_string_value(json_object_get(all, "b")), "x+y");
    assert_string_equal(json_string_value(json_object_get(all, "flag")), "");
    assert_true(json_is_true(json_object_get(o, "missing_is_null")));
    json_decref(o);
}

static void test_handler_forgot(void **state)
{
    struct reply r;
    (void)state;
    GET("/forget", &r);
    assert_int_equal(r.status, 500);
}

/* ---------- graceful stop (own servers: they end the fixture's life) ---------- */

struct client_arg {
    const char *path;
    struct reply r;
};

static void *client(void *arg)
{
    struct client_arg *c = arg;
    http_call(NULL, c->path, NULL, 0, 0, &c->r, (const char *)0);
    return NULL;
}

static void wait_parked(void)
{
    for (int i = 0; i < 500 && !g_parked; i++)
        usleep(2000);
    assert_non_null(g_parked);
    usleep(20000); /* let MHD actually park it */
}

static void test_stop_waits_for_answer(void **state)
{
    struct fx *f = *state;
    pthread_t t;
    struct client_arg c = {.path = "/park"};
    g_parked = NULL;
    assert_int_equal(pthread_create(&t, NULL, client, &c), 0);
    wait_parked();
    /* Answer 50 ms into a 2 s drain: the client must get the real answer. */
    struct later *l = malloc(sizeof *l);
    pthread_t t2;
    *l = (struct later){g_parked, 50, 201};
    assert_int_equal(pthread_create(&t2, NULL, answer_later, l), 0);
    tp_http_stop(f->s, 2000);
    pthread_join(t, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(c.r.status, 201);
}

static void test_stop_forces_stuck(void **state)
{
    struct fx *f = *state;
    pthread_t t;
    struct client_arg c = {.path = "/park"};
    g_parked = NULL;
    assert_int_equal(pthread_create(&t, NULL, client, &c), 0);
    wait_parked();
    tp_http_stop(f->s, 100);
    pthread_join(t, NULL);
    assert_int_equal(c.r.status, 503);
    assert_non_null(strstr(c.r.body, "shutting_down"));
    /* The handler's late answer must be harmless (ASan watches). */
    tp_http_respond(g_parked, 200, "text/plain", "late", 4);
    /* and nothing is accepted any more */
    struct reply r;
    GET("/healthz", &r);
    assert_int_equal(r.status, 0);
}

/* ---------- a client that goes away while its request is parked ---------- */

static int raw_connect(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static void test_client_gone_while_parked(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        g_parked = NULL;
        int fd = raw_connect();
        const char req[] = "GET /park HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_int_equal(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
        wait_parked();
        close(fd); /* gone before the answer */
        usleep((useconds_t)(round % 4) * 5000);
        tp_http_respond_error(g_parked, 202, "late", NULL, "nobody is listening");
    }
    /* The server still serves (and ASan saw no use after free). */
    struct reply r;
    GET("/healthz", &r);
    assert_int_equal(r.status, 200);
}

/* Read one response (headers + Content-Length body) from a raw socket into buf; its status. */
static int raw_response(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
            break;
        if (len + 1 >= cap)
            return 0;
    }
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    return status;
}

/* Connections opened in one burst are spread evenly over the loops (2 here), whichever loop
 * accepts them: left to MHD, the loop awake at the time took up to ten at once. */
static void test_connections_spread(void **state)
{
    (void)state;
    enum { N = 8 };
    int fds[N];
    long tids[N];
    char buf[1024];
    for (int i = 0; i < N; i++)
        fds[i] = raw_connect();
    for (int i = 0; i < N; i++) {
        const char req[] = "GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_int_equal(send(fds[i], req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
        assert_int_equal(raw_response(fds[i], buf, sizeof buf), 200);
        tids[i] = strtol(strstr(buf, "\r\n\r\n") + 4, NULL, 10);
        assert_true(tids[i] > 0);
    }
    int same_as_first = 0;
    long other = 0;
    for (int i = 0; i < N; i++) {
        if (tids[i] == tids[0]) {
            same_as_first++;
        } else {
            if (!other)
                other = tids[i];
            assert_true(tids[i] == other); /* two loops, two threads */
        }
    }
    assert_int_equal(same_as_first, N / 2);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

/* Out of descriptors, accepting pauses (the listening socket stays readable, so retrying at
 * once would spin) and resumes: the waiting connection is served once descriptors are back. */
static void test_accept_out_of_fds(void **state)
{
    (void)state;
    struct rlimit old, low;
    char buf[1024];
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int fd = raw_connect();
    int lowest_free = dup(0);
    assert_true(lowest_free >= 0);
    close(lowest_free);
    low = old;
    low.rlim_cur = (rlim_t)lowest_free; /* no new descriptor anywhere in the process */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    usleep(300 * 1000);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(raw_response(fd, buf, sizeof buf), 200);
    close(fd);
}

/* Loop hooks: each loop's start hook runs on that loop, its data reaches the handlers it runs,
 * a descriptor it watches reports to its event hook (here a pipe the handler writes, and the
 * event answers the parked request on the loop's thread), and stop runs once per loop. */
struct hook_loop {
    tp_http_loop *loop;
    int pfd[2];
    tp_http_req *parked;
    long tid;
};
static atomic_int g_hook_started, g_hook_stopped, g_hook_passes;

static void *hk_start(void *ctx, tp_http_loop *loop)
{
    (void)ctx;
    struct hook_loop *h = calloc(1, sizeof *h);
    if (!h || pipe2(h->pfd, O_NONBLOCK | O_CLOEXEC) != 0 || tp_http_loop_watch(loop, h->pfd[0], EPOLLIN) != 0)
        return NULL;
    h->loop = loop;
    h->tid = (long)syscall(SYS_gettid);
    atomic_fetch_add(&g_hook_started, 1);
    return h;
}
static void hk_pass(void *data) { (void)data, atomic_fetch_add(&g_hook_passes, 1); }
static long hk_timeout(void *data) { return (void)data, -1; }
static void hk_event(void *data, int fd, unsigned events)
{
    struct hook_loop *h = data;
    char c;
    if (fd != h->pfd[0] || !(events & EPOLLIN) || read(fd, &c, 1) != 1 || !h->parked)
        return;
    char body[48];
    int n = snprintf(body, sizeof body, "event on %ld", (long)syscall(SYS_gettid));
    tp_http_respond(h->parked, 200, "text/plain", body, (size_t)n);
    h->parked = NULL;
}
static void hk_stop(void *data)
{
    struct hook_loop *h = data;
    if (!h)
        return;
    if (tp_http_loop_watch(h->loop, h->pfd[0], 0) == 0)
        atomic_fetch_add(&g_hook_stopped, 1);
    close(h->pfd[0]);
    close(h->pfd[1]);
    free(h);
}
static void h_via_loop(tp_http_req *r, void *ctx)
{
    (void)ctx;
    struct hook_loop *h = tp_http_req_loop_data(r);
    if (!h || h->tid != (long)syscall(SYS_gettid)) {
        tp_http_respond_error(r, 500, "internal", NULL, "no loop data, or another loop's");
        return;
    }
    tp_http_req_suspend(r);
    h->parked = r;
    char c = 'x';
    if (write(h->pfd[1], &c, 1) != 1)
        abort();
}

/* A server of its own with loop hooks and one GET route, started; sets g_port. */
static tp_http_server *hooked_server(int threads, const char *path, tp_http_handler h,
                                     const tp_http_loop_hooks *hooks, tp_metrics **m)
{
    char err[256];
    tp_http_server *s;
    assert_int_equal(tp_metrics_new(m), 0);
    tp_http_options o = {.svc = "test", .bind_addr = "127.0.0.1", .port = 0, .threads = threads, .max_body = 1024,
                         .conn_timeout_s = 5, .metrics = *m};
    assert_int_equal(tp_http_server_new(&o, &s, err, sizeof err), 0);
    assert_int_equal(tp_http_route(s, "GET", path, h, NULL), 0);
    assert_int_equal(tp_http_set_loop_hooks(s, hooks), 0);
    assert_int_equal(tp_http_start(s, err, sizeof err), 0);
    g_port = tp_http_port(s);
    return s;
}

static void test_loop_hooks(void **state)
{
    (void)state;
    tp_metrics *m;
    const tp_http_loop_hooks hooks = {.start = hk_start, .pass = hk_pass, .timeout_ms = hk_timeout,
                                      .event = hk_event, .stop = hk_stop};
    tp_http_server *s = hooked_server(2, "/via-loop", h_via_loop, &hooks, &m);
    assert_int_equal(tp_http_set_loop_hooks(s, &hooks), TP_EINVAL); /* too late */
    long seen[2] = {0, 0};
    for (int i = 0; i < 2; i++) { /* two connections: one per loop */
        struct reply r;
        GET("/via-loop", &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "event on "));
        seen[i] = strtol(r.body + 9, NULL, 10);
    }
    assert_true(seen[0] != seen[1]);
    assert_int_equal(atomic_load(&g_hook_started), 2);
    assert_true(atomic_load(&g_hook_passes) > 0);
    tp_http_server_free(s);
    assert_int_equal(atomic_load(&g_hook_stopped), 2);
    tp_metrics_free(m);
}

/* tp_http_loop_connections counts what the loop holds: idle kept-alive connections too, and a
 * closed one no longer. (ingest-api sends at once when every connection waits on it.) */
static void *cn_start(void *ctx, tp_http_loop *loop) { return (void)ctx, loop; }
static void cn_nop(void *data) { (void)data; }
static long cn_timeout(void *data) { return (void)data, -1; }
static void h_conns(tp_http_req *r, void *ctx)
{
    (void)ctx;
    char body[32];
    int n = snprintf(body, sizeof body, "%u", tp_http_loop_connections(tp_http_req_loop_data(r)));
    tp_http_respond(r, 200, "text/plain", body, (size_t)n);
}
static long conns_now(void)
{
    struct reply r;
    GET("/conns", &r);
    assert_int_equal(r.status, 200);
    return strtol(r.body, NULL, 10);
}
static void test_loop_connections(void **state)
{
    (void)state;
    tp_metrics *m;
    const tp_http_loop_hooks hooks = {.start = cn_start, .pass = cn_nop, .timeout_ms = cn_timeout, .stop = cn_nop};
    tp_http_server *s = hooked_server(1, "/conns", h_conns, &hooks, &m);
    assert_int_equal(tp_http_loop_connections(NULL), 0);
    long alone = conns_now();
    assert_int_equal(alone, 1); /* the asking connection itself */
    int idle[3];
    for (int i = 0; i < 3; i++)
        idle[i] = raw_connect();
    long seen = 0;
    for (int i = 0; i < 200 && seen != 4; i++) { /* accepting is asynchronous */
        seen = conns_now();
        if (seen != 4)
            usleep(10000);
    }
    assert_int_equal(seen, 4);
    for (int i = 0; i < 3; i++)
        close(idle[i]);
    for (int i = 0; i < 200 && seen != 1; i++) { /* so is noticing a close */
        seen = conns_now();
        if (seen != 1)
            usleep(10000);
    }
    assert_int_equal(seen, 1);
    tp_http_server_free(s);
    tp_metrics_free(m);
}

/* The same, with the answer coming while the server stops. */
static void test_client_gone_then_stop(void **state)
{
    struct fx *f = *state;
    g_parked = NULL;
    int fd = raw_connect();
    const char req[] = "GET /park HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    wait_parked();
    close(fd);
    struct later *l = malloc(sizeof *l);
    pthread_t t2;
    *l = (struct later){g_parked, 30, 201};
    assert_int_equal(pthread_create(&t2, NULL, answer_later, l), 0);
    tp_http_stop(f->s, 2000);
    pthread_join(t2, NULL);
}

static struct stopper {
    tp_http_server *s;
    int drain_ms;
} g_stopper;
static void *stop_thread(void *arg)
{
    struct stopper *st = arg;
    tp_http_stop(st->s, st->drain_ms);
    return NULL;
}

/* A client on one kept-alive connection posting as fast as answers come, until the server
 * stops answering; counts the 503s it got. */
static atomic_int g_hammer_503;
static void *hammer(void *arg)
{
    (void)arg;
    /* Answered from another thread, as ingest-api answers once events are durable. */
    static const char post[] = "POST /async/fast HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    char buf[4096];
    int fd = raw_connect();
    for (;;) {
        if (send(fd, post, sizeof post - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof post - 1))
            break;
        int st = raw_response(fd, buf, sizeof buf);
        if (st == 503)
            atomic_fetch_add(&g_hammer_503, 1);
        if (st != 202)
            break;
    }
    close(fd);
    return NULL;
}

/* Requests on kept-alive connections while the server drains: each is answered 503 before it
 * is routed, and the parked request that holds the drain open still gets its own answer.
 * (Under a real load, MHD sometimes hands such a request's body over after the 503; the
 * server then dispatched it through a route it never matched and crashed on SIGTERM. This
 * test runs the same path but could not make MHD do that here; bench-style load could.) */
static void test_keepalive_request_while_stopping(void **state)
{
    struct fx *f = *state;
    char buf[4096];
    static const char post[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    int keep = raw_connect();
    assert_int_equal(send(keep, post, sizeof post - 1, 0), (ssize_t)(sizeof post - 1));
    assert_int_equal(raw_response(keep, buf, sizeof buf), 200);

    g_parked = NULL;
    pthread_t t, ts;
    struct client_arg c = {.path = "/park"};
    assert_int_equal(pthread_create(&t, NULL, client, &c), 0);
    wait_parked(); /* holds the drain open */
    /* Many more clients keep posting through the stop, as a load does on SIGTERM. */
    enum { NHAMMER = 48 };
    pthread_t th[NHAMMER];
    atomic_store(&g_hammer_503, 0);
    for (int i = 0; i < NHAMMER; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
    usleep(50000);
    g_stopper = (struct stopper){f->s, 5000};
    assert_int_equal(pthread_create(&ts, NULL, stop_thread, &g_stopper), 0);
    /* Until the stop has begun the echo still answers 200 on the same connection. */
    int status = 200;
    for (int i = 0; i < 200 && status == 200; i++) {
        assert_int_equal(send(keep, post, sizeof post - 1, 0), (ssize_t)(sizeof post - 1));
        status = raw_response(keep, buf, sizeof buf);
        if (status == 200)
            usleep(10000);
    }
    assert_int_equal(status, 503);
    assert_non_null(strstr(buf, "shutting_down"));
    close(keep);

    for (int i = 0; i < NHAMMER; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&g_hammer_503) > 0);
    tp_http_respond(g_parked, 201, "text/plain", "done", 4);
    pthread_join(ts, NULL);
    pthread_join(t, NULL);
    assert_int_equal(c.r.status, 201);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    tp_http_server *s;
    char err[128];
    tp_http_options o = {.port = 0};
    assert_int_equal(tp_http_server_new(&o, &s, err, sizeof err), 0);
    assert_int_equal(tp_http_route(s, "GET", "nope", h_echo, NULL), TP_EINVAL);
    assert_int_equal(tp_http_route(s, "GET", "/a//b", h_echo, NULL), TP_EINVAL);
    assert_int_equal(tp_http_route(s, "GET", "/a/{}", h_echo, NULL), TP_EINVAL);
    assert_int_equal(tp_http_route(s, "GET", "/a/{x", h_echo, NULL), TP_EINVAL);
    assert_int_equal(tp_http_route(s, "GET", "/a/{x}", h_echo, NULL), 0);
    tp_http_server_free(s); /* never started */
    o.port = 70000;
    assert_int_equal(tp_http_server_new(&o, &s, err, sizeof err), TP_EINVAL);
    assert_null(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probes_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_forgot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_forces_stuck, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_while_parked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_then_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_spread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_out_of_fds, setup, teardown),
        cmocka_unit_test(test_loop_hooks),
        cmocka_unit_test(test_loop_connections),
        cmocka_unit_test_setup_teardown(test_keepalive_request_while_stopping, setup, teardown),
        cmocka_unit_test(test_bad_patterns),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

/* post.c — POSTing events to ingest-api with libcurl multi (see post.h). */
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "post.h"
#include "tp/backoff.h"
#include "tp/log.h"

#define SIM_POST_MAX_ATTEMPTS 10     /* transport errors and 5xx */
#define SIM_POST_MAX_THROTTLED 60    /* 429/503: the server asked us to wait, so be patient */
#define SIM_POST_LINGER_MS 500       /* live mode: a partial batch waits at most this long */

typedef struct batch {
    struct batch *next;
    char *body;
    size_t len, cap;
    uint32_t n, nvalid;
    unsigned attempt, throttled;
    int64_t not_before;              /* monotonic ms */
    CURL *easy;
    char *resp;
    size_t resp_len;
} batch;

struct sim_poster {
    CURLM *multi;
    char *url;
    struct curl_slist *headers;
    int concurrency, batch_max;
    batch *cur;                      /* being filled */
    int64_t cur_started;
    batch *head, *tail;              /* waiting to be sent (FIFO, some with not_before) */
    int queued, inflight;
    batch **active;                  /* [concurrency]: requests in flight */
    sim_post_stats st;
    int64_t t0;
};

static void batch_free(batch *b)
{
    if (!b)
        return;
    if (b->easy)
        curl_easy_cleanup(b->easy);
    free(b->body);
    free(b->resp);
    free(b);
}

int sim_poster_new(const char *url, const char *token, int concurrency, int batch_max, sim_poster **out,
                   char *err, size_t errlen)
{
    int rc = 0;
    char *auth = NULL;
    *out = NULL;
    sim_poster *p = calloc(1, sizeof *p);
    if (!p)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/')
        ul--;
    p->url = malloc(ul + sizeof "/v1/events");
    auth = malloc(strlen(token) + sizeof "Authorization: Bearer ");
    if (!p->url || !auth) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(p->url, url, ul);
    strcpy(p->url + ul, "/v1/events");
    strcpy(auth, "Authorization: Bearer ");
    strcat(auth, token);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h)
        p->headers = h;
    h = h ? curl_slist_append(h, auth) : NULL;
    if (h)
        p->headers = h;
    h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
    if (h)
        p->headers = h;
    p->multi = curl_multi_init();
    p->active = calloc((size_t)concurrency, sizeof *p->active);
    if (!h || !p->multi || !p->active) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "cannot set up libcurl");
        goto out;
    }
    curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    p->concurrency = concurrency;
    p->batch_max = batch_max;
    p->t0 = tp_now_mono_ms();
out:
    if (auth) {
        memset(auth, 0, strlen(auth)); /* the token does not linger in freed memory */
        free(auth);
    }
    if (rc) {
        sim_poster_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void sim_poster_free(sim_poster *p)
{
    if (!p)
        return;
    batch *b = p->head;
    while (b) {
        batch *n = b->next;
        batch_free(b);
        b = n;
    }
    batch_free(p->cur);
    for (int i = 0; p->active && i < p->concurrency; i++) {
        if (p->active[i]) {
            curl_multi_remove_handle(p->multi, p->active[i]->easy);
            batch_free(p->active[i]);
        }
    }
    free(p->active);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    curl_slist_free_all(p->headers);
    free(p->url);
    free(p);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    batch *b = ud;
    size_t n = size * nmemb;
    if (b->resp_len + n > 1 << 20)
        return 0; /* an answer this big is not ours to parse; fail the transfer */
    char *nr = realloc(b->resp, b->resp_len + n + 1);
    if (!nr)
        return 0;
    memcpy(nr + b->resp_len, data, n);
    b->resp = nr;
    b->resp_len += n;
    nr[b->resp_len] = 0;
    return n;
}

static void enqueue(sim_poster *p, batch *b)
{
    b->next = NULL;
    if (p->tail)
        p->tail->next = b;
    else
        p->head = b;
    p->tail = b;
    p->queued++;
}

static int start(sim_poster *p, batch *b)
{
    b->easy = curl_easy_init();
    if (!b->easy)
        return TP_ENOMEM;
    b->resp_len = 0;
    curl_easy_setopt(b->easy, CURLOPT_URL, p->url);
    curl_easy_setopt(b->easy, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(b->easy, CURLOPT_POSTFIELDS, b->body);
    curl_easy_setopt(b->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(b->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(b->easy, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(b->easy, CURLOPT_PRIVATE, (char *)b);
    curl_easy_setopt(b->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(b->easy, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(b->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (curl_multi_add_handle(p->multi, b->easy) != CURLM_OK) {
        curl_easy_cleanup(b->easy);
        b->easy = NULL;
        return TP_EINTERNAL;
    }
    for (int i = 0; i < p->concurrency; i++) {
        if (!p->active[i]) {
            p->active[i] = b;
            break;
        }
    }
    p->inflight++;
    return 0;
}

/* Start queued batches whose time has come while there is room. */
static int start_ready(sim_poster *p)
{
    int64_t now = tp_now_mono_ms();
    batch **pp = &p->head, *prev = NULL;
    while (*pp && p->inflight < p->concurrency) {
        batch *b = *pp;
        if (b->not_before > now) {
            prev = b;
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        if (p->tail == b)
            p->tail = prev;
        p->queued--;
        int rc = start(p, b);
        if (rc) {
            batch_free(b);
            return rc;
        }
    }
    return 0;
}

/* Count a {"accepted":n,"rejected":[...]} answer; 0 if the body is not one. */
static int count_answer(sim_poster *p, batch *b)
{
    json_error_t je;
    json_t *root = json_loadb(b->resp ? b->resp : "", b->resp_len, 0, &je);
    json_t *acc = root ? json_object_get(root, "accepted") : NULL;
    json_t *rej = root ? json_object_get(root, "rejected") : NULL;
    int ok = json_is_integer(acc);
    if (ok) {
        p->st.accepted += (uint64_t)json_integer_value(acc);
        p->st.rejected += json_is_array(rej) ? json_array_size(rej) : 0;
        p->st.sent += b->n;
    }
    json_decref(root);
    return ok;
}

static void retry_later(sim_poster *p, batch *b, int64_t delay_ms)
{
    p->st.retries++;
    b->not_before = tp_now_mono_ms() + delay_ms;
    enqueue(p, b);
}

static void finished(sim_poster *p, batch *b, CURLcode res)
{
    long code = 0;
    curl_off_t retry_after = 0;
    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(b->easy, CURLINFO_RETRY_AFTER, &retry_after);
    curl_multi_remove_handle(p->multi, b->easy);
    curl_easy_cleanup(b->easy);
    b->easy = NULL;
    p->inflight--;
    for (int i = 0; i < p->concurrency; i++)
        if (p->active[i] == b)
            p->active[i] = NULL;

    /* 202: some or all accepted; 400 with the same shape: none of the batch was valid. */
    if (res == CURLE_OK && (code == 200 || code == 202 || code == 400) && count_answer(p, b)) {
        batch_free(b);
        return;
    }
    if (res == CURLE_OK && (code == 429 || code == 503) && b->throttled < SIM_POST_MAX_THROTTLED) {
        b->throttled++;
        int64_t d = retry_after > 0 ? (int64_t)retry_after * 1000 : tp_backoff_ms(b->throttled, 200, 5000);
        retry_later(p, b, d);
        return;
    }
    int transient = res != CURLE_OK || code >= 500 || code == 429;
    if (transient && ++b->attempt < SIM_POST_MAX_ATTEMPTS) {
        retry_later(p, b, tp_backoff_ms(b->attempt, 100, 10000));
        return;
    }
    char cs[24];
    snprintf(cs, sizeof cs, "%ld", code);
    if (transient) {
        tp_log_error("giving up on a batch", "status", cs, "curl", curl_easy_strerror(res));
        p->st.failed += b->n;
    } else {
        /* 401/403/413, malformed...: refused as a whole; resending cannot help. */
        tp_log_error("ingest-api refused a batch", "status", cs, "body", b->resp ? b->resp : "");
        p->st.rejected += b->n;
        p->st.sent += b->n;
    }
    batch_free(b);
}

/* Drive transfers; wait up to wait_ms for activity. */
static int pump(sim_poster *p, int wait_ms)
{
    int rc = start_ready(p);
    if (rc)
        return rc;
    int running = 0;
    curl_multi_perform(p->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        batch *b = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&b);
        finished(p, b, m->data.result);
    }
    if ((rc = start_ready(p)))
        return rc;
    if (wait_ms > 0) {
        if (p->inflight)
            curl_multi_poll(p->multi, NULL, 0, wait_ms, NULL);
        else
            tp_sleep_ms((uint32_t)wait_ms);
    }
    return 0;
}

static void seal(sim_poster *p)
{
    if (!p->cur)
        return;
    p->cur->body[p->cur->len++] = ']';
    p->cur->body[p->cur->len] = 0;
    enqueue(p, p->cur);
    p->cur = NULL;
}

static int post_line(void *ctx, const char *line, size_t len, int valid)
{
    sim_poster *p = ctx;
    if (!p->cur) {
        p->cur = calloc(1, sizeof *p->cur);
        if (!p->cur)
            return TP_ENOMEM;
        p->cur_started = tp_now_mono_ms();
    }
    batch *b = p->cur;
    if (b->len + len + 3 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc < b->len + len + 3)
            nc *= 2;
        char *nb = realloc(b->body, nc);
        if (!nb)
            return TP_ENOMEM;
        b->body = nb;
        b->cap = nc;
    }
    b->body[b->len++] = b->n ? ',' : '[';
    memcpy(b->body + b->len, line, len - 1); /* without the '\n' */
    b->len += len - 1;
    b->n++;
    b->nvalid += valid != 0;
    p->st.valid += valid != 0;
    if ((int)b->n >= p->batch_max)
        seal(p);
    int rc = pump(p, 0);
    /* Back-pressure: generation is far faster than HTTP, so wait while enough is queued. */
    while (rc == 0 && p->queued >= p->concurrency)
        rc = pump(p, 50);
    return rc;
}

static int post_idle(void *ctx, int64_t wait_ms)
{
    sim_poster *p = ctx;
    if (p->cur && tp_now_mono_ms() - p->cur_started >= SIM_POST_LINGER_MS)
        seal(p);
    return pump(p, (int)wait_ms);
}

static int post_finish(void *ctx)
{
    sim_poster *p = ctx;
    seal(p);
    int rc = 0;
    while (rc == 0 && (p->queued || p->inflight))
        rc = pump(p, 50);
    p->st.seconds = (double)(tp_now_mono_ms() - p->t0) / 1000.0;
    return rc;
}

void sim_poster_sink(sim_poster *p, tp_sim_sink *sink)
{
    memset(sink, 0, sizeof *sink);
    sink->line = post_line;
    sink->idle = post_idle;
    sink->finish = post_finish;
    sink->ctx = p;
}

void sim_poster_stats(const sim_poster *p, sim_post_stats *out)
{
    *out = p->st;
    if (out->seconds == 0)
        out->seconds = (double)(tp_now_mono_ms() - p->t0) / 1000.0;
}

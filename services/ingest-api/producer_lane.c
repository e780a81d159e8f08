/* producer_lane.c — batches formed and sent from an HTTP event loop's own thread (producer.h).
 *
 * Why: with the batcher and sender threads, a request crossed three threads (loop → batcher →
 * sender → loop) and waited for a CPU at each hop; with a fixed number of clients that waiting,
 * not work, capped single events at ~50% of a bare server (bench/RESULTS.md). A lane keeps the
 * whole happy path on the loop: records go into the lane's own formers (KPL aggregation per
 * shard, as the batcher does), PutRecords runs asynchronously on a curl multi handle whose
 * sockets sit in the loop's epoll set (up to TP_SENDERS calls in flight per lane: each lane flushes on its
 * own, so a slow Kinesis needs as many per lane as the senders had in all), and the answers
 * are resumed on the same thread.
 *
 * What a lane does not do, it hands to the producer's threads, which already know how: a call
 * that failed, or the entries a call did not store, go to the senders' queue (they resend only
 * what is not stored, with backoff, then spool); while the producer is in spool mode (Kinesis
 * down, spool not empty, shard maps unknown, too much buffered) submissions take the batcher's
 * path so the spool keeps its order; on stop, whatever the lane holds or has in flight goes to
 * the senders (a call cut short may be sent twice: consumers de-duplicate by event_id). */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "producer_internal.h"
#include "tp/backoff.h"
#include "tp/log.h"

#define LANE_MAX_CALLS 64 /* PutRecords in flight per lane: TP_SENDERS each */

struct lane_call {
    tp_kinesis *k;
    struct pbatch *b; /* NULL when free */
    int64_t t0_ns;
    size_t m;
    tp_put_entry pe[P_MAX_ENTRIES];
    size_t idx[P_MAX_ENTRIES];
    tp_put_result_entry res[P_MAX_ENTRIES];
};

struct tp_producer_lane {
    tp_producer *p;
    tp_producer_lane_loop loop;
    CURLM *multi;
    int64_t curl_due_ms; /* curl's timer, -1 when none */
    struct former formers[TP_STREAM__COUNT];
    int formers_ok;
    struct pbatch *ready_head, *ready_tail; /* formed, waiting for a free call */
    struct lane_call *calls[LANE_MAX_CALLS];
    int ncalls;
    size_t held, flush_events;
    atomic_size_t *waiting; /* requests submitted here and not answered (in p), or NULL */
    int64_t oldest_ms, last_flush_ms, last_sync_ms;
    int64_t retry_ms; /* after a flush ran out of memory: no flush before then */
};

static void lane_emit(void *ctx, struct pbatch *b)
{
    tp_producer_lane *l = ctx;
    b->next = NULL;
    if (l->ready_tail)
        l->ready_tail->next = b;
    else
        l->ready_head = b;
    l->ready_tail = b;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    tp_producer_lane *l = userp;
    (void)easy, (void)socketp;
    unsigned ev = what == CURL_POLL_IN      ? EPOLLIN
                  : what == CURL_POLL_OUT   ? EPOLLOUT
                  : what == CURL_POLL_INOUT ? EPOLLIN | EPOLLOUT
                                            : 0;
    if (l->loop.watch(l->loop.ctx, (int)fd, ev) != 0)
        tp_log_error("producer: cannot watch a Kinesis connection");
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    tp_producer_lane *l = userp;
    (void)multi;
    l->curl_due_ms = timeout_ms < 0 ? -1 : tp_now_mono_ms() + timeout_ms;
    return 0;
}

static struct lane_call *free_call(tp_producer_lane *l)
{
    for (int i = 0; i < l->ncalls; i++)
        if (!l->calls[i]->b)
            return l->calls[i];
    return NULL;
}

static void to_senders(tp_producer_lane *l, struct pbatch *b) { p_enqueue(l->p, b); }

static void start_call(tp_producer_lane *l, struct lane_call *c, struct pbatch *b)
{
    char err[256];
    tp_producer *p = l->p;
    c->m = p_batch_entries(b, c->pe, c->idx);
    if (c->m == 0) {
        p_batch_release(p, b);
        return;
    }
    int rc = tp_kinesis_put_start(c->k, p->stream_names[b->stream], c->pe, c->m, err, sizeof err);
    if (rc == 0 && curl_multi_add_handle(l->multi, tp_kinesis_easy(c->k)) != CURLM_OK) {
        size_t failed;
        rc = tp_kinesis_put_finish(c->k, CURLE_FAILED_INIT, c->res, &failed, err, sizeof err);
        if (rc == 0)
            rc = TP_EINTERNAL;
    }
    if (rc != 0) {
        p_call_failed(p, p->stream_names[b->stream], rc, 0, err);
        to_senders(l, b);
        return;
    }
    c->b = b;
    c->t0_ns = tp_now_mono_ns();
    /* TP_MAX_ATTEMPT_MS runs from this call, also for what the senders take over from it. */
    b->deadline_ms = c->t0_ns / 1000000 + p->max_attempt_ms;
}

static void start_ready(tp_producer_lane *l)
{
    struct lane_call *c;
    while (l->ready_head && (c = free_call(l))) {
        struct pbatch *b = l->ready_head;
        l->ready_head = b->next;
        if (!l->ready_head)
            l->ready_tail = NULL;
        start_call(l, c, b);
    }
}

static void finish_call(tp_producer_lane *l, struct lane_call *c, int curl_result)
{
    tp_producer *p = l->p;
    struct pbatch *b = c->b;
    char err[512];
    size_t failed = 0;
    curl_multi_remove_handle(l->multi, tp_kinesis_easy(c->k));
    int rc = tp_kinesis_put_finish(c->k, curl_result, c->res, &failed, err, sizeof err);
    tp_histogram_observe(p->m_put_seconds[b->stream], (double)(tp_now_mono_ns() - c->t0_ns) / 1e9);
    c->b = NULL;
    if (rc == 0)
        p_batch_apply(p, b, c->idx, c->res, c->m);
    else
        p_call_failed(p, p->stream_names[b->stream], rc, 0, err);
    if (rc == 0 && failed == 0)
        p_batch_release(p, b);
    else
        to_senders(l, b); /* they resend what is not stored, with backoff, then spool */
}

static void reap(tp_producer_lane *l)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (int i = 0; i < l->ncalls; i++) {
            struct lane_call *c = l->calls[i];
            if (c->b && tp_kinesis_easy(c->k) == msg->easy_handle) {
                finish_call(l, c, (int)msg->data.result);
                break;
            }
        }
    }
    start_ready(l);
}

void tp_producer_lane_event(tp_producer_lane *l, int fd, unsigned events)
{
    int running;
    int flags = ((events & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0) | ((events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                ((events & EPOLLERR) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(l->multi, fd, flags, &running);
    reap(l);
}

/* Every connection of the loop waits on the lane: none can send another request before it is
 * answered, so nothing more can come to share a call and waiting only adds latency (a client
 * posting one event at a time on a few connections waited out the linger on every request). */
static int all_waiting(tp_producer_lane *l)
{
    unsigned nc = l->loop.connections ? l->loop.connections(l->loop.ctx) : 0;
    return nc > 0 && l->waiting && atomic_load_explicit(l->waiting, memory_order_relaxed) >= nc;
}

/* Group commit, as the batcher does it (producer.c send_now): what the lane holds goes out once
 * a call is free and either flush_events wait, or no batch left in the last linger_ms, or every
 * connection of the loop waits; or, with every call busy, once the oldest has waited linger_ms
 * and nothing formed is still waiting.
 * (Also flushing whenever a pass brought nothing new answered quiet clients sooner but made
 * ~40% more calls under load: 66-69k against 71-78k single events/s, bench/RESULTS.md.) */
static int flush_now(tp_producer_lane *l, int64_t now)
{
    if (l->held == 0 || l->ready_head || now < l->retry_ms)
        return 0;
    if (free_call(l)) {
        if (l->held >= l->flush_events)
            return P_FLUSH_COUNT + 1;
        if (all_waiting(l))
            return P_FLUSH_ALL_WAITING + 1;
        if (now - l->last_flush_ms >= l->p->linger_ms)
            return P_FLUSH_QUIET + 1;
    }
    return now - l->oldest_ms >= l->p->linger_ms ? P_FLUSH_LINGER + 1 : 0;
}

/* Batches are also formed outside a flush (a submit filling one to 500 entries or 1 MiB, a
 * shard map switch): they are started here too, or with no call in flight nothing would. */
void tp_producer_lane_pass(tp_producer_lane *l)
{
    int64_t now = tp_now_mono_ms();
    if (l->curl_due_ms >= 0 && now >= l->curl_due_ms) {
        int running;
        l->curl_due_ms = -1;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        reap(l);
    }
    start_ready(l); /* from here on, a formed batch waiting means every call is busy */
    int why = flush_now(l, now);
    if (why) {
        size_t left = 0;
        tp_counter_add(l->p->m_lane_flushes[why - 1], 1);
        for (int s = 0; s < TP_STREAM__COUNT; s++) {
            if (p_former_flush(&l->formers[s]) != 0)
                tp_log_warn("producer: out of memory flushing a batch; retrying in 10 ms");
            left += l->formers[s].open_recs;
        }
        /* What a failed flush left behind keeps its place and its age; tried again in 10 ms,
         * not on every pass. */
        l->held = left;
        l->retry_ms = left ? now + 10 : 0;
        l->last_flush_ms = now;
        start_ready(l);
    }
    /* A resharding is rare, and a batch formed under the old map is still stored (by hash key);
     * looking ten times a second keeps the shared map's lock off the per-pass path. */
    if (l->held == 0 && now - l->last_sync_ms >= 100) {
        l->last_sync_ms = now;
        for (int s = 0; s < TP_STREAM__COUNT; s++)
            if (p_former_sync_map(&l->formers[s]) != 0)
                tp_log_warn("producer: out of memory switching shard maps");
        start_ready(l);
    }
}

long tp_producer_lane_timeout_ms(tp_producer_lane *l)
{
    int64_t now = tp_now_mono_ms(), due = l->curl_due_ms;
    if (l->ready_head && free_call(l))
        return 0; /* formed outside a pass (tp_producer_lane_pass starts it) */
    /* The loop may run libmicrohttpd once more after a pass: what that run submitted or closed
     * can make a flush due with no event to come. */
    if (flush_now(l, now))
        return 0;
    /* With formed batches waiting for a call, nothing can go before a call ends, and its end is
     * an event: a deadline here would only spin the loop. */
    if (l->held > 0 && !l->ready_head) {
        int64_t d = l->oldest_ms + l->p->linger_ms;
        int64_t gap = l->last_flush_ms + l->p->linger_ms;
        if (gap < d && free_call(l))
            d = gap;
        if (d < l->retry_ms)
            d = l->retry_ms;
        if (due < 0 || d < due)
            due = d;
    }
    if (due < 0)
        return -1;
    return due > now ? (long)(due - now) : 0;
}

int tp_producer_lane_submit(tp_producer_lane *l, const tp_producer_record *recs, size_t n, tp_producer_done_cb cb,
                            void *ctx)
{
    tp_producer *p = l->p;
    if (!l->formers_ok || atomic_load(&p->closing) || p_spool_mode(p))
        return tp_producer_submit(p, recs, n, cb, ctx);
    int rc;
    struct preq *q = p_req_new(recs, n, cb, ctx, &rc);
    if (!q)
        return rc;
    atomic_fetch_add(&p->buffered_bytes, q->bytes);
    if (l->waiting) {
        q->waiting = l->waiting;
        atomic_fetch_add(l->waiting, 1);
    }
    if (l->held == 0)
        l->oldest_ms = tp_now_mono_ms();
    l->held += n;
    for (size_t i = 0; i < n; i++) {
        struct prec *r = &q->recs[i];
        /* q may be freed by the last completion: nothing of it is used after the loop. */
        if (p_former_add(&l->formers[r->stream], r) != 0) {
            tp_log_error("producer: out of memory forming a batch; the record is refused");
            p_complete_rec(p, r, TP_EFULL);
        }
    }
    return 0;
}

tp_producer_lane *tp_producer_lane_new(tp_producer *p, int nlanes, const tp_producer_lane_loop *loop)
{
    tp_producer_lane *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->p = p;
    l->loop = *loop;
    int slot = atomic_fetch_add(&p->lanes_made, 1);
    l->waiting = slot < P_MAX_LANES ? &p->lane_waiting[slot].n : NULL; /* none: no early sends */
    l->curl_due_ms = -1;
    l->flush_events = p->flush_events / (size_t)(nlanes > 0 ? nlanes : 1);
    if (l->flush_events == 0)
        l->flush_events = 1;
    l->last_flush_ms = INT64_MIN / 2;
    l->ncalls = p->nsenders < 1 ? 1 : p->nsenders > LANE_MAX_CALLS ? LANE_MAX_CALLS : p->nsenders;
    int ok = (l->multi = curl_multi_init()) != NULL;
    if (ok)
        ok = curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket) == CURLM_OK &&
             curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l) == CURLM_OK &&
             curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer) == CURLM_OK &&
             curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l) == CURLM_OK;
    for (int i = 0; ok && i < l->ncalls; i++)
        ok = (l->calls[i] = calloc(1, sizeof *l->calls[i])) && tp_kinesis_new(&p->send_aws, &l->calls[i]->k) == 0;
    int nf = 0;
    while (ok && nf < TP_STREAM__COUNT && p_former_init(&l->formers[nf], p, nf, lane_emit, l) == 0)
        nf++;
    l->formers_ok = ok && nf == TP_STREAM__COUNT;
    if (!l->formers_ok) {
        /* Without a working lane every submission takes the batcher's path. */
        tp_log_warn("producer: cannot set up a loop lane; using the batcher");
        for (int s = 0; s < nf; s++)
            p_former_free(&l->formers[s]);
        l->formers_ok = 0;
    }
    return l;
}

void tp_producer_lane_free(tp_producer_lane *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->ncalls; i++) {
        struct lane_call *c = l->calls[i];
        if (c && c->b) { /* cut short: stored or not, the senders send it (again) */
            char err[128];
            size_t failed;
            struct pbatch *b = c->b;
            curl_multi_remove_handle(l->multi, tp_kinesis_easy(c->k));
            if (tp_kinesis_put_finish(c->k, CURLE_ABORTED_BY_CALLBACK, c->res, &failed, err, sizeof err) == 0)
                p_batch_apply(l->p, b, c->idx, c->res, c->m);
            c->b = NULL;
            to_senders(l, b);
        }
    }
    if (l->formers_ok) {
        for (int s = 0; s < TP_STREAM__COUNT; s++) {
            struct former *f = &l->formers[s];
            if (p_former_flush(f) != 0)
                tp_log_error("producer: out of memory flushing a loop lane at stop");
            /* Records a failed flush left behind are refused rather than forgotten. */
            for (size_t i = 0; i < f->naggs; i++)
                for (size_t j = 0; j < f->aggs[i].n; j++)
                    p_complete_rec(l->p, f->aggs[i].recs[j], TP_EFULL);
            for (size_t i = 0; f->cur && i < f->cur->nrecs; i++)
                p_complete_rec(l->p, f->cur->recs[i], TP_EFULL);
            p_former_free(f);
        }
    }
    while (l->ready_head) {
        struct pbatch *b = l->ready_head;
        l->ready_head = b->next;
        to_senders(l, b);
    }
    for (int i = 0; i < l->ncalls; i++) {
        if (l->calls[i])
            tp_kinesis_free(l->calls[i]->k);
        free(l->calls[i]);
    }
    if (l->multi)
        curl_multi_cleanup(l->multi);
    free(l);
}

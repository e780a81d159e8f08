/* routes_events.c — POST /v1/events: authenticate, parse, authorise per tenant, validate, hand
 * the valid events to the producer and answer when they are durable (openapi/ingest.yaml).
 *
 * Order of checks, each refusing the whole request: key (401/503) → events:write scope (403) →
 * media type (415) → body parses (400 malformed_json / empty_batch, 413 > 500 events) → every
 * readable tenant_id within the key's tenant (403, nothing stored). Then each event is
 * validated on its own; invalid ones are listed in "rejected" and the rest go to the producer.
 * The request is suspended until the producer's callback (another thread) answers it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "events_body.h"
#include "ingest.h"
#include "tp/backoff.h"
#include "tp/event.h"
#include "tp/log.h"

/* ---------- shared with routes_admin.c ---------- */

int ingest_media_is(const char *ct, const char *media)
{
    size_t n = strlen(media);
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, media, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int ingest_authenticate(struct ingest *ing, tp_http_req *req, tp_principal *out)
{
    int rc = tp_auth_verify(ing->auth, tp_http_req_header(req, "Authorization"), out);
    if (rc == 0) {
        tp_http_req_set_tenant(req, out->tenant_id[0] ? out->tenant_id : "*");
        return 0;
    }
    if (rc == TP_EAUTH) {
        tp_counter_add(ing->rejected[REJ_UNAUTHORIZED], 1);
        tp_http_req_add_header(req, "WWW-Authenticate", "Bearer");
        tp_http_respond_error(req, 401, "unauthorized", NULL, "a valid API key is required (Authorization: Bearer <key>)");
    } else {
        tp_http_req_add_header(req, "Retry-After", INGEST_RETRY_AFTER_S);
        tp_http_respond_error(req, 503, "unavailable", NULL, "the key store is unavailable");
    }
    return rc;
}

int ingest_metrics_init(struct ingest *ing)
{
    static const char *const reasons[] = {
#define INGEST_REJ_NAME(e, name) name,
        INGEST_REJECT_REASONS(INGEST_REJ_NAME)
#undef INGEST_REJ_NAME
    };
    char labels[96];
    for (int s = 0; s < TP_STREAM__COUNT; s++) {
        snprintf(labels, sizeof labels, "stream=%s", tp_stream_name((tp_stream)s));
        ing->accepted[s] = tp_metrics_counter(ing->metrics, "tp_ingest_events_accepted_total",
                                              "Events made durable (Kinesis or spool), by stream", labels);
        if (!ing->accepted[s])
            return TP_ENOMEM;
    }
    for (int r = 0; r < REJ__COUNT; r++) {
        snprintf(labels, sizeof labels, "reason=%s", reasons[r]);
        ing->rejected[r] = tp_metrics_counter(ing->metrics, "tp_ingest_events_rejected_total",
                                              "Events (or requests, before parsing) refused, by reason", labels);
        if (!ing->rejected[r])
            return TP_ENOMEM;
    }
    return 0;
}

/* ---------- the answer, once durable ---------- */

struct pending {
    tp_http_req *req;
    struct ingest *ing;
    json_t *rejected; /* array, NULL until the first rejection */
    size_t accepted;
    size_t per_stream[TP_STREAM__COUNT];
};

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    json_decref(p->rejected);
    free(p);
}

static void answer_accepted(tp_http_req *req, size_t accepted, json_t *rejected)
{
    if (json_array_size(rejected) == 0 && accepted) { /* the common answer, without building a tree */
        char body[48];
        int n = snprintf(body, sizeof body, "{\"accepted\":%zu}", accepted);
        tp_http_respond(req, 202, "application/json", body, (size_t)n);
        return;
    }
    json_t *o = json_object();
    if (o && json_object_set_new(o, "accepted", json_integer((json_int_t)accepted)) == 0 &&
        json_array_size(rejected) > 0)
        json_object_set(o, "rejected", rejected);
    tp_http_respond_json(req, accepted ? 202 : 400, o);
}

static void on_durable(void *ctx, int status)
{
    struct pending *p = ctx;
    struct ingest *ing = p->ing;
    if (status == 0) {
        for (int s = 0; s < TP_STREAM__COUNT; s++)
            tp_counter_add(ing->accepted[s], p->per_stream[s]);
        answer_accepted(p->req, p->accepted, p->rejected);
    } else {
        /* TP_EFULL: the spool is full; TP_ESHUTDOWN: stopping before durability. Either way the
         * client must retry (same event ids; consumers de-duplicate what did get stored). */
        tp_counter_add(ing->rejected[REJ_SPOOL_FULL], status == TP_EFULL ? p->accepted : 0);
        tp_http_req_add_header(p->req, "Retry-After", INGEST_RETRY_AFTER_S);
        tp_http_respond_error(p->req, 503, "unavailable", NULL, "%s",
                              status == TP_EFULL ? "the event spool is full; retry later"
                                                 : "the service is shutting down; retry later");
    }
    pending_free(p);
}

/* ---------- validation ---------- */

static enum ingest_reject reason_for_field(const char *field)
{
    static const struct {
        const char *name;
        enum ingest_reject r;
    } groups[] = {{"event_id", REJ_INVALID_EVENT_ID},   {"type", REJ_INVALID_TYPE},
                  {"tenant_id", REJ_INVALID_TENANT_ID}, {"user_id", REJ_INVALID_USER_ID},
                  {"occurred_at", REJ_INVALID_OCCURRED_AT}, {"attributes", REJ_INVALID_ATTRIBUTES}};
    size_t n = strcspn(field, ".");
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strlen(groups[i].name) == n && strncmp(field, groups[i].name, n) == 0)
            return groups[i].r;
    return REJ_INVALID_EVENT;
}

/* Most requests reject nothing, so the array is made on the first rejection. */
static int add_rejection(json_t **rejected, size_t index, const char *field, const char *message)
{
    if (!*rejected && !(*rejected = json_array()))
        return -1;
    json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "index", (json_int_t)index, "field", field, "error", "invalid_event",
                          "message", message);
    return o ? json_array_append_new(*rejected, o) : -1;
}

/* First event whose readable tenant_id the principal may not act on, or -1. A tenant_id too
 * long to be an id is foreign to every key. */
static long foreign_tenant(const struct body_batch *b, const tp_principal *p, char *tenant, size_t cap)
{
    if (!p->tenant_id[0])
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        if (!b->items[i].raw)
            continue;
        size_t n = tp_event_text_tenant(b->items[i].raw, b->items[i].raw_len, tenant, cap);
        if (n && (n >= cap || !tp_principal_can_tenant(p, tenant)))
            return (long)i;
    }
    return -1;
}

/* One record per valid event. Its data is the event exactly as sent, less the whitespace
 * outside strings: re-serialising would rewrite numbers (0.1 → 0.10000000000000001, 1e3 →
 * 1000.0) and escapes, and cost a second pass over every event. All records' bytes share one
 * buffer the size of the body. */
struct records {
    tp_producer_record *recs;
    char (*pkeys)[TP_PARTITION_KEY_MAX + 1];
    char *bytes;
    size_t used;
    size_t n;
};

static void records_free(struct records *r)
{
    free(r->recs);
    free(r->pkeys);
    free(r->bytes);
}

/* Validate every item; fill recs with the valid ones and p->rejected with the others. */
static int validate_all(struct ingest *ing, const struct body_batch *b, size_t body_len, struct pending *p,
                        struct records *r)
{
    int64_t now = tp_now_wall_ms();
    r->recs = calloc(b->n, sizeof *r->recs);
    r->pkeys = calloc(b->n, sizeof *r->pkeys);
    r->bytes = malloc(body_len ? body_len : 1);
    if (!r->recs || !r->pkeys || !r->bytes)
        return TP_ENOMEM;
    for (size_t i = 0; i < b->n; i++) {
        const struct body_item *it = &b->items[i];
        tp_event ev;
        tp_event_error verr;
        if (!it->raw) {
            tp_counter_add(ing->rejected[REJ_MALFORMED_JSON], 1);
            if (add_rejection(&p->rejected, i, "", it->error))
                return TP_ENOMEM;
            continue;
        }
        if (tp_event_validate_text(it->raw, it->raw_len, now, &ev, &verr) != 0) {
            tp_counter_add(ing->rejected[reason_for_field(verr.field)], 1);
            if (add_rejection(&p->rejected, i, verr.field, verr.message))
                return TP_ENOMEM;
            continue;
        }
        size_t k = r->n;
        if (tp_event_partition_key(&ev, r->pkeys[k], sizeof r->pkeys[k]) < 0)
            return TP_EINTERNAL; /* ids are ≤ 64 chars, so the key always fits */
        /* Spans of distinct items never overlap, so their compacted copies fit in body_len. */
        char *data = r->bytes + r->used;
        size_t dlen = body_item_compact(it, data);
        r->used += dlen;
        tp_stream st = tp_event_stream(ev.type);
        r->recs[k] = (tp_producer_record){st, r->pkeys[k], data, dlen};
        r->n++;
        p->per_stream[st]++;
    }
    p->accepted = r->n;
    return 0;
}

/* ---------- the handler ---------- */

static void refuse_body(struct ingest *ing, tp_http_req *req, enum body_status st, const struct body_error *e)
{
    switch (st) {
    case BODY_MALFORMED: {
        tp_counter_add(ing->rejected[REJ_MALFORMED_JSON], 1);
        json_t *o = json_pack("{s:s,s:s,s:I}", "error", "malformed_json", "message", e->message, "offset",
                              (json_int_t)e->offset);
        tp_http_respond_json(req, 400, o);
        break;
    }
    case BODY_EMPTY:
        tp_http_respond_error(req, 400, "empty_batch", NULL, "the request holds no event");
        break;
    case BODY_TOO_MANY:
        tp_counter_add(ing->rejected[REJ_TOO_LARGE], 1);
        tp_http_respond_error(req, 413, "too_large", NULL, "a request holds at most %d events and %zu bytes",
                              INGEST_MAX_EVENTS, INGEST_MAX_BODY);
        break;
    default:
        tp_http_respond_error(req, 500, "internal", NULL, "out of memory");
        break;
    }
}

static void h_post_events(tp_http_req *req, void *ctx)
{
    struct ingest *ing = ctx;
    tp_principal who;
    struct body_batch batch = {0};
    struct body_error berr;
    struct records recs = {0};
    struct pending *p = NULL;
    size_t len;

    if (ingest_authenticate(ing, req, &who) != 0)
        return;
    if (!tp_principal_has(&who, TP_SCOPE_EVENTS_WRITE)) {
        tp_counter_add(ing->rejected[REJ_FORBIDDEN], 1);
        tp_http_respond_error(req, 403, "forbidden", NULL, "this key lacks the events:write scope");
        return;
    }
    const char *ct = tp_http_req_header(req, "Content-Type");
    int ndjson = ingest_media_is(ct, "application/x-ndjson");
    if (!ndjson && !ingest_media_is(ct, "application/json")) {
        tp_counter_add(ing->rejected[REJ_MEDIA_TYPE], 1);
        tp_http_respond_error(req, 415, "unsupported_media_type", NULL,
                              "send application/json or application/x-ndjson");
        return;
    }
    const char *body = tp_http_req_body(req, &len);
    enum body_status st = body_parse(body, len, ndjson, INGEST_MAX_EVENTS, &batch, &berr);
    if (st != BODY_OK) {
        refuse_body(ing, req, st, &berr);
        return;
    }
    char other[TP_ID_MAX + 1];
    long bad = foreign_tenant(&batch, &who, other, sizeof other);
    if (bad >= 0) {
        tp_counter_add(ing->rejected[REJ_FORBIDDEN], batch.n);
        json_t *o = json_object();
        char msg[256];
        snprintf(msg, sizeof msg, "event %ld belongs to tenant '%.64s'; this key may only send events of tenant '%s'",
                 bad, other, who.tenant_id);
        if (o && (json_object_set_new(o, "error", json_string("forbidden")) ||
                  json_object_set_new(o, "message", json_string(msg)) ||
                  json_object_set_new(o, "field", json_string("tenant_id")) ||
                  json_object_set_new(o, "index", json_integer(bad)))) {
            json_decref(o);
            o = NULL;
        }
        tp_http_respond_json(req, 403, o);
        goto out;
    }

    p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->req = req;
    p->ing = ing;
    int rc = validate_all(ing, &batch, len, p, &recs);
    if (rc)
        goto oom;
    if (recs.n == 0) {
        answer_accepted(req, 0, p->rejected);
        goto out;
    }
    tp_http_req_suspend(req);
    tp_producer_lane *lane = tp_http_req_loop_data(req);
    rc = lane ? tp_producer_lane_submit(lane, recs.recs, recs.n, on_durable, p)
              : tp_producer_submit(ing->producer, recs.recs, recs.n, on_durable, p);
    if (rc == 0) {
        p = NULL; /* on_durable owns it now */
        goto out;
    }
    if (rc == TP_EFULL)
        tp_counter_add(ing->rejected[REJ_SPOOL_FULL], recs.n);
    tp_http_req_add_header(req, "Retry-After", INGEST_RETRY_AFTER_S);
    tp_http_respond_error(req, 503, "unavailable", NULL, "%s",
                          rc == TP_EFULL ? "the event spool is full; retry later"
                                         : "the service cannot take events right now; retry later");
    goto out;
oom:
    tp_log_error("ingest: out of memory handling a request", "req_id", tp_http_req_id(req));
    tp_http_respond_error(req, 500, "internal", NULL, "out of memory");
out:
    pending_free(p);
    records_free(&recs);
    body_batch_free(&batch);
}

int ingest_routes_events(tp_http_server *s, struct ingest *ing)
{
    return tp_http_route(s, "POST", "/v1/events", h_post_events, ing);
}

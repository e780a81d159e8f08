/* ingest.h — what main.c and the route files of ingest-api share.
 *
 * struct ingest is built by main.c and lives until after the HTTP server has stopped and the
 * producer has been freed; routes borrow it. Everything in it is thread-safe (tp_auth,
 * tp_producer, metric handles). */
#ifndef TP_INGEST_H
#define TP_INGEST_H

#include <stddef.h>

#include "producer.h"
#include "tp/auth.h"
#include "tp/http.h"
#include "tp/metrics.h"

#define INGEST_MAX_EVENTS 500
#define INGEST_MAX_BODY ((size_t)1024 * 1024)
#define INGEST_RETRY_AFTER_S "1"

/* tp_ingest_events_rejected_total{reason}. Invalid events are counted by the envelope field
 * at fault (invalid_<field>, invalid_event for anything else), so the label set stays small
 * whatever clients send. Whole-request refusals that precede parsing (unauthorized,
 * unsupported media type, malformed JSON body) count 1; later ones count the request's events.
 * A body over 1 MiB is refused by the HTTP server before this service sees it: it shows in
 * tp_http_requests_total{route="/v1/events",status="413"}. */
#define INGEST_REJECT_REASONS(X)                  \
    X(REJ_UNAUTHORIZED, "unauthorized")           \
    X(REJ_FORBIDDEN, "forbidden")                 \
    X(REJ_TOO_LARGE, "too_large")                 \
    X(REJ_MALFORMED_JSON, "malformed_json")       \
    X(REJ_MEDIA_TYPE, "unsupported_media_type")   \
    X(REJ_SPOOL_FULL, "spool_full")               \
    X(REJ_INVALID_EVENT_ID, "invalid_event_id")   \
    X(REJ_INVALID_TYPE, "invalid_type")           \
    X(REJ_INVALID_TENANT_ID, "invalid_tenant_id") \
    X(REJ_INVALID_USER_ID, "invalid_user_id")     \
    X(REJ_INVALID_OCCURRED_AT, "invalid_occurred_at") \
    X(REJ_INVALID_ATTRIBUTES, "invalid_attributes") \
    X(REJ_INVALID_EVENT, "invalid_event")

enum ingest_reject {
#define INGEST_REJ_ENUM(e, name) e,
    INGEST_REJECT_REASONS(INGEST_REJ_ENUM)
#undef INGEST_REJ_ENUM
        REJ__COUNT
};

struct ingest {
    tp_auth *auth;         /* borrowed */
    tp_producer *producer; /* borrowed */
    int nloops;            /* HTTP loops, each with a producer lane (0: lanes off) */
    tp_metrics *metrics;   /* borrowed */
    tp_counter *accepted[TP_STREAM__COUNT];
    tp_counter *rejected[REJ__COUNT];
};

/* Register the ingest metric series. TP_ENOMEM on failure. */
int ingest_metrics_init(struct ingest *ing) TP_MUSTCHECK;

/* Authenticate req's Authorization header. On failure the request has been answered (401 +
 * WWW-Authenticate, or 503 + Retry-After when the key store is down) and non-zero returned. */
int ingest_authenticate(struct ingest *ing, tp_http_req *req, tp_principal *out) TP_MUSTCHECK;
/* 1 if Content-Type is media (case-insensitive, parameters such as charset allowed). */
int ingest_media_is(const char *content_type, const char *media);

/* Route registration (routes_events.c, routes_admin.c). Borrow ing. */
int ingest_routes_events(tp_http_server *s, struct ingest *ing) TP_MUSTCHECK;
int ingest_routes_admin(tp_http_server *s, struct ingest *ing) TP_MUSTCHECK;

#endif

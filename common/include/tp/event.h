/* event.h — the event catalog: types, routing to streams, validation, partition keys.
 *
 * This is the one definition of what a valid event is. ingest-api validates with it, the
 * simulator checks its own output with it, the stream processor re-validates records with it
 * (a stream can hold anything a producer wrote). The public contract is openapi/ingest.yaml.
 *
 * Envelope (JSON object):
 *   event_id     UUID string (8-4-4-4-12 hex), required; the idempotency key
 *   type         one of the catalog names below, required
 *   tenant_id    id string, required
 *   user_id      id string, required for user.*, dataset.* and job.* events
 *   occurred_at  RFC 3339 timestamp with offset or Z, required; not more than
 *                TP_EVENT_MAX_FUTURE_MS ahead of the receiver's clock
 *   attributes   object, per type (see the table in event_attrs.c and docs/events.md);
 *                optional when a type has no required attribute
 * Unknown keys, in the envelope or in attributes, are rejected.
 * ids: 1..64 chars of [A-Za-z0-9._-] (they become S3 key parts and partition keys). */
#ifndef TP_EVENT_H
#define TP_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

#define TP_ID_MAX 64
#define TP_UUID_LEN 36
#define TP_EVENT_MAX_FUTURE_MS (5LL * 60 * 1000)
/* Largest partition key we produce: tenant_id ":" user_id. */
#define TP_PARTITION_KEY_MAX (2 * TP_ID_MAX + 2)

typedef enum { TP_STREAM_TENANTS = 0, TP_STREAM_USERS, TP_STREAM_JOBS, TP_STREAM__COUNT } tp_stream;

#define TP_EVENT_TYPES(X)                                         \
    X(TP_EV_TENANT_CREATED, "tenant.created", TP_STREAM_TENANTS)  \
    X(TP_EV_TENANT_UPDATED, "tenant.updated", TP_STREAM_TENANTS)  \
    X(TP_EV_TENANT_CLOSED, "tenant.closed", TP_STREAM_TENANTS)    \
    X(TP_EV_USER_ADDED, "user.added", TP_STREAM_USERS)            \
    X(TP_EV_USER_DELETED, "user.deleted", TP_STREAM_USERS)        \
    X(TP_EV_USER_LOGIN, "user.login", TP_STREAM_USERS)            \
    X(TP_EV_USER_LOGOFF, "user.logoff", TP_STREAM_USERS)          \
    X(TP_EV_USER_SESSION_TIMEOUT, "user.session_timeout", TP_STREAM_USERS) \
    X(TP_EV_DATASET_CREATED, "dataset.created", TP_STREAM_USERS)  \
    X(TP_EV_DATASET_UPDATED, "dataset.updated", TP_STREAM_USERS)  \
    X(TP_EV_DATASET_DELETED, "dataset.deleted", TP_STREAM_USERS)  \
    X(TP_EV_JOB_SUBMITTED, "job.submitted", TP_STREAM_JOBS)       \
    X(TP_EV_JOB_TERMINATED, "job.terminated", TP_STREAM_JOBS)     \
    X(TP_EV_JOB_CANCELLED, "job.cancelled", TP_STREAM_JOBS)

typedef enum {
#define TP_EV_ENUM(e, name, stream) e,
    TP_EVENT_TYPES(TP_EV_ENUM)
#undef TP_EV_ENUM
        TP_EV__COUNT
} tp_event_type;

/* A validated event. Strings are copies inside the struct; attributes is borrowed from the
 * json_t the event was validated from (valid while that object lives; NULL when validated
 * from text). event_id is lower-cased, so it can be compared byte-wise for de-duplication. */
typedef struct tp_event {
    tp_event_type type;
    char event_id[TP_UUID_LEN + 1];
    char tenant_id[TP_ID_MAX + 1];
    char user_id[TP_ID_MAX + 1]; /* "" when the type has none */
    int64_t occurred_at_ms;      /* UTC, milliseconds since the epoch */
    const json_t *attributes;    /* object or NULL */
} tp_event;

/* Why an event was rejected: the JSON path of the offending field ("tenant_id",
 * "attributes.sentiment") and a sentence a developer can act on. */
typedef struct tp_event_error {
    char field[64];
    char message[192];
} tp_event_error;

const char *tp_stream_name(tp_stream s);               /* "tenants" | "users" | "jobs" */
int tp_stream_from_name(const char *name, tp_stream *out); /* 0 or TP_EINVAL */
const char *tp_event_type_name(tp_event_type t);
int tp_event_type_from_name(const char *name, tp_event_type *out); /* 0 or TP_EINVAL */
tp_stream tp_event_stream(tp_event_type t);
/* 1 if the type carries a user_id (user.*, dataset.*, job.*). */
int tp_event_type_has_user(tp_event_type t);

/* Validate obj against the catalog. now_ms is the receiver's wall clock (for the future bound).
 * On success fills *out and returns 0; on failure returns TP_EINVAL, fills *err and leaves
 * *out untouched. out and err may be NULL. Borrows obj. Never allocates; keeps no state.
 * Reports the first problem in a fixed order: event_id, type, tenant_id, user_id,
 * occurred_at, attributes (known keys in catalog order, then unknown ones), then unknown
 * envelope keys. field and message are valid UTF-8 (cut at a character boundary). */
int tp_event_validate(const json_t *obj, int64_t now_ms, tp_event *out, tp_event_error *err) TP_MUSTCHECK;
/* The same rules (one implementation) applied to the text of one JSON value that
 * tp_jscan_value accepted (tp/jscan.h), without building a tree: the ingest hot path. Gives
 * exactly the result tp_event_validate gives for that text parsed by jansson, except that
 * out->attributes is NULL. json must not be used unchecked. */
int tp_event_validate_text(const char *json, size_t len, int64_t now_ms, tp_event *out,
                           tp_event_error *err) TP_MUSTCHECK;
/* The tenant_id string of a checked event text, whatever else is wrong with it, decoded into
 * out (cap bytes, NUL-terminated, cut if longer). Returns its full length in bytes, 0 when the
 * text is no object or has no tenant_id string. For authorising before validating. */
size_t tp_event_text_tenant(const char *json, size_t len, char *out, size_t cap);

/* The Kinesis partition key: "tenant_id:user_id" for events with a user, "tenant_id" otherwise.
 * Keeps one user's events in order on one shard while a big tenant's users spread across
 * shards. Returns the length, or TP_ETOOBIG if cap is too small. */
int tp_event_partition_key(const tp_event *ev, char *buf, size_t cap) TP_MUSTCHECK;

/* Parse / format RFC 3339 (format always UTC with milliseconds: 2026-11-22T14:03:00.000Z).
 * parse: 'T' required, seconds required, 1-9 fraction digits (truncated to ms), 'Z' or ±hh:mm;
 * second 60 reads as 59.999. TP_EINVAL otherwise. format clamps to years 0000..9999. */
int tp_rfc3339_parse(const char *s, int64_t *ms_out) TP_MUSTCHECK;
void tp_rfc3339_format(int64_t ms, char out[32]);

/* 8-4-4-4-12 hex check (either case). */
int tp_uuid_valid(const char *s);
/* 1 if s is a valid id (1..64 of [A-Za-z0-9._-]). */
int tp_id_valid(const char *s);

#endif

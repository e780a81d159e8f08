/* rollup_agg.h — fold a batch of validated events into the rows the rollup upserts.
 *
 * Pure C, no database: the rollup sink feeds it the events of one GetRecords response that
 * were new (not seen before), then turns each table below into one set-based statement.
 * Definitions follow docs/stream-processing.md (and the simulator's ground truth):
 * periods are UTC hours/days of occurred_at; active users are distinct users with a login,
 * logoff, session timeout, dataset or job event; sessions = logoffs + timeouts.
 * Owns everything inside; pointers from the tables are valid until the next add/reset. */
#ifndef TP_ROLLUP_AGG_H
#define TP_ROLLUP_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "keytab.h"
#include "tp/err.h"
#include "tp/event.h"

/* Stored per-period counters, in table column order (migration 003). */
#define TP_ROLLUP_COUNTERS(X)              \
    X(RC_LOGINS, "logins")                 \
    X(RC_LOGOFFS, "logoffs")               \
    X(RC_SESSION_TIMEOUTS, "session_timeouts") \
    X(RC_SESSION_SECONDS, "session_seconds") \
    X(RC_DATASETS_CREATED, "datasets_created") \
    X(RC_DATASETS_UPDATED, "datasets_updated") \
    X(RC_DATASETS_DELETED, "datasets_deleted") \
    X(RC_JOBS_SUBMITTED, "jobs_submitted") \
    X(RC_JOBS_SUCCEEDED, "jobs_succeeded") \
    X(RC_JOBS_FAILED, "jobs_failed")       \
    X(RC_JOBS_CANCELLED, "jobs_cancelled") \
    X(RC_SERVERS_USED, "servers_used")     \
    X(RC_JOB_DATA_BYTES, "job_data_bytes") \
    X(RC_USERS_ADDED, "users_added")       \
    X(RC_USERS_DELETED, "users_deleted")   \
    X(RC_TENANTS_CREATED, "tenants_created") \
    X(RC_EVENTS, "events")

typedef enum {
#define TP_RC_ENUM(e, name) e,
    TP_ROLLUP_COUNTERS(TP_RC_ENUM)
#undef TP_RC_ENUM
        RC__COUNT
} tp_rollup_counter;

extern const char *const tp_rollup_counter_names[RC__COUNT];

#define TP_HOUR_MS 3600000LL
#define TP_DAY_MS 86400000LL

/* Floor division, so times before 1970 still land in the right period. */
int64_t tp_rollup_hour_start(int64_t ms);
int64_t tp_rollup_day(int64_t ms); /* days since 1970-01-01 */

/* 1 if the event type makes its user active in the period (login, logoff, timeout, dataset.*, job.*). */
int tp_rollup_type_is_active(tp_event_type t);
/* 1 if the event type moves last_activity_at (every user.*, dataset.* and job.* event). */
int tp_rollup_type_is_activity(tp_event_type t);

typedef struct tp_rollup_period {
    char tenant_id[TP_ID_MAX + 1];
    int64_t period; /* hourly: hour start in ms; daily: day number */
    int64_t c[RC__COUNT];
} tp_rollup_period;

typedef struct tp_rollup_member {
    char tenant_id[TP_ID_MAX + 1];
    char user_id[TP_ID_MAX + 1];
    int64_t period;
} tp_rollup_member;

typedef struct tp_rollup_user {
    char tenant_id[TP_ID_MAX + 1];
    char user_id[TP_ID_MAX + 1];
    int has_added, has_deleted, has_activity;
    int64_t added_ms, deleted_ms, activity_ms; /* the latest of each */
} tp_rollup_user;

typedef struct tp_rollup_total {
    char tenant_id[TP_ID_MAX + 1];
    int64_t users_added, users_deleted, events;
    int has_activity;
    int64_t activity_ms;
} tp_rollup_total;

/* Longest attribute strings in bytes (the catalog bounds code points; UTF-8 is ≤ 4 each). */
#define TP_ROLLUP_NAME_MAX (200 * 4 + 1)
#define TP_ROLLUP_INDUSTRY_MAX (100 * 4 + 1)
#define TP_ROLLUP_REASON_MAX (500 * 4 + 1)

/* Profile changes of one tenant in the batch: per field the value with the latest event
 * time (stream order breaks ties: the later record wins). */
typedef struct tp_rollup_profile {
    char tenant_id[TP_ID_MAX + 1];
    int has_name, has_industry, has_plan, has_sentiment, has_created, has_closed;
    int64_t name_ms, industry_ms, plan_ms, sentiment_ms, created_ms, closed_ms;
    char company_name[TP_ROLLUP_NAME_MAX];
    char industry[TP_ROLLUP_INDUSTRY_MAX];
    char plan[16];
    double sentiment;
    char close_reason[TP_ROLLUP_REASON_MAX];
} tp_rollup_profile;

typedef struct tp_rollup_signup {
    int64_t hour_ms;
    int64_t tenants_created, users_added;
} tp_rollup_signup;

typedef enum { TP_DS_CREATED = 1, TP_DS_UPDATED = 2, TP_DS_DELETED = 3 } tp_rollup_ds_kind;

typedef struct tp_rollup_dataset_ev {
    char tenant_id[TP_ID_MAX + 1];
    char dataset_id[TP_ID_MAX + 1];
    tp_rollup_ds_kind kind;
    int64_t size_bytes;
    int64_t at_ms;
    size_t order; /* position in the batch: ties in at_ms apply in stream order */
} tp_rollup_dataset_ev;

typedef struct tp_rollup_agg {
    tp_keytab *hourly, *daily;       /* tp_rollup_period */
    tp_keytab *au_hourly, *au_daily; /* tp_rollup_member */
    tp_keytab *users;                /* tp_rollup_user */
    tp_keytab *totals;               /* tp_rollup_total: tenants seen in the batch */
    tp_keytab *profiles;             /* tp_rollup_profile */
    tp_keytab *signups;              /* tp_rollup_signup */
    tp_rollup_dataset_ev *ds;
    size_t nds, capds;
    size_t nevents; /* events added since reset */
} tp_rollup_agg;

/* A dataset's current state while a batch is applied to it (rollup.datasets row). */
typedef struct tp_rollup_ds_state {
    char tenant_id[TP_ID_MAX + 1];
    char dataset_id[TP_ID_MAX + 1];
    int64_t size_bytes;
    int live;
    int has_state;      /* 0: no event applied yet (the row's state_at is -infinity) */
    int64_t state_ms;   /* occurred_at of the event the state reflects */
    int has_created;    /* a created event was applied in this batch (first one's time) */
    int64_t created_ms;
    int has_deleted;    /* a deleted event was applied in this batch (last one's time) */
    int64_t deleted_ms;
    int dirty;
} tp_rollup_ds_state;

/* Apply one dataset event to its state: created/updated set the size (live), deleted removes
 * it; an event older than the state is stale and changes nothing. Returns the change of the
 * tenant's data size (0 when stale). */
int64_t tp_rollup_ds_apply(tp_rollup_ds_state *st, const tp_rollup_dataset_ev *ev);

int tp_rollup_agg_new(tp_rollup_agg **out) TP_MUSTCHECK;
void tp_rollup_agg_free(tp_rollup_agg *a); /* NULL-safe */
void tp_rollup_agg_reset(tp_rollup_agg *a);
/* Fold one (new, valid) event in. TP_ENOMEM is the only failure. */
int tp_rollup_agg_add(tp_rollup_agg *a, const tp_event *ev) TP_MUSTCHECK;
/* Order the dataset events for applying: event time, then batch order. */
void tp_rollup_agg_sort_datasets(tp_rollup_agg *a);

#endif

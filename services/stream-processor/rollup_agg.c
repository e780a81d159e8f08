/* rollup_agg.c — batch aggregation for the rollup sink (see rollup_agg.h). */
#include "rollup_agg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const tp_rollup_counter_names[RC__COUNT] = {
#define TP_RC_NAME(e, name) name,
    TP_ROLLUP_COUNTERS(TP_RC_NAME)
#undef TP_RC_NAME
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t tp_rollup_hour_start(int64_t ms) { return floor_div(ms, TP_HOUR_MS) * TP_HOUR_MS; }
int64_t tp_rollup_day(int64_t ms) { return floor_div(ms, TP_DAY_MS); }

int tp_rollup_type_is_active(tp_event_type t)
{
    switch (t) {
    case TP_EV_USER_LOGIN:
    case TP_EV_USER_LOGOFF:
    case TP_EV_USER_SESSION_TIMEOUT:
    case TP_EV_DATASET_CREATED:
    case TP_EV_DATASET_UPDATED:
    case TP_EV_DATASET_DELETED:
    case TP_EV_JOB_SUBMITTED:
    case TP_EV_JOB_TERMINATED:
    case TP_EV_JOB_CANCELLED:
        return 1;
    default:
        return 0;
    }
}

int tp_rollup_type_is_activity(tp_event_type t) { return tp_event_type_has_user(t); }

int tp_rollup_agg_new(tp_rollup_agg **out)
{
    *out = NULL;
    tp_rollup_agg *a = calloc(1, sizeof *a);
    if (!a)
        return TP_ENOMEM;
    int rc = tp_keytab_new(sizeof(tp_rollup_period), &a->hourly);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_period), &a->daily);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_member), &a->au_hourly);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_member), &a->au_daily);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_user), &a->users);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_total), &a->totals);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_profile), &a->profiles);
    if (!rc)
        rc = tp_keytab_new(sizeof(tp_rollup_signup), &a->signups);
    if (rc) {
        tp_rollup_agg_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void tp_rollup_agg_free(tp_rollup_agg *a)
{
    if (!a)
        return;
    tp_keytab_free(a->hourly);
    tp_keytab_free(a->daily);
    tp_keytab_free(a->au_hourly);
    tp_keytab_free(a->au_daily);
    tp_keytab_free(a->users);
    tp_keytab_free(a->totals);
    tp_keytab_free(a->profiles);
    tp_keytab_free(a->signups);
    free(a->ds);
    free(a);
}

void tp_rollup_agg_reset(tp_rollup_agg *a)
{
    tp_keytab_reset(a->hourly);
    tp_keytab_reset(a->daily);
    tp_keytab_reset(a->au_hourly);
    tp_keytab_reset(a->au_daily);
    tp_keytab_reset(a->users);
    tp_keytab_reset(a->totals);
    tp_keytab_reset(a->profiles);
    tp_keytab_reset(a->signups);
    a->nds = 0;
    a->nevents = 0;
}

/* Keys: fields joined by 0x1f (not allowed in ids); periods as fixed-width hex so that the
 * byte order of keys is a stable global order for row locks. */
static size_t key_of(char *buf, size_t cap, const char *a, const char *b, int64_t period, int with_period)
{
    int n;
    if (with_period)
        n = snprintf(buf, cap, "%s\x1f%016" PRIx64 "\x1f%s", a, (uint64_t)period, b ? b : "");
    else
        n = snprintf(buf, cap, "%s\x1f%s", a, b ? b : "");
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

static int64_t attr_int(const json_t *attrs, const char *name)
{
    const json_t *v = attrs ? json_object_get(attrs, name) : NULL;
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *attr_str(const json_t *attrs, const char *name)
{
    const json_t *v = attrs ? json_object_get(attrs, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void set_latest(int *has, int64_t *at, int64_t ms)
{
    if (!*has || ms >= *at) {
        *has = 1;
        *at = ms;
    }
}

static int add_period(tp_keytab *t, const tp_event *ev, int64_t period, tp_rollup_counter c1, int64_t v1,
                      tp_rollup_counter c2, int64_t v2)
{
    char key[2 * TP_ID_MAX + 32];
    size_t kl = key_of(key, sizeof key, ev->tenant_id, NULL, period, 1);
    int created;
    tp_rollup_period *p = tp_keytab_get(t, key, kl, &created);
    if (!p)
        return TP_ENOMEM;
    if (created) {
        memcpy(p->tenant_id, ev->tenant_id, sizeof p->tenant_id);
        p->period = period;
    }
    p->c[RC_EVENTS]++;
    if (c1 != RC__COUNT)
        p->c[c1] += v1;
    if (c2 != RC__COUNT)
        p->c[c2] += v2;
    return 0;
}

static int add_member(tp_keytab *t, const tp_event *ev, int64_t period)
{
    char key[2 * TP_ID_MAX + 32];
    size_t kl = key_of(key, sizeof key, ev->tenant_id, ev->user_id, period, 1);
    int created;
    tp_rollup_member *m = tp_keytab_get(t, key, kl, &created);
    if (!m)
        return TP_ENOMEM;
    if (created) {
        memcpy(m->tenant_id, ev->tenant_id, sizeof m->tenant_id);
        memcpy(m->user_id, ev->user_id, sizeof m->user_id);
        m->period = period;
    }
    return 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Fold a tenants-stream event into the tenant's profile change. */
static int add_profile(tp_rollup_agg *a, const tp_event *ev)
{
    int created;
    tp_rollup_profile *p = tp_keytab_get(a->profiles, ev->tenant_id, strlen(ev->tenant_id), &created);
    if (!p)
        return TP_ENOMEM;
    if (created)
        memcpy(p->tenant_id, ev->tenant_id, sizeof p->tenant_id);
    const json_t *at = ev->attributes;
    int64_t ms = ev->occurred_at_ms;
    if (ev->type == TP_EV_TENANT_CLOSED) {
        int had = p->has_closed;
        int64_t prev = p->closed_ms;
        set_latest(&p->has_closed, &p->closed_ms, ms);
        if (!had || ms >= prev)
            copy_str(p->close_reason, sizeof p->close_reason, attr_str(at, "reason"));
        return 0;
    }
    if (ev->type == TP_EV_TENANT_CREATED && (!p->has_created || ms < p->created_ms)) {
        p->has_created = 1;
        p->created_ms = ms;
    }
    const char *s;
    if ((s = attr_str(at, "company_name")) && (!p->has_name || ms >= p->name_ms)) {
        set_latest(&p->has_name, &p->name_ms, ms);
        copy_str(p->company_name, sizeof p->company_name, s);
    }
    if ((s = attr_str(at, "industry")) && (!p->has_industry || ms >= p->industry_ms)) {
        set_latest(&p->has_industry, &p->industry_ms, ms);
        copy_str(p->industry, sizeof p->industry, s);
    }
    if ((s = attr_str(at, "plan")) && (!p->has_plan || ms >= p->plan_ms)) {
        set_latest(&p->has_plan, &p->plan_ms, ms);
        copy_str(p->plan, sizeof p->plan, s);
    }
    const json_t *sv = at ? json_object_get(at, "sentiment") : NULL;
    if (json_is_number(sv) && (!p->has_sentiment || ms >= p->sentiment_ms)) {
        set_latest(&p->has_sentiment, &p->sentiment_ms, ms);
        p->sentiment = json_number_value(sv);
    }
    return 0;
}

static int add_dataset(tp_rollup_agg *a, const tp_event *ev, tp_rollup_ds_kind kind)
{
    if (a->nds == a->capds) {
        size_t cap = a->capds ? a->capds * 2 : 64;
        tp_rollup_dataset_ev *d = realloc(a->ds, cap * sizeof *d);
        if (!d)
            return TP_ENOMEM;
        a->ds = d;
        a->capds = cap;
    }
    tp_rollup_dataset_ev *d = &a->ds[a->nds++];
    memcpy(d->tenant_id, ev->tenant_id, sizeof d->tenant_id);
    copy_str(d->dataset_id, sizeof d->dataset_id, attr_str(ev->attributes, "dataset_id"));
    d->kind = kind;
    d->size_bytes = attr_int(ev->attributes, "size_bytes");
    d->at_ms = ev->occurred_at_ms;
    d->order = a->nevents;
    return 0;
}

int tp_rollup_agg_add(tp_rollup_agg *a, const tp_event *ev)
{
    const json_t *at = ev->attributes;
    tp_rollup_counter c1 = RC__COUNT, c2 = RC__COUNT;
    int64_t v1 = 1, v2 = 0;
    int rc = 0;

    switch (ev->type) {
    case TP_EV_TENANT_CREATED:
        c1 = RC_TENANTS_CREATED;
        break;
    case TP_EV_USER_ADDED:
        c1 = RC_USERS_ADDED;
        break;
    case TP_EV_USER_DELETED:
        c1 = RC_USERS_DELETED;
        break;
    case TP_EV_USER_LOGIN:
        c1 = RC_LOGINS;
        break;
    case TP_EV_USER_LOGOFF:
        c1 = RC_LOGOFFS;
        c2 = RC_SESSION_SECONDS;
        v2 = attr_int(at, "session_seconds");
        break;
    case TP_EV_USER_SESSION_TIMEOUT:
        c1 = RC_SESSION_TIMEOUTS;
        c2 = RC_SESSION_SECONDS;
        v2 = attr_int(at, "session_seconds");
        break;
    case TP_EV_DATASET_CREATED:
        c1 = RC_DATASETS_CREATED;
        break;
    case TP_EV_DATASET_UPDATED:
        c1 = RC_DATASETS_UPDATED;
        break;
    case TP_EV_DATASET_DELETED:
        c1 = RC_DATASETS_DELETED;
        break;
    case TP_EV_JOB_SUBMITTED:
        c1 = RC_JOBS_SUBMITTED;
        break;
    case TP_EV_JOB_TERMINATED: {
        const char *st = attr_str(at, "status");
        c1 = (st && strcmp(st, "succeeded") == 0) ? RC_JOBS_SUCCEEDED : RC_JOBS_FAILED;
        break;
    }
    case TP_EV_JOB_CANCELLED:
        c1 = RC_JOBS_CANCELLED;
        break;
    default:
        break;
    }

    int64_t hour = tp_rollup_hour_start(ev->occurred_at_ms), day = tp_rollup_day(ev->occurred_at_ms);
    if ((rc = add_period(a->hourly, ev, hour, c1, v1, c2, v2)) || (rc = add_period(a->daily, ev, day, c1, v1, c2, v2)))
        return rc;
    if (ev->type == TP_EV_JOB_SUBMITTED) {
        /* Two more sums on the same rows: servers and data size come with the submission. */
        int64_t servers = attr_int(at, "servers"), bytes = attr_int(at, "data_size_bytes");
        char key[2 * TP_ID_MAX + 32];
        tp_keytab *tabs[2] = {a->hourly, a->daily};
        int64_t periods[2] = {hour, day};
        for (int i = 0; i < 2; i++) {
            size_t kl = key_of(key, sizeof key, ev->tenant_id, NULL, periods[i], 1);
            tp_rollup_period *p = tp_keytab_find(tabs[i], key, kl);
            p->c[RC_SERVERS_USED] += servers;
            p->c[RC_JOB_DATA_BYTES] += bytes;
        }
    }

    if (tp_rollup_type_is_active(ev->type) && ev->user_id[0]) {
        if ((rc = add_member(a->au_hourly, ev, hour)) || (rc = add_member(a->au_daily, ev, day)))
            return rc;
    }

    /* Tenant totals: every event's tenant gets a row (so reporting.tenants knows it). */
    int created;
    tp_rollup_total *t = tp_keytab_get(a->totals, ev->tenant_id, strlen(ev->tenant_id), &created);
    if (!t)
        return TP_ENOMEM;
    if (created)
        memcpy(t->tenant_id, ev->tenant_id, sizeof t->tenant_id);
    t->events++;
    if (ev->type == TP_EV_USER_ADDED)
        t->users_added++;
    else if (ev->type == TP_EV_USER_DELETED)
        t->users_deleted++;
    if (tp_rollup_type_is_activity(ev->type))
        set_latest(&t->has_activity, &t->activity_ms, ev->occurred_at_ms);

    if (ev->user_id[0]) {
        char key[2 * TP_ID_MAX + 4];
        size_t kl = key_of(key, sizeof key, ev->tenant_id, ev->user_id, 0, 0);
        tp_rollup_user *u = tp_keytab_get(a->users, key, kl, &created);
        if (!u)
            return TP_ENOMEM;
        if (created) {
            memcpy(u->tenant_id, ev->tenant_id, sizeof u->tenant_id);
            memcpy(u->user_id, ev->user_id, sizeof u->user_id);
        }
        if (ev->type == TP_EV_USER_ADDED)
            set_latest(&u->has_added, &u->added_ms, ev->occurred_at_ms);
        else if (ev->type == TP_EV_USER_DELETED)
            set_latest(&u->has_deleted, &u->deleted_ms, ev->occurred_at_ms);
        if (tp_rollup_type_is_activity(ev->type))
            set_latest(&u->has_activity, &u->activity_ms, ev->occurred_at_ms);
    }

    if (tp_event_stream(ev->type) == TP_STREAM_TENANTS && (rc = add_profile(a, ev)))
        return rc;

    if (ev->type == TP_EV_TENANT_CREATED || ev->type == TP_EV_USER_ADDED) {
        char key[20];
        size_t kl = (size_t)snprintf(key, sizeof key, "%016" PRIx64, (uint64_t)hour);
        tp_rollup_signup *s = tp_keytab_get(a->signups, key, kl, &created);
        if (!s)
            return TP_ENOMEM;
        s->hour_ms = hour;
        if (ev->type == TP_EV_TENANT_CREATED)
            s->tenants_created++;
        else
            s->users_added++;
    }

    if (ev->type == TP_EV_DATASET_CREATED || ev->type == TP_EV_DATASET_UPDATED || ev->type == TP_EV_DATASET_DELETED) {
        tp_rollup_ds_kind k = ev->type == TP_EV_DATASET_CREATED   ? TP_DS_CREATED
                              : ev->type == TP_EV_DATASET_UPDATED ? TP_DS_UPDATED
                                                                  : TP_DS_DELETED;
        if ((rc = add_dataset(a, ev, k)))
            return rc;
    }
    a->nevents++;
    return 0;
}

static int cmp_ds(const void *x, const void *y)
{
    const tp_rollup_dataset_ev *a = x, *b = y;
    if (a->at_ms != b->at_ms)
        return a->at_ms < b->at_ms ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

void tp_rollup_agg_sort_datasets(tp_rollup_agg *a)
{
    if (a->nds > 1)
        qsort(a->ds, a->nds, sizeof *a->ds, cmp_ds);
}

int64_t tp_rollup_ds_apply(tp_rollup_ds_state *st, const tp_rollup_dataset_ev *ev)
{
    if (st->has_state && ev->at_ms < st->state_ms)
        return 0; /* applying it would undo a newer event */
    int64_t before = st->live ? st->size_bytes : 0, after;
    if (ev->kind == TP_DS_DELETED) {
        st->live = 0;
        st->size_bytes = 0;
        st->has_deleted = 1;
        st->deleted_ms = ev->at_ms;
        after = 0;
    } else {
        st->live = 1;
        st->size_bytes = ev->size_bytes;
        if (ev->kind == TP_DS_CREATED && !st->has_created) {
            st->has_created = 1;
            st->created_ms = ev->at_ms;
        }
        after = ev->size_bytes;
    }
    st->has_state = 1;
    st->state_ms = ev->at_ms;
    st->dirty = 1;
    return after - before;
}

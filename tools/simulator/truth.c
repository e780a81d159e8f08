/* truth.c — the ground-truth file: what the pipeline should conclude from the events.
 *
 * Counted from the emitted events themselves (in emission order, which is time order), never
 * from the simulator's plans, so it is by construction a recount of the NDJSON output. Hour
 * and day lines are written as their period closes, then invalid-event lines as they occur,
 * the tenant lines at the end, and the summary last (docs/simulator.md has the format). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define SIM_COUNTERS(X)                                                                          \
    X(LOGINS, "logins") X(LOGOFFS, "logoffs") X(TIMEOUTS, "session_timeouts") X(SESSIONS, "sessions") \
    X(SESSION_SECONDS, "session_seconds") X(DATASET_ACTIONS, "dataset_actions")                  \
    X(DS_CREATED, "datasets_created") X(DS_UPDATED, "datasets_updated")                          \
    X(DS_DELETED, "datasets_deleted") X(JOBS_SUBMITTED, "jobs_submitted")                        \
    X(JOBS_TERMINATED, "jobs_terminated") X(JOBS_SUCCEEDED, "jobs_succeeded")                    \
    X(JOBS_FAILED, "jobs_failed") X(JOBS_CANCELLED, "jobs_cancelled") X(SERVERS, "servers_used") \
    X(JOB_BYTES, "job_data_bytes") X(ACTIVE_USERS, "active_users") X(USERS_ADDED, "users_added") \
    X(USERS_DELETED, "users_deleted") X(TENANTS_CREATED, "tenants_created")                      \
    X(TENANTS_CLOSED, "tenants_closed") X(EVENTS, "events")

enum {
#define SIM_C_ENUM(e, name) C_##e,
    SIM_COUNTERS(SIM_C_ENUM)
#undef SIM_C_ENUM
        C__COUNT
};
static const char *const counter_names[C__COUNT] = {
#define SIM_C_NAME(e, name) name,
    SIM_COUNTERS(SIM_C_NAME)
#undef SIM_C_NAME
};

typedef struct period {
    int64_t c[C__COUNT];
    int dirty;
} period;

typedef struct stamp {
    int64_t hour, day; /* last hour/day in which this user counted as active */
} stamp;

typedef struct tenant_truth {
    period hour, day;
    stamp *users;      /* by user number - 1 */
    uint32_t capusers;
    int64_t *ds_size;  /* by dataset number - 1: current size, live or not */
    uint32_t capds;
    int64_t created_at, closed_at, last_activity;
    int64_t users_added, users_deleted, data_size, events;
    int plan, sentiment;
} tenant_truth;

struct sim_truth {
    const sim_world *w;
    FILE *f;
    tenant_truth *t;
    int64_t cur_hour, cur_day;
    int64_t hour_lo, hour_hi; /* [lo, hi) ms of cur_hour: most events skip the divisions */
    int failed;
    sim_emitter fmt; /* only for timestamp formatting */
};

int sim_truth_new(const sim_world *w, FILE *f, sim_truth **out)
{
    *out = NULL;
    sim_truth *tr = calloc(1, sizeof *tr);
    if (!tr)
        return TP_ENOMEM;
    tr->t = calloc(w->ntenants ? w->ntenants : 1, sizeof *tr->t);
    if (!tr->t) {
        free(tr);
        return TP_ENOMEM;
    }
    for (uint32_t i = 0; i < w->ntenants; i++)
        tr->t[i].created_at = tr->t[i].closed_at = tr->t[i].last_activity = -1;
    tr->w = w;
    tr->f = f;
    tr->cur_hour = tr->cur_day = INT64_MIN;
    sim_emitter_init(&tr->fmt, w, 0);
    *out = tr;
    return 0;
}

void sim_truth_free(sim_truth *tr)
{
    if (!tr)
        return;
    for (uint32_t i = 0; i < tr->w->ntenants; i++) {
        free(tr->t[i].users);
        free(tr->t[i].ds_size);
    }
    free(tr->t);
    free(tr);
}

static int ensure(void **p, uint32_t *cap, uint32_t need, size_t elem, int fill)
{
    if (need <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return TP_ENOMEM;
    memset((char *)np + (size_t)*cap * elem, fill, (size_t)(nc - *cap) * elem);
    *p = np;
    *cap = nc;
    return 0;
}

static void ts(sim_truth *tr, int64_t ms, char out[25])
{
    sim_format_ts(&tr->fmt, ms, out);
    out[24] = 0;
}

static void write_period(sim_truth *tr, uint32_t ti, const period *pd, int is_day, int64_t id)
{
    if (!tr->f)
        return;
    char when[25];
    ts(tr, id * (is_day ? SIM_MS_DAY : SIM_MS_HOUR), when);
    if (is_day)
        when[10] = 0;
    else
        memcpy(when + 13, ":00:00Z", 8);
    fprintf(tr->f, "{\"kind\":\"%s\",\"tenant_id\":\"%s\",\"%s\":\"%s\"", is_day ? "day" : "hour",
            tr->w->tenants[ti].id, is_day ? "day" : "hour", when);
    for (int c = 0; c < C__COUNT; c++)
        fprintf(tr->f, ",\"%s\":%" PRId64, counter_names[c], pd->c[c]);
    fputs("}\n", tr->f);
}

static void flush_hours(sim_truth *tr)
{
    for (uint32_t i = 0; i < tr->w->ntenants; i++) {
        period *pd = &tr->t[i].hour;
        if (pd->dirty) {
            write_period(tr, i, pd, 0, tr->cur_hour);
            memset(pd, 0, sizeof *pd);
        }
    }
}

static void flush_days(sim_truth *tr)
{
    for (uint32_t i = 0; i < tr->w->ntenants; i++) {
        period *pd = &tr->t[i].day;
        if (pd->dirty) {
            write_period(tr, i, pd, 1, tr->cur_day);
            memset(pd, 0, sizeof *pd);
        }
    }
}

static void count(period *pd, const sim_ev *e, int new_active)
{
    int64_t *c = pd->c;
    pd->dirty = 1;
    c[C_EVENTS]++;
    c[C_ACTIVE_USERS] += new_active;
    switch ((tp_event_type)e->type) {
    case TP_EV_TENANT_CREATED: c[C_TENANTS_CREATED] = 1; break;
    case TP_EV_TENANT_CLOSED: c[C_TENANTS_CLOSED] = 1; break;
    case TP_EV_USER_ADDED: c[C_USERS_ADDED]++; break;
    case TP_EV_USER_DELETED: c[C_USERS_DELETED]++; break;
    case TP_EV_USER_LOGIN: c[C_LOGINS]++; break;
    case TP_EV_USER_LOGOFF:
        c[C_LOGOFFS]++;
        c[C_SESSIONS]++;
        c[C_SESSION_SECONDS] += e->v1;
        break;
    case TP_EV_USER_SESSION_TIMEOUT:
        c[C_TIMEOUTS]++;
        c[C_SESSIONS]++;
        c[C_SESSION_SECONDS] += e->v1;
        break;
    case TP_EV_DATASET_CREATED: c[C_DS_CREATED]++; c[C_DATASET_ACTIONS]++; break;
    case TP_EV_DATASET_UPDATED: c[C_DS_UPDATED]++; c[C_DATASET_ACTIONS]++; break;
    case TP_EV_DATASET_DELETED: c[C_DS_DELETED]++; c[C_DATASET_ACTIONS]++; break;
    case TP_EV_JOB_SUBMITTED:
        c[C_JOBS_SUBMITTED]++;
        c[C_SERVERS] += e->v1;
        c[C_JOB_BYTES] += e->v2;
        break;
    case TP_EV_JOB_TERMINATED:
        c[C_JOBS_TERMINATED]++;
        c[e->aux ? C_JOBS_SUCCEEDED : C_JOBS_FAILED]++;
        break;
    case TP_EV_JOB_CANCELLED: c[C_JOBS_CANCELLED]++; break;
    default: break;
    }
}

/* "Active" means working: a login, logoff, timeout, dataset or job event (not added/deleted). */
static int is_activity(uint8_t type)
{
    return type >= TP_EV_USER_LOGIN && type <= TP_EV_JOB_CANCELLED;
}

void sim_truth_event(sim_truth *tr, const sim_ev *e)
{
    if (e->ts < tr->hour_lo || e->ts >= tr->hour_hi) {
        int64_t hour = e->ts / SIM_MS_HOUR, day = e->ts / SIM_MS_DAY; /* times are after 1970 */
        if (hour != tr->cur_hour) {
            flush_hours(tr);
            tr->cur_hour = hour;
        }
        if (day != tr->cur_day) {
            flush_days(tr);
            tr->cur_day = day;
        }
        tr->hour_lo = hour * SIM_MS_HOUR;
        tr->hour_hi = tr->hour_lo + SIM_MS_HOUR;
    }
    int64_t hour = tr->cur_hour, day = tr->cur_day;
    tenant_truth *tt = &tr->t[e->tenant];
    int act_h = 0, act_d = 0;
    if (e->user && is_activity(e->type)) {
        if (ensure((void **)&tt->users, &tt->capusers, e->user, sizeof *tt->users, 0xff)) {
            tr->failed = 1;
        } else {
            stamp *s = &tt->users[e->user - 1];
            act_h = s->hour != hour;
            act_d = s->day != day;
            s->hour = hour;
            s->day = day;
        }
    }
    if (e->user && e->ts > tt->last_activity)
        tt->last_activity = e->ts;
    count(&tt->hour, e, act_h);
    count(&tt->day, e, act_d);
    tt->events++;
    switch ((tp_event_type)e->type) {
    case TP_EV_TENANT_CREATED:
        tt->created_at = e->ts;
        tt->plan = e->aux;
        tt->sentiment = (int)e->v1;
        break;
    case TP_EV_TENANT_UPDATED:
        if (e->aux & 1)
            tt->plan = (int)e->v2;
        if (e->aux & 2)
            tt->sentiment = (int)e->v1;
        break;
    case TP_EV_TENANT_CLOSED: tt->closed_at = e->ts; break;
    case TP_EV_USER_ADDED: tt->users_added++; break;
    case TP_EV_USER_DELETED: tt->users_deleted++; break;
    case TP_EV_DATASET_CREATED:
    case TP_EV_DATASET_UPDATED:
    case TP_EV_DATASET_DELETED:
        if (ensure((void **)&tt->ds_size, &tt->capds, e->obj, sizeof *tt->ds_size, 0)) {
            tr->failed = 1;
            break;
        }
        tt->data_size -= tt->ds_size[e->obj - 1];
        tt->ds_size[e->obj - 1] = e->type == TP_EV_DATASET_DELETED ? 0 : e->v1;
        tt->data_size += tt->ds_size[e->obj - 1];
        break;
    default: break;
    }
}

void sim_truth_invalid(sim_truth *tr, uint64_t index, tp_sim_defect d)
{
    if (tr->f)
        fprintf(tr->f, "{\"kind\":\"invalid\",\"index\":%" PRIu64 ",\"defect\":\"%s\"}\n", index,
                tp_sim_defect_name(d));
}

static void put_time_or_null(sim_truth *tr, const char *key, int64_t ms)
{
    char b[25];
    if (ms < 0) {
        fprintf(tr->f, ",\"%s\":null", key);
        return;
    }
    ts(tr, ms, b);
    fprintf(tr->f, ",\"%s\":\"%s\"", key, b);
}

int sim_truth_finish(sim_truth *tr, const tp_sim_stats *st, int64_t start_ms, int64_t end_ms, uint64_t seed)
{
    flush_hours(tr);
    flush_days(tr);
    if (tr->failed)
        return TP_ENOMEM;
    if (!tr->f)
        return 0;
    for (uint32_t i = 0; i < tr->w->ntenants; i++) {
        const tenant_truth *tt = &tr->t[i];
        const sim_tenant *t = &tr->w->tenants[i];
        if (tt->created_at < 0)
            continue; /* never created within the period */
        int s = tt->sentiment;
        fprintf(tr->f,
                "{\"kind\":\"tenant\",\"tenant_id\":\"%s\",\"company_name\":\"%s\",\"industry\":\"%s\","
                "\"plan\":\"%s\",\"sentiment\":%s%d.%02d,\"persona_initial\":\"%s\",\"persona_final\":\"%s\"",
                t->id, t->name, sim_industry_names[t->industry], sim_plan_names[tt->plan], s < 0 ? "-" : "",
                abs(s) / 100, abs(s) % 100, sim_persona_names[t->persona_initial], sim_persona_names[t->persona]);
        put_time_or_null(tr, "created_at", tt->created_at);
        put_time_or_null(tr, "closed_at", tt->closed_at);
        fprintf(tr->f,
                ",\"churned\":%s,\"user_count\":%" PRId64 ",\"users_added\":%" PRId64 ",\"users_deleted\":%" PRId64
                ",\"data_size_bytes\":%" PRId64,
                tt->closed_at >= 0 ? "true" : "false", tt->users_added - tt->users_deleted, tt->users_added,
                tt->users_deleted, tt->data_size);
        put_time_or_null(tr, "last_activity_at", tt->last_activity);
        fprintf(tr->f, ",\"events\":%" PRId64 "}\n", tt->events);
    }
    char a[25], b[25];
    ts(tr, start_ms, a);
    ts(tr, end_ms, b);
    fprintf(tr->f,
            "{\"kind\":\"summary\",\"seed\":%" PRIu64 ",\"start\":\"%s\",\"end\":\"%s\",\"tenants\":%" PRIu64
            ",\"events\":%" PRIu64 ",\"invalid_injected\":%" PRIu64 ",\"events_by_type\":{",
            seed, a, b, st->tenants, st->events, st->invalid);
    for (int k = 0; k < TP_EV__COUNT; k++)
        fprintf(tr->f, "%s\"%s\":%" PRIu64, k ? "," : "", sim_type_names[k], st->by_type[k]);
    fputs("}}\n", tr->f);
    return fflush(tr->f) == 0 && !ferror(tr->f) ? 0 : TP_EIO;
}

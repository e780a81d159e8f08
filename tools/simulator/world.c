/* world.c — tenants and users: who they are, how personas evolve, who joins and who leaves.
 *
 * Sizes are heavy-tailed (Pareto weights), so a few tenants produce most events. A tenant's
 * persona is hidden from the events but drives them: it sets the daily drift of its activity
 * level, its user growth, plan changes and sentiment, and churning tenants close their
 * account after 10-30 days of steep decline. Sessions themselves are in session.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

const char *const sim_persona_names[SIM_PERSONA__COUNT] = {"growing", "steady", "declining", "dormant",
                                                           "churning"};
const char *const sim_plan_names[SIM_PLAN__COUNT] = {"free", "starter", "business", "enterprise"};
const char *const sim_industry_names[] = {"software", "finance", "healthcare", "retail",     "manufacturing",
                                          "media",    "education", "logistics", "energy",   "telecom",
                                          "government", "biotech", NULL};
const char *const sim_role_names[] = {"admin", "member", "viewer"};
const char *const sim_user_reason_names[] = {"left_company", "deactivated", "license_reduction"};
const char *const sim_close_reason_names[] = {"too_expensive", "switched_competitor", "project_ended",
                                              "unsatisfied"};

static const char *const name_a[] = {"Blue",   "North",  "Bright", "Silver", "Red",    "Quiet",  "Swift",
                                     "Golden", "Iron",   "Green",  "Clear",  "Bold",   "Polar",  "Cedar",
                                     "Summit", "Harbor", "Granite", "Lunar", "Amber",  "Prime"};
static const char *const name_b[] = {"River",  "Peak",   "Fox",    "Stone",  "Field",  "Wave",  "Forge",
                                     "Bridge", "Pine",   "Falcon", "Lake",   "Orbit",  "Harvest", "Signal",
                                     "Atlas",  "Vector", "Meadow", "Canyon", "Beacon", "Quarry"};
static const char *const name_c[] = {"Analytics", "Labs",     "Systems", "Logistics", "Health", "Capital",
                                     "Media",     "Robotics", "Foods",   "Energy",    "Works",  "Group"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Office time zones (minutes east of UTC): Americas, Europe, Asia-Pacific. */
static const int tz_offsets[] = {-480, -420, -360, -300, -180, 0, 60, 60, 120, 330, 480, 540, 600};

/* Sessions produce about this many events: login, end, and ~4 actions of which half are jobs
 * (submit + end). Used only to turn --events-per-day into a session rate. */
#define SIM_EVENTS_PER_SESSION 8.0
/* A week averages (5 + 2 * 0.2) / 7 of a weekday. */
#define SIM_WEEK_FACTOR (5.4 / 7.0)
/* What the model loses on average (declining and churning tenants, busy users, the first
 * day's late starts), measured over seeds with bench/sim/run.sh's calibration check. */
#define SIM_CALIBRATION 1.08

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return TP_ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static sim_persona pick_persona(sim_rng *r)
{
    double u = sim_rng_unit(r);
    if (u < 0.20)
        return SIM_GROWING;
    if (u < 0.63)
        return SIM_STEADY;
    if (u < 0.80)
        return SIM_DECLINING;
    if (u < 0.88)
        return SIM_DORMANT;
    return SIM_CHURNING;
}

static void start_churning(sim_tenant *t)
{
    t->persona = SIM_CHURNING;
    t->churn_days_left = 10 + (int)sim_rng_below(&t->rng, 21);
}

static void init_tenant(sim_world *w, uint32_t i, sim_tenant *t)
{
    const tp_sim_options *o = &w->opt;
    sim_rng_seed(&t->rng, o->seed, 1000 + i);
    sim_rng *r = &t->rng;
    t->id_len = (uint32_t)snprintf(t->id, sizeof t->id, "%s%04u", w->prefix, i + 1);
    snprintf(t->name, sizeof t->name, "%s %s %s", name_a[sim_rng_below(r, NELEM(name_a))],
             name_b[sim_rng_below(r, NELEM(name_b))], name_c[sim_rng_below(r, NELEM(name_c))]);
    t->industry = (uint8_t)sim_rng_below(r, NELEM(sim_industry_names) - 1);
    t->tz_min = tz_offsets[sim_rng_below(r, NELEM(tz_offsets))];
    sim_persona p = pick_persona(r);
    /* Big accounts go quiet or leave less often than small ones. */
    if (t->weight > 8 && (p == SIM_CHURNING || p == SIM_DORMANT))
        p = pick_persona(r);
    t->persona = t->persona_initial = p;
    if (p == SIM_CHURNING)
        start_churning(t);
    t->level = p == SIM_DORMANT ? 0.05 : 1.0;
    t->day_mult = 1.0;
    static const double sent_mean[SIM_PERSONA__COUNT] = {0.55, 0.25, -0.05, 0.0, -0.25};
    t->sentiment = clampi((int)lround(100 * (sent_mean[p] + 0.2 * sim_rng_normal(r))), -100, 100);
    int plan = t->weight > 20 ? SIM_PLAN_ENTERPRISE : t->weight > 5 ? SIM_PLAN_BUSINESS
               : t->weight > 1.6                       ? SIM_PLAN_STARTER
                                                       : SIM_PLAN_FREE;
    if (sim_rng_chance(r, 0.25))
        plan += sim_rng_chance(r, 0.5) ? 1 : -1;
    t->plan = (uint8_t)clampi(plan, 0, SIM_PLAN__COUNT - 1);

    /* Most tenants sign up on the first day (or the first minutes of a live run); the rest
     * arrive over the first 70% of the period. */
    int64_t period = o->end_ms - o->start_ms;
    int64_t first = o->live ? 10 * 60000 : SIM_MS_DAY;
    if (first > period)
        first = period;
    int64_t span = sim_rng_chance(r, 0.7) ? first : (int64_t)(0.7 * (double)period);
    if (span < 1)
        span = 1;
    t->created_at = o->start_ms + (int64_t)sim_rng_below(r, (uint64_t)span);
}

int sim_world_init(sim_world *w, const tp_sim_options *opt, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->opt = *opt;
    const char *pfx = opt->tenant_prefix ? opt->tenant_prefix : "t";
    size_t pl = strlen(pfx);
    if (pl == 0 || pl > SIM_PREFIX_MAX)
        return tp_errf(err, errlen, TP_EINVAL, "--tenant-prefix must be 1..%d characters", SIM_PREFIX_MAX);
    for (size_t i = 0; i < pl; i++) {
        char c = pfx[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
        if (!ok)
            return tp_errf(err, errlen, TP_EINVAL, "--tenant-prefix may only hold [A-Za-z0-9._-]");
    }
    memcpy(w->prefix, pfx, pl + 1);
    w->opt.tenant_prefix = w->prefix;
    if (w->opt.events_per_day <= 0)
        w->opt.events_per_day = 100.0 * opt->tenants;

    w->tenants = calloc(opt->tenants, sizeof *w->tenants);
    if (!w->tenants)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory for %u tenants", opt->tenants);
    w->ntenants = opt->tenants;
    /* Sizes: Pareto(alpha 1) by stratified sampling — tenant i gets a random rank r and a weight
     * drawn from the r-th of n equal-probability slices — so even 20 tenants show the heavy tail
     * (a few tenants produce most events) instead of leaving it to luck. */
    sim_rng wr;
    sim_rng_seed(&wr, opt->seed, 0);
    uint32_t *rank = malloc(w->ntenants * sizeof *rank);
    if (!rank)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory for %u tenants", opt->tenants);
    for (uint32_t i = 0; i < w->ntenants; i++)
        rank[i] = i;
    for (uint32_t i = w->ntenants; i > 1; i--) {
        uint32_t j = (uint32_t)sim_rng_below(&wr, i), x = rank[i - 1];
        rank[i - 1] = rank[j];
        rank[j] = x;
    }
    for (uint32_t i = 0; i < w->ntenants; i++) {
        /* upper half of each slice: the biggest tenant is n..2n, not unbounded */
        double q = ((double)rank[i] + 1.0 - 0.5 * sim_rng_unit(&wr)) / w->ntenants;
        double wgt = 1.0 / q;
        w->tenants[i].weight = wgt > 500 ? 500 : wgt; /* no single tenant is the whole platform */
    }
    free(rank);
    double wsum = 0;
    for (uint32_t i = 0; i < w->ntenants; i++) {
        init_tenant(w, i, &w->tenants[i]);
        wsum += w->tenants[i].weight;
    }
    if (w->ntenants == 0)
        return 0;
    /* Spread the daily target over tenants by size, counting only what each one is expected to
     * contribute (dormant ones barely work; late sign-ups miss part of the period), so the
     * target is met on average even when a giant tenant happens to be dormant. */
    double period = (double)(w->opt.end_ms - w->opt.start_ms), expect = 0;
    for (uint32_t i = 0; i < w->ntenants; i++) {
        sim_tenant *t = &w->tenants[i];
        double alive = (double)(w->opt.end_ms - t->created_at) / period;
        expect += t->weight * alive * (t->persona == SIM_DORMANT ? 0.05 : 1.0);
    }
    if (expect <= 0)
        expect = wsum;
    double sessions = w->opt.events_per_day / SIM_EVENTS_PER_SESSION / SIM_WEEK_FACTOR * SIM_CALIBRATION;
    for (uint32_t i = 0; i < w->ntenants; i++) {
        sim_tenant *t = &w->tenants[i];
        t->base_sessions = sessions * t->weight / expect;
        /* About 2.5 sessions per user and weekday. */
        double u = t->base_sessions / 2.5;
        t->users_target = u < 1 ? 1 : u > 50000 ? 50000 : u;
    }
    return 0;
}

void sim_world_free(sim_world *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->ntenants; i++) {
        free(w->tenants[i].users);
        free(w->tenants[i].live);
        free(w->tenants[i].ds);
    }
    free(w->tenants);
    w->tenants = NULL;
    w->ntenants = 0;
}

static void add_user(sim_world *w, sim_tenant *t, uint32_t tidx, int64_t at, int role, sim_evbuf *buf)
{
    if (grow((void **)&t->users, &t->capusers, t->nusers + 1, sizeof *t->users) ||
        grow((void **)&t->live, &t->caplive, t->nlive + 1, sizeof *t->live)) {
        w->failed = 1;
        return;
    }
    sim_user *u = &t->users[t->nusers++];
    u->added_at = u->free_at = u->busy_until = at;
    u->deleted = 0;
    t->live[t->nlive++] = t->nusers;
    sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_USER_ADDED, at);
    e->user = t->nusers;
    e->aux = (uint8_t)role;
}

/* Delete one user who has nothing in flight at `at`; never the last one. */
static void delete_user(sim_tenant *t, uint32_t tidx, int64_t at, sim_evbuf *buf)
{
    if (t->nlive <= 1)
        return;
    for (int tries = 0; tries < 6; tries++) {
        uint32_t k = (uint32_t)sim_rng_below(&t->rng, t->nlive);
        sim_user *u = &t->users[t->live[k] - 1];
        if (u->busy_until >= at || u->free_at >= at || u->added_at >= at)
            continue;
        u->deleted = 1;
        u->busy_until = at;
        sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_USER_DELETED, at);
        e->user = t->live[k];
        e->aux = (uint8_t)sim_rng_below(&t->rng, NELEM(sim_user_reason_names));
        t->live[k] = t->live[--t->nlive];
        return;
    }
}

static void evolve_persona(sim_tenant *t)
{
    sim_rng *r = &t->rng;
    switch (t->persona) {
    case SIM_GROWING:
        if (sim_rng_chance(r, 1.0 / 80))
            t->persona = SIM_STEADY;
        break;
    case SIM_STEADY:
        if (sim_rng_chance(r, 1.0 / 100))
            t->persona = SIM_DECLINING;
        else if (sim_rng_chance(r, 1.0 / 400))
            t->persona = SIM_DORMANT;
        break;
    case SIM_DECLINING:
        if (sim_rng_chance(r, 1.0 / 45))
            start_churning(t);
        break;
    case SIM_DORMANT:
        if (sim_rng_chance(r, 1.0 / 120))
            start_churning(t);
        break;
    default:
        break;
    }
    /* Daily drift of the activity level, with a little noise. */
    static const double drift[SIM_PERSONA__COUNT] = {1.015, 1.0, 0.965, 1.0, 0.90};
    double lv = t->level * drift[t->persona] * exp(0.04 * sim_rng_normal(r));
    if (t->persona == SIM_STEADY)
        lv += (1.0 - lv) * 0.05; /* steady tenants revert to their usual level */
    else if (t->persona == SIM_DORMANT)
        lv += (0.05 - lv) * 0.3;
    t->level = lv < 0.005 ? 0.005 : lv > 20 ? 20 : lv;
    t->day_mult = sim_rng_chance(r, 0.03) ? 2.5 : 1.0;
}

static void maybe_update(sim_tenant *t, uint32_t tidx, int64_t day_start, sim_evbuf *buf)
{
    sim_rng *r = &t->rng;
    static const double p_update[SIM_PERSONA__COUNT] = {1.0 / 40, 1.0 / 100, 1.0 / 30, 1.0 / 60, 1.0 / 15};
    if (!sim_rng_chance(r, p_update[t->persona]))
        return;
    uint8_t mask = 0;
    int up = t->persona == SIM_GROWING || (t->persona == SIM_STEADY && sim_rng_chance(r, 0.5));
    if (sim_rng_chance(r, 0.5)) {
        int plan = t->plan + (up ? 1 : -1);
        if (plan >= 0 && plan < SIM_PLAN__COUNT) {
            t->plan = (uint8_t)plan;
            mask |= 1;
        }
    }
    int d = (int)lround(fabs(15 * sim_rng_normal(r))) + 1;
    int s = clampi(t->sentiment + (up ? d : -d), -100, 100);
    if (s != t->sentiment || !mask) {
        t->sentiment = s;
        mask |= 2;
    }
    int64_t at = sim_rhythm_work_time(t->tz_min, day_start, r);
    if (at <= t->created_at)
        at = t->created_at + 1;
    sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_TENANT_UPDATED, at);
    e->aux = mask;
    e->v1 = t->sentiment;
    e->v2 = t->plan;
}

void sim_world_day(sim_world *w, int64_t day_start, int64_t day_end, sim_evbuf *buf)
{
    for (uint32_t i = 0; i < w->ntenants; i++) {
        sim_tenant *t = &w->tenants[i];
        sim_rng *r = &t->rng;
        if (!t->created || t->closed || t->created_at >= day_start)
            continue;
        evolve_persona(t);
        if (t->persona == SIM_CHURNING && --t->churn_days_left <= 0) {
            /* Close once everything in flight is over: nothing of a tenant follows its close. */
            int64_t at = sim_rhythm_work_time(t->tz_min, day_start, r);
            int64_t after = t->busy_until + 60000 + (int64_t)sim_rng_below(r, SIM_MS_HOUR);
            if (at < after)
                at = after;
            sim_ev *e = sim_evbuf_push(buf, t, i, TP_EV_TENANT_CLOSED, at);
            e->aux = (uint8_t)sim_rng_below(r, NELEM(sim_close_reason_names));
            t->closed = 1;
            continue;
        }
        maybe_update(t, i, day_start, buf);

        /* Users follow the activity level: growing tenants hire, declining ones cut seats; and
         * every tenant has a little turnover. */
        double desired = t->users_target * (t->level < 0.05 ? 0.05 : t->level);
        if (desired < 1)
            desired = 1;
        double gap = desired - t->nlive;
        uint32_t adds = 0, dels = 0;
        if (gap >= 1)
            adds = sim_rng_poisson(r, 0.5 * fmin(gap, 1 + 0.1 * t->nlive));
        else if (-gap > 0.1 * desired + 1)
            dels = sim_rng_poisson(r, 0.5 * fmin(-gap, 1 + 0.05 * t->nlive));
        adds += sim_rng_chance(r, 0.04);
        dels += sim_rng_chance(r, 0.03);
        for (uint32_t k = 0; k < adds; k++) {
            int role = sim_rng_chance(r, 0.3) ? 2 : 1;
            add_user(w, t, i, sim_rhythm_work_time(t->tz_min, day_start, r), role, buf);
        }
        for (uint32_t k = 0; k < dels; k++)
            delete_user(t, i, sim_rhythm_work_time(t->tz_min, day_start, r), buf);
    }
    (void)day_end;
}

static void create_tenant(sim_world *w, sim_tenant *t, uint32_t tidx, sim_evbuf *buf)
{
    sim_rng *r = &t->rng;
    sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_TENANT_CREATED, t->created_at);
    e->aux = t->plan;
    e->v1 = t->sentiment;
    t->created = 1;
    /* The first admin invites the initial team over the next hour or two. */
    uint32_t n0 = (uint32_t)lround(t->users_target * (t->persona == SIM_GROWING ? 0.5 : 0.9));
    if (n0 < 1)
        n0 = 1;
    double gap_ms = 7200000.0 / n0;
    if (gap_ms > 30000)
        gap_ms = 30000;
    int64_t at = t->created_at;
    for (uint32_t k = 0; k < n0 && !w->failed; k++) {
        at += 1000 + (int64_t)sim_rng_exp(r, gap_ms);
        add_user(w, t, tidx, at, k == 0 ? 0 : sim_rng_chance(r, 0.3) ? 2 : 1, buf);
    }
}

void sim_world_hour(sim_world *w, int64_t from, int64_t to, sim_evbuf *buf)
{
    int oom = 0;
    for (uint32_t i = 0; i < w->ntenants; i++) {
        sim_tenant *t = &w->tenants[i];
        if (!t->created) {
            if (t->created_at >= to)
                continue;
            create_tenant(w, t, i, buf);
        }
        if (t->closed)
            continue;
        double lambda = t->base_sessions * t->level * t->day_mult *
                        sim_rhythm_hour_weight(t->tz_min, from + (to - from) / 2) * (double)(to - from) /
                        SIM_MS_HOUR;
        if (sim_rng_chance(&t->rng, 0.01))
            lambda *= 4; /* a burst: a batch run, a deadline, a demo */
        uint32_t n = sim_rng_poisson(&t->rng, lambda);
        for (uint32_t k = 0; k < n; k++) {
            int64_t start = from + (int64_t)sim_rng_below(&t->rng, (uint64_t)(to - from));
            if (start <= t->created_at)
                continue;
            sim_session_generate(t, i, start, buf, &oom);
        }
    }
    if (oom)
        w->failed = 1;
}

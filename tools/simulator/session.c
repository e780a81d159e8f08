/* session.c — one user session: login, data-lake work, jobs, then logoff or a timeout.
 *
 * Everything a session touches is checked against time so the sorted output stays causal:
 * a user works only after being added and never in two sessions at once; a dataset is
 * updated or deleted only after its last event (so its events are in order and deletes come
 * last); a job ends after it was submitted. */
#include <math.h>
#include <stdlib.h>

#include "sim_internal.h"

#define SIM_TIMEOUT_MS (30 * 60000LL)

static sim_user *pick_user(sim_tenant *t, int64_t start, uint32_t *no)
{
    if (t->nlive == 0)
        return NULL;
    for (int tries = 0; tries < 8; tries++) {
        /* u^1.5 favours the first users: a few power users do more of the work. */
        double u = sim_rng_unit(&t->rng);
        uint32_t k = (uint32_t)(u * sqrt(u) * t->nlive);
        if (k >= t->nlive)
            k = t->nlive - 1;
        sim_user *usr = &t->users[t->live[k] - 1];
        if (usr->added_at < start && usr->free_at < start) {
            *no = t->live[k];
            return usr;
        }
    }
    return NULL;
}

static int64_t clamp_size(double v, double lo)
{
    if (v < lo)
        v = lo;
    if (v > 4e15)
        v = 4e15;
    return (int64_t)v;
}

/* A dataset pick for update/delete: one whose last event is before `at`. */
static int pick_dataset(sim_tenant *t, int64_t at)
{
    for (int tries = 0; tries < 3 && t->nds; tries++) {
        uint32_t k = (uint32_t)sim_rng_below(&t->rng, t->nds);
        if (t->ds[k].last_at < at)
            return (int)k;
    }
    return -1;
}

static void dataset_action(sim_tenant *t, uint32_t tidx, uint32_t uno, int64_t at, sim_evbuf *buf, int *oom)
{
    sim_rng *r = &t->rng;
    /* Keep about three live datasets per user: create more while below, prune above. */
    int crowded = t->nds > 3 * (t->nlive + 1);
    double u = sim_rng_unit(r);
    double p_create = crowded ? 0.10 : 0.35, p_delete = crowded ? 0.40 : 0.12;
    int k = -1;
    if (u >= p_create)
        k = pick_dataset(t, at);
    if (k < 0) {
        if (t->nds + 1 > t->capds) {
            uint32_t nc = t->capds ? t->capds * 2 : 16;
            sim_dataset *nd = realloc(t->ds, (size_t)nc * sizeof *nd);
            if (!nd) {
                *oom = 1;
                return;
            }
            t->ds = nd;
            t->capds = nc;
        }
        sim_dataset *d = &t->ds[t->nds++];
        d->no = ++t->next_ds;
        d->size = clamp_size(sim_rng_lognormal(r, 2e8, 1.5), 1024);
        d->last_at = at;
        sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_DATASET_CREATED, at);
        e->user = uno;
        e->obj = d->no;
        e->v1 = d->size;
        return;
    }
    sim_dataset *d = &t->ds[k];
    if (u < p_create + p_delete) {
        sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_DATASET_DELETED, at);
        e->user = uno;
        e->obj = d->no;
        e->v1 = d->size;
        t->ds[k] = t->ds[--t->nds];
        return;
    }
    d->size = clamp_size((double)d->size * exp(0.05 + 0.3 * sim_rng_normal(r)), 1024);
    d->last_at = at;
    sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_DATASET_UPDATED, at);
    e->user = uno;
    e->obj = d->no;
    e->v1 = d->size;
}

/* Submits a job and decides its end; returns when the job's last event happens. */
static int64_t job(sim_tenant *t, uint32_t tidx, uint32_t uno, int64_t at, sim_evbuf *buf)
{
    static const int servers[] = {1, 2, 4, 8, 16, 32, 64};
    static const double cum[] = {0.30, 0.55, 0.75, 0.87, 0.95, 0.98, 1.0};
    sim_rng *r = &t->rng;
    double u = sim_rng_unit(r);
    int s = 0;
    while (s < 6 && u >= cum[s])
        s++;
    uint32_t no = ++t->next_job;
    sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_JOB_SUBMITTED, at);
    e->user = uno;
    e->obj = no;
    e->v1 = servers[s];
    e->v2 = clamp_size(sim_rng_lognormal(r, 5e9, 1.2), 1048576);

    double dur = sim_rng_lognormal(r, 900.0, 1.0);
    dur = dur < 5 ? 5 : dur > 43200 ? 43200 : dur;
    int64_t dur_ms = (int64_t)(dur * 1000);
    if (sim_rng_chance(r, 0.06)) {
        int64_t end = at + 1000 + (int64_t)(sim_rng_unit(r) * (double)dur_ms);
        e = sim_evbuf_push(buf, t, tidx, TP_EV_JOB_CANCELLED, end);
        e->user = uno;
        e->obj = no;
        return end;
    }
    double p_fail = t->persona == SIM_CHURNING ? 0.25 : t->persona == SIM_DECLINING ? 0.15 : 0.08;
    int ok = !sim_rng_chance(r, p_fail);
    int64_t end = ok ? at + dur_ms : at + 1000 + (int64_t)(sim_rng_unit(r) * (double)dur_ms);
    e = sim_evbuf_push(buf, t, tidx, TP_EV_JOB_TERMINATED, end);
    e->user = uno;
    e->obj = no;
    e->aux = (uint8_t)ok;
    e->v1 = (end - at) / 1000;
    return end;
}

void sim_session_generate(sim_tenant *t, uint32_t tidx, int64_t start, sim_evbuf *buf, int *oom)
{
    uint32_t uno;
    sim_user *u = pick_user(t, start, &uno);
    if (!u)
        return; /* everyone is busy: this session does not happen */
    sim_rng *r = &t->rng;
    uint32_t sid = ++t->next_session;
    sim_ev *e = sim_evbuf_push(buf, t, tidx, TP_EV_USER_LOGIN, start);
    e->user = uno;
    e->obj = sid;

    int64_t at = start, busy = start;
    uint32_t actions = 1 + sim_rng_geometric(r, 3.0);
    for (uint32_t a = 0; a < actions; a++) {
        at += 1000 + (int64_t)sim_rng_exp(r, 180000.0);
        if (sim_rng_chance(r, 0.5)) {
            dataset_action(t, tidx, uno, at, buf, oom);
        } else {
            int64_t end = job(t, tidx, uno, at, buf);
            if (end > busy)
                busy = end;
        }
    }
    int timeout = sim_rng_chance(r, 0.15);
    int64_t end = timeout ? at + SIM_TIMEOUT_MS : at + 1000 + (int64_t)sim_rng_exp(r, 120000.0);
    e = sim_evbuf_push(buf, t, tidx, timeout ? TP_EV_USER_SESSION_TIMEOUT : TP_EV_USER_LOGOFF, end);
    e->user = uno;
    e->obj = sid;
    e->v1 = (end - start) / 1000;
    u->free_at = end;
    if (end > busy)
        busy = end;
    if (busy > u->busy_until)
        u->busy_until = busy;
}

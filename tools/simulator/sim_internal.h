/* sim_internal.h — what the simulator's files share (not part of tp_sim's API).
 *
 * Internal names use the sim_ prefix (like libuv's uv__): they cross files inside tp_sim only.
 *
 * The world is tenants, each owning its users and live datasets. Generation appends compact
 * sim_ev records to a day buffer; sim.c sorts a day and hands events to emit.c (NDJSON) and
 * truth.c (ground truth) in occurred_at order. Every fact an event's line needs is inside the
 * sim_ev itself (plan and sentiment at the time, sizes, ids), because generation runs ahead
 * of emission and a tenant's state may have moved on by then. */
#ifndef TP_SIM_INTERNAL_H
#define TP_SIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rng.h"
#include "sim.h"

#define SIM_MS_HOUR 3600000LL
#define SIM_MS_DAY 86400000LL
#define SIM_PREFIX_MAX 40 /* keeps "<prefix>0000-j000000" within the 64-char id limit */

typedef enum { SIM_GROWING = 0, SIM_STEADY, SIM_DECLINING, SIM_DORMANT, SIM_CHURNING, SIM_PERSONA__COUNT } sim_persona;
typedef enum { SIM_PLAN_FREE = 0, SIM_PLAN_STARTER, SIM_PLAN_BUSINESS, SIM_PLAN_ENTERPRISE, SIM_PLAN__COUNT } sim_plan;

extern const char *const sim_persona_names[SIM_PERSONA__COUNT];
extern const char *const sim_plan_names[SIM_PLAN__COUNT];
extern const char *const sim_industry_names[];
extern const char *const sim_role_names[];
extern const char *const sim_user_reason_names[];
extern const char *const sim_close_reason_names[];
extern const char *const sim_type_names[TP_EV__COUNT];

/* One generated event. Fields by type:
 *   tenant.created   aux=plan, v1=sentiment in hundredths
 *   tenant.updated   aux bit 1: plan changed (v2=plan); bit 2: sentiment changed (v1)
 *   tenant.closed    aux=reason
 *   user.added       aux=role              user.deleted  aux=reason
 *   user.login       obj=session           user.logoff / session_timeout  obj=session, v1=seconds
 *   dataset.*        obj=dataset, v1=size_bytes
 *   job.submitted    obj=job, v1=servers, v2=data_size_bytes
 *   job.terminated   obj=job, aux=1 succeeded / 0 failed, v1=duration_seconds
 *   job.cancelled    obj=job */
typedef struct sim_ev {
    int64_t ts;      /* occurred_at, UTC ms */
    int64_t v1, v2;
    uint32_t tenant; /* index into the world's tenants */
    uint32_t user;   /* user number (1-based), 0 for tenant events */
    uint32_t obj;
    uint8_t type;    /* tp_event_type */
    uint8_t aux;
} sim_ev;

typedef struct sim_user {
    int64_t added_at;   /* time of its user.added */
    int64_t free_at;    /* end of its last session: no new session before */
    int64_t busy_until; /* its last event so far, jobs included */
    uint8_t deleted;
} sim_user;

typedef struct sim_dataset {
    int64_t size;
    int64_t last_at; /* its last event: later actions must come after it */
    uint32_t no;
} sim_dataset;

typedef struct sim_tenant {
    char id[SIM_PREFIX_MAX + 24];
    uint32_t id_len;
    char name[64];            /* plain ASCII letters and spaces: needs no JSON escaping */
    uint8_t industry, plan;
    int sentiment;            /* hundredths, -100 .. 100 */
    int tz_min;               /* UTC offset of its office, minutes */
    double weight;            /* heavy-tailed size */
    double base_sessions;     /* sessions per weekday at level 1 */
    double level;             /* current activity multiplier (personas move it) */
    double day_mult;          /* today's burst factor (a busy day now and then) */
    double users_target;
    sim_persona persona, persona_initial;
    int64_t created_at;
    int created, closed;
    int churn_days_left;      /* churning: days of decline left before closing */
    int64_t busy_until;       /* its last event so far */
    sim_user *users;          /* every user ever, index = number - 1 */
    uint32_t nusers, capusers;
    uint32_t *live;           /* numbers of users not deleted (some may be added later today) */
    uint32_t nlive, caplive;
    sim_dataset *ds;          /* live datasets */
    uint32_t nds, capds;
    uint32_t next_ds, next_job, next_session;
    sim_rng rng;
} sim_tenant;

typedef struct sim_evbuf {
    sim_ev *v;
    size_t n, cap;
    int failed;               /* sticky: an append ran out of memory */
    sim_ev scratch;           /* where appends go after a failure */
} sim_evbuf;

typedef struct sim_world {
    tp_sim_options opt;
    char prefix[SIM_PREFIX_MAX + 1];
    sim_tenant *tenants;
    uint32_t ntenants;
    int failed;               /* sticky out-of-memory flag for state growth */
} sim_world;

/* world.c */
int sim_world_init(sim_world *w, const tp_sim_options *opt, char *err, size_t errlen);
void sim_world_free(sim_world *w);
/* Once per simulated day, before its hours: personas, levels, users joining and leaving,
 * plan/sentiment updates, closing churned tenants. */
void sim_world_day(sim_world *w, int64_t day_start, int64_t day_end, sim_evbuf *buf);
/* One hour slot [from, to): tenants created in it, and every tenant's sessions. */
void sim_world_hour(sim_world *w, int64_t from, int64_t to, sim_evbuf *buf);

/* session.c */
void sim_session_generate(sim_tenant *t, uint32_t tidx, int64_t start, sim_evbuf *buf, int *oom);

/* rhythm.c */
double sim_rhythm_hour_weight(int tz_min, int64_t at);
int64_t sim_rhythm_work_time(int tz_min, int64_t day_start, sim_rng *r);

/* evbuf (sim.c) */
sim_ev *sim_evbuf_push(sim_evbuf *b, sim_tenant *t, uint32_t tidx, uint8_t type, int64_t ts);

/* emit.c: format one event line (with '\n') into out (>= SIM_LINE_MAX bytes); returns length. */
#define SIM_LINE_MAX 1024
typedef struct sim_emitter {
    const sim_world *w;
    sim_rng uuid_rng;
    sim_rng defect_rng;
    int64_t cached_day;
    char date[11];            /* "YYYY-MM-DD" of cached_day */
} sim_emitter;
void sim_emitter_init(sim_emitter *em, const sim_world *w, uint64_t seed);
size_t sim_emit_line(sim_emitter *em, const sim_ev *e, char *out);
/* An invalid variant of e with the given defect (falls back to one that applies). */
size_t sim_emit_invalid(sim_emitter *em, const sim_ev *e, tp_sim_defect *defect, char *out);
void sim_format_ts(sim_emitter *em, int64_t ms, char out[24]);
void sim_civil_from_days(int64_t days, int *y, int *m, int *d);

/* truth.c */
typedef struct sim_truth sim_truth;
int sim_truth_new(const sim_world *w, FILE *f, sim_truth **out);
void sim_truth_free(sim_truth *t);
void sim_truth_event(sim_truth *t, const sim_ev *e);
void sim_truth_invalid(sim_truth *t, uint64_t index, tp_sim_defect d);
int sim_truth_finish(sim_truth *t, const tp_sim_stats *st, int64_t start_ms, int64_t end_ms, uint64_t seed);

#endif

/* sim.h — tp-sim's core: a deterministic simulator of tenantpulse's customers.
 *
 * It invents tenants (company, industry, sentiment, plan and a hidden persona: growing,
 * steady, declining, dormant, churning — which changes over time), their users and the
 * users' sessions (login → dataset work → jobs → logoff or timeout), paced by working hours,
 * weekdays and each tenant's time zone, with heavy-tailed tenant sizes. Churning tenants
 * decline visibly, then close. Output is NDJSON in the event catalog of tp/event.h, sorted by
 * occurred_at, plus a ground-truth NDJSON file (docs/simulator.md) that pipeline tests compare
 * against. Same options and seed → byte-identical output.
 *
 * Generation is streamed: one simulated day at a time is generated, sorted and emitted, so a
 * run of any length needs memory for about one day of events.
 *
 * Ownership: tp_sim_new copies what it needs from the options (tenant_prefix included);
 * sinks and the truth FILE are borrowed for the duration of tp_sim_run. */
#ifndef TP_SIM_H
#define TP_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "tp/err.h"
#include "tp/event.h"

typedef struct tp_sim_options {
    uint64_t seed;
    uint32_t tenants;         /* 1 .. 100000 */
    int64_t start_ms;         /* simulated period [start_ms, end_ms), UTC ms since the epoch */
    int64_t end_ms;
    double events_per_day;    /* approximate target across all tenants; <= 0 means 100 per tenant */
    double invalid_share;     /* 0 .. 0.5: extra invalid events injected, each kind of defect */
    const char *tenant_prefix; /* tenant ids are <prefix><4 digits>; NULL means "t" */
    int live;                 /* emit at wall-clock pace (scaled by speed) instead of at once */
    double speed;             /* live only: simulated seconds per wall second; <= 0 means 1 */
} tp_sim_options;

/* Where events go. Every callback may be NULL. A callback returning non-zero (a TP_E* code)
 * stops the run with that error. */
typedef struct tp_sim_sink {
    /* One event as an NDJSON line including its '\n'; borrowed for the call. valid is 0 for an
     * injected invalid event. */
    int (*line)(void *ctx, const char *line, size_t len, int valid);
    /* Live mode: nothing to emit for the next wait_ms; the sink may work meanwhile. If no sink
     * has idle, the simulator sleeps. Must return within about wait_ms. */
    int (*idle)(void *ctx, int64_t wait_ms);
    /* Every few thousand events: simulated time reached and lines emitted so far. */
    void (*progress)(void *ctx, int64_t sim_ms, uint64_t lines);
    /* The run has emitted everything (flush here). Not called if the run failed. */
    int (*finish)(void *ctx);
    void *ctx;
} tp_sim_sink;

typedef struct tp_sim_stats {
    uint64_t events;                 /* valid events emitted */
    uint64_t invalid;                /* injected invalid events emitted */
    uint64_t tenants;                /* tenants created (with a tenant.created emitted) */
    uint64_t by_type[TP_EV__COUNT];  /* valid events per type */
} tp_sim_stats;

typedef struct tp_sim tp_sim;

/* Validates the options (fills err naming the one at fault) and builds the world. */
int tp_sim_new(const tp_sim_options *opt, tp_sim **out, char *err, size_t errlen) TP_MUSTCHECK;
void tp_sim_free(tp_sim *s); /* NULL-safe */

/* Simulate the whole period, once. truth may be NULL. Borrows sinks and truth. */
int tp_sim_run(tp_sim *s, const tp_sim_sink *sinks, size_t nsinks, FILE *truth, char *err,
               size_t errlen) TP_MUSTCHECK;
const tp_sim_stats *tp_sim_get_stats(const tp_sim *s);

/* A sink writing lines to f through a large buffer (f is borrowed; not closed). */
typedef struct tp_sim_file_sink tp_sim_file_sink;
int tp_sim_file_sink_new(FILE *f, tp_sim_file_sink **out, tp_sim_sink *sink) TP_MUSTCHECK;
void tp_sim_file_sink_free(tp_sim_file_sink *fs); /* NULL-safe; does not flush */

/* Injected defect kinds, in the truth file's "defect" spelling. */
#define TP_SIM_DEFECTS(X)                           \
    X(TP_SIM_DEF_MISSING_EVENT_ID, "missing_event_id") \
    X(TP_SIM_DEF_BAD_EVENT_ID, "bad_event_id")         \
    X(TP_SIM_DEF_BAD_TYPE, "bad_type")                 \
    X(TP_SIM_DEF_MISSING_TENANT_ID, "missing_tenant_id") \
    X(TP_SIM_DEF_BAD_TENANT_ID, "bad_tenant_id")       \
    X(TP_SIM_DEF_MISSING_USER_ID, "missing_user_id")   \
    X(TP_SIM_DEF_BAD_OCCURRED_AT, "bad_occurred_at")   \
    X(TP_SIM_DEF_FUTURE_OCCURRED_AT, "future_occurred_at") \
    X(TP_SIM_DEF_MISSING_ATTRIBUTE, "missing_attribute") \
    X(TP_SIM_DEF_BAD_ATTRIBUTE, "bad_attribute")

typedef enum {
#define TP_SIM_DEF_ENUM(e, name) e,
    TP_SIM_DEFECTS(TP_SIM_DEF_ENUM)
#undef TP_SIM_DEF_ENUM
        TP_SIM_DEF__COUNT
} tp_sim_defect;

const char *tp_sim_defect_name(tp_sim_defect d);

/* Parse "2026-01-01", "2026-01-01T00:00:00Z" or any RFC 3339 time into UTC ms. */
int tp_sim_parse_time(const char *s, int64_t *ms_out) TP_MUSTCHECK;

#endif

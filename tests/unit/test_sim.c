/* test_sim.c — tp-sim's core: determinism, catalog validity, causal order, ground truth equal
 * to an independent recount of the NDJSON, persona behaviour, churn, heavy tail, and invalid
 * injection. The recount reads only the NDJSON text (with jansson), never simulator state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "tp/event.h"

#define DAY_MS 86400000LL

typedef struct run_out {
    char *ev, *truth;
    size_t ev_len, truth_len;
    tp_sim_stats st;
} run_out;

static void run(const tp_sim_options *o, run_out *r)
{
    char err[256] = "";
    tp_sim *s = NULL;
    tp_sim_file_sink *fs = NULL;
    tp_sim_sink sink;
    memset(r, 0, sizeof *r);
    FILE *ev = open_memstream(&r->ev, &r->ev_len);
    FILE *tr = open_memstream(&r->truth, &r->truth_len);
    assert_non_null(ev);
    assert_non_null(tr);
    assert_int_equal(tp_sim_new(o, &s, err, sizeof err), 0);
    assert_int_equal(tp_sim_file_sink_new(ev, &fs, &sink), 0);
    int rc = tp_sim_run(s, &sink, 1, tr, err, sizeof err);
    if (rc)
        fprintf(stderr, "run: %s\n", err);
    assert_int_equal(rc, 0);
    r->st = *tp_sim_get_stats(s);
    tp_sim_file_sink_free(fs);
    tp_sim_free(s);
    fclose(ev);
    fclose(tr);
}

static void run_free(run_out *r)
{
    free(r->ev);
    free(r->truth);
}

static tp_sim_options small_opts(uint64_t seed)
{
    tp_sim_options o = {0};
    o.seed = seed;
    o.tenants = 20;
    assert_int_equal(tp_sim_parse_time("2026-01-01T00:00:00Z", &o.start_ms), 0);
    o.end_ms = o.start_ms + 3 * DAY_MS;
    o.events_per_day = 3000;
    return o;
}

/* Long enough for personas to show: 6 weeks, 60 tenants. Built once, shared by tests. */
static run_out g_long;
static int g_long_done;
static const run_out *long_run(void)
{
    if (!g_long_done) {
        tp_sim_options o = small_opts(42);
        o.tenants = 60;
        o.end_ms = o.start_ms + 42 * DAY_MS;
        o.events_per_day = 1500;
        run(&o, &g_long);
        g_long_done = 1;
    }
    return &g_long;
}

/* Calls fn(line, len, index) for each line of an NDJSON buffer. */
typedef void (*line_fn)(const char *line, size_t len, size_t index, void *ctx);
static void each_line(const char *buf, size_t len, line_fn fn, void *ctx)
{
    size_t i = 0, idx = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        assert_non_null(nl); /* every line ends with a newline */
        fn(buf + i, (size_t)(nl - (buf + i)), idx++, ctx);
        i = (size_t)(nl - buf) + 1;
    }
}

static json_t *parse(const char *line, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(line, len, 0, &je);
    if (!j)
        fprintf(stderr, "bad JSON line: %.*s (%s)\n", (int)len, line, je.text);
    assert_non_null(j);
    return j;
}

static const char *sget(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* ---------------------------------------------------------------- determinism */

static void test_determinism(void **state)
{
    (void)state;
    tp_sim_options o = small_opts(7);
    run_out a, b, c;
    run(&o, &a);
    run(&o, &b);
    assert_true(a.ev_len > 1000);
    assert_int_equal(a.ev_len, b.ev_len);
    assert_memory_equal(a.ev, b.ev, a.ev_len);
    assert_int_equal(a.truth_len, b.truth_len);
    assert_memory_equal(a.truth, b.truth, a.truth_len);
    o.seed = 8;
    run(&o, &c);
    assert_true(c.ev_len != a.ev_len || memcmp(a.ev, c.ev, a.ev_len) != 0);
    run_free(&a);
    run_free(&b);
    run_free(&c);
}

static void test_rejects_bad_options(void **state)
{
    (void)state;
    char err[256];
    tp_sim *s = NULL;
    tp_sim_options o = small_opts(1);
    o.tenants = 0;
    assert_int_equal(tp_sim_new(&o, &s, err, sizeof err), TP_EINVAL);
    o = small_opts(1);
    o.end_ms = o.start_ms;
    assert_int_equal(tp_sim_new(&o, &s, err, sizeof err), TP_EINVAL);
    o = small_opts(1);
    o.tenant_prefix = "bad/prefix";
    assert_int_equal(tp_sim_new(&o, &s, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "--tenant-prefix"));
    o = small_opts(1);
    o.invalid_share = 0.9;
    assert_int_equal(tp_sim_new(&o, &s, err, sizeof err), TP_EINVAL);
    assert_null(s);
    int64_t ms;
    assert_int_equal(tp_sim_parse_time("2026-01-01", &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(tp_sim_parse_time("2026-01-01T01:00:00.250+01:00", &ms), 0);
    assert_int_equal(ms, 1767225600250LL);
    assert_int_equal(tp_sim_parse_time("yesterday", &ms), TP_EINVAL);
}

/* ------------------------------------------------- validity, order, causality */

typedef struct order_ctx {
    json_t *seen_tenants, *live_users, *closed, *ids;
    char last_ts[32];
    int64_t now;
    size_t n;
    const char *prefix;
} order_ctx;

static void check_line(const char *line, size_t len, size_t idx, void *vctx)
{
    order_ctx *c = vctx;
    (void)idx;
    json_t *j = parse(line, len);
    tp_event ev;
    tp_event_error ee;
    int rc = tp_event_validate(j, c->now, &ev, &ee);
    if (rc)
        fprintf(stderr, "invalid: %.*s\n  %s: %s\n", (int)len, line, ee.field, ee.message);
    assert_int_equal(rc, 0);
    const char *type = sget(j, "type"), *tid = sget(j, "tenant_id"), *uid = sget(j, "user_id");
    const char *ts = sget(j, "occurred_at");
    /* Sorted by occurred_at (same format everywhere, so strings compare as times). */
    assert_true(strcmp(c->last_ts, ts) <= 0);
    snprintf(c->last_ts, sizeof c->last_ts, "%s", ts);
    assert_true(ev.occurred_at_ms < c->now);
    /* Unique event ids. */
    assert_null(json_object_get(c->ids, ev.event_id));
    json_object_set_new(c->ids, ev.event_id, json_true());
    /* Ids follow the prefix scheme. */
    assert_int_equal(strncmp(tid, c->prefix, strlen(c->prefix)), 0);
    /* Nothing of a tenant before its tenant.created or after its tenant.closed. */
    assert_null(json_object_get(c->closed, tid));
    if (strcmp(type, "tenant.created") == 0) {
        assert_null(json_object_get(c->seen_tenants, tid));
        json_object_set_new(c->seen_tenants, tid, json_true());
    } else {
        assert_non_null(json_object_get(c->seen_tenants, tid));
    }
    if (strcmp(type, "tenant.closed") == 0)
        json_object_set_new(c->closed, tid, json_true());
    /* A user's events come after its user.added and not after its user.deleted. */
    if (uid) {
        assert_int_equal(strncmp(uid, tid, strlen(tid)), 0);
        if (strcmp(type, "user.added") == 0) {
            assert_null(json_object_get(c->live_users, uid));
            json_object_set_new(c->live_users, uid, json_true());
        } else {
            assert_non_null(json_object_get(c->live_users, uid));
        }
        if (strcmp(type, "user.deleted") == 0)
            json_object_del(c->live_users, uid);
        /* session_id and session_seconds are always present on session ends. */
        if (strstr(type, "logoff") || strstr(type, "timeout")) {
            json_t *a = json_object_get(j, "attributes");
            assert_non_null(json_object_get(a, "session_id"));
            assert_true(json_is_integer(json_object_get(a, "session_seconds")));
        }
    }
    c->n++;
    json_decref(j);
}

static void check_run(const run_out *r, const char *prefix)
{
    order_ctx c = {json_object(), json_object(), json_object(), json_object(), "", 0, 0, prefix};
    c.now = (int64_t)time(NULL) * 1000;
    each_line(r->ev, r->ev_len, check_line, &c);
    assert_int_equal(c.n, r->st.events);
    json_decref(c.seen_tenants);
    json_decref(c.live_users);
    json_decref(c.closed);
    json_decref(c.ids);
}

static void test_events_valid_and_causal(void **state)
{
    (void)state;
    tp_sim_options o = small_opts(11);
    o.tenant_prefix = "simtest-";
    run_out r;
    run(&o, &r);
    check_run(&r, "simtest-");
    assert_true(r.st.events > 4000);
    for (int k = 0; k < TP_EV__COUNT; k++) {
        if (k != TP_EV_TENANT_CLOSED && k != TP_EV_TENANT_UPDATED && k != TP_EV_USER_DELETED)
            assert_true(r.st.by_type[k] > 0); /* every common type shows up even in a small run */
    }
    run_free(&r);
    check_run(long_run(), "t");
}

/* ------------------------------------------------------ truth == recount */

static const char *const counters[] = {
    "logins", "logoffs", "session_timeouts", "sessions", "session_seconds", "dataset_actions",
    "datasets_created", "datasets_updated", "datasets_deleted", "jobs_submitted", "jobs_terminated",
    "jobs_succeeded", "jobs_failed", "jobs_cancelled", "servers_used", "job_data_bytes", "active_users",
    "users_added", "users_deleted", "tenants_created", "tenants_closed", "events", NULL};

typedef struct recount {
    json_t *periods; /* "hour|tid|2026-01-01T05:00:00Z" / "day|tid|2026-01-01" → counters */
    json_t *active;  /* same keys → {user_id: true} */
    json_t *tenants; /* tid → tenant facts */
    json_t *datasets; /* "tid|dataset_id" → size */
    json_t *by_type;
    int64_t events;
    json_t *invalid; /* line index → defect, from the truth: not counted */
} recount;

static void add(json_t *o, const char *k, json_int_t d)
{
    json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + d));
}

static json_t *period_counters(recount *rc, const char *key)
{
    json_t *p = json_object_get(rc->periods, key);
    if (!p) {
        p = json_object();
        for (int i = 0; counters[i]; i++)
            json_object_set_new(p, counters[i], json_integer(0));
        json_object_set_new(rc->periods, key, p);
        json_object_set_new(rc->active, key, json_object());
    }
    return p;
}

static void count_into(recount *rc, const char *key, json_t *j)
{
    json_t *p = period_counters(rc, key);
    json_t *a = json_object_get(j, "attributes");
    const char *type = sget(j, "type"), *uid = sget(j, "user_id");
    json_int_t ss = json_integer_value(json_object_get(a, "session_seconds"));
    add(p, "events", 1);
    if (!strcmp(type, "tenant.created")) add(p, "tenants_created", 1);
    if (!strcmp(type, "tenant.closed")) add(p, "tenants_closed", 1);
    if (!strcmp(type, "user.added")) add(p, "users_added", 1);
    if (!strcmp(type, "user.deleted")) add(p, "users_deleted", 1);
    if (!strcmp(type, "user.login")) add(p, "logins", 1);
    if (!strcmp(type, "user.logoff")) { add(p, "logoffs", 1); add(p, "sessions", 1); add(p, "session_seconds", ss); }
    if (!strcmp(type, "user.session_timeout")) {
        add(p, "session_timeouts", 1); add(p, "sessions", 1); add(p, "session_seconds", ss);
    }
    if (!strncmp(type, "dataset.", 8)) {
        add(p, "dataset_actions", 1);
        add(p, !strcmp(type, "dataset.created") ? "datasets_created"
               : !strcmp(type, "dataset.updated") ? "datasets_updated" : "datasets_deleted", 1);
    }
    if (!strcmp(type, "job.submitted")) {
        add(p, "jobs_submitted", 1);
        add(p, "servers_used", json_integer_value(json_object_get(a, "servers")));
        add(p, "job_data_bytes", json_integer_value(json_object_get(a, "data_size_bytes")));
    }
    if (!strcmp(type, "job.terminated")) {
        add(p, "jobs_terminated", 1);
        add(p, !strcmp(sget(a, "status"), "succeeded") ? "jobs_succeeded" : "jobs_failed", 1);
    }
    if (!strcmp(type, "job.cancelled")) add(p, "jobs_cancelled", 1);
    if (uid && strcmp(type, "user.added") && strcmp(type, "user.deleted")) {
        json_t *set = json_object_get(rc->active, key);
        if (!json_object_get(set, uid)) {
            json_object_set_new(set, uid, json_true());
            add(p, "active_users", 1);
        }
    }
}

static void recount_line(const char *line, size_t len, size_t idx, void *vctx)
{
    recount *rc = vctx;
    char ik[32];
    snprintf(ik, sizeof ik, "%zu", idx);
    if (json_object_get(rc->invalid, ik))
        return;
    json_t *j = parse(line, len);
    const char *type = sget(j, "type"), *tid = sget(j, "tenant_id"), *ts = sget(j, "occurred_at");
    json_t *a = json_object_get(j, "attributes");
    char key[160];
    snprintf(key, sizeof key, "hour|%s|%.13s:00:00Z", tid, ts);
    count_into(rc, key, j);
    snprintf(key, sizeof key, "day|%s|%.10s", tid, ts);
    count_into(rc, key, j);
    add(rc->by_type, type, 1);
    rc->events++;

    json_t *t = json_object_get(rc->tenants, tid);
    if (!t) {
        t = json_pack("{s:n,s:b,s:i,s:i,s:i,s:n,s:i}", "closed_at", "churned", 0, "users_added", 0,
                      "users_deleted", 0, "data_size_bytes", 0, "last_activity_at", "events", 0);
        json_object_set_new(rc->tenants, tid, t);
    }
    add(t, "events", 1);
    if (!strcmp(type, "tenant.created")) {
        json_object_set_new(t, "created_at", json_string(ts));
        json_object_update(t, a); /* company_name, industry, sentiment, plan */
    } else if (!strcmp(type, "tenant.updated")) {
        json_object_update(t, a);
    } else if (!strcmp(type, "tenant.closed")) {
        json_object_set_new(t, "closed_at", json_string(ts));
        json_object_set_new(t, "churned", json_true());
    }
    if (!strcmp(type, "user.added")) add(t, "users_added", 1);
    if (!strcmp(type, "user.deleted")) add(t, "users_deleted", 1);
    if (sget(j, "user_id")) {
        const char *last = sget(t, "last_activity_at");
        if (!last || strcmp(ts, last) > 0)
            json_object_set_new(t, "last_activity_at", json_string(ts));
    }
    if (!strncmp(type, "dataset.", 8)) {
        snprintf(key, sizeof key, "%s|%s", tid, sget(a, "dataset_id"));
        json_int_t old = json_integer_value(json_object_get(rc->datasets, key));
        json_int_t sz = json_integer_value(json_object_get(a, "size_bytes"));
        if (!strcmp(type, "dataset.created")) {
            assert_null(json_object_get(rc->datasets, key));
            add(t, "data_size_bytes", sz);
            json_object_set_new(rc->datasets, key, json_integer(sz));
        } else {
            assert_non_null(json_object_get(rc->datasets, key)); /* created first */
            if (!strcmp(type, "dataset.updated")) {
                add(t, "data_size_bytes", sz - old);
                json_object_set_new(rc->datasets, key, json_integer(sz));
            } else {
                assert_int_equal(sz, old); /* deleted reports the size it removes */
                add(t, "data_size_bytes", -old);
                json_object_del(rc->datasets, key);
            }
        }
    }
    json_decref(j);
}

typedef struct truth_cmp {
    recount *rc;
    size_t periods, tenants, summaries;
    int summary_last;
} truth_cmp;

static void compare_truth_line(const char *line, size_t len, size_t idx, void *vctx)
{
    truth_cmp *tc = vctx;
    (void)idx;
    json_t *j = parse(line, len);
    const char *kind = sget(j, "kind");
    char key[160];
    assert_non_null(kind);
    assert_int_equal(tc->summaries, 0); /* the summary is the last line */
    if (!strcmp(kind, "hour") || !strcmp(kind, "day")) {
        snprintf(key, sizeof key, "%s|%s|%s", kind, sget(j, "tenant_id"), sget(j, kind));
        json_t *want = json_object_get(tc->rc->periods, key);
        if (!want)
            fprintf(stderr, "truth has a period the events do not: %s\n", key);
        assert_non_null(want);
        for (int i = 0; counters[i]; i++) {
            json_t *got = json_object_get(j, counters[i]);
            assert_true(json_is_integer(got));
            if (json_integer_value(got) != json_integer_value(json_object_get(want, counters[i])))
                fprintf(stderr, "%s %s: truth %lld, recount %lld\n", key, counters[i],
                        (long long)json_integer_value(got),
                        (long long)json_integer_value(json_object_get(want, counters[i])));
            assert_int_equal(json_integer_value(got), json_integer_value(json_object_get(want, counters[i])));
        }
        tc->periods++;
    } else if (!strcmp(kind, "tenant")) {
        json_t *want = json_object_get(tc->rc->tenants, sget(j, "tenant_id"));
        assert_non_null(want);
        static const char *const keys[] = {"company_name", "industry", "plan", "sentiment", "created_at",
                                           "closed_at", "churned", "users_added", "users_deleted",
                                           "data_size_bytes", "last_activity_at", "events", NULL};
        for (int i = 0; keys[i]; i++) {
            json_t *g = json_object_get(j, keys[i]), *w = json_object_get(want, keys[i]);
            if (!json_equal(g, w)) {
                char *gs = json_dumps(g, JSON_ENCODE_ANY), *ws = json_dumps(w, JSON_ENCODE_ANY);
                fprintf(stderr, "tenant %s %s: truth %s, recount %s\n", sget(j, "tenant_id"), keys[i], gs, ws);
                free(gs);
                free(ws);
            }
            assert_true(json_equal(g, w));
        }
        assert_int_equal(json_integer_value(json_object_get(j, "user_count")),
                         json_integer_value(json_object_get(want, "users_added")) -
                             json_integer_value(json_object_get(want, "users_deleted")));
        assert_non_null(sget(j, "persona_initial"));
        assert_non_null(sget(j, "persona_final"));
        tc->tenants++;
    } else if (!strcmp(kind, "summary")) {
        assert_int_equal(json_integer_value(json_object_get(j, "events")), tc->rc->events);
        assert_int_equal(json_integer_value(json_object_get(j, "tenants")), json_object_size(tc->rc->tenants));
        json_t *bt = json_object_get(j, "events_by_type");
        assert_int_equal(json_object_size(bt), TP_EV__COUNT);
        const char *k;
        json_t *v;
        json_object_foreach(bt, k, v) {
            assert_int_equal(json_integer_value(v), json_integer_value(json_object_get(tc->rc->by_type, k)));
        }
        tc->summaries++;
    } else {
        assert_string_equal(kind, "invalid");
    }
    json_decref(j);
}

static void invalid_index_line(const char *line, size_t len, size_t idx, void *vctx)
{
    (void)idx;
    json_t *j = parse(line, len);
    if (!strcmp(sget(j, "kind"), "invalid")) {
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)json_integer_value(json_object_get(j, "index")));
        json_object_set(vctx, k, json_object_get(j, "defect"));
    }
    json_decref(j);
}

static void check_truth(const run_out *r)
{
    recount rc = {json_object(), json_object(), json_object(), json_object(), json_object(), 0, json_object()};
    each_line(r->truth, r->truth_len, invalid_index_line, rc.invalid);
    each_line(r->ev, r->ev_len, recount_line, &rc);
    truth_cmp tc = {&rc, 0, 0, 0, 0};
    each_line(r->truth, r->truth_len, compare_truth_line, &tc);
    /* Both directions: every period and tenant of the recount is in the truth. */
    assert_int_equal(tc.periods, json_object_size(rc.periods));
    assert_int_equal(tc.tenants, json_object_size(rc.tenants));
    assert_int_equal(tc.summaries, 1);
    json_decref(rc.periods);
    json_decref(rc.active);
    json_decref(rc.tenants);
    json_decref(rc.datasets);
    json_decref(rc.by_type);
    json_decref(rc.invalid);
}

static void test_truth_equals_recount(void **state)
{
    (void)state;
    tp_sim_options o = small_opts(5);
    run_out r;
    run(&o, &r);
    check_truth(&r);
    run_free(&r);
    check_truth(long_run());
}

/* ------------------------------------------------------ personas, churn, tail */

typedef struct tenant_scan {
    json_t *tenants; /* tid → {"persona_initial","churned","closed_at", "weeks":[...], "events"} */
    int64_t start_ms;
} tenant_scan;

static void week_line(const char *line, size_t len, size_t idx, void *vctx)
{
    tenant_scan *ts = vctx;
    (void)idx;
    json_t *j = parse(line, len);
    json_t *t = json_object_get(ts->tenants, sget(j, "tenant_id"));
    int64_t ms;
    assert_int_equal(tp_rfc3339_parse(sget(j, "occurred_at"), &ms), 0);
    if (sget(j, "user_id")) {
        json_t *weeks = json_object_get(t, "weeks");
        size_t w = (size_t)((ms - ts->start_ms) / (7 * DAY_MS));
        json_array_set_new(weeks, w, json_integer(json_integer_value(json_array_get(weeks, w)) + 1));
    }
    add(t, "events", 1);
    if (json_is_string(json_object_get(t, "closed_at"))) {
        int64_t closed;
        assert_int_equal(tp_rfc3339_parse(sget(t, "closed_at"), &closed), 0);
        assert_true(ms <= closed); /* nothing after a tenant.closed */
        if (ms == closed)
            assert_string_equal(sget(j, "type"), "tenant.closed");
    }
    json_decref(j);
}

static void truth_tenant_line(const char *line, size_t len, size_t idx, void *vctx)
{
    tenant_scan *ts = vctx;
    (void)idx;
    json_t *j = parse(line, len);
    if (!strcmp(sget(j, "kind"), "tenant")) {
        json_t *weeks = json_array();
        for (int i = 0; i < 6; i++)
            json_array_append_new(weeks, json_integer(0));
        json_object_set_new(j, "weeks", weeks);
        json_object_set_new(j, "events", json_integer(0));
        json_object_set(ts->tenants, sget(j, "tenant_id"), j);
    }
    json_decref(j);
}

/* Per tenant of the long run: its truth line plus weekly activity counted from the events.
 * Scanned once (JSON parsing under ASan is the slow part); callers get a reference. */
static json_t *g_scan;
static json_t *scan_long(void)
{
    if (!g_scan) {
        const run_out *r = long_run();
        tenant_scan ts = {json_object(), 0};
        assert_int_equal(tp_sim_parse_time("2026-01-01T00:00:00Z", &ts.start_ms), 0);
        each_line(r->truth, r->truth_len, truth_tenant_line, &ts);
        each_line(r->ev, r->ev_len, week_line, &ts);
        g_scan = ts.tenants;
    }
    return json_incref(g_scan);
}

static json_int_t week(json_t *t, size_t w) { return json_integer_value(json_array_get(json_object_get(t, "weeks"), w)); }

static void test_declining_personas_decline(void **state)
{
    (void)state;
    json_t *ts = scan_long();
    const char *tid;
    json_t *t;
    int n = 0, big = 0;
    json_int_t first = 0, last = 0;
    json_object_foreach(ts, tid, t) {
        if (strcmp(sget(t, "persona_initial"), "declining") != 0 || json_is_true(json_object_get(t, "churned")))
            continue;
        /* created in the first days, so week 1 is a full week of activity */
        if (strncmp(sget(t, "created_at"), "2026-01-01", 10) != 0 || week(t, 1) < 20)
            continue;
        n++;
        first += week(t, 1);
        last += week(t, 5);
        /* each one big enough that session noise cannot hide the trend: week 6 well below week 2 */
        if (week(t, 1) >= 150) {
            big++;
            if (!(week(t, 5) < week(t, 1) * 0.8))
                fprintf(stderr, "%s: week 2 %lld, week 6 %lld\n", tid, (long long)week(t, 1),
                        (long long)week(t, 5));
            assert_true(week(t, 5) < week(t, 1) * 0.8);
        }
    }
    assert_true(big >= 1);
    assert_true(n >= 2);
    assert_true(last < first * 0.6);
    /* and growing ones do not */
    json_int_t gf = 0, gl = 0;
    json_object_foreach(ts, tid, t) {
        if (!strcmp(sget(t, "persona_initial"), "growing") && !strcmp(sget(t, "persona_final"), "growing")) {
            gf += week(t, 1);
            gl += week(t, 5);
        }
    }
    assert_true(gl > gf);
    json_decref(ts);
}

static void test_churn_closes_after_decline(void **state)
{
    (void)state;
    json_t *ts = scan_long(); /* also asserts: nothing after any tenant.closed */
    const char *tid;
    json_t *t;
    int churned = 0;
    json_object_foreach(ts, tid, t) {
        if (!json_is_true(json_object_get(t, "churned")))
            continue;
        churned++;
        assert_string_equal(sget(t, "persona_final"), "churning");
        assert_true(json_is_string(json_object_get(t, "closed_at")));
        /* a visible decline: the last full week before closing is quieter than the first */
        int64_t created, closed, start;
        assert_int_equal(tp_sim_parse_time("2026-01-01T00:00:00Z", &start), 0);
        assert_int_equal(tp_rfc3339_parse(sget(t, "created_at"), &created), 0);
        assert_int_equal(tp_rfc3339_parse(sget(t, "closed_at"), &closed), 0);
        size_t wc = (size_t)((created - start) / (7 * DAY_MS)), wx = (size_t)((closed - start) / (7 * DAY_MS));
        if (wx >= wc + 2 && week(t, wc) > 10)
            assert_true(week(t, wx - 1) < week(t, wc));
    }
    assert_true(churned >= 1);
    json_decref(ts);
}

static int cmp_desc(const void *a, const void *b)
{
    json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void test_heavy_tail(void **state)
{
    (void)state;
    json_t *ts = scan_long();
    size_t n = json_object_size(ts), i = 0;
    json_int_t *ev = calloc(n, sizeof *ev), total = 0, top = 0;
    const char *tid;
    json_t *t;
    json_object_foreach(ts, tid, t) {
        ev[i] = json_integer_value(json_object_get(t, "events"));
        total += ev[i++];
    }
    qsort(ev, n, sizeof *ev, cmp_desc);
    for (i = 0; i < (n + 9) / 10; i++)
        top += ev[i];
    assert_true(top * 10 >= total * 4); /* top 10% of tenants: at least 40% of events */
    free(ev);
    json_decref(ts);
}

/* ------------------------------------------------------ invalid injection */

typedef struct inv_ctx {
    json_t *defect_at; /* "index" → defect */
    int seen[TP_SIM_DEF__COUNT];
    size_t invalid, valid;
    int64_t now;
} inv_ctx;

static void inv_truth_line(const char *line, size_t len, size_t idx, void *vctx)
{
    inv_ctx *c = vctx;
    (void)idx;
    json_t *j = parse(line, len);
    if (!strcmp(sget(j, "kind"), "invalid")) {
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)json_integer_value(json_object_get(j, "index")));
        json_object_set(c->defect_at, k, json_object_get(j, "defect"));
    }
    json_decref(j);
}

static void inv_event_line(const char *line, size_t len, size_t idx, void *vctx)
{
    inv_ctx *c = vctx;
    char k[32];
    snprintf(k, sizeof k, "%zu", idx);
    const char *defect = json_string_value(json_object_get(c->defect_at, k));
    json_t *j = parse(line, len);
    tp_event ev;
    tp_event_error ee;
    int rc = tp_event_validate(j, c->now, &ev, &ee);
    if (defect) {
        if (rc == 0)
            fprintf(stderr, "defect %s was accepted: %.*s\n", defect, (int)len, line);
        assert_int_equal(rc, TP_EINVAL);
        int found = 0;
        for (int d = 0; d < TP_SIM_DEF__COUNT; d++) {
            if (!strcmp(defect, tp_sim_defect_name((tp_sim_defect)d))) {
                c->seen[d]++;
                found = 1;
            }
        }
        assert_true(found);
        c->invalid++;
    } else {
        assert_int_equal(rc, 0);
        c->valid++;
    }
    json_decref(j);
}

static void test_invalid_injection(void **state)
{
    (void)state;
    tp_sim_options o = small_opts(3);
    o.invalid_share = 0.05;
    run_out r;
    run(&o, &r);
    inv_ctx c = {json_object(), {0}, 0, 0, (int64_t)time(NULL) * 1000};
    each_line(r.truth, r.truth_len, inv_truth_line, &c);
    each_line(r.ev, r.ev_len, inv_event_line, &c);
    assert_int_equal(c.invalid, r.st.invalid);
    assert_int_equal(c.valid, r.st.events);
    assert_true(c.invalid > 100);
    for (int d = 0; d < TP_SIM_DEF__COUNT; d++) {
        if (!c.seen[d])
            fprintf(stderr, "defect %s never injected\n", tp_sim_defect_name((tp_sim_defect)d));
        assert_true(c.seen[d] > 0);
    }
    /* the truth counts only the valid events */
    check_truth(&r);
    json_decref(c.defect_at);
    run_free(&r);
    /* off by default */
    o.invalid_share = 0;
    run(&o, &r);
    assert_int_equal(r.st.invalid, 0);
    assert_null(strstr(r.truth, "\"kind\":\"invalid\""));
    run_free(&r);
}

static int teardown(void **state)
{
    (void)state;
    if (g_long_done)
        run_free(&g_long);
    json_decref(g_scan);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_rejects_bad_options),
        cmocka_unit_test(test_events_valid_and_causal),
        cmocka_unit_test(test_truth_equals_recount),
        cmocka_unit_test(test_declining_personas_decline),
        cmocka_unit_test(test_churn_closes_after_decline),
        cmocka_unit_test(test_heavy_tail),
        cmocka_unit_test(test_invalid_injection),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}

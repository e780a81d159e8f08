/* test_processor.c — unit tests of the stream processor's pure parts: the keyed table, array
 * literals, batch aggregation (the rollup definitions), archive keys and encodings, sequence
 * ordering, and the archive sink's empty-buffer lifecycle. The database and AWS paths are
 * covered by the integration tests (tests/integration/test_processor_*.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "archive_key.h"
#include "keytab.h"
#include "pgarr.h"
#include "processor.h"
#include "rollup_agg.h"

/* ---- keytab ---- */

typedef struct {
    int value;
} kv;

static void test_keytab_get_find_sorted(void **state)
{
    (void)state;
    tp_keytab *t = NULL;
    assert_int_equal(tp_keytab_new(sizeof(kv), &t), 0);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "k%05d", (i * 7919) % 5000);
        int created;
        kv *e = tp_keytab_get(t, key, (size_t)n, &created);
        assert_non_null(e);
        assert_true(created);
        assert_int_equal(e->value, 0); /* new entries start zeroed */
        e->value = (i * 7919) % 5000;
    }
    assert_int_equal(tp_keytab_count(t), 5000);
    int created = 1;
    kv *again = tp_keytab_get(t, "k00042", 6, &created);
    assert_false(created);
    assert_int_equal(again->value, 42);
    assert_null(tp_keytab_find(t, "k05000", 6));
    assert_null(tp_keytab_find(t, "k0004", 5)); /* a prefix is another key */

    size_t *order = NULL;
    assert_int_equal(tp_keytab_sorted(t, &order), 0);
    for (size_t i = 0; i < 5000; i++)
        assert_int_equal(((kv *)tp_keytab_at(t, order[i]))->value, (int)i);
    free(order);

    tp_keytab_reset(t);
    assert_int_equal(tp_keytab_count(t), 0);
    assert_null(tp_keytab_find(t, "k00042", 6));
    assert_non_null(tp_keytab_get(t, "k00042", 6, &created));
    assert_true(created);
    tp_keytab_free(t);
    tp_keytab_free(NULL);
}

static void test_keytab_binary_keys(void **state)
{
    (void)state;
    tp_keytab *t = NULL;
    assert_int_equal(tp_keytab_new(sizeof(kv), &t), 0);
    assert_non_null(tp_keytab_get(t, "a\x1f" "b", 3, NULL));
    assert_non_null(tp_keytab_get(t, "a\x1f", 2, NULL));
    assert_non_null(tp_keytab_get(t, "a", 1, NULL));
    assert_int_equal(tp_keytab_count(t), 3);
    size_t *order = NULL;
    assert_int_equal(tp_keytab_sorted(t, &order), 0);
    size_t len;
    tp_keytab_key_at(t, order[0], &len);
    assert_int_equal(len, 1); /* shorter first on a common prefix */
    tp_keytab_key_at(t, order[2], &len);
    assert_int_equal(len, 3);
    free(order);
    tp_keytab_free(t);
}

/* ---- pgarr ---- */

static void test_pgarr_literals(void **state)
{
    (void)state;
    tp_pgarr a;
    tp_pgarr_init(&a);
    const char *out;
    assert_int_equal(tp_pgarr_finish(&a, &out), 0);
    assert_string_equal(out, "{}");

    tp_pgarr_add_str(&a, "plain");
    tp_pgarr_add_str(&a, "say \"hi\" \\ {x,y}");
    tp_pgarr_add_null(&a);
    tp_pgarr_add_i64(&a, -9007199254740991LL);
    tp_pgarr_add_str(&a, "");
    assert_int_equal(tp_pgarr_finish(&a, &out), 0);
    assert_string_equal(out, "{\"plain\",\"say \\\"hi\\\" \\\\ {x,y}\",NULL,-9007199254740991,\"\"}");
    assert_int_equal(a.n, 5);

    tp_pgarr_reset(&a);
    tp_pgarr_add_ts(&a, 1767225600000LL + 3723004); /* 2026-01-01T01:02:03.004Z */
    tp_pgarr_add_ts_opt(&a, 0, 123);
    tp_pgarr_add_date(&a, 20454); /* 2026-01-01 */
    tp_pgarr_add_double(&a, -0.07);
    assert_int_equal(tp_pgarr_finish(&a, &out), 0);
    assert_string_equal(out, "{2026-01-01T01:02:03.004Z,NULL,2026-01-01,-0.070000000000000007}");
    tp_pgarr_free(&a);
}

/* ---- rollup aggregation ---- */

static tp_rollup_agg *agg;
static json_t *held[64];
static size_t nheld;

static void add_json(const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    assert_non_null(o);
    tp_event ev;
    tp_event_error verr;
    int rc = tp_event_validate(o, 4102444800000LL /* 2100 */, &ev, &verr);
    if (rc)
        fail_msg("invalid test event %s: %s %s", text, verr.field, verr.message);
    assert_int_equal(tp_rollup_agg_add(agg, &ev), 0);
    held[nheld++] = o; /* attributes are borrowed until the test ends */
}

#define EV(type, user, at, attrs)                                                                         \
    "{\"event_id\":\"00000000-0000-4000-8000-0000000000%02d\",\"type\":\"" type "\",\"tenant_id\":\"t1\"" \
    user ",\"occurred_at\":\"" at "\"" attrs "}"

static int setup_agg(void **state)
{
    (void)state;
    nheld = 0;
    return tp_rollup_agg_new(&agg);
}

static int teardown_agg(void **state)
{
    (void)state;
    tp_rollup_agg_free(agg);
    agg = NULL;
    for (size_t i = 0; i < nheld; i++)
        json_decref(held[i]);
    return 0;
}

static const tp_rollup_period *period(tp_keytab *t, int64_t p)
{
    for (size_t i = 0; i < tp_keytab_count(t); i++) {
        const tp_rollup_period *e = tp_keytab_at(t, i);
        if (e->period == p && !strcmp(e->tenant_id, "t1"))
            return e;
    }
    return NULL;
}

static void test_agg_counters_and_active_users(void **state)
{
    (void)state;
    char buf[512];
    int id = 0;
#define ADD(type, user, at, attrs)                                                      \
    do {                                                                               \
        snprintf(buf, sizeof buf, EV(type, user, at, attrs), ++id);                    \
        add_json(buf);                                                                 \
    } while (0)
    ADD("tenant.created", "", "2026-01-01T00:10:00Z",
        ",\"attributes\":{\"company_name\":\"Acme\",\"industry\":\"x\",\"sentiment\":0.5,\"plan\":\"free\"}");
    ADD("user.added", ",\"user_id\":\"u1\"", "2026-01-01T00:20:00Z", "");
    ADD("user.login", ",\"user_id\":\"u1\"", "2026-01-01T00:30:00Z", "");
    ADD("user.login", ",\"user_id\":\"u1\"", "2026-01-01T00:40:00Z", "");
    ADD("user.logoff", ",\"user_id\":\"u1\"", "2026-01-01T00:50:00Z", ",\"attributes\":{\"session_seconds\":1200}");
    ADD("user.session_timeout", ",\"user_id\":\"u2\"", "2026-01-01T00:55:00Z", "");
    ADD("job.submitted", ",\"user_id\":\"u2\"", "2026-01-01T01:05:00Z",
        ",\"attributes\":{\"job_id\":\"j1\",\"servers\":4,\"data_size_bytes\":1000}");
    ADD("job.terminated", ",\"user_id\":\"u2\"", "2026-01-01T01:06:00Z",
        ",\"attributes\":{\"job_id\":\"j1\",\"status\":\"failed\",\"duration_seconds\":60}");
    ADD("job.terminated", ",\"user_id\":\"u2\"", "2026-01-01T01:07:00Z",
        ",\"attributes\":{\"job_id\":\"j2\",\"status\":\"succeeded\",\"duration_seconds\":60}");
    ADD("dataset.created", ",\"user_id\":\"u1\"", "2026-01-01T01:10:00Z",
        ",\"attributes\":{\"dataset_id\":\"d1\",\"size_bytes\":500}");
    ADD("user.deleted", ",\"user_id\":\"u3\"", "2026-01-02T00:00:00Z", "");
#undef ADD
    int64_t h0 = 1767225600000LL, h1 = h0 + TP_HOUR_MS, d0 = 20454;
    const tp_rollup_period *p = period(agg->hourly, h0);
    assert_non_null(p);
    assert_int_equal(p->c[RC_EVENTS], 6);
    assert_int_equal(p->c[RC_TENANTS_CREATED], 1);
    assert_int_equal(p->c[RC_USERS_ADDED], 1);
    assert_int_equal(p->c[RC_LOGINS], 2);
    assert_int_equal(p->c[RC_LOGOFFS], 1);
    assert_int_equal(p->c[RC_SESSION_TIMEOUTS], 1);
    assert_int_equal(p->c[RC_SESSION_SECONDS], 1200); /* a timeout without session_seconds adds 0 */
    p = period(agg->hourly, h1);
    assert_non_null(p);
    assert_int_equal(p->c[RC_JOBS_SUBMITTED], 1);
    assert_int_equal(p->c[RC_SERVERS_USED], 4);
    assert_int_equal(p->c[RC_JOB_DATA_BYTES], 1000);
    assert_int_equal(p->c[RC_JOBS_FAILED], 1);
    assert_int_equal(p->c[RC_JOBS_SUCCEEDED], 1);
    assert_int_equal(p->c[RC_DATASETS_CREATED], 1);
    assert_int_equal(tp_keytab_count(agg->hourly), 3);
    p = period(agg->daily, d0);
    assert_non_null(p);
    assert_int_equal(p->c[RC_EVENTS], 10);
    assert_int_equal(tp_keytab_count(agg->daily), 2);

    /* Distinct active users: u1 and u2 in hour 0 (added does not count), u2 and u1 in hour 1;
     * per day u1, u2; user.deleted of u3 makes nobody active. */
    assert_int_equal(tp_keytab_count(agg->au_hourly), 4);
    assert_int_equal(tp_keytab_count(agg->au_daily), 2);

    /* Totals and users */
    assert_int_equal(tp_keytab_count(agg->totals), 1);
    const tp_rollup_total *t = tp_keytab_at(agg->totals, 0);
    assert_int_equal(t->events, 11);
    assert_int_equal(t->users_added, 1);
    assert_int_equal(t->users_deleted, 1);
    assert_true(t->has_activity);
    assert_int_equal(t->activity_ms, 1767312000000LL); /* user.deleted counts as activity of the tenant */
    assert_int_equal(tp_keytab_count(agg->users), 3);

    /* Sign-ups by hour, datasets queued for ordered application */
    assert_int_equal(tp_keytab_count(agg->signups), 1);
    const tp_rollup_signup *s = tp_keytab_at(agg->signups, 0);
    assert_int_equal(s->tenants_created, 1);
    assert_int_equal(s->users_added, 1);
    assert_int_equal(agg->nds, 1);
    assert_string_equal(agg->ds[0].dataset_id, "d1");
    assert_int_equal(agg->ds[0].size_bytes, 500);
    assert_int_equal(agg->nevents, 11);

    tp_rollup_agg_reset(agg);
    assert_int_equal(tp_keytab_count(agg->hourly), 0);
    assert_int_equal(agg->nds, 0);
}

static void test_agg_profile_latest_wins(void **state)
{
    (void)state;
    char buf[512];
    /* Out of order: an update from 03:00 arrives before the one from 02:00. */
    snprintf(buf, sizeof buf,
             EV("tenant.updated", "", "2026-01-01T03:00:00Z", ",\"attributes\":{\"plan\":\"enterprise\"}"), 1);
    add_json(buf);
    snprintf(buf, sizeof buf,
             EV("tenant.updated", "", "2026-01-01T02:00:00Z",
                ",\"attributes\":{\"plan\":\"starter\",\"industry\":\"retail\"}"),
             2);
    add_json(buf);
    snprintf(buf, sizeof buf,
             EV("tenant.created", "", "2026-01-01T01:00:00Z",
                ",\"attributes\":{\"company_name\":\"A\",\"industry\":\"x\",\"sentiment\":-0.25,\"plan\":\"free\"}"),
             3);
    add_json(buf);
    snprintf(buf, sizeof buf, EV("tenant.closed", "", "2026-01-05T00:00:00Z", ",\"attributes\":{\"reason\":\"r\"}"), 4);
    add_json(buf);
    assert_int_equal(tp_keytab_count(agg->profiles), 1);
    const tp_rollup_profile *p = tp_keytab_at(agg->profiles, 0);
    assert_string_equal(p->plan, "enterprise");
    assert_string_equal(p->industry, "retail");
    assert_string_equal(p->company_name, "A");
    assert_true(p->sentiment == -0.25);
    assert_true(p->has_created);
    assert_int_equal(p->created_ms, 1767229200000LL);
    assert_true(p->has_closed);
    assert_string_equal(p->close_reason, "r");
    /* tenant.* events have no user: no activity, no users row */
    const tp_rollup_total *t = tp_keytab_at(agg->totals, 0);
    assert_false(t->has_activity);
    assert_int_equal(tp_keytab_count(agg->users), 0);
}

static void test_agg_datasets_sorted(void **state)
{
    (void)state;
    char buf[512];
    snprintf(buf, sizeof buf,
             EV("dataset.deleted", ",\"user_id\":\"u1\"", "2026-01-01T05:00:00Z",
                ",\"attributes\":{\"dataset_id\":\"d1\",\"size_bytes\":9}"),
             1);
    add_json(buf);
    snprintf(buf, sizeof buf,
             EV("dataset.created", ",\"user_id\":\"u1\"", "2026-01-01T04:00:00Z",
                ",\"attributes\":{\"dataset_id\":\"d1\",\"size_bytes\":7}"),
             2);
    add_json(buf);
    snprintf(buf, sizeof buf,
             EV("dataset.updated", ",\"user_id\":\"u1\"", "2026-01-01T04:00:00Z",
                ",\"attributes\":{\"dataset_id\":\"d1\",\"size_bytes\":9}"),
             3);
    add_json(buf);
    tp_rollup_agg_sort_datasets(agg);
    assert_int_equal(agg->nds, 3);
    assert_int_equal(agg->ds[0].kind, TP_DS_CREATED); /* same time: batch order breaks the tie */
    assert_int_equal(agg->ds[1].kind, TP_DS_UPDATED);
    assert_int_equal(agg->ds[2].kind, TP_DS_DELETED);
}

static void test_ds_apply_in_order_and_stale(void **state)
{
    (void)state;
    tp_rollup_ds_state st;
    memset(&st, 0, sizeof st);
    tp_rollup_dataset_ev ev = {.kind = TP_DS_CREATED, .size_bytes = 100, .at_ms = 1000};
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), 100);
    assert_true(st.live && st.has_created && st.dirty);
    ev = (tp_rollup_dataset_ev){.kind = TP_DS_UPDATED, .size_bytes = 150, .at_ms = 3000};
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), 50); /* replaces the size */
    ev = (tp_rollup_dataset_ev){.kind = TP_DS_UPDATED, .size_bytes = 120, .at_ms = 2000};
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), 0); /* older than the state: not applied */
    assert_int_equal(st.size_bytes, 150);
    ev = (tp_rollup_dataset_ev){.kind = TP_DS_DELETED, .size_bytes = 999, .at_ms = 4000};
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), -150); /* removes the current size, not the attribute */
    assert_false(st.live);
    assert_true(st.has_deleted);
    assert_int_equal(st.deleted_ms, 4000);
    ev = (tp_rollup_dataset_ev){.kind = TP_DS_DELETED, .size_bytes = 0, .at_ms = 5000};
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), 0); /* deleting a deleted one changes nothing */

    /* A row that existed before the batch, with its state time. */
    memset(&st, 0, sizeof st);
    st.has_state = 1;
    st.state_ms = 10000;
    st.live = 1;
    st.size_bytes = 70;
    ev = (tp_rollup_dataset_ev){.kind = TP_DS_UPDATED, .size_bytes = 75, .at_ms = 9999};
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), 0);
    assert_false(st.dirty);
    ev.at_ms = 10000; /* the same time applies (the later record wins a tie) */
    assert_int_equal(tp_rollup_ds_apply(&st, &ev), 5);
}

static void test_periods_floor(void **state)
{
    (void)state;
    assert_int_equal(tp_rollup_hour_start(3599999), 0);
    assert_int_equal(tp_rollup_hour_start(3600000), 3600000);
    assert_int_equal(tp_rollup_hour_start(-1), -3600000);
    assert_int_equal(tp_rollup_day(86399999), 0);
    assert_int_equal(tp_rollup_day(-1), -1);
    assert_true(tp_rollup_type_is_active(TP_EV_JOB_CANCELLED));
    assert_false(tp_rollup_type_is_active(TP_EV_USER_ADDED));
    assert_true(tp_rollup_type_is_activity(TP_EV_USER_ADDED));
    assert_false(tp_rollup_type_is_activity(TP_EV_TENANT_UPDATED));
}

/* ---- archive keys and encodings ---- */

static void test_archive_template(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(tp_archive_template_check(TP_ARCHIVE_DEFAULT_TEMPLATE, err, sizeof err), 0);
    assert_int_equal(tp_archive_template_check("{tenant}/{stream}-{shard}.gz", err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "first_seq"));
    assert_int_equal(tp_archive_template_check("{tenant}/{strem}-{shard}-{first_seq}", err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "strem"));
    assert_int_equal(tp_archive_template_check("{stream}-{shard}-{first_seq", err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_archive_template_check("/{stream}-{shard}-{first_seq}", err, sizeof err), TP_EINVAL);

    char out[512];
    tp_archive_vars v = {"acme", "u-1", 1767229384005LL /* 2026-01-01T01:03:04.005Z */, "users", "shardId-1", "4960",
                         3};
    assert_int_equal(tp_archive_render(TP_ARCHIVE_DEFAULT_TEMPLATE, &v, out, sizeof out), 0);
    assert_string_equal(out, "tenant=acme/user=u-1/dt=2026-01-01/hour=01/users-shardId-1-4960-3.ndjson.gz");
    v.first_seq = NULL; /* the grouping key leaves the position out */
    v.first_sub = -1;
    assert_int_equal(tp_archive_render(TP_ARCHIVE_DEFAULT_TEMPLATE, &v, out, sizeof out), 0);
    assert_string_equal(out, "tenant=acme/user=u-1/dt=2026-01-01/hour=01/users-shardId-1--.ndjson.gz");
    assert_int_equal(tp_archive_render(TP_ARCHIVE_DEFAULT_TEMPLATE, &v, out, 20), TP_ETOOBIG);

    assert_int_equal(tp_archive_tenant_bucket("tp-archive", "Acme_Corp.EU", out, sizeof out), 0);
    assert_string_equal(out, "tp-archive-acme-corp-eu");
    char longid[70];
    memset(longid, 'a', 64);
    longid[64] = '\0';
    assert_int_equal(tp_archive_tenant_bucket("tp-archive", longid, out, sizeof out), TP_ETOOBIG);

    assert_int_equal(
        tp_archive_error_key("errors/", "jobs", "shardId-0", "123", 2, 1767229384005LL, out, sizeof out), 0);
    assert_string_equal(out, "errors/stream=jobs/dt=2026-01-01/shardId-0-123-2.json");
}

static void test_archive_gzip_roundtrip_and_deterministic(void **state)
{
    (void)state;
    const char *text = "{\"a\":1}\n{\"b\":2}\n";
    unsigned char *gz1 = NULL, *gz2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(tp_archive_gzip(text, strlen(text), &gz1, &n1), 0);
    assert_int_equal(tp_archive_gzip(text, strlen(text), &gz2, &n2), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(gz1, gz2, n1); /* a replay overwrites with identical bytes */
    assert_int_equal(gz1[0], 0x1f);
    assert_int_equal(gz1[1], 0x8b);

    char back[64];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = gz1;
    zs.avail_in = (uInt)n1;
    zs.next_out = (Bytef *)back;
    zs.avail_out = sizeof back;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, strlen(text));
    assert_memory_equal(back, text, strlen(text));
    inflateEnd(&zs);
    free(gz1);
    free(gz2);
}

static void test_archive_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
                 {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"\xff\xfe", "//4="}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *o = NULL;
        assert_int_equal(tp_archive_base64(cases[i].in, strlen(cases[i].in), &o), 0);
        assert_string_equal(o, cases[i].out);
        free(o);
    }
}

/* ---- positions ---- */

static void test_pos_cmp(void **state)
{
    (void)state;
    assert_true(proc_pos_cmp("9", 0, "10", 0) < 0); /* numeric, not lexicographic */
    assert_true(proc_pos_cmp("100", 0, "99", 5) > 0);
    assert_true(proc_pos_cmp("0099", 0, "99", 0) == 0);
    assert_true(proc_pos_cmp("49680463460397354276026921084519373011134424610812985346", 3,
                             "49680463460397354276026921084519373011134424610812985346", 4) < 0);
    assert_true(proc_pos_cmp("5", -1, "5", 0) < 0);
    assert_true(proc_pos_cmp("0", 0, "0", 0) == 0);
}

/* ---- archive sink lifecycle without S3 traffic ---- */

/* Closing or rewinding an archive sink that never buffered a record (a reader that failed
 * before its first response) must not touch the empty buffer: this once passed NULL to memmove.
 * Opening makes no S3 request, so no server is needed; under UBSan this is the regression test. */
static void test_archive_close_and_rewind_empty(void **state)
{
    (void)state;
    proc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.archive_bucket = "b";
    cfg.archive_key_template = TP_ARCHIVE_DEFAULT_TEMPLATE;
    cfg.archive_error_prefix = "errors/";
    cfg.archive_max_bytes = 1 << 20;
    cfg.archive_max_age_ms = 1000;
    proc_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &cfg;
    snprintf(ctx.aws.region, sizeof ctx.aws.region, "us-east-1");
    snprintf(ctx.aws.endpoint_s3, sizeof ctx.aws.endpoint_s3, "http://127.0.0.1:9");
    assert_int_equal(tp_metrics_new(&ctx.metrics), 0);
    proc_worker w;
    memset(&w, 0, sizeof w);
    w.ctx = &ctx;
    w.consumer = PROC_CONSUMER_ARCHIVE;
    snprintf(w.stream, sizeof w.stream, "jobs");
    snprintf(w.shard_id, sizeof w.shard_id, "shardId-000000000000");
    snprintf(w.pending_seq, sizeof w.pending_seq, "42"); /* an announced range to drop on rewind */

    char err[256];
    void *st = NULL;
    assert_int_equal(proc_archive_sink.open(&w, &st, err, sizeof err), 0);
    assert_non_null(st);
    proc_archive_sink.rewind(&w, st);
    assert_int_equal(proc_archive_sink.tick(&w, st, err, sizeof err), 0); /* nothing to flush */
    proc_archive_sink.close(st);

    assert_int_equal(proc_archive_sink.open(&w, &st, err, sizeof err), 0);
    proc_archive_sink.close(st); /* closed straight after open: the crash of the reader's error path */
    tp_metrics_free(ctx.metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keytab_get_find_sorted),
        cmocka_unit_test(test_keytab_binary_keys),
        cmocka_unit_test(test_pgarr_literals),
        cmocka_unit_test_setup_teardown(test_agg_counters_and_active_users, setup_agg, teardown_agg),
        cmocka_unit_test_setup_teardown(test_agg_profile_latest_wins, setup_agg, teardown_agg),
        cmocka_unit_test_setup_teardown(test_agg_datasets_sorted, setup_agg, teardown_agg),
        cmocka_unit_test(test_ds_apply_in_order_and_stale),
        cmocka_unit_test(test_periods_floor),
        cmocka_unit_test(test_archive_template),
        cmocka_unit_test(test_archive_gzip_roundtrip_and_deterministic),
        cmocka_unit_test(test_archive_base64),
        cmocka_unit_test(test_pos_cmp),
        cmocka_unit_test(test_archive_close_and_rewind_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

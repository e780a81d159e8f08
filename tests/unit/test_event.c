/* test_event.c — the event catalog: one table of good and bad events (each bad one pinned to
 * its exact field and a message fragment), RFC 3339 parsing and formatting, partition keys,
 * names and routing, and the example files under tests/data/events/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/event.h"
#include "tp/jscan.h"

/* 2026-11-22T15:00:00Z: the receiver's clock in every table case. */
#define NOW_MS 1795359600000LL

#define UUID "0b6e8c1a-4f4e-4a8e-9a57-3c3f1f6f2d10"
/* Envelopes are written with ' for " to keep the table readable; see parse_quoted(). */
#define HEAD(t) "{'event_id':'" UUID "','type':'" t "','tenant_id':'acme','occurred_at':'2026-11-22T14:03:00Z'"
#define HEADU(t) HEAD(t) ",'user_id':'u-42'"
#define TC_FULL "'company_name':'Acme Corp','industry':'Retail','sentiment':0.4,'plan':'business'"

typedef struct {
    const char *json;
    const char *field; /* NULL: must be valid */
    const char *msg;   /* fragment of the message */
} vcase;

static const vcase cases[] = {
    /* ---- every type, minimal and full ---- */
    {HEAD("tenant.created") ",'attributes':{" TC_FULL "}}", NULL, NULL},
    {HEAD("tenant.created") ",'user_id':null,'attributes':{" TC_FULL "}}", NULL, NULL},
    {HEAD("tenant.updated") ",'attributes':{'plan':'enterprise'}}", NULL, NULL},
    {HEAD("tenant.updated") ",'attributes':{" TC_FULL "}}", NULL, NULL},
    {HEAD("tenant.closed") ",'attributes':{'reason':'moved to a competitor'}}", NULL, NULL},
    {HEADU("user.added") "}", NULL, NULL},
    {HEADU("user.added") ",'attributes':{'role':'admin'}}", NULL, NULL},
    {HEADU("user.deleted") "}", NULL, NULL},
    {HEADU("user.deleted") ",'attributes':{'reason':'left the company'}}", NULL, NULL},
    {HEADU("user.login") "}", NULL, NULL},
    {HEADU("user.login") ",'attributes':{'session_id':'s-9f1'}}", NULL, NULL},
    {HEADU("user.logoff") ",'attributes':{}}", NULL, NULL},
    {HEADU("user.logoff") ",'attributes':{'session_id':'s-9f1','session_seconds':1800}}", NULL, NULL},
    {HEADU("user.session_timeout") "}", NULL, NULL},
    {HEADU("user.session_timeout") ",'attributes':{'session_id':'s.1','session_seconds':604800}}", NULL, NULL},
    {HEADU("dataset.created") ",'attributes':{'dataset_id':'ds_1','size_bytes':1048576}}", NULL, NULL},
    {HEADU("dataset.updated") ",'attributes':{'dataset_id':'ds_1','size_bytes':0}}", NULL, NULL},
    {HEADU("dataset.deleted") ",'attributes':{'dataset_id':'ds_1','size_bytes':9007199254740991}}", NULL, NULL},
    {HEADU("job.submitted") ",'attributes':{'job_id':'j-1','servers':1,'data_size_bytes':0}}", NULL, NULL},
    {HEADU("job.submitted") ",'attributes':{'job_id':'j-1','servers':100000,'data_size_bytes':5}}", NULL, NULL},
    {HEADU("job.terminated") ",'attributes':{'job_id':'j-1','status':'succeeded','duration_seconds':12.5}}", NULL,
     NULL},
    {HEADU("job.terminated") ",'attributes':{'job_id':'j-1','status':'failed','duration_seconds':31536000}}", NULL,
     NULL},
    {HEADU("job.cancelled") ",'attributes':{'job_id':'j-1'}}", NULL, NULL},
    /* ---- envelope edge cases that are fine ---- */
    {"{'event_id':'0B6E8C1A-4F4E-4A8E-9A57-3C3F1F6F2D10','type':'job.cancelled','tenant_id':'A.b_c-9',"
     "'user_id':'u','occurred_at':'2026-11-22T09:03:00.123456789-05:00','attributes':{'job_id':'j'}}",
     NULL, NULL},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2026-11-22T15:05:00Z'}", NULL, NULL}, /* exactly 5 minutes ahead */
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2000-01-01T00:00:00Z'}", NULL, NULL},
    {HEAD("tenant.updated") ",'attributes':{'sentiment':-1}}", NULL, NULL},
    {HEAD("tenant.updated") ",'attributes':{'sentiment':1.0}}", NULL, NULL},
    {HEAD("tenant.updated") ",'attributes':{'company_name':'\\u00e9\\u00e9\\u00e9'}}", NULL, NULL},

    /* ---- envelope rules ---- */
    {"[]", "", "must be a JSON object"},
    {"'just a string'", "", "must be a JSON object"},
    {"{'type':'user.login','tenant_id':'acme','user_id':'u','occurred_at':'2026-11-22T14:03:00Z'}", "event_id",
     "is required"},
    {"{'event_id':'not-a-uuid','type':'user.login'}", "event_id", "must be a UUID"},
    {"{'event_id':42}", "event_id", "must be a UUID"},
    {"{'event_id':'0b6e8c1a4f4e4a8e9a573c3f1f6f2d10'}", "event_id", "must be a UUID"},
    {"{'event_id':'" UUID "0'}", "event_id", "must be a UUID"},
    {"{'event_id':'0b6e8c1a-4f4e-4a8e-9a57-3c3f1f6f2d1g'}", "event_id", "must be a UUID"},
    {"{'event_id':'" UUID "','tenant_id':'acme'}", "type", "is required"},
    {"{'event_id':'" UUID "','type':7}", "type", "must be a string"},
    {"{'event_id':'" UUID "','type':'user.signin'}", "type", "unknown event type 'user.signin'"},
    {"{'event_id':'" UUID "','type':'User.Login'}", "type", "unknown event type 'User.Login'"},
    {"{'event_id':'" UUID "','type':'user.login','user_id':'u'}", "tenant_id", "is required"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':5}", "tenant_id", "must be a string"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':''}", "tenant_id", "must be an id"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme/evil'}", "tenant_id", "must be an id"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':"
     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}", /* 65 */
     "tenant_id", "1 to 64 characters"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','occurred_at':'2026-11-22T14:03:00Z'}",
     "user_id", "is required for user.login"},
    {HEAD("job.submitted") ",'user_id':null}", "user_id", "is required for job.submitted"},
    {HEAD("tenant.created") ",'user_id':'u-1','attributes':{" TC_FULL "}}", "user_id",
     "must be absent or null for tenant.created"},
    {HEAD("user.login") ",'user_id':'u 1'}", "user_id", "must be an id"},
    {HEAD("user.login") ",'user_id':17}", "user_id", "must be a string"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u'}", "occurred_at", "is required"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u','occurred_at':1795359600}",
     "occurred_at", "must be an RFC 3339 timestamp"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2026-11-22 10:00:00Z'}", "occurred_at", "must be an RFC 3339 timestamp"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2026-02-30T10:00:00Z'}", "occurred_at", "must be an RFC 3339 timestamp"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2026-11-22T10:00:00'}", "occurred_at", "must be an RFC 3339 timestamp"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2026-11-22T15:05:00.001Z'}", "occurred_at", "is more than 5 minutes in the future"},
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'2026-11-22T16:30:00+01:00'}", "occurred_at", NULL}, /* 15:30Z: in the future */
    {"{'event_id':'" UUID "','type':'user.login','tenant_id':'acme','user_id':'u',"
     "'occurred_at':'1999-12-31T23:59:59.999Z'}", "occurred_at", "is before 2000-01-01"},
    {HEADU("user.login") ",'extra':1}", "extra", "is not an envelope field"},
    {HEADU("user.login") ",'attributes':[]}", "attributes", "must be an object"},
    {HEADU("user.login") ",'attributes':null}", "attributes", "must be an object"},

    /* ---- attribute rules, per type ---- */
    {HEAD("tenant.created") "}", "attributes", "is required for tenant.created"},
    {HEAD("tenant.created") ",'attributes':{'industry':'Retail','sentiment':0,'plan':'free'}}",
     "attributes.company_name", "is required for tenant.created"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'','industry':'x','sentiment':0,'plan':'free'}}",
     "attributes.company_name", "must be a string of 1 to 200 characters"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'Acme','sentiment':0,'plan':'free'}}",
     "attributes.industry", "is required for tenant.created"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'Acme','industry':'x','plan':'free'}}",
     "attributes.sentiment", "is required for tenant.created"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'Acme','industry':'x','sentiment':1.5,'plan':'free'}}",
     "attributes.sentiment", "must be a number between -1 and 1"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'A','industry':'x','sentiment':'0.5','plan':'free'}}",
     "attributes.sentiment", "must be a number between -1 and 1"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'Acme','industry':'x','sentiment':0}}",
     "attributes.plan", "is required for tenant.created"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'Acme','industry':'x','sentiment':0,'plan':'gold'}}",
     "attributes.plan", "must be one of free, starter, business, enterprise"},
    {HEAD("tenant.created") ",'attributes':{'company_name':'Acme','industry':'x','sentiment':0,'plan':'Free'}}",
     "attributes.plan", "must be one of"},
    {HEAD("tenant.created") ",'attributes':{" TC_FULL ",'seats':4}}", "attributes.seats",
     "is not an attribute of tenant.created"},
    {HEAD("tenant.updated") "}", "attributes", "is required for tenant.updated"},
    {HEAD("tenant.updated") ",'attributes':{}}", "attributes",
     "must contain at least one of company_name, industry, sentiment, plan"},
    {HEAD("tenant.updated") ",'attributes':{'plna':'free'}}", "attributes.plna",
     "is not an attribute of tenant.updated"},
    {HEAD("tenant.updated") ",'attributes':{'sentiment':-1.01}}", "attributes.sentiment", "between -1 and 1"},
    {HEAD("tenant.updated") ",'attributes':{'industry':null}}", "attributes.industry",
     "must be a string of 1 to 100 characters"},
    {HEAD("tenant.closed") ",'attributes':{}}", "attributes.reason", "is required for tenant.closed"},
    {HEADU("user.added") ",'attributes':{'role':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}}", /* 51 */
     "attributes.role", "must be a string of 1 to 50 characters"},
    {HEADU("user.deleted") ",'attributes':{'reason':''}}", "attributes.reason", "1 to 500 characters"},
    {HEADU("user.login") ",'attributes':{'session_id':'has space'}}", "attributes.session_id", "must be an id"},
    {HEADU("user.login") ",'attributes':{'sesion_id':'s1'}}", "attributes.sesion_id",
     "is not an attribute of user.login"},
    {HEADU("user.login") ",'attributes':{'session_seconds':5}}", "attributes.session_seconds",
     "is not an attribute of user.login"},
    {HEADU("user.logoff") ",'attributes':{'session_seconds':604801}}", "attributes.session_seconds",
     "must be an integer between 0 and 604800"},
    {HEADU("user.logoff") ",'attributes':{'session_seconds':-1}}", "attributes.session_seconds",
     "must be an integer"},
    {HEADU("user.session_timeout") ",'attributes':{'session_seconds':60.0}}", "attributes.session_seconds",
     "must be an integer"},
    {HEADU("dataset.created") ",'attributes':{'size_bytes':1}}", "attributes.dataset_id",
     "is required for dataset.created"},
    {HEADU("dataset.created") ",'attributes':{'dataset_id':'d'}}", "attributes.size_bytes",
     "is required for dataset.created"},
    {HEADU("dataset.updated") ",'attributes':{'dataset_id':'d','size_bytes':10.5}}", "attributes.size_bytes",
     "must be an integer"},
    {HEADU("dataset.deleted") ",'attributes':{'dataset_id':'d','size_bytes':9007199254740992}}",
     "attributes.size_bytes", "between 0 and 9007199254740991"},
    {HEADU("dataset.deleted") "}", "attributes", "is required for dataset.deleted"},
    {HEADU("job.submitted") ",'attributes':{'servers':1,'data_size_bytes':0}}", "attributes.job_id",
     "is required for job.submitted"},
    {HEADU("job.submitted") ",'attributes':{'job_id':'j','servers':0,'data_size_bytes':0}}", "attributes.servers",
     "must be an integer between 1 and 100000"},
    {HEADU("job.submitted") ",'attributes':{'job_id':'j','servers':100001,'data_size_bytes':0}}",
     "attributes.servers", "between 1 and 100000"},
    {HEADU("job.submitted") ",'attributes':{'job_id':'j','servers':2}}", "attributes.data_size_bytes",
     "is required for job.submitted"},
    {HEADU("job.terminated") ",'attributes':{'job_id':'j','status':'ok','duration_seconds':1}}",
     "attributes.status", "must be one of succeeded, failed"},
    {HEADU("job.terminated") ",'attributes':{'job_id':'j','status':'failed','duration_seconds':-0.5}}",
     "attributes.duration_seconds", "must be a number between 0 and 31536000"},
    {HEADU("job.terminated") ",'attributes':{'job_id':'j','status':'failed','duration_seconds':31536000.5}}",
     "attributes.duration_seconds", "between 0 and 31536000"},
    {HEADU("job.terminated") ",'attributes':{'job_id':'j','status':'failed'}}", "attributes.duration_seconds",
     "is required for job.terminated"},
    {HEADU("job.cancelled") ",'attributes':{}}", "attributes.job_id", "is required for job.cancelled"},
    {HEADU("job.cancelled") ",'attributes':{'job_id':'j','reason':'x'}}", "attributes.reason",
     "is not an attribute of job.cancelled"},

    /* ---- check order is deterministic ---- */
    {"{'event_id':'nope','type':'nope','tenant_id':'!'}", "event_id", NULL},
    {"{'event_id':'" UUID "','type':'nope','tenant_id':'!'}", "type", NULL},
    {HEAD("user.login") ",'user_id':'u','zzz':1,'attributes':{'bogus':1}}", "attributes.bogus", NULL},
    {HEAD("tenant.created") ",'attributes':{'plan':'gold','sentiment':9,'industry':'','company_name':''}}",
     "attributes.company_name", NULL},
    {HEAD("tenant.created") ",'attributes':{'zz':1,'plan':'gold','sentiment':0,'industry':'i','company_name':'c'}}",
     "attributes.plan", NULL},
};

/* Parse a table literal: ' becomes ", then the text is JSON. */
static json_t *parse_quoted(const char *lit)
{
    size_t n = strlen(lit);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    for (size_t i = 0; i <= n; i++)
        buf[i] = lit[i] == '\'' ? '"' : lit[i];
    json_error_t jerr;
    json_t *j = json_loads(buf, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("table JSON does not parse (%s): %s", jerr.text, buf);
    free(buf);
    return j;
}

/* The text path (tp_event_validate_text over tp_jscan-checked bytes) must give the same
 * verdict, field, message and event as the jansson path for the same text. */
static void check_text_agrees(const char *lit, size_t i, int rc, const tp_event *ev, const tp_event_error *err)
{
    size_t n = strlen(lit), pos = 0;
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    for (size_t k = 0; k <= n; k++)
        buf[k] = lit[k] == '\'' ? '"' : lit[k];
    tp_jscan js;
    tp_jscan_error jerr;
    tp_jscan_init(&js);
    if (tp_jscan_value(&js, buf, n, &pos, 0, &jerr) != 0)
        fail_msg("case %zu: jscan refuses what jansson read: %s", i, jerr.message);
    tp_jscan_done(&js);
    tp_event tev;
    tp_event_error terr = {{0}, {0}};
    memset(&tev, 0, sizeof tev);
    int trc = tp_event_validate_text(buf, n, NOW_MS, &tev, &terr);
    if (trc != rc || strcmp(terr.field, err->field) != 0 || strcmp(terr.message, err->message) != 0)
        fail_msg("case %zu: text path says %d %s: %s; tree path %d %s: %s", i, trc, terr.field, terr.message, rc,
                 err->field, err->message);
    if (rc == 0 && (tev.type != ev->type || strcmp(tev.event_id, ev->event_id) || strcmp(tev.tenant_id, ev->tenant_id) ||
                    strcmp(tev.user_id, ev->user_id) || tev.occurred_at_ms != ev->occurred_at_ms || tev.attributes))
        fail_msg("case %zu: text path filled a different event", i);
    free(buf);
}

static void test_catalog_table(void **state)
{
    (void)state;
    size_t n = sizeof cases / sizeof cases[0];
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++) {
        const vcase *c = &cases[i];
        json_t *j = parse_quoted(c->json);
        tp_event ev;
        tp_event_error err = {{0}, {0}};
        int rc = tp_event_validate(j, NOW_MS, &ev, &err);
        if (!c->field) {
            if (rc != 0)
                fail_msg("case %zu should be valid, got %s: %s\n  %s", i, err.field, err.message, c->json);
        } else {
            if (rc != TP_EINVAL)
                fail_msg("case %zu should be rejected at '%s'\n  %s", i, c->field, c->json);
            if (strcmp(err.field, c->field) != 0)
                fail_msg("case %zu: field '%s', want '%s' (%s)\n  %s", i, err.field, c->field, err.message, c->json);
            if (c->msg && !strstr(err.message, c->msg))
                fail_msg("case %zu: message '%s' lacks '%s'", i, err.message, c->msg);
            assert_true(strlen(err.message) > 0);
        }
        check_text_agrees(c->json, i, rc, &ev, &err);
        json_decref(j);
    }
}

static void test_validate_fills_event(void **state)
{
    (void)state;
    json_t *j = parse_quoted("{'event_id':'0B6E8C1A-4F4E-4A8E-9A57-3C3F1F6F2D10','type':'job.submitted',"
                             "'tenant_id':'acme','user_id':'u-42','occurred_at':'2026-11-22T16:03:00.5+02:00',"
                             "'attributes':{'job_id':'j','servers':3,'data_size_bytes':10}}");
    tp_event ev;
    memset(&ev, 0x5a, sizeof ev);
    tp_event_error err;
    assert_int_equal(tp_event_validate(j, NOW_MS, &ev, &err), 0);
    assert_int_equal(ev.type, TP_EV_JOB_SUBMITTED);
    assert_string_equal(ev.event_id, "0b6e8c1a-4f4e-4a8e-9a57-3c3f1f6f2d10"); /* lower-cased */
    assert_string_equal(ev.tenant_id, "acme");
    assert_string_equal(ev.user_id, "u-42");
    int64_t want;
    assert_int_equal(tp_rfc3339_parse("2026-11-22T14:03:00.500Z", &want), 0);
    assert_int_equal(ev.occurred_at_ms, want);
    assert_ptr_equal(ev.attributes, json_object_get(j, "attributes"));
    json_decref(j);

    /* A tenant-level event has no user and no attributes pointer when none were sent. */
    j = parse_quoted(HEAD("tenant.closed") ",'user_id':null,'attributes':{'reason':'r'}}");
    assert_int_equal(tp_event_validate(j, NOW_MS, &ev, NULL), 0);
    assert_string_equal(ev.user_id, "");
    assert_int_equal(ev.type, TP_EV_TENANT_CLOSED);
    json_decref(j);
    j = parse_quoted(HEADU("user.login") "}");
    assert_int_equal(tp_event_validate(j, NOW_MS, &ev, NULL), 0);
    assert_null(ev.attributes);
    /* out and err may both be NULL: validate only. */
    assert_int_equal(tp_event_validate(j, NOW_MS, NULL, NULL), 0);
    json_decref(j);
    assert_int_equal(tp_event_validate(NULL, NOW_MS, NULL, &err), TP_EINVAL);
    assert_string_equal(err.field, "");
}

static void test_failure_leaves_out_untouched(void **state)
{
    (void)state;
    json_t *j = parse_quoted(HEADU("user.login") ",'attributes':{'session_id':'bad id'}}");
    tp_event ev;
    memset(&ev, 0x5a, sizeof ev);
    tp_event_error err;
    assert_int_equal(tp_event_validate(j, NOW_MS, &ev, &err), TP_EINVAL);
    unsigned char *p = (unsigned char *)&ev;
    for (size_t i = 0; i < sizeof ev; i++)
        assert_int_equal(p[i], 0x5a);
    json_decref(j);
}

static void test_embedded_nul_rejected(void **state)
{
    (void)state;
    json_t *j = parse_quoted(HEADU("user.added") ",'attributes':{}}");
    json_object_set_new(json_object_get(j, "attributes"), "role", json_stringn("ad\0min", 6));
    tp_event_error err;
    assert_int_equal(tp_event_validate(j, NOW_MS, NULL, &err), TP_EINVAL);
    assert_string_equal(err.field, "attributes.role");
    json_object_set_new(j, "tenant_id", json_stringn("acme\0x", 6));
    assert_int_equal(tp_event_validate(j, NOW_MS, NULL, &err), TP_EINVAL);
    assert_string_equal(err.field, "tenant_id");
    json_decref(j);
}

static int utf8_ok(const char *s)
{
    json_t *j = json_string(s); /* jansson refuses invalid UTF-8 */
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

static void test_error_text_stays_utf8(void **state)
{
    (void)state;
    /* A long unknown key of 2-byte characters must be cut between characters, not inside one,
     * or the 400 response that quotes it could not be encoded. */
    char key[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(key, "\xc3\xa9");
    for (int shift = 0; shift < 2; shift++) {
        json_t *j = parse_quoted(HEADU("user.login") "}");
        char k2[402];
        snprintf(k2, sizeof k2, "%s%s", shift ? "x" : "", key);
        json_object_set_new(j, k2, json_integer(1));
        tp_event_error err;
        assert_int_equal(tp_event_validate(j, NOW_MS, NULL, &err), TP_EINVAL);
        assert_true(strncmp(err.field, k2, strlen(err.field)) == 0);
        assert_true(strlen(err.field) >= 60);
        assert_true(utf8_ok(err.field));
        assert_true(utf8_ok(err.message));
        json_decref(j);
    }
    json_t *j = parse_quoted("{'event_id':'" UUID "','type':''}");
    char ty[420];
    snprintf(ty, sizeof ty, "x%s", key);
    json_object_set_new(j, "type", json_string(ty));
    tp_event_error err;
    assert_int_equal(tp_event_validate(j, NOW_MS, NULL, &err), TP_EINVAL);
    assert_string_equal(err.field, "type");
    assert_true(strncmp(err.message, "unknown event type 'x\xc3\xa9", 23) == 0);
    assert_true(utf8_ok(err.message));
    json_decref(j);
}

static void test_string_length_counts_characters(void **state)
{
    (void)state;
    /* 200 two-byte characters (400 bytes) fit company_name; 201 do not. */
    char name[420] = "";
    for (int i = 0; i < 200; i++)
        strcat(name, "\xc3\xa9");
    json_t *j = parse_quoted(HEAD("tenant.updated") ",'attributes':{}}");
    json_t *a = json_object_get(j, "attributes");
    json_object_set_new(a, "company_name", json_string(name));
    tp_event_error err;
    assert_int_equal(tp_event_validate(j, NOW_MS, NULL, &err), 0);
    strcat(name, "a");
    json_object_set_new(a, "company_name", json_string(name));
    assert_int_equal(tp_event_validate(j, NOW_MS, NULL, &err), TP_EINVAL);
    assert_string_equal(err.field, "attributes.company_name");
    json_decref(j);
}

static void test_future_bound_uses_now(void **state)
{
    (void)state;
    json_t *j = parse_quoted(HEADU("user.login") "}"); /* 14:03Z */
    int64_t at;
    assert_int_equal(tp_rfc3339_parse("2026-11-22T14:03:00Z", &at), 0);
    tp_event_error err;
    assert_int_equal(tp_event_validate(j, at - TP_EVENT_MAX_FUTURE_MS, NULL, &err), 0);
    assert_int_equal(tp_event_validate(j, at - TP_EVENT_MAX_FUTURE_MS - 1, NULL, &err), TP_EINVAL);
    assert_string_equal(err.field, "occurred_at");
    /* Extreme clocks must not overflow into a wrong answer. */
    assert_int_equal(tp_event_validate(j, INT64_MAX, NULL, &err), 0);
    assert_int_equal(tp_event_validate(j, INT64_MIN, NULL, &err), TP_EINVAL);
    json_decref(j);
}

/* ---- RFC 3339 ---- */

typedef struct {
    const char *in;
    int ok;
    const char *utc; /* tp_rfc3339_format of the parsed value */
} tcase;

static const tcase tcases[] = {
    {"2026-11-22T14:03:00Z", 1, "2026-11-22T14:03:00.000Z"},
    {"2026-11-22t14:03:00z", 1, "2026-11-22T14:03:00.000Z"},
    {"2024-02-29T23:59:59.999Z", 1, "2024-02-29T23:59:59.999Z"},
    {"2000-02-29T00:00:00Z", 1, "2000-02-29T00:00:00.000Z"},
    {"2026-11-22T19:33:00+05:30", 1, "2026-11-22T14:03:00.000Z"},
    {"2026-11-22T06:03:00-08:00", 1, "2026-11-22T14:03:00.000Z"},
    {"2026-01-01T00:30:00+01:00", 1, "2025-12-31T23:30:00.000Z"},
    {"2026-12-31T23:00:00-23:59", 1, "2027-01-01T22:59:00.000Z"},
    {"2026-11-22T14:03:00-00:00", 1, "2026-11-22T14:03:00.000Z"},
    {"2026-11-22T14:03:00.1Z", 1, "2026-11-22T14:03:00.100Z"},
    {"2026-11-22T14:03:00.12Z", 1, "2026-11-22T14:03:00.120Z"},
    {"2026-11-22T14:03:00.123456789Z", 1, "2026-11-22T14:03:00.123Z"},
    {"2016-12-31T23:59:60Z", 1, "2016-12-31T23:59:59.999Z"}, /* leap second */
    {"2016-12-31T23:59:60.5Z", 1, "2016-12-31T23:59:59.999Z"},
    {"1970-01-01T00:00:00Z", 1, "1970-01-01T00:00:00.000Z"},
    {"1969-12-31T23:59:59.999Z", 1, "1969-12-31T23:59:59.999Z"},
    {"0000-01-01T00:00:00Z", 1, "0000-01-01T00:00:00.000Z"},
    {"9999-12-31T23:59:59.999Z", 1, "9999-12-31T23:59:59.999Z"},
    {"2026-11-22T14:03:00.1234567890Z", 0, NULL},
    {"2026-11-22T14:03:00.Z", 0, NULL},
    {"2026-11-22 10:00:00Z", 0, NULL},
    {"2026-11-22T10:00:00", 0, NULL},
    {"2026-11-22T10:00Z", 0, NULL},
    {"2026-02-30T10:00:00Z", 0, NULL},
    {"2023-02-29T10:00:00Z", 0, NULL},
    {"2100-02-29T10:00:00Z", 0, NULL},
    {"2026-04-31T10:00:00Z", 0, NULL},
    {"2026-13-01T10:00:00Z", 0, NULL},
    {"2026-00-01T10:00:00Z", 0, NULL},
    {"2026-01-00T10:00:00Z", 0, NULL},
    {"2026-11-22T24:00:00Z", 0, NULL},
    {"2026-11-22T23:60:00Z", 0, NULL},
    {"2026-11-22T23:59:61Z", 0, NULL},
    {"2026-11-22T10:00:00+24:00", 0, NULL},
    {"2026-11-22T10:00:00+05:60", 0, NULL},
    {"2026-11-22T10:00:00+0530", 0, NULL},
    {"2026-11-22T10:00:00Zjunk", 0, NULL},
    {"2026-11-22T10:00:00ZZ", 0, NULL},
    {"26-11-22T10:00:00Z", 0, NULL},
    {"2026-1-22T10:00:00Z", 0, NULL},
    {"+2026-11-22T10:00:00Z", 0, NULL},
    {"", 0, NULL},
};

static void test_rfc3339_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        int64_t ms = -7;
        int rc = tp_rfc3339_parse(tcases[i].in, &ms);
        if (!tcases[i].ok) {
            if (rc != TP_EINVAL)
                fail_msg("'%s' should be rejected", tcases[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s' should parse", tcases[i].in);
        char out[32];
        tp_rfc3339_format(ms, out);
        if (strcmp(out, tcases[i].utc) != 0)
            fail_msg("'%s' formats as %s, want %s", tcases[i].in, out, tcases[i].utc);
    }
    int64_t ms;
    assert_int_equal(tp_rfc3339_parse(NULL, &ms), TP_EINVAL);
    assert_int_equal(tp_rfc3339_parse("2026-11-22T14:03:00Z", NULL), TP_EINVAL);
}

static void test_rfc3339_known_values(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(tp_rfc3339_parse("2026-11-22T15:00:00Z", &ms), 0);
    assert_int_equal(ms, NOW_MS);
    assert_int_equal(tp_rfc3339_parse("2024-02-29T12:00:00Z", &ms), 0);
    assert_int_equal(ms, 1709208000000LL);
    assert_int_equal(tp_rfc3339_parse("2000-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 946684800000LL);
    assert_int_equal(tp_rfc3339_parse("1970-01-01T00:00:00.001Z", &ms), 0);
    assert_int_equal(ms, 1);
}

static void test_rfc3339_round_trip(void **state)
{
    (void)state;
    /* Every millisecond value in the representable range formats and parses back to itself;
     * sample it with a stride that is prime to days and hours. */
    const int64_t lo = -62167219200000LL, hi = 253402300799999LL;
    int64_t step = (hi - lo) / 200003;
    for (int64_t ms = lo; ms <= hi; ms += step) {
        char out[32];
        int64_t back;
        tp_rfc3339_format(ms, out);
        assert_int_equal(strlen(out), 24);
        if (tp_rfc3339_parse(out, &back) != 0 || back != ms)
            fail_msg("%lld -> %s -> %lld", (long long)ms, out, (long long)back);
    }
    char out[32];
    tp_rfc3339_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    tp_rfc3339_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    tp_rfc3339_format(INT64_MAX, out); /* clamped to what the format can say */
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    tp_rfc3339_format(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
}

/* ---- partition keys, names, ids ---- */

static void test_partition_key(void **state)
{
    (void)state;
    tp_event ev = {.type = TP_EV_USER_LOGIN, .tenant_id = "acme", .user_id = "u-42"};
    char buf[TP_PARTITION_KEY_MAX];
    assert_int_equal(tp_event_partition_key(&ev, buf, sizeof buf), 9);
    assert_string_equal(buf, "acme:u-42");
    assert_int_equal(tp_event_partition_key(&ev, buf, 10), 9); /* exact fit */
    assert_int_equal(tp_event_partition_key(&ev, buf, 9), TP_ETOOBIG);
    assert_int_equal(tp_event_partition_key(NULL, buf, sizeof buf), TP_EINVAL);

    tp_event t = {.type = TP_EV_TENANT_UPDATED, .tenant_id = "acme"};
    assert_int_equal(tp_event_partition_key(&t, buf, sizeof buf), 4);
    assert_string_equal(buf, "acme");

    /* The longest ids fit TP_PARTITION_KEY_MAX. */
    tp_event big = {.type = TP_EV_JOB_CANCELLED};
    memset(big.tenant_id, 't', TP_ID_MAX);
    memset(big.user_id, 'u', TP_ID_MAX);
    assert_int_equal(tp_event_partition_key(&big, buf, sizeof buf), 2 * TP_ID_MAX + 1);
    assert_int_equal(buf[TP_ID_MAX], ':');

    /* From a validated event: dataset events are keyed by user, tenant events by tenant. */
    json_t *j = parse_quoted(HEADU("dataset.created") ",'attributes':{'dataset_id':'d','size_bytes':1}}");
    assert_int_equal(tp_event_validate(j, NOW_MS, &ev, NULL), 0);
    assert_int_equal(tp_event_partition_key(&ev, buf, sizeof buf), 9);
    assert_string_equal(buf, "acme:u-42");
    json_decref(j);
}

static void test_names_and_routing(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        tp_stream stream;
        int user;
    } want[TP_EV__COUNT] = {
        {"tenant.created", TP_STREAM_TENANTS, 0},   {"tenant.updated", TP_STREAM_TENANTS, 0},
        {"tenant.closed", TP_STREAM_TENANTS, 0},    {"user.added", TP_STREAM_USERS, 1},
        {"user.deleted", TP_STREAM_USERS, 1},       {"user.login", TP_STREAM_USERS, 1},
        {"user.logoff", TP_STREAM_USERS, 1},        {"user.session_timeout", TP_STREAM_USERS, 1},
        {"dataset.created", TP_STREAM_USERS, 1},    {"dataset.updated", TP_STREAM_USERS, 1},
        {"dataset.deleted", TP_STREAM_USERS, 1},    {"job.submitted", TP_STREAM_JOBS, 1},
        {"job.terminated", TP_STREAM_JOBS, 1},      {"job.cancelled", TP_STREAM_JOBS, 1},
    };
    for (int i = 0; i < TP_EV__COUNT; i++) {
        assert_string_equal(tp_event_type_name((tp_event_type)i), want[i].name);
        tp_event_type t;
        assert_int_equal(tp_event_type_from_name(want[i].name, &t), 0);
        assert_int_equal(t, i);
        assert_int_equal(tp_event_stream(t), want[i].stream);
        assert_int_equal(tp_event_type_has_user(t), want[i].user);
    }
    tp_event_type t;
    assert_int_equal(tp_event_type_from_name("user.signin", &t), TP_EINVAL);
    assert_int_equal(tp_event_type_from_name(NULL, &t), TP_EINVAL);
    assert_string_equal(tp_event_type_name(TP_EV__COUNT), "unknown");

    assert_string_equal(tp_stream_name(TP_STREAM_TENANTS), "tenants");
    assert_string_equal(tp_stream_name(TP_STREAM_USERS), "users");
    assert_string_equal(tp_stream_name(TP_STREAM_JOBS), "jobs");
    tp_stream s;
    assert_int_equal(tp_stream_from_name("jobs", &s), 0);
    assert_int_equal(s, TP_STREAM_JOBS);
    assert_int_equal(tp_stream_from_name("Jobs", &s), TP_EINVAL);
    assert_int_equal(tp_stream_from_name(NULL, &s), TP_EINVAL);
}

static void test_ids_and_uuids(void **state)
{
    (void)state;
    assert_true(tp_uuid_valid(UUID));
    assert_true(tp_uuid_valid("ABCDEF01-2345-6789-abcd-ef0123456789"));
    assert_false(tp_uuid_valid(NULL));
    assert_false(tp_uuid_valid(""));
    assert_false(tp_uuid_valid("0b6e8c1a-4f4e-4a8e-9a57-3c3f1f6f2d1"));
    assert_false(tp_uuid_valid("0b6e8c1a-4f4e-4a8e-9a57-3c3f1f6f2d100"));
    assert_false(tp_uuid_valid("0b6e8c1a_4f4e-4a8e-9a57-3c3f1f6f2d10"));
    assert_false(tp_uuid_valid("{b6e8c1a-4f4e-4a8e-9a57-3c3f1f6f2d10"));

    assert_true(tp_id_valid("a"));
    assert_true(tp_id_valid("Acme.Corp_2-x"));
    char id[TP_ID_MAX + 2];
    memset(id, 'x', sizeof id);
    id[TP_ID_MAX] = '\0';
    assert_true(tp_id_valid(id));
    id[TP_ID_MAX] = 'x';
    id[TP_ID_MAX + 1] = '\0';
    assert_false(tp_id_valid(id));
    assert_false(tp_id_valid(""));
    assert_false(tp_id_valid(NULL));
    assert_false(tp_id_valid("a:b"));
    assert_false(tp_id_valid("a/b"));
    assert_false(tp_id_valid("caf\xc3\xa9"));
}

/* ---- example files: tests/data/events/{valid,invalid} ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            assert_non_null(nb);
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Each invalid/<name>.json has invalid/<name>.expect: line 1 the field, line 2 a message
 * fragment. Returns how many files were checked. */
static int check_dir(const char *root, const char *sub, int want_valid)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/events/%s", root, sub);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!ends_with(de->d_name, ".json"))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_error_t jerr;
        json_t *j = json_load_file(path, JSON_DECODE_ANY, &jerr);
        if (!j)
            fail_msg("%s does not parse: %s", path, jerr.text);
        tp_event_error err = {{0}, {0}};
        int rc = tp_event_validate(j, NOW_MS, NULL, &err);
        if (want_valid) {
            if (rc != 0)
                fail_msg("%s should be valid: %s %s", de->d_name, err.field, err.message);
        } else {
            char exp_path[1400];
            snprintf(exp_path, sizeof exp_path, "%.*s.expect", (int)(strlen(path) - 5), path);
            char *exp = slurp(exp_path);
            if (!exp)
                fail_msg("%s has no .expect sidecar", de->d_name);
            char *nl = strchr(exp, '\n');
            if (!nl)
                fail_msg("%s: .expect needs two lines", de->d_name);
            *nl = '\0';
            char *frag = nl + 1;
            char *nl2 = strchr(frag, '\n');
            if (nl2)
                *nl2 = '\0';
            if (rc != TP_EINVAL)
                fail_msg("%s should be rejected", de->d_name);
            if (strcmp(err.field, exp) != 0)
                fail_msg("%s: field '%s', want '%s' (%s)", de->d_name, err.field, exp, err.message);
            if (!strstr(err.message, frag))
                fail_msg("%s: message '%s' lacks '%s'", de->d_name, err.message, frag);
            free(exp);
        }
        json_decref(j);
        count++;
    }
    closedir(d);
    return count;
}

static void test_data_files(void **state)
{
    (void)state;
    /* ctest sets TP_SOURCE_DIR; run by hand, fall back to this file's own location. */
    char here[1024];
    const char *root = getenv("TP_SOURCE_DIR");
    if (!root) {
        snprintf(here, sizeof here, "%s", __FILE__);
        char *cut = strstr(here, "/tests/unit/");
        if (!cut)
            fail_msg("TP_SOURCE_DIR is not set");
        *cut = '\0';
        root = here;
    }
    assert_true(check_dir(root, "valid", 1) >= TP_EV__COUNT);
    assert_true(check_dir(root, "invalid", 0) >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_table),
        cmocka_unit_test(test_validate_fills_event),
        cmocka_unit_test(test_failure_leaves_out_untouched),
        cmocka_unit_test(test_embedded_nul_rejected),
        cmocka_unit_test(test_error_text_stays_utf8),
        cmocka_unit_test(test_string_length_counts_characters),
        cmocka_unit_test(test_future_bound_uses_now),
        cmocka_unit_test(test_rfc3339_table),
        cmocka_unit_test(test_rfc3339_known_values),
        cmocka_unit_test(test_rfc3339_round_trip),
        cmocka_unit_test(test_partition_key),
        cmocka_unit_test(test_names_and_routing),
        cmocka_unit_test(test_ids_and_uuids),
        cmocka_unit_test(test_data_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* event_attrs.c — the attribute catalog: one table row per attribute of each event type,
 * and the one loop that checks an "attributes" object against it (see event.h, docs/events.md).
 *
 * Adding an attribute is adding a row. Unknown keys are rejected, so a misspelt optional
 * attribute ("sesion_id") is reported instead of silently dropped. String lengths count
 * Unicode code points, not bytes, so a company name's limit does not depend on its script.
 * null is not accepted as a value: an attribute is either present with its kind or absent. */
#include "event_priv.h"

#include <string.h>

typedef enum { K_STRING, K_ENUM, K_ID, K_NUMBER, K_INTEGER } attr_kind;

typedef struct {
    const char *name;
    attr_kind kind;
    unsigned char required;
    int64_t lo, hi;            /* K_STRING: length in code points; K_INTEGER: value */
    double dlo, dhi;           /* K_NUMBER */
    const char *const *values; /* K_ENUM: NULL-terminated */
    const char *values_text;   /* K_ENUM: the list as a message shows it */
} attr_spec;

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1: exact in a JSON double everywhere */

#define STR(n, req, a, b) {.name = n, .kind = K_STRING, .required = req, .lo = a, .hi = b}
#define ID(n, req) {.name = n, .kind = K_ID, .required = req}
#define NUM(n, req, a, b) {.name = n, .kind = K_NUMBER, .required = req, .dlo = a, .dhi = b}
#define INT(n, req, a, b) {.name = n, .kind = K_INTEGER, .required = req, .lo = a, .hi = b}
#define ENUM(n, req, list, text) {.name = n, .kind = K_ENUM, .required = req, .values = list, .values_text = text}

static const char *const plans[] = {"free", "starter", "business", "enterprise", NULL};
static const char *const job_statuses[] = {"succeeded", "failed", NULL};

/* tenant.created requires all four; tenant.updated takes any of them, at least one. */
static const attr_spec tenant_created[] = {
    STR("company_name", 1, 1, 200),
    STR("industry", 1, 1, 100),
    NUM("sentiment", 1, -1.0, 1.0),
    ENUM("plan", 1, plans, "free, starter, business, enterprise"),
};
static const attr_spec tenant_updated[] = {
    STR("company_name", 0, 1, 200),
    STR("industry", 0, 1, 100),
    NUM("sentiment", 0, -1.0, 1.0),
    ENUM("plan", 0, plans, "free, starter, business, enterprise"),
};
static const attr_spec tenant_closed[] = {STR("reason", 1, 1, 500)};
static const attr_spec user_added[] = {STR("role", 0, 1, 50)};
static const attr_spec user_deleted[] = {STR("reason", 0, 1, 500)};
static const attr_spec user_login[] = {ID("session_id", 0)};
static const attr_spec user_session_end[] = {ID("session_id", 0), INT("session_seconds", 0, 0, 604800)};
static const attr_spec dataset[] = {ID("dataset_id", 1), INT("size_bytes", 1, 0, MAX_SAFE_INT)};
static const attr_spec job_submitted[] = {
    ID("job_id", 1),
    INT("servers", 1, 1, 100000),
    INT("data_size_bytes", 1, 0, MAX_SAFE_INT),
};
static const attr_spec job_terminated[] = {
    ID("job_id", 1),
    ENUM("status", 1, job_statuses, "succeeded, failed"),
    NUM("duration_seconds", 1, 0.0, 31536000.0),
};
static const attr_spec job_cancelled[] = {ID("job_id", 1)};

typedef struct {
    const attr_spec *attrs;
    unsigned char n;
    unsigned char any_required; /* the "attributes" object itself must be present */
    unsigned char need_one;     /* at least one attribute must be given */
    const char *one_of_text;
} type_spec;

#define ROWS(a) .attrs = a, .n = sizeof a / sizeof a[0]

static const type_spec catalog[TP_EV__COUNT] = {
    [TP_EV_TENANT_CREATED] = {ROWS(tenant_created), .any_required = 1},
    [TP_EV_TENANT_UPDATED] = {ROWS(tenant_updated), .any_required = 1, .need_one = 1,
                              .one_of_text = "company_name, industry, sentiment, plan"},
    [TP_EV_TENANT_CLOSED] = {ROWS(tenant_closed), .any_required = 1},
    [TP_EV_USER_ADDED] = {ROWS(user_added)},
    [TP_EV_USER_DELETED] = {ROWS(user_deleted)},
    [TP_EV_USER_LOGIN] = {ROWS(user_login)},
    [TP_EV_USER_LOGOFF] = {ROWS(user_session_end)},
    [TP_EV_USER_SESSION_TIMEOUT] = {ROWS(user_session_end)},
    [TP_EV_DATASET_CREATED] = {ROWS(dataset), .any_required = 1},
    [TP_EV_DATASET_UPDATED] = {ROWS(dataset), .any_required = 1},
    [TP_EV_DATASET_DELETED] = {ROWS(dataset), .any_required = 1},
    [TP_EV_JOB_SUBMITTED] = {ROWS(job_submitted), .any_required = 1},
    [TP_EV_JOB_TERMINATED] = {ROWS(job_terminated), .any_required = 1},
    [TP_EV_JOB_CANCELLED] = {ROWS(job_cancelled), .any_required = 1},
};

/* Code points in a valid UTF-8 string (jansson guarantees validity): count lead bytes. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A string value without an embedded NUL; NULL if v is not one. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s && strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

static int check_value(const attr_spec *a, const json_t *v, tp_event_error *err)
{
    const char *s;
    switch (a->kind) {
    case K_STRING:
        s = plain_string(v);
        if (!s) {
            return tp_event__fail(err, "attributes.", a->name, "must be a string of %lld to %lld characters",
                                  (long long)a->lo, (long long)a->hi);
        }
        size_t len = utf8_len(s);
        if ((int64_t)len < a->lo || (int64_t)len > a->hi) {
            return tp_event__fail(err, "attributes.", a->name, "must be a string of %lld to %lld characters",
                                  (long long)a->lo, (long long)a->hi);
        }
        return 0;
    case K_ENUM:
        s = plain_string(v);
        if (s) {
            for (const char *const *e = a->values; *e; e++)
                if (strcmp(s, *e) == 0)
                    return 0;
        }
        return tp_event__fail(err, "attributes.", a->name, "must be one of %s", a->values_text);
    case K_ID:
        s = plain_string(v);
        if (!s || !tp_id_valid(s))
            return tp_event__fail(err, "attributes.", a->name,
                                  "must be an id: 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return 0;
    case K_NUMBER: {
        if (!json_is_number(v))
            return tp_event__fail(err, "attributes.", a->name, "must be a number between %.15g and %.15g",
                                  a->dlo, a->dhi);
        double d = json_number_value(v);
        if (!(d >= a->dlo && d <= a->dhi)) /* written this way so NaN fails too */
            return tp_event__fail(err, "attributes.", a->name, "must be a number between %.15g and %.15g",
                                  a->dlo, a->dhi);
        return 0;
    }
    case K_INTEGER: {
        /* Only JSON integers: 3.0 is a real to every consumer that reads it as one. */
        if (!json_is_integer(v))
            return tp_event__fail(err, "attributes.", a->name, "must be an integer between %lld and %lld",
                                  (long long)a->lo, (long long)a->hi);
        json_int_t i = json_integer_value(v);
        if (i < a->lo || i > a->hi)
            return tp_event__fail(err, "attributes.", a->name, "must be an integer between %lld and %lld",
                                  (long long)a->lo, (long long)a->hi);
        return 0;
    }
    }
    return tp_event__fail(err, "attributes.", a->name, "has an unknown kind");
}

static int known_name(const type_spec *t, const char *key)
{
    for (unsigned i = 0; i < t->n; i++)
        if (strcmp(key, t->attrs[i].name) == 0)
            return 1;
    return 0;
}

int tp_event__check_attributes(tp_event_type type, const json_t *attrs, tp_event_error *err)
{
    if ((unsigned)type >= TP_EV__COUNT)
        return tp_event__fail(err, NULL, "type", "unknown event type");
    const type_spec *t = &catalog[type];
    const char *tname = tp_event_type_name(type);

    if (!attrs) {
        if (t->any_required)
            return tp_event__fail(err, NULL, "attributes", "is required for %s", tname);
        return 0;
    }
    if (!json_is_object(attrs))
        return tp_event__fail(err, NULL, "attributes", "must be an object");

    size_t present = 0;
    for (unsigned i = 0; i < t->n; i++) {
        const attr_spec *a = &t->attrs[i];
        const json_t *v = json_object_get(attrs, a->name);
        if (!v) {
            if (a->required)
                return tp_event__fail(err, "attributes.", a->name, "is required for %s", tname);
            continue;
        }
        present++;
        if (check_value(a, v, err))
            return TP_EINVAL;
    }
    if (json_object_size(attrs) > present) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)attrs, key, val) {
            if (!known_name(t, key))
                return tp_event__fail(err, "attributes.", key, "is not an attribute of %s", tname);
        }
        return tp_event__fail(err, NULL, "attributes", "has a key containing a NUL character");
    }
    /* After the unknown-key check: for {"plna": "free"} the misspelling is the better answer. */
    if (t->need_one && present == 0)
        return tp_event__fail(err, NULL, "attributes", "must contain at least one of %s", t->one_of_text);
    return 0;
}

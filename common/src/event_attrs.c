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

static int check_value(const attr_spec *a, ev_val v, tp_event_error *err)
{
    char s[TP_ID_MAX + 1];
    size_t len, cps;
    switch (a->kind) {
    case K_STRING:
        if (!tp_event__string(v, NULL, 0, &len, &cps) || (int64_t)cps < a->lo || (int64_t)cps > a->hi)
            return tp_event__fail(err, "attributes.", a->name, "must be a string of %lld to %lld characters",
                                  (long long)a->lo, (long long)a->hi);
        return 0;
    case K_ENUM:
        if (tp_event__string(v, s, sizeof s, &len, NULL) && len < sizeof s) {
            for (const char *const *e = a->values; *e; e++)
                if (strcmp(s, *e) == 0)
                    return 0;
        }
        return tp_event__fail(err, "attributes.", a->name, "must be one of %s", a->values_text);
    case K_ID:
        if (!tp_event__string(v, s, sizeof s, &len, NULL) || len > TP_ID_MAX || !tp_id_valid(s))
            return tp_event__fail(err, "attributes.", a->name,
                                  "must be an id: 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return 0;
    case K_NUMBER: {
        tp_json_kind k = tp_event__kind(v);
        double d = k == TP_JSON_INTEGER || k == TP_JSON_REAL ? tp_event__number(v) : 0.0 / 0.0;
        if (!(d >= a->dlo && d <= a->dhi)) /* written this way so NaN (and a non-number) fails */
            return tp_event__fail(err, "attributes.", a->name, "must be a number between %.15g and %.15g",
                                  a->dlo, a->dhi);
        return 0;
    }
    case K_INTEGER: {
        /* Only JSON integers: 3.0 is a real to every consumer that reads it as one. */
        if (tp_event__kind(v) != TP_JSON_INTEGER)
            return tp_event__fail(err, "attributes.", a->name, "must be an integer between %lld and %lld",
                                  (long long)a->lo, (long long)a->hi);
        long long i = tp_event__integer(v);
        if (i < a->lo || i > a->hi)
            return tp_event__fail(err, "attributes.", a->name, "must be an integer between %lld and %lld",
                                  (long long)a->lo, (long long)a->hi);
        return 0;
    }
    }
    return tp_event__fail(err, "attributes.", a->name, "has an unknown kind");
}

#define MAX_ATTRS 8 /* the most any type has (tenant.created: 4) */
_Static_assert(sizeof tenant_created / sizeof tenant_created[0] <= MAX_ATTRS, "MAX_ATTRS too small");
_Static_assert(sizeof tenant_updated / sizeof tenant_updated[0] <= MAX_ATTRS, "MAX_ATTRS too small");

int tp_event__check_attributes(tp_event_type type, ev_val attrs, tp_event_error *err)
{
    if ((unsigned)type >= TP_EV__COUNT)
        return tp_event__fail(err, NULL, "type", "unknown event type");
    const type_spec *t = &catalog[type];
    const char *tname = tp_event_type_name(type);

    if (!tp_event__present(attrs)) {
        if (t->any_required)
            return tp_event__fail(err, NULL, "attributes", "is required for %s", tname);
        return 0;
    }
    if (tp_event__kind(attrs) != TP_JSON_OBJECT)
        return tp_event__fail(err, NULL, "attributes", "must be an object");

    /* One pass puts each member in its catalog slot and remembers the first unknown key. */
    ev_val slot[MAX_ATTRS] = {0}, v;
    char key[TP_ID_MAX], unknown[TP_ID_MAX];
    size_t klen;
    int nul, has_unknown = 0, nul_key = 0;
    ev_iter it;
    tp_event__iter_init(&it, attrs);
    while (tp_event__iter_next(&it, key, sizeof key, &klen, &nul, &v)) {
        unsigned i = 0;
        if (nul) {
            nul_key = 1;
            continue;
        }
        while (i < t->n && !(klen < sizeof key && strcmp(key, t->attrs[i].name) == 0))
            i++;
        if (i < t->n)
            slot[i] = v;
        else if (!has_unknown) {
            has_unknown = 1;
            memcpy(unknown, key, sizeof key);
        }
    }

    size_t present = 0;
    for (unsigned i = 0; i < t->n; i++) {
        const attr_spec *a = &t->attrs[i];
        if (!tp_event__present(slot[i])) {
            if (a->required)
                return tp_event__fail(err, "attributes.", a->name, "is required for %s", tname);
            continue;
        }
        present++;
        if (check_value(a, slot[i], err))
            return TP_EINVAL;
    }
    if (has_unknown)
        return tp_event__fail(err, "attributes.", unknown, "is not an attribute of %s", tname);
    if (nul_key)
        return tp_event__fail(err, NULL, "attributes", "has a key containing a NUL character");
    /* After the unknown-key check: for {"plna": "free"} the misspelling is the better answer. */
    if (t->need_one && present == 0)
        return tp_event__fail(err, NULL, "attributes", "must contain at least one of %s", t->one_of_text);
    return 0;
}

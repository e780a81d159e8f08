/* emit.c — NDJSON lines for events, written by hand for speed (no jansson on the hot path).
 *
 * Every line is one catalog event (tp/event.h): event_id (a v4-format UUID from the seeded
 * generator), type, tenant_id, user_id for user/dataset/job events, occurred_at in RFC 3339
 * UTC with milliseconds, attributes. Ids and names are made from [A-Za-z0-9 ._-] only, so no
 * string here needs JSON escaping. Invalid variants for --invalid-share are made here too. */
#include <string.h>

#include "sim_internal.h"

const char *const sim_type_names[TP_EV__COUNT] = {
#define SIM_TYPE_NAME(e, name, stream) name,
    TP_EVENT_TYPES(SIM_TYPE_NAME)
#undef SIM_TYPE_NAME
};

static const char *const defect_names[TP_SIM_DEF__COUNT] = {
#define SIM_DEF_NAME(e, name) name,
    TP_SIM_DEFECTS(SIM_DEF_NAME)
#undef SIM_DEF_NAME
};

const char *tp_sim_defect_name(tp_sim_defect d)
{
    return (unsigned)d < TP_SIM_DEF__COUNT ? defect_names[d] : "unknown";
}

static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

#define PUT_LIT(p, s)                      \
    do {                                   \
        memcpy((p), (s), sizeof(s) - 1);   \
        (p) += sizeof(s) - 1;              \
    } while (0)

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    char *q = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - q);
    memcpy(p, q, n);
    return p + n;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* At least `width` digits, zero-padded (ids: u0007, j000123). */
static char *put_padded(char *p, uint32_t v, int width)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Hundredths as a decimal: -35 → -0.35. */
static char *put_hundredths(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    p = put_u64(p, (uint64_t)(v / 100));
    *p++ = '.';
    memcpy(p, digits2 + 2 * (v % 100), 2);
    return p + 2;
}

/* Howard Hinnant's days-from-civil inverse (public-domain algorithm, written out here). */
void sim_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars, no NUL). The date part is cached: output is sorted by
 * time, so the day rarely changes between calls. */
void sim_format_ts(sim_emitter *em, int64_t ms, char out[24])
{
    int64_t day = ms >= 0 ? ms / SIM_MS_DAY : (ms - SIM_MS_DAY + 1) / SIM_MS_DAY;
    if (day != em->cached_day) {
        int y, m, d;
        sim_civil_from_days(day, &y, &m, &d);
        char *p = em->date;
        memcpy(p, digits2 + 2 * (y / 100 % 100), 2);
        memcpy(p + 2, digits2 + 2 * (y % 100), 2);
        p[4] = '-';
        memcpy(p + 5, digits2 + 2 * m, 2);
        p[7] = '-';
        memcpy(p + 8, digits2 + 2 * d, 2);
        em->cached_day = day;
    }
    int64_t rem = ms - day * SIM_MS_DAY;
    unsigned msec = (unsigned)(rem % 1000), sec = (unsigned)(rem / 1000);
    memcpy(out, em->date, 10);
    out[10] = 'T';
    memcpy(out + 11, digits2 + 2 * (sec / 3600), 2);
    out[13] = ':';
    memcpy(out + 14, digits2 + 2 * (sec / 60 % 60), 2);
    out[16] = ':';
    memcpy(out + 17, digits2 + 2 * (sec % 60), 2);
    out[19] = '.';
    out[20] = (char)('0' + msec / 100);
    memcpy(out + 21, digits2 + 2 * (msec % 100), 2);
    out[23] = 'Z';
}

static char *put_uuid(sim_emitter *em, char *p)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = sim_rng_next(&em->uuid_rng), b = sim_rng_next(&em->uuid_rng);
    /* RFC 4122 version 4 and variant 10xx bits. */
    a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
    b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
    unsigned char bytes[16];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (unsigned char)(a >> (56 - 8 * i));
        bytes[8 + i] = (unsigned char)(b >> (56 - 8 * i));
    }
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[bytes[i] >> 4];
        *p++ = hex[bytes[i] & 15];
    }
    return p;
}

void sim_emitter_init(sim_emitter *em, const sim_world *w, uint64_t seed)
{
    memset(em, 0, sizeof *em);
    em->w = w;
    /* event_ids depend on the tenant prefix too: runs that share a stack with one seed but
     * different prefixes must not produce the same ids (consumers de-duplicate on them). */
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *c = w->prefix; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    sim_rng_seed(&em->uuid_rng, seed ^ h, 1);
    sim_rng_seed(&em->defect_rng, seed, 2);
    em->cached_day = INT64_MIN;
}

/* What an invalid line must differ in; SIM_OK for a valid line. */
enum { SIM_OK = -1 };

static char *put_tenant_id(char *p, const sim_tenant *t)
{
    memcpy(p, t->id, t->id_len);
    return p + t->id_len;
}

static char *put_sub_id(char *p, const sim_tenant *t, char kind, uint32_t no, int width)
{
    p = put_tenant_id(p, t);
    *p++ = '-';
    *p++ = kind;
    return put_padded(p, no, width);
}

static char *put_attributes(char *p, const sim_tenant *t, const sim_ev *e, int defect)
{
    int miss = defect == TP_SIM_DEF_MISSING_ATTRIBUTE, bad = defect == TP_SIM_DEF_BAD_ATTRIBUTE;
    PUT_LIT(p, ",\"attributes\":{");
    switch ((tp_event_type)e->type) {
    case TP_EV_TENANT_CREATED:
        if (!miss) {
            PUT_LIT(p, "\"company_name\":\"");
            p = put_str(p, t->name);
            PUT_LIT(p, "\",");
        }
        PUT_LIT(p, "\"industry\":\"");
        p = put_str(p, sim_industry_names[t->industry]);
        PUT_LIT(p, "\",\"sentiment\":");
        p = bad ? put_str(p, "7.5") : put_hundredths(p, e->v1);
        PUT_LIT(p, ",\"plan\":\"");
        p = put_str(p, sim_plan_names[e->aux]);
        *p++ = '"';
        break;
    case TP_EV_TENANT_UPDATED:
        if (e->aux & 1) {
            PUT_LIT(p, "\"plan\":\"");
            p = put_str(p, sim_plan_names[e->v2]);
            *p++ = '"';
        }
        if (e->aux & 2) {
            if (e->aux & 1)
                *p++ = ',';
            PUT_LIT(p, "\"sentiment\":");
            p = put_hundredths(p, e->v1);
        }
        break;
    case TP_EV_TENANT_CLOSED:
        if (!miss) {
            PUT_LIT(p, "\"reason\":\"");
            p = put_str(p, sim_close_reason_names[e->aux]);
            *p++ = '"';
        }
        break;
    case TP_EV_USER_ADDED:
        PUT_LIT(p, "\"role\":\"");
        p = put_str(p, sim_role_names[e->aux]);
        *p++ = '"';
        break;
    case TP_EV_USER_DELETED:
        PUT_LIT(p, "\"reason\":\"");
        p = put_str(p, sim_user_reason_names[e->aux]);
        *p++ = '"';
        break;
    case TP_EV_USER_LOGIN:
        PUT_LIT(p, "\"session_id\":\"");
        p = put_sub_id(p, t, 's', e->obj, 6);
        *p++ = '"';
        break;
    case TP_EV_USER_LOGOFF:
    case TP_EV_USER_SESSION_TIMEOUT:
        PUT_LIT(p, "\"session_id\":\"");
        p = put_sub_id(p, t, 's', e->obj, 6);
        PUT_LIT(p, "\",\"session_seconds\":");
        p = put_i64(p, e->v1);
        break;
    case TP_EV_DATASET_CREATED:
    case TP_EV_DATASET_UPDATED:
    case TP_EV_DATASET_DELETED:
        PUT_LIT(p, "\"dataset_id\":\"");
        p = put_sub_id(p, t, 'd', e->obj, 4);
        *p++ = '"';
        if (!miss) {
            PUT_LIT(p, ",\"size_bytes\":");
            p = bad ? put_str(p, "\"lots\"") : put_i64(p, e->v1);
        }
        break;
    case TP_EV_JOB_SUBMITTED:
        PUT_LIT(p, "\"job_id\":\"");
        p = put_sub_id(p, t, 'j', e->obj, 6);
        PUT_LIT(p, "\",\"servers\":");
        p = bad ? put_str(p, "\"many\"") : put_i64(p, e->v1);
        if (!miss) {
            PUT_LIT(p, ",\"data_size_bytes\":");
            p = put_i64(p, e->v2);
        }
        break;
    case TP_EV_JOB_TERMINATED:
        PUT_LIT(p, "\"job_id\":\"");
        p = put_sub_id(p, t, 'j', e->obj, 6);
        if (!miss) {
            PUT_LIT(p, "\",\"status\":\"");
            p = put_str(p, bad ? "exploded" : e->aux ? "succeeded" : "failed");
        }
        PUT_LIT(p, "\",\"duration_seconds\":");
        p = put_i64(p, e->v1);
        break;
    case TP_EV_JOB_CANCELLED:
        if (!miss) {
            PUT_LIT(p, "\"job_id\":\"");
            p = put_sub_id(p, t, 'j', e->obj, 6);
            *p++ = '"';
        }
        break;
    default:
        break;
    }
    *p++ = '}';
    return p;
}

static size_t format(sim_emitter *em, const sim_ev *e, int defect, char *out)
{
    const sim_tenant *t = &em->w->tenants[e->tenant];
    char *p = out;
    PUT_LIT(p, "{");
    if (defect != TP_SIM_DEF_MISSING_EVENT_ID) {
        PUT_LIT(p, "\"event_id\":\"");
        if (defect == TP_SIM_DEF_BAD_EVENT_ID) {
            PUT_LIT(p, "not-a-uuid-");
            p = put_u64(p, sim_rng_below(&em->defect_rng, 1000000));
        } else {
            p = put_uuid(em, p);
        }
        PUT_LIT(p, "\",");
    }
    PUT_LIT(p, "\"type\":\"");
    p = put_str(p, defect == TP_SIM_DEF_BAD_TYPE ? "tenant.exploded" : sim_type_names[e->type]);
    *p++ = '"';
    if (defect == TP_SIM_DEF_BAD_TENANT_ID) {
        PUT_LIT(p, ",\"tenant_id\":\"bad tenant/");
        p = put_tenant_id(p, t);
        *p++ = '"';
    } else if (defect != TP_SIM_DEF_MISSING_TENANT_ID) {
        PUT_LIT(p, ",\"tenant_id\":\"");
        p = put_tenant_id(p, t);
        *p++ = '"';
    }
    if (e->user && defect != TP_SIM_DEF_MISSING_USER_ID) {
        PUT_LIT(p, ",\"user_id\":\"");
        p = put_sub_id(p, t, 'u', e->user, 4);
        *p++ = '"';
    }
    PUT_LIT(p, ",\"occurred_at\":\"");
    if (defect == TP_SIM_DEF_BAD_OCCURRED_AT) {
        PUT_LIT(p, "yesterday at noon");
    } else if (defect == TP_SIM_DEF_FUTURE_OCCURRED_AT) {
        PUT_LIT(p, "2999-01-01T00:00:00.000Z");
    } else {
        sim_format_ts(em, e->ts, p);
        p += 24;
    }
    *p++ = '"';
    p = put_attributes(p, t, e, defect);
    PUT_LIT(p, "}\n");
    return (size_t)(p - out);
}

size_t sim_emit_line(sim_emitter *em, const sim_ev *e, char *out) { return format(em, e, SIM_OK, out); }

static int applies(tp_sim_defect d, const sim_ev *e)
{
    switch (d) {
    case TP_SIM_DEF_MISSING_USER_ID:
        return e->user != 0;
    case TP_SIM_DEF_MISSING_ATTRIBUTE:
        return e->type == TP_EV_TENANT_CREATED || e->type == TP_EV_TENANT_CLOSED ||
               (e->type >= TP_EV_DATASET_CREATED && e->type <= TP_EV_JOB_CANCELLED);
    case TP_SIM_DEF_BAD_ATTRIBUTE:
        return e->type == TP_EV_TENANT_CREATED ||
               (e->type >= TP_EV_DATASET_CREATED && e->type <= TP_EV_JOB_TERMINATED);
    default:
        return 1;
    }
}

size_t sim_emit_invalid(sim_emitter *em, const sim_ev *e, tp_sim_defect *defect, char *out)
{
    tp_sim_defect d = (tp_sim_defect)sim_rng_below(&em->defect_rng, TP_SIM_DEF__COUNT);
    /* Kinds that need a particular event fall back to the next kind that fits this one. */
    while (!applies(d, e))
        d = (tp_sim_defect)((d + 1) % TP_SIM_DEF__COUNT);
    *defect = d;
    return format(em, e, (int)d, out);
}

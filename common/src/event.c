/* event.c — the event catalog: names, routing, the envelope check and partition keys
 * (see event.h). Attribute rules live in event_attrs.c, timestamps in event_time.c.
 *
 * Validation never allocates and stops at the first problem, checked in a fixed order:
 * event_id, type, tenant_id, user_id, occurred_at, attributes (known keys in catalog order,
 * then unknown attribute keys), then unknown envelope keys. The same input therefore always
 * yields the same error, which clients and tests can rely on. */
#include "event_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const stream_names[TP_STREAM__COUNT] = {"tenants", "users", "jobs"};

static const struct {
    const char *name;
    tp_stream stream;
} types[TP_EV__COUNT] = {
#define TP_EV_ROW(e, name, stream) [e] = {name, stream},
    TP_EVENT_TYPES(TP_EV_ROW)
#undef TP_EV_ROW
};

/* 2000-01-01T00:00:00Z: anything earlier is a client clock or unit bug, not a real event. */
#define OCCURRED_MIN_MS 946684800000LL

const char *tp_stream_name(tp_stream s)
{
    return (unsigned)s < TP_STREAM__COUNT ? stream_names[s] : "unknown";
}

int tp_stream_from_name(const char *name, tp_stream *out)
{
    if (!name || !out)
        return TP_EINVAL;
    for (int i = 0; i < TP_STREAM__COUNT; i++) {
        if (strcmp(name, stream_names[i]) == 0) {
            *out = (tp_stream)i;
            return 0;
        }
    }
    return TP_EINVAL;
}

const char *tp_event_type_name(tp_event_type t)
{
    return (unsigned)t < TP_EV__COUNT ? types[t].name : "unknown";
}

int tp_event_type_from_name(const char *name, tp_event_type *out)
{
    if (!name || !out)
        return TP_EINVAL;
    for (int i = 0; i < TP_EV__COUNT; i++) {
        if (strcmp(name, types[i].name) == 0) {
            *out = (tp_event_type)i;
            return 0;
        }
    }
    return TP_EINVAL;
}

tp_stream tp_event_stream(tp_event_type t)
{
    return (unsigned)t < TP_EV__COUNT ? types[t].stream : TP_STREAM_TENANTS;
}

int tp_event_type_has_user(tp_event_type t)
{
    return (unsigned)t < TP_EV__COUNT && t != TP_EV_TENANT_CREATED && t != TP_EV_TENANT_UPDATED &&
           t != TP_EV_TENANT_CLOSED;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* fold to lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int tp_uuid_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < TP_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (hexval((unsigned char)s[i]) < 0) {
            return 0; /* also stops at an early NUL */
        }
    }
    return s[TP_UUID_LEN] == '\0';
}

static int id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

int tp_id_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = 0;
    while (s[n] != '\0') {
        if (n >= TP_ID_MAX || !id_char((unsigned char)s[n]))
            return 0;
        n++;
    }
    return n > 0;
}

int tp_event_partition_key(const tp_event *ev, char *buf, size_t cap)
{
    if (!ev || !buf)
        return TP_EINVAL;
    size_t tl = strnlen(ev->tenant_id, sizeof ev->tenant_id);
    size_t ul = tp_event_type_has_user(ev->type) ? strnlen(ev->user_id, sizeof ev->user_id) : 0;
    size_t need = tl + (ul ? 1 + ul : 0);
    if (need + 1 > cap)
        return TP_ETOOBIG;
    memcpy(buf, ev->tenant_id, tl);
    if (ul) {
        buf[tl] = ':';
        memcpy(buf + tl + 1, ev->user_id, ul);
    }
    buf[need] = '\0';
    return (int)need;
}

void tp_event__copy_utf8(char *dst, size_t cap, const char *src)
{
    if (!dst || cap == 0)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        /* Back off over continuation bytes so a multi-byte character is never cut. */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int tp_event__fail(tp_event_error *err, const char *prefix, const char *name, const char *fmt, ...)
{
    if (!err)
        return TP_EINVAL;
    size_t pl = prefix ? strlen(prefix) : 0;
    if (pl >= sizeof err->field)
        pl = 0;
    if (pl)
        memcpy(err->field, prefix, pl);
    tp_event__copy_utf8(err->field + pl, sizeof err->field - pl, name);

    char msg[sizeof err->message + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tp_event__copy_utf8(err->message, sizeof err->message, msg);
    return TP_EINVAL;
}

/* An id value (tenant_id, user_id) into out. */
static int check_id(ev_val v, const char *field, char out[TP_ID_MAX + 1], tp_event_error *err)
{
    size_t len;
    if (tp_event__kind(v) != TP_JSON_STRING)
        return tp_event__fail(err, NULL, field, "must be a string");
    if (!tp_event__string(v, out, TP_ID_MAX + 1, &len, NULL) || len > TP_ID_MAX || !tp_id_valid(out))
        return tp_event__fail(err, NULL, field, "must be an id: 1 to 64 characters of A-Z a-z 0-9 . _ -");
    return 0;
}

enum { F_EVENT_ID, F_TYPE, F_TENANT_ID, F_USER_ID, F_OCCURRED_AT, F_ATTRIBUTES, F__COUNT };
static const char *const envelope_keys[F__COUNT] = {"event_id", "type", "tenant_id", "user_id", "occurred_at",
                                                    "attributes"};
static const size_t envelope_lens[F__COUNT] = {8, 4, 9, 7, 11, 10};

/* The envelope's members by name, plus the first unknown key in document order. One pass over
 * the object, whatever its source; duplicates cannot occur (jansson objects have none, and the
 * text checker refuses them). */
struct envelope {
    ev_val f[F__COUNT];
    char unknown[TP_ID_MAX];
    int has_unknown, nul_key;
};

static void read_envelope(ev_val obj, struct envelope *e)
{
    ev_iter it;
    ev_val v;
    char key[sizeof e->unknown];
    size_t klen;
    int nul;
    memset(e, 0, sizeof *e);
    tp_event__iter_init(&it, obj);
    while (tp_event__iter_next(&it, key, sizeof key, &klen, &nul, &v)) {
        if (nul) {
            e->nul_key = 1;
            continue;
        }
        int k = 0;
        while (k < F__COUNT && !(klen == envelope_lens[k] && memcmp(key, envelope_keys[k], klen) == 0))
            k++;
        if (k < F__COUNT)
            e->f[k] = v;
        else if (!e->has_unknown) {
            e->has_unknown = 1;
            memcpy(e->unknown, key, sizeof key);
        }
    }
}

static int validate(ev_val obj, int64_t now_ms, tp_event *out, tp_event_error *err)
{
    tp_event_error scratch;
    tp_event ev;
    struct envelope e;
    char s[72];
    size_t len;
    if (!err)
        err = &scratch;
    memset(&ev, 0, sizeof ev);

    if (!tp_event__present(obj) || tp_event__kind(obj) != TP_JSON_OBJECT)
        return tp_event__fail(err, NULL, "", "must be a JSON object");
    read_envelope(obj, &e);

    /* event_id — lower-cased so that the same UUID in another case is the same event. */
    ev_val v = e.f[F_EVENT_ID];
    if (!tp_event__present(v))
        return tp_event__fail(err, NULL, "event_id", "is required");
    if (!tp_event__string(v, s, sizeof s, &len, NULL) || len != TP_UUID_LEN || !tp_uuid_valid(s))
        return tp_event__fail(err, NULL, "event_id", "must be a UUID (8-4-4-4-12 hex digits)");
    for (int i = 0; i <= TP_UUID_LEN; i++)
        ev.event_id[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] | 0x20 : s[i]);

    /* type */
    v = e.f[F_TYPE];
    if (!tp_event__present(v))
        return tp_event__fail(err, NULL, "type", "is required");
    if (tp_event__kind(v) != TP_JSON_STRING)
        return tp_event__fail(err, NULL, "type", "must be a string");
    char quoted[65];
    if (!tp_event__string(v, quoted, sizeof quoted, &len, NULL))
        quoted[0] = '\0';
    else if (len < sizeof quoted && tp_event_type_from_name(quoted, &ev.type) == 0)
        goto type_ok;
    return tp_event__fail(err, NULL, "type", "unknown event type '%s'", quoted);
type_ok:

    /* tenant_id */
    v = e.f[F_TENANT_ID];
    if (!tp_event__present(v))
        return tp_event__fail(err, NULL, "tenant_id", "is required");
    if (check_id(v, "tenant_id", ev.tenant_id, err))
        return TP_EINVAL;

    /* user_id: required for user-scoped types, absent or null for tenant-level ones. */
    v = e.f[F_USER_ID];
    int user_given = tp_event__present(v) && tp_event__kind(v) != TP_JSON_NULL;
    if (tp_event_type_has_user(ev.type)) {
        if (!user_given)
            return tp_event__fail(err, NULL, "user_id", "is required for %s", types[ev.type].name);
        if (check_id(v, "user_id", ev.user_id, err))
            return TP_EINVAL;
    } else if (user_given) {
        return tp_event__fail(err, NULL, "user_id", "must be absent or null for %s", types[ev.type].name);
    }

    /* occurred_at */
    v = e.f[F_OCCURRED_AT];
    if (!tp_event__present(v))
        return tp_event__fail(err, NULL, "occurred_at", "is required");
    if (!tp_event__string(v, s, sizeof s, &len, NULL) || len >= sizeof s || tp_rfc3339_parse(s, &ev.occurred_at_ms) != 0)
        return tp_event__fail(err, NULL, "occurred_at",
                              "must be an RFC 3339 timestamp with Z or an offset, e.g. 2026-11-22T14:03:00Z");
    if (ev.occurred_at_ms < OCCURRED_MIN_MS)
        return tp_event__fail(err, NULL, "occurred_at", "is before 2000-01-01");
    /* Written so that no now_ms, however odd, can overflow the sum. */
    if (now_ms < INT64_MAX - TP_EVENT_MAX_FUTURE_MS && ev.occurred_at_ms > now_ms + TP_EVENT_MAX_FUTURE_MS)
        return tp_event__fail(err, NULL, "occurred_at", "is more than 5 minutes in the future");

    /* attributes */
    if (tp_event__check_attributes(ev.type, e.f[F_ATTRIBUTES], err))
        return TP_EINVAL;
    ev.attributes = e.f[F_ATTRIBUTES].j;

    if (e.has_unknown)
        return tp_event__fail(err, NULL, e.unknown,
                              "is not an envelope field (allowed: event_id, type, tenant_id, user_id, "
                              "occurred_at, attributes)");
    /* A key with an embedded NUL (possible in objects built with json_object_setn) could
     * shadow a known name; refuse it rather than guess. */
    if (e.nul_key)
        return tp_event__fail(err, NULL, "", "has a key containing a NUL character");

    if (out)
        *out = ev;
    return 0;
}

int tp_event_validate(const json_t *obj, int64_t now_ms, tp_event *out, tp_event_error *err)
{
    return validate((ev_val){.j = obj}, now_ms, out, err);
}

int tp_event_validate_text(const char *json, size_t len, int64_t now_ms, tp_event *out, tp_event_error *err)
{
    if (!json || !len)
        return validate((ev_val){0}, now_ms, out, err);
    return validate((ev_val){.t = {json, len}}, now_ms, out, err);
}

size_t tp_event_text_tenant(const char *json, size_t len, char *out, size_t cap)
{
    ev_val obj = {.t = {json, len}};
    struct envelope e;
    size_t n = 0;
    if (cap)
        out[0] = '\0';
    if (!json || !len || tp_event__kind(obj) != TP_JSON_OBJECT)
        return 0;
    read_envelope(obj, &e);
    if (!tp_event__string(e.f[F_TENANT_ID], out, cap, &n, NULL))
        return 0;
    return n;
}

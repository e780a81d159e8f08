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

/* A string value with no embedded NUL (jansson strings may carry one when built with
 * json_stringn or parsed with JSON_ALLOW_NUL); NULL otherwise. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s && strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

static int check_id(const json_t *v, const char *field, char out[TP_ID_MAX + 1], tp_event_error *err)
{
    if (!json_is_string(v))
        return tp_event__fail(err, NULL, field, "must be a string");
    const char *s = plain_string(v);
    if (!s || !tp_id_valid(s))
        return tp_event__fail(err, NULL, field, "must be an id: 1 to 64 characters of A-Z a-z 0-9 . _ -");
    strcpy(out, s); /* length checked by tp_id_valid */
    return 0;
}

static const char *const envelope_keys[] = {"event_id", "type", "tenant_id", "user_id", "occurred_at",
                                            "attributes"};
#define N_ENVELOPE (sizeof envelope_keys / sizeof envelope_keys[0])

static int is_envelope_key(const char *k)
{
    for (size_t i = 0; i < N_ENVELOPE; i++)
        if (strcmp(k, envelope_keys[i]) == 0)
            return 1;
    return 0;
}

int tp_event_validate(const json_t *obj, int64_t now_ms, tp_event *out, tp_event_error *err)
{
    tp_event_error scratch;
    tp_event ev;
    int rc = TP_EINVAL;
    size_t known = 0;
    if (!err)
        err = &scratch;
    memset(&ev, 0, sizeof ev);

    if (!json_is_object(obj)) {
        tp_event__fail(err, NULL, "", "must be a JSON object");
        goto out;
    }

    /* event_id — lower-cased so that the same UUID in another case is the same event. */
    const json_t *v = json_object_get(obj, "event_id");
    if (!v) {
        tp_event__fail(err, NULL, "event_id", "is required");
        goto out;
    }
    known++;
    const char *s = json_is_string(v) ? plain_string(v) : NULL;
    if (!s || !tp_uuid_valid(s)) {
        tp_event__fail(err, NULL, "event_id", "must be a UUID (8-4-4-4-12 hex digits)");
        goto out;
    }
    for (int i = 0; i <= TP_UUID_LEN; i++)
        ev.event_id[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] | 0x20 : s[i]);

    /* type */
    v = json_object_get(obj, "type");
    if (!v) {
        tp_event__fail(err, NULL, "type", "is required");
        goto out;
    }
    known++;
    if (!json_is_string(v)) {
        tp_event__fail(err, NULL, "type", "must be a string");
        goto out;
    }
    s = plain_string(v);
    if (!s || tp_event_type_from_name(s, &ev.type) != 0) {
        char quoted[65];
        tp_event__copy_utf8(quoted, sizeof quoted, s ? s : "");
        tp_event__fail(err, NULL, "type", "unknown event type '%s'", quoted);
        goto out;
    }

    /* tenant_id */
    v = json_object_get(obj, "tenant_id");
    if (!v) {
        tp_event__fail(err, NULL, "tenant_id", "is required");
        goto out;
    }
    known++;
    if (check_id(v, "tenant_id", ev.tenant_id, err))
        goto out;

    /* user_id: required for user-scoped types, absent or null for tenant-level ones. */
    v = json_object_get(obj, "user_id");
    if (v)
        known++;
    if (tp_event_type_has_user(ev.type)) {
        if (!v || json_is_null(v)) {
            tp_event__fail(err, NULL, "user_id", "is required for %s", types[ev.type].name);
            goto out;
        }
        if (check_id(v, "user_id", ev.user_id, err))
            goto out;
    } else if (v && !json_is_null(v)) {
        tp_event__fail(err, NULL, "user_id", "must be absent or null for %s", types[ev.type].name);
        goto out;
    }

    /* occurred_at */
    v = json_object_get(obj, "occurred_at");
    if (!v) {
        tp_event__fail(err, NULL, "occurred_at", "is required");
        goto out;
    }
    known++;
    s = json_is_string(v) ? plain_string(v) : NULL;
    if (!s || tp_rfc3339_parse(s, &ev.occurred_at_ms) != 0) {
        tp_event__fail(err, NULL, "occurred_at",
                       "must be an RFC 3339 timestamp with Z or an offset, e.g. 2026-11-22T14:03:00Z");
        goto out;
    }
    if (ev.occurred_at_ms < OCCURRED_MIN_MS) {
        tp_event__fail(err, NULL, "occurred_at", "is before 2000-01-01");
        goto out;
    }
    /* Written so that no now_ms, however odd, can overflow the sum. */
    if (now_ms < INT64_MAX - TP_EVENT_MAX_FUTURE_MS && ev.occurred_at_ms > now_ms + TP_EVENT_MAX_FUTURE_MS) {
        tp_event__fail(err, NULL, "occurred_at", "is more than 5 minutes in the future");
        goto out;
    }

    /* attributes */
    v = json_object_get(obj, "attributes");
    if (v)
        known++;
    if (tp_event__check_attributes(ev.type, v, err))
        goto out;
    ev.attributes = v;

    /* Unknown envelope keys: only walk the object when the count says there is one. */
    if (json_object_size(obj) > known) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)obj, key, val) {
            if (!is_envelope_key(key)) {
                tp_event__fail(err, NULL, key,
                               "is not an envelope field (allowed: event_id, type, tenant_id, user_id, "
                               "occurred_at, attributes)");
                goto out;
            }
        }
        /* The count disagrees but every key looked known: a key with an embedded NUL
         * (possible in objects built with json_object_setn) shadows a known name. */
        tp_event__fail(err, NULL, "", "has a key containing a NUL character");
        goto out;
    }

    if (out)
        *out = ev;
    rc = 0;
out:
    return rc;
}

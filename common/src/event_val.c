/* event_val.c — the two sources validation reads values from (see event_priv.h): a jansson
 * tree, or text tp_jscan checked. Nothing here decides what is valid; event.c and
 * event_attrs.c do, once, for both. */
#include "event_priv.h"

#include <string.h>

tp_json_kind tp_event__kind(ev_val v)
{
    if (!v.j)
        return tp_jvalue_kind(v.t);
    switch (json_typeof(v.j)) {
    case JSON_OBJECT: return TP_JSON_OBJECT;
    case JSON_ARRAY: return TP_JSON_ARRAY;
    case JSON_STRING: return TP_JSON_STRING;
    case JSON_INTEGER: return TP_JSON_INTEGER;
    case JSON_REAL: return TP_JSON_REAL;
    case JSON_TRUE: return TP_JSON_TRUE;
    case JSON_FALSE: return TP_JSON_FALSE;
    default: return TP_JSON_NULL;
    }
}

static size_t utf8_codepoints(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t k = 0; k < n; k++)
        c += ((unsigned char)s[k] & 0xC0) != 0x80;
    return c;
}

int tp_event__string(ev_val v, char *out, size_t cap, size_t *len, size_t *codepoints)
{
    if (!tp_event__present(v) || tp_event__kind(v) != TP_JSON_STRING)
        return 0;
    if (!v.j) { /* the checker refused \u0000, so text strings never hold a NUL */
        size_t n = tp_jvalue_string(v.t, out, cap, codepoints);
        if (len)
            *len = n;
        return 1;
    }
    const char *s = json_string_value(v.j);
    size_t n = json_string_length(v.j);
    if (strlen(s) != n)
        return 0;
    if (cap)
        tp_event__copy_utf8(out, cap, s);
    if (len)
        *len = n;
    if (codepoints)
        *codepoints = utf8_codepoints(s, n);
    return 1;
}

long long tp_event__integer(ev_val v)
{
    return v.j ? (long long)json_integer_value(v.j) : tp_jvalue_integer(v.t);
}

double tp_event__number(ev_val v)
{
    return v.j ? json_number_value(v.j) : tp_jvalue_real(v.t);
}

void tp_event__iter_init(ev_iter *it, ev_val obj)
{
    memset(it, 0, sizeof *it);
    it->obj = obj;
    if (obj.j)
        it->jit = json_object_iter((json_t *)obj.j);
    else
        tp_jiter_init(&it->tit, obj.t);
}

int tp_event__iter_next(ev_iter *it, char *key, size_t cap, size_t *key_len, int *key_nul, ev_val *val)
{
    memset(val, 0, sizeof *val);
    *key_nul = 0;
    if (it->obj.j) {
        if (!it->jit)
            return 0;
        const char *k = json_object_iter_key(it->jit);
        size_t n = json_object_iter_key_len(it->jit);
        *key_nul = strlen(k) != n;
        tp_event__copy_utf8(key, cap, k);
        *key_len = n;
        val->j = json_object_iter_value(it->jit);
        it->jit = json_object_iter_next((json_t *)it->obj.j, it->jit);
        return 1;
    }
    tp_jvalue k;
    if (!tp_jiter_next(&it->tit, &k, &val->t))
        return 0;
    *key_len = tp_jvalue_string(k, key, cap, NULL);
    return 1;
}

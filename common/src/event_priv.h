/* event_priv.h — what the parts of the event module share (event.c, event_attrs.c,
 * event_time.c). Not installed, not for other modules: the public contract is tp/event.h. */
#ifndef TP_EVENT_PRIV_H
#define TP_EVENT_PRIV_H

#include "tp/event.h"
#include "tp/jscan.h"

/* One JSON value as validation sees it, from either source: a jansson tree
 * (tp_event_validate) or text tp_jscan checked (tp_event_validate_text). The rules are written
 * once, against these accessors (event_val.c), so both sources validate identically. Absent:
 * j == NULL and t.p == NULL. */
typedef struct ev_val {
    const json_t *j;
    tp_jvalue t;
} ev_val;

static inline int tp_event__present(ev_val v)
{
    return v.j != NULL || v.t.p != NULL;
}
tp_json_kind tp_event__kind(ev_val v); /* only for a present value */
/* 1 if v is a string without an embedded NUL. Then out (cap bytes, may be 0) holds it
 * NUL-terminated, cut at a character boundary if longer; *len (NULL-safe) its full length in
 * bytes and *codepoints (NULL-safe) in code points. */
int tp_event__string(ev_val v, char *out, size_t cap, size_t *len, size_t *codepoints);
long long tp_event__integer(ev_val v); /* kind TP_JSON_INTEGER */
double tp_event__number(ev_val v);     /* kind TP_JSON_INTEGER or TP_JSON_REAL */

/* Members of an object value, in document (insertion) order. */
typedef struct ev_iter {
    ev_val obj;
    void *jit;
    tp_jiter tit;
} ev_iter;
void tp_event__iter_init(ev_iter *it, ev_val obj);
/* 1 and the next member: its key decoded into key (cap bytes, cut like tp_event__string),
 * *key_len the full length, *key_nul set if the key holds a NUL (only jansson objects built in
 * code can); 0 at the end. */
int tp_event__iter_next(ev_iter *it, char *key, size_t cap, size_t *key_len, int *key_nul, ev_val *val);

/* Fill err (NULL-safe): field is prefix followed by name (either may be NULL), message is
 * printf-formatted. Both are truncated at a UTF-8 character boundary, so an error built from
 * a client's key or value can always be re-encoded as JSON. Returns TP_EINVAL. */
int tp_event__fail(tp_event_error *err, const char *prefix, const char *name, const char *fmt, ...)
    TP_PRINTF(4, 5);

/* Copy at most cap-1 bytes of src into dst without splitting a UTF-8 sequence; "…" is not
 * added. Used to quote client text (a type name) inside a message. */
void tp_event__copy_utf8(char *dst, size_t cap, const char *src);

/* Check the attributes of an event of type t. attrs is the value of the "attributes" key,
 * absent when the key is. Returns 0 or TP_EINVAL with err filled. Checks run in catalog order,
 * then unknown keys (in document order). Never allocates. */
int tp_event__check_attributes(tp_event_type t, ev_val attrs, tp_event_error *err);

#endif

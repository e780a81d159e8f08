/* event_priv.h — what the parts of the event module share (event.c, event_attrs.c,
 * event_time.c). Not installed, not for other modules: the public contract is tp/event.h. */
#ifndef TP_EVENT_PRIV_H
#define TP_EVENT_PRIV_H

#include "tp/event.h"

/* Fill err (NULL-safe): field is prefix followed by name (either may be NULL), message is
 * printf-formatted. Both are truncated at a UTF-8 character boundary, so an error built from
 * a client's key or value can always be re-encoded as JSON. Returns TP_EINVAL. */
int tp_event__fail(tp_event_error *err, const char *prefix, const char *name, const char *fmt, ...)
    TP_PRINTF(4, 5);

/* Copy at most cap-1 bytes of src into dst without splitting a UTF-8 sequence; "…" is not
 * added. Used to quote client text (a type name) inside a message. */
void tp_event__copy_utf8(char *dst, size_t cap, const char *src);

/* Check the attributes of an event of type t. attrs is the value of the "attributes" key,
 * NULL when absent. Borrows attrs. Returns 0 or TP_EINVAL with err filled. Checks run in
 * catalog order, then unknown keys (in document order). Never allocates. */
int tp_event__check_attributes(tp_event_type t, const json_t *attrs, tp_event_error *err);

#endif

/* events_body.h — turning a POST /v1/events body into a list of candidate events
 * (routes_events_body.c). Pure: no I/O, so it is easy to test and to fuzz.
 *
 * A JSON body is one object (a batch of one) or an array of them. An NDJSON body holds one
 * JSON value per line; lines of only whitespace are skipped, "\r\n" endings are accepted, and
 * a line that is not JSON becomes an item with raw == NULL and a message naming the byte
 * offset in the whole body (the request goes on with the other lines).
 *
 * The body is checked by tp_jscan (tp/jscan.h), which accepts exactly what jansson accepts but
 * builds no tree: items are byte spans of checked JSON, validated in place with
 * tp_event_validate_text. Offsets name the first byte that cannot be part of valid JSON. */
#ifndef TP_EVENTS_BODY_H
#define TP_EVENTS_BODY_H

#include <stddef.h>

struct body_item {
    const char *raw;  /* one checked JSON value: the event's bytes as sent, inside the body (not
                         NUL-terminated), without surrounding whitespace; NULL for an NDJSON
                         line that is not JSON */
    size_t raw_len;
    int spaced;       /* raw holds whitespace outside strings (body_item_compact squeezes it) */
    char error[160];  /* why raw is NULL */
};

struct body_batch {
    struct body_item *items; /* owned; the spans borrow the body */
    size_t n;
};

enum body_status {
    BODY_OK = 0,
    BODY_MALFORMED, /* the JSON body does not parse: error_offset, error */
    BODY_EMPTY,     /* no event at all */
    BODY_TOO_MANY,  /* more than max_events: the walk stops at the first one too many */
    BODY_NOMEM,
};

struct body_error {
    size_t offset;
    char message[160];
};

/* Parse body (len bytes, need not be NUL-terminated) as JSON or NDJSON into out. On BODY_OK
 * the caller frees out with body_batch_free; on any other status out is left empty. */
enum body_status body_parse(const char *body, size_t len, int ndjson, size_t max_events, struct body_batch *out,
                            struct body_error *err);
void body_batch_free(struct body_batch *b); /* NULL-safe, leaves it empty */

/* Copy one item's raw bytes to out (room for raw_len bytes) without the whitespace outside
 * strings, so a pretty-printed event becomes one NDJSON-safe line while numbers, escapes and
 * key order stay exactly as sent. Returns the length written. */
size_t body_item_compact(const struct body_item *it, char *out);

#endif

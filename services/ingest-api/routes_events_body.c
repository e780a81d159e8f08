/* routes_events_body.c — JSON / NDJSON request bodies into candidate events (see events_body.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_body.h"

/* Duplicate keys are refused: the event we validate must be exactly the one we store, and a
 * reader downstream that kept the other duplicate would see a different event. */
#define BODY_JSON_FLAGS JSON_REJECT_DUPLICATES

void body_batch_free(struct body_batch *b)
{
    if (!b)
        return;
    json_decref(b->root);
    free(b->items);
    memset(b, 0, sizeof *b);
}

static enum body_status parse_json(const char *body, size_t len, size_t max_events, struct body_batch *out,
                                   struct body_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, BODY_JSON_FLAGS, &jerr);
    if (!root) {
        err->offset = jerr.position < 0 ? 0 : (size_t)jerr.position;
        snprintf(err->message, sizeof err->message, "%s", jerr.text);
        return BODY_MALFORMED;
    }
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    if (n == 0) {
        json_decref(root);
        return BODY_EMPTY;
    }
    if (n > max_events) {
        json_decref(root);
        return BODY_TOO_MANY;
    }
    out->items = calloc(n, sizeof *out->items);
    if (!out->items) {
        json_decref(root);
        return BODY_NOMEM;
    }
    out->root = root;
    out->n = n;
    if (json_is_array(root))
        for (size_t i = 0; i < n; i++)
            out->items[i].v = json_array_get(root, i);
    else
        out->items[0].v = root;
    return BODY_OK;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static enum body_status parse_ndjson(const char *body, size_t len, size_t max_events, struct body_batch *out)
{
    size_t cap = 0, n = 0;
    json_t *root = json_array();
    if (!root)
        return BODY_NOMEM;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(body + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - body) : len;
        size_t llen = end - pos;
        const char *line = body + pos;
        size_t start = pos;
        pos = end + 1;
        if (blank(line, llen))
            continue;
        if (n == max_events) {
            free(out->items);
            out->items = NULL;
            json_decref(root);
            return BODY_TOO_MANY;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct body_item *items = realloc(out->items, ncap * sizeof *items);
            if (!items)
                goto nomem;
            out->items = items;
            cap = ncap;
        }
        struct body_item *it = &out->items[n++];
        memset(it, 0, sizeof *it);
        json_error_t jerr;
        /* Any JSON value parses here; a line that is JSON but no object is then rejected by
         * validation like any other non-object event. */
        json_t *v = json_loadb(line, llen, BODY_JSON_FLAGS | JSON_DECODE_ANY, &jerr);
        if (!v) {
            size_t off = start + (jerr.position < 0 ? 0 : (size_t)jerr.position);
            snprintf(it->error, sizeof it->error, "is not JSON (byte offset %zu: %.100s)", off, jerr.text);
            continue;
        }
        if (json_array_append_new(root, v) != 0)
            goto nomem;
        it->v = v; /* the array holds the reference */
    }
    if (n == 0) {
        json_decref(root);
        free(out->items);
        out->items = NULL;
        return BODY_EMPTY;
    }
    out->root = root;
    out->n = n;
    return BODY_OK;
nomem:
    free(out->items);
    out->items = NULL;
    json_decref(root);
    return BODY_NOMEM;
}

enum body_status body_parse(const char *body, size_t len, int ndjson, size_t max_events, struct body_batch *out,
                            struct body_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    return ndjson ? parse_ndjson(body, len, max_events, out) : parse_json(body, len, max_events, out, err);
}

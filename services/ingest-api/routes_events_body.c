/* routes_events_body.c — JSON / NDJSON request bodies into candidate events (see events_body.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_body.h"

/* Duplicate keys are refused: the event we validate must be exactly the one we store, and a
 * reader downstream that kept the other duplicate would see a different event. */
#define BODY_JSON_FLAGS JSON_REJECT_DUPLICATES

/* jansson turns two bytes of "{}" into ~200 bytes of object, so a 1 MiB body could cost
 * ~70 MiB before the event count is even known. A scan first counts what parsing would
 * build: top-level elements (events) and JSON values (containers plus commas, an upper bound
 * of scalars). A valid event holds about 10 values; BODY_VALUES_PER_EVENT leaves room for
 * invalid ones that should still get their per-event error. */
#define BODY_VALUES_PER_EVENT 64

struct body_shape {
    size_t events; /* top-level array elements (JSON), non-blank lines (NDJSON) */
    size_t values; /* containers + commas outside strings */
};

/* Where a scan is relative to JSON strings. */
struct str_state {
    int in, esc;
};

/* Advance st over c; 1 when c belongs to a string (its quotes included). */
static int str_step(struct str_state *st, char c)
{
    if (st->in) {
        if (st->esc)
            st->esc = 0;
        else if (c == '\\')
            st->esc = 1;
        else if (c == '"')
            st->in = 0;
        return 1;
    }
    st->in = c == '"';
    return st->in;
}

/* Strings cannot span lines in JSON, so an NDJSON line always starts outside a string: a
 * line that is not JSON does not hide the structure of the next. */
static void body_scan(const char *p, size_t len, int ndjson, struct body_shape *sh)
{
    struct str_state str = {0, 0};
    int line_blank = 1;
    size_t depth = 0;
    int top_array = 0;
    sh->events = sh->values = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (ndjson && c == '\n') {
            str.in = str.esc = 0;
            depth = 0;
            line_blank = 1;
            continue;
        }
        if (ndjson && line_blank && c != ' ' && c != '\t' && c != '\r') {
            line_blank = 0;
            sh->events++;
        }
        if (str_step(&str, c))
            continue;
        switch (c) {
        case '{':
        case '[':
            if (!ndjson && depth == 0 && c == '[' && sh->values == 0)
                top_array = 1;
            if (!ndjson && depth == 1 && top_array && sh->events == 0)
                sh->events = 1;
            depth++;
            sh->values++;
            break;
        case '}':
        case ']':
            if (depth)
                depth--;
            break;
        case ',':
            sh->values++;
            if (!ndjson && depth == 1 && top_array)
                sh->events++;
            break;
        default:
            if (!ndjson && depth == 1 && top_array && sh->events == 0 && c != ' ' && c != '\t' && c != '\r' &&
                c != '\n')
                sh->events = 1; /* a scalar first element */
            break;
        }
    }
    if (!ndjson && !top_array)
        sh->events = 1;
}

void body_batch_free(struct body_batch *b)
{
    if (!b)
        return;
    json_decref(b->root);
    free(b->items);
    memset(b, 0, sizeof *b);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void trim(const char *p, size_t n, const char **out, size_t *out_len)
{
    while (n && is_ws(*p))
        p++, n--;
    while (n && is_ws(p[n - 1]))
        n--;
    *out = p;
    *out_len = n;
}

/* The byte span of each element of a top-level array that jansson has already accepted, so
 * the scan can trust the syntax. Returns how many spans it found. */
static size_t array_spans(const char *p, size_t len, struct body_item *items, size_t n)
{
    size_t i = 0, depth = 0, start = 0;
    struct str_state str = {0, 0};
    for (size_t k = 0; k < len && i < n; k++) {
        char c = p[k];
        if (str_step(&str, c))
            continue;
        if (c == '[' || c == '{') {
            if (++depth == 1)
                start = k + 1;
        } else if (c == ']' || c == '}' || c == ',') {
            if (depth == 1 && c != '}') {
                trim(p + start, k - start, &items[i].raw, &items[i].raw_len);
                i++;
                start = k + 1;
            }
            if (c != ',')
                depth--;
        }
    }
    return i;
}

size_t body_item_compact(const struct body_item *it, char *out)
{
    size_t o = 0;
    struct str_state str = {0, 0};
    for (size_t k = 0; k < it->raw_len; k++) {
        char c = it->raw[k];
        if (str_step(&str, c) || !is_ws(c))
            out[o++] = c;
    }
    return o;
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
    if (json_is_array(root)) {
        for (size_t i = 0; i < n; i++)
            out->items[i].v = json_array_get(root, i);
        if (array_spans(body, len, out->items, n) != n) {
            body_batch_free(out); /* cannot happen for a body jansson accepted */
            return BODY_NOMEM;
        }
    } else {
        out->items[0].v = root;
        trim(body, len, &out->items[0].raw, &out->items[0].raw_len);
    }
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
        trim(line, llen, &it->raw, &it->raw_len);
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
    struct body_shape sh;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    body_scan(body, len, ndjson, &sh);
    /* Counts may over-estimate for a body that would not parse; such a body is refused as
     * too large rather than malformed, which is still the truth about its size. */
    if (sh.events > max_events || sh.values > BODY_VALUES_PER_EVENT * (max_events ? max_events : 1))
        return BODY_TOO_MANY;
    return ndjson ? parse_ndjson(body, len, max_events, out) : parse_json(body, len, max_events, out, err);
}

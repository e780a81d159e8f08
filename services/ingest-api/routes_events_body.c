/* routes_events_body.c — JSON / NDJSON request bodies into candidate events (see events_body.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_body.h"
#include "tp/jscan.h"

/* Duplicate keys are refused (tp_jscan does, in every object): the event we validate must be
 * exactly the one we store, and a reader downstream that kept the other duplicate would see a
 * different event. Checking allocates nothing per value, so a body's cost is bounded by its
 * 1 MiB size; only the event count needs a limit, and the walk stops at the first event past
 * it. */

void body_batch_free(struct body_batch *b)
{
    if (!b)
        return;
    free(b->items);
    memset(b, 0, sizeof *b);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

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

size_t body_item_compact(const struct body_item *it, char *out)
{
    if (!it->spaced) {
        memcpy(out, it->raw, it->raw_len);
        return it->raw_len;
    }
    size_t o = 0;
    struct str_state str = {0, 0};
    for (size_t k = 0; k < it->raw_len; k++) {
        char c = it->raw[k];
        if (str_step(&str, c) || !is_ws(c))
            out[o++] = c;
    }
    return o;
}

/* Room for one more item (doubling from 8; a batch of one needs no more). */
static int add_item(struct body_batch *b, size_t *cap)
{
    if (b->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct body_item *items = realloc(b->items, ncap * sizeof *items);
        if (!items)
            return -1;
        b->items = items;
        *cap = ncap;
    }
    memset(&b->items[b->n], 0, sizeof b->items[0]);
    b->n++;
    return 0;
}

static enum body_status malformed(struct body_error *err, size_t off, const char *msg)
{
    err->offset = off;
    snprintf(err->message, sizeof err->message, "%s", msg);
    return BODY_MALFORMED;
}

/* One value at *pos into a new item. */
static enum body_status take_value(tp_jscan *js, const char *body, size_t len, size_t *pos, int top,
                                   struct body_batch *out, size_t *cap, struct body_error *err)
{
    tp_jscan_error jerr;
    size_t start = tp_jscan_skip_ws(body, len, *pos);
    int rc = tp_jscan_value(js, body, len, pos, top, &jerr);
    if (rc == TP_ENOMEM)
        return BODY_NOMEM;
    if (rc)
        return malformed(err, jerr.offset, jerr.message);
    if (add_item(out, cap))
        return BODY_NOMEM;
    struct body_item *it = &out->items[out->n - 1];
    it->raw = body + start;
    it->raw_len = *pos - start;
    it->spaced = js->ws > 0;
    return BODY_OK;
}

/* A JSON body: one object, or an array whose elements are walked one by one (so each element's
 * span comes from the check itself, and a 501st element stops the walk). */
static enum body_status walk_json(tp_jscan *js, const char *body, size_t len, size_t max_events,
                                  struct body_batch *out, struct body_error *err)
{
    size_t cap = 0, pos = tp_jscan_skip_ws(body, len, 0);
    enum body_status st;
    if (pos >= len || (body[pos] != '[' && body[pos] != '{'))
        return malformed(err, pos, "'[' or '{' expected");
    if (body[pos] == '{') {
        if ((st = take_value(js, body, len, &pos, 1, out, &cap, err)) != BODY_OK)
            return st;
    } else {
        js->base_depth = 1; /* elements sit inside the array, as jansson counts depth */
        pos = tp_jscan_skip_ws(body, len, pos + 1);
        if (pos < len && body[pos] == ']') {
            pos++;
        } else {
            for (;;) {
                if (out->n == max_events)
                    return BODY_TOO_MANY;
                if ((st = take_value(js, body, len, &pos, 0, out, &cap, err)) != BODY_OK)
                    return st;
                pos = tp_jscan_skip_ws(body, len, pos);
                if (pos < len && body[pos] == ',') {
                    pos++;
                    continue;
                }
                if (pos < len && body[pos] == ']') {
                    pos++;
                    break;
                }
                return malformed(err, pos, "',' or ']' expected");
            }
        }
    }
    pos = tp_jscan_skip_ws(body, len, pos);
    if (pos < len)
        return malformed(err, pos, "end of input expected after the JSON value");
    return out->n ? BODY_OK : BODY_EMPTY;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

/* NDJSON: any JSON value is accepted on a line (a line that is JSON but no object is then
 * rejected by validation like any other non-object event); a line that is not JSON becomes an
 * error item and the others go on. */
static enum body_status walk_ndjson(tp_jscan *js, const char *body, size_t len, size_t max_events,
                                    struct body_batch *out)
{
    size_t cap = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(body + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - body) : len;
        size_t start = pos;
        pos = end + 1;
        if (blank(body + start, end - start))
            continue;
        if (out->n == max_events)
            return BODY_TOO_MANY;
        if (add_item(out, &cap))
            return BODY_NOMEM;
        struct body_item *it = &out->items[out->n - 1];
        tp_jscan_error jerr;
        size_t vpos = 0, llen = end - start;
        const char *line = body + start;
        size_t vstart = tp_jscan_skip_ws(line, llen, 0);
        int rc = tp_jscan_value(js, line, llen, &vpos, 0, &jerr);
        if (rc == TP_ENOMEM)
            return BODY_NOMEM;
        if (rc == 0 && tp_jscan_skip_ws(line, llen, vpos) < llen) {
            jerr.offset = tp_jscan_skip_ws(line, llen, vpos);
            snprintf(jerr.message, sizeof jerr.message, "end of line expected after the JSON value");
            rc = TP_EINVAL;
        }
        if (rc) {
            snprintf(it->error, sizeof it->error, "is not JSON (byte offset %zu: %.100s)", start + jerr.offset,
                     jerr.message);
            continue;
        }
        it->raw = line + vstart;
        it->raw_len = vpos - vstart;
        it->spaced = js->ws > 0;
    }
    return out->n ? BODY_OK : BODY_EMPTY;
}

enum body_status body_parse(const char *body, size_t len, int ndjson, size_t max_events, struct body_batch *out,
                            struct body_error *err)
{
    tp_jscan js;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    tp_jscan_init(&js);
    enum body_status st =
        ndjson ? walk_ndjson(&js, body, len, max_events, out) : walk_json(&js, body, len, max_events, out, err);
    tp_jscan_done(&js);
    if (st != BODY_OK)
        body_batch_free(out);
    return st;
}

/* fuzz_ingest_body.c — libFuzzer harness for the POST /v1/events body splitter (events_body.h).
 *
 * The first byte picks JSON (even) or NDJSON (odd) and a small event limit, the rest is the
 * body. Besides crashes and sanitizer reports it checks the parser's promises, with jansson as
 * the reference for what is JSON: a JSON body is malformed exactly when jansson refuses it
 * (with duplicate keys refused; a NUL byte is always refused, where jansson skips some); an NDJSON line is an error item exactly when jansson refuses
 * that line; BODY_OK means 1..max items; any other status leaves the batch empty; offsets lie
 * within the body and messages are UTF-8 (ingest quotes them in JSON); each item's raw bytes lie
 * in the body and, compacted, are one line that parses to the same value as jansson's reading
 * of the item. With clang: cmake -DTP_FUZZ=ON, then ./fuzz_ingest_body -max_total_time=60
 * tests/data/ingest_body. Otherwise ctest replays tests/data/ingest_body*. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events_body.h"

#define FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

static void check_utf8(const char *s)
{
    json_t *j = json_string(s); /* NULL for invalid UTF-8 */
    if (!j)
        abort();
    json_decref(j);
}

/* An item's raw bytes lie in the body, and compacted they parse back to want. */
static void check_raw(const struct body_item *it, const char *body, size_t len, const json_t *want)
{
    if (!it->raw || it->raw < body || it->raw_len > len || (size_t)(it->raw - body) > len - it->raw_len)
        abort();
    char *buf = malloc(it->raw_len ? it->raw_len : 1);
    if (!buf)
        abort();
    size_t n = body_item_compact(it, buf);
    json_t *back = json_loadb(buf, n, FLAGS, NULL);
    if (!back || !json_equal(back, want) || memchr(buf, '\n', n))
        abort();
    json_decref(back);
    free(buf);
}

static void check_json(const struct body_batch *b, enum body_status st, const char *body, size_t len)
{
    json_t *ref = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (st == BODY_MALFORMED && ref && !memchr(body, '\0', len))
        abort(); /* refused what jansson reads (jansson skips a NUL after a number or literal; we refuse any) */
    if ((st == BODY_OK || st == BODY_EMPTY) && !ref)
        abort(); /* accepted what jansson refuses */
    if (st == BODY_OK) {
        if (json_is_array(ref) ? json_array_size(ref) != b->n : b->n != 1)
            abort();
        for (size_t i = 0; i < b->n; i++)
            check_raw(&b->items[i], body, len, json_is_array(ref) ? json_array_get(ref, i) : ref);
    }
    json_decref(ref);
}

static void check_ndjson_item(const struct body_item *it, const char *body, size_t len)
{
    if (!it->raw) {
        if (!it->error[0])
            abort();
        check_utf8(it->error);
        return;
    }
    json_t *ref = json_loadb(it->raw, it->raw_len, FLAGS, NULL);
    if (!ref)
        abort();
    check_raw(it, body, len, ref);
    json_decref(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int ndjson = data[0] & 1;
    size_t max = 1 + (data[0] >> 1) % 64;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct body_batch b;
    struct body_error e;
    enum body_status st = body_parse(body, len, ndjson, max, &b, &e);
    if (st == BODY_OK) {
        if (b.n == 0 || b.n > max || !b.items)
            abort();
    } else {
        if (b.n || b.items)
            abort();
        if (st == BODY_MALFORMED) {
            if (e.offset > len || ndjson)
                abort();
            check_utf8(e.message);
        }
    }
    if (!ndjson)
        check_json(&b, st, body, len);
    else
        for (size_t i = 0; i < b.n; i++)
            check_ndjson_item(&b.items[i], body, len);
    body_batch_free(&b);
    return 0;
}

/* fuzz_ingest_body.c — libFuzzer harness for the POST /v1/events body splitter (events_body.h).
 *
 * The first byte picks JSON (even) or NDJSON (odd) and a small event limit, the rest is the
 * body. Besides crashes and sanitizer reports it checks the parser's promises: BODY_OK means
 * 1..max items, each either a value or a non-empty UTF-8 error (ingest quotes it in JSON);
 * any other status leaves the batch empty; a malformed body's offset lies within the body;
 * each item's raw bytes lie in the body and, compacted, are one line that parses to the item.
 * With clang: cmake -DTP_FUZZ=ON, then ./fuzz_ingest_body -max_total_time=60 tests/data/ingest_body.
 * Otherwise ctest replays tests/data/ingest_body*. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events_body.h"

static void check_utf8(const char *s)
{
    json_t *j = json_string(s); /* NULL for invalid UTF-8 */
    if (!j)
        abort();
    json_decref(j);
}

/* An item's raw bytes lie in the body, and compacted they parse back to the same value. */
static void check_raw(const struct body_item *it, const char *body, size_t len)
{
    if (!it->raw || it->raw < body || it->raw_len > len || (size_t)(it->raw - body) > len - it->raw_len)
        abort();
    char *buf = malloc(it->raw_len ? it->raw_len : 1);
    if (!buf)
        abort();
    size_t n = body_item_compact(it, buf);
    json_t *back = json_loadb(buf, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (!back || !json_equal(back, it->v) || memchr(buf, '\n', n))
        abort();
    json_decref(back);
    free(buf);
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
        if (b.n == 0 || b.n > max || !b.root)
            abort();
        for (size_t i = 0; i < b.n; i++) {
            if (!b.items[i].v) {
                if (!ndjson || !b.items[i].error[0])
                    abort();
                check_utf8(b.items[i].error);
            } else {
                check_raw(&b.items[i], body, len);
            }
        }
    } else {
        if (b.n || b.items || b.root)
            abort();
        if (st == BODY_MALFORMED) {
            if (e.offset > len)
                abort();
            check_utf8(e.message);
        }
    }
    body_batch_free(&b);
    return 0;
}

/* fuzz_event.c — libFuzzer harness for the event catalog (tp_event_validate and
 * tp_event_validate_text, partition keys, tp_rfc3339_parse/format).
 *
 * clang + cmake -DTP_FUZZ=ON builds it as a libFuzzer target:
 *   ./fuzz_event -max_total_time=60 tests/data/events/valid tests/data/events/invalid
 * otherwise ctest replays tests/data/event* through it.
 *
 * Besides crashes and sanitizer reports it checks the module's promises: a rejection always
 * names a field and a message that are valid UTF-8 (ingest quotes them in JSON), an accepted
 * event has valid ids and a partition key that fits TP_PARTITION_KEY_MAX, the text path
 * (tp_jscan + tp_event_validate_text) agrees with jansson on what is JSON and with the tree
 * path on every verdict, and every timestamp the parser accepts survives format → parse at
 * millisecond precision. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp/event.h"
#include "tp/jscan.h"

#define NOW_MS 1795359600000LL /* 2026-11-22T15:00:00Z */
#define MS_MIN (-62167219200000LL)
#define MS_MAX (253402300799999LL)

static void check_utf8(const char *s)
{
    json_t *j = json_string(s); /* NULL for invalid UTF-8 */
    if (!j)
        abort();
    json_decref(j);
}

static void fuzz_validate(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!obj)
        return;
    tp_event ev;
    tp_event_error err;
    memset(&err, 0, sizeof err);
    if (tp_event_validate(obj, NOW_MS, &ev, &err) == 0) {
        if (!tp_uuid_valid(ev.event_id) || !tp_id_valid(ev.tenant_id))
            abort();
        if (tp_event_type_has_user(ev.type) != (ev.user_id[0] != '\0'))
            abort();
        if (ev.user_id[0] && !tp_id_valid(ev.user_id))
            abort();
        char key[TP_PARTITION_KEY_MAX];
        int n = tp_event_partition_key(&ev, key, sizeof key);
        if (n <= 0 || (size_t)n != strlen(key))
            abort();
        if (ev.occurred_at_ms > NOW_MS + TP_EVENT_MAX_FUTURE_MS)
            abort();
    } else {
        if (err.message[0] == '\0')
            abort();
        check_utf8(err.field);
        check_utf8(err.message);
    }
    json_decref(obj);
}

/* The text path must agree with jansson on what is JSON, and with the tree path on the verdict,
 * field, message and event. */
static void fuzz_text_agrees(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    json_t *obj = json_loadb(s, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    tp_jscan js;
    tp_jscan_error jerr;
    size_t pos = 0;
    tp_jscan_init(&js);
    int rc = tp_jscan_value(&js, s, size, &pos, 0, &jerr);
    tp_jscan_done(&js);
    if (rc == 0 && tp_jscan_skip_ws(s, size, pos) != size)
        rc = TP_EINVAL;
    /* jansson skips a NUL byte that follows a number or a literal ("[3\0]" reads as [3]); the
     * checker refuses every NUL, which is the safe side. */
    if (rc == 0 && !obj)
        abort();
    if (rc == TP_EINVAL && obj && !memchr(s, '\0', size))
        abort();
    if (obj && rc == 0) {
        tp_event a, b;
        tp_event_error ea, eb;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        memset(&ea, 0, sizeof ea);
        memset(&eb, 0, sizeof eb);
        size_t start = tp_jscan_skip_ws(s, size, 0);
        int ra = tp_event_validate(obj, NOW_MS, &a, &ea);
        int rb = tp_event_validate_text(s + start, pos - start, NOW_MS, &b, &eb);
        if (ra != rb || strcmp(ea.field, eb.field) || strcmp(ea.message, eb.message))
            abort();
        if (ra == 0 && (a.type != b.type || strcmp(a.event_id, b.event_id) || strcmp(a.tenant_id, b.tenant_id) ||
                        strcmp(a.user_id, b.user_id) || a.occurred_at_ms != b.occurred_at_ms))
            abort();
    }
    json_decref(obj);
}

static void fuzz_time(const uint8_t *data, size_t size)
{
    char buf[64];
    if (size >= sizeof buf)
        return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int64_t ms;
    if (tp_rfc3339_parse(buf, &ms) != 0)
        return;
    if (ms < MS_MIN || ms > MS_MAX)
        return; /* an offset can push an edge date outside what the format can write */
    char out[32], out2[32];
    int64_t back;
    tp_rfc3339_format(ms, out);
    if (tp_rfc3339_parse(out, &back) != 0 || back != ms)
        abort();
    tp_rfc3339_format(back, out2);
    if (strcmp(out, out2) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_validate(data, size);
    fuzz_text_agrees(data, size);
    fuzz_time(data, size);
    return 0;
}

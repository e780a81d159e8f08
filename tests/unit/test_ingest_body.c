/* test_ingest_body.c — the POST /v1/events body splitter (events_body.h): JSON object/array,
 * NDJSON lines (blank, CRLF, not JSON), limits, error offsets, and that each item keeps its
 * bytes as sent. (What the checker accepts is pinned against jansson in test_jscan.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events_body.h"

#include <jansson.h>

static enum body_status parse(const char *s, int ndjson, size_t max, struct body_batch *b)
{
    struct body_error e;
    return body_parse(s, strlen(s), ndjson, max, b, &e);
}

static void test_json_shapes(void **state)
{
    struct body_batch b;
    struct body_error e;
    (void)state;
    assert_int_equal(parse("{\"a\":1}", 0, 500, &b), BODY_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.items[0].raw[0], '{');
    body_batch_free(&b);
    assert_int_equal(parse("[{\"a\":1},{\"b\":2},3]", 0, 500, &b), BODY_OK);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.items[2].raw_len, 1);
    assert_int_equal(b.items[2].raw[0], '3');
    body_batch_free(&b);
    assert_int_equal(parse("[\"s\", 2]", 0, 500, &b), BODY_OK); /* a string first element counts */
    assert_int_equal(b.n, 2);
    body_batch_free(&b);
    assert_int_equal(parse("[]", 0, 500, &b), BODY_EMPTY);
    assert_int_equal(parse(" [ ] ", 0, 500, &b), BODY_EMPTY);
    assert_int_equal(b.n, 0);
    /* the offset names the first byte that cannot be JSON */
    assert_int_equal(body_parse("[{\"a\":1} x", 10, 0, 500, &b, &e), BODY_MALFORMED);
    assert_int_equal(e.offset, 9);
    assert_int_equal(body_parse("[{\"a\":1}", 8, 0, 500, &b, &e), BODY_MALFORMED);
    assert_int_equal(e.offset, 8); /* cut short: the end */
    assert_int_equal(parse("{} {}", 0, 500, &b), BODY_MALFORMED); /* one value only */
    assert_int_equal(parse("3", 0, 500, &b), BODY_MALFORMED);     /* an object or an array */
    assert_int_equal(parse("{\"a\":1,\"a\":2}", 0, 500, &b), BODY_MALFORMED); /* duplicate keys */
    assert_int_equal(parse("[{},{},{}]", 0, 2, &b), BODY_TOO_MANY);
    assert_int_equal(parse("[{},{}]", 0, 2, &b), BODY_OK);
    body_batch_free(&b);
    /* brackets, commas and quotes inside strings are text, not structure */
    assert_int_equal(parse("[{\"a\":\"[,,,{{\\\"]]\"}]", 0, 1, &b), BODY_OK);
    assert_int_equal(b.n, 1);
    body_batch_free(&b);
    body_batch_free(NULL);
}

static void test_ndjson_lines(void **state)
{
    struct body_batch b;
    (void)state;
    assert_int_equal(parse("{\"a\":1}\r\n\n  \t\r\n{\"b\":2}\nnope\n[1]", 1, 500, &b), BODY_OK);
    assert_int_equal(b.n, 4);
    assert_non_null(b.items[0].raw);
    assert_non_null(b.items[1].raw);
    assert_null(b.items[2].raw);
    assert_non_null(strstr(b.items[2].error, "byte offset 23"));
    assert_int_equal(b.items[3].raw[0], '[');
    body_batch_free(&b);
    assert_int_equal(parse("\n \r\n", 1, 500, &b), BODY_EMPTY);
    assert_int_equal(parse("{}\n{}\n{}\n", 1, 2, &b), BODY_TOO_MANY);
    /* an unterminated string on one line does not hide the next line's structure */
    assert_int_equal(parse("\"abc\n{}\n", 1, 500, &b), BODY_OK);
    assert_int_equal(b.n, 2);
    assert_null(b.items[0].raw);
    assert_non_null(b.items[1].raw);
    body_batch_free(&b);
}

static char *filler(const char *open, const char *unit, const char *close, size_t total)
{
    char *s = malloc(total + 1);
    size_t k = strlen(open), u = strlen(unit);
    assert_non_null(s);
    memcpy(s, open, k);
    while (k + u + strlen(close) < total) {
        memcpy(s + k, unit, u);
        k += u;
    }
    if (k && s[k - 1] == ',')
        k--;
    strcpy(s + k, close);
    return s;
}

/* 1 MiB bodies of tiny values: too many events are refused as soon as the 501st starts; one
 * event holding 350k values is simply checked (nothing is built per value) and left to
 * validation; a huge object with repeated keys is malformed. */
static void test_big_bodies(void **state)
{
    struct body_batch b;
    (void)state;
    struct {
        const char *open, *unit, *close;
        int ndjson;
        enum body_status want;
    } cases[] = {
        {"[", "{},", "]", 0, BODY_TOO_MANY},
        {"[", "1,", "]", 0, BODY_TOO_MANY},
        {"", "{}\n", "", 1, BODY_TOO_MANY},
        {"{\"attributes\":[", "{},", "]}", 0, BODY_OK},
        {"{\"attributes\":{\"k\":[", "[],", "]}}", 1, BODY_OK},
        {"{\"attributes\":{", "\"k\":0,", "}}", 0, BODY_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = filler(cases[i].open, cases[i].unit, cases[i].close, 1024 * 1024);
        enum body_status st = parse(s, cases[i].ndjson, 500, &b);
        if (st != cases[i].want)
            fail_msg("case %zu: status %d, want %d", i, st, cases[i].want);
        assert_int_equal(b.n, st == BODY_OK ? 1 : 0);
        body_batch_free(&b);
        free(s);
    }
}

/* A full legitimate batch stays within the budget. */
static void test_full_batch_fits(void **state)
{
    (void)state;
    const char *ev = "{\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"type\":\"job.submitted\","
                     "\"tenant_id\":\"t1\",\"user_id\":\"u1\",\"occurred_at\":\"2026-01-01T00:00:00Z\","
                     "\"attributes\":{\"job_id\":\"j\",\"servers\":4,\"data_size_bytes\":1,\"a\":1,\"b\":2,"
                     "\"c\":3,\"d\":4,\"e\":5,\"f\":6}}";
    size_t el = strlen(ev);
    char *s = malloc(500 * (el + 1) + 3);
    assert_non_null(s);
    size_t k = 0;
    s[k++] = '[';
    for (int i = 0; i < 500; i++) {
        memcpy(s + k, ev, el);
        k += el;
        s[k++] = ',';
    }
    s[k - 1] = ']';
    s[k] = '\0';
    struct body_batch b;
    assert_int_equal(parse(s, 0, 500, &b), BODY_OK);
    assert_int_equal(b.n, 500);
    body_batch_free(&b);
    for (size_t i = 0; i < k; i++)
        if (s[i] == ',' && s[i + 1] == '{' && s[i - 1] == '}' && s[i - 2] == '}')
            s[i] = '\n';
    s[0] = ' ';
    s[k - 1] = '\n';
    assert_int_equal(parse(s, 1, 500, &b), BODY_OK);
    assert_int_equal(b.n, 500);
    body_batch_free(&b);
    free(s);
}

/* Error texts quote client bytes and go into JSON answers: they must be valid UTF-8 even when
 * jansson's quote or our truncation cuts a multi-byte character. */
static void assert_utf8(const char *s)
{
    json_t *j = json_string(s); /* NULL for invalid UTF-8 */
    if (!j)
        fail_msg("not UTF-8: %s", s);
    json_decref(j);
}

static void test_errors_are_utf8(void **state)
{
    struct body_batch b;
    struct body_error e;
    char line[600];
    (void)state;
    for (int pad = 0; pad < 4; pad++) {
        size_t k = 0;
        memcpy(line, "[\"", 2);
        k = 2;
        for (int i = 0; i < pad; i++)
            line[k++] = 'x';
        for (int i = 0; i < 120; i++) {
            memcpy(line + k, "\xc3\xa9", 2); /* é */
            k += 2;
        }
        line[k] = '\0';
        assert_int_equal(parse(line, 1, 500, &b), BODY_OK);
        assert_null(b.items[0].raw);
        assert_utf8(b.items[0].error);
        body_batch_free(&b);
        assert_int_equal(body_parse(line, k, 0, 500, &b, &e), BODY_MALFORMED);
        assert_utf8(e.message);
    }
    /* raw invalid bytes */
    const char bad[] = "[\"a\xff\xfe\"]";
    assert_int_equal(body_parse(bad, sizeof bad - 1, 0, 500, &b, &e), BODY_MALFORMED);
    assert_utf8(e.message);
    assert_int_equal(parse("\xff\xfe{}", 1, 500, &b), BODY_OK);
    assert_utf8(b.items[0].error);
    body_batch_free(&b);
}

/* Each item keeps its bytes as sent; compacting drops only whitespace outside strings. */
static void expect_raw(const struct body_item *it, const char *want_raw, const char *want_compact)
{
    char buf[256];
    assert_non_null(it->raw);
    assert_int_equal(it->raw_len, strlen(want_raw));
    assert_memory_equal(it->raw, want_raw, it->raw_len);
    size_t n = body_item_compact(it, buf);
    assert_true(n <= it->raw_len);
    buf[n] = '\0';
    assert_string_equal(buf, want_compact);
}

static void test_raw_spans(void **state)
{
    struct body_batch b;
    (void)state;
    /* numbers and escapes that a re-serialisation would rewrite, nested arrays, "]" and "," in strings */
    assert_int_equal(parse(" [ {\"s\": 0.1, \"n\":1e3} ,\n {\"u\":\"caf\\u00e9 ],\\\" x\", \"a\":[1, [2]]},7 ] ", 0, 500, &b),
                     BODY_OK);
    assert_int_equal(b.n, 3);
    expect_raw(&b.items[0], "{\"s\": 0.1, \"n\":1e3}", "{\"s\":0.1,\"n\":1e3}");
    expect_raw(&b.items[1], "{\"u\":\"caf\\u00e9 ],\\\" x\", \"a\":[1, [2]]}", "{\"u\":\"caf\\u00e9 ],\\\" x\",\"a\":[1,[2]]}");
    expect_raw(&b.items[2], "7", "7");
    body_batch_free(&b);

    /* a single pretty-printed object becomes one line */
    assert_int_equal(parse("\n{\n  \"k\" : \"a b\",\r\n  \"v\" : -0.5E-2\n}\n", 0, 500, &b), BODY_OK);
    assert_int_equal(b.n, 1);
    expect_raw(&b.items[0], "{\n  \"k\" : \"a b\",\r\n  \"v\" : -0.5E-2\n}", "{\"k\":\"a b\",\"v\":-0.5E-2}");
    body_batch_free(&b);

    /* NDJSON: each line, trimmed (CRLF too); a line that is not JSON has no bytes to store */
    assert_int_equal(parse("  {\"a\": 1}\r\nnope\n\t[ 1 ,2 ]  \n", 1, 500, &b), BODY_OK);
    assert_int_equal(b.n, 3);
    expect_raw(&b.items[0], "{\"a\": 1}", "{\"a\":1}");
    assert_null(b.items[1].raw);
    expect_raw(&b.items[2], "[ 1 ,2 ]", "[1,2]");
    body_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_shapes),
        cmocka_unit_test(test_raw_spans),
        cmocka_unit_test(test_ndjson_lines),
        cmocka_unit_test(test_big_bodies),
        cmocka_unit_test(test_full_batch_fits),
        cmocka_unit_test(test_errors_are_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

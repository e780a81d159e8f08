/* test_jscan.c — the strict JSON checker and readers (tp/jscan.h). Every text in the table is
 * also given to jansson (json_loadb with JSON_REJECT_DUPLICATES, plus JSON_DECODE_ANY for a bare
 * value): the checker must accept exactly what jansson accepts, since ingest-api stores what the
 * checker passes and jansson-based consumers read it. Offsets, decoding and the big-object
 * duplicate path are pinned separately. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/jscan.h"

static int jscan_ok(const char *s, size_t len, int top, tp_jscan_error *err)
{
    tp_jscan js;
    size_t pos = 0;
    tp_jscan_init(&js);
    int rc = tp_jscan_value(&js, s, len, &pos, top, err);
    tp_jscan_done(&js);
    if (rc == 0 && tp_jscan_skip_ws(s, len, pos) != len) {
        err->offset = pos;
        rc = TP_EINVAL;
    }
    assert_true(rc == 0 || rc == TP_EINVAL);
    return rc == 0;
}

static int jansson_ok(const char *s, size_t len, int top)
{
    json_error_t e;
    json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES | (top ? 0 : JSON_DECODE_ANY), &e);
    json_decref(j);
    return j != NULL;
}

static const char *const texts[] = {
    /* containers and whitespace */
    "{}", "[]", " \t\r\n{ } ", "[1, 2 ,3]", "{\"a\":{\"b\":[{}]}}", "[", "]", "{", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
    "{\"a\":1,}", "[1,]", "[,1]", "{,}", "{1:2}", "{'a':1}", "[1 2]", "{} x", "[]]", "",
    /* literals */
    "[true,false,null]", "[tru]", "[truex]", "[nulL]", "[True]", "[null1]",
    /* numbers */
    "[0]", "[-0]", "[01]", "[-01]", "[1.]", "[.5]", "[1.5e3]", "[1E+2]", "[1e-2]", "[1e]", "[1e+]", "[-]", "[+1]",
    "[2.5.1]", "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]", "[-9223372036854775809]",
    "[123456789012345678901234567890]", "[1e308]", "[1e309]", "[-1e309]", "[1e-400]", "[0.000001]", "[1.7976931348623157e308]",
    "[0x10]", "[Infinity]", "[NaN]", "[1_000]",
    /* strings and escapes */
    "[\"\"]", "[\"a\\\"b\"]", "[\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\x\"]", "[\"\\u00e9\"]", "[\"\\u00E9\"]", "[\"\\u00g9\"]",
    "[\"\\u00e\"]", "[\"\\u0000\"]", "[\"\\ud83d\\ude00\"]", "[\"\\ud83d\"]", "[\"\\ud83d x\"]", "[\"\\ude00\"]",
    "[\"\\ud83d\\u0041\"]", "[\"\\ud83d\\ud83d\"]", "[\"a\tb\"]", "[\"a\nb\"]", "[\"\x7f\"]", "[\"abc]", "[\"abc\\\"]",
    /* UTF-8 */
    "[\"\xc3\xa9\"]", "[\"\xe2\x82\xac\"]", "[\"\xf0\x9f\x98\x80\"]", "[\"\xc0\xaf\"]", "[\"\xc1\xbf\"]", "[\"\xe0\x80\xaf\"]",
    "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xf5\x80\x80\x80\"]", "[\"\x80\"]", "[\"\xc3\"]", "[\"\xe2\x82\"]",
    "[\"\xff\"]", "[\xc3\xa9]", "{\"\xc3\xa9\":1}",
    /* duplicates, also through escapes and in nested objects */
    "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"a\":1,\"b\":{\"a\":1}}", "{\"a\":{\"b\":1,\"b\":2}}",
    "[{\"a\":1},{\"a\":1}]", "{\"\\u00e9\":1,\"\xc3\xa9\":2}", "{\"ab\":1,\"a\\u0062\":2}", "{\"\":1,\"\":2}",
};

static void test_agrees_with_jansson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int top = 0; top <= 1; top++) {
            tp_jscan_error err = {0, {0}};
            size_t len = strlen(texts[i]);
            int a = jscan_ok(texts[i], len, top, &err), b = jansson_ok(texts[i], len, top);
            if (a != b)
                fail_msg("case %zu (top %d) %s: jscan %s, jansson %s (%s)", i, top, texts[i], a ? "accepts" : "refuses",
                         b ? "accepts" : "refuses", err.message);
            if (!a && err.offset > len)
                fail_msg("case %zu: offset %zu past the end", i, err.offset);
        }
    }
    /* an embedded NUL byte outside and inside a string */
    assert_false(jscan_ok("[1,\0]", 5, 1, &(tp_jscan_error){0, {0}}));
    assert_false(jscan_ok("[\"a\0\"]", 6, 1, &(tp_jscan_error){0, {0}}));
    assert_false(jansson_ok("[\"a\0\"]", 6, 1));
}

/* Depth: jansson allows 2048 nested values; so must we, and no more. */
static void test_depth_limit(void **state)
{
    (void)state;
    for (int depth = 2047; depth <= 2049; depth++) {
        char *s = malloc(2 * (size_t)depth + 1);
        assert_non_null(s);
        memset(s, '[', (size_t)depth);
        memset(s + depth, ']', (size_t)depth);
        s[2 * depth] = '\0';
        tp_jscan_error err;
        int a = jscan_ok(s, 2 * (size_t)depth, 1, &err), b = jansson_ok(s, 2 * (size_t)depth, 1);
        if (a != b)
            fail_msg("depth %d: jscan %d jansson %d", depth, a, b);
        free(s);
    }
}

/* Big objects go through the sorted duplicate check; the repeat is found wherever it is. */
static void test_big_objects(void **state)
{
    (void)state;
    size_t n = 5000, cap = n * 24 + 16;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int dup = 0; dup <= 1; dup++) {
        size_t k = 0;
        s[k++] = '{';
        for (size_t i = 0; i < n; i++)
            k += (size_t)snprintf(s + k, cap - k, "%s\"k%zu\":%zu", i ? "," : "", dup && i == n - 1 ? (size_t)17 : i, i);
        s[k++] = '}';
        tp_jscan_error err;
        assert_int_equal(jscan_ok(s, k, 1, &err), !dup);
        assert_int_equal(jansson_ok(s, k, 1), !dup);
        if (dup)
            assert_non_null(strstr(err.message, "duplicate"));
    }
    free(s);
}

static void test_offsets(void **state)
{
    (void)state;
    struct {
        const char *text;
        size_t offset;
    } cases[] = {
        {"[{\"event_id\": 1}, {oops}]", 19}, {"{\"a\":1 \"b\":2}", 7}, {"[1,2", 4}, {"[01]", 2},
        {"{\"a\":\"x\ty\"}", 7}, {"{\"a\":1,\"a\":2}", 7}, {"[\"\\u0000\"]", 2}, {"  x", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tp_jscan_error err;
        assert_false(jscan_ok(cases[i].text, strlen(cases[i].text), 1, &err));
        if (err.offset != cases[i].offset)
            fail_msg("case %zu %s: offset %zu, want %zu (%s)", i, cases[i].text, err.offset, cases[i].offset, err.message);
        assert_true(err.message[0] != '\0');
    }
}

static void test_readers(void **state)
{
    (void)state;
    const char *s = "{ \"s\" : \"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\", \"i\":-42 ,\"r\":2.5e1, \"o\":{\"x\":[1,{\"y\":\"}\"}]},"
                    "\"t\":true,\"n\":null, \"\\u006b\":0}";
    tp_jscan_error err;
    assert_true(jscan_ok(s, strlen(s), 1, &err));
    tp_jiter it;
    tp_jvalue k, v;
    tp_jiter_init(&it, (tp_jvalue){s, strlen(s)});
    const char *want_keys[] = {"s", "i", "r", "o", "t", "n", "k"};
    tp_json_kind want_kinds[] = {TP_JSON_STRING, TP_JSON_INTEGER, TP_JSON_REAL, TP_JSON_OBJECT, TP_JSON_TRUE,
                                 TP_JSON_NULL, TP_JSON_INTEGER};
    char buf[64];
    size_t cps;
    for (int m = 0; m < 7; m++) {
        assert_true(tp_jiter_next(&it, &k, &v));
        assert_true(tp_jvalue_string_is(k, want_keys[m], strlen(want_keys[m])));
        assert_int_equal(tp_jvalue_kind(v), want_kinds[m]);
        if (m == 0) {
            size_t n = tp_jvalue_string(v, buf, sizeof buf, &cps);
            assert_string_equal(buf, "caf\xc3\xa9 \"q\" \xf0\x9f\x98\x80");
            assert_int_equal(n, strlen(buf));
            assert_int_equal(cps, 10);
            /* cut short at a character boundary: "caf" then é would not fit whole */
            assert_int_equal(tp_jvalue_string(v, buf, 5, NULL), n);
            assert_string_equal(buf, "caf");
        }
        if (m == 1)
            assert_int_equal(tp_jvalue_integer(v), -42);
        if (m == 2)
            assert_true(tp_jvalue_real(v) == 25.0);
        if (m == 3)
            assert_int_equal(v.len, strlen("{\"x\":[1,{\"y\":\"}\"}]}"));
    }
    assert_false(tp_jiter_next(&it, &k, &v));
    tp_jiter_init(&it, (tp_jvalue){"{}", 2});
    assert_false(tp_jiter_next(&it, &k, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_jansson), cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_big_objects),         cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

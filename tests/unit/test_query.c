/* test_query.c — unit tests of the query-api's pure parts (tp_query): parameter parsing,
 * ranges and windows, cursors, CSV/JSON rendering and series filling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cursor.h"
#include "params.h"
#include "table.h"

#define JAN1_2026 1767225600000LL /* 2026-01-01T00:00:00Z in ms */

/* ------------------------------------------------------------------ times */

static void test_time_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t ms;
    } cases[] = {
        {"2026-01-01", JAN1_2026},
        {"2026-01-01T00:00:00Z", JAN1_2026},
        {"2026-01-01T10:30:15Z", JAN1_2026 + (10 * 3600 + 30 * 60 + 15) * 1000LL},
        {"2026-01-01T00:00:00.250Z", JAN1_2026 + 250},
        {"2026-01-01T00:00:00.5Z", JAN1_2026 + 500},
        {"2026-01-01T00:00:00.123456789Z", JAN1_2026 + 123},
        {"2026-01-01T02:00:00+02:00", JAN1_2026},
        {"2025-12-31T22:00:00-02:00", JAN1_2026},
        {"1970-01-01", 0},
        {"2024-02-29", 1709164800000LL},
        {"2199-12-31T23:59:59Z", 7258118399000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(tp_query_time_parse(cases[i].in, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void test_time_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",  "2026", "2026-1-01", "2026-01-1", "2026-13-01", "2026-00-10", "2026-02-29", "2025-02-30",
        "2026-01-01T", "2026-01-01T00:00Z", "2026-01-01 00:00:00Z", "2026-01-01t00:00:00Z", "2026-01-01T00:00:00z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00+0200",
        "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00Zjunk", "1969-12-31", "2200-01-01", "now",
        "'; drop table x;--", "2026-01-01'", "+2026-01-01", "１９７０-01-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        if (tp_query_time_parse(bad[i], &ms) != TP_EINVAL)
            fail_msg("accepted bad time '%s'", bad[i]);
    }
}

static void test_time_format(void **state)
{
    (void)state;
    char out[32];
    tp_query_time_format(JAN1_2026, out);
    assert_string_equal(out, "2026-01-01T00:00:00Z");
    tp_query_time_format(JAN1_2026 + 3723004, out);
    assert_string_equal(out, "2026-01-01T01:02:03.004Z");
    tp_query_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    tp_query_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    tp_query_date_format(JAN1_2026 - 1, out);
    assert_string_equal(out, "2025-12-31");
    /* round trip over a leap day */
    int64_t ms;
    assert_int_equal(tp_query_time_parse("2028-02-29T12:34:56.789Z", &ms), 0);
    tp_query_time_format(ms, out);
    assert_string_equal(out, "2028-02-29T12:34:56.789Z");
    assert_int_equal(tp_query_floor(-1, 1000), -1000);
    assert_int_equal(tp_query_ceil(1, 1000), 1000);
    assert_int_equal(tp_query_ceil(2000, 1000), 2000);
}

/* ------------------------------------------------------------------ args */

static void args_of(tp_query_args *a, const char *const *kv)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; kv[i]; i += 2)
        tp_query_args_add(a, kv[i], kv[i + 1]);
}

static void test_args_check(void **state)
{
    (void)state;
    static const char *const allowed[] = {"from", "to", NULL};
    tp_query_args a;
    tp_query_perr e;

    args_of(&a, (const char *const[]){"from", "2026-01-01", "to", "2026-01-02", NULL});
    assert_int_equal(tp_query_args_check(&a, allowed, &e), 0);

    args_of(&a, (const char *const[]){"from", "x", "evil'; --", "1", NULL});
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    assert_string_equal(e.field, "evil'; --");
    assert_non_null(strstr(e.message, "unknown parameter"));
    assert_non_null(strstr(e.message, "from, to"));

    args_of(&a, (const char *const[]){"from", "a", "from", "b", NULL});
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    assert_string_equal(e.field, "from");
    assert_non_null(strstr(e.message, "more than once"));

    args_of(&a, (const char *const[]){"to", "a\nb", NULL});
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    assert_string_equal(e.field, "to");

    args_of(&a, (const char *const[]){"to", "\xc3\x28", NULL}); /* broken UTF-8 */
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    args_of(&a, (const char *const[]){"to", "\xed\xa0\x80", NULL}); /* a surrogate */
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    args_of(&a, (const char *const[]){"to", "Z\xc3\xbcrich \xe2\x82\xac", NULL}); /* valid UTF-8 */
    assert_int_equal(tp_query_args_check(&a, allowed, &e), 0);

    /* a control byte in the name is not echoed raw into the error */
    args_of(&a, (const char *const[]){"x\x01y", "1", NULL});
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    assert_string_equal(e.field, "x?y");

    char big[TP_QUERY_MAX_VALUE + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    args_of(&a, (const char *const[]){"from", big, NULL});
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    assert_non_null(strstr(e.message, "too long"));

    memset(&a, 0, sizeof a);
    for (int i = 0; i < TP_QUERY_MAX_ARGS + 1; i++)
        tp_query_args_add(&a, "from", "x");
    assert_int_equal(tp_query_args_check(&a, allowed, &e), TP_EINVAL);
    assert_string_equal(e.field, "query");

    static const char *const none[] = {NULL};
    args_of(&a, (const char *const[]){"a", "1", NULL});
    assert_int_equal(tp_query_args_check(&a, none, &e), TP_EINVAL);
    assert_non_null(strstr(e.message, "no query parameters"));
}

/* ------------------------------------------------------------------ ranges */

static tp_query_range_opts opts_at(int64_t now)
{
    tp_query_range_opts o = {now, TP_QUERY_GRAN_BIT(TP_QUERY_HOUR) | TP_QUERY_GRAN_BIT(TP_QUERY_DAY), TP_QUERY_DAY,
                             31, 400};
    return o;
}

static void test_range_defaults(void **state)
{
    (void)state;
    int64_t now = JAN1_2026 + 10 * TP_QUERY_MS_DAY + 5 * TP_QUERY_MS_HOUR + 123;
    tp_query_range_opts o = opts_at(now);
    tp_query_args a;
    tp_query_range r;
    tp_query_perr e;

    args_of(&a, (const char *const[]){NULL});
    assert_int_equal(tp_query_range_parse(&a, &o, &r, &e), 0);
    assert_int_equal(r.gran, TP_QUERY_DAY);
    assert_int_equal(r.to_ms, JAN1_2026 + 11 * TP_QUERY_MS_DAY); /* today included */
    assert_int_equal(r.from_ms, r.to_ms - 30 * TP_QUERY_MS_DAY);
    assert_int_equal(r.periods, 30);

    args_of(&a, (const char *const[]){"granularity", "hour", NULL});
    assert_int_equal(tp_query_range_parse(&a, &o, &r, &e), 0);
    assert_int_equal(r.to_ms, JAN1_2026 + 10 * TP_QUERY_MS_DAY + 6 * TP_QUERY_MS_HOUR);
    assert_int_equal(r.periods, 7 * 24);

    /* from/to are widened to whole periods */
    args_of(&a, (const char *const[]){"granularity", "hour", "from", "2026-01-01T10:15:00Z", "to",
                                      "2026-01-01T12:00:01Z", NULL});
    assert_int_equal(tp_query_range_parse(&a, &o, &r, &e), 0);
    assert_int_equal(r.from_ms, JAN1_2026 + 10 * TP_QUERY_MS_HOUR);
    assert_int_equal(r.to_ms, JAN1_2026 + 13 * TP_QUERY_MS_HOUR);
    assert_int_equal(r.periods, 3);

    args_of(&a, (const char *const[]){"from", "2026-01-01", "to", "2026-01-04", NULL});
    assert_int_equal(tp_query_range_parse(&a, &o, &r, &e), 0);
    assert_int_equal(r.periods, 3);
}

static void test_range_errors(void **state)
{
    (void)state;
    tp_query_range_opts o = opts_at(JAN1_2026 + 100 * TP_QUERY_MS_DAY);
    tp_query_args a;
    tp_query_range r;
    tp_query_perr e;
    static const struct {
        const char *kv[7];
        const char *field;
        const char *needle;
    } cases[] = {
        {{"granularity", "minute", NULL}, "granularity", "hour, day"},
        {{"granularity", "HOUR", NULL}, "granularity", "hour, day"},
        {{"granularity", "", NULL}, "granularity", "hour, day"},
        {{"from", "yesterday", NULL}, "from", "RFC 3339"},
        {{"to", "", NULL}, "to", "empty"},
        {{"from", "2026-01-05", "to", "2026-01-05", NULL}, "to", "after from"},
        {{"from", "2026-01-05", "to", "2026-01-01", NULL}, "to", "after from"},
        {{"from", "2027-01-01", NULL}, "from", "before to"},
        {{"granularity", "hour", "from", "2026-01-01", "to", "2026-02-02", NULL}, "to", "31 days"},
        {{"granularity", "hour", "from", "2026-01-01", NULL}, "from", "31 days"},
        {{"from", "2024-01-01", "to", "2026-01-01", NULL}, "to", "400 days"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        args_of(&a, cases[i].kv);
        memset(&e, 0, sizeof e);
        if (tp_query_range_parse(&a, &o, &r, &e) != TP_EINVAL)
            fail_msg("case %zu accepted", i);
        assert_string_equal(e.field, cases[i].field);
        if (!strstr(e.message, cases[i].needle))
            fail_msg("case %zu: message '%s' lacks '%s'", i, e.message, cases[i].needle);
    }
    /* exactly at the cap is fine */
    args_of(&a, (const char *const[]){"granularity", "hour", "from", "2026-01-01", "to", "2026-02-01", NULL});
    assert_int_equal(tp_query_range_parse(&a, &o, &r, &e), 0);
    assert_int_equal(r.periods, 31 * 24);
    /* a day-only endpoint names the only choice */
    o.grans = TP_QUERY_GRAN_BIT(TP_QUERY_DAY);
    args_of(&a, (const char *const[]){"granularity", "hour", NULL});
    assert_int_equal(tp_query_range_parse(&a, &o, &r, &e), TP_EINVAL);
    assert_string_equal(e.message, "must be day");
}

static void test_window(void **state)
{
    (void)state;
    int64_t now = JAN1_2026 + 3 * TP_QUERY_MS_DAY + 7 * TP_QUERY_MS_HOUR;
    tp_query_args a;
    tp_query_window w;
    tp_query_perr e;

    args_of(&a, (const char *const[]){NULL});
    assert_int_equal(tp_query_window_parse(&a, "7d", now, &w, &e), 0);
    assert_int_equal(w.unit, TP_QUERY_DAY);
    assert_int_equal(w.to_ms, JAN1_2026 + 4 * TP_QUERY_MS_DAY);
    assert_int_equal(w.from_ms, w.to_ms - 7 * TP_QUERY_MS_DAY);
    assert_string_equal(w.text, "7d");

    args_of(&a, (const char *const[]){"window", "24h", "to", "2026-01-04T00:00:00Z", NULL});
    assert_int_equal(tp_query_window_parse(&a, "7d", now, &w, &e), 0);
    assert_int_equal(w.unit, TP_QUERY_HOUR);
    assert_int_equal(w.to_ms, JAN1_2026 + 3 * TP_QUERY_MS_DAY);
    assert_int_equal(w.from_ms, JAN1_2026 + 2 * TP_QUERY_MS_DAY);

    static const char *const bad[] = {"0d", "7", "d", "7w", "07d", "-1d", "366d", "745h", "1.5d", "7D",
                                      "99999d", "", "7d;"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        args_of(&a, (const char *const[]){"window", bad[i], NULL});
        if (tp_query_window_parse(&a, "7d", now, &w, &e) != TP_EINVAL)
            fail_msg("window '%s' accepted", bad[i]);
        assert_string_equal(e.field, "window");
    }
    args_of(&a, (const char *const[]){"window", "365d", NULL});
    assert_int_equal(tp_query_window_parse(&a, "7d", now, &w, &e), 0);
    args_of(&a, (const char *const[]){"window", "1h", "to", "bad", NULL});
    assert_int_equal(tp_query_window_parse(&a, "7d", now, &w, &e), TP_EINVAL);
    assert_string_equal(e.field, "to");
}

/* ------------------------------------------------------------------ small values */

static void test_int_enum_sort(void **state)
{
    (void)state;
    tp_query_args a;
    tp_query_perr e;
    long v;
    static const char *const badints[] = {"0", "1001", "-1", "+5", "05", "1e3", "", " 5", "5 ", "0x10",
                                          "99999999999999999999", "1;"};
    for (size_t i = 0; i < sizeof badints / sizeof badints[0]; i++) {
        args_of(&a, (const char *const[]){"limit", badints[i], NULL});
        if (tp_query_int_parse(&a, "limit", 10, 1, 1000, &v, &e) != TP_EINVAL)
            fail_msg("limit '%s' accepted", badints[i]);
        assert_string_equal(e.field, "limit");
    }
    args_of(&a, (const char *const[]){"limit", "1000", NULL});
    assert_int_equal(tp_query_int_parse(&a, "limit", 10, 1, 1000, &v, &e), 0);
    assert_int_equal(v, 1000);
    args_of(&a, (const char *const[]){NULL});
    assert_int_equal(tp_query_int_parse(&a, "limit", 10, 1, 1000, &v, &e), 0);
    assert_int_equal(v, 10);

    static const char *const st[] = {"active", "closed", NULL};
    int idx;
    args_of(&a, (const char *const[]){"status", "closed", NULL});
    assert_int_equal(tp_query_enum_parse(&a, "status", st, &idx, &e), 0);
    assert_int_equal(idx, 1);
    args_of(&a, (const char *const[]){"status", "Active", NULL});
    assert_int_equal(tp_query_enum_parse(&a, "status", st, &idx, &e), TP_EINVAL);
    assert_string_equal(e.message, "must be one of: active, closed");

    static const tp_query_sort_key keys[] = {{"tenant_id", 0}, {"user_count", 1}};
    size_t si;
    int desc;
    args_of(&a, (const char *const[]){"sort", "user_count", NULL});
    assert_int_equal(tp_query_sort_parse(&a, keys, 2, 0, &si, &desc, &e), 0);
    assert_int_equal(si, 1);
    assert_int_equal(desc, 1);
    args_of(&a, (const char *const[]){"sort", "user_count:asc", NULL});
    assert_int_equal(tp_query_sort_parse(&a, keys, 2, 0, &si, &desc, &e), 0);
    assert_int_equal(desc, 0);
    static const char *const badsorts[] = {"user", "user_count:up", "user_count:", "tenant_id;drop", ":asc", ""};
    for (size_t i = 0; i < sizeof badsorts / sizeof badsorts[0]; i++) {
        args_of(&a, (const char *const[]){"sort", badsorts[i], NULL});
        if (tp_query_sort_parse(&a, keys, 2, 0, &si, &desc, &e) != TP_EINVAL)
            fail_msg("sort '%s' accepted", badsorts[i]);
        assert_string_equal(e.field, "sort");
    }

    assert_true(tp_query_id_valid("t0001"));
    assert_true(tp_query_id_valid("a.b_c-D"));
    assert_false(tp_query_id_valid(""));
    assert_false(tp_query_id_valid("a b"));
    assert_false(tp_query_id_valid("x'--"));
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_false(tp_query_id_valid(long_id));
    long_id[64] = '\0';
    assert_true(tp_query_id_valid(long_id));
}

static void test_accept(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        int csv;
    } cases[] = {
        {NULL, 0},
        {"", 0},
        {"*/*", 0},
        {"application/json", 0},
        {"text/csv", 1},
        {"TEXT/CSV", 1},
        {"text/csv; charset=utf-8", 1},
        {"text/csv, application/json", 1},
        {"application/json, text/csv", 0},
        {"application/json;q=0.5, text/csv", 1},
        {"text/csv;q=0.4, application/json;q=0.9", 0},
        {"text/csv;q=0, */*", 0},
        {"text/*, application/json;q=0.1", 1},
        {"text/csv, */*;q=0.1", 1},
        {"image/png", 0},
        {"text/csv;q=bogus", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (tp_query_accept_csv(cases[i].accept) != cases[i].csv)
            fail_msg("Accept '%s': expected csv=%d", cases[i].accept ? cases[i].accept : "(null)", cases[i].csv);
}

/* ------------------------------------------------------------------ cursors */

static void test_b64url(void **state)
{
    (void)state;
    char out[64];
    unsigned char back[64];
    static const char *const samples[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t n = strlen(samples[i]);
        int w = tp_query_b64url_encode(samples[i], n, out, sizeof out);
        assert_true(w >= 0);
        assert_null(strpbrk(out, "+/="));
        int r = tp_query_b64url_decode(out, back, sizeof back);
        assert_int_equal(r, (int)n);
        assert_memory_equal(back, samples[i], n);
    }
    assert_int_equal(tp_query_b64url_encode("foobar", 6, out, 8), TP_ETOOBIG); /* 8 chars + NUL */
    assert_int_equal(tp_query_b64url_encode("foobar", 6, out, 9), 8);
    assert_int_equal(tp_query_b64url_decode("Zm9v", back, sizeof back), 3);
    assert_int_equal(tp_query_b64url_decode("Zm8", back, sizeof back), 2);
    assert_int_equal(tp_query_b64url_decode("Zm9", back, sizeof back), TP_EINVAL); /* stray low bits */
    assert_int_equal(tp_query_b64url_decode("Z", back, sizeof back), TP_EINVAL);
    assert_int_equal(tp_query_b64url_decode("Zm9v+", back, sizeof back), TP_EINVAL);
    assert_int_equal(tp_query_b64url_decode("Zm9v====", back, sizeof back), TP_EINVAL);
    assert_int_equal(tp_query_b64url_decode("Zh", back, sizeof back), TP_EINVAL); /* non-canonical */
}

static void test_cursor(void **state)
{
    (void)state;
    char cur[TP_QUERY_CURSOR_MAX], id[65], val[TP_QUERY_CURSOR_MAX];
    tp_query_perr e;
    assert_int_equal(tp_query_cursor_encode("user_count", 1, "t0042", "17", cur, sizeof cur), 0);
    assert_int_equal(tp_query_cursor_decode(cur, "user_count", 1, TP_QUERY_KEY_INT, id, sizeof id, val, sizeof val, &e),
                     0);
    assert_string_equal(id, "t0042");
    assert_string_equal(val, "17");

    /* the same cursor under another sort or direction is refused, naming the sort it was made for */
    assert_int_equal(tp_query_cursor_decode(cur, "user_count", 0, TP_QUERY_KEY_INT, id, sizeof id, val, sizeof val, &e),
                     TP_EINVAL);
    assert_string_equal(e.field, "cursor");
    assert_non_null(strstr(e.message, "sort=user_count:desc"));
    assert_int_equal(tp_query_cursor_decode(cur, "tenant_id", 1, TP_QUERY_KEY_TEXT, id, sizeof id, val, sizeof val, &e),
                     TP_EINVAL);

    /* text values with tabs and quotes survive; they are bound as parameters, never spliced */
    assert_int_equal(tp_query_cursor_encode("company_name", 0, "t1", "O'Brien\tCo; --", cur, sizeof cur), 0);
    assert_int_equal(
        tp_query_cursor_decode(cur, "company_name", 0, TP_QUERY_KEY_TEXT, id, sizeof id, val, sizeof val, &e), 0);
    assert_string_equal(val, "O'Brien\tCo; --");

    assert_int_equal(tp_query_cursor_encode("churn_score", 1, "t1", "-Infinity", cur, sizeof cur), 0);
    assert_int_equal(
        tp_query_cursor_decode(cur, "churn_score", 1, TP_QUERY_KEY_NUM, id, sizeof id, val, sizeof val, &e), 0);

    /* forged cursors: bad base64, wrong version, bad id, value not of the key's kind */
    char forged[TP_QUERY_CURSOR_MAX];
    static const char *const raws[] = {"2\tuser_count\td\tt1\t5", "1\tuser_count\tx\tt1\t5",
                                       "1\tuser_count\td\tt 1\t5", "1\tuser_count\td\tt1\t5; drop table x",
                                       "1\tuser_count\td\tt1", "1\tuser_count\td\tt1\t"};
    for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
        assert_true(tp_query_b64url_encode(raws[i], strlen(raws[i]), forged, sizeof forged) > 0);
        if (tp_query_cursor_decode(forged, "user_count", 1, TP_QUERY_KEY_INT, id, sizeof id, val, sizeof val, &e) !=
            TP_EINVAL)
            fail_msg("forged cursor %zu accepted", i);
    }
    static const char *const junk[] = {"", "!!!", "'; drop table tenants;--", "A"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(
            tp_query_cursor_decode(junk[i], "user_count", 1, TP_QUERY_KEY_INT, id, sizeof id, val, sizeof val, &e),
            TP_EINVAL);
    static const char badnum[] = "1\tsentiment\td\tt1\t1e5x";
    assert_true(tp_query_b64url_encode(badnum, strlen(badnum), forged, sizeof forged) > 0);
    assert_int_equal(
        tp_query_cursor_decode(forged, "sentiment", 1, TP_QUERY_KEY_NUM, id, sizeof id, val, sizeof val, &e),
                     TP_EINVAL);
}

/* ------------------------------------------------------------------ rendering */

static void test_buf_escaping(void **state)
{
    (void)state;
    tp_query_buf b = TP_QUERY_BUF_INIT;
    tp_query_buf_json_str(&b, "a\"b\\c\n\x01\xc3\xa9");
    tp_query_buf_putc(&b, '|');
    tp_query_buf_csv_field(&b, "plain");
    tp_query_buf_putc(&b, '|');
    tp_query_buf_csv_field(&b, "a,b");
    tp_query_buf_putc(&b, '|');
    tp_query_buf_csv_field(&b, "say \"hi\"");
    tp_query_buf_putc(&b, '|');
    tp_query_buf_csv_field(&b, "two\r\nlines");
    tp_query_buf_putc(&b, '|');
    tp_query_buf_csv_field(&b, "");
    tp_query_buf_putc(&b, '|');
    tp_query_buf_csv_field(&b, NULL);
    tp_query_buf_printf(&b, "|%0200d", 7);
    assert_int_equal(tp_query_buf_ok(&b), 0);
    size_t len;
    char *s = tp_query_buf_steal(&b, &len);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    static const char want[] = "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"|plain|\"a,b\"|"
                               "\"say \"\"hi\"\"\"|\"two\r\nlines\"|\"\"||";
    size_t wl = sizeof want - 1;
    assert_int_equal(len, wl + 200);
    assert_memory_equal(s, want, wl);
    assert_int_equal(strspn(s + wl, "0"), 199);
    assert_string_equal(s + wl + 199, "7");
    free(s);
    tp_query_buf_free(&b);
}

static const tp_query_col test_cols[] = {
    {"id", TP_QCOL_TEXT}, {"n", TP_QCOL_INT}, {"x", TP_QCOL_NUM}, {"at", TP_QCOL_TIME}, {"ok", TP_QCOL_BOOL},
};

static char *render(const tp_query_table *t, int csv)
{
    tp_query_buf b = TP_QUERY_BUF_INIT;
    if (csv)
        tp_query_table_csv(t, &b);
    else
        tp_query_table_json_array(t, &b);
    assert_int_equal(tp_query_buf_ok(&b), 0);
    return tp_query_buf_steal(&b, NULL);
}

static void test_table_render(void **state)
{
    (void)state;
    tp_query_table *t;
    assert_int_equal(tp_query_table_new(test_cols, 5, &t), 0);
    const char *r1[] = {"t1, \"Inc\"", "42", "0.5", "1767225600000", "t"};
    const char *r2[] = {NULL, NULL, "Infinity", NULL, "f"};
    const char *r3[] = {"", "-7", "1e-05", "1767225600250", NULL};
    assert_int_equal(tp_query_table_add_row(t, r1), 0);
    assert_int_equal(tp_query_table_add_row(t, r2), 0);
    assert_int_equal(tp_query_table_add_row(t, r3), 0);
    assert_int_equal(tp_query_table_rows(t), 3);

    char *json = render(t, 0);
    assert_string_equal(json, "[{\"id\":\"t1, \\\"Inc\\\"\",\"n\":42,\"x\":0.5,"
                              "\"at\":\"2026-01-01T00:00:00Z\",\"ok\":true},"
                              "{\"id\":null,\"n\":null,\"x\":null,\"at\":null,\"ok\":false},"
                              "{\"id\":\"\",\"n\":-7,\"x\":1e-05,\"at\":\"2026-01-01T00:00:00.250Z\",\"ok\":null}]");
    free(json);
    char *csv = render(t, 1);
    assert_string_equal(csv, "id,n,x,at,ok\r\n"
                             "\"t1, \"\"Inc\"\"\",42,0.5,2026-01-01T00:00:00Z,true\r\n"
                             ",,Infinity,,false\r\n"
                             "\"\",-7,1e-05,2026-01-01T00:00:00.250Z,\r\n");
    free(csv);

    tp_query_table_truncate(t, 1);
    assert_int_equal(tp_query_table_rows(t), 1);
    tp_query_buf b = TP_QUERY_BUF_INIT;
    tp_query_table_csv_header_fields(t, "totals.", &b);
    char *h = tp_query_buf_steal(&b, NULL);
    assert_string_equal(h, "totals.id,totals.n,totals.x,totals.at,totals.ok");
    free(h);
    tp_query_table_free(t);
    tp_query_table_free(NULL);
}

static const tp_query_col series_cols[] = {{"start", TP_QCOL_TIME}, {"a", TP_QCOL_INT}, {"b", TP_QCOL_NUM}};

static void test_series_fill(void **state)
{
    (void)state;
    tp_query_table *rows, *s;
    assert_int_equal(tp_query_table_new(series_cols, 3, &rows), 0);
    int64_t h0 = JAN1_2026 / 1000;
    char t[5][24];
    snprintf(t[0], 24, "%lld", (long long)(h0 - 3600));     /* before the range: ignored */
    snprintf(t[1], 24, "%lld", (long long)(h0 + 3600));     /* hour 1 */
    snprintf(t[2], 24, "%lld", (long long)(h0 + 3600 + 5)); /* off the grid: ignored */
    snprintf(t[3], 24, "%lld", (long long)(h0 + 3 * 3600)); /* hour 3 */
    snprintf(t[4], 24, "%lld", (long long)(h0 + 4 * 3600)); /* at `to`: ignored */
    const char *vals[5][2] = {{"9", "9"}, {"5", "2.5"}, {"8", "8"}, {"7", "0.25"}, {"6", "6"}};
    for (int i = 0; i < 5; i++) {
        const char *row[] = {t[i], vals[i][0], vals[i][1]};
        assert_int_equal(tp_query_table_add_row(rows, row), 0);
    }
    assert_int_equal(tp_query_series_fill(rows, JAN1_2026, JAN1_2026 + 4 * TP_QUERY_MS_HOUR, TP_QUERY_MS_HOUR,
                                          series_cols, &s),
                     0);
    char *json = render(s, 0);
    assert_string_equal(json, "[{\"start\":\"2026-01-01T00:00:00Z\",\"a\":0,\"b\":0},"
                              "{\"start\":\"2026-01-01T01:00:00Z\",\"a\":5,\"b\":2.5},"
                              "{\"start\":\"2026-01-01T02:00:00Z\",\"a\":0,\"b\":0},"
                              "{\"start\":\"2026-01-01T03:00:00Z\",\"a\":7,\"b\":0.25}]");
    free(json);
    tp_query_table_free(s);

    /* an empty result gives every period, all zero; an empty range gives no rows */
    tp_query_table *empty;
    assert_int_equal(tp_query_table_new(series_cols, 3, &empty), 0);
    assert_int_equal(tp_query_series_fill(empty, JAN1_2026, JAN1_2026 + 3 * TP_QUERY_MS_DAY, TP_QUERY_MS_DAY,
                                          series_cols, &s),
                     0);
    assert_int_equal(tp_query_table_rows(s), 3);
    assert_string_equal(tp_query_table_cell(s, 2, 1), "0");
    tp_query_table_free(s);
    assert_int_equal(tp_query_series_fill(empty, JAN1_2026, JAN1_2026, TP_QUERY_MS_DAY, series_cols, &s), 0);
    assert_int_equal(tp_query_table_rows(s), 0);
    tp_query_table_free(s);
    tp_query_table_free(empty);
    tp_query_table_free(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse_valid), cmocka_unit_test(test_time_parse_invalid),
        cmocka_unit_test(test_time_format),      cmocka_unit_test(test_args_check),
        cmocka_unit_test(test_range_defaults),   cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_window),           cmocka_unit_test(test_int_enum_sort),
        cmocka_unit_test(test_accept),           cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_cursor),           cmocka_unit_test(test_buf_escaping),
        cmocka_unit_test(test_table_render),     cmocka_unit_test(test_series_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

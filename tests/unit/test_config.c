/* Unit tests for config.c: parsing, bounds, required, defaults, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp/config.h"

struct cfg {
    int64_t port;
    char *url;
    int flag;
    double ratio;
    char *name;
};

static const tp_config_key keys[] = {
    TP_CFG_INT("T_PORT", struct cfg, port, 8081, 1, 65535, "listen port"),
    TP_CFG_STR("T_URL", struct cfg, url, NULL, TP_CFG_REQUIRED | TP_CFG_SECRET, "db url"),
    TP_CFG_BOOL("T_FLAG", struct cfg, flag, 1, "a switch"),
    TP_CFG_DBL("T_RATIO", struct cfg, ratio, 0.5, 0.0, 1.0, "a share"),
    TP_CFG_STR("T_NAME", struct cfg, name, "tp", 0, "a name"),
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *env_vals[8][2];

static const char *fake_env(const char *name)
{
    for (size_t i = 0; i < 8 && env_vals[i][0]; i++)
        if (!strcmp(env_vals[i][0], name))
            return env_vals[i][1];
    return NULL;
}

static void set_env(const char *const pairs[][2], size_t n)
{
    memset(env_vals, 0, sizeof env_vals);
    for (size_t i = 0; i < n; i++) {
        env_vals[i][0] = pairs[i][0];
        env_vals[i][1] = pairs[i][1];
    }
}

static void test_defaults_and_required(void **state)
{
    (void)state;
    struct cfg c = {0};
    char err[256];
    set_env(NULL, 0);
    assert_int_equal(tp_config_load_from(keys, NKEYS, &c, fake_env, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "T_URL is required"));
    const char *p[][2] = {{"T_URL", "postgres://x"}};
    set_env(p, 1);
    assert_int_equal(tp_config_load_from(keys, NKEYS, &c, fake_env, err, sizeof err), 0);
    assert_int_equal(c.port, 8081);
    assert_int_equal(c.flag, 1);
    assert_true(c.ratio == 0.5);
    assert_string_equal(c.url, "postgres://x");
    assert_string_equal(c.name, "tp");
    tp_config_free(keys, NKEYS, &c);
    assert_null(c.url);
}

static void test_bad_values_name_the_variable(void **state)
{
    (void)state;
    struct {
        const char *var, *val, *expect;
    } cases[] = {
        {"T_PORT", "0", "T_PORT=0 is out of range"},
        {"T_PORT", "70000", "T_PORT=70000 is out of range"},
        {"T_PORT", "80a", "T_PORT=80a is not an integer"},
        {"T_FLAG", "maybe", "T_FLAG=maybe is not a boolean"},
        {"T_RATIO", "1.5", "T_RATIO=1.5 is out of range"},
        {"T_RATIO", "x", "T_RATIO=x is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cfg c = {0};
        char err[256] = "";
        const char *p[][2] = {{"T_URL", "u"}, {cases[i].var, cases[i].val}};
        set_env(p, 2);
        assert_int_equal(tp_config_load_from(keys, NKEYS, &c, fake_env, err, sizeof err), TP_EINVAL);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].expect);
        tp_config_free(keys, NKEYS, &c);
    }
}

static void test_values_parsed(void **state)
{
    (void)state;
    struct cfg c = {0};
    char err[256];
    const char *p[][2] = {{"T_URL", "u"}, {"T_PORT", "65535"}, {"T_FLAG", "off"}, {"T_RATIO", "1"}, {"T_NAME", "x"}};
    set_env(p, 5);
    assert_int_equal(tp_config_load_from(keys, NKEYS, &c, fake_env, err, sizeof err), 0);
    assert_int_equal(c.port, 65535);
    assert_int_equal(c.flag, 0);
    assert_true(c.ratio == 1.0);
    assert_string_equal(c.name, "x");
    tp_config_free(keys, NKEYS, &c);
}

static void test_help_lists_every_key_and_hides_nothing_secret(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tp_config_print_help(f, "prog", "summary", keys, NKEYS);
    fclose(f);
    for (size_t i = 0; i < NKEYS; i++)
        assert_non_null(strstr(buf, keys[i].name));
    assert_non_null(strstr(buf, "(secret)"));
    assert_non_null(strstr(buf, "(required)"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_required),
        cmocka_unit_test(test_bad_values_name_the_variable),
        cmocka_unit_test(test_values_parsed),
        cmocka_unit_test(test_help_lists_every_key_and_hides_nothing_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for err.c and backoff.c: names, classification, jitter bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp/backoff.h"
#include "tp/err.h"

static void test_names_and_classes(void **state)
{
    (void)state;
    assert_string_equal(tp_errname(TP_ETHROTTLED), "TP_ETHROTTLED");
    assert_string_equal(tp_strerror(0), "ok");
    assert_string_equal(tp_errname(-999), "TP_EUNKNOWN");
    assert_true(tp_err_retryable(TP_ETHROTTLED));
    assert_true(tp_err_retryable(TP_EUNAVAIL));
    assert_true(tp_err_retryable(TP_ETIMEDOUT));
    assert_false(tp_err_retryable(TP_EINVAL));
    assert_false(tp_err_retryable(TP_EAUTH));
    assert_false(tp_err_retryable(0));
    char buf[16];
    assert_int_equal(tp_errf(buf, sizeof buf, TP_EINVAL, "field %s is bad", "tenant_id"), TP_EINVAL);
    assert_int_equal(strlen(buf), 15); /* truncated, terminated */
    assert_int_equal(tp_errf(NULL, 0, TP_EIO, "x"), TP_EIO);
}

static void test_backoff_within_bounds(void **state)
{
    (void)state;
    uint32_t max_seen = 0;
    for (unsigned attempt = 0; attempt < 20; attempt++) {
        uint32_t ceil = 50u << (attempt < 10 ? attempt : 10);
        if (ceil > 2000)
            ceil = 2000;
        for (int i = 0; i < 1000; i++) {
            uint32_t d = tp_backoff_ms(attempt, 50, 2000);
            assert_true(d <= ceil);
            if (d > max_seen)
                max_seen = d;
        }
    }
    /* Full jitter spreads: with 20k draws the cap region is reached. */
    assert_true(max_seen > 1500);
    int64_t a = tp_now_mono_ms();
    tp_sleep_ms(20);
    assert_true(tp_now_mono_ms() - a >= 19);
    assert_true(tp_now_wall_ms() > 1700000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_classes),
        cmocka_unit_test(test_backoff_within_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for metrics.c: exposition format, labels, histograms, concurrency. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp/metrics.h"

static void test_counter_and_gauge_render(void **state)
{
    (void)state;
    tp_metrics *m;
    assert_int_equal(tp_metrics_new(&m), 0);
    tp_counter *a = tp_metrics_counter(m, "tp_x_total", "things", "stream=users,reason=bad");
    tp_counter *a2 = tp_metrics_counter(m, "tp_x_total", "things", "stream=users,reason=bad");
    assert_ptr_equal(a, a2);
    tp_counter_add(a, 3);
    tp_counter_add(a2, 2);
    tp_gauge *g = tp_metrics_gauge(m, "tp_depth", "depth", NULL);
    tp_gauge_set(g, 10);
    tp_gauge_add(g, -2.5);
    tp_counter_add(NULL, 1); /* NULL-safe */
    char *out;
    size_t len;
    assert_int_equal(tp_metrics_render(m, &out, &len), 0);
    assert_non_null(strstr(out, "# TYPE tp_x_total counter\n"));
    assert_non_null(strstr(out, "tp_x_total{stream=\"users\",reason=\"bad\"} 5\n"));
    assert_non_null(strstr(out, "# TYPE tp_depth gauge\ntp_depth 7.5\n"));
    assert_int_equal(strlen(out), len);
    free(out);
    /* Same name as another type is refused. */
    assert_null(tp_metrics_gauge(m, "tp_x_total", "x", NULL));
    tp_metrics_free(m);
}

static void test_histogram_is_cumulative(void **state)
{
    (void)state;
    tp_metrics *m;
    assert_int_equal(tp_metrics_new(&m), 0);
    const double b[] = {0.1, 1};
    tp_histogram *h = tp_metrics_histogram(m, "tp_lat_seconds", "latency", "route=/x", b, 2);
    tp_histogram_observe(h, 0.05);
    tp_histogram_observe(h, 0.1); /* le is inclusive */
    tp_histogram_observe(h, 0.5);
    tp_histogram_observe(h, 7);
    char *out;
    assert_int_equal(tp_metrics_render(m, &out, NULL), 0);
    assert_non_null(strstr(out, "tp_lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"));
    assert_non_null(strstr(out, "tp_lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"));
    assert_non_null(strstr(out, "tp_lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(out, "tp_lat_seconds_count{route=\"/x\"} 4\n"));
    assert_non_null(strstr(out, "tp_lat_seconds_sum{route=\"/x\"} 7.65"));
    free(out);
    tp_metrics_free(m);
}

static tp_counter *shared_c;
static tp_histogram *shared_h;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        tp_counter_add(shared_c, 1);
        tp_histogram_observe(shared_h, 1.0);
    }
    return NULL;
}

static void test_concurrent_updates_are_not_lost(void **state)
{
    (void)state;
    tp_metrics *m;
    assert_int_equal(tp_metrics_new(&m), 0);
    shared_c = tp_metrics_counter(m, "tp_c_total", "c", NULL);
    shared_h = tp_metrics_histogram(m, "tp_h", "h", NULL, tp_metrics_latency_bounds, tp_metrics_latency_nbounds);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *out;
    assert_int_equal(tp_metrics_render(m, &out, NULL), 0);
    assert_non_null(strstr(out, "tp_c_total 400000\n"));
    assert_non_null(strstr(out, "tp_h_count 400000\n"));
    assert_non_null(strstr(out, "tp_h_sum 400000\n"));
    free(out);
    tp_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge_render),
        cmocka_unit_test(test_histogram_is_cumulative),
        cmocka_unit_test(test_concurrent_updates_are_not_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

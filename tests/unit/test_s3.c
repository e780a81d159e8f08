/* test_s3.c — how the S3 client builds paths and queries and reads ListObjectsV2 pages, against
 * the scripted local responder (s3rver cannot produce hostile or odd answers on demand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aws_test_server.h"
#include "tp/s3.h"

static tp_s3 *client_for(int port)
{
    tp_aws_config c = {0};
    snprintf(c.region, sizeof c.region, "us-east-1");
    snprintf(c.access_key, sizeof c.access_key, "AK");
    snprintf(c.secret_key, sizeof c.secret_key, "SK");
    snprintf(c.endpoint_s3, sizeof c.endpoint_s3, "http://127.0.0.1:%d", port);
    c.connect_timeout_ms = 2000;
    c.request_timeout_ms = 5000;
    tp_s3 *s = NULL;
    assert_int_equal(tp_s3_new(&c, &s), 0);
    return s;
}

/* Two pages: the query is sorted and encoded, the token is carried over, keys are unescaped. */
static void test_list_paging(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "<?xml version=\"1.0\"?><ListBucketResult><KeyCount>1</KeyCount>"
         "<Contents><Key>p/a&amp;b</Key><Size>12</Size></Contents>"
         "<IsTruncated>true</IsTruncated><NextContinuationToken>t+1/=</NextContinuationToken></ListBucketResult>"},
        {200, NULL,
         "<ListBucketResult><Contents><Key>p/c</Key><Size>9007199254740993</Size></Contents>"
         "<IsTruncated>false</IsTruncated></ListBucketResult>"},
    };
    struct test_server srv;
    assert_int_equal(ts_start(&srv, script, 2), 0);
    tp_s3 *s = client_for(srv.port);
    tp_s3_listing l;
    char err[256];
    assert_int_equal(tp_s3_list_paged(s, "bkt", "p/", 1, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.objects[0].key, "p/a&b");
    assert_int_equal(l.objects[0].size, 12);
    assert_string_equal(l.objects[1].key, "p/c");
    assert_int_equal(l.objects[1].size, 9007199254740993LL);
    tp_s3_listing_free(&l);
    assert_non_null(strstr(srv.req[0], "GET /bkt?list-type=2&max-keys=1&prefix=p%2F HTTP/1.1\r\n"));
    assert_non_null(
        strstr(srv.req[1], "GET /bkt?continuation-token=t%2B1%2F%3D&list-type=2&max-keys=1&prefix=p%2F HTTP/1.1\r\n"));
    ts_stop(&srv);
    tp_s3_free(s);
}

/* <Size> comes from the server: a number past int64 must be refused, not overflow (undefined
 * behaviour; UBSan aborts). */
static void test_list_size_overflow(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999999999</Size></Contents>"
         "<IsTruncated>false</IsTruncated></ListBucketResult>"},
        {200, NULL,
         "<ListBucketResult><Contents><Key>k</Key><Size>9223372036854775807</Size></Contents>"
         "<IsTruncated>false</IsTruncated></ListBucketResult>"},
    };
    struct test_server srv;
    assert_int_equal(ts_start(&srv, script, 2), 0);
    tp_s3 *s = client_for(srv.port);
    tp_s3_listing l;
    char err[256];
    assert_int_equal(tp_s3_list(s, "bkt", "", &l, err, sizeof err), TP_EPROTO);
    assert_int_equal(l.n, 0);
    assert_null(l.objects);
    assert_int_equal(tp_s3_list(s, "bkt", "", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.objects[0].size, INT64_MAX);
    tp_s3_listing_free(&l);
    ts_stop(&srv);
    tp_s3_free(s);
}

/* S3 keys are literal: "a/../b" and "./x" name their own objects. curl would otherwise remove
 * the dot segments and read or write a different key than the caller named. */
static void test_key_dot_segments_kept(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL, ""},
        {200, NULL, "body"},
    };
    struct test_server srv;
    assert_int_equal(ts_start(&srv, script, 2), 0);
    tp_s3 *s = client_for(srv.port);
    char err[256];
    assert_int_equal(tp_s3_put_object(s, "bkt", "t/a/../b", "x", 1, "text/plain", NULL, err, sizeof err), 0);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(tp_s3_get_object(s, "bkt", "./x", &body, &len, err, sizeof err), 0);
    assert_int_equal(len, 4);
    free(body);
    ts_stop(&srv);
    assert_non_null(strstr(srv.req[0], "PUT /bkt/t/a/../b HTTP/1.1\r\n"));
    assert_string_equal(ts_body(&srv, 0), "x");
    assert_non_null(strstr(srv.req[1], "GET /bkt/./x HTTP/1.1\r\n"));
    tp_s3_free(s);
}

/* Arguments are checked before anything is sent; transport failures are retryable. */
static void test_bad_arguments(void **state)
{
    (void)state;
    tp_s3 *s = client_for(ts_dead_port());
    char err[256];
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(tp_s3_put_object(s, "a/b", "k", "x", 1, NULL, NULL, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_s3_put_object(s, "bkt", "", "x", 1, NULL, NULL, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_s3_get_object(s, "", "k", &body, &len, err, sizeof err), TP_EINVAL);
    int rc = tp_s3_get_object(s, "bkt", "k", &body, &len, err, sizeof err);
    assert_int_equal(rc, TP_EUNAVAIL);
    assert_true(tp_err_retryable(rc));
    assert_null(body);
    tp_s3_free(s);
    tp_s3_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_list_size_overflow),
        cmocka_unit_test(test_key_dot_segments_kept),
        cmocka_unit_test(test_bad_arguments),
    };
    if (tp_aws_global_init() != 0)
        return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tp_aws_global_cleanup();
    return rc;
}

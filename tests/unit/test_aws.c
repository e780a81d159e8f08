/* test_aws.c — URI encoding, base64, XML helpers, error classification, configuration from the
 * environment, and tp_aws_request against a local scripted responder (headers sent, errors read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "aws_test_server.h"
#include "tp/aws.h"

static void test_uri_encode(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int keep_slash;
        const char *out;
    } cases[] = {
        {"AZaz09-_.~", 0, "AZaz09-_.~"},
        {"a b", 0, "a%20b"},
        {"a/b", 1, "a/b"},
        {"a/b", 0, "a%2Fb"},
        {"tenant=a b/\xc3\xbc.json", 1, "tenant%3Da%20b/%C3%BC.json"},
        {"+*&=%?#", 0, "%2B%2A%26%3D%25%3F%23"},
        {"", 0, ""},
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(tp_aws_uri_encode(cases[i].in, cases[i].keep_slash, out, sizeof out), 0);
        assert_string_equal(out, cases[i].out);
    }
    /* "a b" needs 6 bytes with the NUL */
    assert_int_equal(tp_aws_uri_encode("a b", 0, out, 5), TP_ETOOBIG);
    assert_int_equal(tp_aws_uri_encode("a b", 0, out, 6), 0);
}

static void test_classify(void **state)
{
    (void)state;
    static const struct {
        long status;
        const char *code;
        int want;
    } cases[] = {
        {200, "", 0},
        {200, "ProvisionedThroughputExceededException", 0},
        {400, "ProvisionedThroughputExceededException", TP_ETHROTTLED},
        {400, "LimitExceededException", TP_ETHROTTLED},
        {400, "ThrottlingException", TP_ETHROTTLED},
        {400, "KMSThrottlingException", TP_ETHROTTLED},
        {503, "SlowDown", TP_ETHROTTLED},
        {500, "InternalFailure", TP_EUNAVAIL},
        {503, "ServiceUnavailable", TP_EUNAVAIL},
        {502, "", TP_EUNAVAIL},
        {500, "SomethingNew", TP_EUNAVAIL},
        {400, "ResourceNotFoundException", TP_ENOTFOUND},
        {404, "NoSuchKey", TP_ENOTFOUND},
        {400, "ResourceInUseException", TP_EEXIST},
        {409, "BucketAlreadyOwnedByYou", TP_EEXIST},
        {400, "ExpiredIteratorException", TP_ETIMEDOUT},
        {400, "ValidationException", TP_EINVAL},
        {400, "InvalidArgumentException", TP_EINVAL},
        {400, "UnrecognizedClientException", TP_EAUTH},
        {403, "InvalidSignatureException", TP_EAUTH},
        {403, "SignatureDoesNotMatch", TP_EAUTH},
        {400, "ExpiredTokenException", TP_EAUTH},
        {403, "AccessDeniedException", TP_EFORBIDDEN},
        {429, "", TP_ETHROTTLED},
        {400, "", TP_EINVAL},
        {404, "", TP_ENOTFOUND},
        {0, "ProvisionedThroughputExceededException", TP_ETHROTTLED}, /* per-record code, no status */
        {0, "InternalFailure", TP_EUNAVAIL},
        {0, "", TP_EPROTO},
        {400, NULL, TP_EINVAL},
        /* A code is matched whole, never as a substring. */
        {400, "NotThrottlingReally", TP_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = tp_aws_classify(cases[i].status, cases[i].code);
        if (got != cases[i].want)
            fail_msg("case %zu (%ld, %s): got %s want %s", i, cases[i].status, cases[i].code ? cases[i].code : "NULL",
                     tp_errname(got), tp_errname(cases[i].want));
    }
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648 section 10 test vectors */
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = NULL;
        unsigned char *d = NULL;
        size_t el = 0, dl = 0;
        assert_int_equal(tp_aws_base64_encode(plain[i], strlen(plain[i]), &e, &el), 0);
        assert_string_equal(e, enc[i]);
        assert_int_equal(el, strlen(enc[i]));
        assert_int_equal(tp_aws_base64_decode(enc[i], strlen(enc[i]), &d, &dl), 0);
        assert_int_equal(dl, strlen(plain[i]));
        assert_memory_equal(d, plain[i], dl);
        assert_int_equal(d[dl], 0);
        free(e);
        free(d);
    }
    /* All byte values survive a round trip. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *e = NULL;
    unsigned char *d = NULL;
    size_t el, dl;
    assert_int_equal(tp_aws_base64_encode(all, sizeof all, &e, &el), 0);
    assert_int_equal(tp_aws_base64_decode(e, el, &d, &dl), 0);
    assert_int_equal(dl, sizeof all);
    assert_memory_equal(d, all, sizeof all);
    free(e);
    free(d);

    static const char *bad[] = {"Zg=", "Z===", "Zm9v!A==", "Zh==", "Zm9=", "=Zg=", "Zg==Zg==", "Zm 9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = NULL;
        if (tp_aws_base64_decode(bad[i], strlen(bad[i]), &d, &dl) != TP_ECORRUPT)
            fail_msg("decoding \"%s\" should be TP_ECORRUPT", bad[i]);
        assert_null(d);
    }
}

static void test_xml(void **state)
{
    (void)state;
    const char *doc = "<R><Contents><Key>a&amp;b</Key></Contents><Contents><Key>k&lt;&#252;&#xFC;&gt;</Key>"
                      "</Contents><IsTruncated>false</IsTruncated></R>";
    const char *end = doc + strlen(doc), *inner, *p = doc;
    size_t ilen;
    const char *want[] = {"a&b", "k<\xc3\xbc\xc3\xbc>"};
    size_t n = 0;
    while ((p = tp_aws_xml_find(p, end, "Contents", &inner, &ilen)) != NULL) {
        const char *k;
        size_t kl;
        char *txt = NULL;
        assert_non_null(tp_aws_xml_find(inner, inner + ilen, "Key", &k, &kl));
        assert_int_equal(tp_aws_xml_unescape(k, kl, &txt), 0);
        assert_true(n < 2);
        assert_string_equal(txt, want[n++]);
        free(txt);
    }
    assert_int_equal(n, 2);
    assert_null(tp_aws_xml_find(doc, end, "Missing", &inner, &ilen));
    assert_null(tp_aws_xml_find("<Key>unterminated", "<Key>unterminated" + 17, "Key", &inner, &ilen));

    static const char *bad[] = {"&bogus;", "&amp", "&#;", "&#0;", "&#x110000;", "&#xD800;", "&#12a;"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *txt = NULL;
        if (tp_aws_xml_unescape(bad[i], strlen(bad[i]), &txt) != TP_ECORRUPT)
            fail_msg("unescaping \"%s\" should be TP_ECORRUPT", bad[i]);
        assert_null(txt);
    }
}

static void clear_env(void)
{
    static const char *vars[] = {"AWS_REGION",
                                 "AWS_DEFAULT_REGION",
                                 "AWS_ACCESS_KEY_ID",
                                 "AWS_SECRET_ACCESS_KEY",
                                 "AWS_SESSION_TOKEN",
                                 "AWS_ENDPOINT_URL",
                                 "AWS_ENDPOINT_URL_KINESIS",
                                 "AWS_ENDPOINT_URL_S3",
                                 "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void test_config_from_env(void **state)
{
    (void)state;
    tp_aws_config c;
    char err[256];
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
    assert_int_equal(tp_aws_config_from_env(&c, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "AWS_REGION"));

    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    assert_int_equal(tp_aws_config_from_env(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.endpoint_kinesis, "https://kinesis.eu-west-1.amazonaws.com");
    assert_string_equal(c.endpoint_s3, "https://s3.eu-west-1.amazonaws.com");
    assert_string_equal(c.session_token, "");
    assert_int_equal(c.connect_timeout_ms, 2000);
    assert_int_equal(c.request_timeout_ms, 10000);

    setenv("AWS_REGION", "us-east-2", 1); /* wins over AWS_DEFAULT_REGION */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4569//", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    assert_int_equal(tp_aws_config_from_env(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "us-east-2");
    assert_string_equal(c.endpoint_kinesis, "http://127.0.0.1:9"); /* generic fallback, slash trimmed */
    assert_string_equal(c.endpoint_s3, "http://127.0.0.1:4569");
    assert_string_equal(c.endpoint_sagemaker, "http://127.0.0.1:9");
    assert_string_equal(c.session_token, "tok");

    setenv("AWS_ENDPOINT_URL_KINESIS", "127.0.0.1:4568", 1);
    assert_int_equal(tp_aws_config_from_env(&c, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "AWS_ENDPOINT_URL_KINESIS"));

    unsetenv("AWS_ENDPOINT_URL_KINESIS");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(tp_aws_config_from_env(&c, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
    clear_env();
}

static tp_aws_config cfg_for(int port)
{
    tp_aws_config c = {0};
    snprintf(c.region, sizeof c.region, "eu-west-3");
    snprintf(c.access_key, sizeof c.access_key, "AKIDTEST");
    snprintf(c.secret_key, sizeof c.secret_key, "secret");
    snprintf(c.session_token, sizeof c.session_token, "session-tok");
    snprintf(c.endpoint_kinesis, sizeof c.endpoint_kinesis, "http://127.0.0.1:%d", port);
    snprintf(c.endpoint_s3, sizeof c.endpoint_s3, "http://127.0.0.1:%d", port);
    c.connect_timeout_ms = 2000;
    c.request_timeout_ms = 5000;
    return c;
}

static void test_request_headers_and_errors(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, "x-amzn-RequestId: req-123\r\n", "{}"},
        {400, NULL, "{\"__type\":\"com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException\","
                    "\"message\":\"Rate exceeded\"}"},
        {400, "x-amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/\r\n", ""},
        {404, "x-amz-request-id: s3req\r\n",
         "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone &amp; lost</Message></Error>"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 4), 0);
    tp_aws_config c = cfg_for(s.port);
    tp_aws_client *cl = NULL;
    assert_int_equal(tp_aws_client_new(&c, "kinesis", &cl), 0);
    tp_aws_response r;
    char err[256];
    const char body[] = "{\"StreamName\":\"s\"}";
    const tp_aws_header h[] = {{"Content-Type", "application/x-amz-json-1.1"},
                               {"X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary"}};

    assert_int_equal(tp_aws_request(cl, "POST", "/", h, 2, body, strlen(body), &r, err, sizeof err), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{}");
    assert_string_equal(r.request_id, "req-123");
    assert_string_equal(r.error_code, "");
    tp_aws_response_free(&r);
    /* What went on the wire: the payload hash, the token, a SigV4 Authorization scoped right. */
    unsigned char md[32];
    unsigned mdl;
    char hex[65], line[128];
    EVP_Digest(body, strlen(body), md, &mdl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(line, sizeof line, "x-amz-content-sha256: %s\r\n", hex);
    const char *req = s.req[0];
    assert_non_null(strstr(req, "POST / HTTP/1.1\r\n"));
    assert_non_null(strstr(req, line));
    assert_non_null(strstr(req, "x-amz-security-token: session-tok\r\n"));
    assert_non_null(strstr(req, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
    assert_non_null(strstr(req, "/eu-west-3/kinesis/aws4_request, SignedHeaders="));
    assert_non_null(strstr(req, "x-amz-security-token"));
    assert_string_equal(ts_body(&s, 0), body);

    assert_int_equal(tp_aws_request(cl, "POST", "/", h, 2, body, strlen(body), &r, err, sizeof err), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.error_code, "ProvisionedThroughputExceededException");
    assert_string_equal(r.error_message, "Rate exceeded");
    assert_int_equal(tp_aws_classify(r.status, r.error_code), TP_ETHROTTLED);
    tp_aws_response_free(&r);

    assert_int_equal(tp_aws_request(cl, "POST", "/", h, 2, body, strlen(body), &r, err, sizeof err), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.error_code, "ResourceNotFoundException");
    assert_int_equal(tp_aws_classify(r.status, r.error_code), TP_ENOTFOUND);
    tp_aws_response_free(&r);

    assert_int_equal(tp_aws_request(cl, "GET", "/b/k", NULL, 0, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.error_code, "NoSuchKey");
    assert_string_equal(r.error_message, "gone & lost");
    assert_string_equal(r.request_id, "s3req");
    tp_aws_response_free(&r);
    assert_non_null(strstr(s.req[3], "GET /b/k HTTP/1.1\r\n"));
    /* SHA-256 of the empty body */
    assert_non_null(strstr(s.req[3], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));

    ts_stop(&s);
    tp_aws_client_free(cl);
}

static void test_request_transport_failure(void **state)
{
    (void)state;
    tp_aws_config c = cfg_for(ts_dead_port());
    tp_aws_client *cl = NULL;
    tp_aws_response r;
    char err[256] = "";
    assert_int_equal(tp_aws_client_new(&c, "s3", &cl), 0);
    int rc = tp_aws_request(cl, "GET", "/", NULL, 0, NULL, 0, &r, err, sizeof err);
    assert_int_equal(rc, TP_EUNAVAIL);
    assert_true(tp_err_retryable(rc));
    assert_int_equal(r.status, 0);
    assert_null(r.body);
    assert_true(strlen(err) > 0);
    /* Arguments are checked before anything is sent. */
    assert_int_equal(tp_aws_request(cl, "GET", "no-slash", NULL, 0, NULL, 0, &r, err, sizeof err), TP_EINVAL);
    const tp_aws_header empty[] = {{"Expect", ""}};
    assert_int_equal(tp_aws_request(cl, "GET", "/", empty, 1, NULL, 0, &r, err, sizeof err), TP_EINVAL);
    tp_aws_client_free(cl);
    tp_aws_client_free(NULL);
    assert_int_equal(tp_aws_client_new(&c, "dynamodb", &cl), TP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_config_from_env),
        cmocka_unit_test(test_request_headers_and_errors),
        cmocka_unit_test(test_request_transport_failure),
    };
    if (tp_aws_global_init() != 0)
        return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tp_aws_global_cleanup();
    return rc;
}

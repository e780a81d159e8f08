/* test_kinesis.c — hash-key arithmetic, PutRecords validation, and how the client reads answers
 * (partial failures, errors, GetRecords fields, ListShards paging) from a scripted local responder,
 * since kinesis-local never produces partial failures or throttling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include <curl/curl.h>

#include "aws_test_server.h"
#include "tp/kinesis.h"

#define MAX_HASH "340282366920938463463374607431768211455" /* 2^128 - 1 */

static void test_hash_key(void **state)
{
    (void)state;
    /* Expected values from python3:
     *   int.from_bytes(hashlib.md5(k).digest(), 'big')
     * i.e. the MD5 of the key read as a big-endian 128-bit number, as Kinesis maps partition keys. */
    static const struct {
        const char *key;
        const char *dec;
    } cases[] = {
        {"", "281949768489412648962353822266799178366"},
        {"a", "16955237001963240173058271559858726497"},
        {"tenant-1", "297748129396373898453220242184020918373"},
        {"order-key", "21790142519629068768376601293091389451"},
        {"partition-key-\xc3\xbc", "81756473029693434883158139963320218997"},
    };
    char out[48];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tp_kinesis_hash_key(cases[i].key, strlen(cases[i].key), out);
        assert_string_equal(out, cases[i].dec);
    }
}

static void test_hash_in_range(void **state)
{
    (void)state;
    assert_true(tp_kinesis_hash_in_range("0", "0", MAX_HASH));
    assert_true(tp_kinesis_hash_in_range(MAX_HASH, "0", MAX_HASH));
    assert_true(tp_kinesis_hash_in_range("170141183460469231731687303715884105728", "170141183460469231731687303715884105728",
                                         MAX_HASH));
    assert_false(tp_kinesis_hash_in_range("170141183460469231731687303715884105727",
                                          "170141183460469231731687303715884105728", MAX_HASH));
    assert_false(tp_kinesis_hash_in_range("170141183460469231731687303715884105728", "0",
                                          "170141183460469231731687303715884105727"));
    /* Numbers that differ only beyond 64 bits compare right. */
    assert_true(tp_kinesis_hash_in_range("18446744073709551616", "18446744073709551615", "18446744073709551617"));
    assert_false(tp_kinesis_hash_in_range("18446744073709551618", "18446744073709551615", "18446744073709551617"));
    /* Malformed or out-of-range numbers are never "in range". */
    assert_false(tp_kinesis_hash_in_range("340282366920938463463374607431768211456", "0", MAX_HASH));
    assert_false(tp_kinesis_hash_in_range("12x", "0", MAX_HASH));
    assert_false(tp_kinesis_hash_in_range("", "0", MAX_HASH));
    assert_false(tp_kinesis_hash_in_range("-1", "0", MAX_HASH));
    assert_true(tp_kinesis_hash_valid(MAX_HASH));
    assert_false(tp_kinesis_hash_valid("340282366920938463463374607431768211456"));
}

static void test_split_point(void **state)
{
    (void)state;
    char mid[48];
    assert_int_equal(tp_kinesis_split_point("0", MAX_HASH, mid), 0);
    assert_string_equal(mid, "170141183460469231731687303715884105728"); /* 2^127 */
    assert_int_equal(tp_kinesis_split_point("10", "11", mid), 0);
    assert_string_equal(mid, "11");
    assert_int_equal(tp_kinesis_split_point("10", "20", mid), 0);
    assert_string_equal(mid, "16");
    assert_int_equal(tp_kinesis_split_point("5", "5", mid), TP_EINVAL);
    assert_int_equal(tp_kinesis_split_point("6", "5", mid), TP_EINVAL);
    assert_int_equal(tp_kinesis_split_point("x", "5", mid), TP_EINVAL);
}

static tp_kinesis *client_for(int port)
{
    tp_aws_config c = {0};
    snprintf(c.region, sizeof c.region, "us-east-1");
    snprintf(c.access_key, sizeof c.access_key, "AK");
    snprintf(c.secret_key, sizeof c.secret_key, "SK");
    snprintf(c.endpoint_kinesis, sizeof c.endpoint_kinesis, "http://127.0.0.1:%d", port);
    c.connect_timeout_ms = 2000;
    c.request_timeout_ms = 5000;
    tp_kinesis *k = NULL;
    assert_int_equal(tp_kinesis_new(&c, &k), 0);
    return k;
}

static void test_put_validation(void **state)
{
    (void)state;
    tp_kinesis *k = client_for(ts_dead_port());
    tp_put_result_entry res[501];
    size_t failed;
    char err[256];
    static tp_put_entry e[501];
    for (size_t i = 0; i < 501; i++)
        e[i] = (tp_put_entry){"x", 1, "pk", NULL};

    assert_int_equal(tp_kinesis_put_records(k, "s", e, 0, res, &failed, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_kinesis_put_records(k, "s", e, 501, res, &failed, err, sizeof err), TP_EINVAL);
    /* 500 valid entries pass validation and reach the (dead) network. */
    assert_int_equal(tp_kinesis_put_records(k, "s", e, 500, res, &failed, err, sizeof err), TP_EUNAVAIL);

    tp_put_entry one = {"x", 1, "", NULL};
    assert_int_equal(tp_kinesis_put_records(k, "s", &one, 1, res, &failed, err, sizeof err), TP_EINVAL);
    char key[600];
    memset(key, 'k', 257);
    key[257] = '\0';
    one.partition_key = key;
    assert_int_equal(tp_kinesis_put_records(k, "s", &one, 1, res, &failed, err, sizeof err), TP_EINVAL);
    /* 256 two-byte characters: 512 bytes but within the 256-character limit. */
    for (int i = 0; i < 256; i++)
        memcpy(key + 2 * i, "\xc3\xbc", 2);
    key[512] = '\0';
    assert_int_equal(tp_kinesis_put_records(k, "s", &one, 1, res, &failed, err, sizeof err), TP_EUNAVAIL);

    one = (tp_put_entry){"x", 1, "pk", "340282366920938463463374607431768211456"};
    assert_int_equal(tp_kinesis_put_records(k, "s", &one, 1, res, &failed, err, sizeof err), TP_EINVAL);

    /* data + key over 1 MiB; six records of ~1 MiB over the 5 MiB batch limit */
    size_t mib = 1024 * 1024;
    char *big = calloc(1, mib);
    assert_non_null(big);
    one = (tp_put_entry){big, mib - 1, "pk", NULL};
    assert_int_equal(tp_kinesis_put_records(k, "s", &one, 1, res, &failed, err, sizeof err), TP_ETOOBIG);
    for (int i = 0; i < 6; i++)
        e[i] = (tp_put_entry){big, mib - 2, "pk", NULL};
    assert_int_equal(tp_kinesis_put_records(k, "s", e, 6, res, &failed, err, sizeof err), TP_ETOOBIG);
    assert_non_null(strstr(err, "batch"));
    free(big);
    tp_kinesis_free(k);
}

static void test_put_partial_failure(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"FailedRecordCount\":2,\"Records\":["
         "{\"SequenceNumber\":\"4960001\",\"ShardId\":\"shardId-000000000001\",\"ErrorCode\":null},"
         "{\"ErrorCode\":\"ProvisionedThroughputExceededException\",\"ErrorMessage\":\"Rate exceeded\"},"
         "{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"oops\"},"
         "{\"SequenceNumber\":\"4960004\",\"ShardId\":\"shardId-000000000000\"}]}"},
        {400, NULL, "{\"__type\":\"ProvisionedThroughputExceededException\",\"message\":\"slow down\"}"},
        {200, NULL, "{\"FailedRecordCount\":0,\"Records\":[]}"},
        {500, NULL, "<html>gateway</html>"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 4), 0);
    tp_kinesis *k = client_for(s.port);
    const tp_put_entry e[4] = {
        {"hello", 5, "a", NULL},
        {"\x00\x01\x02", 3, "b", NULL},
        {"{\"x\":1}", 7, "c\"quote", "12345"},
        {"", 0, "d", NULL},
    };
    tp_put_result_entry res[4];
    size_t failed = 99;
    char err[256];

    assert_int_equal(tp_kinesis_put_records(k, "st", e, 4, res, &failed, err, sizeof err), 0);
    assert_int_equal(failed, 2);
    assert_int_equal(res[0].err, 0);
    assert_string_equal(res[0].sequence, "4960001");
    assert_string_equal(res[0].shard_id, "shardId-000000000001");
    assert_int_equal(res[1].err, TP_ETHROTTLED);
    assert_string_equal(res[1].error_code, "ProvisionedThroughputExceededException");
    assert_int_equal(res[2].err, TP_EUNAVAIL);
    assert_string_equal(res[2].error_code, "InternalFailure");
    assert_int_equal(res[3].err, 0);
    assert_string_equal(res[3].sequence, "4960004");
    /* The request: JSON 1.1 target, base64 data, escaped key, explicit hash key. */
    assert_non_null(strcasestr(s.req[0], "X-Amz-Target: Kinesis_20131202.PutRecords\r\n"));
    assert_non_null(strcasestr(s.req[0], "Content-Type: application/x-amz-json-1.1\r\n"));
    const char *body = ts_body(&s, 0);
    assert_non_null(strstr(body, "\"StreamName\":\"st\""));
    assert_non_null(strstr(body, "\"Data\":\"aGVsbG8=\""));
    assert_non_null(strstr(body, "\"Data\":\"AAEC\""));
    assert_non_null(strstr(body, "\"Data\":\"\""));
    assert_non_null(strstr(body, "\"PartitionKey\":\"c\\\"quote\""));
    assert_non_null(strstr(body, "\"ExplicitHashKey\":\"12345\""));

    /* Whole-call throttling: nothing known stored, retryable. */
    int rc = tp_kinesis_put_records(k, "st", e, 1, res, &failed, err, sizeof err);
    assert_int_equal(rc, TP_ETHROTTLED);
    assert_true(tp_err_retryable(rc));
    assert_non_null(strstr(err, "slow down"));
    /* An answer whose record count does not match what was sent is a protocol error. */
    assert_int_equal(tp_kinesis_put_records(k, "st", e, 1, res, &failed, err, sizeof err), TP_EPROTO);
    /* A 5xx without a parseable error body is still classified from the status. */
    assert_int_equal(tp_kinesis_put_records(k, "st", e, 1, res, &failed, err, sizeof err), TP_EUNAVAIL);
    ts_stop(&s);
    tp_kinesis_free(k);
}

/* The asynchronous halves on a caller's curl multi handle give what the blocking call gives:
 * per-entry outcomes, whole-call errors, transport failures, and the client is reusable. */
static int drive(tp_kinesis *k, CURLM *multi)
{
    int running = 1;
    assert_int_equal(curl_multi_add_handle(multi, tp_kinesis_easy(k)), CURLM_OK);
    while (running) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        if (running)
            assert_int_equal(curl_multi_poll(multi, NULL, 0, 1000, NULL), CURLM_OK);
    }
    int left, result = -1;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(multi, &left)))
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == tp_kinesis_easy(k))
            result = (int)msg->data.result;
    curl_multi_remove_handle(multi, tp_kinesis_easy(k));
    return result;
}

static void test_put_async(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"FailedRecordCount\":1,\"Records\":["
         "{\"SequenceNumber\":\"77\",\"ShardId\":\"shardId-000000000001\"},"
         "{\"ErrorCode\":\"ProvisionedThroughputExceededException\",\"ErrorMessage\":\"Rate exceeded\"}]}"},
        {400, NULL, "{\"__type\":\"ProvisionedThroughputExceededException\",\"message\":\"slow down\"}"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 2), 0);
    tp_kinesis *k = client_for(s.port);
    CURLM *multi = curl_multi_init();
    assert_non_null(multi);
    const tp_put_entry e[2] = {{"hello", 5, "a", NULL}, {"\x00\x01\x02", 3, "b", "12345"}};
    tp_put_result_entry res[2];
    size_t failed = 99;
    char err[256];

    assert_int_equal(tp_kinesis_put_start(k, "st", e, 2, err, sizeof err), 0);
    /* One call per client at a time. */
    assert_int_equal(tp_kinesis_put_start(k, "st", e, 2, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_kinesis_put_finish(k, drive(k, multi), res, &failed, err, sizeof err), 0);
    assert_int_equal(failed, 1);
    assert_int_equal(res[0].err, 0);
    assert_string_equal(res[0].sequence, "77");
    assert_int_equal(res[1].err, TP_ETHROTTLED);
    const char *body = ts_body(&s, 0);
    assert_non_null(strstr(body, "\"Data\":\"aGVsbG8=\""));
    assert_non_null(strstr(body, "\"ExplicitHashKey\":\"12345\""));
    assert_non_null(strcasestr(s.req[0], "X-Amz-Target: Kinesis_20131202.PutRecords\r\n"));
    assert_non_null(strcasestr(s.req[0], "Authorization: AWS4-HMAC-SHA256"));

    assert_int_equal(tp_kinesis_put_start(k, "st", e, 1, err, sizeof err), 0);
    assert_int_equal(tp_kinesis_put_finish(k, drive(k, multi), res, &failed, err, sizeof err), TP_ETHROTTLED);
    assert_non_null(strstr(err, "slow down"));
    ts_stop(&s);
    /* Nobody listening any more: a transport failure, retryable. */
    assert_int_equal(tp_kinesis_put_start(k, "st", e, 1, err, sizeof err), 0);
    int rc = tp_kinesis_put_finish(k, drive(k, multi), res, &failed, err, sizeof err);
    assert_int_equal(rc, TP_EUNAVAIL);
    /* finish without a start is refused, not a crash. */
    assert_int_equal(tp_kinesis_put_finish(k, 0, res, &failed, err, sizeof err), TP_EINVAL);
    curl_multi_cleanup(multi);
    tp_kinesis_free(k);
}

static void test_get_records(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"Records\":[{\"Data\":\"AGFiYw==\",\"PartitionKey\":\"pk1\",\"SequenceNumber\":\"111\","
         "\"ApproximateArrivalTimestamp\":1700000000.123,\"EncryptionType\":null},"
         "{\"Data\":\"eyJhIjoxfQ==\",\"PartitionKey\":\"pk2\",\"SequenceNumber\":\"112\","
         "\"ApproximateArrivalTimestamp\":1700000001}],"
         "\"NextShardIterator\":null,\"MillisBehindLatest\":0,"
         "\"ChildShards\":[{\"ShardId\":\"shardId-000000000003\",\"ParentShards\":[\"shardId-000000000000\"]},"
         "{\"ShardId\":\"shardId-000000000004\",\"ParentShards\":[\"shardId-000000000000\"]}]}"},
        {200, NULL, "{\"Records\":[],\"NextShardIterator\":\"AAAA-next\",\"MillisBehindLatest\":1500,"
                    "\"ChildShards\":null}"},
        {400, NULL, "{\"__type\":\"ExpiredIteratorException\",\"message\":\"Iterator expired\"}"},
        {200, NULL, "{\"Records\":[{\"Data\":\"not base64!\",\"PartitionKey\":\"p\",\"SequenceNumber\":\"1\"}]}"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 4), 0);
    tp_kinesis *k = client_for(s.port);
    tp_get_records_result r;
    char err[256];

    assert_int_equal(tp_kinesis_get_records(k, "it-1", 100, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.records[0].len, 4);
    assert_memory_equal(r.records[0].data, "\0abc", 4);
    assert_string_equal(r.records[0].partition_key, "pk1");
    assert_string_equal(r.records[0].sequence, "111");
    assert_int_equal(r.records[0].arrival_ms, 1700000000123LL);
    assert_string_equal(r.records[1].data, "{\"a\":1}");
    assert_int_equal(r.records[1].arrival_ms, 1700000001000LL);
    assert_null(r.next_iterator); /* closed shard fully read */
    assert_int_equal(r.n_children, 2);
    assert_string_equal(r.child_shards[0], "shardId-000000000003");
    assert_string_equal(r.child_shards[1], "shardId-000000000004");
    tp_get_records_result_free(&r);
    assert_null(r.records);
    assert_non_null(strcasestr(s.req[0], "X-Amz-Target: Kinesis_20131202.GetRecords\r\n"));
    assert_non_null(strstr(ts_body(&s, 0), "\"ShardIterator\":\"it-1\""));
    assert_non_null(strstr(ts_body(&s, 0), "\"Limit\":100"));

    assert_int_equal(tp_kinesis_get_records(k, "it-2", 10000, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 0);
    assert_string_equal(r.next_iterator, "AAAA-next");
    assert_int_equal(r.millis_behind, 1500);
    assert_int_equal(r.n_children, 0);
    tp_get_records_result_free(&r);

    assert_int_equal(tp_kinesis_get_records(k, "it-3", 1, &r, err, sizeof err), TP_ETIMEDOUT);
    assert_int_equal(tp_kinesis_get_records(k, "it-4", 1, &r, err, sizeof err), TP_EPROTO);
    assert_int_equal(r.n, 0);
    assert_int_equal(tp_kinesis_get_records(k, "it", 0, &r, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_kinesis_get_records(k, "it", 10001, &r, err, sizeof err), TP_EINVAL);
    ts_stop(&s);
    tp_kinesis_free(k);
}

static void test_list_shards_paging(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\",\"ParentShardId\":null,"
         "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"" MAX_HASH "\"},"
         "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"100\",\"EndingSequenceNumber\":\"200\"}}],"
         "\"NextToken\":\"tok-1\"}"},
        {200, NULL,
         "{\"Shards\":[{\"ShardId\":\"shardId-000000000001\",\"ParentShardId\":\"shardId-000000000000\","
         "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"5\"},"
         "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"201\",\"EndingSequenceNumber\":null}}],"
         "\"NextToken\":null}"},
        {400, NULL, "{\"__type\":\"ResourceNotFoundException\",\"message\":\"no stream\"}"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 3), 0);
    tp_kinesis *k = client_for(s.port);
    tp_shard_list l;
    char err[256];
    assert_int_equal(tp_kinesis_list_shards(k, "st", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.shards[0].shard_id, "shardId-000000000000");
    assert_string_equal(l.shards[0].parent_shard_id, "");
    assert_string_equal(l.shards[0].ending_hash_key, MAX_HASH);
    assert_string_equal(l.shards[0].ending_sequence, "200");
    assert_string_equal(l.shards[1].parent_shard_id, "shardId-000000000000");
    assert_string_equal(l.shards[1].ending_sequence, "");
    tp_shard_list_free(&l);
    /* First page by stream name; the next by token only (AWS rejects both together). */
    assert_non_null(strstr(ts_body(&s, 0), "\"StreamName\":\"st\""));
    assert_null(strstr(ts_body(&s, 1), "StreamName"));
    assert_non_null(strstr(ts_body(&s, 1), "\"NextToken\":\"tok-1\""));

    assert_int_equal(tp_kinesis_list_shards(k, "st", &l, err, sizeof err), TP_ENOTFOUND);
    assert_int_equal(l.n, 0);
    assert_null(l.shards);
    ts_stop(&s);
    tp_kinesis_free(k);
}

/* An entry the answer does not account for (no ErrorCode, no SequenceNumber) may or may not be
 * stored; it must come back as retryable so a caller that obeys tp_err_retryable resends it. */
static void test_put_unreadable_entry_is_retryable(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\":\"1\",\"ShardId\":\"shardId-000000000000\"},"
         "{\"ShardId\":\"shardId-000000000000\"}]}"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 1), 0);
    tp_kinesis *k = client_for(s.port);
    const tp_put_entry e[2] = {{"a", 1, "a", NULL}, {"b", 1, "b", NULL}};
    tp_put_result_entry res[2];
    size_t failed = 0;
    char err[256];
    assert_int_equal(tp_kinesis_put_records(k, "st", e, 2, res, &failed, err, sizeof err), 0);
    assert_int_equal(failed, 1);
    assert_int_equal(res[0].err, 0);
    assert_int_not_equal(res[1].err, 0);
    assert_true(tp_err_retryable(res[1].err));
    ts_stop(&s);
    tp_kinesis_free(k);
}

/* A partition key that is not UTF-8 cannot go into the JSON request: the caller's mistake
 * (TP_EINVAL), not an out-of-memory condition. */
static void test_put_key_not_utf8(void **state)
{
    (void)state;
    tp_kinesis *k = client_for(ts_dead_port());
    tp_put_result_entry res[1];
    size_t failed;
    char err[256];
    static const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const tp_put_entry e = {"x", 1, bad[i], NULL};
        int rc = tp_kinesis_put_records(k, "s", &e, 1, res, &failed, err, sizeof err);
        if (rc != TP_EINVAL)
            fail_msg("key %zu: got %s want TP_EINVAL", i, tp_errname(rc));
    }
    /* Valid multi-byte keys still pass validation and reach the (dead) network. */
    const tp_put_entry ok = {"x", 1, "\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", NULL};
    assert_int_equal(tp_kinesis_put_records(k, "s", &ok, 1, res, &failed, err, sizeof err), TP_EUNAVAIL);
    tp_kinesis_free(k);
}

/* The exact request body: every byte value of data survives base64, and keys with quotes,
 * backslashes, control characters and non-ASCII are escaped as JSON requires. */
static void test_put_request_body_exact(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\":\"1\",\"ShardId\":\"s\"},"
         "{\"SequenceNumber\":\"2\",\"ShardId\":\"s\"}]}"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 1), 0);
    tp_kinesis *k = client_for(s.port);
    const tp_put_entry e[2] = {
        {"\xff\x00\x7f", 3, "q\"b\\c\x01\n\xc3\xbc/", NULL},
        {"hello", 5, "p", "340282366920938463463374607431768211455"},
    };
    tp_put_result_entry res[2];
    size_t failed = 9;
    char err[256];
    assert_int_equal(tp_kinesis_put_records(k, "st\"x", e, 2, res, &failed, err, sizeof err), 0);
    assert_int_equal(failed, 0);
    ts_stop(&s);
    json_error_t je;
    json_t *got = json_loads(ts_body(&s, 0), 0, &je);
    assert_non_null(got);
    json_t *want = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}]}", "StreamName", "st\"x", "Records", "Data",
                             "/wB/", "PartitionKey", "q\"b\\c\x01\n\xc3\xbc/", "Data", "aGVsbG8=",
                             "PartitionKey", "p", "ExplicitHashKey", "340282366920938463463374607431768211455");
    assert_non_null(want);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    tp_kinesis_free(k);
}

/* A length whose sum with the key wraps around is too big, not "out of memory". */
static void test_put_huge_length(void **state)
{
    (void)state;
    tp_kinesis *k = client_for(ts_dead_port());
    tp_put_result_entry res[1];
    size_t failed;
    char err[256];
    const tp_put_entry e = {"x", SIZE_MAX, "pk", NULL};
    assert_int_equal(tp_kinesis_put_records(k, "s", &e, 1, res, &failed, err, sizeof err), TP_ETOOBIG);
    tp_kinesis_free(k);
}

/* ApproximateArrivalTimestamp comes from the server: a value no int64 millisecond count can hold
 * must not reach a float-to-integer conversion (undefined behaviour); it reads as unknown (0). */
static void test_get_records_arrival_out_of_range(void **state)
{
    (void)state;
    static const struct ts_canned script[] = {
        {200, NULL,
         "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\",\"SequenceNumber\":\"1\","
         "\"ApproximateArrivalTimestamp\":1e300},"
         "{\"Data\":\"Yg==\",\"PartitionKey\":\"p\",\"SequenceNumber\":\"2\","
         "\"ApproximateArrivalTimestamp\":-1e300},"
         "{\"Data\":\"Yw==\",\"PartitionKey\":\"p\",\"SequenceNumber\":\"3\","
         "\"ApproximateArrivalTimestamp\":1700000000.5}],"
         "\"NextShardIterator\":\"n\",\"MillisBehindLatest\":0}"},
    };
    struct test_server s;
    assert_int_equal(ts_start(&s, script, 1), 0);
    tp_kinesis *k = client_for(s.port);
    tp_get_records_result r;
    char err[256];
    assert_int_equal(tp_kinesis_get_records(k, "it", 10, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.records[0].arrival_ms, 0);
    assert_int_equal(r.records[1].arrival_ms, 0);
    assert_int_equal(r.records[2].arrival_ms, 1700000000500LL);
    tp_get_records_result_free(&r);
    ts_stop(&s);
    tp_kinesis_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_key),           cmocka_unit_test(test_hash_in_range),
        cmocka_unit_test(test_split_point),        cmocka_unit_test(test_put_validation),
        cmocka_unit_test(test_put_partial_failure),
        cmocka_unit_test(test_put_async), cmocka_unit_test(test_get_records),
        cmocka_unit_test(test_list_shards_paging),
        cmocka_unit_test(test_put_unreadable_entry_is_retryable),
        cmocka_unit_test(test_put_huge_length),
        cmocka_unit_test(test_put_key_not_utf8),
        cmocka_unit_test(test_put_request_body_exact),
        cmocka_unit_test(test_get_records_arrival_out_of_range),
    };
    if (tp_aws_global_init() != 0)
        return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tp_aws_global_cleanup();
    return rc;
}

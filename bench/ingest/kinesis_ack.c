/* kinesis_ack.c — BENCHMARK TOOL ONLY: a minimal Kinesis endpoint that acknowledges
 * PutRecords at once (after an optional delay that imitates real Kinesis' tens of
 * milliseconds), answers ListShards / DescribeStreamSummary for a fixed 2-shard stream, and
 * counts what it received. It exists to measure ingest-api's own capacity without
 * kinesis-local's ~2-3 ms of CPU per record; it is never used by tests or by the stack, and
 * it does not store anything.
 *
 * usage: tp-bench-kinesis-ack PORT [DELAY_MS]   (prints counters on SIGINT/SIGTERM and every 5 s) */
#include <microhttpd.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY (6u << 20)
/* 2^127: the first hash key of shard 1 when the 128-bit space is split in two. */
static const char HALF[] = "170141183460469231731687303715884105728";

static _Atomic unsigned long long n_calls, n_records, n_bytes;
static unsigned delay_ms;
static volatile sig_atomic_t stop;

struct body {
    char *p;
    size_t len;
};

static int dec_ge(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return alen > blen;
    return memcmp(a, b, alen) >= 0;
}

/* Which of the two shards a record lands on: ExplicitHashKey if given, else MD5(pkey). */
static int shard_of(const char *rec, const char *rec_end)
{
    const char *e = memmem(rec, (size_t)(rec_end - rec), "\"ExplicitHashKey\":\"", 19);
    if (e) {
        e += 19;
        const char *q = memchr(e, '"', (size_t)(rec_end - e));
        if (q)
            return dec_ge(e, (size_t)(q - e), HALF);
    }
    const char *k = memmem(rec, (size_t)(rec_end - rec), "\"PartitionKey\":\"", 16);
    if (!k)
        return 0;
    k += 16;
    const char *q = memchr(k, '"', (size_t)(rec_end - k));
    if (!q)
        return 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(k, (size_t)(q - k), md, &mdlen, EVP_md5(), NULL))
        return 0;
    return md[0] >= 0x80;
}

static char *put_records_reply(const struct body *b, size_t *outlen)
{
    /* Records are objects inside "Records":[...]; base64 Data holds no braces or quotes,
     * so scanning for the braces of each record object is exact for well-formed input. */
    const char *p = strstr(b->p, "\"Records\"");
    size_t cap = 64 * 1024, len = 0, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    len += (size_t)snprintf(out, cap, "{\"FailedRecordCount\":0,\"Records\":[");
    const char *end = b->p + b->len;
    while (p && (p = memchr(p, '{', (size_t)(end - p))) != NULL) {
        const char *close = memchr(p, '}', (size_t)(end - p));
        if (!close)
            break;
        int shard = shard_of(p, close);
        if (len + 160 > cap) {
            cap *= 2;
            char *np = realloc(out, cap);
            if (!np) {
                free(out);
                return NULL;
            }
            out = np;
        }
        len += (size_t)snprintf(out + len, cap - len,
                                "%s{\"SequenceNumber\":\"4960000000000000000000000000000000000000000000%08zu\","
                                "\"ShardId\":\"shardId-00000000000%d\"}",
                                n ? "," : "", n, shard);
        n++;
        p = close + 1;
    }
    len += (size_t)snprintf(out + len, cap - len, "]}");
    atomic_fetch_add(&n_records, n);
    *outlen = len;
    return out;
}

static const char LIST_SHARDS[] =
    "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\",\"HashKeyRange\":{\"StartingHashKey\":\"0\","
    "\"EndingHashKey\":\"170141183460469231731687303715884105727\"},\"SequenceNumberRange\":"
    "{\"StartingSequenceNumber\":\"1\"}},{\"ShardId\":\"shardId-000000000001\",\"HashKeyRange\":"
    "{\"StartingHashKey\":\"170141183460469231731687303715884105728\",\"EndingHashKey\":"
    "\"340282366920938463463374607431768211455\"},\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"2\"}}]}";
static const char SUMMARY[] =
    "{\"StreamDescriptionSummary\":{\"StreamName\":\"bench\",\"StreamARN\":\"arn:aws:kinesis:us-east-1:0:stream/bench\","
    "\"StreamStatus\":\"ACTIVE\",\"RetentionPeriodHours\":168,\"OpenShardCount\":2,\"ConsumerCount\":0,"
    "\"StreamCreationTimestamp\":0,\"EnhancedMonitoring\":[],\"EncryptionType\":\"NONE\"}}";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    MHD_add_response_header(r, "Content-Type", "application/x-amz-json-1.1");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version;
    struct body *b = *state;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *state = b;
        return MHD_YES;
    }
    if (*size) {
        if (b->len + *size > MAX_BODY)
            return MHD_NO;
        char *np = realloc(b->p, b->len + *size + 1);
        if (!np)
            return MHD_NO;
        b->p = np;
        memcpy(b->p + b->len, data, *size);
        b->len += *size;
        b->p[b->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&n_calls, 1);
    atomic_fetch_add(&n_bytes, b->len);
    const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
    if (!target || !b->p)
        return reply(c, 400, "{\"__type\":\"InvalidArgumentException\"}", 36, MHD_RESPMEM_PERSISTENT);
    if (delay_ms)
        usleep(delay_ms * 1000u);
    if (strstr(target, ".PutRecords")) {
        size_t len;
        char *out = put_records_reply(b, &len);
        if (!out)
            return MHD_NO;
        return reply(c, 200, out, len, MHD_RESPMEM_MUST_FREE);
    }
    if (strstr(target, ".ListShards"))
        return reply(c, 200, LIST_SHARDS, sizeof LIST_SHARDS - 1, MHD_RESPMEM_PERSISTENT);
    if (strstr(target, ".DescribeStreamSummary"))
        return reply(c, 200, SUMMARY, sizeof SUMMARY - 1, MHD_RESPMEM_PERSISTENT);
    return reply(c, 400, "{\"__type\":\"UnknownOperationException\"}", 38, MHD_RESPMEM_PERSISTENT);
}

static void done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode tc)
{
    (void)cls, (void)c, (void)tc;
    struct body *b = *state;
    if (b) {
        free(b->p);
        free(b);
    }
    *state = NULL;
}

static void on_signal(int s) { (void)s, stop = 1; }

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: %s PORT [DELAY_MS]\nBenchmark-only Kinesis acknowledger (stores nothing).\n", argv[0]);
        return argc < 2 ? 2 : 0;
    }
    int port = atoi(argv[1]);
    delay_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    /* Thread per connection: a delayed answer must not hold up other senders' calls. */
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                                MHD_USE_ERROR_LOG,
                                            (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                                            done, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                            MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot listen on %d\n", port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop) {
        sleep(1);
    }
    MHD_stop_daemon(d);
    printf("{\"calls\":%llu,\"records\":%llu,\"bytes\":%llu}\n", (unsigned long long)n_calls,
           (unsigned long long)n_records, (unsigned long long)n_bytes);
    return 0;
}

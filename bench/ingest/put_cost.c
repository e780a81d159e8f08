/* put_cost.c — BENCHMARK TOOL ONLY: the CPU one PutRecords call costs the caller, through the
 * same code the producer uses (tp_kinesis: libcurl with CURLOPT_AWS_SIGV4, one reused
 * connection). Point it at tp-bench-kinesis-ack, never at a real stream you care about.
 *
 * Why: ingest-api's single-event capacity is bounded by CPU, and every batch it sends costs a
 * fixed price whatever its size. Knowing that price (against the cost of answering one HTTP
 * request) says how far larger batches can help, and how much of the price is the call itself
 * rather than its payload (compare -n 1 -s 100 with -n 32 -s 300).
 *
 * usage: AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4600 tp-bench-put-cost [-c CALLS] [-n ENTRIES] [-s BYTES] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tp/aws.h"
#include "tp/kinesis.h"

#define MAX_ENTRIES 500

static double cpu_s(int which_user)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    struct timeval t = which_user ? r.ru_utime : r.ru_stime;
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int arg_int(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "put_cost: %s must be an integer in [%ld, %ld], got \"%s\"\n", name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    long calls = 20000, n = 1, size = 100;
    const char *stream = "bench";
    int o;
    while ((o = getopt(argc, argv, "c:n:s:t:h")) != -1) {
        int bad = 0;
        switch (o) {
        case 'c': bad = arg_int("-c CALLS", optarg, 1, 100000000, &calls); break;
        case 'n': bad = arg_int("-n ENTRIES", optarg, 1, MAX_ENTRIES, &n); break;
        case 's': bad = arg_int("-s BYTES", optarg, 1, 1024 * 1024, &size); break;
        case 't': stream = optarg; break;
        default:
            fprintf(stderr,
                    "usage: %s [-c CALLS (20000)] [-n ENTRIES per call (1)] [-s BYTES per entry (100)] [-t STREAM]\n"
                    "Benchmark-only: CPU per PutRecords call through tp_kinesis, one call at a time.\n"
                    "Reads the standard AWS variables; point AWS_ENDPOINT_URL_KINESIS at tp-bench-kinesis-ack.\n",
                    argv[0]);
            return o == 'h' ? 0 : 2;
        }
        if (bad)
            return 2;
    }
    char err[512];
    tp_aws_config cfg;
    tp_kinesis *k = NULL;
    if (tp_aws_global_init() != 0 || tp_aws_config_from_env(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "put_cost: %s\n", err);
        return 1;
    }
    if (tp_kinesis_new(&cfg, &k) != 0) {
        fprintf(stderr, "put_cost: cannot create a Kinesis client\n");
        return 1;
    }
    static tp_put_entry e[MAX_ENTRIES];
    static tp_put_result_entry res[MAX_ENTRIES];
    char *data = malloc((size_t)size);
    if (!data) {
        fprintf(stderr, "put_cost: out of memory\n");
        return 1;
    }
    memset(data, 'x', (size_t)size);
    for (long i = 0; i < n; i++)
        e[i] = (tp_put_entry){.data = data, .len = (size_t)size, .partition_key = "bench"};

    /* One call first: the connection and curl's caches are then warm, as in a running producer. */
    size_t failed = 0;
    int rc = tp_kinesis_put_records(k, stream, e, (size_t)n, res, &failed, err, sizeof err);
    double u0 = cpu_s(1), s0 = cpu_s(0), w0 = wall_s();
    for (long i = 0; rc == 0 && i < calls; i++)
        rc = tp_kinesis_put_records(k, stream, e, (size_t)n, res, &failed, err, sizeof err);
    double du = cpu_s(1) - u0, ds = cpu_s(0) - s0, dw = wall_s() - w0;
    if (rc != 0 || failed) {
        fprintf(stderr, "put_cost: PutRecords failed: %s\n", rc ? err : "entries not stored");
        tp_kinesis_free(k);
        free(data);
        return 1;
    }
    printf("{\"calls\":%ld,\"entries\":%ld,\"entry_bytes\":%ld,\"cpu_us_per_call\":%.1f,\"user_us\":%.1f,"
           "\"sys_us\":%.1f,\"wall_us_per_call\":%.1f}\n",
           calls, n, size, (du + ds) * 1e6 / (double)calls, du * 1e6 / (double)calls, ds * 1e6 / (double)calls,
           dw * 1e6 / (double)calls);
    tp_kinesis_free(k);
    tp_aws_global_cleanup();
    free(data);
    return 0;
}

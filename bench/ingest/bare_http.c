/* bare_http.c — BENCHMARK TOOL ONLY: the ceiling. A libmicrohttpd server with the same
 * threading model as tp_http (internal thread pool, epoll) that reads the body and answers
 * 202 {"accepted":1} with no work at all. ingest-api's requests/s are compared against it.
 *
 * usage: tp-bench-bare-http PORT [THREADS] */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static const char BODY[] = "{\"accepted\":1}";

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0; /* discard: the ceiling does no work */
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 202, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_signal(int s) { (void)s, stop = 1; }

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: %s PORT [THREADS]\nBenchmark-only: 202 for every request, no work.\n", argv[0]);
        return argc < 2 ? 2 : 0;
    }
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
                                            (uint16_t)atoi(argv[1]), NULL, NULL, handle, NULL,
                                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                                            (unsigned)10000, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot listen\n");
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop)
        sleep(1);
    MHD_stop_daemon(d);
    return 0;
}

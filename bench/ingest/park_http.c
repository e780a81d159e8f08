/* park_http.c — BENCHMARK TOOL ONLY: what parking a connection costs, with nothing else.
 *
 * A durable acknowledgement cannot be sent from inside the request handler: the connection is
 * suspended and resumed once the events are stored. This server does no work at all, like
 * tp-bench-bare-http, but in the cheapest shape such a design can take with libmicrohttpd: one
 * event loop per thread (MHD without internal threads, its epoll fd in our loop, SO_REUSEPORT
 * so each loop accepts its own connections), and in "park" mode every request is suspended and
 * resumed by the same loop at the end of the pass that saw it, then answered 202. No thread
 * hand-off, no Kinesis: the upper bound for any durable design on top of MHD suspend/resume.
 *
 * usage: tp-bench-park-http PORT [THREADS] [park|inline] */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static const char BODY[] = "{\"accepted\":1}";

/* One loop: its daemon, and the connections it parked in the current pass. */
struct loop {
    struct MHD_Daemon *d;
    int park;
    struct MHD_Connection **parked;
    size_t nparked, cap;
    pthread_t th;
};

enum req_state { REQ_NEW = 1, REQ_PARKED, REQ_READY };

static enum MHD_Result answer(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 202, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state)
{
    struct loop *l = cls;
    (void)url, (void)method, (void)version, (void)data;
    if (!*state) {
        *state = (void *)(intptr_t)REQ_NEW;
        return MHD_YES;
    }
    if (*size) {
        *size = 0; /* discard: no work */
        return MHD_YES;
    }
    if (!l->park || (intptr_t)*state == REQ_READY)
        return answer(c);
    if (l->nparked == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct MHD_Connection **p = realloc(l->parked, cap * sizeof *p);
        if (!p)
            return MHD_NO;
        l->parked = p;
        l->cap = cap;
    }
    *state = (void *)(intptr_t)REQ_READY; /* answered when MHD calls again after the resume */
    l->parked[l->nparked++] = c;
    MHD_suspend_connection(c);
    return MHD_YES;
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    if (!info || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, info->epoll_fd, &ev) != 0) {
        fprintf(stderr, "cannot set up the loop\n");
        return NULL;
    }
    while (!stop) {
        MHD_UNSIGNED_LONG_LONG t;
        int ms = MHD_get_timeout(l->d, &t) == MHD_YES && t < 100 ? (int)t : 100;
        epoll_wait(ep, &out, 1, ms);
        MHD_run(l->d);
        /* The "stored" moment of a durable design: resume what this pass parked, and let MHD
         * answer them now rather than when its epoll fd next wakes us. */
        while (l->nparked) {
            for (size_t i = 0; i < l->nparked; i++)
                MHD_resume_connection(l->parked[i]);
            l->nparked = 0;
            MHD_run(l->d);
        }
    }
    close(ep);
    return NULL;
}

static void on_signal(int s) { (void)s, stop = 1; }

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr,
                "usage: %s PORT [THREADS] [park|inline]\n"
                "Benchmark-only: 202 for every request, no work; park = suspend and resume each request\n"
                "in its own event loop before answering.\n",
                argv[0]);
        return argc < 2 ? 2 : 0;
    }
    int n = argc > 2 ? atoi(argv[2]) : 2;
    int park = argc > 3 ? strcmp(argv[3], "inline") != 0 : 1;
    if (n < 1 || n > 64) {
        fprintf(stderr, "THREADS must be 1..64\n");
        return 2;
    }
    struct loop *loops = calloc((size_t)n, sizeof *loops);
    if (!loops)
        return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (int i = 0; i < n; i++) {
        loops[i].park = park;
        loops[i].d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                                      (uint16_t)atoi(argv[1]), NULL, NULL, handle, &loops[i],
                                      MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_CONNECTION_LIMIT,
                                      (unsigned)10000, MHD_OPTION_END);
        if (!loops[i].d || pthread_create(&loops[i].th, NULL, loop_main, &loops[i]) != 0) {
            fprintf(stderr, "cannot listen or start loop %d\n", i);
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(loops[i].th, NULL);
        MHD_stop_daemon(loops[i].d);
        free(loops[i].parked);
    }
    free(loops);
    return 0;
}

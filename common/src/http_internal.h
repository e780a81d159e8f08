/* http_internal.h — what http.c (server, MHD glue) and http_req.c (accessors, responding)
 * share. Not a public header: nothing outside common/src/http*.c includes it.
 *
 * A request's life, and who may touch what when:
 *   - MHD's access handler creates it on the first call (one malloc), matches the route, reads
 *     the body, calls the handler and queues the answer; the completion callback frees it.
 *   - The handler may answer later from any thread. The handshake between "the handler has an
 *     answer" and "MHD has parked the connection" is the atomic state below, so an answer
 *     racing with MHD_suspend_connection is never lost and the connection is resumed exactly
 *     once.
 *   - refs: one reference for MHD (dropped at completion), one for the handler while it owes
 *     an answer (dropped by tp_http_respond*). Usually the handler's goes first; when a
 *     graceful stop had to answer a stuck request itself (REQ_FORCED), the handler's late
 *     answer only drops the last reference and touches nothing but the request. */
#ifndef TP_HTTP_INTERNAL_H
#define TP_HTTP_INTERNAL_H

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "tp/event.h"
#include "tp/http.h"

#define TP_HTTP_MAX_PARAMS 8
#define TP_HTTP_MAX_SEGS 16
#define TP_HTTP_REQ_ID_MAX 64
#define TP_HTTP_STATUS_SLOTS 600

enum req_state {
    REQ_HANDLING = 0, /* handler running or about to; no answer yet */
    REQ_SUSPENDED,    /* MHD has parked the connection; the answer will resume it */
    REQ_ANSWERED,     /* req->pending holds the handler's answer */
    REQ_FORCED,       /* the server answered (stop timed out); a later handler answer is dropped */
};

struct http_route {
    const char *method;  /* borrowed */
    const char *pattern; /* borrowed; also the metrics label */
    int nsegs;
    const char *segs[TP_HTTP_MAX_SEGS]; /* literal text (not terminated), or a pname */
    char pname[TP_HTTP_MAX_PARAMS][32]; /* param names, NUL-terminated */
    size_t seglen[TP_HTTP_MAX_SEGS];
    unsigned char is_param[TP_HTTP_MAX_SEGS];
    tp_http_handler handler;
    void *ctx;
    tp_histogram *latency;
    /* tp_http_requests_total{route,status} handles, created on first use of a status. */
    _Atomic(tp_counter *) by_status[TP_HTTP_STATUS_SLOTS];
};

struct http_header {
    char *name;
    char *value;
};

struct http_loop;

struct tp_http_req {
    tp_http_server *srv;
    struct http_loop *loop; /* whose MHD daemon holds the connection */
    struct MHD_Connection *conn;
    struct http_route *route; /* NULL until matched; srv->unmatched for 404/405 */
    const char *method;       /* MHD's strings, valid until completion */
    const char *path;
    int64_t start_ns;

    char *body;
    size_t body_len, body_cap;
    int too_large;
    int dispatched;    /* the handler has been called */
    int wants_suspend; /* tp_http_req_suspend was called */
    int in_susp_list;

    _Atomic int state;
    _Atomic int refs;
    struct MHD_Response *pending; /* the handler's answer (REQ_ANSWERED) */
    int pending_status;
    struct MHD_Response *forced; /* the server's answer (REQ_FORCED) */
    int status;                  /* what was queued, for the access log and metrics */

    struct http_header *hdrs;
    size_t nhdrs;

    int nparams;
    const char *pnames[TP_HTTP_MAX_PARAMS];
    const char *pvals[TP_HTTP_MAX_PARAMS];
    char *pbuf; /* NUL-separated copies of the param values */

    char req_id[TP_HTTP_REQ_ID_MAX + 1];
    char tenant[TP_ID_MAX + 1];

    struct tp_http_req *susp_prev, *susp_next;
    struct tp_http_req *force_next; /* tp_http_stop's private list */
};

/* One event loop: a thread running its own MHD daemon (http_loop.c). */
/* A connection accepted by one loop for another (http_loop.c). */
struct http_conn_in {
    int fd;
    socklen_t len;
    struct sockaddr_storage addr;
};

struct http_loop {
    tp_http_server *srv;
    struct MHD_Daemon *d;
    pthread_t th;
    int efd, ep; /* wake-up eventfd; our epoll over it, the listening socket and MHD's epoll fd */
    int started, mu_ready;
    int listening;             /* loop thread only: the listening socket is in ep */
    int64_t accept_resume_ms;  /* loop thread only: accepting paused (out of fds) until then */
    int accept_starved;        /* loop thread only: the shortage was logged */
    pthread_mutex_t in_mu;     /* guards in: connections other loops accepted for this one */
    struct http_conn_in *in;   /* owned; fds not yet given to MHD are closed by http_loops_stop */
    size_t in_n, in_cap;
    atomic_int wake_pending, quiesce, quiesced, quit;
    void *data; /* what hooks.start returned (loop thread) */
    unsigned nconns; /* client connections libmicrohttpd holds (loop thread) */
    int *watched; size_t nwatched, watched_cap; /* fds in ep for the hooks (loop thread) */
};

struct tp_http_server {
    tp_http_options opts;
    char *svc, *bind_addr;
    struct http_loop *loops; /* opts.threads of them */
    int nloops;
    int listen_fd; /* in every loop's epoll; accepted connections go round-robin (next_loop) */
    atomic_uint next_loop;
    tp_http_loop_hooks hooks;
    int port;
    int access_log_all;

    struct http_route **routes;
    size_t nroutes, routes_cap;
    struct http_route *unmatched;

    pthread_mutex_t mu; /* guards metric creation and the suspended list */
    struct tp_http_req *susp_head;

    atomic_int inflight;
    atomic_int stopping;
    int started, stopped;
};

/* Local clocks: tp_http links only err, log and metrics (common/CMakeLists.txt). */
static inline int64_t http_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t http_mono_ms(void) { return http_mono_ns() / 1000000LL; }

static inline void http_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* http.c: the request path, called by libmicrohttpd */
enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls);
/* http_loop.c */
int http_loops_start(tp_http_server *s, char *err, size_t errlen);
void http_loops_quiesce(tp_http_server *s); /* stop accepting; connections go on */
void http_loops_stop(tp_http_server *s);
void http_loop_wake(struct http_loop *l);
/* MHD_resume_connection, and make the connection's loop run MHD at once. Any thread. */
void http_resume(struct tp_http_req *r);
void http_mhd_log(void *cls, const char *fmt, va_list ap); /* http_server.c */

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);
/* Does path match rt? Fills each path segment's start and length on success. */
int http_route_matches(const struct http_route *rt, const char *path, const char **starts, size_t *lens);

/* http_req.c */
/* A response carrying X-Request-Id and Content-Type. Takes buf (malloc'd) in every case.
 * NULL only when out of memory. */
struct MHD_Response *http_make_response(const char *req_id, const char *ctype, char *buf, size_t len);
/* The project's error shape {"error","message","field"?} as a response. NULL when out of memory. */
struct MHD_Response *http_make_error(const char *req_id, const char *code, const char *field, const char *msg);
/* Drop one reference; the last one frees the request (and any unqueued answers). */
void http_req_unref(struct tp_http_req *r);

#endif

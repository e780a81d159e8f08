/* http_loop.c — the server's event loops: one thread per loop, each running its own
 * libmicrohttpd daemon (no MHD threads) on one shared listening socket.
 *
 * Why not MHD's internal thread pool: a request answered later (ingest-api answers once its
 * events are durable) is suspended and resumed. With its own loop the service can run MHD
 * again right after a resume (an eventfd, written once per burst of resumes) and, later, do
 * the work that completes a request on the same thread. Parking and resuming every request
 * cost 20-25% of ingest-api's throughput inside MHD's pool (bench/RESULTS.md), 0-20% in such
 * a loop (bench/ingest/park_http.c, no other work).
 *
 * The loops share one listening socket, in each loop's own epoll set (EPOLLEXCLUSIVE: one loop
 * wakes per burst), and not given to MHD: whichever loop accepts hands each connection to the
 * next loop in turn (its own MHD daemon takes it on that loop's thread). Left to MHD, the loop
 * that happened to be awake accepted up to ten at a time, and wrk's 128 connections split
 * ~100/28: one loop at ~65% of a CPU, the other at ~20% (now ~42% each).
 * No SO_REUSEPORT, so a second process cannot silently share the port. Quiescing and stopping
 * happen on the loop's own thread or after it has exited, never concurrently with its MHD_run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "tp/log.h"

#define WAKE_TAG 1u
#define MHD_TAG 2u
#define LISTEN_TAG 3u
#define FD_TAG 4u /* a hook's descriptor: data.u64 = fd << 8 | FD_TAG */
#define ACCEPT_BURST 64       /* connections accepted per wake-up before MHD runs again */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: stop accepting this long */

void http_loop_wake(struct http_loop *l)
{
    /* One write per burst: the loop clears the flag before it runs MHD, so a resume that
     * finds it set is picked up by that run. */
    if (!atomic_exchange(&l->wake_pending, 1)) {
        uint64_t one = 1;
        ssize_t w = write(l->efd, &one, sizeof one);
        (void)w; /* EAGAIN only when the counter is already huge: the loop is awake anyway */
    }
}

void http_resume(struct tp_http_req *r)
{
    MHD_resume_connection(r->conn);
    http_loop_wake(r->loop);
}

static void add_conn(struct http_loop *l, struct http_conn_in *c)
{
    /* MHD closes the socket itself when it cannot take it. */
    if (MHD_add_connection(l->d, c->fd, (struct sockaddr *)&c->addr, c->len) != MHD_YES)
        tp_log_warn("http: a connection was refused", "error", strerror(errno));
}

static void hand_to(struct http_loop *from, struct http_loop *to, struct http_conn_in *c)
{
    if (to == from) {
        add_conn(from, c);
        return;
    }
    pthread_mutex_lock(&to->in_mu);
    if (to->in_n == to->in_cap) {
        size_t cap = to->in_cap ? to->in_cap * 2 : 16;
        struct http_conn_in *in = realloc(to->in, cap * sizeof *in);
        if (!in) {
            pthread_mutex_unlock(&to->in_mu);
            tp_log_error("http: out of memory handing over a connection; it is closed");
            close(c->fd);
            return;
        }
        to->in = in;
        to->in_cap = cap;
    }
    to->in[to->in_n++] = *c;
    pthread_mutex_unlock(&to->in_mu);
    http_loop_wake(to);
}

static void take_handed(struct http_loop *l)
{
    struct http_conn_in batch[16];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&l->in_mu);
        while (n < 16 && l->in_n > 0)
            batch[n++] = l->in[--l->in_n];
        pthread_mutex_unlock(&l->in_mu);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++)
            add_conn(l, &batch[i]);
    }
}

static void listen_set(struct http_loop *l, int on)
{
    if (l->listening == on)
        return;
    struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = LISTEN_TAG};
    if (epoll_ctl(l->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->srv->listen_fd, &le) != 0) {
        tp_log_error("http: cannot change the listening socket's watch", "error", strerror(errno));
        return;
    }
    l->listening = on;
}

static void accept_burst(struct http_loop *l)
{
    tp_http_server *s = l->srv;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct http_conn_in c;
        c.len = sizeof c.addr;
        c.fd = accept4(s->listen_fd, (struct sockaddr *)&c.addr, &c.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c.fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The socket stays readable: without a pause the loop would spin on it. Said
                 * once per shortage, not every pause. */
                if (!l->accept_starved)
                    tp_log_warn("http: out of descriptors: not accepting connections for now", "error",
                                strerror(errno));
                l->accept_starved = 1;
                listen_set(l, 0);
                l->accept_resume_ms = http_mono_ns() / 1000000 + ACCEPT_PAUSE_MS;
            }
            return;
        }
        l->accept_starved = 0;
        unsigned k = atomic_fetch_add(&s->next_loop, 1) % (unsigned)s->nloops;
        hand_to(l, &s->loops[k], &c);
    }
}

int tp_http_loop_watch(tp_http_loop *l, int fd, unsigned events)
{
    size_t i = 0;
    while (i < l->nwatched && l->watched[i] != fd)
        i++;
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)fd << 8 | FD_TAG};
    if (events == 0) {
        if (i == l->nwatched)
            return 0;
        l->watched[i] = l->watched[--l->nwatched];
        /* curl may have closed the fd already, which took it out of the set. */
        return epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL) == 0 || errno == EBADF || errno == ENOENT ? 0 : TP_EIO;
    }
    if (i < l->nwatched) {
        if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) == 0)
            return 0;
        /* Closed and reused without being unwatched: closing took it out of the set. */
        return errno == ENOENT && epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : TP_EIO;
    }
    if (l->nwatched == l->watched_cap) {
        size_t cap = l->watched_cap ? l->watched_cap * 2 : 8;
        int *w = realloc(l->watched, cap * sizeof *w);
        if (!w)
            return TP_ENOMEM;
        l->watched = w;
        l->watched_cap = cap;
    }
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return TP_EIO;
    l->watched[l->nwatched++] = fd;
    return 0;
}

void *tp_http_req_loop_data(tp_http_req *r) { return r && r->loop ? r->loop->data : NULL; }

static void *loop_main(void *arg)
{
    struct http_loop *l = arg;
    const tp_http_loop_hooks *hk = &l->srv->hooks;
    if (hk->start)
        l->data = hk->start(hk->ctx, l);
    for (;;) {
        if (atomic_load(&l->quiesce) && !atomic_load(&l->quiesced)) {
            listen_set(l, 0); /* the socket stays open: the server closes it */
            l->accept_resume_ms = 0;
            atomic_store(&l->quiesced, 1);
        }
        if (atomic_load(&l->quit))
            break;
        MHD_UNSIGNED_LONG_LONG t;
        int ms = 1000;
        if (MHD_get_timeout(l->d, &t) == MHD_YES)
            ms = t < 1000 ? (int)t : 1000;
        if (l->accept_resume_ms) {
            int64_t left = l->accept_resume_ms - http_mono_ns() / 1000000;
            if (left <= 0) {
                l->accept_resume_ms = 0;
                listen_set(l, 1);
            } else if (left < ms) {
                ms = (int)left;
            }
        }
        if (hk->timeout_ms) {
            long t2 = hk->timeout_ms(l->data);
            if (t2 >= 0 && t2 < ms)
                ms = (int)t2;
        }
        struct epoll_event ev[16];
        int n = epoll_wait(l->ep, ev, 16, ms);
        int accept_now = 0;
        for (int i = 0; i < n; i++) {
            if ((ev[i].data.u64 & 0xff) == FD_TAG) {
                if (hk->event)
                    hk->event(l->data, (int)(ev[i].data.u64 >> 8), ev[i].events);
            } else if (ev[i].data.u32 == WAKE_TAG) {
                uint64_t v;
                ssize_t rd = read(l->efd, &v, sizeof v);
                (void)rd;
            } else if (ev[i].data.u32 == LISTEN_TAG) {
                accept_now = l->listening;
            }
        }
        atomic_store(&l->wake_pending, 0);
        take_handed(l);
        if (accept_now)
            accept_burst(l);
        MHD_run(l->d);
        if (hk->pass) {
            hk->pass(l->data);
            if (atomic_exchange(&l->wake_pending, 0)) {
                /* The hook answered requests: send them now rather than after another wait. */
                uint64_t v;
                ssize_t rd = read(l->efd, &v, sizeof v);
                (void)rd;
                MHD_run(l->d);
            }
        }
    }
    if (hk->stop)
        hk->stop(l->data);
    free(l->watched);
    l->watched = NULL;
    l->nwatched = l->watched_cap = 0;
    return NULL;
}

static int open_listener(tp_http_server *s, int *out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->bind_addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)s->opts.port);
        sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, s->bind_addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)s->opts.port);
        sl = sizeof *sin6;
    } else {
        return tp_errf(err, errlen, TP_EINVAL, "http: bind address '%s' is not an IP address", s->bind_addr);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return tp_errf(err, errlen, TP_EIO, "http: cannot listen on %s:%d: %s", s->bind_addr, s->opts.port,
                       strerror(e));
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    *out = fd;
    return 0;
}

/* Runs on the loop's thread (MHD is driven only there), so a plain counter will do. */
static void http_on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                               enum MHD_ConnectionNotificationCode code)
{
    struct http_loop *l = cls;
    (void)c, (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        l->nconns++;
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED && l->nconns > 0)
        l->nconns--;
}

unsigned tp_http_loop_connections(tp_http_loop *l) { return l ? l->nconns : 0; }

static int loop_init(tp_http_server *s, struct http_loop *l, char *err, size_t errlen)
{
    l->srv = s;
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->efd < 0 || l->ep < 0)
        return tp_errf(err, errlen, TP_EIO, "http: cannot create an event loop: %s", strerror(errno));
    if (pthread_mutex_init(&l->in_mu, NULL) != 0)
        return tp_errf(err, errlen, TP_ENOMEM, "http: cannot create an event loop");
    l->mu_ready = 1;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, NULL}, /* first, or MHD complains */
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_on_connection, l},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->opts.conn_timeout_s, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    l->d = MHD_start_daemon(flags, 0, NULL, NULL, http_on_access, l, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!l->d)
        return tp_errf(err, errlen, TP_EIO, "http: cannot start libmicrohttpd: %s", strerror(errno));
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    struct epoll_event we = {.events = EPOLLIN, .data.u32 = WAKE_TAG};
    struct epoll_event me = {.events = EPOLLIN, .data.u32 = MHD_TAG};
    if (!info || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &we) != 0 ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, info->epoll_fd, &me) != 0)
        return tp_errf(err, errlen, TP_EIO, "http: cannot set up an event loop: %s", strerror(errno));
    listen_set(l, 1);
    if (!l->listening)
        return tp_errf(err, errlen, TP_EIO, "http: cannot watch the listening socket: %s", strerror(errno));
    return 0;
}

int http_loops_start(tp_http_server *s, char *err, size_t errlen)
{
    int n = s->opts.threads > 0 ? s->opts.threads : 1;
    int rc = open_listener(s, &s->listen_fd, err, errlen);
    if (rc != 0)
        return rc;
    s->loops = calloc((size_t)n, sizeof *s->loops);
    if (!s->loops) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "http: out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        s->loops[i].efd = s->loops[i].ep = -1;
    s->nloops = n;
    /* All loops exist before any runs: a running loop may hand a connection to any other. */
    for (int i = 0; i < n; i++)
        if ((rc = loop_init(s, &s->loops[i], err, errlen)) != 0)
            goto fail;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) != 0) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "http: cannot start a loop thread");
            goto fail;
        }
        s->loops[i].started = 1;
        pthread_setname_np(s->loops[i].th, "tp-http-loop"); /* for top -H, perf, gdb */
    }
    return 0;
fail:
    http_loops_quiesce(s);
    http_loops_stop(s);
    return rc;
}

void http_loops_quiesce(tp_http_server *s)
{
    for (int i = 0; i < s->nloops; i++) {
        struct http_loop *l = &s->loops[i];
        if (!l->d)
            continue;
        if (!l->started) {
            listen_set(l, 0);
            continue;
        }
        atomic_store(&l->quiesce, 1);
        http_loop_wake(l);
    }
    /* listening belongs to the loop thread now; quiesced is how it says it is done. Once all
     * have said so, no loop accepts or hands over connections any more. */
    for (int i = 0; i < s->nloops; i++) {
        struct http_loop *l = &s->loops[i];
        while (l->started && !atomic_load(&l->quiesced))
            http_sleep_ms(1);
    }
}

/* After http_loops_quiesce: no loop watches the listening socket any more. */
void http_loops_stop(tp_http_server *s)
{
    for (int i = 0; i < s->nloops; i++) {
        struct http_loop *l = &s->loops[i];
        if (l->started) {
            atomic_store(&l->quit, 1);
            http_loop_wake(l);
            pthread_join(l->th, NULL);
            l->started = 0;
        }
        for (size_t k = 0; k < l->in_n; k++)
            close(l->in[k].fd); /* handed over as the loop stopped: never given to MHD */
        free(l->in);
        l->in = NULL;
        l->in_n = l->in_cap = 0;
        if (l->mu_ready)
            pthread_mutex_destroy(&l->in_mu);
        l->mu_ready = 0;
        if (l->d)
            MHD_stop_daemon(l->d);
        l->d = NULL;
        if (l->ep >= 0)
            close(l->ep);
        if (l->efd >= 0)
            close(l->efd);
        l->ep = l->efd = -1;
    }
    free(s->loops);
    s->loops = NULL;
    s->nloops = 0;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
}

/* aws_test_server.h — a one-thread HTTP responder on 127.0.0.1 for the AWS client unit tests.
 *
 * It plays a scripted list of canned responses, one per connection (each answer says
 * "Connection: close"), and records every request it saw, so a test can check both what the
 * client sent and how it reads answers the real emulators cannot produce (partial failures,
 * throttling, header-only errors). Header-only so test_aws.c and test_kinesis.c can share it. */
#ifndef TP_AWS_TEST_SERVER_H
#define TP_AWS_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define TS_MAX 8
#define TS_REQ_MAX 65536

struct ts_canned {
    int status;
    const char *extra_headers; /* "Name: value\r\n..." or NULL */
    const char *body;
};

struct test_server {
    int fd;
    int port;
    pthread_t th;
    struct ts_canned resp[TS_MAX];
    size_t n;
    char req[TS_MAX][TS_REQ_MAX]; /* raw request: head + body */
    size_t req_len[TS_MAX];
    size_t served;
};

/* GCC 12 at -O2 reports a null buffer for the read() below (a false positive of its
 * -Wnonnull range analysis on the 2-D array); the pointer is never null. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull"
static void *ts_main(void *arg)
{
    struct test_server *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            break;
        char *r = s->req[i];
        size_t len = 0, need = 0;
        for (;;) {
            ssize_t got = read(c, r + len, TS_REQ_MAX - 1 - len);
            if (got <= 0)
                break;
            len += (size_t)got;
            r[len] = '\0';
            char *eoh = strstr(r, "\r\n\r\n");
            if (!eoh)
                continue;
            if (!need) {
                const char *cl = strcasestr(r, "\r\nContent-Length:");
                need = (size_t)(eoh + 4 - r) + (cl && cl < eoh ? strtoul(cl + 17, NULL, 10) : 0);
            }
            if (len >= need)
                break;
        }
        s->req_len[i] = len;
        const char *body = s->resp[i].body ? s->resp[i].body : "";
        char head[1024];
        int hl = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                          s->resp[i].status, strlen(body), s->resp[i].extra_headers ? s->resp[i].extra_headers : "");
        if (write(c, head, (size_t)hl) < 0 || write(c, body, strlen(body)) < 0) {
            /* the client gave up; the test will notice */
        }
        close(c);
        s->served = i + 1;
    }
    return NULL;
}
#pragma GCC diagnostic pop

/* Start serving the first n canned responses of resp. Returns 0 or -1. */
static int ts_start(struct test_server *s, const struct ts_canned *resp, size_t n)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    memset(s, 0, sizeof *s);
    memcpy(s->resp, resp, n * sizeof *resp);
    s->n = n;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, ts_main, s) == 0 ? 0 : -1;
}

static void ts_stop(struct test_server *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* The body of request i (after the blank line). */
static const char *ts_body(const struct test_server *s, size_t i)
{
    const char *e = strstr(s->req[i], "\r\n\r\n");
    return e ? e + 4 : "";
}

/* A port nothing listens on (bound then closed). */
static int ts_dead_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return 1;
    close(fd);
    return ntohs(a.sin_port);
}

#endif

/* log.c — JSON line logger (see log.h). */
#include "tp/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *g_svc = "tp";
static tp_log_level g_level = TP_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void tp_log_init(const char *svc)
{
    if (svc)
        g_svc = svc;
    const char *lv = getenv("TP_LOG_LEVEL");
    if (lv) {
        for (int i = 0; i < 4; i++)
            if (strcasecmp(lv, level_names[i]) == 0)
                g_level = (tp_log_level)i;
    }
}

void tp_log_set_level(tp_log_level lvl) { g_level = lvl; }
int tp_log_enabled(tp_log_level lvl) { return lvl >= g_level; }

size_t tp_json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    for (; s && *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c == '\r') {
            out[n++] = '\\';
            out[n++] = 'r';
        } else if (c == '\t') {
            out[n++] = '\\';
            out[n++] = 't';
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

static size_t append(char *buf, size_t cap, size_t n, const char *s)
{
    size_t l = strlen(s);
    if (n + l >= cap)
        l = cap - n - 1;
    memcpy(buf + n, s, l);
    buf[n + l] = '\0';
    return n + l;
}

static void vlog(tp_log_level lvl, const char *msg, va_list ap)
{
    char line[8192];
    char esc[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = (size_t)snprintf(line, sizeof line,
                                "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"svc\":\"",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, ts.tv_nsec / 1000000L, level_names[lvl]);
    tp_json_escape(esc, sizeof esc, g_svc);
    n = append(line, sizeof line, n, esc);
    n = append(line, sizeof line, n, "\",\"msg\":\"");
    tp_json_escape(esc, sizeof esc, msg);
    n = append(line, sizeof line, n, esc);
    n = append(line, sizeof line, n, "\"");
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (!v)
            continue;
        n = append(line, sizeof line, n, ",\"");
        tp_json_escape(esc, sizeof esc, k);
        n = append(line, sizeof line, n, esc);
        n = append(line, sizeof line, n, "\":\"");
        tp_json_escape(esc, sizeof esc, v);
        n = append(line, sizeof line, n, esc);
        n = append(line, sizeof line, n, "\"");
    }
    n = append(line, sizeof line, n, "}\n");
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void tp_log(tp_log_level lvl, const char *msg, ...)
{
    if (lvl < g_level)
        return;
    va_list ap;
    va_start(ap, msg);
    vlog(lvl, msg, ap);
    va_end(ap);
}

static void log_nofields(tp_log_level lvl, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    vlog(lvl, msg, ap);
    va_end(ap);
}

void tp_logf(tp_log_level lvl, const char *fmt, ...)
{
    if (lvl < g_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_nofields(lvl, msg, (const char *)0);
}

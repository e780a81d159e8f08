/* err.c — error names, texts and the retryable classification (see err.h). */
#include "tp/err.h"

#include <stdarg.h>
#include <stdio.h>

struct err_info {
    int code;
    int retryable;
    const char *name;
    const char *text;
};

static const struct err_info infos[] = {
#define TP_ERR_INFO(name, val, retry, text) {val, retry, #name, text},
    TP_ERRNO_MAP(TP_ERR_INFO)
#undef TP_ERR_INFO
};

static const struct err_info *find(int err)
{
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
        if (infos[i].code == err)
            return &infos[i];
    return NULL;
}

const char *tp_strerror(int err)
{
    if (err == 0)
        return "ok";
    const struct err_info *i = find(err);
    return i ? i->text : "unknown error";
}

const char *tp_errname(int err)
{
    if (err == 0)
        return "TP_OK";
    const struct err_info *i = find(err);
    return i ? i->name : "TP_EUNKNOWN";
}

int tp_err_retryable(int err)
{
    const struct err_info *i = find(err);
    return i ? i->retryable : 0;
}

int tp_errf(char *buf, size_t len, int err, const char *fmt, ...)
{
    if (buf && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return err;
}

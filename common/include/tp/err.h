/* err.h — the project's error codes.
 *
 * Every fallible function returns int: 0 on success or a negative TP_E* code, and (where it
 * takes one) fills a caller-provided message buffer. Codes are classified once, here, as
 * retryable (the same call may succeed later) or permanent, so retry policy never depends on
 * message text. One X-macro generates the enum and its names so they cannot drift apart. */
#ifndef TP_ERR_H
#define TP_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define TP_MUSTCHECK __attribute__((warn_unused_result))
#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TP_MUSTCHECK
#define TP_PRINTF(a, b)
#endif

/*      name            value  retryable  text */
#define TP_ERRNO_MAP(X)                                                         \
    X(TP_EINVAL,        -1,    0, "invalid argument or input")                 \
    X(TP_ENOMEM,        -2,    0, "out of memory")                             \
    X(TP_EIO,           -3,    1, "I/O error")                                 \
    X(TP_EUNAVAIL,      -4,    1, "service unavailable")                       \
    X(TP_ETHROTTLED,    -5,    1, "throttled")                                 \
    X(TP_ETIMEDOUT,     -6,    1, "timed out")                                 \
    X(TP_ENOTFOUND,     -7,    0, "not found")                                 \
    X(TP_EAUTH,         -8,    0, "not authenticated")                         \
    X(TP_EFORBIDDEN,    -9,    0, "forbidden")                                 \
    X(TP_EEXIST,        -10,   0, "already exists")                            \
    X(TP_EFULL,         -11,   1, "full")                                      \
    X(TP_EPROTO,        -12,   0, "protocol error")                            \
    X(TP_ETOOBIG,       -13,   0, "too large")                                 \
    X(TP_ECORRUPT,      -14,   0, "corrupt data")                              \
    X(TP_ECONFLICT,     -15,   1, "conflict (lost lease or concurrent change)") \
    X(TP_ESHUTDOWN,     -16,   0, "shutting down")                             \
    X(TP_EINTERNAL,     -17,   0, "internal error")

enum tp_err {
    TP_OK = 0,
#define TP_ERR_ENUM(name, val, retry, text) name = val,
    TP_ERRNO_MAP(TP_ERR_ENUM)
#undef TP_ERR_ENUM
};

/* Static text for a code; never NULL. */
const char *tp_strerror(int err);
/* The code's symbolic name ("TP_EINVAL"); never NULL. */
const char *tp_errname(int err);
/* 1 if an operation that failed with err may succeed when retried. */
int tp_err_retryable(int err);

/* Format into a caller's error buffer (NULL-safe, always NUL-terminated). Returns err, so
 * `return tp_errf(errbuf, errlen, TP_EINVAL, "bad %s", x);` reads naturally. */
int tp_errf(char *buf, size_t len, int err, const char *fmt, ...) TP_PRINTF(4, 5);

#endif

/* log.h — structured JSON logs on stderr, one line per event.
 *
 * Each line is {"ts","level","svc","msg", ...fields}. Fields are passed as a NULL-terminated
 * list of key/value string pairs; values are JSON-escaped here, so callers may pass any text
 * (never a secret). Thread-safe: a line is written with one write(2). */
#ifndef TP_LOG_H
#define TP_LOG_H

#include "tp/err.h"

typedef enum { TP_LOG_DEBUG = 0, TP_LOG_INFO, TP_LOG_WARN, TP_LOG_ERROR } tp_log_level;

/* Set the service name for every line and the minimum level (default "tp", INFO).
 * Reads TP_LOG_LEVEL (debug|info|warn|error) if set. Borrows svc (must outlive logging). */
void tp_log_init(const char *svc);
void tp_log_set_level(tp_log_level lvl);
int tp_log_enabled(tp_log_level lvl);

/* tp_log(TP_LOG_INFO, "listening", "port", "8081", NULL); values may be NULL (omitted). */
void tp_log(tp_log_level lvl, const char *msg, ...);
/* Like tp_log with a printf-formatted msg and no extra fields. */
void tp_logf(tp_log_level lvl, const char *fmt, ...) TP_PRINTF(2, 3);

#define tp_log_info(...) tp_log(TP_LOG_INFO, __VA_ARGS__, (const char *)0)
#define tp_log_warn(...) tp_log(TP_LOG_WARN, __VA_ARGS__, (const char *)0)
#define tp_log_error(...) tp_log(TP_LOG_ERROR, __VA_ARGS__, (const char *)0)
#define tp_log_debug(...) tp_log(TP_LOG_DEBUG, __VA_ARGS__, (const char *)0)

/* Append s to out as a JSON string body (no quotes), escaping as needed; bounded by cap.
 * Returns the length written (excluding NUL). Shared so every JSON writer escapes alike. */
size_t tp_json_escape(char *out, size_t cap, const char *s);

#endif

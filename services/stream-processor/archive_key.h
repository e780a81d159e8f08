/* archive_key.h — the archive's naming and encoding: S3 key templates, bucket-per-tenant
 * names, error-object keys, gzip and base64. Pure functions (no I/O), so they are unit-tested
 * and so replays produce byte-identical keys and bodies.
 *
 * Template placeholders: {tenant} {user} {date} (YYYY-MM-DD) {hour} (HH) {stream} {shard}
 * {first_seq} {first_sub}; anything else in braces is an error. */
#ifndef TP_ARCHIVE_KEY_H
#define TP_ARCHIVE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

#define TP_ARCHIVE_DEFAULT_TEMPLATE \
    "tenant={tenant}/user={user}/dt={date}/hour={hour}/{stream}-{shard}-{first_seq}-{first_sub}.ndjson.gz"
/* The user part of a tenant-level event (tenant.*), which has no user. */
#define TP_ARCHIVE_NO_USER "_tenant"

typedef struct tp_archive_vars {
    const char *tenant;
    const char *user;
    int64_t occurred_ms; /* gives {date} and {hour}, UTC */
    const char *stream;
    const char *shard;
    const char *first_seq; /* NULL renders as "" (the grouping key) */
    int64_t first_sub;     /* < 0 renders as "" */
} tp_archive_vars;

/* Check a template: known placeholders only, and {stream}, {shard} and {first_seq} present
 * (without them two flushes could write the same key). TP_EINVAL with the reason. */
int tp_archive_template_check(const char *tmpl, char *err, size_t errlen) TP_MUSTCHECK;
/* Render into out; TP_ETOOBIG if it does not fit, TP_EINVAL on an unknown placeholder. */
int tp_archive_render(const char *tmpl, const tp_archive_vars *v, char *out, size_t cap) TP_MUSTCHECK;

/* "<prefix>-<tenant>" made a valid S3 bucket name: lower case, '_' and '.' become '-',
 * at most 63 characters. */
int tp_archive_tenant_bucket(const char *prefix, const char *tenant, char *out, size_t cap) TP_MUSTCHECK;

/* "<error_prefix>stream=<s>/dt=<arrival date>/<shard>-<seq>-<sub>.json" */
int tp_archive_error_key(const char *error_prefix, const char *stream, const char *shard, const char *seq,
                         int64_t sub, int64_t arrival_ms, char *out, size_t cap) TP_MUSTCHECK;

/* gzip (RFC 1952, no name, mtime 0) of in; *out malloc'd, caller frees. */
int tp_archive_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen) TP_MUSTCHECK;
/* Standard base64 with padding; *out malloc'd and NUL-terminated, caller frees. */
int tp_archive_base64(const void *in, size_t len, char **out) TP_MUSTCHECK;

#endif

/* archive_key.c — keys and encodings for the archive sink (see archive_key.h). */
#include "archive_key.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tp/event.h"

static const char *const placeholders[] = {"tenant", "user",  "date",      "hour",
                                           "stream", "shard", "first_seq", "first_sub"};

static int placeholder_index(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
        if (strlen(placeholders[i]) == len && memcmp(placeholders[i], name, len) == 0)
            return (int)i;
    return -1;
}

int tp_archive_template_check(const char *tmpl, char *err, size_t errlen)
{
    unsigned seen = 0;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '}')
            return tp_errf(err, errlen, TP_EINVAL, "unmatched '}' in key template");
        if (*p != '{')
            continue;
        const char *end = strchr(p, '}');
        if (!end)
            return tp_errf(err, errlen, TP_EINVAL, "unterminated '{' in key template");
        int i = placeholder_index(p + 1, (size_t)(end - p - 1));
        if (i < 0)
            return tp_errf(err, errlen, TP_EINVAL, "unknown placeholder {%.*s} in key template", (int)(end - p - 1),
                           p + 1);
        seen |= 1u << i;
        p = end;
    }
    static const char *const required[] = {"stream", "shard", "first_seq"};
    for (size_t r = 0; r < 3; r++) {
        int i = placeholder_index(required[r], strlen(required[r]));
        if (!(seen & (1u << i)))
            return tp_errf(err, errlen, TP_EINVAL, "key template must contain {%s}", required[r]);
    }
    if (!tmpl[0] || tmpl[0] == '/')
        return tp_errf(err, errlen, TP_EINVAL, "key template must not be empty or start with '/'");
    return 0;
}

int tp_archive_render(const char *tmpl, const tp_archive_vars *v, char *out, size_t cap)
{
    char ts[32], date[11], hour[3], sub[24];
    tp_rfc3339_format(v->occurred_ms, ts); /* 2026-01-01T05:00:00.000Z */
    memcpy(date, ts, 10);
    date[10] = '\0';
    memcpy(hour, ts + 11, 2);
    hour[2] = '\0';
    if (v->first_sub >= 0)
        snprintf(sub, sizeof sub, "%" PRId64, v->first_sub);
    else
        sub[0] = '\0';
    const char *vals[] = {v->tenant, v->user,  date, hour, v->stream, v->shard, v->first_seq ? v->first_seq : "",
                          sub};
    size_t n = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *piece = p;
        size_t plen = 1;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            int i = end ? placeholder_index(p + 1, (size_t)(end - p - 1)) : -1;
            if (i < 0)
                return TP_EINVAL;
            piece = vals[i] ? vals[i] : "";
            plen = strlen(piece);
            p = end;
        }
        if (n + plen >= cap)
            return TP_ETOOBIG;
        memcpy(out + n, piece, plen);
        n += plen;
    }
    if (n >= cap)
        return TP_ETOOBIG;
    out[n] = '\0';
    return 0;
}

int tp_archive_tenant_bucket(const char *prefix, const char *tenant, char *out, size_t cap)
{
    char tmp[160];
    int n = snprintf(tmp, sizeof tmp, "%s-%s", prefix, tenant);
    if (n < 0 || (size_t)n >= sizeof tmp || n > 63 || (size_t)n >= cap)
        return TP_ETOOBIG;
    for (int i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)tmp[i]);
        out[i] = (ch == '_' || ch == '.') ? '-' : ch;
    }
    out[n] = '\0';
    return 0;
}

int tp_archive_error_key(const char *error_prefix, const char *stream, const char *shard, const char *seq,
                         int64_t sub, int64_t arrival_ms, char *out, size_t cap)
{
    char ts[32];
    tp_rfc3339_format(arrival_ms, ts);
    int n = snprintf(out, cap, "%sstream=%s/dt=%.10s/%s-%s-%" PRId64 ".json", error_prefix, stream, ts, shard, seq,
                     sub);
    return (n < 0 || (size_t)n >= cap) ? TP_ETOOBIG : 0;
}

int tp_archive_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: a gzip wrapper with a zeroed header (no name, mtime 0), so the same
     * input always gives the same bytes. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return TP_ENOMEM;
    uLong bound = deflateBound(&zs, (uLong)len) + 32;
    unsigned char *buf = malloc(bound);
    if (!buf) {
        deflateEnd(&zs);
        return TP_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(buf);
        return TP_EINTERNAL;
    }
    *out = buf;
    *outlen = produced;
    return 0;
}

int tp_archive_base64(const void *in, size_t len, char **out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = in;
    char *o = malloc(4 * ((len + 2) / 3) + 1);
    if (!(*out = o))
        return TP_ENOMEM;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return 0;
}

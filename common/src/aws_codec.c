/* aws_codec.c — the encodings AWS wire formats need: RFC 3986 URI encoding (SigV4 canonical
 * form), base64 (Kinesis record data) and the little XML S3 answers with (see aws.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp/aws.h"

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

int tp_aws_uri_encode(const char *s, int keep_slash, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s || !out || cap == 0)
        return TP_EINVAL;
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            if (n + 1 >= cap)
                goto too_big;
            out[n++] = (char)c;
        } else {
            if (n + 3 >= cap)
                goto too_big;
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return 0;
too_big:
    out[0] = '\0';
    return TP_ETOOBIG;
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode into o, which has room for (len + 2) / 3 * 4 bytes; no NUL. Returns the length.
 * Not in aws.h (not ours to change): declared in kinesis_internal.h, whose PutRecords writes
 * record data straight into its request body with it. */
/* Every 12-bit value as its two base64 characters: two lookups per 3 bytes instead of four.
 * Every event ingest-api stores goes through here (PutRecords carries data as base64). */
static char b64_pairs[4096][2];
static pthread_once_t b64_pairs_once = PTHREAD_ONCE_INIT;

static void b64_pairs_init(void)
{
    for (int v = 0; v < 4096; v++) {
        b64_pairs[v][0] = b64_alphabet[v >> 6];
        b64_pairs[v][1] = b64_alphabet[v & 63];
    }
}

size_t tp_aws__base64_encode_to(const void *data, size_t len, char *o)
{
    const unsigned char *p = data;
    size_t j = 0, i = 0;
    pthread_once(&b64_pairs_once, b64_pairs_init);
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        memcpy(o + j, b64_pairs[v >> 12], 2);
        memcpy(o + j + 2, b64_pairs[v & 4095], 2);
        j += 4;
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        o[j++] = b64_alphabet[v >> 18];
        o[j++] = b64_alphabet[(v >> 12) & 63];
        o[j++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        o[j++] = '=';
    }
    return j;
}

int tp_aws_base64_encode(const void *data, size_t len, char **out, size_t *outlen)
{
    if ((!data && len) || !out)
        return TP_EINVAL;
    *out = NULL;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return TP_ETOOBIG;
    size_t olen = (len + 2) / 3 * 4;
    char *o = malloc(olen + 1);
    if (!o)
        return TP_ENOMEM;
    size_t j = tp_aws__base64_encode_to(data, len, o);
    o[j] = '\0';
    *out = o;
    if (outlen)
        *outlen = j;
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tp_aws_base64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
    if ((!s && len) || !out)
        return TP_EINVAL;
    *out = NULL;
    if (len % 4 != 0)
        return TP_ECORRUPT;
    size_t pad = 0;
    if (len >= 4 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    size_t olen = len / 4 * 3 - pad;
    unsigned char *o = malloc(olen + 1);
    if (!o)
        return TP_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int v[4];
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            /* '=' only as the final one or two characters */
            if (c == '=' && last && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64_value(c);
            if (v[k] < 0) {
                free(o);
                return TP_ECORRUPT;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t emit = last ? 3 - pad : 3;
        /* Non-canonical encodings leave bits set in the padding; reject them so decode is exact. */
        if (last && ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF)))) {
            free(o);
            return TP_ECORRUPT;
        }
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        memcpy(o + j, b, emit);
        j += emit;
    }
    o[j] = '\0';
    *out = o;
    if (outlen)
        *outlen = j;
    return 0;
}

const char *tp_aws_xml_find(const char *p, const char *end, const char *tag, const char **inner, size_t *inner_len)
{
    size_t tl = strlen(tag);
    if (!p || !end || p >= end)
        return NULL;
    for (const char *q = p; q + tl + 2 <= end; q++) {
        q = memchr(q, '<', (size_t)(end - q));
        if (!q || q + tl + 2 > end)
            return NULL;
        if (memcmp(q + 1, tag, tl) != 0 || q[1 + tl] != '>')
            continue;
        const char *start = q + tl + 2;
        for (const char *c = start; c + tl + 3 <= end; c++) {
            c = memchr(c, '<', (size_t)(end - c));
            if (!c || c + tl + 3 > end)
                return NULL;
            if (c[1] == '/' && memcmp(c + 2, tag, tl) == 0 && c[2 + tl] == '>') {
                if (inner)
                    *inner = start;
                if (inner_len)
                    *inner_len = (size_t)(c - start);
                return c + tl + 3;
            }
        }
        return NULL;
    }
    return NULL;
}

/* Append code point cp as UTF-8. */
static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int tp_aws_xml_unescape(const char *s, size_t len, char **out)
{
    static const struct {
        const char *name;
        char ch;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    if ((!s && len) || !out)
        return TP_EINVAL;
    *out = NULL;
    /* An entity never decodes to more bytes than it occupies (&#xN; is ≥ 4 bytes for ≤ 4 out). */
    char *o = malloc(len + 1);
    if (!o)
        return TP_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '&') {
            o[j++] = s[i];
            continue;
        }
        const char *semi = memchr(s + i, ';', len - i);
        if (!semi)
            goto bad;
        const char *ent = s + i + 1;
        size_t el = (size_t)(semi - ent);
        int done = 0;
        for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
            if (strlen(named[k].name) == el && memcmp(named[k].name, ent, el) == 0) {
                o[j++] = named[k].ch;
                done = 1;
                break;
            }
        }
        if (!done) {
            if (el < 2 || ent[0] != '#')
                goto bad;
            int hexa = ent[1] == 'x' || ent[1] == 'X';
            size_t d = hexa ? 2 : 1;
            if (d >= el || el - d > 8)
                goto bad;
            unsigned long cp = 0;
            for (; d < el; d++) {
                char c = ent[d];
                int v;
                if (c >= '0' && c <= '9')
                    v = c - '0';
                else if (hexa && c >= 'a' && c <= 'f')
                    v = c - 'a' + 10;
                else if (hexa && c >= 'A' && c <= 'F')
                    v = c - 'A' + 10;
                else
                    goto bad;
                cp = cp * (hexa ? 16u : 10u) + (unsigned long)v;
            }
            if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                goto bad;
            j += put_utf8(o + j, cp);
        }
        i += el + 1;
    }
    o[j] = '\0';
    *out = o;
    return 0;
bad:
    free(o);
    return TP_ECORRUPT;
}

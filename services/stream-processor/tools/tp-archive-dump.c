/* tp-archive-dump — list and read back the archive in S3, for tests and operators.
 *
 *   tp-archive-dump [--bucket B] [--prefix P] [--keys]
 *
 * Prints one line per archived record: "<key>\t<ndjson line>" (objects ending in .gz are
 * gunzipped; other objects, e.g. error records, are printed as one line each). --keys prints
 * only "<key>\t<size>". AWS_* variables as for the services; bucket default TP_ARCHIVE_BUCKET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tp/aws.h"
#include "tp/log.h"
#include "tp/s3.h"

static int gunzip(const char *in, size_t len, char **out, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    size_t cap = len * 4 + 1024, n = 0;
    char *buf = malloc(cap);
    int zr = Z_OK;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    while (buf && zr != Z_STREAM_END) {
        if (n == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        zs.next_out = (Bytef *)buf + n;
        zs.avail_out = (uInt)(cap - n);
        zr = inflate(&zs, Z_NO_FLUSH);
        n = zs.total_out;
        if (zr != Z_OK && zr != Z_STREAM_END) {
            free(buf);
            buf = NULL;
        }
    }
    inflateEnd(&zs);
    if (!buf)
        return -1;
    *out = buf;
    *outlen = n;
    return 0;
}

int main(int argc, char **argv)
{
    const char *bucket = getenv("TP_ARCHIVE_BUCKET"), *prefix = "";
    int keys_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bucket") && i + 1 < argc)
            bucket = argv[++i];
        else if (!strcmp(argv[i], "--prefix") && i + 1 < argc)
            prefix = argv[++i];
        else if (!strcmp(argv[i], "--keys"))
            keys_only = 1;
        else {
            fprintf(stderr, "usage: %s [--bucket B] [--prefix P] [--keys]\n", argv[0]);
            return 2;
        }
    }
    if (!bucket || !*bucket)
        bucket = "tenantpulse-archive";
    tp_log_init("archive-dump");
    tp_aws_config cfg;
    tp_s3 *s3 = NULL;
    tp_s3_listing l = {0};
    char err[512];
    int status = 1;
    if (tp_aws_config_from_env(&cfg, err, sizeof err) || tp_s3_new(&cfg, &s3) ||
        tp_s3_list(s3, bucket, prefix, &l, err, sizeof err)) {
        fprintf(stderr, "tp-archive-dump: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        const char *key = l.objects[i].key;
        if (keys_only) {
            printf("%s\t%lld\n", key, (long long)l.objects[i].size);
            continue;
        }
        char *body = NULL, *plain = NULL;
        size_t len = 0, plen = 0;
        if (tp_s3_get_object(s3, bucket, key, &body, &len, err, sizeof err)) {
            fprintf(stderr, "tp-archive-dump: %s: %s\n", key, err);
            goto out;
        }
        size_t kl = strlen(key);
        if (kl > 3 && !strcmp(key + kl - 3, ".gz")) {
            if (gunzip(body, len, &plain, &plen)) {
                fprintf(stderr, "tp-archive-dump: %s: not gzip\n", key);
                free(body);
                goto out;
            }
        } else {
            plain = body;
            plen = len;
            body = NULL;
        }
        for (size_t off = 0; off < plen;) {
            const char *nl = memchr(plain + off, '\n', plen - off);
            size_t ll = nl ? (size_t)(nl - (plain + off)) : plen - off;
            printf("%s\t%.*s\n", key, (int)ll, plain + off);
            off += ll + 1;
        }
        free(plain);
        free(body);
    }
    status = 0;
out:
    tp_s3_listing_free(&l);
    tp_s3_free(s3);
    return status;
}

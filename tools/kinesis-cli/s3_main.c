/* tp-s3 — a small S3 tool over tp_s3, for operators and integration tests (see usage). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/aws.h"
#include "tp/log.h"
#include "tp/s3.h"

static const char usage[] =
    "usage: tp-s3 COMMAND [ARGS]\n"
    "  mb BUCKET                      create a bucket (an existing one of ours is fine)\n"
    "  rb BUCKET                      delete an empty bucket\n"
    "  put BUCKET KEY FILE|- [--content-type T] [--content-encoding E]\n"
    "  get BUCKET KEY                 object body to stdout\n"
    "  rm BUCKET KEY\n"
    "  ls BUCKET [--prefix P] [--page-size N]\n"
    "                                 one JSON line {\"key\",\"size\"} per object\n"
    "Environment: AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n"
    "AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), TP_LOG_LEVEL. Exit 0 ok, 1 failure, 2 usage.\n";

static int read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return TP_ENOMEM;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return TP_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return TP_EIO;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int cmd_put(tp_s3 *s, int argc, char **argv, char *err, size_t errlen)
{
    const char *ctype = "application/octet-stream", *cenc = NULL;
    if (argc < 3)
        return TP_EINVAL;
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc)
            return TP_EINVAL;
        if (strcmp(argv[i], "--content-type") == 0)
            ctype = argv[i + 1];
        else if (strcmp(argv[i], "--content-encoding") == 0)
            cenc = argv[i + 1];
        else
            return TP_EINVAL;
    }
    FILE *f = strcmp(argv[2], "-") == 0 ? stdin : fopen(argv[2], "rb");
    if (!f)
        return tp_errf(err, errlen, TP_EIO, "cannot open %s", argv[2]);
    char *body = NULL;
    size_t len = 0;
    int rc = read_all(f, &body, &len);
    if (f != stdin)
        fclose(f);
    if (rc == 0)
        rc = tp_s3_put_object(s, argv[0], argv[1], body, len, ctype, cenc, err, errlen);
    free(body);
    return rc;
}

static int cmd_ls(tp_s3 *s, int argc, char **argv, char *err, size_t errlen)
{
    const char *prefix = "";
    int page = 1000;
    if (argc < 1)
        return TP_EINVAL;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return TP_EINVAL;
        if (strcmp(argv[i], "--prefix") == 0)
            prefix = argv[i + 1];
        else if (strcmp(argv[i], "--page-size") == 0)
            page = atoi(argv[i + 1]);
        else
            return TP_EINVAL;
    }
    tp_s3_listing l = {0};
    int rc = tp_s3_list_paged(s, argv[0], prefix, page, &l, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        char esc[4096];
        tp_json_escape(esc, sizeof esc, l.objects[i].key);
        printf("{\"key\":\"%s\",\"size\":%lld}\n", esc, (long long)l.objects[i].size);
    }
    tp_s3_listing_free(&l);
    return 0;
}

int main(int argc, char **argv)
{
    char err[512] = "";
    tp_aws_config cfg;
    tp_s3 *s = NULL;
    int rc;

    tp_log_init("tp-s3");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (tp_aws_global_init() != 0)
        return 1;
    rc = tp_aws_config_from_env(&cfg, err, sizeof err);
    if (rc == 0)
        rc = tp_s3_new(&cfg, &s);
    if (rc != 0) {
        tp_log_error("configuration", "error", err[0] ? err : tp_strerror(rc));
        tp_aws_global_cleanup();
        return 1;
    }
    const char *cmd = argv[1];
    int n = argc - 2;
    char **a = argv + 2;
    int usage_error = 0;
    if (strcmp(cmd, "mb") == 0 && n == 1) {
        rc = tp_s3_create_bucket(s, a[0], err, sizeof err);
    } else if (strcmp(cmd, "rb") == 0 && n == 1) {
        rc = tp_s3_delete_bucket(s, a[0], err, sizeof err);
    } else if (strcmp(cmd, "rm") == 0 && n == 2) {
        rc = tp_s3_delete_object(s, a[0], a[1], err, sizeof err);
    } else if (strcmp(cmd, "get") == 0 && n == 2) {
        char *body = NULL;
        size_t len = 0;
        rc = tp_s3_get_object(s, a[0], a[1], &body, &len, err, sizeof err);
        if (rc == 0 && fwrite(body, 1, len, stdout) != len)
            rc = tp_errf(err, sizeof err, TP_EIO, "writing stdout");
        free(body);
    } else if (strcmp(cmd, "put") == 0) {
        rc = cmd_put(s, n, a, err, sizeof err);
        usage_error = rc == TP_EINVAL && !err[0];
    } else if (strcmp(cmd, "ls") == 0) {
        rc = cmd_ls(s, n, a, err, sizeof err);
        usage_error = rc == TP_EINVAL && !err[0];
    } else {
        usage_error = 1;
    }
    fflush(stdout);
    tp_s3_free(s);
    memset(&cfg, 0, sizeof cfg);
    tp_aws_global_cleanup();
    if (usage_error) {
        fprintf(stderr, "tp-s3: bad command or arguments\n%s", usage);
        return 2;
    }
    if (rc != 0) {
        char esc[1024];
        tp_json_escape(esc, sizeof esc, err);
        fprintf(stderr, "{\"error\":\"%s\",\"message\":\"%s\"}\n", tp_errname(rc), esc);
        return 1;
    }
    return 0;
}

/* config.c — table-driven environment configuration (see config.h). */
#include "tp/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tp/log.h"

static void *field(void *cfg, const tp_config_key *k) { return (char *)cfg + k->offset; }

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int load_one(const tp_config_key *k, void *cfg, const char *v, char *err, size_t errlen)
{
    int have = v && *v;
    if (!have && (k->flags & TP_CFG_REQUIRED))
        return tp_errf(err, errlen, TP_EINVAL, "%s is required: %s", k->name, k->help);
    switch (k->type) {
    case TP_CFG_T_INT: {
        int64_t x = k->def_int;
        if (have) {
            char *end;
            errno = 0;
            long long ll = strtoll(v, &end, 10);
            if (errno || *end || end == v)
                return tp_errf(err, errlen, TP_EINVAL, "%s=%s is not an integer", k->name, v);
            x = ll;
        }
        if (x < k->min || x > k->max)
            return tp_errf(err, errlen, TP_EINVAL, "%s=%lld is out of range [%lld, %lld]", k->name,
                           (long long)x, (long long)k->min, (long long)k->max);
        *(int64_t *)field(cfg, k) = x;
        break;
    }
    case TP_CFG_T_BOOL: {
        int b = (int)k->def_int;
        if (have && parse_bool(v, &b) != 0)
            return tp_errf(err, errlen, TP_EINVAL, "%s=%s is not a boolean (true/false/1/0)", k->name, v);
        *(int *)field(cfg, k) = b;
        break;
    }
    case TP_CFG_T_DOUBLE: {
        double d = k->def_dbl;
        if (have) {
            char *end;
            errno = 0;
            d = strtod(v, &end);
            if (errno || *end || end == v)
                return tp_errf(err, errlen, TP_EINVAL, "%s=%s is not a number", k->name, v);
        }
        if (d < k->dmin || d > k->dmax)
            return tp_errf(err, errlen, TP_EINVAL, "%s=%g is out of range [%g, %g]", k->name, d, k->dmin, k->dmax);
        *(double *)field(cfg, k) = d;
        break;
    }
    case TP_CFG_T_STR: {
        const char *s = have ? v : k->def_str;
        char **slot = (char **)field(cfg, k);
        free(*slot);
        *slot = NULL;
        if (s && !(*slot = strdup(s)))
            return tp_errf(err, errlen, TP_ENOMEM, "out of memory reading %s", k->name);
        break;
    }
    }
    return 0;
}

int tp_config_load_from(const tp_config_key *keys, size_t n, void *cfg, const char *(*lookup)(const char *),
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = load_one(&keys[i], cfg, lookup(keys[i].name), err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *env_lookup(const char *name) { return getenv(name); }

int tp_config_load(const tp_config_key *keys, size_t n, void *cfg, char *err, size_t errlen)
{
    return tp_config_load_from(keys, n, cfg, env_lookup, err, errlen);
}

void tp_config_free(const tp_config_key *keys, size_t n, void *cfg)
{
    for (size_t i = 0; i < n; i++) {
        if (keys[i].type == TP_CFG_T_STR) {
            char **slot = (char **)field(cfg, &keys[i]);
            free(*slot);
            *slot = NULL;
        }
    }
}

static const char *type_name(tp_config_type t)
{
    switch (t) {
    case TP_CFG_T_INT: return "int";
    case TP_CFG_T_BOOL: return "bool";
    case TP_CFG_T_DOUBLE: return "number";
    case TP_CFG_T_STR: return "string";
    }
    return "?";
}

void tp_config_print_help(FILE *out, const char *prog, const char *summary, const tp_config_key *keys, size_t n)
{
    fprintf(out, "Usage: %s [--help]\n\n%s\n\nConfiguration (environment variables):\n", prog, summary);
    for (size_t i = 0; i < n; i++) {
        const tp_config_key *k = &keys[i];
        char def[64] = "";
        switch (k->type) {
        case TP_CFG_T_INT: snprintf(def, sizeof def, "%lld [%lld..%lld]", (long long)k->def_int,
                                    (long long)k->min, (long long)k->max); break;
        case TP_CFG_T_BOOL: snprintf(def, sizeof def, "%s", k->def_int ? "true" : "false"); break;
        case TP_CFG_T_DOUBLE: snprintf(def, sizeof def, "%g [%g..%g]", k->def_dbl, k->dmin, k->dmax); break;
        case TP_CFG_T_STR:
            snprintf(def, sizeof def, "%s", (k->flags & TP_CFG_REQUIRED) ? "(required)"
                                             : k->def_str ? k->def_str : "(unset)");
            break;
        }
        fprintf(out, "  %-34s %-6s %s\n      %s%s\n", k->name, type_name(k->type), def, k->help,
                (k->flags & TP_CFG_SECRET) ? " (secret)" : "");
    }
}

void tp_config_log(const tp_config_key *keys, size_t n, const void *cfg)
{
    char buf[4096];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off + 1 < sizeof buf; i++) {
        const tp_config_key *k = &keys[i];
        const void *f = (const char *)cfg + k->offset;
        char val[256];
        if (k->flags & TP_CFG_SECRET)
            snprintf(val, sizeof val, "***");
        else if (k->type == TP_CFG_T_INT)
            snprintf(val, sizeof val, "%lld", (long long)*(const int64_t *)f);
        else if (k->type == TP_CFG_T_BOOL)
            snprintf(val, sizeof val, "%s", *(const int *)f ? "true" : "false");
        else if (k->type == TP_CFG_T_DOUBLE)
            snprintf(val, sizeof val, "%g", *(const double *)f);
        else
            snprintf(val, sizeof val, "%s", *(char *const *)f ? *(char *const *)f : "");
        int w = snprintf(buf + off, sizeof buf - off, "%s%s=%s", i ? " " : "", k->name, val);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    tp_log(TP_LOG_INFO, "configuration", "config", buf, (const char *)0);
}

int tp_config_handle_args(int argc, char **argv, const char *summary, const tp_config_key *keys, size_t n)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tp_config_print_help(stdout, argv[0], summary, keys, n);
            return 1;
        }
        fprintf(stderr, "%s: unknown argument '%s' (configuration is by environment; see --help)\n", argv[0],
                argv[i]);
        return -1;
    }
    return 0;
}

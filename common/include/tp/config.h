/* config.h — configuration from environment variables, declared once as a table.
 *
 * A service declares a static array of tp_config_key (name, type, default, bounds, flags,
 * description) pointing into its own config struct. The same table parses the environment,
 * validates every value (a bad one fails start-up naming the variable and value), prints
 * --help, and logs the effective configuration once with secrets redacted.
 * String values are heap copies owned by the config struct: free them with tp_config_free. */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tp/err.h"

typedef enum { TP_CFG_T_INT, TP_CFG_T_STR, TP_CFG_T_BOOL, TP_CFG_T_DOUBLE } tp_config_type;

enum {
    TP_CFG_REQUIRED = 1 << 0, /* start-up fails when unset or empty */
    TP_CFG_SECRET = 1 << 1,   /* never logged or printed */
};

typedef struct tp_config_key {
    const char *name;
    tp_config_type type;
    size_t offset;    /* into the caller's struct: int64_t, char *, int (bool) or double */
    int flags;
    int64_t def_int;  /* default for INT/BOOL */
    int64_t min, max; /* bounds for INT (inclusive) */
    double def_dbl, dmin, dmax;
    const char *def_str; /* default for STR (may be NULL) */
    const char *help;
} tp_config_key;

#define TP_CFG_INT(nm, st, field, def, lo, hi, hlp) \
    {nm, TP_CFG_T_INT, offsetof(st, field), 0, def, lo, hi, 0, 0, 0, NULL, hlp}
#define TP_CFG_BOOL(nm, st, field, def, hlp) \
    {nm, TP_CFG_T_BOOL, offsetof(st, field), 0, def, 0, 1, 0, 0, 0, NULL, hlp}
#define TP_CFG_DBL(nm, st, field, def, lo, hi, hlp) \
    {nm, TP_CFG_T_DOUBLE, offsetof(st, field), 0, 0, 0, 0, def, lo, hi, NULL, hlp}
#define TP_CFG_STR(nm, st, field, def, flg, hlp) \
    {nm, TP_CFG_T_STR, offsetof(st, field), flg, 0, 0, 0, 0, 0, 0, def, hlp}

/* Fill cfg from getenv() per keys. On error returns TP_EINVAL and names the variable in err. */
int tp_config_load(const tp_config_key *keys, size_t n, void *cfg, char *err, size_t errlen) TP_MUSTCHECK;
/* Same, reading values through lookup (tests use this; production passes getenv). */
int tp_config_load_from(const tp_config_key *keys, size_t n, void *cfg, const char *(*lookup)(const char *),
                        char *err, size_t errlen) TP_MUSTCHECK;
/* Free every STR field of cfg (NULL-safe on fields). */
void tp_config_free(const tp_config_key *keys, size_t n, void *cfg);
/* Print "NAME  type  default  description" for each key. */
void tp_config_print_help(FILE *out, const char *prog, const char *summary, const tp_config_key *keys, size_t n);
/* Log the effective configuration (one line, secrets shown as "***"). */
void tp_config_log(const tp_config_key *keys, size_t n, const void *cfg);

/* Handle argv for a service that takes no arguments but --help/-h. Returns 1 if the caller should
 * exit 0 (help printed), -1 on an unknown argument (message printed), 0 to continue. */
int tp_config_handle_args(int argc, char **argv, const char *summary, const tp_config_key *keys, size_t n);

#endif

/* tp-migrate — apply db/migrations to the database in DATABASE_URL, or report their status.
 *
 *   tp-migrate [--dir DIR]            apply pending migrations (exit 0 when up to date)
 *   tp-migrate --status [--dir DIR]   list every migration and its state; exit 1 on a problem
 *
 * Logs are JSON lines on stderr; --status prints a table on stdout. */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "tp/config.h"
#include "tp/log.h"

struct migrate_config {
    char *database_url;
    char *dir;
    int64_t lock_timeout_ms;
    int64_t connect_timeout_s;
};

static const tp_config_key migrate_keys[] = {
    TP_CFG_STR("DATABASE_URL", struct migrate_config, database_url, NULL, TP_CFG_REQUIRED | TP_CFG_SECRET,
               "libpq connection string or URI of the database to migrate"),
    TP_CFG_STR("TP_MIGRATIONS_DIR", struct migrate_config, dir, "db/migrations", 0,
               "directory holding NNN_name.sql files (--dir overrides)"),
    TP_CFG_INT("TP_MIGRATE_LOCK_TIMEOUT_MS", struct migrate_config, lock_timeout_ms, 120000, 0, 3600000,
               "how long to wait for a concurrent tp-migrate to finish (0 = for ever)"),
    TP_CFG_INT("TP_MIGRATE_CONNECT_TIMEOUT_S", struct migrate_config, connect_timeout_s, 10, 1, 600,
               "give up connecting after this many seconds"),
};
#define N_KEYS (sizeof migrate_keys / sizeof migrate_keys[0])

static const char *summary =
    "Apply db/migrations/NNN_name.sql files in version order, each in its own transaction, recording\n"
    "(version, name, sha256, applied_at) in schema_migrations. Refuses to run when an applied file changed,\n"
    "an applied file is gone, or a new file is numbered below the newest applied one. Concurrent runs\n"
    "are serialised with an advisory lock.\n\n"
    "Options:\n"
    "  --status     list migrations and their state (applied/pending/CHANGED/MISSING/OUT-OF-ORDER);\n"
    "               exit 1 if any is a problem. Changes nothing.\n"
    "  --dir DIR    migrations directory (default $TP_MIGRATIONS_DIR or db/migrations)\n"
    "  --help       this text";

static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", message);
    size_t n = strlen(msg);
    if (n > 0 && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    tp_log_debug("postgres notice", "notice", msg);
}

static int connect_db(const struct migrate_config *cfg, PGconn **out, char *err, size_t errlen)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%lld", (long long)cfg->connect_timeout_s);
    /* expand_dbname lets DATABASE_URL be a URI or a key=value string; later keys only fill
     * what it does not say. */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {cfg->database_url, timeout, "tp-migrate", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory connecting");
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(c);
        return tp_errf(err, errlen, TP_EUNAVAIL, "cannot connect to DATABASE_URL: %s", msg);
    }
    PQsetNoticeProcessor(c, notice_to_log, NULL);
    *out = c;
    return 0;
}

static int print_status(PGconn *c, const tp_migration_set *files, char *err, size_t errlen)
{
    int rc = 0;
    tp_applied_set applied = {0};
    tp_migrate_plan plan = {0};
    rc = tp_migrate_load_applied(c, &applied, err, errlen);
    if (rc)
        goto out;
    rc = tp_migrate_plan_build(files, &applied, &plan, err, errlen);
    if (rc)
        goto out;
    printf("%-8s %-13s %-40s %-14s %s\n", "VERSION", "STATE", "NAME", "SHA256", "APPLIED_AT");
    for (size_t i = 0; i < plan.n; i++) {
        const tp_mig_row *r = &plan.rows[i];
        const char *name = r->file ? r->file->file : r->applied->name;
        const char *sha = r->file ? r->file->sha256 : r->applied->sha256;
        printf("%-8d %-13s %-40s %-14.12s %s\n", r->version, tp_mig_state_name(r->state), name, sha,
               r->applied ? r->applied->applied_at : "-");
    }
    printf("%zu migration(s): %zu pending, %zu problem(s)\n", plan.n, plan.n_pending, plan.n_problems);
    if (plan.n_problems > 0)
        rc = TP_ECONFLICT; /* err names the first problem */
out:
    tp_migrate_plan_free(&plan);
    tp_applied_set_free(&applied);
    return rc;
}

int main(int argc, char **argv)
{
    int status_only = 0, exit_code = 1;
    const char *dir_arg = NULL;
    char err[1024] = "";
    struct migrate_config cfg = {0};
    tp_migration_set files = {0};
    PGconn *conn = NULL;

    tp_log_init("tp-migrate");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tp_config_print_help(stdout, "tp-migrate [--status] [--dir DIR]", summary, migrate_keys, N_KEYS);
            return 0;
        } else if (!strcmp(argv[i], "--status")) {
            status_only = 1;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir_arg = argv[++i];
        } else {
            fprintf(stderr, "tp-migrate: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (tp_config_load(migrate_keys, N_KEYS, &cfg, err, sizeof err) != 0)
        goto out;
    const char *dir = dir_arg ? dir_arg : cfg.dir;
    if (tp_migrate_scan(dir, &files, err, sizeof err) != 0)
        goto out;
    if (connect_db(&cfg, &conn, err, sizeof err) != 0)
        goto out;
    if (status_only) {
        if (print_status(conn, &files, err, sizeof err) != 0)
            goto out;
    } else {
        size_t applied_now = 0;
        int rc = tp_migrate_run(conn, &files, (int)cfg.lock_timeout_ms, &applied_now, err, sizeof err);
        char nfiles[32], napplied[32];
        snprintf(nfiles, sizeof nfiles, "%zu", files.n);
        snprintf(napplied, sizeof napplied, "%zu", applied_now);
        if (rc != 0) {
            tp_log_error("migration run stopped", "dir", dir, "applied_now", napplied, "error", err);
            err[0] = '\0'; /* already logged */
            goto out;
        }
        tp_log_info("migrations up to date", "dir", dir, "files", nfiles, "applied_now", napplied);
    }
    exit_code = 0;
out:
    if (exit_code != 0 && err[0])
        tp_log_error("tp-migrate failed", "error", err);
    PQfinish(conn);
    tp_migration_set_free(&files);
    tp_config_free(migrate_keys, N_KEYS, &cfg);
    return exit_code;
}

/* migrate_db.c — the PostgreSQL half of tp-migrate: the lock, the ledger table, applying. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/log.h"

/* pg_advisory_lock key shared by every tp-migrate: the bytes "tp-migr" as a bigint. */
#define MIGRATE_LOCK_KEY "32774437709899634"

static const char *pg_error(PGconn *c, const PGresult *res)
{
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(c);
    return m && *m ? m : "unknown error";
}

/* Trims libpq's trailing newline so messages sit on one log line. */
static int db_errf(char *err, size_t errlen, int code, const char *what, PGconn *c, const PGresult *res)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", pg_error(c, res));
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    return tp_errf(err, errlen, code, "%s: %s", what, msg);
}

static int exec_ok(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = db_errf(err, errlen, PQstatus(c) == CONNECTION_OK ? TP_EINTERNAL : TP_EUNAVAIL, what, c, res);
    PQclear(res);
    return rc;
}

int tp_migrate_lock(PGconn *c, int timeout_ms, char *err, size_t errlen)
{
    int rc = 0;
    PGresult *res = NULL;
    char ms[32];
    const char *params[1] = {ms};
    snprintf(ms, sizeof ms, "%d", timeout_ms > 0 ? timeout_ms : 0);
    /* lock_timeout bounds the wait for the advisory lock; reset afterwards so migrations
     * themselves wait on table locks as long as they need. */
    res = PQexecParams(c, "SELECT set_config('lock_timeout', $1::text || 'ms', false)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_errf(err, errlen, TP_EUNAVAIL, "setting lock_timeout", c, res);
        goto out;
    }
    PQclear(res);
    const char *key[1] = {MIGRATE_LOCK_KEY};
    res = PQexecParams(c, "SELECT pg_advisory_lock($1::bigint)", 1, NULL, key, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int timed_out = state && strcmp(state, "55P03") == 0; /* lock_not_available */
        rc = db_errf(err, errlen, timed_out ? TP_ETIMEDOUT : TP_EUNAVAIL,
                     timed_out ? "another tp-migrate holds the migrations lock" : "taking the migrations lock", c,
                     res);
        goto out;
    }
    PQclear(res);
    res = NULL;
    rc = exec_ok(c, "SET lock_timeout = 0", "resetting lock_timeout", err, errlen);
out:
    PQclear(res);
    return rc;
}

void tp_migrate_unlock(PGconn *c)
{
    const char *key[1] = {MIGRATE_LOCK_KEY};
    PQclear(PQexecParams(c, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, key, NULL, NULL, 0));
}

int tp_migrate_ensure_table(PGconn *c, char *err, size_t errlen)
{
    return exec_ok(c,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   "creating schema_migrations", err, errlen);
}

int tp_migrate_load_applied(PGconn *c, tp_applied_set *out, char *err, size_t errlen)
{
    int rc = 0;
    tp_applied_set set = {0};
    PGresult *res = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = db_errf(err, errlen, TP_EUNAVAIL, "looking for schema_migrations", c, res);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        goto done; /* never migrated: nothing applied */
    PQclear(res);
    res = PQexec(c, "SELECT version, name, sha256, applied_at::text FROM schema_migrations ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_errf(err, errlen, TP_EINTERNAL, "reading schema_migrations", c, res);
        goto out;
    }
    int n = PQntuples(res);
    if (n > 0 && !(set.items = calloc((size_t)n, sizeof *set.items))) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory reading schema_migrations");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        tp_applied_migration *a = &set.items[i];
        a->version = atoi(PQgetvalue(res, i, 0));
        snprintf(a->name, sizeof a->name, "%s", PQgetvalue(res, i, 1));
        snprintf(a->sha256, sizeof a->sha256, "%s", PQgetvalue(res, i, 2));
        snprintf(a->applied_at, sizeof a->applied_at, "%s", PQgetvalue(res, i, 3));
    }
    set.n = (size_t)n;
done:
    *out = set;
    set.items = NULL;
out:
    PQclear(res);
    tp_applied_set_free(&set);
    return rc;
}

int tp_migrate_apply_one(PGconn *c, const tp_migration *m, char *err, size_t errlen)
{
    int rc = 0, in_tx = 0;
    PGresult *res = NULL;
    char what[320];
    snprintf(what, sizeof what, "applying %s", m->file);
    rc = exec_ok(c, "BEGIN", "BEGIN", err, errlen);
    if (rc)
        goto out;
    in_tx = 1;
    /* The file is trusted schema code from the repository, not input: it runs as written, and
     * PQexec lets it hold several statements. */
    res = PQexec(c, m->sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        rc = db_errf(err, errlen, PQstatus(c) == CONNECTION_OK ? TP_EINVAL : TP_EUNAVAIL, what, c, res);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
        in_tx = 0;
        rc = tp_errf(err, errlen, TP_EINVAL,
                     "%s ends the transaction itself (COMMIT/ROLLBACK inside the file); it may be partly applied "
                     "and was not recorded: remove the transaction control and check the schema",
                     m->file);
        goto out;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[3] = {version, m->name, m->sha256};
    res = PQexecParams(c, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1::integer, $2, $3)", 3,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = db_errf(err, errlen, TP_EINTERNAL, "recording the migration", c, res);
        goto out;
    }
    PQclear(res);
    res = NULL;
    rc = exec_ok(c, "COMMIT", "COMMIT", err, errlen);
    in_tx = 0;
out:
    PQclear(res);
    if (in_tx)
        PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}

int tp_migrate_run(PGconn *c, const tp_migration_set *files, int lock_timeout_ms, size_t *applied_now, char *err,
                   size_t errlen)
{
    int rc = 0, locked = 0;
    tp_applied_set applied = {0};
    tp_migrate_plan plan = {0};
    *applied_now = 0;
    rc = tp_migrate_lock(c, lock_timeout_ms, err, errlen);
    if (rc)
        goto out;
    locked = 1;
    /* Read and plan only under the lock: a concurrent run may have just applied something. */
    rc = tp_migrate_ensure_table(c, err, errlen);
    if (rc)
        goto out;
    rc = tp_migrate_load_applied(c, &applied, err, errlen);
    if (rc)
        goto out;
    rc = tp_migrate_plan_build(files, &applied, &plan, err, errlen);
    if (rc)
        goto out;
    if (plan.n_problems > 0) {
        rc = TP_ECONFLICT; /* err already names the first problem */
        goto out;
    }
    for (size_t i = 0; i < plan.n; i++) {
        const tp_mig_row *r = &plan.rows[i];
        if (r->state != TP_MIG_PENDING)
            continue;
        rc = tp_migrate_apply_one(c, r->file, err, errlen);
        if (rc)
            goto out;
        char version[16];
        snprintf(version, sizeof version, "%d", r->version);
        tp_log_info("migration applied", "version", version, "file", r->file->file, "sha256", r->file->sha256);
        (*applied_now)++;
    }
out:
    if (locked)
        tp_migrate_unlock(c);
    tp_migrate_plan_free(&plan);
    tp_applied_set_free(&applied);
    return rc;
}

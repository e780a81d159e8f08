/* migrate.h — schema migrations: db/migrations/NNN_name.sql applied in version order.
 *
 * A migration file is "NNN_name.sql": NNN a decimal version (1..999999999, leading zeros
 * allowed), name [A-Za-z0-9_-]. Each file runs in its own transaction together with the row
 * that records it in schema_migrations (version, name, sha256, applied_at), so a file is
 * either wholly applied and recorded or not at all. A file whose contents changed after it
 * was applied, an applied version whose file is gone, and a new file numbered below the
 * newest applied one are refused before anything runs: history is append-only.
 * Concurrent runs against one database are serialised by a session advisory lock.
 *
 * The pure part (scanning a directory, planning against what is applied) is separate from
 * the database part so it can be tested without a server. Sets own their items and strings;
 * free them with the matching _free (NULL-safe, leaves the set empty). */
#ifndef TP_MIGRATE_H
#define TP_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "tp/err.h"

#define TP_MIGRATE_NAME_MAX 128
#define TP_MIGRATE_SHA_HEX 65 /* 64 hex digits + NUL */

typedef struct tp_migration {
    int version;
    char name[TP_MIGRATE_NAME_MAX];   /* "api_keys" for 001_api_keys.sql */
    char file[256];                   /* the file name, without directory */
    char sha256[TP_MIGRATE_SHA_HEX];  /* of the file's bytes */
    char *sql;                        /* the file's contents, NUL-terminated, malloc'd */
    size_t sql_len;
} tp_migration;

typedef struct tp_migration_set {
    tp_migration *items; /* ascending version */
    size_t n;
} tp_migration_set;

typedef struct tp_applied_migration {
    int version;
    char name[TP_MIGRATE_NAME_MAX];
    char sha256[TP_MIGRATE_SHA_HEX];
    char applied_at[64]; /* as PostgreSQL prints timestamptz */
} tp_applied_migration;

typedef struct tp_applied_set {
    tp_applied_migration *items; /* ascending version */
    size_t n;
} tp_applied_set;

/* Parse a file name. 0 and fills version/name when it is NNN_name.sql; TP_ENOTFOUND when it
 * does not end in ".sql" (not a migration: ignore it); TP_EINVAL when it ends in ".sql" but
 * is malformed (a typo that would otherwise be silently skipped). */
int tp_migrate_parse_filename(const char *fname, int *version, char name[TP_MIGRATE_NAME_MAX]) TP_MUSTCHECK;

/* Lower-case hex SHA-256 of data. */
int tp_migrate_sha256_hex(const void *data, size_t len, char out[TP_MIGRATE_SHA_HEX]) TP_MUSTCHECK;

/* Read every migration in dir, sorted by version. TP_EINVAL on a malformed name or a
 * duplicated version, TP_EIO when the directory or a file cannot be read. An empty
 * directory is an empty set. */
int tp_migrate_scan(const char *dir, tp_migration_set *out, char *err, size_t errlen) TP_MUSTCHECK;
void tp_migration_set_free(tp_migration_set *s);
void tp_applied_set_free(tp_applied_set *s);

typedef enum {
    TP_MIG_APPLIED,      /* recorded and the file still matches */
    TP_MIG_PENDING,      /* file not yet applied, newer than everything applied */
    TP_MIG_CHANGED,      /* recorded, but the file's name or checksum differs */
    TP_MIG_MISSING,      /* recorded, but no file has that version any more */
    TP_MIG_OUT_OF_ORDER, /* file not applied, yet numbered below the newest applied */
} tp_mig_state;

const char *tp_mig_state_name(tp_mig_state s); /* "applied", "pending", ... never NULL */

typedef struct tp_mig_row {
    int version;
    tp_mig_state state;
    const tp_migration *file;            /* borrowed from the files set; NULL when MISSING */
    const tp_applied_migration *applied; /* borrowed from the applied set; NULL when not applied */
} tp_mig_row;

typedef struct tp_migrate_plan {
    tp_mig_row *rows; /* ascending version, one per version seen in either set */
    size_t n;
    size_t n_pending;
    size_t n_problems; /* CHANGED + MISSING + OUT_OF_ORDER */
} tp_migrate_plan;

/* Compare files with what the database records. Borrows both sets (they must outlive the
 * plan). Fills err with the first problem when there is one (the plan is still returned). */
int tp_migrate_plan_build(const tp_migration_set *files, const tp_applied_set *applied, tp_migrate_plan *out,
                          char *err, size_t errlen) TP_MUSTCHECK;
void tp_migrate_plan_free(tp_migrate_plan *p);

/* --- the database part (migrate_db.c); every call borrows an open connection --- */

/* Take the migrations advisory lock, waiting up to timeout_ms (0 = for ever). TP_ETIMEDOUT
 * when another run held it for that long. */
int tp_migrate_lock(PGconn *c, int timeout_ms, char *err, size_t errlen) TP_MUSTCHECK;
void tp_migrate_unlock(PGconn *c);
/* Read schema_migrations; an absent table is an empty set (nothing is created). */
int tp_migrate_load_applied(PGconn *c, tp_applied_set *out, char *err, size_t errlen) TP_MUSTCHECK;
/* Create schema_migrations if it is missing. */
int tp_migrate_ensure_table(PGconn *c, char *err, size_t errlen) TP_MUSTCHECK;
/* Run one file and record it, in one transaction. A file that ends the transaction itself
 * (COMMIT/ROLLBACK inside) is refused with TP_EINVAL, since it could not be undone. */
int tp_migrate_apply_one(PGconn *c, const tp_migration *m, char *err, size_t errlen) TP_MUSTCHECK;

/* The whole run: lock, ensure the table, plan, refuse on any problem (TP_ECONFLICT),
 * apply what is pending in order, unlock. *applied_now counts files applied by this call. */
int tp_migrate_run(PGconn *c, const tp_migration_set *files, int lock_timeout_ms, size_t *applied_now, char *err,
                   size_t errlen) TP_MUSTCHECK;

#endif

/* migrate.c — the server-free half of tp-migrate: file names, checksums, scanning, planning. */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Large enough for any migration a human writes; stops a stray big file from being slurped. */
#define MIGRATION_MAX_BYTES (16u * 1024 * 1024)

int tp_migrate_parse_filename(const char *fname, int *version, char name[TP_MIGRATE_NAME_MAX])
{
    size_t len = fname ? strlen(fname) : 0;
    if (len < 4 || strcmp(fname + len - 4, ".sql") != 0)
        return TP_ENOTFOUND;
    const char *p = fname;
    long v = 0;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (++digits > 9)
            return TP_EINVAL;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (digits == 0 || v == 0 || *p != '_')
        return TP_EINVAL;
    p++;
    size_t nlen = (size_t)(fname + len - 4 - p);
    if (nlen == 0 || nlen >= TP_MIGRATE_NAME_MAX)
        return TP_EINVAL;
    for (size_t i = 0; i < nlen; i++) {
        char c = p[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok)
            return TP_EINVAL;
    }
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    *version = (int)v;
    return 0;
}

int tp_migrate_sha256_hex(const void *data, size_t len, char out[TP_MIGRATE_SHA_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return TP_EINTERNAL;
    for (unsigned i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    int rc = 0;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = tp_errf(err, errlen, TP_EIO, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = tp_errf(err, errlen, TP_EIO, "%s is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > MIGRATION_MAX_BYTES) {
        rc = tp_errf(err, errlen, TP_ETOOBIG, "%s is larger than %u bytes", path, MIGRATION_MAX_BYTES);
        goto out;
    }
    size_t want = (size_t)st.st_size;
    buf = malloc(want + 1);
    if (!buf) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    size_t got = fread(buf, 1, want, f);
    if (got != want || ferror(f)) {
        rc = tp_errf(err, errlen, TP_EIO, "short read on %s", path);
        goto out;
    }
    buf[got] = '\0';
    *out = buf;
    *outlen = got;
    buf = NULL;
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

static int cmp_migration(const void *a, const void *b)
{
    int va = ((const tp_migration *)a)->version, vb = ((const tp_migration *)b)->version;
    return (va > vb) - (va < vb);
}

void tp_migration_set_free(tp_migration_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i].sql);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

void tp_applied_set_free(tp_applied_set *s)
{
    if (!s)
        return;
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

int tp_migrate_scan(const char *dir, tp_migration_set *out, char *err, size_t errlen)
{
    int rc = 0;
    tp_migration_set set = {0};
    size_t cap = 0;
    DIR *d = opendir(dir);
    if (!d) {
        rc = tp_errf(err, errlen, TP_EIO, "cannot open migrations directory %s: %s", dir, strerror(errno));
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int version;
        char name[TP_MIGRATE_NAME_MAX];
        int prc = tp_migrate_parse_filename(de->d_name, &version, name);
        if (prc == TP_ENOTFOUND)
            continue;
        if (prc != 0) {
            rc = tp_errf(err, errlen, TP_EINVAL, "%s/%s: migration files are named NNN_name.sql (name: A-Z a-z 0-9 _ -)",
                         dir, de->d_name);
            goto out;
        }
        if (set.n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            tp_migration *grown = realloc(set.items, ncap * sizeof *grown);
            if (!grown) {
                rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory scanning %s", dir);
                goto out;
            }
            set.items = grown;
            cap = ncap;
        }
        tp_migration *m = &set.items[set.n];
        memset(m, 0, sizeof *m);
        m->version = version;
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->file, sizeof m->file, "%s", de->d_name);
        set.n++; /* counted before reading so a failure below frees what was read */
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path) {
            rc = tp_errf(err, errlen, TP_EINVAL, "path too long: %s/%s", dir, de->d_name);
            goto out;
        }
        rc = read_file(path, &m->sql, &m->sql_len, err, errlen);
        if (rc)
            goto out;
        rc = tp_migrate_sha256_hex(m->sql, m->sql_len, m->sha256);
        if (rc) {
            tp_errf(err, errlen, rc, "cannot hash %s", path);
            goto out;
        }
    }
    if (set.n > 1)
        qsort(set.items, set.n, sizeof *set.items, cmp_migration);
    for (size_t i = 1; i < set.n; i++) {
        if (set.items[i].version == set.items[i - 1].version) {
            rc = tp_errf(err, errlen, TP_EINVAL, "%s and %s have the same version %d", set.items[i - 1].file,
                         set.items[i].file, set.items[i].version);
            goto out;
        }
    }
    *out = set;
    set.items = NULL;
    set.n = 0;
out:
    if (d)
        closedir(d);
    tp_migration_set_free(&set);
    return rc;
}

const char *tp_mig_state_name(tp_mig_state s)
{
    switch (s) {
    case TP_MIG_APPLIED: return "applied";
    case TP_MIG_PENDING: return "pending";
    case TP_MIG_CHANGED: return "CHANGED";
    case TP_MIG_MISSING: return "MISSING";
    case TP_MIG_OUT_OF_ORDER: return "OUT-OF-ORDER";
    }
    return "?";
}

void tp_migrate_plan_free(tp_migrate_plan *p)
{
    if (!p)
        return;
    free(p->rows);
    p->rows = NULL;
    p->n = p->n_pending = p->n_problems = 0;
}

static void note_problem(tp_migrate_plan *p, const tp_mig_row *r, char *err, size_t errlen)
{
    if (p->n_problems++ > 0)
        return; /* err keeps the first, lowest-versioned problem */
    switch (r->state) {
    case TP_MIG_CHANGED:
        tp_errf(err, errlen, TP_ECONFLICT,
                "migration %d was applied as %s (sha256 %.12s...) but %s now has sha256 %.12s...: applied "
                "migrations must not change; add a new migration instead",
                r->version, r->applied->name, r->applied->sha256, r->file->file, r->file->sha256);
        break;
    case TP_MIG_MISSING:
        tp_errf(err, errlen, TP_ECONFLICT, "migration %d (%s) is applied but its file is gone", r->version,
                r->applied->name);
        break;
    case TP_MIG_OUT_OF_ORDER:
        tp_errf(err, errlen, TP_ECONFLICT,
                "%s is not applied but is numbered below the newest applied migration: renumber it (a "
                "throwaway local database can instead be recreated: make clean-stack)",
                r->file->file);
        break;
    default:
        break;
    }
}

int tp_migrate_plan_build(const tp_migration_set *files, const tp_applied_set *applied, tp_migrate_plan *out,
                          char *err, size_t errlen)
{
    tp_migrate_plan p = {0};
    size_t cap = files->n + applied->n;
    int newest_applied = applied->n ? applied->items[applied->n - 1].version : 0;
    for (size_t k = 1; k < applied->n; k++) {
        if (applied->items[k].version <= applied->items[k - 1].version)
            return tp_errf(err, errlen, TP_EINVAL, "applied set is not in ascending version order");
    }
    if (cap > 0 && !(p.rows = calloc(cap, sizeof *p.rows)))
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory planning migrations");
    if (err && errlen)
        err[0] = '\0';
    size_t i = 0, j = 0;
    while (i < files->n || j < applied->n) {
        tp_mig_row *r = &p.rows[p.n++];
        const tp_migration *f = i < files->n ? &files->items[i] : NULL;
        const tp_applied_migration *a = j < applied->n ? &applied->items[j] : NULL;
        if (f && (!a || f->version < a->version)) {
            r->version = f->version;
            r->file = f;
            r->state = f->version < newest_applied ? TP_MIG_OUT_OF_ORDER : TP_MIG_PENDING;
            i++;
        } else if (a && (!f || a->version < f->version)) {
            r->version = a->version;
            r->applied = a;
            r->state = TP_MIG_MISSING;
            j++;
        } else {
            r->version = f->version;
            r->file = f;
            r->applied = a;
            int same = strcmp(f->sha256, a->sha256) == 0 && strcmp(f->name, a->name) == 0;
            r->state = same ? TP_MIG_APPLIED : TP_MIG_CHANGED;
            i++;
            j++;
        }
        if (r->state == TP_MIG_PENDING)
            p.n_pending++;
        else if (r->state != TP_MIG_APPLIED)
            note_problem(&p, r, err, errlen);
    }
    *out = p;
    return 0;
}

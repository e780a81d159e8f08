/* db.c — a small pool of libpq connections (see db.h).
 *
 * Slots are fixed at creation; a slot's connection is opened lazily by the thread that
 * acquires it (outside the lock, so a slow connect never blocks other callers) and closed
 * when a caller reports it broken, so the next acquire reconnects. */
#include "tp/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp/log.h"

struct db_slot {
    PGconn *conn; /* NULL until first use or after a reset */
    int busy;
};

struct tp_db_pool {
    char *conninfo;
    int size;
    struct db_slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t freed;
    int sync_init;
};

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int tp_db_pool_new(const char *conninfo, int size, tp_db_pool **out, char *err, size_t errlen)
{
    int rc = TP_ENOMEM;
    char *perr = NULL;
    tp_db_pool *p = NULL;
    *out = NULL;
    if (!conninfo || size < 1) {
        rc = tp_errf(err, errlen, TP_EINVAL, "db: a conninfo and a pool size >= 1 are required");
        goto out;
    }
    /* Reject a malformed conninfo now rather than on the first request. */
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        if (perr) {
            trim(perr);
            rc = tp_errf(err, errlen, TP_EINVAL, "db: bad connection string: %s", perr);
        } else {
            rc = tp_errf(err, errlen, TP_ENOMEM, "db: out of memory parsing the connection string");
        }
        goto out;
    }
    PQconninfoFree(opts);
    p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->size = size;
    p->conninfo = strdup(conninfo);
    p->slots = calloc((size_t)size, sizeof *p->slots);
    if (!p->conninfo || !p->slots)
        goto oom;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_cond_init(&p->freed, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto oom;
    }
    pthread_condattr_destroy(&ca);
    p->sync_init = 1;
    *out = p;
    p = NULL;
    rc = 0;
    goto out;
oom:
    rc = tp_errf(err, errlen, TP_ENOMEM, "db: out of memory creating the pool");
out:
    PQfreemem(perr);
    tp_db_pool_free(p);
    return rc;
}

void tp_db_pool_free(tp_db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; p->slots && i < p->size; i++) {
        if (p->slots[i].busy)
            tp_log_error("db: pool freed with a connection still borrowed");
        else if (p->slots[i].conn)
            PQfinish(p->slots[i].conn);
    }
    if (p->sync_init) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->freed);
    }
    free(p->slots);
    free(p->conninfo);
    free(p);
}

static int connect_db(const char *conninfo, PGconn **out, char *err, size_t errlen)
{
    /* A default connect_timeout so an unreachable server fails acquire() instead of hanging
     * it; a connect_timeout in conninfo wins (later keywords override earlier ones). */
    const char *keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {"5", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    *out = NULL;
    if (!c)
        return tp_errf(err, errlen, TP_ENOMEM, "db: out of memory connecting");
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        trim(msg);
        PQfinish(c);
        return tp_errf(err, errlen, TP_EUNAVAIL, "db: cannot connect: %s", msg);
    }
    *out = c;
    return 0;
}

int tp_db_acquire(tp_db_pool *p, int timeout_ms, PGconn **out, char *err, size_t errlen)
{
    struct timespec deadline;
    int slot = -1;
    *out = NULL;
    if (!p)
        return tp_errf(err, errlen, TP_EINVAL, "db: no pool");
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms < 0)
        timeout_ms = 0;
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* Prefer a slot with an open connection; fall back to an empty one. */
        for (int i = 0; i < p->size; i++) {
            if (p->slots[i].busy)
                continue;
            if (p->slots[i].conn) {
                slot = i;
                break;
            }
            if (slot < 0)
                slot = i;
        }
        if (slot >= 0)
            break;
        if (pthread_cond_timedwait(&p->freed, &p->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            return tp_errf(err, errlen, TP_ETIMEDOUT, "db: no free connection within %d ms", timeout_ms);
        }
    }
    p->slots[slot].busy = 1;
    PGconn *c = p->slots[slot].conn;
    pthread_mutex_unlock(&p->mu);

    if (c && PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        c = NULL;
    }
    int rc = c ? 0 : connect_db(p->conninfo, &c, err, errlen);
    if (rc) {
        pthread_mutex_lock(&p->mu);
        p->slots[slot].conn = NULL;
        p->slots[slot].busy = 0;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    p->slots[slot].conn = c;
    pthread_mutex_unlock(&p->mu);
    *out = c;
    return 0;
}

void tp_db_release(tp_db_pool *p, PGconn *c, int broken)
{
    if (!p || !c)
        return;
    /* A connection left inside a transaction (or mid-copy) would leak that state into the
     * next borrower: treat it as broken too. */
    if (!broken && (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE))
        broken = 1;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->size; i++) {
        if (p->slots[i].conn != c || !p->slots[i].busy)
            continue;
        if (broken) {
            PQfinish(c);
            p->slots[i].conn = NULL;
        }
        p->slots[i].busy = 0;
        pthread_cond_signal(&p->freed);
        break;
    }
    pthread_mutex_unlock(&p->mu);
}

int tp_db_conn_broken(PGconn *c) { return !c || PQstatus(c) == CONNECTION_BAD; }

int tp_db_classify(PGconn *c, const PGresult *res, char *err, size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[512];
    /* The primary message only: DETAIL can quote row values, which may be secrets. */
    snprintf(msg, sizeof msg, "%s", primary ? primary : c ? PQerrorMessage(c) : "no result");
    trim(msg);
    int code;
    if (tp_db_conn_broken(c) || !state)
        code = TP_EUNAVAIL;
    else if (strcmp(state, "23505") == 0)
        code = TP_EEXIST;
    else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        code = TP_ECONFLICT;
    else if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
             strcmp(state, "57P03") == 0 || strcmp(state, "53300") == 0)
        code = TP_EUNAVAIL; /* connection exceptions, shutdowns, too many connections */
    else
        code = TP_EINTERNAL;
    if (state)
        return tp_errf(err, errlen, code, "db: %s (SQLSTATE %s)", msg, state);
    return tp_errf(err, errlen, code, "db: %s", msg);
}

int tp_db_ping(tp_db_pool *p, char *err, size_t errlen)
{
    PGconn *c = NULL;
    int rc = tp_db_acquire(p, 1000, &c, err, errlen);
    if (rc)
        return rc;
    PGresult *res = PQexecParams(c, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = tp_db_classify(c, res, err, errlen);
    PQclear(res);
    tp_db_release(p, c, rc == TP_EUNAVAIL || tp_db_conn_broken(c));
    return rc;
}

/* db.h — a small pool of libpq connections shared by a service's threads.
 *
 * acquire() hands out an idle connection (connecting lazily, resetting broken ones), waiting
 * up to timeout_ms when all are busy. The pool owns the connections; a caller borrows one
 * between acquire and release and reports whether it broke. SQL always goes through
 * PQexecParams / PQexecPrepared: never build SQL from input. */
#ifndef TP_DB_H
#define TP_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "tp/err.h"

typedef struct tp_db_pool tp_db_pool;

/* conninfo: libpq connection string or URI (borrowed? no: copied). size ≥ 1. */
int tp_db_pool_new(const char *conninfo, int size, tp_db_pool **out, char *err, size_t errlen) TP_MUSTCHECK;
void tp_db_pool_free(tp_db_pool *p); /* NULL-safe; all connections must be released */
/* TP_ETIMEDOUT when none became free; TP_EUNAVAIL when the server cannot be reached. */
int tp_db_acquire(tp_db_pool *p, int timeout_ms, PGconn **out, char *err, size_t errlen) TP_MUSTCHECK;
/* broken: 1 if the caller saw a connection-level failure (the pool resets it). */
void tp_db_release(tp_db_pool *p, PGconn *c, int broken);
/* 1 if a failed result means the connection itself is gone (so the caller passes broken=1). */
int tp_db_conn_broken(PGconn *c);
/* Map a failed PGresult to TP_E*: unique violation → TP_EEXIST, serialization/deadlock →
 * TP_ECONFLICT, connection failure → TP_EUNAVAIL, else TP_EINTERNAL; fills err. */
int tp_db_classify(PGconn *c, const PGresult *res, char *err, size_t errlen);
/* Ping: SELECT 1 through the pool (for /readyz). */
int tp_db_ping(tp_db_pool *p, char *err, size_t errlen) TP_MUSTCHECK;

#endif

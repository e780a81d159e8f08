/* test_db.c — the connection pool. Without a server: bad conninfo, unreachable server, NULL
 * safety. With TP_TEST_DATABASE_URL: borrowing, exhaustion (TP_ETIMEDOUT), a waiter woken by
 * a release, error classification from real SQLSTATEs, and recovery from a killed backend. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tp/db.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void test_bad_conninfo(void **state)
{
    tp_db_pool *p = (tp_db_pool *)1;
    char err[256];
    (void)state;
    assert_int_equal(tp_db_pool_new("host=x nosuchkeyword=1", 2, &p, err, sizeof err), TP_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err, "nosuchkeyword"));
    assert_int_equal(tp_db_pool_new("postgresql://h/db?nosuchparam=1", 2, &p, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_db_pool_new("host=x", 0, &p, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_db_pool_new(NULL, 1, &p, err, sizeof err), TP_EINVAL);
    tp_db_pool_free(NULL);
}

static void test_unreachable(void **state)
{
    tp_db_pool *p;
    PGconn *c = (PGconn *)1;
    char err[256];
    (void)state;
    assert_int_equal(tp_db_pool_new("host=127.0.0.1 port=1 dbname=x", 1, &p, err, sizeof err), 0);
    long t0 = now_ms();
    assert_int_equal(tp_db_acquire(p, 1000, &c, err, sizeof err), TP_EUNAVAIL);
    assert_null(c);
    assert_true(now_ms() - t0 < 3000);
    /* the slot went back: a second try fails the same way rather than timing out */
    assert_int_equal(tp_db_acquire(p, 0, &c, err, sizeof err), TP_EUNAVAIL);
    assert_int_equal(tp_db_ping(p, err, sizeof err), TP_EUNAVAIL);
    assert_true(tp_db_conn_broken(NULL));
    tp_db_pool_free(p);
}

/* ---------- with a database ---------- */

static int db_setup(void **state)
{
    const char *url = getenv("TP_TEST_DATABASE_URL");
    char err[256];
    tp_db_pool *p = NULL;
    if (url && *url && tp_db_pool_new(url, 2, &p, err, sizeof err) != 0) {
        fprintf(stderr, "db_setup: %s\n", err);
        return -1;
    }
    *state = p;
    return 0;
}

static int db_teardown(void **state)
{
    tp_db_pool_free(*state);
    return 0;
}

static void test_borrow_and_exhaust(void **state)
{
    tp_db_pool *p = *state;
    PGconn *a, *b, *c;
    char err[256];
    if (!p)
        skip();
    assert_int_equal(tp_db_ping(p, err, sizeof err), 0);
    assert_int_equal(tp_db_acquire(p, 1000, &a, err, sizeof err), 0);
    assert_int_equal(tp_db_acquire(p, 1000, &b, err, sizeof err), 0);
    assert_ptr_not_equal(a, b);
    long t0 = now_ms();
    assert_int_equal(tp_db_acquire(p, 150, &c, err, sizeof err), TP_ETIMEDOUT);
    long waited = now_ms() - t0;
    assert_true(waited >= 140 && waited < 1000);
    tp_db_release(p, b, 0);
    /* the released connection is reused, not reopened */
    assert_int_equal(tp_db_acquire(p, 150, &c, err, sizeof err), 0);
    assert_ptr_equal(c, b);
    tp_db_release(p, c, 0);
    tp_db_release(p, a, 0);
}

struct waiter {
    tp_db_pool *p;
    int rc;
    long waited;
};

static void *wait_for_conn(void *arg)
{
    struct waiter *w = arg;
    PGconn *c;
    char err[256];
    long t0 = now_ms();
    w->rc = tp_db_acquire(w->p, 3000, &c, err, sizeof err);
    w->waited = now_ms() - t0;
    if (w->rc == 0)
        tp_db_release(w->p, c, 0);
    return NULL;
}

static void test_waiter_woken(void **state)
{
    tp_db_pool *p = *state;
    PGconn *a, *b;
    char err[256];
    pthread_t t;
    if (!p)
        skip();
    assert_int_equal(tp_db_acquire(p, 1000, &a, err, sizeof err), 0);
    assert_int_equal(tp_db_acquire(p, 1000, &b, err, sizeof err), 0);
    struct waiter w = {p, -99, 0};
    assert_int_equal(pthread_create(&t, NULL, wait_for_conn, &w), 0);
    usleep(100000);
    tp_db_release(p, a, 0);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_true(w.waited >= 80 && w.waited < 2000);
    tp_db_release(p, b, 0);
}

static void test_classify(void **state)
{
    tp_db_pool *p = *state;
    PGconn *c;
    char err[256];
    if (!p)
        skip();
    assert_int_equal(tp_db_acquire(p, 1000, &c, err, sizeof err), 0);
    PGresult *r = PQexec(c, "CREATE TEMP TABLE t_cls (k int PRIMARY KEY)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *one[1] = {"1"};
    r = PQexecParams(c, "INSERT INTO t_cls VALUES ($1::int)", 1, NULL, one, NULL, NULL, 0);
    PQclear(r);
    r = PQexecParams(c, "INSERT INTO t_cls VALUES ($1::int)", 1, NULL, one, NULL, NULL, 0);
    assert_int_equal(tp_db_classify(c, r, err, sizeof err), TP_EEXIST);
    assert_non_null(strstr(err, "23505"));
    PQclear(r);
    r = PQexec(c, "SELECT * FROM no_such_table_here");
    assert_int_equal(tp_db_classify(c, r, err, sizeof err), TP_EINTERNAL);
    PQclear(r);
    r = PQexec(c, "DROP TABLE t_cls");
    PQclear(r);
    tp_db_release(p, c, 0);
}

static void test_left_in_transaction_is_reset(void **state)
{
    tp_db_pool *p = *state;
    PGconn *a, *b, *c;
    char err[256];
    if (!p)
        skip();
    assert_int_equal(tp_db_acquire(p, 1000, &a, err, sizeof err), 0);
    PGresult *r = PQexec(a, "BEGIN");
    PQclear(r);
    tp_db_release(p, a, 0); /* forgot to COMMIT: the pool must not hand that state on */
    assert_int_equal(tp_db_acquire(p, 1000, &b, err, sizeof err), 0);
    assert_int_equal(tp_db_acquire(p, 1000, &c, err, sizeof err), 0);
    assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    tp_db_release(p, b, 0);
    tp_db_release(p, c, 0);
}

static void test_killed_backend_recovers(void **state)
{
    tp_db_pool *p = *state;
    PGconn *victim, *killer;
    char err[256], pid[32];
    if (!p)
        skip();
    assert_int_equal(tp_db_acquire(p, 1000, &victim, err, sizeof err), 0);
    assert_int_equal(tp_db_acquire(p, 1000, &killer, err, sizeof err), 0);
    snprintf(pid, sizeof pid, "%d", PQbackendPID(victim));
    const char *params[1] = {pid};
    PGresult *r = PQexecParams(killer, "SELECT pg_terminate_backend($1::int)", 1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    tp_db_release(p, killer, 0);
    usleep(100000);
    r = PQexec(victim, "SELECT 1");
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(tp_db_conn_broken(victim));
    assert_int_equal(tp_db_classify(victim, r, err, sizeof err), TP_EUNAVAIL);
    PQclear(r);
    tp_db_release(p, victim, 1);
    /* both slots work again */
    assert_int_equal(tp_db_ping(p, err, sizeof err), 0);
    assert_int_equal(tp_db_ping(p, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_conninfo),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test_setup_teardown(test_borrow_and_exhaust, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_waiter_woken, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_classify, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_left_in_transaction_is_reset, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_killed_backend_recovers, db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

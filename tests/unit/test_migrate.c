/* test_migrate.c — tp-migrate's server-free core: names, checksums, scanning, planning.
 * (Applying against PostgreSQL is covered by tests/integration/test_stack.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate.h"

static void test_parse_filename_table(void **state)
{
    (void)state;
    static const struct {
        const char *fname;
        int rc;
        int version;
        const char *name;
    } cases[] = {
        {"001_api_keys.sql", 0, 1, "api_keys"},
        {"002_rollups-daily.sql", 0, 2, "rollups-daily"},
        {"42_X.sql", 0, 42, "X"},
        {"000000010_ten.sql", 0, 10, "ten"},
        {"README.md", TP_ENOTFOUND, 0, NULL},
        {"001_api_keys.sql~", TP_ENOTFOUND, 0, NULL},
        {".sql", TP_EINVAL, 0, NULL},
        {"api_keys.sql", TP_EINVAL, 0, NULL},
        {"001-api_keys.sql", TP_EINVAL, 0, NULL},
        {"001_.sql", TP_EINVAL, 0, NULL},
        {"000_zero.sql", TP_EINVAL, 0, NULL},
        {"001_has space.sql", TP_EINVAL, 0, NULL},
        {"001_dot.ted.sql", TP_EINVAL, 0, NULL},
        {"1234567890_too_long_version.sql", TP_EINVAL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int v = -1;
        char name[TP_MIGRATE_NAME_MAX] = "";
        int rc = tp_migrate_parse_filename(cases[i].fname, &v, name);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].fname, rc, cases[i].rc);
        if (rc == 0) {
            assert_int_equal(v, cases[i].version);
            assert_string_equal(name, cases[i].name);
        }
    }
}

static void test_sha256_known_vectors(void **state)
{
    (void)state;
    char hex[TP_MIGRATE_SHA_HEX];
    assert_int_equal(tp_migrate_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(tp_migrate_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* --- a scratch migrations directory --- */

struct scratch {
    char dir[64];
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static int scratch_setup(void **state)
{
    struct scratch *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/tp-test-migrate-XXXXXX");
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int scratch_teardown(void **state)
{
    struct scratch *s = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    int rc = system(cmd);
    free(s);
    return rc == 0 ? 0 : -1;
}

static void test_scan_sorts_and_hashes(void **state)
{
    struct scratch *s = *state;
    write_file(s->dir, "010_third.sql", "SELECT 3;");
    write_file(s->dir, "001_first.sql", "abc");
    write_file(s->dir, "2_second.sql", "");
    write_file(s->dir, "README.md", "not a migration");
    char err[256] = "";
    tp_migration_set set = {0};
    assert_int_equal(tp_migrate_scan(s->dir, &set, err, sizeof err), 0);
    assert_int_equal(set.n, 3);
    assert_int_equal(set.items[0].version, 1);
    assert_string_equal(set.items[0].name, "first");
    assert_string_equal(set.items[0].file, "001_first.sql");
    assert_string_equal(set.items[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(set.items[0].sql, "abc");
    assert_int_equal(set.items[1].version, 2);
    assert_int_equal(set.items[1].sql_len, 0);
    assert_int_equal(set.items[2].version, 10);
    assert_string_equal(set.items[2].sql, "SELECT 3;");
    tp_migration_set_free(&set);
    assert_null(set.items);
    assert_int_equal(set.n, 0);
    tp_migration_set_free(NULL);
}

static void test_scan_rejects_duplicate_version(void **state)
{
    struct scratch *s = *state;
    write_file(s->dir, "001_a.sql", "x");
    write_file(s->dir, "1_b.sql", "y");
    char err[256] = "";
    tp_migration_set set = {0};
    assert_int_equal(tp_migrate_scan(s->dir, &set, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "same version 1"));
    assert_int_equal(set.n, 0);
}

static void test_scan_rejects_malformed_sql_name(void **state)
{
    struct scratch *s = *state;
    write_file(s->dir, "001_ok.sql", "x");
    write_file(s->dir, "oops.sql", "y");
    char err[256] = "";
    tp_migration_set set = {0};
    assert_int_equal(tp_migrate_scan(s->dir, &set, err, sizeof err), TP_EINVAL);
    assert_non_null(strstr(err, "oops.sql"));
}

static void test_scan_missing_dir_is_io_error(void **state)
{
    (void)state;
    char err[256] = "";
    tp_migration_set set = {0};
    assert_int_equal(tp_migrate_scan("/nonexistent/tp-migrations", &set, err, sizeof err), TP_EIO);
    assert_non_null(strstr(err, "/nonexistent/tp-migrations"));
}

static void test_scan_empty_dir_is_empty_set(void **state)
{
    struct scratch *s = *state;
    char err[256] = "";
    tp_migration_set set = {0};
    assert_int_equal(tp_migrate_scan(s->dir, &set, err, sizeof err), 0);
    assert_int_equal(set.n, 0);
}

/* --- planning --- */

static tp_migration mig(int version, const char *name, const char *sha)
{
    tp_migration m;
    memset(&m, 0, sizeof m);
    m.version = version;
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.file, sizeof m.file, "%03d_%s.sql", version, name);
    snprintf(m.sha256, sizeof m.sha256, "%s", sha);
    return m;
}

static tp_applied_migration app(int version, const char *name, const char *sha)
{
    tp_applied_migration a;
    memset(&a, 0, sizeof a);
    a.version = version;
    snprintf(a.name, sizeof a.name, "%s", name);
    snprintf(a.sha256, sizeof a.sha256, "%s", sha);
    snprintf(a.applied_at, sizeof a.applied_at, "2026-01-01 00:00:00+00");
    return a;
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_plan_fresh_database_all_pending(void **state)
{
    (void)state;
    tp_migration fm[] = {mig(1, "a", SHA_A), mig(2, "b", SHA_B)};
    tp_migration_set files = {fm, 2};
    tp_applied_set applied = {NULL, 0};
    tp_migrate_plan p = {0};
    char err[512] = "";
    assert_int_equal(tp_migrate_plan_build(&files, &applied, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.n_pending, 2);
    assert_int_equal(p.n_problems, 0);
    assert_int_equal(p.rows[0].state, TP_MIG_PENDING);
    assert_ptr_equal(p.rows[1].file, &fm[1]);
    assert_null(p.rows[1].applied);
    tp_migrate_plan_free(&p);
}

static void test_plan_up_to_date_then_new_file(void **state)
{
    (void)state;
    tp_migration fm[] = {mig(1, "a", SHA_A), mig(2, "b", SHA_B), mig(3, "c", SHA_C)};
    tp_applied_migration am[] = {app(1, "a", SHA_A), app(2, "b", SHA_B)};
    tp_migration_set files = {fm, 3};
    tp_applied_set applied = {am, 2};
    tp_migrate_plan p = {0};
    char err[512] = "";
    assert_int_equal(tp_migrate_plan_build(&files, &applied, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.rows[0].state, TP_MIG_APPLIED);
    assert_int_equal(p.rows[1].state, TP_MIG_APPLIED);
    assert_int_equal(p.rows[2].state, TP_MIG_PENDING);
    assert_int_equal(p.n_pending, 1);
    assert_int_equal(p.n_problems, 0);
    assert_string_equal(err, "");
    tp_migrate_plan_free(&p);
}

static void test_plan_changed_checksum_is_a_problem(void **state)
{
    (void)state;
    tp_migration fm[] = {mig(1, "a", SHA_A), mig(2, "b", SHA_C)};
    tp_applied_migration am[] = {app(1, "a", SHA_A), app(2, "b", SHA_B)};
    tp_migration_set files = {fm, 2};
    tp_applied_set applied = {am, 2};
    tp_migrate_plan p = {0};
    char err[512] = "";
    assert_int_equal(tp_migrate_plan_build(&files, &applied, &p, err, sizeof err), 0);
    assert_int_equal(p.rows[1].state, TP_MIG_CHANGED);
    assert_int_equal(p.n_problems, 1);
    assert_non_null(strstr(err, "migration 2"));
    assert_non_null(strstr(err, "must not change"));
    tp_migrate_plan_free(&p);
}

static void test_plan_renamed_file_is_a_problem(void **state)
{
    (void)state;
    tp_migration fm[] = {mig(1, "renamed", SHA_A)};
    tp_applied_migration am[] = {app(1, "a", SHA_A)};
    tp_migration_set files = {fm, 1};
    tp_applied_set applied = {am, 1};
    tp_migrate_plan p = {0};
    char err[512] = "";
    assert_int_equal(tp_migrate_plan_build(&files, &applied, &p, err, sizeof err), 0);
    assert_int_equal(p.rows[0].state, TP_MIG_CHANGED);
    assert_int_equal(p.n_problems, 1);
    tp_migrate_plan_free(&p);
}

static void test_plan_missing_and_out_of_order(void **state)
{
    (void)state;
    /* 3 applied, its file deleted; 2 added after 4 was applied. */
    tp_migration fm[] = {mig(1, "a", SHA_A), mig(2, "late", SHA_B), mig(4, "d", SHA_C), mig(5, "e", SHA_A)};
    tp_applied_migration am[] = {app(1, "a", SHA_A), app(3, "gone", SHA_B), app(4, "d", SHA_C)};
    tp_migration_set files = {fm, 4};
    tp_applied_set applied = {am, 3};
    tp_migrate_plan p = {0};
    char err[512] = "";
    assert_int_equal(tp_migrate_plan_build(&files, &applied, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 5);
    assert_int_equal(p.rows[0].state, TP_MIG_APPLIED);
    assert_int_equal(p.rows[1].state, TP_MIG_OUT_OF_ORDER);
    assert_int_equal(p.rows[1].version, 2);
    assert_int_equal(p.rows[2].state, TP_MIG_MISSING);
    assert_null(p.rows[2].file);
    assert_int_equal(p.rows[3].state, TP_MIG_APPLIED);
    assert_int_equal(p.rows[4].state, TP_MIG_PENDING);
    assert_int_equal(p.n_problems, 2);
    assert_int_equal(p.n_pending, 1);
    /* The message names the lowest-versioned problem. */
    assert_non_null(strstr(err, "002_late.sql"));
    tp_migrate_plan_free(&p);
    tp_migrate_plan_free(NULL);
}

static void test_plan_rejects_unsorted_applied_set(void **state)
{
    (void)state;
    tp_applied_migration am[] = {app(2, "b", SHA_B), app(1, "a", SHA_A)};
    tp_migration_set files = {NULL, 0};
    tp_applied_set applied = {am, 2};
    tp_migrate_plan p = {0};
    char err[512] = "";
    assert_int_equal(tp_migrate_plan_build(&files, &applied, &p, err, sizeof err), TP_EINVAL);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(tp_mig_state_name(TP_MIG_APPLIED), "applied");
    assert_string_equal(tp_mig_state_name(TP_MIG_PENDING), "pending");
    assert_string_equal(tp_mig_state_name(TP_MIG_CHANGED), "CHANGED");
    assert_string_equal(tp_mig_state_name((tp_mig_state)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_filename_table),
        cmocka_unit_test(test_sha256_known_vectors),
        cmocka_unit_test_setup_teardown(test_scan_sorts_and_hashes, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_scan_rejects_duplicate_version, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_scan_rejects_malformed_sql_name, scratch_setup, scratch_teardown),
        cmocka_unit_test(test_scan_missing_dir_is_io_error),
        cmocka_unit_test_setup_teardown(test_scan_empty_dir_is_empty_set, scratch_setup, scratch_teardown),
        cmocka_unit_test(test_plan_fresh_database_all_pending),
        cmocka_unit_test(test_plan_up_to_date_then_new_file),
        cmocka_unit_test(test_plan_changed_checksum_is_a_problem),
        cmocka_unit_test(test_plan_renamed_file_is_a_problem),
        cmocka_unit_test(test_plan_missing_and_out_of_order),
        cmocka_unit_test(test_plan_rejects_unsorted_applied_set),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}

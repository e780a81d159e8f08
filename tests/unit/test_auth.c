/* test_auth.c — API key format, Authorization parsing, scopes and principal checks (pure), and
 * verify's refusals that need no database. With TP_TEST_DATABASE_URL set (a database that has
 * db/migrations/001_api_keys.sql applied), also issue → verify → revoke round trips and the
 * cache's behaviour; without it those cases are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tp/auth.h"

static const char good_key[] = "tp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";

static void test_key_parse(void **state)
{
    char id[17], sec[44];
    (void)state;
    assert_int_equal(strlen(good_key), TP_KEY_LEN);
    assert_int_equal(tp_auth_key_parse(good_key, id, sec), 0);
    assert_string_equal(id, "0123456789abcdef");
    assert_string_equal(sec, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq");
    char dashes[TP_KEY_LEN + 1] = "tp_0123456789abcdef_";
    for (size_t i = strlen(dashes); i < TP_KEY_LEN; i++)
        dashes[i] = i % 2 ? '-' : '_'; /* the two base64url-only characters */
    dashes[TP_KEY_LEN] = '\0';
    assert_int_equal(tp_auth_key_parse(dashes, id, sec), 0);

    static const char *bad[] = {
        NULL,
        "",
        "tp_",
        "xx_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",  /* prefix */
        "tp_0123456789ABCDEF_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",  /* upper-case id */
        "tp_0123456789abcdeg_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",  /* non-hex id */
        "tp_0123456789abcdef-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",  /* separator */
        "tp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop",   /* secret short */
        "tp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr", /* secret long */
        "tp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop=",  /* padding */
        "tp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop+",  /* base64, not url */
        "tp_0123456789abcde_fABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",  /* id short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tp_auth_key_parse(bad[i], id, sec), TP_EINVAL);
}

static void test_bearer_parse(void **state)
{
    char id[17], sec[44], hdr[200];
    (void)state;
    snprintf(hdr, sizeof hdr, "Bearer %s", good_key);
    assert_int_equal(tp_auth_bearer_parse(hdr, id, sec), 0);
    assert_string_equal(id, "0123456789abcdef");
    snprintf(hdr, sizeof hdr, "bearer   %s  ", good_key);
    assert_int_equal(tp_auth_bearer_parse(hdr, id, sec), 0);

    const char *bad_fmt[] = {"%s", "Basic %s", "Bearer", "Bearer %s extra", "Bearer%s", "Bearer x%s", "Token %s"};
    assert_int_equal(tp_auth_bearer_parse(NULL, id, sec), TP_EAUTH);
    assert_int_equal(tp_auth_bearer_parse("", id, sec), TP_EAUTH);
    for (size_t i = 0; i < sizeof bad_fmt / sizeof bad_fmt[0]; i++) {
        snprintf(hdr, sizeof hdr, bad_fmt[i], good_key);
        assert_int_equal(tp_auth_bearer_parse(hdr, id, sec), TP_EAUTH);
    }
}

static void test_scopes(void **state)
{
    unsigned bits = 0, bit = 0;
    char buf[64];
    (void)state;
    assert_int_equal(tp_scope_from_name("events:write", &bit), 0);
    assert_int_equal(bit, TP_SCOPE_EVENTS_WRITE);
    assert_int_equal(tp_scope_from_name("read", &bit), 0);
    assert_int_equal(bit, TP_SCOPE_READ);
    assert_int_equal(tp_scope_from_name("admin", &bit), 0);
    assert_int_equal(bit, TP_SCOPE_ADMIN);
    assert_int_equal(tp_scope_from_name("Admin", &bit), TP_EINVAL);
    assert_int_equal(tp_scope_from_name("events", &bit), TP_EINVAL);
    assert_int_equal(tp_scope_from_name(NULL, &bit), TP_EINVAL);

    assert_int_equal(tp_scopes_parse("events:write,read", &bits), 0);
    assert_int_equal(bits, TP_SCOPE_EVENTS_WRITE | TP_SCOPE_READ);
    assert_int_equal(tp_scopes_parse(" admin , read ", &bits), 0);
    assert_int_equal(bits, TP_SCOPE_ADMIN | TP_SCOPE_READ);
    assert_int_equal(tp_scopes_parse("read,read", &bits), 0);
    assert_int_equal(bits, TP_SCOPE_READ);
    const char *bad[] = {"", ",", "read,", ",read", "read,,admin", "read,write", "everything"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bits = 12345;
        assert_int_equal(tp_scopes_parse(bad[i], &bits), TP_EINVAL);
        assert_int_equal(bits, 12345); /* untouched on failure */
    }

    tp_scopes_format(TP_SCOPE_ADMIN | TP_SCOPE_EVENTS_WRITE | TP_SCOPE_READ, buf, sizeof buf);
    assert_string_equal(buf, "events:write,read,admin");
    tp_scopes_format(TP_SCOPE_ADMIN, buf, sizeof buf);
    assert_string_equal(buf, "admin");
    tp_scopes_format(0, buf, sizeof buf);
    assert_string_equal(buf, "");
    assert_string_equal(tp_scope_name(TP_SCOPE_READ), "read");
    assert_null(tp_scope_name(TP_SCOPE_READ | TP_SCOPE_ADMIN));
    assert_null(tp_scope_name(0));
}

static void test_principal(void **state)
{
    (void)state;
    tp_principal all = {.key_id = "0123456789abcdef", .tenant_id = "", .scopes = TP_SCOPE_EVENTS_WRITE};
    tp_principal acme = {.key_id = "0123456789abcdef", .tenant_id = "acme",
                         .scopes = TP_SCOPE_READ | TP_SCOPE_ADMIN};

    assert_true(tp_principal_has(&all, TP_SCOPE_EVENTS_WRITE));
    assert_false(tp_principal_has(&all, TP_SCOPE_READ));
    assert_false(tp_principal_has(&all, TP_SCOPE_EVENTS_WRITE | TP_SCOPE_READ));
    assert_true(tp_principal_has(&acme, TP_SCOPE_READ | TP_SCOPE_ADMIN));
    assert_false(tp_principal_has(&acme, TP_SCOPE_EVENTS_WRITE));
    assert_false(tp_principal_has(NULL, TP_SCOPE_READ));

    assert_true(tp_principal_can_tenant(&all, "acme"));
    assert_true(tp_principal_can_tenant(&all, "globex"));
    assert_true(tp_principal_can_tenant(&acme, "acme"));
    assert_false(tp_principal_can_tenant(&acme, "globex"));
    assert_false(tp_principal_can_tenant(&acme, "acm"));
    assert_false(tp_principal_can_tenant(&acme, "acme2"));
    assert_false(tp_principal_can_tenant(&acme, ""));
    assert_false(tp_principal_can_tenant(&acme, NULL));
}

/* verify refuses malformed headers before touching the store, and reports an unreachable
 * store as TP_EUNAVAIL (not as a bad key). Port 1 on loopback refuses connections. */
static void test_verify_without_store(void **state)
{
    tp_db_pool *pool;
    tp_auth *a;
    tp_principal p;
    char err[256], hdr[200];
    (void)state;
    assert_int_equal(tp_db_pool_new("host=127.0.0.1 port=1 dbname=x connect_timeout=2", 1, &pool, err, sizeof err), 0);
    assert_int_equal(tp_auth_new(pool, 1000, &a, err, sizeof err), 0);
    assert_int_equal(tp_auth_verify(a, NULL, &p), TP_EAUTH);
    assert_int_equal(tp_auth_verify(a, "Bearer nonsense", &p), TP_EAUTH);
    snprintf(hdr, sizeof hdr, "Bearer %s", good_key);
    assert_int_equal(tp_auth_verify(a, hdr, &p), TP_EUNAVAIL);
    tp_auth_free(a);
    tp_db_pool_free(pool);
    assert_int_equal(tp_auth_new(NULL, 1000, &a, err, sizeof err), TP_EINVAL);
}

/* ---------- with a database ---------- */

struct dbfx {
    tp_db_pool *pool;
    tp_auth *a;  /* cache 60 s: what another process sees late */
    tp_auth *a2; /* a second "service" with the same long cache */
};

static int db_setup(void **state)
{
    const char *url = getenv("TP_TEST_DATABASE_URL");
    char err[256];
    if (!url || !*url) {
        *state = NULL;
        return 0;
    }
    struct dbfx *f = calloc(1, sizeof *f);
    if (!f || tp_db_pool_new(url, 2, &f->pool, err, sizeof err) || tp_auth_new(f->pool, 60000, &f->a, err, sizeof err) ||
        tp_auth_new(f->pool, 60000, &f->a2, err, sizeof err)) {
        fprintf(stderr, "db_setup: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int db_teardown(void **state)
{
    struct dbfx *f = *state;
    if (!f)
        return 0;
    tp_auth_free(f->a);
    tp_auth_free(f->a2);
    tp_db_pool_free(f->pool);
    free(f);
    return 0;
}

static void bearer(char out[128], const char *key) { snprintf(out, 128, "Bearer %s", key); }

static void test_db_issue_verify_revoke(void **state)
{
    struct dbfx *f = *state;
    char id[17], key[96], hdr[128], err[256];
    tp_principal p;
    if (!f)
        skip();
    assert_int_equal(tp_auth_create_key_desc(f->a, "acme", TP_SCOPE_READ | TP_SCOPE_ADMIN, "unit test", id, key,
                                             err, sizeof err),
                     0);
    char pid[17], psec[44];
    assert_int_equal(tp_auth_key_parse(key, pid, psec), 0);
    assert_string_equal(pid, id);
    bearer(hdr, key);
    assert_int_equal(tp_auth_verify(f->a, hdr, &p), 0);
    assert_string_equal(p.key_id, id);
    assert_string_equal(p.tenant_id, "acme");
    assert_int_equal(p.scopes, TP_SCOPE_READ | TP_SCOPE_ADMIN);
    assert_int_equal(tp_auth_verify(f->a2, hdr, &p), 0); /* now cached in a2 too */

    /* one changed character of the secret: refused, from the cache as from the store */
    size_t last = strlen(key) - 1;
    char orig = key[last];
    key[last] = orig == 'A' ? 'B' : 'A';
    bearer(hdr, key);
    assert_int_equal(tp_auth_verify(f->a, hdr, &p), TP_EAUTH);
    key[last] = orig;
    bearer(hdr, key);

    /* all-tenants keys carry an empty tenant */
    char id2[17], key2[96], hdr2[128];
    assert_int_equal(tp_auth_create_key(f->a, NULL, TP_SCOPE_EVENTS_WRITE, id2, key2, err, sizeof err), 0);
    bearer(hdr2, key2);
    assert_int_equal(tp_auth_verify(f->a, hdr2, &p), 0);
    assert_string_equal(p.tenant_id, "");
    assert_true(tp_principal_can_tenant(&p, "anyone"));

    /* a tenant-scoped principal cannot revoke another tenant's or an all-tenants key */
    tp_principal globex = {.tenant_id = "globex", .scopes = TP_SCOPE_ADMIN};
    assert_int_equal(tp_auth_revoke_as(f->a, &globex, id, err, sizeof err), TP_ENOTFOUND);
    assert_int_equal(tp_auth_revoke_as(f->a, &globex, id2, err, sizeof err), TP_ENOTFOUND);
    assert_int_equal(tp_auth_verify(f->a, hdr, &p), 0); /* still valid, even in the local cache */

    /* revoke through a: refused by a at once, although a cached it a moment ago */
    assert_int_equal(tp_auth_revoke(f->a, id, err, sizeof err), 0);
    assert_int_equal(tp_auth_verify(f->a, hdr, &p), TP_EAUTH);
    assert_int_equal(tp_auth_revoke(f->a, id, err, sizeof err), TP_ENOTFOUND);
    /* a2 only learns when its cache entry expires (60 s here): the documented window */
    assert_int_equal(tp_auth_verify(f->a2, hdr, &p), 0);

    assert_int_equal(tp_auth_revoke(f->a, "nothex", err, sizeof err), TP_ENOTFOUND);
    assert_int_equal(tp_auth_revoke(f->a, "ffffffffffffffff", err, sizeof err), TP_ENOTFOUND);
    assert_int_equal(tp_auth_revoke(f->a, id2, err, sizeof err), 0);
}

static void test_db_unknown_and_bad_input(void **state)
{
    struct dbfx *f = *state;
    char id[17], key[96], err[256];
    tp_principal p;
    if (!f)
        skip();
    assert_int_equal(tp_auth_verify(f->a, "Bearer tp_ffffffffffffffff_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq", &p),
                     TP_EAUTH);
    assert_int_equal(tp_auth_create_key(f->a, "bad tenant", TP_SCOPE_READ, id, key, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_auth_create_key(f->a, "acme", 0, id, key, err, sizeof err), TP_EINVAL);
    assert_int_equal(tp_auth_create_key(f->a, "acme", 1u << 7, id, key, err, sizeof err), TP_EINVAL);
}

struct seen {
    const char *want;
    int found;
};

static void on_key(void *ctx, const tp_key_info *k)
{
    struct seen *s = ctx;
    if (strcmp(k->key_id, s->want) == 0) {
        s->found = 1;
        assert_string_equal(k->tenant_id, "listco");
        assert_int_equal(k->scopes, TP_SCOPE_READ);
        assert_string_equal(k->description, "listed");
        assert_string_equal(k->revoked_at, "");
        assert_int_equal(strlen(k->created_at), 20);
    }
}

static void test_db_list(void **state)
{
    struct dbfx *f = *state;
    char id[17], key[96], err[256];
    if (!f)
        skip();
    assert_int_equal(tp_auth_create_key_desc(f->a, "listco", TP_SCOPE_READ, "listed", id, key, err, sizeof err), 0);
    struct seen s = {id, 0};
    assert_int_equal(tp_auth_list(f->a, on_key, &s, err, sizeof err), 0);
    assert_true(s.found);
    assert_int_equal(tp_auth_revoke(f->a, id, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_bearer_parse),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_principal),
        cmocka_unit_test(test_verify_without_store),
        cmocka_unit_test_setup_teardown(test_db_issue_verify_revoke, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_unknown_and_bad_input, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_list, db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tp-keys — create, revoke and list API keys in the api_keys table (DATABASE_URL).
 *
 *   tp-keys create (--tenant ID | --all-tenants) --scopes events:write,read,admin [--description TEXT]
 *       prints {"key_id":..,"key":..,"tenant_id":..|null,"scopes":[..]} — the key is shown only here
 *   tp-keys revoke KEY_ID
 *   tp-keys list        one JSON object per key and line; never a secret
 *
 * Exit status: 0 done, 1 failed, 2 bad usage. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp/auth.h"
#include "tp/db.h"
#include "tp/log.h"

static const char usage[] =
    "Usage:\n"
    "  tp-keys create (--tenant ID | --all-tenants) --scopes LIST [--description TEXT]\n"
    "  tp-keys revoke KEY_ID\n"
    "  tp-keys list\n"
    "  tp-keys --help\n"
    "\n"
    "Manages the API keys ingest-api and query-api accept. LIST is a comma-separated subset of\n"
    "events:write, read, admin. create prints the key once, as JSON; only its SHA-256 is stored.\n"
    "list never prints secrets. The database comes from DATABASE_URL (a libpq URI or conninfo).\n";

static json_t *scopes_json(unsigned scopes)
{
    json_t *a = json_array();
    for (unsigned bit = 1; a && bit <= TP_SCOPE_ADMIN; bit <<= 1)
        if ((scopes & bit) && tp_scope_name(bit))
            json_array_append_new(a, json_string(tp_scope_name(bit)));
    return a;
}

static int print_json(json_t *o)
{
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 ? 0 : 1;
    if (rc == 0)
        fputc('\n', stdout);
    json_decref(o);
    return rc;
}

static int cmd_create(tp_auth *a, int argc, char **argv)
{
    const char *tenant = NULL, *scopes_csv = NULL, *desc = NULL;
    int all = 0;
    unsigned scopes = 0;
    char key_id[17], key[96], err[256];
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--all-tenants"))
            all = 1;
        else if (!strcmp(argv[i], "--tenant") && i + 1 < argc)
            tenant = argv[++i];
        else if (!strcmp(argv[i], "--scopes") && i + 1 < argc)
            scopes_csv = argv[++i];
        else if (!strcmp(argv[i], "--description") && i + 1 < argc)
            desc = argv[++i];
        else {
            fprintf(stderr, "tp-keys create: unexpected '%s'\n\n%s", argv[i], usage);
            return 2;
        }
    }
    if (all == (tenant != NULL)) {
        fprintf(stderr, "tp-keys create: give exactly one of --tenant ID and --all-tenants\n");
        return 2;
    }
    if (!scopes_csv || tp_scopes_parse(scopes_csv, &scopes) != 0) {
        fprintf(stderr, "tp-keys create: --scopes must list some of events:write, read, admin\n");
        return 2;
    }
    if (tp_auth_create_key_desc(a, tenant, scopes, desc, key_id, key, err, sizeof err) != 0) {
        fprintf(stderr, "tp-keys create: %s\n", err);
        return 1;
    }
    json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "key_id", key_id, "key", key, "tenant_id",
                          tenant ? json_string(tenant) : json_null(), "scopes", scopes_json(scopes));
    explicit_bzero(key, sizeof key);
    return print_json(o);
}

static int cmd_revoke(tp_auth *a, int argc, char **argv)
{
    char err[256];
    if (argc != 1) {
        fprintf(stderr, "tp-keys revoke: give one KEY_ID\n");
        return 2;
    }
    int rc = tp_auth_revoke(a, argv[0], err, sizeof err);
    if (rc) {
        fprintf(stderr, "tp-keys revoke: %s\n", err);
        return 1;
    }
    return print_json(json_pack("{s:s,s:b}", "key_id", argv[0], "revoked", 1));
}

static void list_one(void *ctx, const tp_key_info *k)
{
    int *failed = ctx;
    json_t *o = json_pack("{s:s,s:o,s:o,s:s,s:o,s:s}", "key_id", k->key_id, "tenant_id",
                          k->tenant_id[0] ? json_string(k->tenant_id) : json_null(), "scopes",
                          scopes_json(k->scopes), "created_at", k->created_at, "revoked_at",
                          k->revoked_at[0] ? json_string(k->revoked_at) : json_null(), "description",
                          k->description);
    if (print_json(o))
        *failed = 1;
}

static int cmd_list(tp_auth *a, int argc, char **argv)
{
    char err[256];
    int failed = 0;
    (void)argv;
    if (argc != 0) {
        fprintf(stderr, "tp-keys list: takes no arguments\n");
        return 2;
    }
    if (tp_auth_list(a, list_one, &failed, err, sizeof err) != 0) {
        fprintf(stderr, "tp-keys list: %s\n", err);
        return 1;
    }
    return failed;
}

int main(int argc, char **argv)
{
    tp_db_pool *pool = NULL;
    tp_auth *auth = NULL;
    char err[512];
    int rc = 2;
    tp_log_init("tp-keys");
    if (!getenv("TP_LOG_LEVEL"))
        tp_log_set_level(TP_LOG_WARN); /* a CLI: only problems on stderr */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "create") && strcmp(cmd, "revoke") && strcmp(cmd, "list")) {
        fprintf(stderr, "tp-keys: unknown command '%s'\n\n%s", cmd, usage);
        return 2;
    }
    const char *url = getenv("DATABASE_URL");
    if (!url || !*url) {
        fprintf(stderr, "tp-keys: DATABASE_URL is not set\n");
        return 2;
    }
    if (tp_db_pool_new(url, 1, &pool, err, sizeof err) != 0 || tp_auth_new(pool, 0, &auth, err, sizeof err) != 0) {
        fprintf(stderr, "tp-keys: %s\n", err);
        rc = 1;
        goto out;
    }
    if (!strcmp(cmd, "create"))
        rc = cmd_create(auth, argc - 2, argv + 2);
    else if (!strcmp(cmd, "revoke"))
        rc = cmd_revoke(auth, argc - 2, argv + 2);
    else
        rc = cmd_list(auth, argc - 2, argv + 2);
out:
    tp_auth_free(auth);
    tp_db_pool_free(pool);
    return rc;
}

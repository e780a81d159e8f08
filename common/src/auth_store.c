/* auth_store.c — issuing, revoking and listing API keys in the api_keys table (see auth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth_internal.h"
#include "tp/log.h"

static int random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0)
            return TP_EIO;
        got += (size_t)r;
    }
    return 0;
}

/* base64url without padding: 32 bytes → 43 characters. */
static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
    }
    out[o] = '\0';
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int tp_auth_create_key_desc(tp_auth *a, const char *tenant_id, unsigned scopes, const char *description,
                            char key_id_out[17], char key_out[96], char *err, size_t errlen)
{
    const unsigned all = TP_SCOPE_EVENTS_WRITE | TP_SCOPE_READ | TP_SCOPE_ADMIN;
    PGconn *c = NULL;
    int rc;
    if (!a || (tenant_id && !auth_id_valid(tenant_id)))
        return tp_errf(err, errlen, TP_EINVAL, "auth: tenant_id must be 1..64 of [A-Za-z0-9._-]");
    if (scopes == 0 || (scopes & ~all))
        return tp_errf(err, errlen, TP_EINVAL, "auth: scopes must be a non-empty set of known scopes");
    char scope_csv[64];
    tp_scopes_format(scopes, scope_csv, sizeof scope_csv);
    rc = tp_db_acquire(a->pool, 5000, &c, err, errlen);
    if (rc)
        return rc;
    /* A key_id collision (2^-64 per pair) is answered by drawing again, not by failing. */
    for (int attempt = 0; attempt < 3; attempt++) {
        unsigned char idb[8], secb[32], digest[32];
        char key_id[TP_KEY_ID_LEN + 1], secret[TP_KEY_SECRET_LEN + 1], digest_hex[65];
        if (random_bytes(idb, sizeof idb) || random_bytes(secb, sizeof secb)) {
            rc = tp_errf(err, errlen, TP_EIO, "auth: no randomness available");
            break;
        }
        to_hex(idb, sizeof idb, key_id);
        b64url(secb, sizeof secb, secret);
        if (auth_digest(a, secret, digest) != 0) {
            rc = tp_errf(err, errlen, TP_EINTERNAL, "auth: hashing failed");
            break;
        }
        to_hex(digest, sizeof digest, digest_hex);
        const char *params[5] = {key_id, digest_hex, tenant_id, scope_csv,
                                 description && *description ? description : NULL};
        PGresult *res = PQexecParams(c,
                                     "INSERT INTO api_keys (key_id, secret_sha256, tenant_id, scopes, description) "
                                     "VALUES ($1, $2, $3, string_to_array($4, ','), $5)",
                                     5, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            memcpy(key_id_out, key_id, sizeof key_id);
            snprintf(key_out, 96, "tp_%s_%s", key_id, secret);
            rc = 0;
        } else {
            rc = tp_db_classify(c, res, err, errlen);
        }
        PQclear(res);
        explicit_bzero(secret, sizeof secret);
        explicit_bzero(secb, sizeof secb);
        if (rc != TP_EEXIST)
            break;
    }
    tp_db_release(a->pool, c, tp_db_conn_broken(c));
    if (rc == 0)
        tp_log_info("auth: key created", "key_id", key_id_out, "tenant_id", tenant_id ? tenant_id : "*", "scopes",
                    scope_csv);
    return rc;
}

int tp_auth_create_key(tp_auth *a, const char *tenant_id, unsigned scopes, char key_id_out[17], char key_out[96],
                       char *err, size_t errlen)
{
    return tp_auth_create_key_desc(a, tenant_id, scopes, NULL, key_id_out, key_out, err, errlen);
}

int tp_auth_revoke_as(tp_auth *a, const tp_principal *by, const char *key_id, char *err, size_t errlen)
{
    PGconn *c = NULL;
    char id[TP_KEY_ID_LEN + 1];
    if (!a || !key_id || strlen(key_id) != TP_KEY_ID_LEN || strspn(key_id, "0123456789abcdef") != TP_KEY_ID_LEN)
        return tp_errf(err, errlen, TP_ENOTFOUND, "auth: no such key");
    memcpy(id, key_id, sizeof id);
    int rc = tp_db_acquire(a->pool, 5000, &c, err, errlen);
    if (rc)
        return rc;
    const char *scope_tenant = by && by->tenant_id[0] ? by->tenant_id : NULL;
    const char *params[2] = {id, scope_tenant};
    PGresult *res = PQexecParams(c,
                                 "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL "
                                 "AND ($2::text IS NULL OR tenant_id = $2::text)",
                                 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = tp_db_classify(c, res, err, errlen);
    else if (strcmp(PQcmdTuples(res), "1") != 0)
        rc = tp_errf(err, errlen, TP_ENOTFOUND, "auth: no such active key");
    PQclear(res);
    tp_db_release(a->pool, c, tp_db_conn_broken(c));
    if (rc == 0) {
        /* Only after the store agreed: a refused revocation (another tenant's key) must not
         * disable the key even locally. */
        auth_cache_mark_revoked(a, id);
        tp_log_info("auth: key revoked", "key_id", id);
    }
    return rc;
}

int tp_auth_revoke(tp_auth *a, const char *key_id, char *err, size_t errlen)
{
    return tp_auth_revoke_as(a, NULL, key_id, err, errlen);
}

int tp_auth_list(tp_auth *a, void (*cb)(void *ctx, const tp_key_info *k), void *ctx, char *err, size_t errlen)
{
    PGconn *c = NULL;
    if (!a || !cb)
        return tp_errf(err, errlen, TP_EINVAL, "auth: list needs a callback");
    int rc = tp_db_acquire(a->pool, 5000, &c, err, errlen);
    if (rc)
        return rc;
    PGresult *res = PQexecParams(c,
                                 "SELECT key_id, coalesce(tenant_id, ''), array_to_string(scopes, ','), "
                                 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                                 "coalesce(to_char(revoked_at AT TIME ZONE 'UTC', "
                                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), coalesce(description, '') "
                                 "FROM api_keys ORDER BY created_at, key_id",
                                 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = tp_db_classify(c, res, err, errlen);
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        tp_key_info k = {0};
        k.key_id = PQgetvalue(res, i, 0);
        k.tenant_id = PQgetvalue(res, i, 1);
        char *names = PQgetvalue(res, i, 2);
        for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            unsigned bit;
            if (tp_scope_from_name(tok, &bit) == 0)
                k.scopes |= bit;
        }
        k.created_at = PQgetvalue(res, i, 3);
        k.revoked_at = PQgetvalue(res, i, 4);
        k.description = PQgetvalue(res, i, 5);
        cb(ctx, &k);
    }
out:
    PQclear(res);
    tp_db_release(a->pool, c, tp_db_conn_broken(c));
    return rc;
}

/* auth.c — API key parsing, scopes, principal checks and cached verification (see auth.h).
 * Issuing, revoking and listing keys live in auth_store.c. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth_internal.h"
#include "tp/log.h"

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    {"events:write", TP_SCOPE_EVENTS_WRITE},
    {"read", TP_SCOPE_READ},
    {"admin", TP_SCOPE_ADMIN},
};
#define NSCOPES (sizeof scope_names / sizeof scope_names[0])

int64_t auth_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int auth_id_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= TP_ID_MAX || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

/* ---------- pure helpers ---------- */

static int is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int tp_auth_key_parse(const char *key, char key_id[17], char secret[44])
{
    if (!key || strncmp(key, "tp_", 3) != 0 || strlen(key) != TP_KEY_LEN)
        return TP_EINVAL;
    const char *id = key + 3;
    const char *sec = id + TP_KEY_ID_LEN + 1;
    if (id[TP_KEY_ID_LEN] != '_')
        return TP_EINVAL;
    for (int i = 0; i < TP_KEY_ID_LEN; i++)
        if (!is_hex_lower(id[i]))
            return TP_EINVAL;
    for (int i = 0; i < TP_KEY_SECRET_LEN; i++)
        if (!is_b64url(sec[i]))
            return TP_EINVAL;
    memcpy(key_id, id, TP_KEY_ID_LEN);
    key_id[TP_KEY_ID_LEN] = '\0';
    memcpy(secret, sec, TP_KEY_SECRET_LEN);
    secret[TP_KEY_SECRET_LEN] = '\0';
    return 0;
}

int tp_auth_bearer_parse(const char *authorization, char key_id[17], char secret[44])
{
    char key[TP_KEY_LEN + 1];
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return TP_EAUTH;
    const char *p = authorization + 7;
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, " ");
    if (n != TP_KEY_LEN)
        return TP_EAUTH;
    for (const char *q = p + n; *q; q++)
        if (*q != ' ')
            return TP_EAUTH;
    memcpy(key, p, n);
    key[n] = '\0';
    return tp_auth_key_parse(key, key_id, secret) == 0 ? 0 : TP_EAUTH;
}

int tp_scope_from_name(const char *name, unsigned *bit)
{
    for (size_t i = 0; name && i < NSCOPES; i++) {
        if (strcmp(name, scope_names[i].name) == 0) {
            *bit = scope_names[i].bit;
            return 0;
        }
    }
    return TP_EINVAL;
}

const char *tp_scope_name(unsigned bit)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (scope_names[i].bit == bit)
            return scope_names[i].name;
    return NULL;
}

int tp_scopes_parse(const char *csv, unsigned *out)
{
    unsigned bits = 0;
    char name[32];
    if (!csv)
        return TP_EINVAL;
    const char *p = csv;
    for (;;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && p[t - 1] == ' ')
            t--;
        if (t == 0 || t >= sizeof name)
            return TP_EINVAL;
        memcpy(name, p, t);
        name[t] = '\0';
        unsigned bit;
        if (tp_scope_from_name(name, &bit) != 0)
            return TP_EINVAL;
        bits |= bit;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    *out = bits;
    return 0;
}

void tp_scopes_format(unsigned scopes, char *buf, size_t cap)
{
    size_t off = 0;
    if (!cap)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < NSCOPES; i++) {
        if (!(scopes & scope_names[i].bit))
            continue;
        int w = snprintf(buf + off, cap - off, "%s%s", off ? "," : "", scope_names[i].name);
        if (w < 0 || (size_t)w >= cap - off)
            break;
        off += (size_t)w;
    }
}

int tp_principal_has(const tp_principal *p, unsigned need) { return p && (p->scopes & need) == need; }

int tp_principal_can_tenant(const tp_principal *p, const char *tenant_id)
{
    if (!p || !tenant_id)
        return 0;
    return p->tenant_id[0] == '\0' || strcmp(p->tenant_id, tenant_id) == 0;
}

/* ---------- lifecycle ---------- */

int tp_auth_new(tp_db_pool *pool, int cache_ttl_ms, tp_auth **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!pool)
        return tp_errf(err, errlen, TP_EINVAL, "auth: a database pool is required");
    tp_auth *a = calloc(1, sizeof *a);
    if (!a)
        return tp_errf(err, errlen, TP_ENOMEM, "auth: out of memory");
    a->pool = pool;
    a->ttl_ms = cache_ttl_ms < 0 ? 0 : cache_ttl_ms;
    a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!a->sha256 || pthread_mutex_init(&a->mu, NULL) != 0) {
        EVP_MD_free(a->sha256);
        free(a);
        return tp_errf(err, errlen, TP_EINTERNAL, "auth: SHA-256 unavailable");
    }
    *out = a;
    return 0;
}

static void cache_clear(tp_auth *a)
{
    for (size_t i = 0; i < AUTH_BUCKETS; i++) {
        struct auth_entry *e = a->buckets[i];
        while (e) {
            struct auth_entry *n = e->next;
            free(e);
            e = n;
        }
        a->buckets[i] = NULL;
    }
    a->nentries = 0;
}

void tp_auth_free(tp_auth *a)
{
    if (!a)
        return;
    cache_clear(a);
    pthread_mutex_destroy(&a->mu);
    EVP_MD_free(a->sha256);
    free(a);
}

int auth_digest(tp_auth *a, const char *secret, unsigned char out[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(secret, strlen(secret), out, &n, a->sha256, NULL) || n != 32)
        return TP_EINTERNAL;
    return 0;
}

/* ---------- cache ---------- */

static size_t bucket_of(const char *key_id)
{
    /* key ids are random hex: their first two digits spread evenly already. */
    size_t h = 0;
    for (int i = 0; i < 4; i++)
        h = h * 16 + (size_t)(key_id[i] <= '9' ? key_id[i] - '0' : key_id[i] - 'a' + 10);
    return h % AUTH_BUCKETS;
}

static struct auth_entry *cache_find_locked(tp_auth *a, const char *key_id)
{
    for (struct auth_entry *e = a->buckets[bucket_of(key_id)]; e; e = e->next)
        if (strcmp(e->key_id, key_id) == 0)
            return e;
    return NULL;
}

static void cache_put(tp_auth *a, const struct auth_entry *src)
{
    if (a->ttl_ms == 0)
        return;
    pthread_mutex_lock(&a->mu);
    struct auth_entry *e = cache_find_locked(a, src->key_id);
    if (!e) {
        if (a->nentries >= AUTH_CACHE_MAX)
            cache_clear(a); /* crude but bounded; entries live ~a second anyway */
        e = malloc(sizeof *e);
        if (!e)
            goto out; /* caching is an optimisation: skip it */
        size_t b = bucket_of(src->key_id);
        *e = *src;
        e->next = a->buckets[b];
        a->buckets[b] = e;
        a->nentries++;
        goto out;
    }
    struct auth_entry *next = e->next;
    *e = *src;
    e->next = next;
out:
    pthread_mutex_unlock(&a->mu);
}

static int cache_get(tp_auth *a, const char *key_id, struct auth_entry *out)
{
    int hit = 0;
    if (a->ttl_ms == 0)
        return 0;
    pthread_mutex_lock(&a->mu);
    struct auth_entry *e = cache_find_locked(a, key_id);
    if (e && e->expires_ms > auth_now_ms()) {
        *out = *e;
        hit = 1;
    }
    pthread_mutex_unlock(&a->mu);
    return hit;
}

void auth_cache_mark_revoked(tp_auth *a, const char *key_id)
{
    pthread_mutex_lock(&a->mu);
    struct auth_entry *e = cache_find_locked(a, key_id);
    if (e)
        e->revoked = 1;
    pthread_mutex_unlock(&a->mu);
}

/* ---------- verify ---------- */

static int hex_to_bytes(const char *hex, unsigned char out[32])
{
    if (!hex || strlen(hex) != 64)
        return TP_EINVAL;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = (char)tolower((unsigned char)hex[2 * i + k]);
            if (c >= '0' && c <= '9')
                v = v * 16 + (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v = v * 16 + (unsigned)(c - 'a' + 10);
            else
                return TP_EINVAL;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* Read key_id's row into e. TP_EUNAVAIL when the store cannot answer. */
static int load_entry(tp_auth *a, const char *key_id, struct auth_entry *e)
{
    PGconn *c = NULL;
    char err[256];
    const char *params[1] = {key_id};
    memset(e, 0, sizeof *e);
    snprintf(e->key_id, sizeof e->key_id, "%s", key_id);
    int rc = tp_db_acquire(a->pool, 2000, &c, err, sizeof err);
    if (rc) {
        tp_log_warn("auth: key store unavailable", "error", err);
        return TP_EUNAVAIL;
    }
    PGresult *res = PQexecParams(c,
                                 "SELECT secret_sha256, tenant_id, array_to_string(scopes, ','), "
                                 "revoked_at IS NOT NULL FROM api_keys WHERE key_id = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tp_db_classify(c, res, err, sizeof err);
        tp_log_warn("auth: key lookup failed", "error", err);
        rc = TP_EUNAVAIL;
        goto out;
    }
    if (PQntuples(res) == 1 && hex_to_bytes(PQgetvalue(res, 0, 0), e->digest) == 0) {
        e->known = 1;
        if (!PQgetisnull(res, 0, 1))
            snprintf(e->tenant_id, sizeof e->tenant_id, "%s", PQgetvalue(res, 0, 1));
        e->revoked = PQgetvalue(res, 0, 3)[0] == 't';
        /* Unknown scope names in the table (a newer version wrote them) grant nothing here. */
        char *names = PQgetvalue(res, 0, 2);
        for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            unsigned bit;
            if (tp_scope_from_name(tok, &bit) == 0)
                e->scopes |= bit;
        }
    }
    e->expires_ms = auth_now_ms() + a->ttl_ms;
out:
    PQclear(res);
    tp_db_release(a->pool, c, tp_db_conn_broken(c));
    return rc;
}

int tp_auth_verify(tp_auth *a, const char *authorization, tp_principal *out)
{
    char key_id[TP_KEY_ID_LEN + 1], secret[TP_KEY_SECRET_LEN + 1];
    unsigned char digest[32];
    struct auth_entry e;
    int rc = tp_auth_bearer_parse(authorization, key_id, secret);
    if (rc)
        return TP_EAUTH;
    if (auth_digest(a, secret, digest) != 0)
        return TP_EINTERNAL;
    if (!cache_get(a, key_id, &e)) {
        rc = load_entry(a, key_id, &e);
        if (rc)
            return rc;
        cache_put(a, &e);
    }
    /* Compare even for unknown keys (against zeros), so timing says nothing either way. */
    int same = CRYPTO_memcmp(digest, e.digest, sizeof digest) == 0;
    if (!e.known || e.revoked || !same)
        return TP_EAUTH;
    memset(out, 0, sizeof *out);
    memcpy(out->key_id, key_id, sizeof out->key_id);
    snprintf(out->tenant_id, sizeof out->tenant_id, "%s", e.tenant_id);
    out->scopes = e.scopes;
    return 0;
}

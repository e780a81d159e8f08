/* auth.h — API keys: issue, verify, revoke, against the api_keys table in PostgreSQL.
 *
 * A key is "tp_<key_id>_<secret>": key_id (16 hex chars) is the lookup handle, the secret
 * (43 chars base64url of 32 random bytes) is stored only as its SHA-256, compared in constant
 * time. A key belongs to one tenant or to all tenants (tenant_id NULL) and carries scopes.
 * Verified keys are cached briefly (cache_ttl_ms); a revocation through this tp_auth is seen
 * at once, and by other services within cache_ttl_ms. Thread-safe. */
#ifndef TP_AUTH_H
#define TP_AUTH_H

#include <stddef.h>

#include "tp/db.h"
#include "tp/err.h"
#include "tp/event.h"

enum {
    TP_SCOPE_EVENTS_WRITE = 1 << 0, /* "events:write" */
    TP_SCOPE_READ = 1 << 1,         /* "read" */
    TP_SCOPE_ADMIN = 1 << 2,        /* "admin" */
};

typedef struct tp_principal {
    char key_id[17];
    char tenant_id[TP_ID_MAX + 1]; /* "" = all tenants */
    unsigned scopes;
} tp_principal;

typedef struct tp_auth tp_auth;

/* Borrows pool (must outlive auth). */
int tp_auth_new(tp_db_pool *pool, int cache_ttl_ms, tp_auth **out, char *err, size_t errlen) TP_MUSTCHECK;
void tp_auth_free(tp_auth *a); /* NULL-safe */

/* Verify an Authorization header value ("Bearer tp_..."). TP_EAUTH when missing, malformed,
 * unknown or revoked; TP_EUNAVAIL when the key store cannot be reached. */
int tp_auth_verify(tp_auth *a, const char *authorization, tp_principal *out) TP_MUSTCHECK;

/* Issue a key. tenant_id NULL = all tenants. key_out receives the full key (shown once). */
int tp_auth_create_key(tp_auth *a, const char *tenant_id, unsigned scopes, char key_id_out[17], char key_out[96],
                       char *err, size_t errlen) TP_MUSTCHECK;
/* Revoke at once. TP_ENOTFOUND if no such (unrevoked) key. */
int tp_auth_revoke(tp_auth *a, const char *key_id, char *err, size_t errlen) TP_MUSTCHECK;

/* Like tp_auth_create_key, also storing a free-text description (NULL for none). */
int tp_auth_create_key_desc(tp_auth *a, const char *tenant_id, unsigned scopes, const char *description,
                            char key_id_out[17], char key_out[96], char *err, size_t errlen) TP_MUSTCHECK;
/* Revoke on behalf of a principal: a tenant-scoped one may revoke only its own tenant's keys
 * (any other key reads as TP_ENOTFOUND, so key ids of other tenants are not disclosed).
 * by NULL = no restriction (same as tp_auth_revoke). */
int tp_auth_revoke_as(tp_auth *a, const tp_principal *by, const char *key_id, char *err,
                      size_t errlen) TP_MUSTCHECK;

/* One row of tp_auth_list. Never carries the secret or its hash. Strings borrowed for the
 * duration of the callback. */
typedef struct tp_key_info {
    const char *key_id;
    const char *tenant_id;   /* "" = all tenants */
    unsigned scopes;
    const char *created_at;  /* RFC 3339, UTC */
    const char *revoked_at;  /* "" while active */
    const char *description; /* "" if none */
} tp_key_info;
/* Call cb for every key, oldest first. */
int tp_auth_list(tp_auth *a, void (*cb)(void *ctx, const tp_key_info *k), void *ctx, char *err,
                 size_t errlen) TP_MUSTCHECK;

/* --- pure helpers (no database) --- */
#define TP_KEY_ID_LEN 16
#define TP_KEY_SECRET_LEN 43
#define TP_KEY_LEN (3 + TP_KEY_ID_LEN + 1 + TP_KEY_SECRET_LEN)
/* Split "tp_<key_id>_<secret>" (exactly; no surrounding text). TP_EINVAL when malformed. */
int tp_auth_key_parse(const char *key, char key_id[17], char secret[44]) TP_MUSTCHECK;
/* Take the key out of an Authorization value: scheme "Bearer" (any case), one or more spaces,
 * the key, optional trailing spaces. TP_EAUTH when absent or malformed. */
int tp_auth_bearer_parse(const char *authorization, char key_id[17], char secret[44]) TP_MUSTCHECK;
/* "events:write,read" (commas, optional spaces) into bits; TP_EINVAL on an empty list or an
 * unknown name. */
int tp_scopes_parse(const char *csv, unsigned *out) TP_MUSTCHECK;
/* Name of a single scope bit, NULL if bit is not exactly one known scope. */
const char *tp_scope_name(unsigned bit);
/* Comma-joined names of the scopes in bits, in the order events:write, read, admin. */
void tp_scopes_format(unsigned scopes, char *buf, size_t cap);

/* Parse "events:write" / "read" / "admin" into a scope bit; TP_EINVAL otherwise. */
int tp_scope_from_name(const char *name, unsigned *bit) TP_MUSTCHECK;
/* 1 if the principal has every scope in need. */
int tp_principal_has(const tp_principal *p, unsigned need);
/* 1 if the principal may act on tenant_id (its own, or any for an all-tenants key). */
int tp_principal_can_tenant(const tp_principal *p, const char *tenant_id);

#endif

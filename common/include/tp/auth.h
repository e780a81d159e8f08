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

/* Parse "events:write" / "read" / "admin" into a scope bit; TP_EINVAL otherwise. */
int tp_scope_from_name(const char *name, unsigned *bit) TP_MUSTCHECK;
/* 1 if the principal has every scope in need. */
int tp_principal_has(const tp_principal *p, unsigned need);
/* 1 if the principal may act on tenant_id (its own, or any for an all-tenants key). */
int tp_principal_can_tenant(const tp_principal *p, const char *tenant_id);

#endif

/* auth_internal.h — shared by auth.c (parsing, cache, verify) and auth_store.c (issue, revoke,
 * list). Not a public header. */
#ifndef TP_AUTH_INTERNAL_H
#define TP_AUTH_INTERNAL_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>

#include "tp/auth.h"

#define AUTH_BUCKETS 256
#define AUTH_CACHE_MAX 8192

/* What the key store said about a key_id, cached for ttl. */
struct auth_entry {
    char key_id[TP_KEY_ID_LEN + 1];
    int known;   /* 0: no such key (cached briefly so junk keys don't each cost a query) */
    int revoked;
    unsigned char digest[32];
    char tenant_id[TP_ID_MAX + 1];
    unsigned scopes;
    int64_t expires_ms;
    struct auth_entry *next;
};

struct tp_auth {
    tp_db_pool *pool; /* borrowed */
    int ttl_ms;
    EVP_MD *sha256;   /* fetched once: implicit fetches per call are slow under load */
    pthread_mutex_t mu;
    struct auth_entry *buckets[AUTH_BUCKETS];
    size_t nentries;
};

/* SHA-256 of the secret's text. 0 or TP_EINTERNAL. */
int auth_digest(tp_auth *a, const char *secret, unsigned char out[32]);
/* Mark key_id revoked in this process's cache at once. */
void auth_cache_mark_revoked(tp_auth *a, const char *key_id);
/* 1 if s is a tenant id (1..64 of [A-Za-z0-9._-]). */
int auth_id_valid(const char *s);
int64_t auth_now_ms(void);

#endif

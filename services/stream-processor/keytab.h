/* keytab.h — a table of fixed-size entries found by a string key (open addressing).
 *
 * The rollup aggregates a batch into several of these (per tenant-hour, per user, ...): get
 * an entry by key, creating it zeroed on first use, then walk the entries in key order so the
 * SQL upserts lock rows in one global order. The table owns its keys and entries; a pointer
 * returned by tp_keytab_get is valid until the next get or reset. Not thread-safe. */
#ifndef TP_KEYTAB_H
#define TP_KEYTAB_H

#include <stddef.h>

#include "tp/err.h"

typedef struct tp_keytab tp_keytab;

int tp_keytab_new(size_t entry_size, tp_keytab **out) TP_MUSTCHECK;
void tp_keytab_free(tp_keytab *t); /* NULL-safe */
/* Forget every entry, keeping the memory for the next batch. */
void tp_keytab_reset(tp_keytab *t);
size_t tp_keytab_count(const tp_keytab *t);

/* The entry for key (keylen bytes, any content), created zeroed if absent (*created = 1).
 * NULL on out-of-memory. created may be NULL. */
void *tp_keytab_get(tp_keytab *t, const char *key, size_t keylen, int *created);
/* Lookup only: NULL when absent. */
void *tp_keytab_find(const tp_keytab *t, const char *key, size_t keylen);

/* Entry i in insertion order (0 <= i < count) and its key. */
void *tp_keytab_at(const tp_keytab *t, size_t i);
const char *tp_keytab_key_at(const tp_keytab *t, size_t i, size_t *keylen);

/* Indexes 0..count-1 sorted by key bytes (memcmp, shorter first on a tie). *out is malloc'd
 * (caller frees); NULL with count 0 is success. TP_ENOMEM otherwise. */
int tp_keytab_sorted(const tp_keytab *t, size_t **out) TP_MUSTCHECK;

#endif

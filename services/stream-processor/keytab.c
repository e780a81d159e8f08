/* keytab.c — string-keyed entry table (see keytab.h). Linear probing over a power-of-two
 * slot array holding entry indexes; keys live in one growing arena so a reset is O(slots). */
#include "keytab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t off, len; /* key bytes in the arena */
} key_ref;

struct tp_keytab {
    size_t entry_size;
    unsigned char *entries; /* count * entry_size */
    key_ref *keys;
    size_t count, cap;
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t nslots;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: keys are short, speed beats quality here */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int tp_keytab_new(size_t entry_size, tp_keytab **out)
{
    *out = NULL;
    tp_keytab *t = calloc(1, sizeof *t);
    if (!t)
        return TP_ENOMEM;
    t->entry_size = entry_size ? entry_size : 1;
    t->nslots = 64;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return TP_ENOMEM;
    }
    *out = t;
    return 0;
}

void tp_keytab_free(tp_keytab *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->keys);
    free(t->arena);
    free(t->slots);
    free(t);
}

void tp_keytab_reset(tp_keytab *t)
{
    if (!t)
        return;
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    t->count = 0;
    t->arena_len = 0;
}

size_t tp_keytab_count(const tp_keytab *t) { return t ? t->count : 0; }

static const char *key_ptr(const tp_keytab *t, size_t i) { return t->arena + t->keys[i].off; }

static size_t probe(const tp_keytab *t, const char *key, size_t keylen, uint64_t h)
{
    size_t mask = t->nslots - 1;
    size_t s = (size_t)h & mask;
    for (;;) {
        uint32_t v = t->slots[s];
        if (!v)
            return s;
        size_t i = v - 1;
        if (t->keys[i].len == keylen && memcmp(key_ptr(t, i), key, keylen) == 0)
            return s;
        s = (s + 1) & mask;
    }
}

static int grow_slots(tp_keytab *t)
{
    size_t n = t->nslots * 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return TP_ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    for (size_t i = 0; i < t->count; i++) {
        size_t s = probe(t, key_ptr(t, i), t->keys[i].len, hash_bytes(key_ptr(t, i), t->keys[i].len));
        t->slots[s] = (uint32_t)(i + 1);
    }
    return 0;
}

void *tp_keytab_find(const tp_keytab *t, const char *key, size_t keylen)
{
    size_t s = probe(t, key, keylen, hash_bytes(key, keylen));
    uint32_t v = t->slots[s];
    return v ? t->entries + (size_t)(v - 1) * t->entry_size : NULL;
}

void *tp_keytab_get(tp_keytab *t, const char *key, size_t keylen, int *created)
{
    if (created)
        *created = 0;
    uint64_t h = hash_bytes(key, keylen);
    size_t s = probe(t, key, keylen, h);
    if (t->slots[s])
        return t->entries + (size_t)(t->slots[s] - 1) * t->entry_size;

    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        unsigned char *e = realloc(t->entries, cap * t->entry_size);
        if (!e)
            return NULL;
        t->entries = e;
        key_ref *k = realloc(t->keys, cap * sizeof *k);
        if (!k)
            return NULL;
        t->keys = k;
        t->cap = cap;
    }
    if (t->arena_len + keylen > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 1024;
        while (cap < t->arena_len + keylen)
            cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a)
            return NULL;
        t->arena = a;
        t->arena_cap = cap;
    }
    /* Keep the load under one half before claiming a slot, so probing stays short. */
    if ((t->count + 1) * 2 > t->nslots) {
        if (grow_slots(t) != 0)
            return NULL;
        s = probe(t, key, keylen, h);
    }
    memcpy(t->arena + t->arena_len, key, keylen);
    t->keys[t->count] = (key_ref){t->arena_len, keylen};
    t->arena_len += keylen;
    void *e = t->entries + t->count * t->entry_size;
    memset(e, 0, t->entry_size);
    t->slots[s] = (uint32_t)(t->count + 1);
    t->count++;
    if (created)
        *created = 1;
    return e;
}

void *tp_keytab_at(const tp_keytab *t, size_t i) { return t->entries + i * t->entry_size; }

const char *tp_keytab_key_at(const tp_keytab *t, size_t i, size_t *keylen)
{
    if (keylen)
        *keylen = t->keys[i].len;
    return key_ptr(t, i);
}

/* qsort has no context argument in C11; the table being sorted is passed through this
 * thread-local instead. */
static _Thread_local const tp_keytab *sort_table;

static int cmp_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const key_ref *ki = &sort_table->keys[i], *kj = &sort_table->keys[j];
    size_t n = ki->len < kj->len ? ki->len : kj->len;
    int c = memcmp(key_ptr(sort_table, i), key_ptr(sort_table, j), n);
    if (c)
        return c;
    return (ki->len > kj->len) - (ki->len < kj->len);
}

int tp_keytab_sorted(const tp_keytab *t, size_t **out)
{
    *out = NULL;
    if (!t->count)
        return 0;
    size_t *idx = malloc(t->count * sizeof *idx);
    if (!idx)
        return TP_ENOMEM;
    for (size_t i = 0; i < t->count; i++)
        idx[i] = i;
    sort_table = t;
    qsort(idx, t->count, sizeof *idx, cmp_index);
    sort_table = NULL;
    *out = idx;
    return 0;
}

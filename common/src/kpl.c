/* kpl.c — KPL aggregated records: builder (encoder) and deaggregation (see kpl.h).
 *
 * Protobuf wire format used here (developers.google.com/protocol-buffers/docs/encoding): a field
 * is a varint key (field_number << 3 | wire_type) then its value; wire type 0 is a varint, 2 is
 * length-delimited (varint length + bytes), 1 and 5 are fixed 64/32-bit. Unknown fields (Record
 * tags, future additions) are skipped; groups (types 3/4) are not valid here and count as corrupt. */
#include "tp/kpl.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t kpl_magic[TP_KPL_MAGIC_LEN] = {0xF3, 0x89, 0x9A, 0xC2};

/* AggregatedRecord / Record field keys as they appear on the wire. */
#define KEY_PKEY_TABLE 0x0A /* field 1, length-delimited */
#define KEY_RECORDS 0x1A    /* field 3, length-delimited */
#define KEY_REC_PKEY_IDX 0x08 /* field 1, varint */
#define KEY_REC_DATA 0x1A     /* field 3, length-delimited */

struct kpl_rec {
    size_t key_idx;
    size_t off; /* into data */
    size_t len;
};

struct tp_kpl_builder {
    char **keys;
    size_t *key_lens;
    size_t nkeys, keys_cap;
    uint32_t *slots; /* open addressing: key index + 1, 0 = empty */
    size_t nslots;   /* power of two, kept at least twice nkeys */
    struct kpl_rec *recs;
    size_t nrecs, recs_cap;
    uint8_t *data;
    size_t data_len, data_cap;
    size_t pb_size; /* bytes of the protobuf message as it stands */
    uint8_t *out;
    size_t out_cap;
};

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t record_body_len(size_t key_idx, size_t datalen)
{
    return 1 + varint_len(key_idx) + 1 + varint_len(datalen) + datalen;
}

static size_t record_field_len(size_t key_idx, size_t datalen)
{
    size_t body = record_body_len(key_idx, datalen);
    return 1 + varint_len(body) + body;
}

static uint32_t hash_key(const char *k, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)k[i];
        h *= 16777619u;
    }
    return h;
}

/* Index of pkey in the table, or -1. */
static long find_key(const tp_kpl_builder *b, const char *pkey, size_t n)
{
    if (b->nslots == 0)
        return -1;
    size_t mask = b->nslots - 1;
    for (size_t s = hash_key(pkey, n) & mask;; s = (s + 1) & mask) {
        uint32_t v = b->slots[s];
        if (v == 0)
            return -1;
        size_t i = v - 1;
        if (b->key_lens[i] == n && memcmp(b->keys[i], pkey, n) == 0)
            return (long)i;
    }
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return TP_ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

static int rehash(tp_kpl_builder *b, size_t nslots)
{
    uint32_t *ns = calloc(nslots, sizeof *ns);
    if (!ns)
        return TP_ENOMEM;
    for (size_t i = 0; i < b->nkeys; i++) {
        size_t s = hash_key(b->keys[i], b->key_lens[i]) & (nslots - 1);
        while (ns[s])
            s = (s + 1) & (nslots - 1);
        ns[s] = (uint32_t)(i + 1);
    }
    free(b->slots);
    b->slots = ns;
    b->nslots = nslots;
    return 0;
}

int tp_kpl_builder_new(tp_kpl_builder **out)
{
    if (!out)
        return TP_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : TP_ENOMEM;
}

void tp_kpl_builder_reset(tp_kpl_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nkeys; i++)
        free(b->keys[i]);
    b->nkeys = 0;
    if (b->slots)
        memset(b->slots, 0, b->nslots * sizeof *b->slots);
    b->nrecs = 0;
    b->data_len = 0;
    b->pb_size = 0;
}

void tp_kpl_builder_free(tp_kpl_builder *b)
{
    if (!b)
        return;
    tp_kpl_builder_reset(b);
    free(b->keys);
    free(b->key_lens);
    free(b->slots);
    free(b->recs);
    free(b->data);
    free(b->out);
    free(b);
}

size_t tp_kpl_builder_count(const tp_kpl_builder *b) { return b ? b->nrecs : 0; }

size_t tp_kpl_builder_size_with(const tp_kpl_builder *b, const char *pkey, size_t datalen)
{
    if (!b || !pkey)
        return 0;
    size_t kl = strlen(pkey);
    long idx = find_key(b, pkey, kl);
    size_t add = 0;
    if (idx < 0) {
        idx = (long)b->nkeys;
        add += 1 + varint_len(kl) + kl;
    }
    add += record_field_len((size_t)idx, datalen);
    return TP_KPL_MAGIC_LEN + b->pb_size + add + TP_KPL_DIGEST_LEN;
}

int tp_kpl_builder_add(tp_kpl_builder *b, const char *pkey, const void *data, size_t len)
{
    if (!b || !pkey || (!data && len))
        return TP_EINVAL;
    size_t kl = strlen(pkey);
    if (kl == 0 || b->nkeys >= UINT32_MAX - 1)
        return TP_EINVAL;
    /* Reserve everything first so a failure leaves the builder as it was. */
    if (grow((void **)&b->recs, &b->recs_cap, b->nrecs + 1, sizeof *b->recs) ||
        grow((void **)&b->data, &b->data_cap, b->data_len + len + 1, 1))
        return TP_ENOMEM;
    long idx = find_key(b, pkey, kl);
    if (idx < 0) {
        size_t kcap = b->keys_cap;
        if (grow((void **)&b->keys, &kcap, b->nkeys + 1, sizeof *b->keys))
            return TP_ENOMEM;
        size_t lcap = b->keys_cap;
        if (grow((void **)&b->key_lens, &lcap, b->nkeys + 1, sizeof *b->key_lens))
            return TP_ENOMEM;
        b->keys_cap = kcap < lcap ? kcap : lcap;
        if ((b->nkeys + 1) * 2 > b->nslots && rehash(b, b->nslots ? b->nslots * 2 : 32))
            return TP_ENOMEM;
        char *copy = malloc(kl + 1);
        if (!copy)
            return TP_ENOMEM;
        memcpy(copy, pkey, kl + 1);
        idx = (long)b->nkeys;
        b->keys[idx] = copy;
        b->key_lens[idx] = kl;
        b->nkeys++;
        size_t mask = b->nslots - 1;
        size_t s = hash_key(pkey, kl) & mask;
        while (b->slots[s])
            s = (s + 1) & mask;
        b->slots[s] = (uint32_t)(idx + 1);
        b->pb_size += 1 + varint_len(kl) + kl;
    }
    struct kpl_rec *r = &b->recs[b->nrecs++];
    r->key_idx = (size_t)idx;
    r->off = b->data_len;
    r->len = len;
    if (len)
        memcpy(b->data + b->data_len, data, len);
    b->data_len += len;
    b->pb_size += record_field_len((size_t)idx, len);
    return 0;
}

int tp_kpl_builder_finish(tp_kpl_builder *b, const uint8_t **out, size_t *outlen)
{
    if (!b || !out || !outlen || b->nrecs == 0)
        return TP_EINVAL;
    size_t total = TP_KPL_MAGIC_LEN + b->pb_size + TP_KPL_DIGEST_LEN;
    if (total > b->out_cap) {
        uint8_t *no = realloc(b->out, total);
        if (!no)
            return TP_ENOMEM;
        b->out = no;
        b->out_cap = total;
    }
    uint8_t *p = b->out;
    memcpy(p, kpl_magic, TP_KPL_MAGIC_LEN);
    p += TP_KPL_MAGIC_LEN;
    uint8_t *pb = p;
    for (size_t i = 0; i < b->nkeys; i++) {
        *p++ = KEY_PKEY_TABLE;
        p += put_varint(p, b->key_lens[i]);
        memcpy(p, b->keys[i], b->key_lens[i]);
        p += b->key_lens[i];
    }
    for (size_t i = 0; i < b->nrecs; i++) {
        const struct kpl_rec *r = &b->recs[i];
        *p++ = KEY_RECORDS;
        p += put_varint(p, record_body_len(r->key_idx, r->len));
        *p++ = KEY_REC_PKEY_IDX;
        p += put_varint(p, r->key_idx);
        *p++ = KEY_REC_DATA;
        p += put_varint(p, r->len);
        if (r->len)
            memcpy(p, b->data + r->off, r->len);
        p += r->len;
    }
    if ((size_t)(p - pb) != b->pb_size)
        return TP_EINTERNAL; /* size bookkeeping and serialization disagree: a bug here */
    unsigned int mdlen = 0;
    if (!EVP_Digest(pb, b->pb_size, p, &mdlen, EVP_md5(), NULL) || mdlen != TP_KPL_DIGEST_LEN)
        return TP_EINTERNAL;
    *out = b->out;
    *outlen = total;
    return 0;
}

int tp_kpl_is_aggregated(const void *data, size_t len)
{
    return data && len >= TP_KPL_MAGIC_LEN && memcmp(data, kpl_magic, TP_KPL_MAGIC_LEN) == 0;
}

/* --- decoding --- */

struct span {
    const uint8_t *p;
    size_t len;
};

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return TP_ECORRUPT;
        uint8_t c = *(*p)++;
        if (shift == 63 && c > 1)
            return TP_ECORRUPT;
        r |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return TP_ECORRUPT;
}

/* Read one field: its number, wire type, and value (varint in *v, bytes in *s). */
static int get_field(const uint8_t **p, const uint8_t *end, uint64_t *field, int *wt, uint64_t *v, struct span *s)
{
    uint64_t key;
    if (get_varint(p, end, &key))
        return TP_ECORRUPT;
    *field = key >> 3;
    *wt = (int)(key & 7);
    if (*field == 0)
        return TP_ECORRUPT;
    switch (*wt) {
    case 0:
        return get_varint(p, end, v);
    case 1:
    case 5: {
        size_t n = *wt == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return TP_ECORRUPT;
        *p += n;
        return 0;
    }
    case 2: {
        uint64_t n;
        if (get_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return TP_ECORRUPT;
        s->p = *p;
        s->len = (size_t)n;
        *p += n;
        return 0;
    }
    default:
        return TP_ECORRUPT;
    }
}

/* Parse one Record message; checks required fields and index ranges. */
static int parse_record(struct span rec, size_t nkeys, size_t nehks, uint64_t *key_idx, struct span *data)
{
    const uint8_t *p = rec.p, *end = rec.p + rec.len;
    int have_key = 0, have_data = 0;
    while (p < end) {
        uint64_t f, v = 0;
        int wt;
        struct span s = {0};
        if (get_field(&p, end, &f, &wt, &v, &s))
            return TP_ECORRUPT;
        if (f == 1) {
            if (wt != 0 || v >= nkeys)
                return TP_ECORRUPT;
            *key_idx = v;
            have_key = 1;
        } else if (f == 2) {
            if (wt != 0 || v >= nehks)
                return TP_ECORRUPT;
        } else if (f == 3) {
            if (wt != 2)
                return TP_ECORRUPT;
            *data = s;
            have_data = 1;
        } else if (f == 4 && wt != 2) {
            return TP_ECORRUPT;
        }
    }
    return have_key && have_data ? 0 : TP_ECORRUPT;
}

int tp_kpl_deaggregate(const void *data, size_t len, const char *outer_pkey, tp_kpl_record_cb cb, void *ctx)
{
    if ((!data && len) || !cb)
        return TP_EINVAL;
    if (!tp_kpl_is_aggregated(data, len)) {
        const char *pk = outer_pkey ? outer_pkey : "";
        return cb(ctx, 0, pk, strlen(pk), data, len);
    }
    if (len < TP_KPL_MAGIC_LEN + TP_KPL_DIGEST_LEN)
        return TP_ECORRUPT;
    const uint8_t *pb = (const uint8_t *)data + TP_KPL_MAGIC_LEN;
    size_t pblen = len - TP_KPL_MAGIC_LEN - TP_KPL_DIGEST_LEN;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(pb, pblen, md, &mdlen, EVP_md5(), NULL) || mdlen != TP_KPL_DIGEST_LEN)
        return TP_EINTERNAL;
    if (memcmp(md, pb + pblen, TP_KPL_DIGEST_LEN) != 0)
        return TP_ECORRUPT;

    int rc = 0;
    struct span *keys = NULL;
    size_t nkeys = 0, nehks = 0, nrecs = 0;
    const uint8_t *end = pb + pblen;

    /* Pass 1: count the tables and records and check the framing. */
    for (const uint8_t *p = pb; p < end;) {
        uint64_t f, v;
        int wt;
        struct span s;
        if (get_field(&p, end, &f, &wt, &v, &s)) {
            rc = TP_ECORRUPT;
            goto out;
        }
        if ((f == 1 || f == 2 || f == 3) && wt != 2) {
            rc = TP_ECORRUPT;
            goto out;
        }
        nkeys += f == 1;
        nehks += f == 2;
        nrecs += f == 3;
    }
    keys = calloc(nkeys ? nkeys : 1, sizeof *keys);
    if (!keys) {
        rc = TP_ENOMEM;
        goto out;
    }
    /* Pass 2: collect the key table and validate every record before delivering any. */
    size_t ki = 0;
    for (const uint8_t *p = pb; p < end;) {
        uint64_t f, v, idx;
        int wt;
        struct span s, d;
        (void)get_field(&p, end, &f, &wt, &v, &s); /* framing checked in pass 1 */
        if (f == 1)
            keys[ki++] = s;
        else if (f == 3 && parse_record(s, nkeys, nehks, &idx, &d)) {
            rc = TP_ECORRUPT;
            goto out;
        }
    }
    /* Pass 3: deliver. */
    size_t ri = 0;
    for (const uint8_t *p = pb; p < end && rc == 0;) {
        uint64_t f, v, idx = 0;
        int wt;
        struct span s, d = {0};
        (void)get_field(&p, end, &f, &wt, &v, &s);
        if (f != 3)
            continue;
        (void)parse_record(s, nkeys, nehks, &idx, &d);
        rc = cb(ctx, ri++, (const char *)keys[idx].p, keys[idx].len, d.p, d.len);
    }
out:
    free(keys);
    return rc;
}

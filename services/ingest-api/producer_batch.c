/* producer_batch.c — shard maps, the batch pool and batch forming with KPL aggregation.
 *
 * With aggregation on, a record's shard is found the way Kinesis finds it (MD5 of the
 * partition key as a 128-bit number, in the shard's hash-key range). Records for one shard
 * are packed into one KPL aggregate whose outer partition key is its first record's key and
 * whose ExplicitHashKey is the shard's starting hash key, so the aggregate lands on the shard
 * that owns every key inside it and per-key order is what it would have been unaggregated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer_internal.h"
#include "tp/backoff.h"
#include "tp/log.h"

/* --- shard maps --- */

struct shardmap *p_map_get(tp_producer *p, int stream)
{
    pthread_mutex_lock(&p->maps_mu);
    struct shardmap *m = p->maps[stream];
    if (m)
        atomic_fetch_add(&m->refs, 1);
    pthread_mutex_unlock(&p->maps_mu);
    return m;
}

void p_map_put(struct shardmap *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

int p_maps_ready(tp_producer *p)
{
    if (!p->aggregate)
        return 1;
    int ok = 1;
    pthread_mutex_lock(&p->maps_mu);
    for (int s = 0; s < TP_STREAM__COUNT; s++)
        ok = ok && p->maps[s] != NULL;
    pthread_mutex_unlock(&p->maps_mu);
    return ok;
}

static int parse_u128(const char *s, p_u128 *out)
{
    p_u128 v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        p_u128 nv = v * 10 + (unsigned)(*s - '0');
        if (nv / 10 != v)
            return -1; /* overflow */
        v = nv;
    }
    *out = v;
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const struct shard_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int p_map_refresh(tp_producer *p, tp_kinesis *k, int stream)
{
    tp_shard_list l = {0};
    char err[512];
    struct shardmap *m = NULL;
    const char *name = p->stream_names[stream];
    int rc = tp_kinesis_list_shards(k, name, &l, err, sizeof err);
    if (rc != 0) {
        /* Retried every few seconds while Kinesis is away: say so once, then every 20th time. */
        if (p->map_failures[stream]++ % 20 == 0) {
            char nb[24];
            snprintf(nb, sizeof nb, "%u", p->map_failures[stream]);
            tp_log_warn("producer: ListShards failed", "stream", name, "failures", nb, "error", err);
        }
        goto out;
    }
    if (p->map_failures[stream] != 0) {
        tp_log_info("producer: ListShards answers again", "stream", name);
        p->map_failures[stream] = 0;
    }
    size_t open = 0;
    for (size_t i = 0; i < l.n; i++)
        open += l.shards[i].ending_sequence[0] == '\0';
    if (open == 0) {
        rc = TP_ENOTFOUND;
        tp_log_warn("producer: stream has no open shard", "stream", name);
        goto out;
    }
    m = calloc(1, sizeof *m + open * sizeof m->r[0]);
    if (!m) {
        rc = TP_ENOMEM;
        goto out;
    }
    atomic_init(&m->refs, 1);
    for (size_t i = 0; i < l.n; i++) {
        const tp_shard *sh = &l.shards[i];
        if (sh->ending_sequence[0] != '\0')
            continue;
        struct shard_range *r = &m->r[m->n];
        if (parse_u128(sh->starting_hash_key, &r->start) != 0 || parse_u128(sh->ending_hash_key, &r->end) != 0) {
            rc = TP_EPROTO;
            tp_log_warn("producer: shard with unreadable hash-key range", "stream", name, "shard", sh->shard_id);
            goto out;
        }
        snprintf(r->id, sizeof r->id, "%s", sh->shard_id);
        snprintf(r->start_dec, sizeof r->start_dec, "%s", sh->starting_hash_key);
        m->n++;
    }
    qsort(m->r, m->n, sizeof m->r[0], cmp_range);
    pthread_mutex_lock(&p->maps_mu);
    struct shardmap *old = p->maps[stream];
    p->maps[stream] = m;
    pthread_mutex_unlock(&p->maps_mu);
    m = NULL;
    p_map_put(old);
    char nbuf[24];
    snprintf(nbuf, sizeof nbuf, "%zu", open);
    tp_log_debug("producer: shard map refreshed", "stream", name, "open_shards", nbuf);
out:
    free(m);
    tp_shard_list_free(&l);
    return rc;
}

/* The shard owning pkey (by Kinesis's MD5 hash). A key outside every range means the map is
 * stale: ask for a refresh and use the nearest shard meanwhile. */
static size_t shard_of(struct former *f, const struct prec *r)
{
    const struct shardmap *m = f->map;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    p_u128 h = 0;
    if (EVP_DigestInit_ex(f->md, f->p->md5, NULL) && EVP_DigestUpdate(f->md, r->pkey, r->pkey_len) &&
        EVP_DigestFinal_ex(f->md, md, &mdlen) && mdlen == 16) {
        for (int i = 0; i < 16; i++)
            h = h << 8 | md[i];
    }
    size_t lo = 0, hi = m->n; /* find the last range starting at or below h */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].start <= h)
            lo = mid;
        else
            hi = mid;
    }
    if (h < m->r[lo].start || h > m->r[lo].end)
        atomic_store(&f->p->refresh_wanted, 1);
    return lo;
}

/* --- batches --- */

struct pbatch *p_batch_get(tp_producer *p, int stream)
{
    pthread_mutex_lock(&p->mu);
    struct pbatch *b = p->free_batches;
    if (b) {
        p->free_batches = b->next;
        p->nfree--;
    }
    pthread_mutex_unlock(&p->mu);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return NULL;
    }
    b->next = NULL;
    b->stream = stream;
    b->from_spool = 0;
    b->group = NULL;
    b->map = NULL;
    b->n = 0;
    b->nrecs = 0;
    b->arena_len = 0;
    b->bytes = 0;
    b->deadline_ms = 0;
    return b;
}

void p_batch_free(struct pbatch *b)
{
    if (!b)
        return;
    p_map_put(b->map);
    free(b->recs);
    free(b->arena);
    free(b);
}

void p_batch_release(tp_producer *p, struct pbatch *b)
{
    if (!b)
        return;
    p_map_put(b->map);
    b->map = NULL;
    pthread_mutex_lock(&p->mu);
    /* Keep a few for reuse (their arenas are the big allocations); free the rest. */
    int keep = p->nfree < (size_t)p->nsenders * 2 + 6;
    if (keep) {
        b->next = p->free_batches;
        p->free_batches = b;
        p->nfree++;
    }
    pthread_mutex_unlock(&p->mu);
    if (!keep)
        p_batch_free(b);
}

static int arena_put(struct pbatch *b, const void *data, size_t len, size_t *off)
{
    if (b->arena_len + len > b->arena_cap) {
        size_t nc = b->arena_cap ? b->arena_cap : 64 * 1024;
        while (nc < b->arena_len + len)
            nc *= 2;
        uint8_t *na = realloc(b->arena, nc);
        if (!na)
            return TP_ENOMEM;
        b->arena = na;
        b->arena_cap = nc;
    }
    memcpy(b->arena + b->arena_len, data, len);
    *off = b->arena_len;
    b->arena_len += len;
    return 0;
}

static int recs_reserve(struct prec ***arr, size_t *cap, size_t want)
{
    if (want <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    while (nc < want)
        nc *= 2;
    struct prec **na = realloc(*arr, nc * sizeof *na);
    if (!na)
        return TP_ENOMEM;
    *arr = na;
    *cap = nc;
    return 0;
}

/* --- forming --- */

int p_former_init(struct former *f, tp_producer *p, int stream, void (*emit)(void *, struct pbatch *), void *ctx)
{
    memset(f, 0, sizeof *f);
    f->p = p;
    f->stream = stream;
    f->emit = emit;
    f->emit_ctx = ctx;
    if (p->aggregate) {
        f->md = EVP_MD_CTX_new();
        if (!f->md)
            return TP_ENOMEM;
    }
    return 0;
}

void p_former_free(struct former *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->naggs; i++) {
        tp_kpl_builder_free(f->aggs[i].b);
        free(f->aggs[i].recs);
    }
    free(f->aggs);
    if (f->cur)
        p_batch_free(f->cur);
    p_map_put(f->map);
    EVP_MD_CTX_free(f->md);
    memset(f, 0, sizeof *f);
}

static void emit_cur(struct former *f)
{
    if (f->cur && f->cur->n > 0) {
        f->emit(f->emit_ctx, f->cur);
        f->cur = NULL;
    }
}

/* Make room in the open batch for one Kinesis record of need bytes. */
static int batch_room(struct former *f, size_t need)
{
    if (f->cur && (f->cur->n == P_MAX_ENTRIES || (f->cur->n > 0 && f->cur->bytes + need > f->p->batch_max_bytes)))
        emit_cur(f);
    if (!f->cur) {
        f->cur = p_batch_get(f->p, f->stream);
        if (!f->cur)
            return TP_ENOMEM;
        if (f->map) {
            atomic_fetch_add(&f->map->refs, 1);
            f->cur->map = f->map;
        }
    }
    return 0;
}

/* Append one Kinesis record holding recs[0..n) to the open batch. */
static int add_entry(struct former *f, const void *data, size_t len, const char *pkey, int shard, struct prec **recs,
                     size_t n)
{
    size_t klen = strlen(pkey);
    int rc = batch_room(f, len + klen);
    if (rc != 0)
        return rc;
    struct pbatch *b = f->cur;
    struct pentry *e = &b->ents[b->n];
    size_t mark = b->arena_len;
    if (recs_reserve(&b->recs, &b->caprecs, b->nrecs + n) != 0 || arena_put(b, data, len, &e->data_off) != 0 ||
        arena_put(b, pkey, klen + 1, &e->pkey_off) != 0) {
        b->arena_len = mark;
        return TP_ENOMEM;
    }
    e->len = len;
    e->shard = shard;
    e->rec_first = b->nrecs;
    e->nrecs = n;
    e->done = 0;
    memcpy(b->recs + b->nrecs, recs, n * sizeof *recs);
    b->nrecs += n;
    b->bytes += len + klen;
    b->n++;
    return 0;
}

static int close_agg(struct former *f, size_t shard)
{
    struct agg *a = &f->aggs[shard];
    const uint8_t *out;
    size_t outlen;
    if (a->n == 0)
        return 0;
    int rc = tp_kpl_builder_finish(a->b, &out, &outlen);
    if (rc == 0)
        rc = add_entry(f, out, outlen, a->recs[0]->pkey, (int)shard, a->recs, a->n);
    if (rc != 0)
        return rc; /* the aggregate stays as it is; a later flush tries again */
    tp_kpl_builder_reset(a->b);
    a->n = 0;
    return 0;
}

int p_former_flush(struct former *f)
{
    int rc = 0;
    for (size_t i = 0; i < f->naggs; i++) {
        int r = close_agg(f, i);
        if (r != 0)
            rc = r;
    }
    emit_cur(f);
    if (rc == 0)
        f->open_recs = 0;
    return rc;
}

int p_former_sync_map(struct former *f)
{
    if (!f->p->aggregate)
        return 0;
    struct shardmap *m = p_map_get(f->p, f->stream);
    if (m == f->map) {
        p_map_put(m);
        return 0;
    }
    int rc = p_former_flush(f); /* what was formed under the old map goes out under it */
    if (rc != 0) {
        p_map_put(m);
        return rc;
    }
    emit_cur(f);
    if (f->cur) { /* an empty batch still holding the old map */
        p_batch_release(f->p, f->cur);
        f->cur = NULL;
    }
    size_t need = m ? m->n : 0;
    if (need > f->naggs) {
        struct agg *na = realloc(f->aggs, need * sizeof *na);
        if (!na) {
            p_map_put(m);
            return TP_ENOMEM;
        }
        memset(na + f->naggs, 0, (need - f->naggs) * sizeof *na);
        f->aggs = na;
        f->naggs = need;
    }
    p_map_put(f->map);
    f->map = m;
    return 0;
}

int p_former_add(struct former *f, struct prec *r)
{
    int rc;
    if (f->open_recs == 0)
        f->born_ms = tp_now_mono_ms();
    if (!f->p->aggregate || !f->map) {
        /* Unaggregated (or no shard map yet: a plain record is always correct). */
        rc = add_entry(f, r->data, r->len, r->pkey, -1, &r, 1);
        if (rc == 0)
            f->open_recs++;
        return rc;
    }
    size_t shard = shard_of(f, r);
    struct agg *a = &f->aggs[shard];
    if (!a->b && (rc = tp_kpl_builder_new(&a->b)) != 0)
        return rc;
    if (a->n > 0 &&
        tp_kpl_builder_size_with(a->b, r->pkey, r->len) + a->recs[0]->pkey_len > f->p->agg_max_bytes) {
        rc = close_agg(f, shard);
        if (rc != 0)
            return rc;
    }
    if ((rc = recs_reserve(&a->recs, &a->cap, a->n + 1)) != 0)
        return rc;
    if ((rc = tp_kpl_builder_add(a->b, r->pkey, r->data, r->len)) != 0)
        return rc;
    a->recs[a->n++] = r;
    f->open_recs++;
    return 0;
}

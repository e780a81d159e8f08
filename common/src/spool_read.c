/* spool_read.c — the reader side: peek from the head, acknowledge a prefix (see spool.h).
 *
 * Peek copies frames into the batch's buffer (so the reader never races writers or segment
 * deletion) and keeps, per entry, the position after it; ack turns the position after entry
 * k-1 into the new durable cursor. Only the reader moves the head or deletes segments, and
 * only segments wholly before the head, which writers never touch. */
#include "spool_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp/log.h"

void tp_spool_batch_free(tp_spool_batch *b)
{
    if (!b)
        return;
    if (b->priv) {
        free(b->priv->buf);
        free(b->priv->ends);
        free(b->priv->cum_bytes);
        free(b->priv->key_off);
        free(b->priv->data_off);
        free(b->priv);
    }
    free(b->entries);
    b->entries = NULL;
    b->priv = NULL;
    b->n = 0;
    b->bytes = 0;
}

static int reserve_entries(tp_spool_batch *b, size_t want)
{
    struct tp_spool_batch_priv *p = b->priv;
    if (want <= p->ecap)
        return 0;
    size_t nc = p->ecap ? p->ecap : 64;
    while (nc < want)
        nc *= 2;
    tp_spool_entry *e = realloc(b->entries, nc * sizeof *e);
    if (e)
        b->entries = e;
    struct spool_pos *en = realloc(p->ends, nc * sizeof *en);
    if (en)
        p->ends = en;
    uint64_t *cb = realloc(p->cum_bytes, nc * sizeof *cb);
    if (cb)
        p->cum_bytes = cb;
    size_t *ko = realloc(p->key_off, nc * sizeof *ko);
    if (ko)
        p->key_off = ko;
    size_t *dof = realloc(p->data_off, nc * sizeof *dof);
    if (dof)
        p->data_off = dof;
    if (!e || !en || !cb || !ko || !dof)
        return TP_ENOMEM; /* arrays that did grow are kept; ecap stays, so this is safe */
    p->ecap = nc;
    return 0;
}

static int reserve_buf(struct tp_spool_batch_priv *p, size_t want)
{
    if (want <= p->cap)
        return 0;
    size_t nc = p->cap ? p->cap : 64 * 1024;
    while (nc < want)
        nc *= 2;
    uint8_t *nb = realloc(p->buf, nc);
    if (!nb)
        return TP_ENOMEM;
    p->buf = nb;
    p->cap = nc;
    return 0;
}

/* Where reading segment id may stop, and the segment after it (0 if none). */
static void readable_extent(tp_spool *s, uint64_t id, uint64_t *end, uint64_t *next)
{
    pthread_mutex_lock(&s->mu);
    long i = spool_seg_index(s, id);
    *next = 0;
    if (i < 0) {
        *end = 0;
    } else if (id == s->synced.seg) {
        *end = s->synced.off;
    } else if (id < s->synced.seg) {
        *end = s->segs[i].size; /* sealed and synced at roll */
        if ((size_t)i + 1 < s->nsegs)
            *next = s->segs[i + 1].id;
    } else {
        *end = 0; /* created by a roll, not yet holding durable frames */
    }
    pthread_mutex_unlock(&s->mu);
}

static int reader_fd(tp_spool *s, uint64_t id, char *err, size_t errlen)
{
    if (s->rfd >= 0 && s->rfd_seg == id)
        return s->rfd;
    if (s->rfd >= 0)
        close(s->rfd);
    char name[32];
    spool_seg_name(id, name);
    s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (s->rfd < 0)
        return tp_errf(err, errlen, TP_EIO, "spool: cannot open %s: %s", name, strerror(errno));
    s->rfd_seg = id;
    return s->rfd;
}

int tp_spool_peek(tp_spool *s, size_t max_entries, size_t max_bytes, tp_spool_batch *b, char *err, size_t errlen)
{
    int rc = 0;
    size_t used = 0; /* bytes of b's buffer holding whole frames */
    b->n = 0;
    b->bytes = 0;
    if (!b->priv) {
        b->priv = calloc(1, sizeof *b->priv);
        if (!b->priv)
            return tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
    }
    struct tp_spool_batch_priv *p = b->priv;
    pthread_mutex_lock(&s->mu);
    struct spool_pos at = s->head;
    pthread_mutex_unlock(&s->mu);
    p->start = at;

    while (b->n < max_entries) {
        uint64_t end, next;
        readable_extent(s, at.seg, &end, &next);
        if (at.off >= end) {
            if (next == 0)
                break;
            at.seg = next;
            at.off = 0;
            continue;
        }
        size_t budget = b->bytes < max_bytes ? (size_t)(max_bytes - b->bytes) : 0;
        if (budget == 0 && b->n > 0)
            break;
        uint64_t avail = end - at.off;
        size_t want = avail < budget ? (size_t)avail : budget;
        if (want < SPOOL_FRAME_HDR)
            want = avail < SPOOL_FRAME_HDR ? (size_t)avail : SPOOL_FRAME_HDR;
        int fd = reader_fd(s, at.seg, err, errlen);
        if (fd < 0) {
            rc = fd;
            goto out;
        }
        if (reserve_buf(p, used + want) != 0) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
            goto out;
        }
        ssize_t r = pread(fd, p->buf + used, want, (off_t)at.off);
        if (r < 0 || (size_t)r < want) {
            rc = tp_errf(err, errlen, TP_EIO, "spool: short read at %" PRIu64 ": %s", at.off,
                         r < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        size_t i = 0, parsed = 0;
        while (want - i >= SPOOL_FRAME_HDR && b->n < max_entries) {
            const uint8_t *f = p->buf + used + i;
            uint32_t plen = spool_get32(f);
            size_t flen = SPOOL_FRAME_HDR + (size_t)plen, kl;
            if (plen > SPOOL_MAX_PAYLOAD || flen > avail - i) {
                rc = tp_errf(err, errlen, TP_ECORRUPT, "spool: bad frame length at %" PRIu64, at.off + i);
                goto out;
            }
            if (want - i < flen) {
                if (b->n > 0)
                    break; /* budget reached */
                /* The first frame is bigger than the budget: return it alone. */
                if (reserve_buf(p, used + i + flen) != 0) {
                    rc = tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
                    goto out;
                }
                r = pread(fd, p->buf + used + i, flen, (off_t)(at.off + i));
                if (r < 0 || (size_t)r < flen) {
                    rc = tp_errf(err, errlen, TP_EIO, "spool: short read at %" PRIu64, at.off + i);
                    goto out;
                }
                want = i + flen;
                f = p->buf + used + i;
            }
            const uint8_t *payload = f + SPOOL_FRAME_HDR;
            if (spool_frame_crc(f, payload, plen) != spool_get32(f + 4) || spool_payload_ok(payload, plen, &kl) != 0) {
                rc = tp_errf(err, errlen, TP_ECORRUPT, "spool: frame at %" PRIu64 " fails its CRC", at.off + i);
                goto out;
            }
            if (reserve_entries(b, b->n + 1) != 0) {
                rc = tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
                goto out;
            }
            size_t k = b->n++;
            b->entries[k].tag = (uint16_t)(payload[0] | payload[1] << 8);
            b->entries[k].key_len = kl;
            b->entries[k].len = plen - SPOOL_PAYLOAD_HDR - kl;
            p->key_off[k] = used + i + SPOOL_FRAME_HDR + SPOOL_PAYLOAD_HDR;
            p->data_off[k] = p->key_off[k] + kl;
            i += flen;
            b->bytes += flen;
            p->ends[k].seg = at.seg;
            p->ends[k].off = at.off + i;
            p->cum_bytes[k] = b->bytes;
            parsed++;
            if (b->bytes >= max_bytes)
                break;
        }
        used += i;
        at.off += i;
        if (parsed == 0 || b->bytes >= max_bytes)
            break;
    }
    /* The buffer may have moved while growing: point entries at it only now. */
    for (size_t k = 0; k < b->n; k++) {
        b->entries[k].key = (const char *)p->buf + p->key_off[k];
        b->entries[k].data = p->buf + p->data_off[k];
    }
out:
    if (rc != 0) {
        b->n = 0;
        b->bytes = 0;
    }
    return rc;
}

int tp_spool_ack(tp_spool *s, const tp_spool_batch *b, size_t k, char *err, size_t errlen)
{
    int rc = 0;
    if (k == 0)
        return 0;
    if (!b->priv || k > b->n)
        return tp_errf(err, errlen, TP_EINVAL, "spool: ack of %zu entries beyond the peek", k);
    pthread_mutex_lock(&s->mu);
    int stale = s->head.seg != b->priv->start.seg || s->head.off != b->priv->start.off;
    struct spool_pos np = b->priv->ends[k - 1];
    /* Step over sealed segments that are now fully read, so they can go. */
    for (;;) {
        long i = spool_seg_index(s, np.seg);
        if (i < 0 || (size_t)i + 1 >= s->nsegs || np.off < s->segs[i].size)
            break;
        np.seg = s->segs[i + 1].id;
        np.off = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (stale)
        return tp_errf(err, errlen, TP_EINVAL, "spool: ack of a stale peek");

    rc = spool_write_cursor(s, np, err, errlen);
    if (rc != 0)
        return rc;

    size_t drop = 0;
    pthread_mutex_lock(&s->mu);
    s->head = np;
    s->depth_entries -= k;
    s->depth_bytes -= b->priv->cum_bytes[k - 1];
    while (drop < s->nsegs - 1 && s->segs[drop].id < np.seg)
        drop++;
    uint64_t dropped[64];
    size_t nd = drop < 64 ? drop : 64; /* the rest goes at the next ack or open */
    for (size_t i = 0; i < nd; i++)
        dropped[i] = s->segs[i].id;
    memmove(s->segs, s->segs + nd, (s->nsegs - nd) * sizeof *s->segs);
    s->nsegs -= nd;
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < nd; i++) {
        char name[32];
        spool_seg_name(dropped[i], name);
        if (s->rfd >= 0 && s->rfd_seg == dropped[i]) {
            close(s->rfd);
            s->rfd = -1;
        }
        if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
            tp_log_warn("spool: cannot delete acknowledged segment", "dir", s->dir, "segment", name, "error",
                        strerror(errno));
    }
    return 0;
}

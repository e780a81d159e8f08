/* spool.c — open/close, group-committed appends and stats (see spool.h). Recovery is in
 * spool_recover.c, the reader side (peek, ack, cursor) in spool_read.c. */
#include "spool_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp/log.h"

/* CRC-32C (Castagnoli), table-driven. Computed here rather than taken from zlib so the spool
 * module needs nothing beyond libc and pthreads. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}

uint32_t spool_frame_crc(const uint8_t *lenbytes, const uint8_t *payload, size_t len)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = crc_update(0xFFFFFFFFu, lenbytes, 4);
    c = crc_update(c, payload, len);
    return c ^ 0xFFFFFFFFu;
}

int spool_payload_ok(const uint8_t *payload, size_t len, size_t *key_len)
{
    if (len < SPOOL_PAYLOAD_HDR || len > SPOOL_MAX_PAYLOAD)
        return -1;
    size_t kl = (size_t)payload[2] | (size_t)payload[3] << 8;
    if (kl > TP_SPOOL_MAX_KEY || kl > len - SPOOL_PAYLOAD_HDR)
        return -1;
    *key_len = kl;
    return 0;
}

void spool_seg_name(uint64_t id, char out[32]) { snprintf(out, 32, "%016" PRIx64 ".seg", id); }

long spool_seg_index(const tp_spool *s, uint64_t id)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].id == id)
            return (long)i;
    return -1;
}

int spool_segs_push(tp_spool *s, uint64_t id, uint64_t size)
{
    if (s->nsegs == s->capsegs) {
        size_t nc = s->capsegs ? s->capsegs * 2 : 8;
        struct spool_seg *ns = realloc(s->segs, nc * sizeof *ns);
        if (!ns)
            return TP_ENOMEM;
        s->segs = ns;
        s->capsegs = nc;
    }
    s->segs[s->nsegs].id = id;
    s->segs[s->nsegs].size = size;
    s->nsegs++;
    return 0;
}

/* mkdir -p: the spool directory usually lives under a run directory that may not exist yet. */
static int make_dirs(const char *path)
{
    char tmp[4096];
    size_t l = strlen(path);
    if (l == 0 || l >= sizeof tmp)
        return -1;
    memcpy(tmp, path, l + 1);
    for (size_t i = 1; i <= l; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            tmp[i] = c;
        }
    }
    return 0;
}

static void resolve_options(const tp_spool_options *opts, uint64_t *max_bytes, uint64_t *segment_bytes)
{
    *max_bytes = (opts && opts->max_bytes) ? opts->max_bytes : (1ull << 30);
    if (opts && opts->segment_bytes) {
        *segment_bytes = opts->segment_bytes;
        return;
    }
    uint64_t sb = *max_bytes / 8;
    if (sb < (64u << 10))
        sb = 64u << 10;
    if (sb > (64u << 20))
        sb = 64u << 20;
    *segment_bytes = sb;
}

int tp_spool_open(const char *dir, const tp_spool_options *opts, tp_spool **out, tp_spool_recovery *rec, char *err,
                  size_t errlen)
{
    int rc = 0;
    tp_spool *s = NULL;
    tp_spool_recovery local;
    if (!rec)
        rec = &local;
    memset(rec, 0, sizeof *rec);
    *out = NULL;
    if (!dir || !*dir)
        return tp_errf(err, errlen, TP_EINVAL, "spool: empty directory name");

    s = calloc(1, sizeof *s);
    if (!s)
        return tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
    s->dirfd = s->lockfd = s->wfd = s->rfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    resolve_options(opts, &s->max_bytes, &s->segment_bytes);
    s->dir = strdup(dir);
    if (!s->dir) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
        goto out;
    }
    if (make_dirs(dir) != 0) {
        rc = tp_errf(err, errlen, TP_EIO, "spool: cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        rc = tp_errf(err, errlen, TP_EIO, "spool: cannot open %s: %s", dir, strerror(errno));
        goto out;
    }
    s->lockfd = openat(s->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        rc = tp_errf(err, errlen, TP_EIO, "spool: cannot open %s/LOCK: %s", dir, strerror(errno));
        goto out;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        rc = tp_errf(err, errlen, errno == EWOULDBLOCK ? TP_ECONFLICT : TP_EIO,
                     "spool: %s is in use by another process", dir);
        goto out;
    }
    rc = spool_recover(s, rec, err, errlen);
    if (rc != 0)
        goto out;

    char name[32];
    spool_seg_name(s->segs[s->nsegs - 1].id, name);
    s->wfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (s->wfd < 0) {
        rc = tp_errf(err, errlen, TP_EIO, "spool: cannot open %s/%s: %s", dir, name, strerror(errno));
        goto out;
    }
    s->synced.seg = s->segs[s->nsegs - 1].id;
    s->synced.off = s->segs[s->nsegs - 1].size;
    *out = s;
    s = NULL;
out:
    tp_spool_free(s);
    return rc;
}

void tp_spool_free(tp_spool *s)
{
    if (!s)
        return;
    if (s->wfd >= 0)
        close(s->wfd);
    if (s->rfd >= 0)
        close(s->rfd);
    if (s->lockfd >= 0)
        close(s->lockfd); /* releases the flock */
    if (s->dirfd >= 0)
        close(s->dirfd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->segs);
    free(s->dir);
    free(s);
}

/* Encode entries as frames into one buffer, outside the lock. */
static int encode(const tp_spool_entry *entries, size_t n, uint8_t **bufp, size_t *lenp, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const tp_spool_entry *e = &entries[i];
        if (e->key_len > TP_SPOOL_MAX_KEY || e->len > TP_SPOOL_MAX_DATA || (e->key_len && !e->key) ||
            (e->len && !e->data))
            return tp_errf(err, errlen, TP_EINVAL, "spool: entry %zu too large or missing its bytes", i);
        total += TP_SPOOL_ENTRY_OVERHEAD + e->key_len + e->len;
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        const tp_spool_entry *e = &entries[i];
        size_t plen = SPOOL_PAYLOAD_HDR + e->key_len + e->len;
        uint8_t *payload = p + SPOOL_FRAME_HDR;
        spool_put32(p, (uint32_t)plen);
        payload[0] = (uint8_t)e->tag;
        payload[1] = (uint8_t)(e->tag >> 8);
        payload[2] = (uint8_t)e->key_len;
        payload[3] = (uint8_t)(e->key_len >> 8);
        if (e->key_len)
            memcpy(payload + SPOOL_PAYLOAD_HDR, e->key, e->key_len);
        if (e->len)
            memcpy(payload + SPOOL_PAYLOAD_HDR + e->key_len, e->data, e->len);
        spool_put32(p + 4, spool_frame_crc(p, payload, plen));
        p += SPOOL_FRAME_HDR + plen;
    }
    *bufp = buf;
    *lenp = total;
    return 0;
}

/* Seal the write segment and start the next one. Caller holds mu and no sync is running. */
static int roll(tp_spool *s, char *err, size_t errlen)
{
    struct spool_seg *cur = &s->segs[s->nsegs - 1];
    if (fdatasync(s->wfd) != 0) {
        s->failed = 1;
        return tp_errf(err, errlen, TP_EIO, "spool: fdatasync before roll: %s", strerror(errno));
    }
    s->syncs++;
    uint64_t id = cur->id + 1;
    char name[32];
    spool_seg_name(id, name);
    int fd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return tp_errf(err, errlen, TP_EIO, "spool: cannot create %s: %s", name, strerror(errno));
    /* The new file's directory entry must be durable before frames in it are acknowledged. */
    if (fsync(s->dirfd) != 0 || spool_segs_push(s, id, 0) != 0) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return tp_errf(err, errlen, TP_EIO, "spool: cannot add segment %s", name);
    }
    close(s->wfd);
    s->wfd = fd;
    /* Everything written so far was just synced; the reader may read the sealed segment whole. */
    s->synced_seq = s->written_seq;
    s->synced.seg = id;
    s->synced.off = 0;
    pthread_cond_broadcast(&s->cv);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int tp_spool_append(tp_spool *s, const tp_spool_entry *entries, size_t n, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 0, locked = 0;
    if (n == 0)
        return 0;
    rc = encode(entries, n, &buf, &len, err, errlen);
    if (rc != 0)
        goto out;

    pthread_mutex_lock(&s->mu);
    locked = 1;
    for (;;) {
        if (s->failed) {
            rc = tp_errf(err, errlen, TP_EIO, "spool: disabled after an earlier I/O error");
            goto out;
        }
        if (s->depth_bytes + len > s->max_bytes) {
            rc = tp_errf(err, errlen, TP_EFULL, "spool: full (%" PRIu64 " of %" PRIu64 " bytes used, %zu more)",
                         s->depth_bytes, s->max_bytes, len);
            goto out;
        }
        struct spool_seg *cur = &s->segs[s->nsegs - 1];
        if (cur->size == 0 || cur->size + len <= s->segment_bytes)
            break;
        if (s->syncing) { /* the syncer holds the current fd: let it finish first */
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        rc = roll(s, err, errlen);
        if (rc != 0)
            goto out;
    }

    struct spool_seg *cur = &s->segs[s->nsegs - 1];
    if (write_all(s->wfd, buf, len) != 0) {
        int e = errno;
        /* Cut the partial frames off so later appends do not land behind garbage. */
        if (ftruncate(s->wfd, (off_t)cur->size) != 0)
            s->failed = 1;
        rc = tp_errf(err, errlen, TP_EIO, "spool: write: %s", strerror(e));
        goto out;
    }
    cur->size += len;
    s->depth_entries += n;
    s->depth_bytes += len;
    uint64_t my_seq = ++s->written_seq;

    /* Group commit: whoever finds no sync running syncs for everybody written so far. */
    while (s->synced_seq < my_seq && !s->failed) {
        if (s->syncing) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        s->syncing = 1;
        uint64_t target = s->written_seq;
        struct spool_pos tpos = {s->segs[s->nsegs - 1].id, s->segs[s->nsegs - 1].size};
        int fd = s->wfd;
        pthread_mutex_unlock(&s->mu);
        int src = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&s->mu);
        s->syncing = 0;
        s->syncs++;
        if (src != 0) {
            /* After a failed fsync the kernel may have dropped the dirty pages: nothing written
             * since the last good sync can be trusted, and retrying would lie. */
            s->failed = 1;
            tp_log_error("spool: fdatasync failed, spool disabled", "dir", s->dir, "error", strerror(e));
        } else {
            s->synced_seq = target;
            s->synced = tpos;
        }
        pthread_cond_broadcast(&s->cv);
    }
    if (s->synced_seq < my_seq) {
        rc = tp_errf(err, errlen, TP_EIO, "spool: fdatasync failed");
        goto out;
    }
    s->appends++;
out:
    if (locked)
        pthread_mutex_unlock(&s->mu);
    free(buf);
    return rc;
}

void tp_spool_get_stats(tp_spool *s, tp_spool_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    st->entries = s->depth_entries;
    st->bytes = s->depth_bytes;
    st->max_bytes = s->max_bytes;
    st->segments = s->nsegs;
    st->appends = s->appends;
    st->syncs = s->syncs;
    st->failed = s->failed;
    pthread_mutex_unlock(&s->mu);
}

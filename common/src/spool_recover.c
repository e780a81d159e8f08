/* spool_recover.c — bring a spool directory back to a consistent state at open (see spool.h).
 *
 * The rule: whatever is in doubt is replayed, never skipped. A torn tail is the normal result
 * of a crash in the middle of an append (that append was never acknowledged to anyone), so it
 * is cut off. A damaged cursor means "start from the oldest segment": consumers dedupe by
 * event id, but nobody can bring back a skipped event. */
#include "spool_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp/log.h"

#define CURSOR_MAGIC "TPSPCUR1"
#define CURSOR_LEN 28

/* 0 and *pos on a valid cursor file; 1 when there is none; -1 when it is damaged. */
static int read_cursor(tp_spool *s, struct spool_pos *pos)
{
    uint8_t b[64];
    int fd = openat(s->dirfd, SPOOL_CURSOR, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    ssize_t r = read(fd, b, sizeof b);
    close(fd);
    if (r != CURSOR_LEN || memcmp(b, CURSOR_MAGIC, 8) != 0)
        return -1;
    if (spool_frame_crc(b, b + 4, 20) != spool_get32(b + 24))
        return -1;
    pos->seg = spool_get64(b + 8);
    pos->off = spool_get64(b + 16);
    return 0;
}

int spool_write_cursor(tp_spool *s, struct spool_pos pos, char *err, size_t errlen)
{
    uint8_t b[CURSOR_LEN];
    memcpy(b, CURSOR_MAGIC, 8);
    spool_put64(b + 8, pos.seg);
    spool_put64(b + 16, pos.off);
    spool_put32(b + 24, spool_frame_crc(b, b + 4, 20));
    int fd = openat(s->dirfd, SPOOL_CURSOR_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return tp_errf(err, errlen, TP_EIO, "spool: cannot write cursor: %s", strerror(errno));
    int ok = write(fd, b, sizeof b) == (ssize_t)sizeof b && fdatasync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok)
        return tp_errf(err, errlen, TP_EIO, "spool: cannot write cursor: %s", strerror(e));
    if (renameat(s->dirfd, SPOOL_CURSOR_TMP, s->dirfd, SPOOL_CURSOR) != 0 || fsync(s->dirfd) != 0)
        return tp_errf(err, errlen, TP_EIO, "spool: cannot replace cursor: %s", strerror(errno));
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment ids present in the directory, ascending. */
static int list_segments(tp_spool *s, uint64_t **idsp, size_t *np, char *err, size_t errlen)
{
    int dfd = dup(s->dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return tp_errf(err, errlen, TP_EIO, "spool: cannot list %s: %s", s->dir, strerror(errno));
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strlen(nm) != 20 || strcmp(nm + 16, ".seg") != 0 || strspn(nm, "0123456789abcdef") != 16)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *ni = realloc(ids, nc * sizeof *ni);
            if (!ni) {
                rc = tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
                goto out;
            }
            ids = ni;
            cap = nc;
        }
        ids[n++] = strtoull(nm, NULL, 16);
    }
    if (n > 1)
        qsort(ids, n, sizeof *ids, cmp_u64);
out:
    closedir(d);
    if (rc != 0) {
        free(ids);
        return rc;
    }
    *idsp = ids;
    *np = n;
    return 0;
}

struct scan {
    uint64_t valid_end;     /* end of the last good frame */
    uint64_t count_from;    /* frames at or after this offset count towards depth */
    uint64_t boundary;      /* largest frame boundary ≤ count_from */
    uint64_t entries, bytes;
};

/* Verify frames of one segment from offset 0, reading in large chunks. */
static int scan_segment(int fd, uint64_t size, struct scan *sc, char *err, size_t errlen)
{
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap);
    uint64_t pos = 0;
    int rc = 0;
    if (!buf)
        return tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
    sc->valid_end = 0;
    sc->boundary = 0;
    while (pos < size) {
        size_t want = (size - pos) < cap ? (size_t)(size - pos) : cap;
        ssize_t r = pread(fd, buf, want, (off_t)pos);
        if (r < 0) {
            rc = tp_errf(err, errlen, TP_EIO, "spool: read: %s", strerror(errno));
            goto out;
        }
        size_t have = (size_t)r, i = 0;
        while (have - i >= SPOOL_FRAME_HDR) {
            uint32_t plen = spool_get32(buf + i);
            size_t kl;
            if (plen < SPOOL_PAYLOAD_HDR || plen > SPOOL_MAX_PAYLOAD)
                goto out; /* garbage length: torn here */
            if (have - i - SPOOL_FRAME_HDR < plen)
                break; /* frame continues past this chunk */
            const uint8_t *payload = buf + i + SPOOL_FRAME_HDR;
            if (spool_frame_crc(buf + i, payload, plen) != spool_get32(buf + i + 4) ||
                spool_payload_ok(payload, plen, &kl) != 0)
                goto out;
            uint64_t at = pos + i;
            size_t flen = SPOOL_FRAME_HDR + plen;
            if (at >= sc->count_from) {
                sc->entries++;
                sc->bytes += flen;
            } else if (at + flen <= sc->count_from) {
                sc->boundary = at + flen;
            }
            i += flen;
            sc->valid_end = pos + i;
        }
        if (i == 0) {
            if (have < want || pos + have >= size)
                goto out; /* short frame at the end of the file */
            /* One frame bigger than the buffer: grow to hold it. */
            uint32_t plen = spool_get32(buf);
            size_t nc = SPOOL_FRAME_HDR + (size_t)plen;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                rc = tp_errf(err, errlen, TP_ENOMEM, "spool: out of memory");
                goto out;
            }
            buf = nb;
            cap = nc;
            continue;
        }
        pos += i;
    }
out:
    free(buf);
    return rc;
}

/* Scan segment id, cut a bad tail, and record it in s->segs. */
static int recover_segment(tp_spool *s, uint64_t id, tp_spool_recovery *rec, char *err, size_t errlen)
{
    char name[32];
    struct stat st;
    struct scan sc = {0};
    int rc = 0;
    spool_seg_name(id, name);
    int fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = tp_errf(err, errlen, TP_EIO, "spool: cannot open %s: %s", name, strerror(errno));
        goto out;
    }
    if (id == s->head.seg)
        sc.count_from = s->head.off;
    rc = scan_segment(fd, (uint64_t)st.st_size, &sc, err, errlen);
    if (rc != 0)
        goto out;
    if (sc.valid_end < (uint64_t)st.st_size) {
        uint64_t cut = (uint64_t)st.st_size - sc.valid_end;
        char cutbuf[32], atbuf[32];
        snprintf(cutbuf, sizeof cutbuf, "%" PRIu64, cut);
        snprintf(atbuf, sizeof atbuf, "%" PRIu64, sc.valid_end);
        tp_log_warn("spool: truncating torn or corrupt tail", "dir", s->dir, "segment", name, "offset", atbuf,
                    "bytes", cutbuf);
        if (ftruncate(fd, (off_t)sc.valid_end) != 0 || fdatasync(fd) != 0) {
            rc = tp_errf(err, errlen, TP_EIO, "spool: cannot truncate %s: %s", name, strerror(errno));
            goto out;
        }
        rec->truncated_bytes += cut;
        rec->truncated_segments++;
    }
    if (id == s->head.seg && s->head.off > sc.valid_end) {
        tp_log_warn("spool: cursor beyond the recovered data; resuming at its end", "dir", s->dir, "segment", name);
        s->head.off = sc.valid_end;
    } else if (id == s->head.seg && s->head.off != sc.boundary && s->head.off < sc.valid_end) {
        /* Not on a frame boundary: replay from the frame it points into (and count it). */
        tp_log_warn("spool: cursor not on a frame boundary; replaying from the previous frame", "dir", s->dir,
                    "segment", name);
        s->head.off = sc.boundary;
        sc.count_from = sc.boundary;
        sc.entries = sc.bytes = 0;
        rc = scan_segment(fd, sc.valid_end, &sc, err, errlen);
        if (rc != 0)
            goto out;
    }
    rc = spool_segs_push(s, id, sc.valid_end);
    if (rc != 0) {
        rc = tp_errf(err, errlen, rc, "spool: out of memory");
        goto out;
    }
    s->depth_entries += sc.entries;
    s->depth_bytes += sc.bytes;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int spool_recover(tp_spool *s, tp_spool_recovery *rec, char *err, size_t errlen)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    struct spool_pos cur = {0, 0};

    int cr = read_cursor(s, &cur);
    if (cr < 0) {
        tp_log_warn("spool: cursor file damaged; replaying from the oldest segment", "dir", s->dir);
        cur.seg = 0;
        cur.off = 0;
    }
    unlinkat(s->dirfd, SPOOL_CURSOR_TMP, 0);
    rc = list_segments(s, &ids, &n, err, errlen);
    if (rc != 0)
        goto out;

    size_t first = 0;
    while (first < n && ids[first] < cur.seg) {
        /* Fully acknowledged; a crash came between the cursor write and the unlink. */
        char name[32];
        spool_seg_name(ids[first], name);
        unlinkat(s->dirfd, name, 0);
        first++;
    }
    if (first < n && ids[first] > cur.seg) {
        cur.seg = ids[first];
        cur.off = 0;
    }
    s->head = cur;
    for (size_t i = first; i < n; i++) {
        rc = recover_segment(s, ids[i], rec, err, errlen);
        if (rc != 0)
            goto out;
    }
    if (s->nsegs == 0) {
        uint64_t id = cur.seg + 1;
        char name[32];
        spool_seg_name(id, name);
        int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || fsync(s->dirfd) != 0) {
            rc = tp_errf(err, errlen, TP_EIO, "spool: cannot create %s: %s", name, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
        rc = spool_segs_push(s, id, 0);
        if (rc != 0) {
            rc = tp_errf(err, errlen, rc, "spool: out of memory");
            goto out;
        }
        s->head.seg = id;
        s->head.off = 0;
    }
    rec->entries = s->depth_entries;
    rec->bytes = s->depth_bytes;
    rec->segments = s->nsegs;
    if (rec->entries || rec->truncated_bytes) {
        char e[32], b[32], t[32];
        snprintf(e, sizeof e, "%" PRIu64, rec->entries);
        snprintf(b, sizeof b, "%" PRIu64, rec->bytes);
        snprintf(t, sizeof t, "%" PRIu64, rec->truncated_bytes);
        tp_log_info("spool: recovered", "dir", s->dir, "entries", e, "bytes", b, "truncated_bytes", t);
    }
out:
    free(ids);
    return rc;
}

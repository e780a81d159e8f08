/* spool_priv.h — what spool.c (open, append), spool_recover.c and spool_read.c (peek, ack)
 * share. Not a public header. */
#ifndef TP_SPOOL_PRIV_H
#define TP_SPOOL_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "tp/spool.h"

#define SPOOL_FRAME_HDR 8   /* u32 len, u32 crc */
#define SPOOL_PAYLOAD_HDR 4 /* u16 tag, u16 key_len */
#define SPOOL_MAX_PAYLOAD (SPOOL_PAYLOAD_HDR + TP_SPOOL_MAX_KEY + TP_SPOOL_MAX_DATA)
#define SPOOL_CURSOR "cursor"
#define SPOOL_CURSOR_TMP "cursor.tmp"

struct spool_pos {
    uint64_t seg; /* segment id */
    uint64_t off; /* byte offset in it */
};

struct spool_seg {
    uint64_t id;
    uint64_t size; /* bytes of whole frames (the write segment grows under mu) */
};

struct tp_spool {
    char *dir;
    int dirfd;
    int lockfd;
    uint64_t max_bytes;
    uint64_t segment_bytes;

    pthread_mutex_t mu; /* everything below, except the reader's fields */
    pthread_cond_t cv;  /* a sync finished */
    struct spool_seg *segs; /* oldest first; the last one is written to */
    size_t nsegs, capsegs;
    int wfd;
    uint64_t written_seq; /* appends written to the file */
    uint64_t synced_seq;  /* appends covered by a finished fdatasync */
    int syncing;
    struct spool_pos synced; /* durable end of data: the reader stops here */
    int failed;
    uint64_t depth_entries, depth_bytes;
    uint64_t appends, syncs;
    struct spool_pos head; /* first unacknowledged frame (written by the reader under mu) */

    /* Reader only. */
    int rfd;
    uint64_t rfd_seg;
};

struct tp_spool_batch_priv {
    uint8_t *buf; /* copied frames */
    size_t cap;
    struct spool_pos start;   /* head at peek time */
    struct spool_pos *ends;   /* position after entry i */
    uint64_t *cum_bytes;      /* on-disk bytes of entries 0..i */
    size_t *key_off, *data_off;
    size_t ecap;
};

static inline void spool_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t spool_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void spool_put64(uint8_t *p, uint64_t v)
{
    spool_put32(p, (uint32_t)v);
    spool_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t spool_get64(const uint8_t *p) { return spool_get32(p) | (uint64_t)spool_get32(p + 4) << 32; }

/* CRC of a frame: over the 4 length bytes, then the payload. */
uint32_t spool_frame_crc(const uint8_t *lenbytes, const uint8_t *payload, size_t len);
/* 0 if the payload is well formed (its key fits); fills key_len. */
int spool_payload_ok(const uint8_t *payload, size_t len, size_t *key_len);
void spool_seg_name(uint64_t id, char out[32]);
/* Index of segment id in s->segs, or -1. Caller holds mu. */
long spool_seg_index(const tp_spool *s, uint64_t id);

/* spool_recover.c: read the cursor, scan and repair segments, fill s->segs, head, depth. */
int spool_recover(tp_spool *s, tp_spool_recovery *rec, char *err, size_t errlen);
/* spool_read.c: durably replace the cursor file. */
int spool_write_cursor(tp_spool *s, struct spool_pos pos, char *err, size_t errlen);
/* spool.c: append {id, size} to s->segs. */
int spool_segs_push(tp_spool *s, uint64_t id, uint64_t size);

#endif

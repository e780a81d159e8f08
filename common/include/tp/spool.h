/* spool.h — a durable local queue: append-only segment files in one directory.
 *
 * ingest-api writes records here when Kinesis cannot take them, acknowledges the client once
 * they are on disk, and ships them to Kinesis later — also after a crash or restart.
 *
 * On disk: segments "<16 hex digits>.seg", each a run of frames
 *     [u32 len][u32 crc][payload: u16 tag, u16 key_len, key bytes, data bytes]
 * (little-endian; crc = CRC-32C over the len field and the payload), and a file "cursor"
 * naming the first unacknowledged frame, replaced with write + fsync + rename + fsync(dir).
 * A "LOCK" file (flock) keeps a second process out of the directory.
 *
 * Writers: any number of threads call tp_spool_append concurrently. Appends are ordered by
 * arrival (one append's entries stay contiguous) and durable on return (written, then
 * fdatasync'ed). Concurrent appenders are group-committed: the fdatasync of one covers every
 * append written before it started, so N waiting appenders cost about one sync.
 *
 * Reader: one thread at a time peeks entries from the head in order and acknowledges a prefix
 * of what it peeked; acknowledged entries are never returned again, also after a reopen, and
 * fully acknowledged segments are deleted. Peek returns only durable entries.
 *
 * Opening recovers: frames are verified (length, CRC); a torn tail (short frame, bad CRC) is
 * truncated away and logged, and reported through tp_spool_recovery. */
#ifndef TP_SPOOL_H
#define TP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

/* Largest key and payload of one entry. */
#define TP_SPOOL_MAX_KEY 1024
#define TP_SPOOL_MAX_DATA (8u * 1024 * 1024)
/* Bytes an entry takes on disk besides key and data (frame and payload headers). */
#define TP_SPOOL_ENTRY_OVERHEAD 12

typedef struct tp_spool tp_spool;

/* One record. For append everything is borrowed for the call; from peek, key and data borrow
 * the batch's buffer (valid until the next peek into that batch or tp_spool_batch_free). */
typedef struct tp_spool_entry {
    uint16_t tag;     /* caller-defined (ingest-api: the tp_stream) */
    const char *key;  /* not NUL-terminated from peek; key_len bytes */
    size_t key_len;   /* ≤ TP_SPOOL_MAX_KEY */
    const void *data;
    size_t len;       /* ≤ TP_SPOOL_MAX_DATA */
} tp_spool_entry;

typedef struct tp_spool_options {
    uint64_t max_bytes;     /* bound on unacknowledged bytes (entries + overhead); 0 = 1 GiB */
    uint64_t segment_bytes; /* roll to a new segment beyond this; 0 = min(64 MiB, max(max_bytes/8, 64 KiB)) */
} tp_spool_options;

/* What opening found. */
typedef struct tp_spool_recovery {
    uint64_t entries;         /* unacknowledged entries found */
    uint64_t bytes;           /* their bytes on disk */
    uint64_t segments;        /* segment files kept */
    uint64_t truncated_bytes; /* torn / corrupt bytes cut off */
    uint64_t truncated_segments;
} tp_spool_recovery;

/* Open (creating dir if missing) and recover. opts may be NULL (defaults); rec may be NULL.
 * TP_ECONFLICT if another process holds the directory, TP_EIO on file-system errors,
 * TP_ENOMEM. Caller frees with tp_spool_free. */
int tp_spool_open(const char *dir, const tp_spool_options *opts, tp_spool **out, tp_spool_recovery *rec, char *err,
                  size_t errlen) TP_MUSTCHECK;
/* Close files and release the directory; unacknowledged entries stay on disk. NULL-safe.
 * No append or peek may be running. */
void tp_spool_free(tp_spool *s);

/* Append n entries, durable on return. All or nothing: TP_EFULL if they do not fit under
 * max_bytes (nothing written), TP_EINVAL for an oversized key/data, TP_EIO on a write or sync
 * failure (after a failed sync the spool refuses further appends: it cannot know what reached
 * the disk). Thread-safe. */
int tp_spool_append(tp_spool *s, const tp_spool_entry *entries, size_t n, char *err, size_t errlen) TP_MUSTCHECK;

/* A peeked run of entries. entries/n are public; the rest is private. Initialise with
 * TP_SPOOL_BATCH_INIT (or zero); reuse it across peeks (its buffers are kept); release with
 * tp_spool_batch_free. */
typedef struct tp_spool_batch {
    tp_spool_entry *entries;
    size_t n;
    uint64_t bytes;                 /* on-disk bytes of the n entries */
    struct tp_spool_batch_priv *priv;
} tp_spool_batch;
#define TP_SPOOL_BATCH_INIT {NULL, 0, 0, NULL}
void tp_spool_batch_free(tp_spool_batch *b); /* NULL-safe; leaves it empty and reusable */

/* Copy up to max_entries entries / about max_bytes bytes (at least one entry if any is
 * available, however large) from the head into b, oldest first. Peeking again without an ack
 * returns the same entries. b->n == 0 when the spool is empty. TP_ECORRUPT if a frame fails
 * its CRC on read, TP_EIO on read errors. Reader thread only. */
int tp_spool_peek(tp_spool *s, size_t max_entries, size_t max_bytes, tp_spool_batch *b, char *err,
                  size_t errlen) TP_MUSTCHECK;
/* Acknowledge the first k entries of the last peek into b (0 ≤ k ≤ b->n), durably: they will
 * not be peeked again, also after a reopen. b stays as it was; peek again for more. TP_EINVAL
 * if b is not the latest peek from the current head. Reader thread only. */
int tp_spool_ack(tp_spool *s, const tp_spool_batch *b, size_t k, char *err, size_t errlen) TP_MUSTCHECK;

typedef struct tp_spool_stats {
    uint64_t entries;   /* unacknowledged entries (depth) */
    uint64_t bytes;     /* their bytes on disk */
    uint64_t max_bytes;
    uint64_t segments;  /* segment files */
    uint64_t appends;   /* tp_spool_append calls that succeeded since open */
    uint64_t syncs;     /* fdatasync calls made for appends since open */
    int failed;         /* 1 after an unrecoverable write/sync error */
} tp_spool_stats;
/* Thread-safe snapshot. */
void tp_spool_get_stats(tp_spool *s, tp_spool_stats *st);

#endif

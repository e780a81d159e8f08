/* test_spool.c — the durable spool: order, reopen, crash recovery, full, cursor, concurrency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp/spool.h"

struct fx {
    char dir[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/tp-test-spool-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[512];
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static tp_spool *open_spool(const char *dir, uint64_t max_bytes, uint64_t seg_bytes, tp_spool_recovery *rec)
{
    tp_spool *s = NULL;
    char err[256];
    tp_spool_options o = {max_bytes, seg_bytes};
    int rc = tp_spool_open(dir, &o, &s, rec, err, sizeof err);
    if (rc != 0)
        fail_msg("open: %s", err);
    return s;
}

/* Entry i: tag i%3, key "k<i>", data "payload-<i>" repeated to a size that varies with i. */
static void make_entry(int i, char *key, char *data, size_t cap, tp_spool_entry *e)
{
    snprintf(key, 32, "k%d", i);
    size_t len = (size_t)snprintf(data, cap, "payload-%d-", i);
    size_t want = 20 + (size_t)(i % 7) * 13;
    while (len < want && len + 1 < cap)
        data[len++] = (char)('a' + i % 26);
    data[len] = '\0';
    e->tag = (uint16_t)(i % 3);
    e->key = key;
    e->key_len = strlen(key);
    e->data = data;
    e->len = len;
}

static void append_range(tp_spool *s, int from, int to)
{
    char err[256];
    for (int i = from; i < to; i++) {
        char key[32], data[256];
        tp_spool_entry e;
        make_entry(i, key, data, sizeof data, &e);
        int rc = tp_spool_append(s, &e, 1, err, sizeof err);
        if (rc != 0)
            fail_msg("append %d: %s", i, err);
    }
}

static void check_entry(const tp_spool_entry *got, int i)
{
    char key[32], data[256];
    tp_spool_entry e;
    make_entry(i, key, data, sizeof data, &e);
    assert_int_equal(got->tag, e.tag);
    assert_int_equal(got->key_len, e.key_len);
    assert_memory_equal(got->key, e.key, e.key_len);
    assert_int_equal(got->len, e.len);
    assert_memory_equal(got->data, e.data, e.len);
}

/* Peek everything (in steps of `step` entries), checking it is from..to-1 in order. */
static void expect_all(tp_spool *s, int from, int to)
{
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    char err[256];
    assert_int_equal(tp_spool_peek(s, (size_t)(to - from) + 10, 1 << 24, &b, err, sizeof err), 0);
    assert_int_equal(b.n, (size_t)(to - from));
    for (int i = from; i < to; i++)
        check_entry(&b.entries[i - from], i);
    tp_spool_batch_free(&b);
}

static void test_append_peek_ack_order(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool *s = open_spool(f->dir, 0, 0, NULL);
    /* One append of several entries, then single ones. */
    char keys[5][32], datas[5][256];
    tp_spool_entry es[5];
    for (int i = 0; i < 5; i++)
        make_entry(i, keys[i], datas[i], sizeof datas[i], &es[i]);
    assert_int_equal(tp_spool_append(s, es, 5, err, sizeof err), 0);
    append_range(s, 5, 20);

    tp_spool_stats st;
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, 20);

    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    assert_int_equal(tp_spool_peek(s, 7, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 7);
    for (int i = 0; i < 7; i++)
        check_entry(&b.entries[i], i);
    /* Peeking again without an ack gives the same entries. */
    assert_int_equal(tp_spool_peek(s, 7, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 7);
    check_entry(&b.entries[0], 0);

    assert_int_equal(tp_spool_ack(s, &b, 3, err, sizeof err), 0);
    /* The same batch is stale now. */
    assert_int_equal(tp_spool_ack(s, &b, 1, err, sizeof err), TP_EINVAL);
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, 17);

    assert_int_equal(tp_spool_peek(s, 100, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 17);
    for (int i = 3; i < 20; i++)
        check_entry(&b.entries[i - 3], i);
    assert_int_equal(tp_spool_ack(s, &b, b.n, err, sizeof err), 0);
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(tp_spool_peek(s, 100, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 0);

    /* Appends after a full drain are seen. */
    append_range(s, 20, 22);
    expect_all(s, 20, 22);
    tp_spool_batch_free(&b);
    tp_spool_free(s);
}

static void test_byte_budget(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool *s = open_spool(f->dir, 0, 0, NULL);
    append_range(s, 0, 10);
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    /* A budget smaller than one entry still returns exactly one. */
    assert_int_equal(tp_spool_peek(s, 100, 1, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 1);
    check_entry(&b.entries[0], 0);
    /* A budget of about three entries returns three. */
    uint64_t three = 0;
    for (int i = 0; i < 3; i++) {
        char key[32], data[256];
        tp_spool_entry e;
        make_entry(i, key, data, sizeof data, &e);
        three += TP_SPOOL_ENTRY_OVERHEAD + e.key_len + e.len;
    }
    assert_int_equal(tp_spool_peek(s, 100, three, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.bytes, three);
    assert_int_equal(tp_spool_peek(s, 100, three + 5, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 3);
    tp_spool_batch_free(&b);
    tp_spool_free(s);
}

static void test_reopen_and_cursor(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool_recovery rec;
    tp_spool *s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 0);
    append_range(s, 0, 50);
    tp_spool_free(s);

    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 50);
    assert_int_equal(rec.truncated_bytes, 0);
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    assert_int_equal(tp_spool_peek(s, 30, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(tp_spool_ack(s, &b, 30, err, sizeof err), 0);
    tp_spool_batch_free(&b);
    tp_spool_free(s);

    /* The cursor survives: the acknowledged 30 are gone for good. */
    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 20);
    expect_all(s, 30, 50);
    append_range(s, 50, 55);
    tp_spool_free(s);
    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 25);
    expect_all(s, 30, 55);
    tp_spool_free(s);
}

static void test_second_open_conflicts(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool *s = open_spool(f->dir, 0, 0, NULL), *s2 = NULL;
    assert_int_equal(tp_spool_open(f->dir, NULL, &s2, NULL, err, sizeof err), TP_ECONFLICT);
    assert_null(s2);
    tp_spool_free(s);
}

/* Path of the only (or last) segment file. */
static void last_segment(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char best[256] = "";
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".seg") && strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", de->d_name);
    closedir(d);
    assert_true(best[0] != '\0');
    snprintf(out, cap, "%s/%s", dir, best);
}

static int count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".seg"))
            n++;
    closedir(d);
    return n;
}

static void test_crash_truncated_mid_frame(void **state)
{
    struct fx *f = *state;
    tp_spool_recovery rec;
    tp_spool *s = open_spool(f->dir, 0, 0, NULL);
    append_range(s, 0, 5);
    tp_spool_free(s);

    char path[512];
    struct stat st;
    last_segment(f->dir, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    /* A crash in the middle of writing the 5th frame. */
    assert_int_equal(truncate(path, st.st_size - 3), 0);

    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 4);
    assert_true(rec.truncated_bytes > 0);
    assert_int_equal(rec.truncated_segments, 1);
    expect_all(s, 0, 4);
    /* New appends go after the intact frames, not behind the torn bytes. */
    append_range(s, 4, 8);
    tp_spool_free(s);
    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.truncated_bytes, 0);
    expect_all(s, 0, 8);
    tp_spool_free(s);
}

static void test_crash_flipped_byte(void **state)
{
    struct fx *f = *state;
    tp_spool_recovery rec;
    tp_spool *s = open_spool(f->dir, 0, 0, NULL);
    append_range(s, 0, 6);
    tp_spool_free(s);

    char path[512];
    struct stat st;
    last_segment(f->dir, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    off_t at = st.st_size - 2; /* inside the last frame's data */
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);

    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 5);
    assert_true(rec.truncated_bytes > 0);
    expect_all(s, 0, 5);
    tp_spool_free(s);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, rec.bytes);
}

static void test_garbage_tail_and_damaged_cursor(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool_recovery rec;
    tp_spool *s = open_spool(f->dir, 0, 0, NULL);
    append_range(s, 0, 4);
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    assert_int_equal(tp_spool_peek(s, 2, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(tp_spool_ack(s, &b, 2, err, sizeof err), 0);
    tp_spool_batch_free(&b);
    tp_spool_free(s);

    /* Zeroes after the last frame (a file extended but never written), and a cursor cut short. */
    char path[512];
    last_segment(f->dir, path, sizeof path);
    int fd = open(path, O_WRONLY | O_APPEND);
    char zeros[100] = {0};
    assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);
    char cpath[512];
    snprintf(cpath, sizeof cpath, "%s/cursor", f->dir);
    assert_int_equal(truncate(cpath, 10), 0);

    /* A damaged cursor replays from the start: duplicates, never a loss. */
    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.truncated_bytes, 100);
    assert_int_equal(rec.entries, 4);
    expect_all(s, 0, 4);
    tp_spool_free(s);
}

static void test_full(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool_recovery rec;
    tp_spool *s = open_spool(f->dir, 2000, 0, NULL);
    int i = 0, rc = 0;
    for (; i < 1000; i++) {
        char key[32], data[256];
        tp_spool_entry e;
        make_entry(i, key, data, sizeof data, &e);
        rc = tp_spool_append(s, &e, 1, err, sizeof err);
        if (rc != 0)
            break;
    }
    assert_int_equal(rc, TP_EFULL);
    assert_true(i > 5);
    tp_spool_stats st;
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, (uint64_t)i);
    assert_true(st.bytes <= 2000);
    /* A multi-entry append that does not fit writes nothing. */
    char keys[3][32], datas[3][256];
    tp_spool_entry es[3];
    for (int k = 0; k < 3; k++)
        make_entry(1000 + k, keys[k], datas[k], sizeof datas[k], &es[k]);
    assert_int_equal(tp_spool_append(s, es, 3, err, sizeof err), TP_EFULL);
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, (uint64_t)i);

    /* Draining makes room again. */
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    assert_int_equal(tp_spool_peek(s, 5, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(tp_spool_ack(s, &b, 5, err, sizeof err), 0);
    tp_spool_batch_free(&b);
    append_range(s, i, i + 1);
    tp_spool_free(s);
    s = open_spool(f->dir, 2000, 0, &rec);
    assert_int_equal(rec.entries, (uint64_t)(i - 5 + 1));
    expect_all(s, 5, i + 1);
    tp_spool_free(s);
}

static void test_segments_roll_and_go(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool_recovery rec;
    tp_spool *s = open_spool(f->dir, 0, 4096, NULL);
    append_range(s, 0, 400);
    tp_spool_stats st;
    tp_spool_get_stats(s, &st);
    assert_true(st.segments > 5);
    assert_int_equal(count_segments(f->dir), (int)st.segments);
    tp_spool_free(s);

    s = open_spool(f->dir, 0, 4096, &rec);
    assert_int_equal(rec.entries, 400);
    /* Peek across segment boundaries in uneven steps, acknowledging as we go. */
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    int next = 0;
    while (next < 400) {
        assert_int_equal(tp_spool_peek(s, 37, 3000, &b, err, sizeof err), 0);
        assert_true(b.n > 0);
        for (size_t k = 0; k < b.n; k++)
            check_entry(&b.entries[k], next + (int)k);
        size_t ack = b.n > 1 ? b.n - 1 : 1;
        assert_int_equal(tp_spool_ack(s, &b, ack, err, sizeof err), 0);
        next += (int)ack;
    }
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.segments, 1);
    assert_int_equal(count_segments(f->dir), 1);
    tp_spool_batch_free(&b);
    tp_spool_free(s);
    s = open_spool(f->dir, 0, 4096, &rec);
    assert_int_equal(rec.entries, 0);
    tp_spool_free(s);
}

static void test_large_entry(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool *s = open_spool(f->dir, 0, 0, NULL);
    size_t big = 3u << 20;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    tp_spool_entry e = {2, "big", 3, data, big};
    assert_int_equal(tp_spool_append(s, &e, 1, err, sizeof err), 0);
    append_range(s, 0, 2);
    tp_spool_free(s);
    tp_spool_recovery rec;
    s = open_spool(f->dir, 0, 0, &rec);
    assert_int_equal(rec.entries, 3);
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    assert_int_equal(tp_spool_peek(s, 10, 4096, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.entries[0].len, big);
    assert_memory_equal(b.entries[0].data, data, big);
    assert_int_equal(tp_spool_ack(s, &b, 1, err, sizeof err), 0);
    assert_int_equal(tp_spool_peek(s, 10, 4096, &b, err, sizeof err), 0);
    assert_int_equal(b.n, 2);
    check_entry(&b.entries[0], 0);
    check_entry(&b.entries[1], 1);
    /* Oversized entries are refused. */
    tp_spool_entry huge = {0, "x", 1, data, TP_SPOOL_MAX_DATA + 1};
    assert_int_equal(tp_spool_append(s, &huge, 1, err, sizeof err), TP_EINVAL);
    tp_spool_batch_free(&b);
    tp_spool_free(s);
    free(data);
}

#define THREADS 4
#define PER_THREAD 400

struct writer {
    tp_spool *s;
    int id;
    int rc;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char err[256];
    for (int i = 0; i < PER_THREAD;) {
        /* 1..3 entries per append; payload "<thread>:<seq>". */
        int n = 1 + i % 3;
        if (i + n > PER_THREAD)
            n = PER_THREAD - i;
        char keys[3][16], datas[3][32];
        tp_spool_entry es[3];
        for (int k = 0; k < n; k++) {
            snprintf(keys[k], sizeof keys[k], "t%d", w->id);
            int len = snprintf(datas[k], sizeof datas[k], "%d:%d", w->id, i + k);
            es[k] = (tp_spool_entry){(uint16_t)w->id, keys[k], strlen(keys[k]), datas[k], (size_t)len};
        }
        w->rc = tp_spool_append(w->s, es, (size_t)n, err, sizeof err);
        if (w->rc != 0)
            return NULL;
        i += n;
    }
    return NULL;
}

static void test_concurrent_appenders(void **state)
{
    struct fx *f = *state;
    char err[256];
    tp_spool *s = open_spool(f->dir, 0, 16384, NULL);
    pthread_t th[THREADS];
    struct writer w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){s, t, 0};
        assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(w[t].rc, 0);
    }
    tp_spool_stats st;
    tp_spool_get_stats(s, &st);
    assert_int_equal(st.entries, THREADS * PER_THREAD);
    /* Group commit: waiting appenders share syncs. */
    print_message("appends=%llu syncs=%llu\n", (unsigned long long)st.appends, (unsigned long long)st.syncs);
    assert_true(st.syncs <= st.appends);
    tp_spool_free(s);

    /* Everything is on disk after a reopen, each thread's entries in its order. */
    tp_spool_recovery rec;
    s = open_spool(f->dir, 0, 16384, &rec);
    assert_int_equal(rec.entries, THREADS * PER_THREAD);
    int next[THREADS] = {0};
    tp_spool_batch b = TP_SPOOL_BATCH_INIT;
    assert_int_equal(tp_spool_peek(s, 100000, 1 << 26, &b, err, sizeof err), 0);
    assert_int_equal(b.n, THREADS * PER_THREAD);
    for (size_t k = 0; k < b.n; k++) {
        char buf[32];
        int t, seq;
        assert_true(b.entries[k].len < sizeof buf);
        memcpy(buf, b.entries[k].data, b.entries[k].len);
        buf[b.entries[k].len] = '\0';
        assert_int_equal(sscanf(buf, "%d:%d", &t, &seq), 2);
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(b.entries[k].tag, t);
        assert_int_equal(seq, next[t]);
        next[t]++;
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(next[t], PER_THREAD);
    tp_spool_batch_free(&b);
    tp_spool_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_peek_ack_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_truncated_mid_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tail_and_damaged_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_and_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* check_verify.c — `tp-producer-check verify`: read the three streams back and compare.
 *
 * Every shard (open or closed) of every stream is read from TRIM_HORIZON until it is caught up;
 * KPL aggregates are deaggregated; each user record is parsed for its event_id and kept in a
 * table (id → stream, partition key, JSON, copies). Acknowledged events (one JSON per line in
 * --acked) must each be found with equal JSON (same keys and values; with --allow-extra-keys
 * the stored event may carry more top-level keys), in the stream of their type, under the
 * partition key event.h prescribes. Copies beyond the first are reported as duplicates. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_common.h"
#include "tp/backoff.h"
#include "tp/kinesis.h"
#include "tp/kpl.h"

struct slot {
    char id[TP_UUID_LEN + 1]; /* "" = empty */
    int stream;
    char *pkey;
    json_t *ev;
    unsigned copies;
};

struct table {
    struct slot *slots;
    size_t cap, n;
    size_t records, events, unparsable;
};

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct slot *lookup(struct table *t, const char *id, int insert)
{
    if (insert && (t->n + 1) * 2 > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4096;
        struct slot *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].id[0])
                continue;
            size_t j = hash_id(t->slots[i].id) & (nc - 1);
            while (ns[j].id[0])
                j = (j + 1) & (nc - 1);
            ns[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = ns;
        t->cap = nc;
    }
    if (!t->cap)
        return NULL;
    size_t j = hash_id(id) & (t->cap - 1);
    while (t->slots[j].id[0]) {
        if (strcmp(t->slots[j].id, id) == 0)
            return &t->slots[j];
        j = (j + 1) & (t->cap - 1);
    }
    if (!insert)
        return NULL;
    snprintf(t->slots[j].id, sizeof t->slots[j].id, "%s", id);
    t->n++;
    return &t->slots[j];
}

struct deagg_ctx {
    struct table *t;
    int stream;
};

static int on_user_record(void *ctx, size_t index, const char *pkey, size_t pkey_len, const uint8_t *data, size_t len)
{
    struct deagg_ctx *c = ctx;
    c->t->events++;
    json_t *ev = json_loadb((const char *)data, len, 0, NULL);
    const char *id = json_string_value(json_object_get(ev, "event_id"));
    if (!id || strlen(id) != TP_UUID_LEN) {
        c->t->unparsable++;
        json_decref(ev);
        return 0;
    }
    struct slot *s = lookup(c->t, id, 1);
    if (!s) {
        json_decref(ev);
        return 1;
    }
    if (s->copies++ == 0) {
        s->stream = c->stream;
        s->pkey = strndup(pkey, pkey_len);
        s->ev = ev;
    } else {
        json_decref(ev);
    }
    return 0;
}

static int read_shard(tp_kinesis *k, const char *stream, int sidx, const char *shard, struct table *t)
{
    char err[512];
    char *it = NULL;
    int rc = tp_kinesis_get_shard_iterator(k, stream, shard, TP_ITER_TRIM_HORIZON, NULL, 0, &it, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "verify: GetShardIterator %s/%s: %s\n", stream, shard, err);
        return rc;
    }
    int empty_rounds = 0, retries = 0;
    while (it) {
        tp_get_records_result r = {0};
        /* Small pages: kinesis-local takes seconds for big ones. A failed call does not move
         * the iterator, so retrying it is safe. */
        rc = tp_kinesis_get_records(k, it, 500, &r, err, sizeof err);
        if (tp_err_retryable(rc) && ++retries < 50) {
            tp_sleep_ms(250);
            continue;
        }
        retries = 0;
        if (rc != 0) {
            fprintf(stderr, "verify: GetRecords %s/%s: %s\n", stream, shard, err);
            free(it);
            return rc;
        }
        for (size_t i = 0; i < r.n; i++) {
            struct deagg_ctx c = {t, sidx};
            t->records++;
            if (tp_kpl_deaggregate(r.records[i].data, r.records[i].len, r.records[i].partition_key, on_user_record,
                                   &c) != 0)
                t->unparsable++;
        }
        free(it);
        it = r.next_iterator;
        r.next_iterator = NULL;
        int caught_up = r.n == 0 && r.millis_behind == 0;
        tp_get_records_result_free(&r);
        /* Two empty answers in a row: kinesis-mock may answer one empty page mid-shard. */
        if (caught_up && ++empty_rounds >= 2)
            break;
        if (!caught_up)
            empty_rounds = 0;
    }
    free(it);
    return 0;
}

/* 0 if stored matches want (allow_extra: stored may have more top-level keys). */
static int same_event(const json_t *want, const json_t *stored, int allow_extra)
{
    if (!json_is_object(want) || !json_is_object(stored))
        return -1;
    if (!allow_extra && json_object_size(want) != json_object_size(stored))
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)want, key, v)
    {
        if (!json_equal(v, json_object_get(stored, key)))
            return -1;
    }
    return 0;
}

struct tally {
    size_t checked, missing, mismatched, misplaced;
};

static void check_one(struct table *t, const char *line, size_t len, int allow_extra, struct tally *y)
{
    json_error_t je;
    json_t *want = json_loadb(line, len, 0, &je);
    tp_event ev;
    tp_event_error ee;
    char pkey[TP_PARTITION_KEY_MAX + 1];
    y->checked++;
    if (!want || tp_event_validate(want, INT64_MAX / 2, &ev, &ee) != 0 ||
        tp_event_partition_key(&ev, pkey, sizeof pkey) < 0) {
        fprintf(stderr, "verify: acknowledged line %zu is not a valid event\n", y->checked);
        y->mismatched++;
        json_decref(want);
        return;
    }
    struct slot *s = lookup(t, ev.event_id, 0);
    if (!s) {
        if (y->missing < 10)
            fprintf(stderr, "verify: MISSING %s (%s)\n", ev.event_id, tp_event_type_name(ev.type));
        y->missing++;
    } else if (same_event(want, s->ev, allow_extra) != 0) {
        if (y->mismatched < 10)
            fprintf(stderr, "verify: DIFFERENT %s\n", ev.event_id);
        y->mismatched++;
    } else if (s->stream != (int)tp_event_stream(ev.type) || strcmp(s->pkey, pkey) != 0) {
        if (y->misplaced < 10)
            fprintf(stderr, "verify: MISPLACED %s: stream %d key %s\n", ev.event_id, s->stream, s->pkey);
        y->misplaced++;
    }
    json_decref(want);
}

int verify_main(int argc, char **argv)
{
    const char *acked = NULL;
    int allow_extra = 0;
    unsigned exact_seed = 0;
    int has_exact = 0;
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allow-extra-keys")) {
            allow_extra = 1;
        } else if (i + 1 < argc && !strcmp(argv[i], "--acked")) {
            acked = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--exact-seed")) {
            exact_seed = (unsigned)strtoul(argv[++i], NULL, 10);
            has_exact = 1;
        } else if (i + 1 < argc && !strcmp(argv[i], "--count")) {
            count = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "verify: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    tp_aws_config aws;
    char err[512];
    tp_kinesis *k = NULL;
    if (tp_aws_config_from_env(&aws, err, sizeof err) != 0 || tp_kinesis_new(&aws, &k) != 0) {
        fprintf(stderr, "verify: cannot create a Kinesis client: %s\n", err);
        return 2;
    }
    struct table t = {0};
    int rc = 0;
    for (int s = 0; s < TP_STREAM__COUNT && rc == 0; s++) {
        tp_shard_list l = {0};
        const char *name = tp_stream_name((tp_stream)s);
        rc = tp_kinesis_list_shards(k, name, &l, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "verify: ListShards %s: %s\n", name, err);
            break;
        }
        for (size_t i = 0; i < l.n && rc == 0; i++)
            rc = read_shard(k, name, s, l.shards[i].shard_id, &t);
        tp_shard_list_free(&l);
    }
    struct tally y = {0};
    if (rc == 0 && acked) {
        FILE *f = fopen(acked, "r");
        if (!f) {
            fprintf(stderr, "verify: %s: %s\n", acked, strerror(errno));
            rc = 2;
        } else {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            while ((len = getline(&line, &cap, f)) > 0) {
                if (line[len - 1] == '\n')
                    len--;
                if (len > 0)
                    check_one(&t, line, (size_t)len, allow_extra, &y);
            }
            free(line);
            fclose(f);
        }
    }
    if (rc == 0 && has_exact) {
        struct gen_event *evs = gen_events(exact_seed, count);
        for (size_t i = 0; evs && i < count; i++)
            check_one(&t, evs[i].json, evs[i].len, allow_extra, &y);
        gen_events_free(evs, count);
    }
    size_t dups = 0, dup_events = 0;
    for (size_t i = 0; i < t.cap; i++) {
        if (t.slots[i].id[0] && t.slots[i].copies > 1) {
            dups += t.slots[i].copies - 1;
            dup_events++;
        }
        free(t.slots[i].pkey);
        json_decref(t.slots[i].ev);
    }
    printf("{\"kinesis_records\":%zu,\"events_read\":%zu,\"unique_events\":%zu,\"duplicate_copies\":%zu,"
           "\"duplicated_events\":%zu,\"unparsable\":%zu,\"checked\":%zu,\"missing\":%zu,\"mismatched\":%zu,"
           "\"misplaced\":%zu}\n",
           t.records, t.events, t.n, dups, dup_events, t.unparsable, y.checked, y.missing, y.mismatched,
           y.misplaced);
    free(t.slots);
    tp_kinesis_free(k);
    if (rc != 0)
        return 2;
    return (y.missing || y.mismatched || y.misplaced) ? 1 : 0;
}

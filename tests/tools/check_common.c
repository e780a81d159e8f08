/* check_common.c — event generator and options for tp-producer-check (see check_common.h). */
#include "check_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: a fixed, seedable sequence, so a run can be re-generated for comparison. */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int attrs_for(tp_event_type t, uint64_t r, size_t i, char *out, size_t cap)
{
    unsigned pad = (unsigned)(r % 160); /* vary sizes: 0..159 filler characters */
    char filler[161];
    memset(filler, 'a' + (int)(r % 26), pad);
    filler[pad] = '\0';
    switch (t) {
    case TP_EV_TENANT_CREATED:
        return snprintf(out, cap,
                        "{\"company_name\":\"Acme %zu %s\",\"industry\":\"retail\",\"sentiment\":0.25,"
                        "\"plan\":\"business\"}",
                        i, filler);
    case TP_EV_TENANT_UPDATED:
        return snprintf(out, cap, "{\"industry\":\"finance %.80s\"}", filler);
    case TP_EV_TENANT_CLOSED:
        return snprintf(out, cap, "{\"reason\":\"moved on %s\"}", filler);
    case TP_EV_USER_ADDED:
        return snprintf(out, cap, "{\"role\":\"analyst\"}");
    case TP_EV_USER_DELETED:
        return snprintf(out, cap, "{\"reason\":\"left %s\"}", filler);
    case TP_EV_USER_LOGIN:
        return snprintf(out, cap, "{\"session_id\":\"s%zu\"}", i);
    case TP_EV_USER_LOGOFF:
    case TP_EV_USER_SESSION_TIMEOUT:
        return snprintf(out, cap, "{\"session_id\":\"s%zu\",\"session_seconds\":%u}", i, (unsigned)(r % 7200));
    case TP_EV_DATASET_CREATED:
    case TP_EV_DATASET_UPDATED:
    case TP_EV_DATASET_DELETED:
        return snprintf(out, cap, "{\"dataset_id\":\"d%zu\",\"size_bytes\":%u}", i % 97, (unsigned)(r % 100000000));
    case TP_EV_JOB_SUBMITTED:
        return snprintf(out, cap, "{\"job_id\":\"j%zu\",\"servers\":%u,\"data_size_bytes\":%u}", i,
                        1 + (unsigned)(r % 64), (unsigned)(r % 1000000000));
    case TP_EV_JOB_TERMINATED:
        return snprintf(out, cap, "{\"job_id\":\"j%zu\",\"status\":\"succeeded\",\"duration_seconds\":%u.5}", i,
                        (unsigned)(r % 3600));
    case TP_EV_JOB_CANCELLED:
        return snprintf(out, cap, "{\"job_id\":\"j%zu\"}", i);
    default:
        return snprintf(out, cap, "{}");
    }
}

struct gen_event *gen_events(unsigned seed, size_t n)
{
    struct gen_event *evs = calloc(n ? n : 1, sizeof *evs);
    if (!evs)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = mix(((uint64_t)seed << 32) ^ i);
        struct gen_event *e = &evs[i];
        tp_event_type t = (tp_event_type)(i % TP_EV__COUNT);
        unsigned tenant = (unsigned)(r >> 8) % 5, user = (unsigned)(r >> 16) % 40;
        e->stream = tp_event_stream(t);
        snprintf(e->id, sizeof e->id, "%08x-%04x-4%03x-8%03x-%012llx", seed, (unsigned)(i >> 24) & 0xffff,
                 (unsigned)(i >> 12) & 0xfff, (unsigned)i & 0xfff, (unsigned long long)(r & 0xffffffffffffull));
        char tid[32], uid[32], attrs[512], when[32];
        snprintf(tid, sizeof tid, "tenant-%u", tenant);
        snprintf(uid, sizeof uid, "user-%u-%u", tenant, user);
        if (tp_event_type_has_user(t))
            snprintf(e->pkey, sizeof e->pkey, "%s:%s", tid, uid);
        else
            snprintf(e->pkey, sizeof e->pkey, "%s", tid);
        attrs_for(t, r, i, attrs, sizeof attrs);
        tp_rfc3339_format(1767225600000LL + (int64_t)i * 1000, when); /* 2026-01-01 onwards */
        char buf[1024];
        int len;
        if (tp_event_type_has_user(t))
            len = snprintf(buf, sizeof buf,
                           "{\"event_id\":\"%s\",\"type\":\"%s\",\"tenant_id\":\"%s\",\"user_id\":\"%s\","
                           "\"occurred_at\":\"%s\",\"attributes\":%s}",
                           e->id, tp_event_type_name(t), tid, uid, when, attrs);
        else
            len = snprintf(buf, sizeof buf,
                           "{\"event_id\":\"%s\",\"type\":\"%s\",\"tenant_id\":\"%s\",\"occurred_at\":\"%s\","
                           "\"attributes\":%s}",
                           e->id, tp_event_type_name(t), tid, when, attrs);
        e->json = malloc((size_t)len + 1);
        if (!e->json) {
            gen_events_free(evs, i);
            return NULL;
        }
        memcpy(e->json, buf, (size_t)len + 1);
        e->len = (size_t)len;
    }
    return evs;
}

void gen_events_free(struct gen_event *evs, size_t n)
{
    if (!evs)
        return;
    for (size_t i = 0; i < n; i++)
        free(evs[i].json);
    free(evs);
}

int parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 100;
    o->inflight = 64;
    o->seed = 1;
    o->aggregate = 1;
    o->linger = 5;
    o->senders = 2;
    o->max_attempt = 5000;
    o->spool = "/tmp/tp-producer-check-spool";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "option %s needs a value\n", k);
            return 2;
        }
        i++;
        if (!strcmp(k, "--count"))
            o->count = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--seed"))
            o->seed = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--exact-seed")) {
            o->seed = (unsigned)strtoul(v, NULL, 10);
            o->has_exact = 1;
        } else if (!strcmp(k, "--batch"))
            o->batch = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--inflight"))
            o->inflight = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--acked"))
            o->acked = v;
        else if (!strcmp(k, "--spool"))
            o->spool = v;
        else if (!strcmp(k, "--aggregate"))
            o->aggregate = atoi(v);
        else if (!strcmp(k, "--linger"))
            o->linger = atoi(v);
        else if (!strcmp(k, "--senders"))
            o->senders = atoi(v);
        else if (!strcmp(k, "--max-attempt"))
            o->max_attempt = atoi(v);
        else if (!strcmp(k, "--spool-max"))
            o->spool_max = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--agg-max"))
            o->agg_max = atoi(v);
        else if (!strcmp(k, "--batch-max"))
            o->batch_max = atoi(v);
        else if (!strcmp(k, "--wait-drain"))
            o->wait_drain = atoi(v);
        else if (!strcmp(k, "--pace"))
            o->pace = atof(v);
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    if (o->batch == 0 || o->inflight == 0) {
        fprintf(stderr, "--batch and --inflight must be > 0\n");
        return 2;
    }
    return 0;
}

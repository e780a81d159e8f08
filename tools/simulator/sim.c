/* sim.c — the run loop: generate a day, sort it, emit it; plus option checks and the file sink.
 *
 * A day's events are generated tenant by tenant, so they arrive out of time order; they are
 * sorted by (occurred_at, generation order) with a stable radix sort. Events after the day's
 * end (a session running past midnight, a long job) are carried into the next day's buffer,
 * so the whole output is in time order while memory holds about one day. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp/backoff.h"
#include "sim_internal.h"

struct tp_sim {
    sim_world w;
    tp_sim_stats st;
    int ran;
};

sim_ev *sim_evbuf_push(sim_evbuf *b, sim_tenant *t, uint32_t tidx, uint8_t type, int64_t ts)
{
    sim_ev *e;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 65536;
        sim_ev *nv = b->failed ? NULL : realloc(b->v, nc * sizeof *nv);
        if (!nv) {
            b->failed = 1;
            e = &b->scratch;
            goto fill;
        }
        b->v = nv;
        b->cap = nc;
    }
    e = &b->v[b->n++];
fill:
    memset(e, 0, sizeof *e);
    e->ts = ts;
    e->tenant = tidx;
    e->type = type;
    if (ts > t->busy_until)
        t->busy_until = ts;
    return e;
}

int tp_sim_new(const tp_sim_options *opt, tp_sim **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!opt)
        return tp_errf(err, errlen, TP_EINVAL, "no options");
    if (opt->tenants < 1 || opt->tenants > 100000)
        return tp_errf(err, errlen, TP_EINVAL, "--tenants must be 1..100000 (got %u)", opt->tenants);
    if (opt->end_ms <= opt->start_ms)
        return tp_errf(err, errlen, TP_EINVAL, "the period is empty: end must be after start");
    if (opt->end_ms - opt->start_ms > 3660 * SIM_MS_DAY)
        return tp_errf(err, errlen, TP_EINVAL, "the period is longer than 10 years");
    if (opt->start_ms < 0)
        return tp_errf(err, errlen, TP_EINVAL, "--start must be after 1970");
    if (!(opt->invalid_share >= 0 && opt->invalid_share <= 0.5))
        return tp_errf(err, errlen, TP_EINVAL, "--invalid-share must be 0..0.5");
    if (opt->events_per_day > 1e9)
        return tp_errf(err, errlen, TP_EINVAL, "--events-per-day must be at most 1e9");
    tp_sim *s = calloc(1, sizeof *s);
    if (!s)
        return tp_errf(err, errlen, TP_ENOMEM, "out of memory");
    int rc = sim_world_init(&s->w, opt, err, errlen);
    if (rc) {
        sim_world_free(&s->w);
        free(s);
        return rc;
    }
    if (s->w.opt.speed <= 0)
        s->w.opt.speed = 1.0;
    *out = s;
    return 0;
}

void tp_sim_free(tp_sim *s)
{
    if (!s)
        return;
    sim_world_free(&s->w);
    free(s);
}

const tp_sim_stats *tp_sim_get_stats(const tp_sim *s) { return &s->st; }

/* Sort keys[i] = (time offset << 32 | index) by the upper 32 bits, stably: two 16-bit LSD
 * passes. Input is in index order, so ties keep generation order. */
static int radix_sort(uint64_t *keys, size_t n)
{
    uint64_t *tmp = malloc(n * sizeof *tmp);
    uint32_t *cnt = malloc(65536 * sizeof *cnt);
    if (!tmp || !cnt) {
        free(tmp);
        free(cnt);
        return TP_ENOMEM;
    }
    uint64_t *src = keys, *dst = tmp;
    for (int shift = 32; shift < 64; shift += 16) {
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> shift) & 0xFFFF]++;
        uint32_t sum = 0;
        for (size_t b = 0; b < 65536; b++) {
            uint32_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 0xFFFF]++] = src[i];
        uint64_t *x = src;
        src = dst;
        dst = x;
    }
    /* two passes: the result is back in keys */
    free(tmp);
    free(cnt);
    return 0;
}

typedef struct run_ctx {
    tp_sim *s;
    const tp_sim_sink *sinks;
    size_t nsinks;
    sim_truth *truth;
    sim_emitter em;
    sim_rng inject_rng;
    uint64_t lines;
    int64_t wall0;      /* live: wall clock at start */
    int has_idle;
    char line[SIM_LINE_MAX];
} run_ctx;

static int to_sinks(run_ctx *c, size_t len, int valid)
{
    for (size_t k = 0; k < c->nsinks; k++) {
        if (c->sinks[k].line) {
            int rc = c->sinks[k].line(c->sinks[k].ctx, c->line, len, valid);
            if (rc)
                return rc;
        }
    }
    c->lines++;
    return 0;
}

/* Live mode: wait until the event's wall-clock moment, letting sinks work meanwhile. */
static int pace(run_ctx *c, int64_t wall_target)
{
    for (;;) {
        int64_t now = tp_now_wall_ms();
        if (now >= wall_target)
            return 0;
        int64_t wait = wall_target - now;
        if (wait > 200)
            wait = 200;
        if (c->has_idle) {
            for (size_t k = 0; k < c->nsinks; k++) {
                if (c->sinks[k].idle) {
                    int rc = c->sinks[k].idle(c->sinks[k].ctx, wait);
                    if (rc)
                        return rc;
                }
            }
        } else {
            tp_sleep_ms((uint32_t)wait);
        }
    }
}

static int emit_one(run_ctx *c, sim_ev *e)
{
    tp_sim *s = c->s;
    const tp_sim_options *o = &s->w.opt;
    int rc;
    if (o->live) {
        /* Simulated time runs `speed` times faster than the wall clock; occurred_at is the
         * wall-clock moment of emission so the events are never in the future. */
        int64_t wall = c->wall0 + (int64_t)((double)(e->ts - o->start_ms) / o->speed);
        if ((rc = pace(c, wall)))
            return rc;
        e->ts = wall;
    }
    if (o->invalid_share > 0 && sim_rng_chance(&c->inject_rng, o->invalid_share)) {
        tp_sim_defect d;
        size_t len = sim_emit_invalid(&c->em, e, &d, c->line);
        if (c->truth)
            sim_truth_invalid(c->truth, c->lines, d);
        if ((rc = to_sinks(c, len, 0)))
            return rc;
        s->st.invalid++;
    }
    size_t len = sim_emit_line(&c->em, e, c->line);
    if (c->truth)
        sim_truth_event(c->truth, e);
    if ((rc = to_sinks(c, len, 1)))
        return rc;
    s->st.events++;
    s->st.by_type[e->type]++;
    if (e->type == TP_EV_TENANT_CREATED)
        s->st.tenants++;
    if ((c->lines & 4095) == 0) {
        for (size_t k = 0; k < c->nsinks; k++)
            if (c->sinks[k].progress)
                c->sinks[k].progress(c->sinks[k].ctx, e->ts, c->lines);
    }
    return 0;
}

/* Sort buf, emit what is before `limit` (and before the run's end), keep the rest in *carry. */
static int emit_window(run_ctx *c, sim_evbuf *buf, int64_t base, int64_t limit, sim_evbuf *carry)
{
    int rc = 0;
    size_t n = buf->n;
    uint64_t *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys)
        return TP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int64_t off = buf->v[i].ts - base;
        if (off < 0 || off > (int64_t)UINT32_MAX) { /* generation never goes back or 49 days ahead */
            rc = TP_EINTERNAL;
            goto out;
        }
        keys[i] = (uint64_t)off << 32 | (uint64_t)i;
    }
    if ((rc = radix_sort(keys, n)))
        goto out;
    carry->n = 0;
    int64_t end = c->s->w.opt.end_ms;
    for (size_t k = 0; k < n; k++) {
        sim_ev *e = &buf->v[keys[k] & 0xFFFFFFFFu];
        if (e->ts >= end)
            continue; /* past the period: dropped (its causes were all earlier) */
        if (e->ts >= limit) {
            if (carry->n == carry->cap) {
                size_t nc = carry->cap ? carry->cap * 2 : 4096;
                sim_ev *nv = realloc(carry->v, nc * sizeof *nv);
                if (!nv) {
                    rc = TP_ENOMEM;
                    goto out;
                }
                carry->v = nv;
                carry->cap = nc;
            }
            carry->v[carry->n++] = *e;
            continue;
        }
        if ((rc = emit_one(c, e)))
            goto out;
    }
out:
    free(keys);
    return rc;
}

int tp_sim_run(tp_sim *s, const tp_sim_sink *sinks, size_t nsinks, FILE *truth, char *err, size_t errlen)
{
    int rc = 0;
    sim_evbuf buf = {0}, carry = {0};
    run_ctx *c = NULL;
    if (s->ran)
        return tp_errf(err, errlen, TP_EINVAL, "a simulator runs once");
    s->ran = 1;
    const tp_sim_options *o = &s->w.opt;
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory");
        goto out;
    }
    c->s = s;
    c->sinks = sinks;
    c->nsinks = nsinks;
    sim_emitter_init(&c->em, &s->w, o->seed);
    sim_rng_seed(&c->inject_rng, o->seed, 3);
    c->wall0 = tp_now_wall_ms();
    for (size_t k = 0; k < nsinks; k++)
        c->has_idle |= sinks[k].idle != NULL;
    if (truth && sim_truth_new(&s->w, truth, &c->truth)) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory for the ground truth");
        goto out;
    }

    for (int64_t day = o->start_ms; day < o->end_ms; day += SIM_MS_DAY) {
        int64_t day_end = day + SIM_MS_DAY;
        /* The previous day's carry comes first: it was generated earlier, so on equal times
         * it keeps its place ahead of today's events. */
        buf.n = 0;
        for (size_t k = 0; k < carry.n; k++) {
            sim_tenant *t = &s->w.tenants[carry.v[k].tenant];
            *sim_evbuf_push(&buf, t, carry.v[k].tenant, 0, 0) = carry.v[k];
        }
        sim_world_day(&s->w, day, day_end, &buf);
        for (int64_t h = day; h < day_end && h < o->end_ms; h += SIM_MS_HOUR) {
            int64_t to = h + SIM_MS_HOUR < o->end_ms ? h + SIM_MS_HOUR : o->end_ms;
            sim_world_hour(&s->w, h, to, &buf);
        }
        if (buf.failed || s->w.failed) {
            rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory while generating a day");
            goto out;
        }
        if ((rc = emit_window(c, &buf, day, day_end, &carry))) {
            tp_errf(err, errlen, rc, "emitting events failed: %s", tp_strerror(rc));
            goto out;
        }
    }
    for (size_t k = 0; k < nsinks; k++) {
        if (sinks[k].progress)
            sinks[k].progress(sinks[k].ctx, o->end_ms, c->lines);
        if (sinks[k].finish && (rc = sinks[k].finish(sinks[k].ctx))) {
            tp_errf(err, errlen, rc, "finishing output failed: %s", tp_strerror(rc));
            goto out;
        }
    }
    /* Live: the truth speaks in emitted (wall-clock) times, like the events. */
    int64_t t_start = o->live ? c->wall0 : o->start_ms;
    int64_t t_end = o->live ? c->wall0 + (int64_t)((double)(o->end_ms - o->start_ms) / o->speed) : o->end_ms;
    if (c->truth && (rc = sim_truth_finish(c->truth, &s->st, t_start, t_end, o->seed))) {
        tp_errf(err, errlen, rc, "writing the ground truth failed: %s", tp_strerror(rc));
        goto out;
    }
out:
    if (c)
        sim_truth_free(c->truth);
    free(c);
    free(buf.v);
    free(carry.v);
    return rc;
}

/* ---- file sink ---- */

#define SIM_FILE_BUF (1 << 20)

struct tp_sim_file_sink {
    FILE *f;
    size_t n;
    char buf[SIM_FILE_BUF];
};

static int file_flush(tp_sim_file_sink *fs)
{
    if (fs->n && fwrite(fs->buf, 1, fs->n, fs->f) != fs->n)
        return TP_EIO;
    fs->n = 0;
    return 0;
}

static int file_line(void *ctx, const char *line, size_t len, int valid)
{
    tp_sim_file_sink *fs = ctx;
    (void)valid;
    if (fs->n + len > SIM_FILE_BUF) {
        int rc = file_flush(fs);
        if (rc)
            return rc;
    }
    memcpy(fs->buf + fs->n, line, len);
    fs->n += len;
    return 0;
}

static int file_idle(void *ctx, int64_t wait_ms)
{
    /* Live output should show up as it happens, not a megabyte later. */
    tp_sim_file_sink *fs = ctx;
    int rc = file_flush(fs);
    if (rc == 0 && fflush(fs->f) != 0)
        rc = TP_EIO;
    tp_sleep_ms((uint32_t)wait_ms);
    return rc;
}

static int file_finish(void *ctx)
{
    tp_sim_file_sink *fs = ctx;
    int rc = file_flush(fs);
    if (rc == 0 && fflush(fs->f) != 0)
        rc = TP_EIO;
    return rc;
}

int tp_sim_file_sink_new(FILE *f, tp_sim_file_sink **out, tp_sim_sink *sink)
{
    *out = NULL;
    tp_sim_file_sink *fs = malloc(sizeof *fs);
    if (!fs)
        return TP_ENOMEM;
    fs->f = f;
    fs->n = 0;
    memset(sink, 0, sizeof *sink);
    sink->line = file_line;
    sink->idle = file_idle;
    sink->finish = file_finish;
    sink->ctx = fs;
    *out = fs;
    return 0;
}

void tp_sim_file_sink_free(tp_sim_file_sink *fs) { free(fs); }

/* ---- time parsing ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int tp_sim_parse_time(const char *s, int64_t *ms_out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return TP_EINVAL;
    const char *p = s + 10;
    int64_t frac_ms = 0, off_min = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int m2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m2) != 3 || m2 != 8)
            return TP_EINVAL;
        p += 9;
        if (*p == '.') {
            int scale = 100;
            for (p++; *p >= '0' && *p <= '9'; p++) {
                frac_ms += (*p - '0') * scale;
                scale /= 10;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, m3 = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m3) != 2 || m3 != 5)
                return TP_EINVAL;
            off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            return TP_EINVAL;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return TP_EINVAL;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms_out = ((days * 86400 + h * 3600 + mi * 60 + sec) - off_min * 60) * 1000 + frac_ms;
    return 0;
}

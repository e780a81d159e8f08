/* main.c — tp-sim: command line, wiring of outputs, exit status. The simulation is in tp_sim. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "post.h"
#include "sim.h"
#include "tp/backoff.h"
#include "tp/log.h"

#define MS_DAY 86400000LL

typedef struct cli {
    tp_sim_options o;
    double days;
    const char *start, *end, *out, *truth, *to, *token;
    long concurrency, batch;
    int progress; /* -1 auto (stderr is a terminal), 0 off, 1 on */
} cli;

/* One table: the option, its argument, and the help text (printed by --help in this order). */
static const struct opt {
    const char *name, *arg, *help;
} opts[] = {
    {"--seed", "N", "random seed (default 1); same seed and options give byte-identical output"},
    {"--tenants", "T", "number of tenants (default 20)"},
    {"--days", "D", "days to simulate (default 7; live: run this long, default forever)"},
    {"--start", "TIME", "period start, e.g. 2026-01-01T00:00:00Z (default: UTC midnight D days ago)"},
    {"--end", "TIME", "period end (default start + D days, never after now)"},
    {"--events-per-day", "N", "approximate events per day over all tenants (default 100 per tenant)"},
    {"--tenant-prefix", "STR", "tenant ids are <STR><4 digits> (default \"t\")"},
    {"--invalid-share", "X", "also inject this share (0..0.5) of invalid events, every kind of defect (default 0)"},
    {"--out", "FILE|-", "write NDJSON events to FILE or stdout (default stdout unless --to)"},
    {"--truth", "FILE", "write the ground-truth NDJSON to FILE"},
    {"--to", "URL", "POST events to ingest-api at URL (…/v1/events)"},
    {"--token", "KEY", "bearer token for --to (or env TP_SIM_TOKEN)"},
    {"--concurrency", "N", "requests in flight for --to (default 8)"},
    {"--batch", "N", "events per request for --to, 1..500 (default 100)"},
    {"--live", NULL, "emit at wall-clock pace from now on instead of a backfill"},
    {"--speed", "X", "live: simulated seconds per wall second (default 1)"},
    {"--progress", NULL, "show a progress line on stderr (default: when stderr is a terminal)"},
    {"--no-progress", NULL, "never show a progress line"},
    {"--help", NULL, "this text"},
};

static void usage(FILE *f)
{
    fputs("usage: tp-sim [options]\n"
          "Simulates tenantpulse tenants and users: NDJSON events (file, stdout or POST to ingest-api)\n"
          "and a ground-truth file to check the pipeline against. See docs/simulator.md.\n\n",
          f);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char left[40];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
        fprintf(f, "  %-24s %s\n", left, opts[i].help);
    }
    fputs("\nexamples:\n"
          "  tp-sim --seed 7 --tenants 20 --days 3 --out events.ndjson --truth truth.ndjson\n"
          "  tp-sim --seed 7 --tenants 10 --days 2 --to http://127.0.0.1:8081 --token $TOKEN\n"
          "  tp-sim --live --speed 60 --tenants 50 --to http://127.0.0.1:8081 --token $TOKEN\n"
          "exit status: 0 ok, 1 error, 2 usage, 3 some valid events were not accepted\n",
          f);
}

static int num(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "tp-sim: %s: bad value '%s' (expected %g..%g)\n", name, v, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_args(int argc, char **argv, cli *c)
{
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (strcmp(a, opts[k].name) == 0)
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "tp-sim: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        const char *v = NULL;
        if (o->arg) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tp-sim: %s needs a value (%s)\n", a, o->arg);
                return 2;
            }
            v = argv[++i];
        }
        int bad = 0;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            c->o.seed = strtoull(v, &end, 10);
            bad = errno || end == v || *end || *v == '-';
            if (bad)
                fprintf(stderr, "tp-sim: --seed: bad value '%s'\n", v);
        } else if (!strcmp(a, "--tenants")) {
            bad = num(a, v, 1, 100000, &d) || d != floor(d);
            c->o.tenants = (uint32_t)d;
        } else if (!strcmp(a, "--days")) {
            bad = num(a, v, 0.001, 3650, &c->days);
        } else if (!strcmp(a, "--start")) {
            c->start = v;
        } else if (!strcmp(a, "--end")) {
            c->end = v;
        } else if (!strcmp(a, "--events-per-day")) {
            bad = num(a, v, 1, 1e9, &c->o.events_per_day);
        } else if (!strcmp(a, "--tenant-prefix")) {
            c->o.tenant_prefix = v;
        } else if (!strcmp(a, "--invalid-share")) {
            bad = num(a, v, 0, 0.5, &c->o.invalid_share);
        } else if (!strcmp(a, "--out")) {
            c->out = v;
        } else if (!strcmp(a, "--truth")) {
            c->truth = v;
        } else if (!strcmp(a, "--to")) {
            c->to = v;
        } else if (!strcmp(a, "--token")) {
            c->token = v;
        } else if (!strcmp(a, "--concurrency")) {
            bad = num(a, v, 1, 256, &d);
            c->concurrency = (long)d;
        } else if (!strcmp(a, "--batch")) {
            bad = num(a, v, 1, 500, &d); /* ingest-api takes at most 500 per request */
            c->batch = (long)d;
        } else if (!strcmp(a, "--live")) {
            c->o.live = 1;
        } else if (!strcmp(a, "--speed")) {
            bad = num(a, v, 0.001, 1e6, &c->o.speed);
        } else if (!strcmp(a, "--progress")) {
            c->progress = 1;
        } else if (!strcmp(a, "--no-progress")) {
            c->progress = 0;
        }
        if (bad)
            return 2;
    }
    return 0;
}

/* Work out [start, end): see --help. Backfill events are all before now (ingest-api rejects
 * future ones); a default start is a UTC midnight so reruns on the same day are identical. */
static int resolve_period(cli *c)
{
    int64_t now = tp_now_wall_ms();
    tp_sim_options *o = &c->o;
    if (c->start && tp_sim_parse_time(c->start, &o->start_ms)) {
        fprintf(stderr, "tp-sim: --start: not a time: '%s'\n", c->start);
        return 2;
    }
    if (c->end && tp_sim_parse_time(c->end, &o->end_ms)) {
        fprintf(stderr, "tp-sim: --end: not a time: '%s'\n", c->end);
        return 2;
    }
    if (o->live) {
        if (c->start || c->end) {
            fprintf(stderr, "tp-sim: --live starts now; --start/--end are for backfills\n");
            return 2;
        }
        o->start_ms = now;
        o->end_ms = now + (int64_t)((c->days > 0 ? c->days : 3650) * MS_DAY);
        return 0;
    }
    double days = c->days > 0 ? c->days : 7;
    if (!c->start) {
        if (c->end)
            o->start_ms = o->end_ms - (int64_t)(days * MS_DAY);
        else
            o->start_ms = (now / MS_DAY) * MS_DAY - (int64_t)(days * MS_DAY);
    }
    if (!c->end) {
        o->end_ms = o->start_ms + (int64_t)(days * MS_DAY);
        if (o->end_ms > now)
            o->end_ms = now;
    }
    if (o->end_ms > now) {
        fprintf(stderr, "tp-sim: --end is in the future; a backfill ends now at the latest (or use --live)\n");
        return 2;
    }
    if (o->end_ms <= o->start_ms) {
        fprintf(stderr, "tp-sim: the period is empty (start must be before end and before now)\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli c = {.o = {.seed = 1, .tenants = 20}, .concurrency = 8, .batch = 100, .progress = -1};
    int rc = 1, st;
    char err[256] = "";
    tp_sim *sim = NULL;
    FILE *out = NULL, *truth = NULL;
    tp_sim_file_sink *fs = NULL;
    sim_poster *poster = NULL;
    sim_progress *pg = NULL;
    tp_sim_sink sinks[3];
    size_t nsinks = 0;
    int curl_up = 0;

    tp_log_init("tp-sim");
    if ((st = parse_args(argc, argv, &c)))
        return st == 1 ? 0 : 2;
    if ((st = resolve_period(&c)))
        return st;
    if (!c.token)
        c.token = getenv("TP_SIM_TOKEN");
    if (c.to && (!c.token || !*c.token)) {
        fprintf(stderr, "tp-sim: --to needs --token KEY (or TP_SIM_TOKEN)\n");
        return 2;
    }
    if (!c.out && !c.to)
        c.out = "-";
    if (tp_sim_new(&c.o, &sim, err, sizeof err)) {
        fprintf(stderr, "tp-sim: %s\n", err);
        return 2;
    }

    if (c.out) {
        out = strcmp(c.out, "-") == 0 ? stdout : fopen(c.out, "w");
        if (!out) {
            fprintf(stderr, "tp-sim: cannot write %s: %s\n", c.out, strerror(errno));
            goto out;
        }
        if (tp_sim_file_sink_new(out, &fs, &sinks[nsinks]))
            goto oom;
        nsinks++;
    }
    if (c.truth && !(truth = fopen(c.truth, "w"))) {
        fprintf(stderr, "tp-sim: cannot write %s: %s\n", c.truth, strerror(errno));
        goto out;
    }
    if (c.to) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            goto oom;
        curl_up = 1;
        if (sim_poster_new(c.to, c.token, (int)c.concurrency, (int)c.batch, &poster, err, sizeof err)) {
            fprintf(stderr, "tp-sim: %s\n", err);
            goto out;
        }
        sim_poster_sink(poster, &sinks[nsinks++]);
    }
    if (c.progress == 1 || (c.progress == -1 && isatty(STDERR_FILENO) && out != stdout)) {
        if (sim_progress_new(c.o.start_ms, c.o.end_ms, &pg))
            goto oom;
        sim_progress_sink(pg, &sinks[nsinks++]);
    }

    int64_t t0 = tp_now_mono_ns();
    if (tp_sim_run(sim, sinks, nsinks, truth, err, sizeof err)) {
        sim_progress_free(pg);
        pg = NULL;
        fprintf(stderr, "tp-sim: %s\n", err);
        goto out;
    }
    double secs = (double)(tp_now_mono_ns() - t0) / 1e9;
    sim_progress_free(pg);
    pg = NULL;
    if (truth) {
        int bad = fclose(truth) != 0;
        truth = NULL;
        if (bad) {
            fprintf(stderr, "tp-sim: writing %s failed\n", c.truth);
            goto out;
        }
    }
    const tp_sim_stats *ss = tp_sim_get_stats(sim);
    /* The summary goes to stdout, unless the events do. */
    FILE *sum = out == stdout ? stderr : stdout;
    if (poster) {
        sim_post_stats ps;
        sim_poster_stats(poster, &ps);
        fprintf(sum,
                "{\"sent\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"retries\":%" PRIu64
                ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"valid\":%" PRIu64 ",\"invalid_injected\":%" PRIu64
                ",\"failed\":%" PRIu64 "}\n",
                ps.sent, ps.accepted, ps.rejected, ps.retries, ps.seconds,
                ps.seconds > 0 ? (double)ps.sent / ps.seconds : 0.0, ps.valid, ss->invalid, ps.failed);
        rc = ps.accepted >= ps.valid && ps.failed == 0 ? 0 : 3;
    } else {
        fprintf(sum,
                "{\"events\":%" PRIu64 ",\"invalid_injected\":%" PRIu64 ",\"tenants\":%" PRIu64
                ",\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
                ss->events, ss->invalid, ss->tenants, secs, secs > 0 ? (double)(ss->events + ss->invalid) / secs : 0.0);
        rc = 0;
    }
    goto out;
oom:
    fprintf(stderr, "tp-sim: out of memory\n");
out:
    sim_progress_free(pg);
    sim_poster_free(poster);
    if (curl_up)
        curl_global_cleanup();
    tp_sim_file_sink_free(fs);
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "tp-sim: writing %s failed\n", c.out);
        rc = 1;
    }
    if (truth)
        fclose(truth);
    tp_sim_free(sim);
    return rc;
}

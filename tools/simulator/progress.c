/* progress.c — a one-line progress display on stderr: simulated time done, rate, ETA.
 * Progress is measured in simulated time because the event count is not known in advance. */
#include <stdio.h>
#include <stdlib.h>

#include "post.h"
#include "tp/backoff.h"

struct sim_progress {
    int64_t start_ms, end_ms;
    int64_t t0, last_draw;
    int drawn;
};

int sim_progress_new(int64_t start_ms, int64_t end_ms, sim_progress **out)
{
    sim_progress *pg = calloc(1, sizeof *pg);
    if (!pg)
        return TP_ENOMEM;
    pg->start_ms = start_ms;
    pg->end_ms = end_ms;
    pg->t0 = tp_now_mono_ms();
    *out = pg;
    return 0;
}

void sim_progress_free(sim_progress *pg)
{
    if (!pg)
        return;
    if (pg->drawn)
        fputc('\n', stderr);
    free(pg);
}

static void on_progress(void *ctx, int64_t sim_ms, uint64_t lines)
{
    sim_progress *pg = ctx;
    int64_t now = tp_now_mono_ms();
    int done = sim_ms >= pg->end_ms;
    if (!done && now - pg->last_draw < 250)
        return;
    pg->last_draw = now;
    double frac = (double)(sim_ms - pg->start_ms) / (double)(pg->end_ms - pg->start_ms);
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    double secs = (double)(now - pg->t0) / 1000.0;
    double rate = secs > 0 ? (double)lines / secs : 0;
    long eta = frac > 0 ? (long)(secs * (1 - frac) / frac) : 0;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    fprintf(stderr, "\r[%s] %5.1f%%  %llu events  %.0f ev/s  ETA %ld:%02ld:%02ld ", bar, frac * 100,
            (unsigned long long)lines, rate, eta / 3600, eta / 60 % 60, eta % 60);
    pg->drawn = 1;
}

void sim_progress_sink(sim_progress *pg, tp_sim_sink *sink)
{
    *sink = (tp_sim_sink){0};
    sink->progress = on_progress;
    sink->ctx = pg;
}

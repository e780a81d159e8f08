/* post.h — tp-sim's HTTP output: events POSTed to ingest-api in batches, several at once.
 *
 * Lines from the simulator are packed into JSON arrays of up to `batch` events and POSTed to
 * <url>/v1/events with "Authorization: Bearer <token>", with up to `concurrency` requests in
 * flight (libcurl multi, one thread). 429 and 503 are retried after their Retry-After, other
 * 5xx and transport errors with full-jitter backoff; other answers are final. Accepted and
 * rejected counts come from the 202 bodies ({"accepted":n,"rejected":[...]}).
 *
 * Owns its curl handles and buffers; copies url and token. */
#ifndef TP_SIM_POST_H
#define TP_SIM_POST_H

#include <stdint.h>

#include "sim.h"

typedef struct sim_poster sim_poster;

typedef struct sim_post_stats {
    uint64_t sent;      /* events whose request got a final answer */
    uint64_t accepted;
    uint64_t rejected;  /* rejected by ingest-api (or in a batch refused as a whole) */
    uint64_t failed;    /* never delivered: retries exhausted */
    uint64_t valid;     /* valid events handed to the poster */
    uint64_t retries;
    double seconds;
} sim_post_stats;

int sim_poster_new(const char *url, const char *token, int concurrency, int batch, sim_poster **out,
                   char *err, size_t errlen) TP_MUSTCHECK;
void sim_poster_free(sim_poster *p); /* NULL-safe; abandons requests in flight */
/* Fills a sink whose finish waits until every batch has its final answer. */
void sim_poster_sink(sim_poster *p, tp_sim_sink *sink);
void sim_poster_stats(const sim_poster *p, sim_post_stats *out);

/* A progress line on stderr (rate, %, ETA) for [start_ms, end_ms) of simulated time. */
typedef struct sim_progress sim_progress;
int sim_progress_new(int64_t start_ms, int64_t end_ms, sim_progress **out) TP_MUSTCHECK;
void sim_progress_free(sim_progress *pg); /* NULL-safe; ends the line */
void sim_progress_sink(sim_progress *pg, tp_sim_sink *sink);

#endif

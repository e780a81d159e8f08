/* metrics.h — Prometheus metrics: counters, gauges and histograms in a registry.
 *
 * A service creates one registry, registers its metrics at start-up (not on hot paths), and
 * updates them lock-free from any thread. A metric family is (name, help, type); each labelled
 * series is obtained once with tp_metrics_*_get(name, label-pairs) and then updated by handle.
 * The registry owns every metric; handles stay valid until tp_metrics_free. */
#ifndef TP_METRICS_H
#define TP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

typedef struct tp_metrics tp_metrics;
typedef struct tp_counter tp_counter;
typedef struct tp_gauge tp_gauge;
typedef struct tp_histogram tp_histogram;

int tp_metrics_new(tp_metrics **out) TP_MUSTCHECK;
void tp_metrics_free(tp_metrics *m); /* NULL-safe */

/* labels: "k1=v1,k2=v2" (values must not contain ',' '=' or '"'), or NULL for none.
 * Returns NULL only on out-of-memory; the same (name, labels) returns the same handle. */
tp_counter *tp_metrics_counter(tp_metrics *m, const char *name, const char *help, const char *labels);
tp_gauge *tp_metrics_gauge(tp_metrics *m, const char *name, const char *help, const char *labels);
/* bounds: ascending upper bounds (seconds for latencies), copied; +Inf is implicit. */
tp_histogram *tp_metrics_histogram(tp_metrics *m, const char *name, const char *help, const char *labels,
                                   const double *bounds, size_t nbounds);

void tp_counter_add(tp_counter *c, uint64_t n); /* NULL-safe no-op */
void tp_gauge_set(tp_gauge *g, double v);
void tp_gauge_add(tp_gauge *g, double d);
void tp_histogram_observe(tp_histogram *h, double v);

/* Default latency buckets, seconds: 0.0005 .. 10. */
extern const double tp_metrics_latency_bounds[];
extern const size_t tp_metrics_latency_nbounds;

/* Render the Prometheus text exposition format (0.0.4). *out is malloc'd; caller frees. */
int tp_metrics_render(tp_metrics *m, char **out, size_t *outlen) TP_MUSTCHECK;

#endif

/* metrics.c — Prometheus registry (see metrics.h).
 *
 * Registration takes a mutex (start-up only); updates are C11 atomics so request threads
 * never contend. Doubles (gauges, histogram sums) live as bit patterns in atomic uint64 and
 * are updated by compare-and-swap. */
#include "tp/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

struct tp_counter {
    _Atomic uint64_t v;
};
struct tp_gauge {
    _Atomic uint64_t bits;
};
struct tp_histogram {
    double *bounds;
    size_t nbounds;
    _Atomic uint64_t *buckets; /* nbounds + 1 (last is +Inf), non-cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_bits;
};

typedef struct series {
    struct series *next;
    char *labels; /* "k=v,k2=v2" as given, or NULL */
    union {
        struct tp_counter c;
        struct tp_gauge g;
        struct tp_histogram h;
    } u;
} series;

typedef struct family {
    struct family *next;
    char *name;
    char *help;
    metric_kind kind;
    series *head;
    series *tail;
} family;

struct tp_metrics {
    pthread_mutex_t mu;
    family *head;
    family *tail;
};

const double tp_metrics_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t tp_metrics_latency_nbounds = sizeof tp_metrics_latency_bounds / sizeof tp_metrics_latency_bounds[0];

static uint64_t dbl_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static double bits_dbl(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

int tp_metrics_new(tp_metrics **out)
{
    tp_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return TP_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

static void series_free(series *s, metric_kind kind)
{
    if (kind == KIND_HISTOGRAM) {
        free(s->u.h.bounds);
        free((void *)s->u.h.buckets);
    }
    free(s->labels);
    free(s);
}

void tp_metrics_free(tp_metrics *m)
{
    if (!m)
        return;
    family *f = m->head;
    while (f) {
        family *fn = f->next;
        series *s = f->head;
        while (s) {
            series *sn = s->next;
            series_free(s, f->kind);
            s = sn;
        }
        free(f->name);
        free(f->help);
        free(f);
        f = fn;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static int labels_eq(const char *a, const char *b)
{
    if (!a || !*a)
        return !b || !*b;
    return b && strcmp(a, b) == 0;
}

/* Find or create the series; caller holds mu. */
static series *get_series(tp_metrics *m, const char *name, const char *help, metric_kind kind, const char *labels,
                          int *created)
{
    family *f;
    *created = 0;
    for (f = m->head; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f)
            return NULL;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        f->kind = kind;
        if (!f->name || !f->help) {
            free(f->name);
            free(f->help);
            free(f);
            return NULL;
        }
        if (m->tail)
            m->tail->next = f;
        else
            m->head = f;
        m->tail = f;
    }
    if (f->kind != kind)
        return NULL; /* same name registered as another type: a programming error */
    for (series *s = f->head; s; s = s->next)
        if (labels_eq(s->labels, labels))
            return s;
    series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (labels && *labels && !(s->labels = strdup(labels))) {
        free(s);
        return NULL;
    }
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    *created = 1;
    return s;
}

tp_counter *tp_metrics_counter(tp_metrics *m, const char *name, const char *help, const char *labels)
{
    int created;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, help, KIND_COUNTER, labels, &created);
    pthread_mutex_unlock(&m->mu);
    return s ? &s->u.c : NULL;
}

tp_gauge *tp_metrics_gauge(tp_metrics *m, const char *name, const char *help, const char *labels)
{
    int created;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, help, KIND_GAUGE, labels, &created);
    pthread_mutex_unlock(&m->mu);
    return s ? &s->u.g : NULL;
}

tp_histogram *tp_metrics_histogram(tp_metrics *m, const char *name, const char *help, const char *labels,
                                   const double *bounds, size_t nbounds)
{
    int created;
    tp_histogram *h = NULL;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, help, KIND_HISTOGRAM, labels, &created);
    if (s && created) {
        s->u.h.bounds = malloc(nbounds * sizeof(double) + 1);
        s->u.h.buckets = calloc(nbounds + 1, sizeof(uint64_t));
        if (!s->u.h.bounds || !s->u.h.buckets) {
            /* Leave the series unusable rather than half-built: observers get NULL. */
            pthread_mutex_unlock(&m->mu);
            return NULL;
        }
        memcpy(s->u.h.bounds, bounds, nbounds * sizeof(double));
        s->u.h.nbounds = nbounds;
    }
    if (s && s->u.h.buckets)
        h = &s->u.h;
    pthread_mutex_unlock(&m->mu);
    return h;
}

void tp_counter_add(tp_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void tp_gauge_set(tp_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, dbl_bits(v), memory_order_relaxed);
}

static void atomic_add_double(_Atomic uint64_t *bits, double d)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, dbl_bits(bits_dbl(old) + d), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

void tp_gauge_add(tp_gauge *g, double d)
{
    if (g)
        atomic_add_double(&g->bits, d);
}

void tp_histogram_observe(tp_histogram *h, double v)
{
    if (!h)
        return;
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

/* --- rendering --- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed; /* sticky: checked once at the end */
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) TP_PRINTF(2, 3);

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

/* Write {k="v",k2="v2"[,extra]} from "k=v,k2=v2"; nothing if both empty. */
static void sb_labels(sbuf *b, const char *labels, const char *extra)
{
    int have = labels && *labels;
    if (!have && !extra)
        return;
    sb_printf(b, "{");
    int first = 1;
    if (have) {
        const char *p = labels;
        while (*p) {
            const char *eq = strchr(p, '=');
            if (!eq)
                break;
            const char *end = strchr(eq, ',');
            if (!end)
                end = eq + strlen(eq);
            sb_printf(b, "%s%.*s=\"%.*s\"", first ? "" : ",", (int)(eq - p), p, (int)(end - eq - 1), eq + 1);
            first = 0;
            p = *end ? end + 1 : end;
        }
    }
    if (extra)
        sb_printf(b, "%s%s", first ? "" : ",", extra);
    sb_printf(b, "}");
}

int tp_metrics_render(tp_metrics *m, char **out, size_t *outlen)
{
    sbuf b = {0};
    b.cap = 4096;
    b.p = malloc(b.cap);
    if (!b.p)
        return TP_ENOMEM;
    b.p[0] = '\0';
    static const char *kind_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->mu);
    for (family *f = m->head; f; f = f->next) {
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kind_names[f->kind]);
        for (series *s = f->head; s; s = s->next) {
            if (f->kind == KIND_COUNTER) {
                sb_printf(&b, "%s", f->name);
                sb_labels(&b, s->labels, NULL);
                sb_printf(&b, " %llu\n", (unsigned long long)atomic_load(&s->u.c.v));
            } else if (f->kind == KIND_GAUGE) {
                sb_printf(&b, "%s", f->name);
                sb_labels(&b, s->labels, NULL);
                sb_printf(&b, " %.17g\n", bits_dbl(atomic_load(&s->u.g.bits)));
            } else {
                tp_histogram *h = &s->u.h;
                if (!h->buckets)
                    continue;
                uint64_t cum = 0;
                char le[64];
                for (size_t i = 0; i <= h->nbounds; i++) {
                    cum += atomic_load(&h->buckets[i]);
                    if (i < h->nbounds)
                        snprintf(le, sizeof le, "le=\"%g\"", h->bounds[i]);
                    else
                        snprintf(le, sizeof le, "le=\"+Inf\"");
                    sb_printf(&b, "%s_bucket", f->name);
                    sb_labels(&b, s->labels, le);
                    sb_printf(&b, " %llu\n", (unsigned long long)cum);
                }
                sb_printf(&b, "%s_sum", f->name);
                sb_labels(&b, s->labels, NULL);
                sb_printf(&b, " %.17g\n", bits_dbl(atomic_load(&h->sum_bits)));
                sb_printf(&b, "%s_count", f->name);
                sb_labels(&b, s->labels, NULL);
                sb_printf(&b, " %llu\n", (unsigned long long)atomic_load(&h->count));
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (b.failed) {
        free(b.p);
        return TP_ENOMEM;
    }
    *out = b.p;
    if (outlen)
        *outlen = b.len;
    return 0;
}

/* rng.c — distributions over xoshiro256** (see rng.h). */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    /* An all-zero state would stay zero forever; splitmix64 cannot give four zeros, but be sure. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

double sim_rng_exp(sim_rng *r, double mean)
{
    /* 1 - u is in (0, 1], so the log is finite. */
    return -mean * log(1.0 - sim_rng_unit(r));
}

double sim_rng_normal(sim_rng *r)
{
    /* Box-Muller; we use one of the pair and drop the other to keep the state a plain value. */
    double u1 = 1.0 - sim_rng_unit(r);
    double u2 = sim_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double sim_rng_lognormal(sim_rng *r, double median, double sigma)
{
    return median * exp(sigma * sim_rng_normal(r));
}

uint32_t sim_rng_poisson(sim_rng *r, double lambda)
{
    if (lambda <= 0)
        return 0;
    if (lambda > 30) {
        double v = lambda + sqrt(lambda) * sim_rng_normal(r) + 0.5;
        return v < 0 ? 0 : (uint32_t)v;
    }
    /* Knuth's product method: fine for small lambda, which is nearly every tenant-hour. */
    double l = exp(-lambda), p = 1.0;
    uint32_t k = 0;
    for (;;) {
        p *= sim_rng_unit(r);
        if (p <= l)
            return k;
        k++;
    }
}

uint32_t sim_rng_geometric(sim_rng *r, double mean)
{
    if (mean <= 0)
        return 0;
    double p = 1.0 / (1.0 + mean);
    double u = 1.0 - sim_rng_unit(r);
    return (uint32_t)floor(log(u) / log(1.0 - p));
}

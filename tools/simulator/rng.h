/* rng.h — the simulator's pseudo-random numbers: xoshiro256** seeded through splitmix64.
 *
 * Every random choice tp-sim makes comes from one of these generators, each seeded from
 * (--seed, stream), so the same options give byte-identical output. Not for secrets.
 * The generator is a plain value; callers own it (usually inside a bigger struct). */
#ifndef TP_SIM_RNG_H
#define TP_SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

/* Distinct streams of one seed are independent for our purposes (splitmix64 spreads them). */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t sim_rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** (Blackman & Vigna): fast, 256 bits of state, passes BigCrush. */
static inline uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(sim_rng *r) { return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n); n > 0. Multiply-shift (Lemire) without the rejection step: the bias is
 * below 2^-32 for the small n we use, far under anything a test could see. */
static inline uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)sim_rng_next(r) * n) >> 64);
}

/* 1 with probability p. */
static inline int sim_rng_chance(sim_rng *r, double p) { return sim_rng_unit(r) < p; }

double sim_rng_exp(sim_rng *r, double mean);          /* exponential */
double sim_rng_normal(sim_rng *r);                    /* standard normal */
double sim_rng_lognormal(sim_rng *r, double median, double sigma);
uint32_t sim_rng_poisson(sim_rng *r, double lambda);  /* normal approximation above 30 */
uint32_t sim_rng_geometric(sim_rng *r, double mean);  /* 0, 1, 2, ... with the given mean */

#endif

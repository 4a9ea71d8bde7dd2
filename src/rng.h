/*
 * rng.h - the one seeded random-number source: splitmix64 (Steele, Lea and
 * Flood 2014) for seeding and simple streams, xoshiro256** (Blackman and
 * Vigna 2018) for long ones. Deterministic for a seed, so bootstrap
 * intervals, Monte Carlo routing and dataset shuffles are reproducible.
 */
#ifndef IPW_RNG_H
#define IPW_RNG_H

#include <stdint.h>

/* One splitmix64 step: advances *state, returns the next value. */
uint64_t splitmix64(uint64_t *state);

struct rng {
	uint64_t s[4];
};

/* Seeds xoshiro256** from splitmix64(seed). */
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1), 53 bits. */
double rng_unit(struct rng *r);
/* Uniform in [0, n), without modulo bias (Lemire's multiply-and-reject); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

#endif

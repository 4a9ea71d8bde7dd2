/*
 * estimate.h - telling measured energy from estimated energy: a run whose
 * sources include the cputime back-end (the built-in engine's CPU time x
 * watts per core, src/telemetry/cputime.c) has estimated energy, and the
 * commands that put runs side by side refuse to mix the two unless asked.
 */
#ifndef IPW_ESTIMATE_H
#define IPW_ESTIMATE_H

#include <stddef.h>

#include "record.h"

struct store;

/* 1 when any of the run's sources is an estimate, else 0. */
int run_is_estimated(const struct run_record *r);
/* "estimated" or "measured": the run's energy method, for show/export/compare/report. */
const char *run_energy_method(const struct run_record *r);
/*
 * With ALLOW 0: -1 with err (naming one run of each kind and the option
 * --allow-estimated) when the N runs mix measured and estimated energy;
 * otherwise 0.
 */
int runs_check_estimated(const struct run_record *runs, size_t n, int allow, char *err, size_t errlen);
/*
 * The same for the runs REFS[0..n) (ids or names) of ST: the number of
 * estimated ones, their ids in IDS (", "-separated; IDS may be NULL); -1 with
 * err when a run is missing, or when they mix and ALLOW is 0.
 */
int runs_check_estimated_refs(struct store *st, char *const *refs, size_t n, int allow, char *ids, size_t idslen,
			      char *err, size_t errlen);

#endif

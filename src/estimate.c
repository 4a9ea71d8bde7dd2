/*
 * estimate.c - the energy method of a run (measured or estimated, see
 * estimate.h) and the one check that keeps measured and estimated runs apart.
 */
#include "estimate.h"

#include <string.h>

#include "telemetry/cputime.h"
#include "util.h"

int run_is_estimated(const struct run_record *r)
{
	for (int i = 0; r && i < r->nsources; i++)
		if (r->sources[i].backend && !strcmp(r->sources[i].backend, CPUTIME_BACKEND))
			return 1;
	return 0;
}

const char *run_energy_method(const struct run_record *r)
{
	return run_is_estimated(r) ? "estimated" : "measured";
}

int runs_check_estimated(const struct run_record *runs, size_t n, int allow, char *err, size_t errlen)
{
	const struct run_record *est = NULL, *meas = NULL;

	for (size_t i = 0; i < n; i++) {
		if (run_is_estimated(&runs[i]))
			est = est ? est : &runs[i];
		else
			meas = meas ? meas : &runs[i];
	}
	if (allow || !est || !meas)
		return 0;
	return err_set(err, errlen, "run %s has estimated energy (CPU time x watts per core) and run %s measured "
		       "energy: they do not compare; give --allow-estimated to put them side by side anyway",
		       est->id ? est->id : "?", meas->id ? meas->id : "?");
}

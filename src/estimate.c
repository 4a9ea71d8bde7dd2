/*
 * estimate.c - the energy method of a run (measured or estimated, see
 * estimate.h) and the one check that keeps measured and estimated runs apart.
 */
#include "estimate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
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

int runs_check_estimated_refs(struct store *st, char *const *refs, size_t n, int allow, char *ids, size_t idslen,
			      char *err, size_t errlen)
{
	struct run_record *runs = xcalloc(n ? n : 1, sizeof *runs);
	size_t got = 0, k = 0;
	int rc = -1, nest = 0;

	if (ids && idslen)
		ids[0] = 0;
	for (; got < n; got++)
		if (store_run_get(st, refs[got], &runs[got], err, errlen) < 0)
			goto out;
	if (runs_check_estimated(runs, n, allow, err, errlen))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!run_is_estimated(&runs[i]))
			continue;
		nest++;
		if (ids && k < idslen)
			k += (size_t)snprintf(ids + k, idslen - k, "%s%s", k ? ", " : "", runs[i].id ? runs[i].id : "?");
	}
	rc = nest;
out:
	for (size_t i = 0; i < got; i++)
		run_record_release(&runs[i]);
	free(runs);
	return rc;
}

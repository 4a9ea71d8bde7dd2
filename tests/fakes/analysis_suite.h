/*
 * analysis_suite.h - the Criterion set-up the unit tests on the store of
 * analysis_fixture.h share (tests/unit/test_analysis.c, test_paper.c): a
 * fresh temporary folder holding the fixture store, opened as st, for each
 * test; write_text for input files in that folder; find_row for a routing
 * result's row. Static functions only; include once per test file.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "analysis_fixture.h"

#define EPS 1e-9

static char dir[64], dbpath[96];
static struct store st;

static void fx_setup(void)
{
	char err[IPW_ERRLEN];
	strcpy(dir, "/tmp/ipw-analysis-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/a.db", dir);
	cr_assert_eq(fixture_build(dbpath, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_open(&st, dbpath, 0, err, sizeof(err)), 0, "%s", err);
}

static void fx_teardown(void)
{
	char cmd[160];
	store_close(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Writes text to DIR/name; its path into path[0..n). */
static void write_text(const char *name, const char *text, char *path, size_t n)
{
	FILE *f;
	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

/* The row of scheme at router accuracy p (NAN: a row without p), exact (mc 0) or Monte Carlo; fails the test if none. */
static const struct route_row *find_row(const struct route_result *r, const char *scheme, double p, int mc)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].scheme, scheme) && r->rows[i].monte_carlo == mc &&
		    (isnan(p) ? isnan(r->rows[i].p) : fabs(r->rows[i].p - p) < 1e-12))
			return &r->rows[i];
	cr_assert_fail("no row %s p=%g mc=%d", scheme, p, mc);
	return NULL;
}

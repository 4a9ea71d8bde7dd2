/*
 * bin_mkpaper.c - writes the analysis test store (analysis_fixture.h) plus a
 * run 9 "small-m4" on a second accelerator, "Fake M4 Max": model qwen3-1b,
 * the answers of run 1, energies 5, 5, 5, 10, 10 J at 1 s (mean power 7 W,
 * IPW 0.4 / 7). For tests/cli/paper.sh's local-against-cloud tables.
 * Usage: mkpaper PATH
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis_fixture.h"

static int add_m4_run(const char *path, char *err, size_t errlen)
{
	static const int ok[5] = {1, 0, 0, 1, 0};
	static const double e[5] = {5, 5, 5, 10, 10};
	struct store st;
	struct run_record r = fx_run("small-m4", "qwen3-1b");
	struct run_source src;
	int rc;

	if ((rc = store_open(&st, path, 0, err, errlen)) < 0)
		return rc;
	memset(&src, 0, sizeof(src));
	src.name = "gpu0";
	src.backend = "fake";
	src.kind = "gpu";
	src.scope = "accelerator";
	src.model = "Fake M4 Max";
	src.power_limit_w = src.idle_before_w = src.idle_after_w = NAN;
	r.sources = &src;
	r.nsources = 1;
	if ((rc = store_run_create(&st, &r, err, errlen)) < 0)
		goto out;
	for (int i = 0; i < 5 && rc >= 0; i++) {
		struct query_record q = fx_query(i, fx_items[i], fx_subjects[i], e[i], 1, 100);
		if ((rc = store_query_insert(&st, r.id, &q, err, errlen)) >= 0)
			rc = fx_score(&st, r.id, fx_items[i], ok[i], err, errlen);
	}
out:
	free(r.id);
	store_close(&st);
	return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
	char err[IPW_ERRLEN];

	if (argc != 2) {
		fprintf(stderr, "usage: mkpaper PATH\n");
		return 2;
	}
	if (fixture_build(argv[1], err, sizeof(err)) < 0 || add_m4_run(argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "mkpaper: %s\n", err);
		return 1;
	}
	return 0;
}

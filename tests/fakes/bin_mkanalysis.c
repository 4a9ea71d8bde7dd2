/*
 * bin_mkanalysis.c - writes the analysis test store (tests/fakes/analysis_fixture.h
 * describes its runs and numbers) for tests/cli/analysis.sh and report.sh.
 * Usage: mkanalysis PATH
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis_fixture.h"

int main(int argc, char **argv)
{
	char err[IPW_ERRLEN];

	if (argc != 2) {
		fprintf(stderr, "usage: mkanalysis PATH\n");
		return 2;
	}
	if (fixture_build(argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "mkanalysis: %s\n", err);
		return 1;
	}
	return 0;
}

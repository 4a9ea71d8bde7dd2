/*
 * cmd/report.c - 'ipw report RUN... --out DIR': writes DIR/index.html, a
 * self-contained page (plots embedded) with the comparison, coverage,
 * routing, regression and attribution tables and their plots, and each plot
 * as DIR/<name>.png and .svg. The work is in src/report.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../estimate.h"
#include "cmd.h"
#include "report.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw report RUN... --out DIR [options]\n"
		"  --out DIR        folder for index.html and the plots (created if missing)\n"
		"  --cloud RUN      cloud baseline of the routing section (the other runs are local)\n"
		"  --prices FILE    per-token prices for routing's cost (see ipw route simulate --help)\n"
		"  --params FILE    active parameters for routing's compute\n"
		"  --intersect      use only the items every run has (coverage, routing)\n"
		"  --allow-estimated  mix runs with estimated energy (--api builtin) and measured ones\n"
		"  --title TEXT     the page's title\n"
		"  --bootstrap N    resamples for the intervals (default 2000)\n"
		"  --trials N       routing Monte Carlo trials (default 200)\n"
		"  --store PATH     the store to read (default ./ipw.db)\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},
		{"cloud", required_argument, NULL, 'c'},
		{"prices", required_argument, NULL, 'P'},
		{"params", required_argument, NULL, 'A'},
		{"intersect", no_argument, NULL, 'i'},
		{"title", required_argument, NULL, 'T'},
		{"bootstrap", required_argument, NULL, 'b'},
		{"trials", required_argument, NULL, 't'},
		{"allow-estimated", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	char err[IPW_ERRLEN], *end;
	struct store st;
	struct report_options o;
	int ch, rc = EXIT_INPUT, allow_est = 0;

	report_options_init(&o);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case 'c': o.cloud = optarg; break;
		case 'P': o.prices = optarg; break;
		case 'A': o.params = optarg; break;
		case 'i': o.intersect = 1; break;
		case 'T': o.title = optarg; break;
		case 'b':
			o.bootstrap = (int)strtol(optarg, &end, 10);
			if (*end || o.bootstrap < 0) {
				fprintf(stderr, "ipw report: --bootstrap wants a count >= 0, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			o.trials = (int)strtol(optarg, &end, 10);
			if (*end || o.trials < 0 || o.trials > 100000) {
				fprintf(stderr, "ipw report: --trials wants a count in 0..100000, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'E': allow_est = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc || !o.out_dir) {
		fprintf(stderr, "ipw report: %s\n", optind >= argc ? "name at least one run" :
			"name the output folder with --out DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	o.runs = argv + optind;
	o.nruns = (size_t)(argc - optind);
	o.store_label = path ? path : "ipw.db";
	if (store_open(&st, path, STORE_READONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw report: %s\n", err);
		return EXIT_INPUT;
	}
	if (runs_check_estimated_refs(&st, o.runs, o.nruns, allow_est, NULL, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw report: %s\n", err);
		rc = EXIT_INPUT;
	} else if (report_write(&st, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw report: %s\n", err);
		rc = strstr(err, "cannot") ? EXIT_ENV : EXIT_INPUT;
	} else {
		printf("wrote %s/index.html (and each plot as PNG and SVG in %s)\n", o.out_dir, o.out_dir);
		rc = 0;
	}
	store_close(&st);
	return rc;
}

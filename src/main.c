/*
 * main.c - ipw's entry point: dispatches to the subcommand named by argv[1]
 * through a static table.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{"devices", cmd_devices, "list telemetry back-ends and what each source can measure"},
	{"monitor", cmd_monitor, "sample power and energy live, then summarise"},
	{"calibrate", cmd_calibrate, "drive a known on/off GPU/CPU load and check how telemetry follows it"},
	{"profile", cmd_profile, "stream a dataset to an inference server and record every query"},
	{"runs", cmd_runs, "list stored runs"},
	{"show", cmd_show, "show one run: configuration, hardware, totals, accuracy, IPW, IPJ"},
	{"export", cmd_export, "export one run's queries as CSV or JSONL"},
	{"score", cmd_score, "score a run's answers (offline graders or an LLM judge), resumable"},
	{"compare", cmd_compare, "one row per run: accuracy, IPW, IPJ, energy, latency with intervals"},
	{"coverage", cmd_coverage, "coverage per run and best-of-N over runs, per subject"},
	{"route", cmd_route, "simulate hybrid local/cloud routing: oracle, router of accuracy p, cascade"},
	{"analyze", cmd_analyze, "regressions of energy, latency, TTFT on tokens; weighted metrics"},
	{"attribute", cmd_attribute, "split an IPW/IPJ change between two runs into accuracy and power"},
	{"report", cmd_report, "a self-contained HTML report with tables and plots"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw <command> [options]   (ipw <command> --help for its options)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nipw %s - intelligence per watt: energy, latency and accuracy per query\n",
		IPW_VERSION);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ipw %s\n", IPW_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ipw: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

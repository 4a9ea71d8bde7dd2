/*
 * main.c - ipw's entry point: dispatches to the subcommand named by argv[1]
 * through a static table, which also says what shared handling each command
 * has (cmd/common.h); 'ipw help CMD' and 'ipw CMD -h' print a command's usage.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/common.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned flags;       /* CMD_NEEDS_STORE, CMD_TAKES_RUNS, CMD_OUTPUT (cmd/common.h) */
	const char *help;
};

#define S CMD_NEEDS_STORE
#define R CMD_TAKES_RUNS
#define O CMD_OUTPUT
static const struct command commands[] = {
	{"devices", cmd_devices, O, "list telemetry back-ends and what each source can measure"},
	{"monitor", cmd_monitor, 0, "sample power and energy live, then summarise"},
	{"calibrate", cmd_calibrate, 0, "drive a known on/off GPU/CPU load and check how telemetry follows it"},
	{"profile", cmd_profile, S, "stream a dataset to an inference server and record every query"},
	{"serve", cmd_serve_model, 0, "serve a GGUF model with the built-in engine over an OpenAI-compatible API"},
	{"runs", cmd_runs, S | O, "list stored runs"},
	{"show", cmd_show, S | R | O, "show one run: configuration, hardware, totals, accuracy, IPW, IPJ"},
	{"export", cmd_export, S | R | O, "export one run's queries as CSV or JSONL"},
	{"score", cmd_score, S | R, "score a run's answers (offline graders or an LLM judge), resumable"},
	{"compare", cmd_compare, S | R | O, "one row per run: accuracy, IPW, IPJ, energy, latency with intervals"},
	{"coverage", cmd_coverage, S | R | O, "coverage per run and best-of-N over runs, per subject"},
	{"route", cmd_route, S | R | O, "hybrid local/cloud routing: simulate (oracle, router of accuracy p, cascade), serve, train, replay"},
	{"analyze", cmd_analyze, S | R | O, "regressions of energy, latency, TTFT on tokens; weighted metrics"},
	{"attribute", cmd_attribute, S | R | O, "split an IPW/IPJ change between two runs into accuracy and power"},
	{"report", cmd_report, S | R, "a self-contained HTML report with tables and plots"},
	{"levels", cmd_levels, S | R | O, "difficulty levels: the smallest model size class answering each item"},
	{"trends", cmd_trends, S | R | O, "accuracy, IPW, IPJ, coverage by model release period; IPW change factored"},
	{"ranks", cmd_ranks, S | R | O, "rank stability: Kendall tau and Spearman rho by subject, dataset or level, and bootstrap"},
	{"repeats", cmd_repeats, S | R | O, "repeated runs: mean and sigma across repeats beside each run's interval"},
	{"localcloud", cmd_localcloud, S | R | O, "the same models on local and cloud accelerators: ratios, pivots, coverage"},
	{"gdi", cmd_gdi, S | O, "gross domestic intelligence of a scenario: IPW x accessible power, with and without local devices"},
	{"compute", cmd_compute, S | R | O, "FLOPs per query from active and total parameters, FLOPs/J, MFU, MBU"},
	{"study", cmd_study, S, "create a study (dataset x configs) for many workers; show its progress"},
	{"worker", cmd_worker, S, "claim and measure a study's items from a PostgreSQL queue, each recorded once"},
	{"merge", cmd_merge, S, "copy runs between stores (SQLite, PostgreSQL), keeping ids; merging twice adds nothing"},
};
#undef S
#undef R
#undef O
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw <command> [options]   (ipw help <command> or ipw <command> --help for its options)\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nipw %s - intelligence per watt: energy, latency and accuracy per query\n",
		IPW_VERSION);
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* Runs cmd with --help in place of its arguments: its usage on stdout. */
static int command_help(const struct command *c)
{
	char *argv[] = {(char *)c->name, "--help", NULL};
	int rc = c->fn(2, argv);
	if (c->flags & (CMD_NEEDS_STORE | CMD_TAKES_RUNS))
		printf("\n%s%s\n", c->flags & CMD_NEEDS_STORE ? "The store: --store PATH (default $IPW_STORE, else ./ipw.db; a path or a postgresql:// URI). " : "",
		       c->flags & CMD_TAKES_RUNS ? "A run: its id, a name only one run has, or 'last'." : "");
	return rc;
}

int main(int argc, char **argv)
{
	const struct command *c;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    (!strcmp(argv[1], "help") && argc == 2)) {
		usage(stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ipw %s\n", IPW_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		if (!(c = find(argv[2]))) {
			fprintf(stderr, "ipw help: unknown command '%s'\n", argv[2]);
			usage(stderr);
			return EXIT_USAGE;
		}
		return command_help(c);
	}
	if ((c = find(argv[1]))) {
		if (argc == 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))
			return command_help(c);
		return c->fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "ipw: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

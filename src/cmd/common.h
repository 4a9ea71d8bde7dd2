/*
 * cmd/common.h - what the commands share: the command table's flags (main.c),
 * the common options --store, --format text|json|csv|jsonl and --json (short
 * for --format json), opening the store (read-only for read commands), looking
 * up a run with the one clear error, and the table writer (src/table.h) for
 * every table a command prints. Functions here print their error on stderr
 * as "ipw CMD: ..." and return the exit status to use (0 when fine).
 *
 * A command converted to this handling looks like:
 *
 *	static const struct option opts[] = { CMD_COMMON_OPTIONS, {"mine", 1, 0, 'm'}, {0, 0, 0, 0} };
 *	struct cmd_common cc;
 *	cmd_common_init(&cc, "runs", OUT_TEXT | OUT_JSON | OUT_CSV, OUT_TEXT);
 *	optind = 1;
 *	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
 *		int r = cmd_common_option(&cc, ch, optarg);
 *		if (r == CMD_OPT_HANDLED) continue;
 *		if (r == CMD_OPT_HELP) { usage(stdout); return 0; }
 *		if (r == CMD_OPT_ERROR) return EXIT_USAGE;
 *		switch (ch) { case 'm': ...; default: usage(stderr); return EXIT_USAGE; }
 *	}
 *	if ((rc = cmd_store_open(&cc, &st, CMD_STORE_READ))) return rc;
 *	if ((rc = cmd_run_get(&cc, &st, argv[optind], &run))) goto out;
 *	table_init(&t, cc.format, cols, ncols, stdout); ...rows...; table_finish(&t);
 */
#ifndef IPW_CMD_COMMON_H
#define IPW_CMD_COMMON_H

#include <getopt.h>

#include "../store.h"
#include "../table.h"
#include "cmd.h"

/* Flags of a command in main.c's table: what the shared handling gives it. */
#define CMD_NEEDS_STORE 0x1u  /* --store PATH (default ./ipw.db) */
#define CMD_TAKES_RUNS 0x2u   /* operands are runs: an id, a name only one run has, or 'last' */
#define CMD_OUTPUT 0x4u       /* --format (text|json|csv|jsonl, as the command offers) and --json */

/* getopt_long values of the common options (outside the range of letters). */
enum { CMD_OPT_STORE = 1000, CMD_OPT_FORMAT, CMD_OPT_JSON };
#define CMD_COMMON_OPTIONS                                                                         \
	{"store", required_argument, NULL, CMD_OPT_STORE},                                         \
	{"format", required_argument, NULL, CMD_OPT_FORMAT},                                        \
	{"json", no_argument, NULL, CMD_OPT_JSON}, {"help", no_argument, NULL, 'h'}

/* The common options' values. cmd is the command's name, for messages. */
struct cmd_common {
	const char *cmd;
	const char *store;        /* --store, NULL = the default (./ipw.db) */
	enum out_format format;   /* --format / --json */
	unsigned formats;         /* the OUT_* bits the command offers */
};

void cmd_common_init(struct cmd_common *c, const char *cmd, unsigned formats, enum out_format dflt);

/* cmd_common_option results */
#define CMD_OPT_NOT_MINE 0   /* not a common option: the command's own switch handles ch */
#define CMD_OPT_HANDLED 1
#define CMD_OPT_HELP 2       /* -h / --help: print the usage on stdout, exit 0 */
#define CMD_OPT_ERROR (-1)   /* said on stderr; exit EXIT_USAGE */

/* Handles one getopt_long result ch (with its optarg) if it is a common option. */
int cmd_common_option(struct cmd_common *c, int ch, const char *arg);

/* Parses a --format value against c->formats; 0 or EXIT_USAGE (said). */
int cmd_format_set(struct cmd_common *c, const char *arg);

/* The usage lines of the common options c offers (for a command's usage()). */
void cmd_common_usage(FILE *f, const struct cmd_common *c, int store);

/*
 * Store modes. CMD_STORE_READ is for commands that only read: it opens the
 * store with STORE_READONLY (never written, migrated or switched to WAL).
 * CMD_STORE_WRITE may write (score).
 */
#define CMD_STORE_READ 0
#define CMD_STORE_WRITE 1

/* Opens c->store into st; 0, or EXIT_INPUT with the error said. st is closed with store_close. */
int cmd_store_open(const struct cmd_common *c, struct store *st, int mode);

/*
 * Reads the run named by spec (id, unique name or 'last') into r (released
 * by the caller with run_record_release, also on failure); 0, or EXIT_INPUT
 * with "no run 'x' in STORE (ipw runs lists them)" or the store's error said.
 */
int cmd_run_get(const struct cmd_common *c, struct store *st, const char *spec, struct run_record *r);

/* Exactly one operand (a run): 0, or EXIT_USAGE with "name one run" / "name only one run" said. */
int cmd_one_run(const struct cmd_common *c, int argc, char **argv, int first);

#endif

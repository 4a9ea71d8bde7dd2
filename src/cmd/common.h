/*
 * cmd/common.h - what the commands share: the command table's flags (main.c),
 * the common options --store, --format text|json|csv|jsonl and --json (short
 * for --format json), opening the store (read-only for read commands), looking
 * up a run with the one clear error, and the table writer (src/table.h) for
 * every table a command prints. Functions here print their error on stderr
 * as "ipw CMD: ..." and return the exit status to use (0 when fine).
 *
 * Commands parse their options with option tables (../optable.h) through
 * cmd_opt_parse, the common options being CMD_OPTDEFS_COMMON (common_opts.h):
 *
 *	struct my_args { struct cmd_common cc; int mine; };
 *	static const struct opt_def my_opts[] = { CMD_OPTDEFS_COMMON(struct my_args, cc), {"mine", ...} };
 *	cmd_common_init(&a.cc, "runs", OUT_TEXT | OUT_JSON | OUT_CSV, OUT_TEXT);
 *	if ((rc = cmd_opt_parse(&a.cc, my_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
 *		return rc == CMD_PARSE_HELP ? 0 : rc;
 *	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ))) return rc;
 *	if ((rc = cmd_run_get(&a.cc, &st, argv[first], &run))) goto out;
 *	table_init(&t, a.cc.format, cols, ncols, stdout); ...rows...; table_finish(&t);
 */
#ifndef IPW_CMD_COMMON_H
#define IPW_CMD_COMMON_H

#include "../store.h"
#include "../table.h"
#include "cmd.h"

/* Flags of a command in main.c's table: what the shared handling gives it. */
#define CMD_NEEDS_STORE 0x1u  /* --store PATH (default $IPW_STORE, else ./ipw.db) */
#define CMD_TAKES_RUNS 0x2u   /* operands are runs: an id, a name only one run has, or 'last' */
#define CMD_OUTPUT 0x4u       /* --format (text|json|csv|jsonl, as the command offers) and --json */

/* The common options' values. cmd is the command's name, for messages. */
struct cmd_common {
	const char *cmd;
	const char *store;        /* --store, NULL = the default ($IPW_STORE, else ./ipw.db) */
	enum out_format format;   /* --format / --json */
	unsigned formats;         /* the OUT_* bits the command offers */
};

void cmd_common_init(struct cmd_common *c, const char *cmd, unsigned formats, enum out_format dflt);

/* Parses a --format value against c->formats; 0 or EXIT_USAGE (said). */
int cmd_format_set(struct cmd_common *c, const char *arg);

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

/*
 * cmd/common_opts.h - the common options (--store, --format, --json) as
 * option-table entries (optable.h), for commands parsed by opt_parse: their
 * values land in the command's struct cmd_common (common.h), checked against
 * the formats it offers. Also a --seed hook that takes any unsigned 64-bit
 * number (decimal, 0x hex) like the commands always have, and reading the
 * runs a command names.
 */
#ifndef IPW_CMD_COMMON_OPTS_H
#define IPW_CMD_COMMON_OPTS_H

#include <stddef.h>

#include "../optable.h"
#include "common.h"

extern const struct opt_hooks cmd_format_hooks;  /* offset: the struct cmd_common */
extern const struct opt_hooks cmd_json_hooks;    /* offset: the struct cmd_common */
extern const struct opt_hooks cmd_seed_hooks;    /* offset: a uint64_t */

/*
 * The entries of --store, --format and --json; T is the options struct, cc its
 * struct cmd_common member. CMD_OPTDEF_FORMAT's help names the formats a
 * command offers when they are not all four.
 */
#define CMD_OPTDEF_STORE(T, cc)                                                                            \
	{"store", 0, OPT_STRING, offsetof(T, cc.store), "PATH", "the store (default $IPW_STORE, else ./ipw.db)", \
	 NULL, 0, 0, 0, NULL, NULL, NULL}
#define CMD_OPTDEF_FORMAT(T, cc, help)                                                                     \
	{"format", 0, OPT_STRING, offsetof(T, cc), "F", help, NULL, 0, 0, 0, NULL, NULL, &cmd_format_hooks}
#define CMD_OPTDEF_JSON(T, cc)                                                                             \
	{"json", 0, OPT_FLAG, offsetof(T, cc), NULL, "short for --format json", NULL, 0, 0, 0, NULL, NULL,     \
	 &cmd_json_hooks}
#define CMD_OPTDEFS_COMMON(T, cc)                                                                          \
	CMD_OPTDEF_STORE(T, cc), CMD_OPTDEF_FORMAT(T, cc, "text|json|csv|jsonl (default text)"),             \
	CMD_OPTDEF_JSON(T, cc)

/*
 * opt_parse for a command with the common options: prints the usage (on -h)
 * or "ipw CMD: error (ipw CMD --help lists the options)". 0 parsed (*first =
 * the first operand), CMD_PARSE_HELP (usage printed: exit 0) or EXIT_USAGE.
 */
#define CMD_PARSE_HELP (-1)
int cmd_opt_parse(const struct cmd_common *cc, const struct opt_def *defs, size_t n, void *target, int argc,
		  char **argv, int *first, unsigned char *given, void (*usage)(FILE *f));

/*
 * Reads the runs named by specs[0..n) into *runs (n records) and their ids
 * into *ids (a NULL-terminated list); both are the caller's to free
 * (run_record_release each, free; free_list), also on failure. 0, or
 * EXIT_INPUT with the error said.
 */
int cmd_runs_get(const struct cmd_common *c, struct store *st, char *const *specs, size_t n,
		 struct run_record **runs, char ***ids);

/* Frees what cmd_runs_get returned (NULL allowed). */
void cmd_runs_free(struct run_record *runs, char **ids, size_t n);

#endif

/*
 * cmd/common.c - the handling every command shares (common.h): --format
 * parsing, opening the store and looking up a run, each with its one error
 * message. (The common options' table entries are in common_opts.c.)
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

#include "../util.h"

void cmd_common_init(struct cmd_common *c, const char *cmd, unsigned formats, enum out_format dflt)
{
	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->formats = formats;
	c->format = dflt;
}

int cmd_format_set(struct cmd_common *c, const char *arg)
{
	int f = out_format_parse(arg);
	char list[64] = "";
	if (f > 0 && (c->formats & (unsigned)f)) {
		c->format = (enum out_format)f;
		return 0;
	}
	for (unsigned b = OUT_TEXT; b <= OUT_JSONL; b <<= 1)
		if (c->formats & b)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? ", " : "",
				 out_format_name((enum out_format)b));
	fprintf(stderr, "ipw %s: --format takes %s (got '%s')\n", c->cmd, list, arg);
	return EXIT_USAGE;
}

int cmd_store_open(const struct cmd_common *c, struct store *st, int mode)
{
	char err[IPW_ERRLEN];
	int flags = mode == CMD_STORE_READ ? STORE_READONLY : 0;
	if (store_open(st, c->store, flags, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: %s\n", c->cmd, err);
		return EXIT_INPUT;
	}
	return 0;
}

int cmd_run_get(const struct cmd_common *c, struct store *st, const char *spec, struct run_record *r)
{
	char err[IPW_ERRLEN];
	if (store_run_get(st, spec, r, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: %s\n", c->cmd, err);
		return EXIT_INPUT;
	}
	return 0;
}

int cmd_one_run(const struct cmd_common *c, int argc, char **argv, int first)
{
	if (argc - first == 1)
		return 0;
	fprintf(stderr, "ipw %s: %s (ipw %s --help)\n", c->cmd, first >= argc ? "name one run" : "name only one run",
		c->cmd);
	return EXIT_USAGE;
}

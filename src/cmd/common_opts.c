/*
 * cmd/common_opts.c - the common options as option-table hooks (see
 * common_opts.h).
 */
#include "common_opts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"

static int format_parse(const struct opt_def *d, void *target, const char *arg, char *err, size_t errlen)
{
	struct cmd_common *c = (struct cmd_common *)((char *)target + d->offset);
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
	return err_set(err, errlen, "--format takes %s", list);
}

static int json_parse(const struct opt_def *d, void *target, const char *arg, char *err, size_t errlen)
{
	return format_parse(d, target, "json", err, errlen);
}

static int seed_parse(const struct opt_def *d, void *target, const char *arg, char *err, size_t errlen)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 0);
	if (end == arg || *end || *arg == '-')
		return err_set(err, errlen, "--%s takes a number", d->name);
	*(uint64_t *)((char *)target + d->offset) = v;
	return 0;
}

const struct opt_hooks cmd_format_hooks = {format_parse, NULL, NULL, NULL, NULL, NULL};
const struct opt_hooks cmd_json_hooks = {json_parse, NULL, NULL, NULL, NULL, NULL};
const struct opt_hooks cmd_seed_hooks = {seed_parse, NULL, NULL, NULL, NULL, NULL};

int cmd_opt_parse(const struct cmd_common *cc, const struct opt_def *defs, size_t n, void *target, int argc,
		  char **argv, int *first, unsigned char *given, void (*usage)(FILE *f))
{
	char err[IPW_ERRLEN] = "";
	int rc = opt_parse(defs, n, target, argc, argv, first, given, err, sizeof(err));
	if (rc == OPT_HELP) {
		usage(stdout);
		return CMD_PARSE_HELP;
	}
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw %s: %s (ipw %s --help lists the options)\n", cc->cmd, err, cc->cmd);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_runs_get(const struct cmd_common *c, struct store *st, char *const *specs, size_t n,
		 struct run_record **runs, char ***ids)
{
	*runs = xcalloc(n ? n : 1, sizeof(**runs));
	*ids = xcalloc(n + 1, sizeof(**ids));
	for (size_t i = 0; i < n; i++) {
		int rc = cmd_run_get(c, st, specs[i], &(*runs)[i]);
		if (rc)
			return rc;
		(*ids)[i] = xstrdup((*runs)[i].id);
	}
	return 0;
}

void cmd_runs_free(struct run_record *runs, char **ids, size_t n)
{
	for (size_t i = 0; runs && i < n; i++)
		run_record_release(&runs[i]);
	free(runs);
	if (ids)
		free_list(ids);
}

/*
 * cmd/study.c - 'ipw study create NAME --dataset D --config SPEC...' queues
 * one row per item and config in the store; 'ipw study status NAME' shows a
 * study's progress per config and host. Workers (cmd/worker.c) do the work.
 * The queue needs a PostgreSQL store (docs/fleet.md).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dataset.h"
#include "../study.h"
#include "../util.h"
#include "common.h"
#include "common_opts.h"

#define MAX_CONFIGS 256

struct create_args {
	struct cmd_common cc;
	const char *dataset, *format;
	long long limit;
	int batch;
	struct study_config configs[MAX_CONFIGS];
	int nconfigs;
};

static int config_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct create_args *a = t;
	(void)d;
	if (a->nconfigs == MAX_CONFIGS)
		return err_set(err, errlen, "at most %d configs per study", MAX_CONFIGS);
	if (study_config_parse(arg, &a->configs[a->nconfigs], err, errlen) < 0)
		return -1;
	a->nconfigs++;
	return 0;
}

static const struct opt_hooks config_hooks = {.parse = config_parse};

#define C(f) offsetof(struct create_args, f)
static const struct opt_def create_opts[] = {
	CMD_OPTDEF_STORE(struct create_args, cc),
	{"dataset", 0, OPT_STRING, C(dataset), "PATH", "the JSONL dataset (every worker reads its own copy; "
	 "default the built-in set)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"dataset-format", 0, OPT_STRING, C(format), "F", "its format (default: detect)", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"limit", 0, OPT_LL, C(limit), "N", "the first N items only", NULL, 1, 9e18, OPT_BOUNDED, NULL, "N >= 1",
	 NULL},
	{"config", 0, OPT_STRING, OPT_NOFIELD, "SPEC", "a configuration, repeatable: 'NAME [model=M] [server=S] "
	 "[accelerator=A]\n[PROFILE OPTIONS...]' (labels, then options every worker of it uses)", NULL, 0, 0, 0, NULL,
	 NULL, &config_hooks},
	{"batch", 0, OPT_INT, C(batch), "N", "items per claim (default 50)", NULL, 1, 1e6, OPT_BOUNDED, NULL,
	 "1..1000000", NULL},
};
#define NCREATE (sizeof(create_opts) / sizeof(create_opts[0]))

struct status_args {
	struct cmd_common cc;
};

static const struct opt_def status_opts[] = {CMD_OPTDEFS_COMMON(struct status_args, cc)};
#define NSTATUS (sizeof(status_opts) / sizeof(status_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw study create NAME --dataset PATH --config SPEC [--config SPEC...] [--batch N]\n"
		"                        [--limit N] [--store postgresql://...]\n"
		"       ipw study status NAME [--store postgresql://...] [--format text|json|csv|jsonl]\n"
		"A study measures one dataset under several configs on many hosts: create queues every item of\n"
		"every config; workers (ipw worker --study NAME) claim and run them, each recorded once; status\n"
		"shows progress per config and host. The queue needs a PostgreSQL store (docs/fleet.md).\n\n"
		"create:\n");
	opt_usage(f, create_opts, NCREATE);
	fprintf(f, "status:\n");
	opt_usage(f, status_opts, NSTATUS);
	fprintf(f, "Example: --config 'q8 model=qwen3:8b server=vllm accelerator=H100 --max-tokens 256'\n");
}

static int study_cmd_create(int argc, char **argv)
{
	struct create_args a;
	struct study st;
	struct dataset ds;
	struct store s;
	char err[IPW_ERRLEN] = "", **ids = NULL;
	int rc, first = 0, loaded = 0, opened = 0;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	a.batch = 50;
	cmd_common_init(&a.cc, "study create", OUT_TEXT, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, create_opts, NCREATE, &a, argc, argv, &first, NULL, usage)))
		goto done;
	rc = EXIT_USAGE;
	if (first != argc - 1) {
		fprintf(stderr, "ipw study create: name the study once (ipw study --help)\n");
		goto done;
	}
	if (!a.nconfigs) {
		fprintf(stderr, "ipw study create: give at least one --config 'NAME model=M server=S accelerator=A'\n");
		goto done;
	}
	rc = EXIT_INPUT;
	if (dataset_load_format(&ds, a.dataset, a.format, err, sizeof(err)) < 0)
		goto fail;
	loaded = 1;
	if (a.limit > 0)
		dataset_limit(&ds, (size_t)a.limit);
	if (store_open(&s, a.cc.store, STORE_CREATE, err, sizeof(err)) < 0)
		goto fail;   /* a study may be the first thing in a new store */
	opened = 1;
	ids = xcalloc(ds.n + 1, sizeof(char *));
	for (size_t i = 0; i < ds.n; i++)
		ids[i] = ds.items[i].id;
	st.name = argv[first];
	st.dataset_path = ds.path;
	st.dataset_sha256 = ds.sha256;
	st.dataset_format = ds.format;
	st.n_items = (long long)ds.n;
	st.batch = a.batch;
	st.configs = a.configs;
	st.nconfigs = a.nconfigs;
	if (study_create(&s, &st, ids, ds.n, err, sizeof(err)) < 0)
		goto fail;
	printf("study %s (id %s): %zu items x %d configs queued in %s, %d items per claim\n", st.name, st.id, ds.n,
	       st.nconfigs, s.path, st.batch);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "ipw study create: %s\n", err);
done:
	free(st.id);
	free(ids);
	for (int i = 0; i < a.nconfigs; i++)
		study_config_release(&a.configs[i]);
	if (opened)
		store_close(&s);
	if (loaded)
		dataset_release(&ds);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}

static const struct tcol status_cols[] = {
	{"config", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"host", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"done", NULL, "items", TCOL_INT, NULL, TCOL_BOTH},
	{"leased", NULL, "items", TCOL_INT, NULL, TCOL_BOTH},
	{"pending", NULL, "items", TCOL_INT, NULL, TCOL_BOTH},
	{"claims", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"clock_offset_s", NULL, "s", TCOL_REAL, "%.4f", TCOL_BOTH},
};

struct status_ctx {
	struct table t;
	long long done, total;
};

static int status_row(const struct study_status_row *r, void *arg)
{
	struct status_ctx *c = arg;
	table_str(&c->t, r->config);
	table_str(&c->t, r->host[0] ? r->host : "(not done)");
	table_int(&c->t, r->done);
	table_int(&c->t, r->leased);
	table_int(&c->t, r->pending);
	table_int(&c->t, r->claims);
	table_real(&c->t, r->clock_offset_s);
	table_end_row(&c->t);
	c->done += r->done;
	c->total += r->done + r->leased + r->pending;
	return 0;
}

static int study_cmd_status(int argc, char **argv)
{
	struct status_args a;
	struct status_ctx c;
	struct study st;
	struct store s;
	char err[IPW_ERRLEN] = "";
	int rc, first = 0;

	memset(&c, 0, sizeof(c));
	cmd_common_init(&a.cc, "study status", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, status_opts, NSTATUS, &a, argc, argv, &first, NULL, usage)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if (first != argc - 1) {
		fprintf(stderr, "ipw study status: name one study\n");
		return EXIT_USAGE;
	}
	if ((rc = cmd_store_open(&a.cc, &s, CMD_STORE_READ)))
		return rc;
	rc = study_get(&s, argv[first], &st, err, sizeof(err));
	if (rc == 0) {
		table_init(&c.t, a.cc.format, status_cols, sizeof(status_cols) / sizeof(status_cols[0]), stdout);
		rc = study_status(&s, st.id, status_row, &c, err, sizeof(err));
		table_finish(&c.t);
		table_release(&c.t);
	}
	if (rc < 0)
		fprintf(stderr, "ipw study status: %s\n", err);
	else if (a.cc.format == OUT_TEXT)
		printf("study %s: %lld of %lld items done (%d configs x %lld items; clock offset: the store "
		       "server's clock minus the host's)\n", st.name, c.done, c.total, st.nconfigs, st.n_items);
	study_release(&st);
	store_close(&s);
	return rc < 0 ? EXIT_INPUT : 0;
}

int cmd_study(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return study_cmd_create(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "status"))
		return study_cmd_status(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "ipw study: say create or status (ipw study --help)\n");
	return EXIT_USAGE;
}

/*
 * cmd/runs.c - 'ipw runs': lists the runs of a store, one row each, as a
 * table, JSON, JSON lines or CSV (--format; --json): id, name, status, model, start,
 * items done of planned, failed queries, accelerator energy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "clock.h"
#include "common.h"
#include "common_opts.h"
#include "store.h"
#include "util.h"

static const struct tcol cols[] = {
	{"id", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH | TCOL_LEFT},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"status", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"model", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"group", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"started_at", NULL, "s since 1970", TCOL_REAL, "%.3f", TCOL_DATA},
	{"started", NULL, "ISO 8601 UTC", TCOL_STR, NULL, TCOL_BOTH},
	{"ended_at", NULL, "s since 1970", TCOL_REAL, "%.3f", TCOL_DATA},
	{"items_planned", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"items_done", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"done_planned", "DONE/PLANNED", NULL, TCOL_STR, NULL, TCOL_TEXT | TCOL_RIGHT},
	{"ok", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"failed", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"accel_energy_j", NULL, "J", TCOL_REAL, "%.1f", TCOL_BOTH},
};

struct runs_ctx {
	struct store *st;
	struct table t;
	char err[IPW_ERRLEN];
};

struct runs_args {
	struct cmd_common cc;
};

static const struct opt_def runs_opts[] = {CMD_OPTDEFS_COMMON(struct runs_args, cc)};
#define NOPTS (sizeof(runs_opts) / sizeof(runs_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw runs [--store PATH] [--format text|json|csv|jsonl] [--json]\n");
	opt_usage(f, runs_opts, NOPTS);
	fprintf(f, "Energy is the accelerator's gross energy summed over the run's recorded queries (J);\n"
		"'-' (text), null (JSON) or empty (CSV) means not measured.\n");
}

/* The one row emitter of the table, for every format. */
static int emit_run(const struct run_record *r, void *vctx)
{
	struct runs_ctx *c = vctx;
	struct agg_rows rows;
	struct agg_totals t;
	char started[32], done[72];
	int rc = agg_rows_load(c->st, r->id, AGG_LOAD_ITEMS, &rows, c->err, sizeof(c->err));

	if (rc == 0)
		agg_totals_compute(&rows, &t);
	agg_rows_release(&rows);
	if (rc < 0)
		return -1;
	table_int(&c->t, strtoll(r->id, NULL, 10));
	table_str(&c->t, r->name);
	table_str(&c->t, r->status);
	table_str(&c->t, r->model);
	table_str(&c->t, r->group_name);
	table_real(&c->t, r->started_at);
	if (!isnan(r->started_at)) {
		clock_format_iso(r->started_at, started, sizeof(started));
		table_str(&c->t, started);
	} else
		table_null(&c->t);
	table_real(&c->t, r->ended_at);
	if (r->n_items >= 0)
		table_int(&c->t, r->n_items);
	else
		table_null(&c->t);
	table_int(&c->t, t.n_queries);
	if (r->n_items >= 0)
		snprintf(done, sizeof(done), "%lld/%lld", t.n_queries, r->n_items);
	else
		snprintf(done, sizeof(done), "%lld/?", t.n_queries);
	table_str(&c->t, done);
	table_int(&c->t, t.n_ok);
	table_int(&c->t, t.n_failed);
	table_real(&c->t, t.accel_j_total);
	table_end_row(&c->t);
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	struct runs_args a;
	struct cmd_common *cc = &a.cc;
	struct store st;
	struct runs_ctx c;
	int rc, first, opened = 0;
	long n;

	memset(&c, 0, sizeof(c));
	cmd_common_init(cc, "runs", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(cc, runs_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		return rc == CMD_PARSE_HELP ? 0 : (usage(stderr), rc);
	if (first < argc) {
		fprintf(stderr, "ipw runs: unexpected argument '%s'\n", argv[first]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((rc = cmd_store_open(cc, &st, CMD_STORE_READ)))
		return rc;
	opened = 1;
	c.st = &st;
	table_init(&c.t, cc->format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	rc = EXIT_INPUT;
	if (store_runs_list(&st, emit_run, &c, c.err, sizeof(c.err)) < 0) {
		fprintf(stderr, "ipw runs: %s\n", c.err);
		goto out;
	}
	n = table_finish(&c.t);
	if (n == 0 && cc->format == OUT_TEXT)
		printf("no runs in %s yet (ipw profile records one)\n", st.path);
	rc = n < 0 || fflush(stdout) ? EXIT_ENV : 0;
out:
	table_release(&c.t);
	if (opened)
		store_close(&st);
	return rc;
}

/*
 * cmd/runs.c - 'ipw runs': lists the runs of a store, one line each (or a
 * JSON array with --json): id, name, status, model, start, items done of
 * planned, failed queries, accelerator energy.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "cmd.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

struct runs_ctx {
	struct store *st;
	json_t *json;       /* array, or NULL for text */
	int n;
	char err[IPW_ERRLEN];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw runs [--store PATH] [--json]\n"
		"  --store PATH   the store to read (default ./ipw.db)\n"
		"  --json         one JSON array of runs instead of a table\n"
		"Energy is the accelerator's gross energy summed over the run's recorded queries (J);\n"
		"'-' means not measured.\n");
}

static int print_run(const struct run_record *r, void *vctx)
{
	struct runs_ctx *c = vctx;
	struct run_totals t;
	char started[32] = "-", planned[32] = "?", energy[32] = "-";

	if (store_run_totals(c->st, r->id, &t, c->err, sizeof(c->err)) < 0)
		return -1;
	if (!isnan(r->started_at))
		clock_format_iso(r->started_at, started, sizeof(started));
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(strtoll(r->id, NULL, 10)));
		json_object_set_new(o, "name", json_string_or_null(r->name));
		json_object_set_new(o, "status", json_string_or_null(r->status));
		json_object_set_new(o, "model", json_string_or_null(r->model));
		json_object_set_new(o, "group", json_string_or_null(r->group_name));
		json_object_set_new(o, "started_at", json_real_or_null(r->started_at));
		json_object_set_new(o, "started", isnan(r->started_at) ? json_null() : json_string(started));
		json_object_set_new(o, "ended_at", json_real_or_null(r->ended_at));
		json_object_set_new(o, "items_planned", json_count_or_null(r->n_items));
		json_object_set_new(o, "items_done", json_integer(t.n_queries));
		json_object_set_new(o, "ok", json_integer(t.n_ok));
		json_object_set_new(o, "failed", json_integer(t.n_failed));
		json_object_set_new(o, "accel_energy_j", json_real_or_null(t.accel_j_total));
		json_array_append_new(c->json, o);
	} else {
		if (c->n == 0)
			printf("%-5s %-24s %-11s %-24s %-20s %12s %6s %14s\n", "ID", "NAME", "STATUS", "MODEL",
			       "STARTED", "DONE/PLANNED", "FAILED", "ACCEL_ENERGY_J");
		if (r->n_items >= 0)
			snprintf(planned, sizeof(planned), "%lld", r->n_items);
		if (!isnan(t.accel_j_total))
			snprintf(energy, sizeof(energy), "%.1f", t.accel_j_total);
		char done[72];
		snprintf(done, sizeof(done), "%lld/%s", t.n_queries, planned);
		printf("%-5s %-24s %-11s %-24s %-20s %12s %6lld %14s\n", r->id, r->name ? r->name : "",
		       r->status ? r->status : "", r->model ? r->model : "", started, done, t.n_failed, energy);
	}
	c->n++;
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	struct store st;
	struct runs_ctx c;
	int json = 0, ch, rc = EXIT_INPUT, opened = 0;

	memset(&c, 0, sizeof(c));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipw runs: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (store_open(&st, path, STORE_READONLY, c.err, sizeof(c.err)) < 0) {
		fprintf(stderr, "ipw runs: %s\n", c.err);
		goto out;
	}
	opened = 1;
	c.st = &st;
	if (json)
		c.json = json_array();
	if (store_runs_list(&st, print_run, &c, c.err, sizeof(c.err)) < 0) {
		fprintf(stderr, "ipw runs: %s\n", c.err);
		goto out;
	}
	if (json) {
		json_dumpf(c.json, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		putchar('\n');
	} else if (c.n == 0) {
		printf("no runs in %s yet (ipw profile records one)\n", st.path);
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	json_decref(c.json);
	if (opened)
		store_close(&st);
	return rc;
}

/*
 * cmd/compute.c - 'ipw compute RUN... --model-meta FILE': each run's compute
 * from its tokens and the model's parameters: FLOPs as 2 x active and as
 * 2 x total parameters x tokens (both, per run and with --per-query per
 * query), FLOPs per joule, and MFU / MBU where the file gives the
 * accelerator's peaks. One table in every format (src/table.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "analysis/paper.h"
#include "common.h"
#include "common_opts.h"
#include "store.h"
#include "util.h"

struct compute_args {
	struct cmd_common cc;
	const char *meta;
	int per_query;
};

#define A(f) offsetof(struct compute_args, f)
static const struct opt_def compute_opts[] = {
	CMD_OPTDEFS_COMMON(struct compute_args, cc),
	{"model-meta", 0, OPT_STRING, A(meta), "FILE", "model metadata: parameters (total, active), quantisation,\n"
	 "accelerator peaks (docs/analysis.md 'Model metadata')", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"per-query", 0, OPT_FLAG, A(per_query), NULL, "one row per query instead of per run", NULL, 0, 0, 0, NULL,
	 NULL, NULL},
};
#define NOPTS (sizeof(compute_opts) / sizeof(compute_opts[0]))

static const struct tcol run_cols[] = {
	{"run", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"accelerator", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"active_params", "ACTIVE", NULL, TCOL_REAL, "%.3g", TCOL_BOTH},
	{"total_params", "TOTAL", NULL, TCOL_REAL, "%.3g", TCOL_BOTH},
	{"queries", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"queries_with_tokens", "N", NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"tokens", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
	{"flops_active", "FLOPS(ACTIVE)", "FLOP", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"flops_total", "FLOPS(TOTAL)", "FLOP", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"flops_active_per_query", NULL, "FLOP", TCOL_REAL, NULL, TCOL_DATA},
	{"flops_total_per_query", NULL, "FLOP", TCOL_REAL, NULL, TCOL_DATA},
	{"flops_per_j", "FLOP/J", "FLOP/J", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"busy_s", NULL, "s", TCOL_REAL, NULL, TCOL_DATA},
	{"flops_per_s", "FLOP/S", "FLOP/s", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"peak_flops", NULL, "FLOP/s", TCOL_REAL, NULL, TCOL_DATA},
	{"mfu", "MFU", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"bytes_per_s", "B/S", "B/s", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"peak_bandwidth", NULL, "B/s", TCOL_REAL, NULL, TCOL_DATA},
	{"mbu", "MBU", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
};

static const struct tcol query_cols[] = {
	{"run", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"seq", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"prompt_tokens", "PROMPT", NULL, TCOL_REAL, "%.0f", TCOL_BOTH},
	{"output_tokens", "OUTPUT", NULL, TCOL_REAL, "%.0f", TCOL_BOTH},
	{"flops_active", "FLOPS(ACTIVE)", "FLOP", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"flops_total", "FLOPS(TOTAL)", "FLOP", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"energy_j", "ENERGY_J", "J", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"flops_per_j", "FLOP/J", "FLOP/J", TCOL_REAL, "%.4g", TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw compute RUN... --model-meta FILE [--per-query] [--store PATH] [--format F]\n"
		"  FLOPs = 2 x parameters x (prompt + output tokens), with active and with total parameters;\n"
		"  MFU = FLOPs(active) / busy time / peak FLOP/s; MBU = active parameters x bits per weight / 8\n"
		"  x output tokens / decode time / peak bandwidth (batch-1 model). docs/metrics.md 'Compute'.\n");
	opt_usage(f, compute_opts, NOPTS);
}

/* Peaks of the run's accelerator (per device x devices); NAN unknown. */
static void run_peaks(const struct meta_file *mf, const struct run_record *r, double *flops, double *bw,
		      const char **accel)
{
	int count;
	const char *name = meta_run_accelerator(r, &count);
	const struct accel_meta *a = meta_accel_find(mf, name);
	*accel = name;
	*flops = a ? a->peak_flops * count : NAN;
	*bw = a ? a->peak_bw * count : NAN;
}

static double per(double total, long long n)
{
	return n > 0 && isfinite(total) ? total / (double)n : NAN;
}

static void emit_run(struct table *t, const struct run_record *r, const char *accel, const struct model_meta *mm,
		     const struct run_compute *c)
{
	table_str(t, r->id);
	table_str(t, r->name);
	table_str(t, accel);
	table_real(t, mm->active_params);
	table_real(t, mm->total_params);
	table_count(t, c->n_queries);
	table_count(t, c->n_tokens);
	table_real(t, c->n_tokens ? c->tokens : NAN);
	table_real(t, c->flops_active);
	table_real(t, c->flops_total);
	table_real(t, per(c->flops_active, c->n_tokens));
	table_real(t, per(c->flops_total, c->n_tokens));
	table_real(t, c->flops_per_j);
	table_real(t, c->busy_s);
	table_real(t, c->flops_per_s);
	table_real(t, c->peak_flops);
	table_real(t, c->mfu);
	table_real(t, c->bytes_per_s);
	table_real(t, c->peak_bw);
	table_real(t, c->mbu);
	table_end_row(t);
}

static void emit_queries(struct table *t, const struct run_record *r, const struct model_meta *mm,
			 const struct run_data *d)
{
	for (size_t i = 0; i < d->n; i++) {
		int have = d->prompt_tokens[i] >= 0 && d->output_tokens[i] >= 0;
		double tok = have ? d->prompt_tokens[i] + d->output_tokens[i] : NAN;
		double fa = 2 * mm->active_params * tok, e = d->energy_j[i];
		table_str(t, r->id);
		table_int(t, (long long)i);
		table_real(t, d->prompt_tokens[i]);
		table_real(t, d->output_tokens[i]);
		table_real(t, fa);
		table_real(t, 2 * mm->total_params * tok);
		table_real(t, e);
		table_real(t, isfinite(e) && e > 0 ? fa / e : NAN);
		table_end_row(t);
	}
}

/* One run's row (or its query rows); 0 or EXIT_INPUT (said). */
static int one_run(struct store *st, const struct meta_file *mf, const struct run_record *r, int per_query,
		   struct table *t)
{
	char err[IPW_ERRLEN];
	const struct model_meta *mm = meta_model_of(mf, r);
	struct run_data d;
	struct run_compute c;
	double pf, pb;
	const char *accel;

	if (!mm) {
		fprintf(stderr, "ipw compute: %s has no model entry for run %s (name '%s', model '%s'); a key matches "
			"a run's id, name, model or server model\n", mf->path, r->id, r->name ? r->name : "",
			r->model ? r->model : "");
		return EXIT_INPUT;
	}
	if (run_data_load(st, r->id, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw compute: %s\n", err);
		return EXIT_INPUT;
	}
	run_peaks(mf, r, &pf, &pb, &accel);
	if (per_query)
		emit_queries(t, r, mm, &d);
	else {
		analysis_compute(&d, mm->active_params, mm->total_params, mm->bits_per_weight, pf, pb, &c);
		emit_run(t, r, accel, mm, &c);
	}
	run_data_release(&d);
	return 0;
}

int cmd_compute(int argc, char **argv)
{
	struct compute_args a;
	struct meta_file mf;
	struct store st;
	struct run_record *runs = NULL;
	struct table t;
	char err[IPW_ERRLEN], **ids = NULL;
	int rc, first = 0, opened = 0, tinit = 0;
	size_t n = 0;

	memset(&a, 0, sizeof(a));
	memset(&mf, 0, sizeof(mf));
	cmd_common_init(&a.cc, "compute", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, compute_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	n = (size_t)(argc - first);
	if (!n || !a.meta) {
		fprintf(stderr, "ipw compute: name the runs and the metadata file (--model-meta FILE)\n");
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (meta_read(a.meta, &mf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw compute: %s\n", err);
		rc = EXIT_INPUT;
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	if (a.per_query)
		table_init(&t, a.cc.format, query_cols, sizeof(query_cols) / sizeof(query_cols[0]), stdout);
	else
		table_init(&t, a.cc.format, run_cols, sizeof(run_cols) / sizeof(run_cols[0]), stdout);
	tinit = 1;
	for (size_t i = 0; i < n && !rc; i++)
		rc = one_run(&st, &mf, &runs[i], a.per_query, &t);
	if (!rc && (table_finish(&t) < 0 || fflush(stdout)))
		rc = EXIT_ENV;
out:
	if (tinit)
		table_release(&t);
	cmd_runs_free(runs, ids, n);
	meta_release(&mf);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}

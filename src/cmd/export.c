/*
 * cmd/export.c - 'ipw export RUN --format csv|jsonl': one row per recorded
 * query in plan order, with latency, tokens, energy, power, errors and the
 * latest score. CSV quotes per RFC 4180 and leaves unmeasured cells empty;
 * JSONL writes null for them and adds the texts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../estimate.h"
#include "cmd.h"
#include "common.h"
#include "common_opts.h"
#include "perplexity.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

struct export_args {
	struct cmd_common cc;
	const char *out;
};

#define A(f) offsetof(struct export_args, f)
static const struct opt_def export_opts[] = {
	{"format", 'f', OPT_STRING, A(cc), "F", "csv (one header line, then one line per query) or jsonl", NULL, 0, 0,
	 0, NULL, NULL, &cmd_format_hooks},
	CMD_OPTDEF_STORE(struct export_args, cc),
	{"out", 'o', OPT_STRING, A(out), "FILE", "write there instead of standard output", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
};
#define NOPTS (sizeof(export_opts) / sizeof(export_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw export RUN --format csv|jsonl [--store PATH] [--out FILE]\n"
		"  RUN                  a run id, a run name that only one run has, or 'last'\n");
	opt_usage(f, export_opts, NOPTS);
	fprintf(f, "Columns: docs/store.md (Exports). Unmeasured values are empty (csv) or null (jsonl).\n");
}

/* The latest score of each item, sorted by item id for bsearch. */
struct score_entry {
	char *item_id;
	int correct;
};

struct scores {
	struct score_entry *v;
	size_t n, cap;
};

static int add_score(const char *item_id, int correct, void *ctx)
{
	struct scores *s = ctx;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].item_id = xstrdup(item_id);
	s->v[s->n].correct = correct;
	s->n++;
	return 0;
}

static int cmp_score(const void *a, const void *b)
{
	return strcmp(((const struct score_entry *)a)->item_id, ((const struct score_entry *)b)->item_id);
}

/* 1, 0, or -1 when the item has no usable score. */
static int lookup_correct(const struct scores *s, const char *item_id)
{
	struct score_entry key = {(char *)item_id, 0}, *e;
	if (!s->n)
		return -1;
	e = bsearch(&key, s->v, s->n, sizeof(*s->v), cmp_score);
	return e ? e->correct : -1;
}

struct export_ctx {
	struct table t;
	struct scores scores;
	const char *energy_method;   /* the run's: "measured" or "estimated" (src/estimate.h) */
};

/* The columns: all in JSON lines, the CSV ones (docs/store.md, Exports) in this order. */
static const struct tcol cols[] = {
	{"seq", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"item_id", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"subject", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"task", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"status", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"finish_reason", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"latency_s", NULL, "s", TCOL_REAL, NULL, TCOL_DATA},
	{"ttft_s", NULL, "s", TCOL_REAL, NULL, TCOL_DATA},
	{"tpot_s", NULL, "s", TCOL_REAL, NULL, TCOL_DATA},
	{"itl_p50_s", NULL, "s", TCOL_REAL, NULL, TCOL_JSON},
	{"itl_p90_s", NULL, "s", TCOL_REAL, NULL, TCOL_JSON},
	{"itl_p99_s", NULL, "s", TCOL_REAL, NULL, TCOL_JSON},
	{"t_send_s", NULL, "s", TCOL_REAL, NULL, TCOL_JSON},
	{"prompt_tokens", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"completion_tokens", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"reasoning_tokens", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"energy_j", NULL, "J", TCOL_REAL, NULL, TCOL_DATA},
	{"energy_dynamic_j", NULL, "J", TCOL_REAL, NULL, TCOL_DATA},
	{"host_energy_j", NULL, "J", TCOL_REAL, NULL, TCOL_DATA},
	{"host_energy_dynamic_j", NULL, "J", TCOL_REAL, NULL, TCOL_JSON},
	{"total_energy_j", NULL, "J", TCOL_REAL, NULL, TCOL_DATA},
	{"avg_power_w", NULL, "W", TCOL_REAL, NULL, TCOL_DATA},
	{"peak_power_w", NULL, "W", TCOL_REAL, NULL, TCOL_DATA},
	{"temp_max_c", NULL, "C", TCOL_REAL, NULL, TCOL_DATA},
	{"mem_max_bytes", NULL, "bytes", TCOL_REAL, NULL, TCOL_JSON},
	{"energy_by_source", NULL, NULL, TCOL_STR, NULL, TCOL_JSON},
	{"attempts", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"error_kind", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"error_message", NULL, NULL, TCOL_STR, NULL, TCOL_JSON},
	{"http_status", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"correct", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"answer", NULL, NULL, TCOL_STR, NULL, TCOL_JSON},
	{"reference", NULL, NULL, TCOL_STR, NULL, TCOL_JSON},
	{"energy_method", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"cpu_s", NULL, "s", TCOL_REAL, NULL, TCOL_JSON},
	{"output_tokens_per_s", NULL, "1/s", TCOL_REAL, NULL, TCOL_DATA},
	/* the server's token log-probabilities (--logprobs): empty / null when none came back */
	{"logprob_sum", NULL, "nats", TCOL_REAL, NULL, TCOL_DATA},
	{"logprob_tokens", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"perplexity", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
};

/* The one row emitter, for CSV and JSON lines. */
static int write_row(const struct query_record *q, void *vctx)
{
	struct export_ctx *c = vctx;
	struct table *t = &c->t;
	int correct = lookup_correct(&c->scores, q->item_id);
	json_t *en = json_array();

	table_int(t, q->seq);
	table_str(t, q->item_id);
	table_str(t, q->subject);
	table_str(t, q->task);
	table_str(t, q->status);
	table_str(t, q->finish_reason);
	table_real(t, q->e2e_s);
	table_real(t, q->ttft_s);
	table_real(t, q->tpot_s);
	table_real(t, q->itl_p50_s);
	table_real(t, q->itl_p90_s);
	table_real(t, q->itl_p99_s);
	table_real(t, q->t_send_s);
	table_count(t, q->prompt_tokens);
	table_count(t, q->completion_tokens);
	table_count(t, q->reasoning_tokens);
	table_real(t, q->accel_j);
	table_real(t, q->accel_dyn_j);
	table_real(t, q->host_j);
	table_real(t, q->host_dyn_j);
	table_real(t, q->total_j);
	table_real(t, q->avg_power_w);
	table_real(t, q->peak_power_w);
	table_real(t, q->temp_max_c);
	table_real(t, q->mem_max_bytes);
	for (int i = 0; i < q->nenergy; i++)
		json_array_append_new(en, json_pack("{s:i, s:o, s:o}", "source_idx", q->energy[i].source_idx,
						    "gross_j", json_real_or_null(q->energy[i].gross_j),
						    "dynamic_j", json_real_or_null(q->energy[i].dynamic_j)));
	table_cell(t, NULL, en);
	table_count(t, q->nattempts);
	table_str(t, q->error_kind);
	table_str(t, q->error_message);
	table_count(t, q->http_status);
	table_cell(t, correct < 0 ? NULL : correct ? "1" : "0", correct < 0 ? json_null() : json_boolean(correct));
	table_strn(t, q->answer, q->answer && !q->answer_len ? strlen(q->answer) : q->answer_len);
	table_str(t, q->reference);
	table_str(t, c->energy_method);
	table_real(t, q->cpu_s);
	/* the query's own output rate: completion tokens over its latency (as vllm bench serve reports) */
	table_real(t, q->completion_tokens >= 0 && q->e2e_s > 0 ? (double)q->completion_tokens / q->e2e_s : NAN);
	table_real(t, q->logprob_sum);
	table_count(t, q->logprob_tokens);
	table_real(t, metrics_perplexity(q->logprob_sum, q->logprob_tokens));
	table_end_row(t);
	return ferror(t->f) ? -1 : 0;
}

/* Options and operand (*first); 0, CMD_PARSE_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct export_args *a, int argc, char **argv, int *first)
{
	int rc = cmd_opt_parse(&a->cc, export_opts, NOPTS, a, argc, argv, first, NULL, usage);

	if (rc == 0 && cmd_one_run(&a->cc, argc, argv, *first))
		rc = EXIT_USAGE;
	if (rc == EXIT_USAGE) {
		usage(stderr);
		return rc;
	}
	if (rc == 0 && !a->cc.format) {
		fprintf(stderr, "ipw export: no format given (use --format csv or --format jsonl)\n");
		return EXIT_USAGE;
	}
	return rc;
}

int cmd_export(int argc, char **argv)
{
	struct export_args a = {0};
	struct cmd_common *cc = &a.cc;
	const char *outpath;
	FILE *out = NULL;
	char err[IPW_ERRLEN];
	struct store st;
	struct run_record r;
	struct export_ctx c;
	int rc, first, opened = 0;

	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	cmd_common_init(cc, "export", OUT_CSV | OUT_JSONL, 0);
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	outpath = a.out;
	if ((rc = cmd_store_open(cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_run_get(cc, &st, argv[first], &r)))
		goto out;
	rc = EXIT_INPUT;
	c.energy_method = run_energy_method(&r);
	if (store_scores_latest(&st, r.id, add_score, &c.scores, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw export: %s\n", err);
		goto out;
	}
	if (c.scores.n)  /* qsort(NULL, 0, ...) is undefined behaviour (a run without scores) */
		qsort(c.scores.v, c.scores.n, sizeof(*c.scores.v), cmp_score);
	out = outpath ? fopen(outpath, "w") : stdout;
	if (!out) {
		fprintf(stderr, "ipw export: cannot write '%s': %m (choose another --out)\n", outpath);
		rc = EXIT_ENV;
		goto out;
	}
	table_init(&c.t, cc->format, cols, sizeof(cols) / sizeof(cols[0]), out);
	err[0] = 0;
	if (store_queries_iter(&st, r.id, write_row, &c, err, sizeof(err)) != 0 || table_finish(&c.t) < 0) {
		fprintf(stderr, "ipw export: %s\n", err[0] ? err : "writing the export failed");
		rc = EXIT_ENV;
		goto out;
	}
	rc = 0;
out:
	table_release(&c.t);
	if (out && out != stdout) {
		if (fclose(out) != 0 && rc == 0) {
			fprintf(stderr, "ipw export: writing '%s' failed: %m\n", outpath);
			rc = EXIT_ENV;
		}
	} else if (fflush(stdout) != 0 && rc == 0) {
		rc = EXIT_ENV;
	}
	for (size_t i = 0; i < c.scores.n; i++)
		free(c.scores.v[i].item_id);
	free(c.scores.v);
	run_record_release(&r);
	if (opened)
		store_close(&st);
	return rc;
}

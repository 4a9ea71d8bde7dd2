/*
 * cmd/export.c - 'ipw export RUN --format csv|jsonl': one row per recorded
 * query in plan order, with latency, tokens, energy, power, errors and the
 * latest score. CSV quotes per RFC 4180 and leaves unmeasured cells empty;
 * JSONL writes null for them and adds the texts.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "common.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

#define OPT_HELP_SHOWN 1

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw export RUN --format csv|jsonl [--store PATH] [--out FILE]\n"
		"  RUN            a run id, a run name that only one run has, or 'last'\n"
		"  --format F     csv (one header line, then one line per query) or jsonl\n"
		"  --store PATH   the store to read (default ./ipw.db)\n"
		"  --out FILE     write there instead of standard output\n"
		"Columns: docs/store.md (Exports). Unmeasured values are empty (csv) or null (jsonl).\n");
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
	FILE *out;
	int jsonl;
	struct scores scores;
};

static const char *const csv_header[] = {
	"seq", "item_id", "subject", "task", "status", "finish_reason", "latency_s", "ttft_s", "tpot_s",
	"prompt_tokens", "completion_tokens", "reasoning_tokens", "energy_j", "energy_dynamic_j",
	"host_energy_j", "total_energy_j", "avg_power_w", "peak_power_w", "temp_max_c", "attempts",
	"error_kind", "http_status", "correct",
};

/* Writes one CSV field, quoted when it holds a comma, quote, CR, LF or edge spaces. */
static void csv_field(FILE *f, int first, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int quote = n && (strpbrk(s, ",\"\r\n") || s[0] == ' ' || s[n - 1] == ' ');

	if (!first)
		fputc(',', f);
	if (!s)
		return;
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void csv_real(FILE *f, double v)
{
	fputc(',', f);
	if (!isnan(v))
		fprintf(f, "%.10g", v);
}

static void csv_int(FILE *f, long long v)
{
	fputc(',', f);
	if (v >= 0)
		fprintf(f, "%lld", v);
}

static int write_csv_row(const struct query_record *q, struct export_ctx *c)
{
	FILE *f = c->out;
	int correct = lookup_correct(&c->scores, q->item_id);

	fprintf(f, "%lld", q->seq);
	csv_field(f, 0, q->item_id);
	csv_field(f, 0, q->subject);
	csv_field(f, 0, q->task);
	csv_field(f, 0, q->status);
	csv_field(f, 0, q->finish_reason);
	csv_real(f, q->e2e_s);
	csv_real(f, q->ttft_s);
	csv_real(f, q->tpot_s);
	csv_int(f, q->prompt_tokens);
	csv_int(f, q->completion_tokens);
	csv_int(f, q->reasoning_tokens);
	csv_real(f, q->accel_j);
	csv_real(f, q->accel_dyn_j);
	csv_real(f, q->host_j);
	csv_real(f, q->total_j);
	csv_real(f, q->avg_power_w);
	csv_real(f, q->peak_power_w);
	csv_real(f, q->temp_max_c);
	csv_int(f, q->nattempts);
	csv_field(f, 0, q->error_kind);
	csv_int(f, q->http_status);
	csv_int(f, correct);
	fputc('\n', f);
	return 0;
}

static int write_jsonl_row(const struct query_record *q, struct export_ctx *c)
{
	json_t *o = json_object(), *en = json_array();
	int correct = lookup_correct(&c->scores, q->item_id), rc;

	json_object_set_new(o, "seq", json_integer(q->seq));
	json_object_set_new(o, "item_id", json_string_or_null(q->item_id));
	json_object_set_new(o, "subject", json_string_or_null(q->subject));
	json_object_set_new(o, "task", json_string_or_null(q->task));
	json_object_set_new(o, "status", json_string_or_null(q->status));
	json_object_set_new(o, "finish_reason", json_string_or_null(q->finish_reason));
	json_object_set_new(o, "latency_s", json_real_or_null(q->e2e_s));
	json_object_set_new(o, "ttft_s", json_real_or_null(q->ttft_s));
	json_object_set_new(o, "tpot_s", json_real_or_null(q->tpot_s));
	json_object_set_new(o, "itl_p50_s", json_real_or_null(q->itl_p50_s));
	json_object_set_new(o, "itl_p90_s", json_real_or_null(q->itl_p90_s));
	json_object_set_new(o, "itl_p99_s", json_real_or_null(q->itl_p99_s));
	json_object_set_new(o, "t_send_s", json_real_or_null(q->t_send_s));
	json_object_set_new(o, "prompt_tokens", json_count_or_null(q->prompt_tokens));
	json_object_set_new(o, "completion_tokens", json_count_or_null(q->completion_tokens));
	json_object_set_new(o, "reasoning_tokens", json_count_or_null(q->reasoning_tokens));
	json_object_set_new(o, "energy_j", json_real_or_null(q->accel_j));
	json_object_set_new(o, "energy_dynamic_j", json_real_or_null(q->accel_dyn_j));
	json_object_set_new(o, "host_energy_j", json_real_or_null(q->host_j));
	json_object_set_new(o, "host_energy_dynamic_j", json_real_or_null(q->host_dyn_j));
	json_object_set_new(o, "total_energy_j", json_real_or_null(q->total_j));
	json_object_set_new(o, "avg_power_w", json_real_or_null(q->avg_power_w));
	json_object_set_new(o, "peak_power_w", json_real_or_null(q->peak_power_w));
	json_object_set_new(o, "temp_max_c", json_real_or_null(q->temp_max_c));
	json_object_set_new(o, "mem_max_bytes", json_real_or_null(q->mem_max_bytes));
	for (int i = 0; i < q->nenergy; i++)
		json_array_append_new(en, json_pack("{s:i, s:o, s:o}", "source_idx", q->energy[i].source_idx,
						    "gross_j", json_real_or_null(q->energy[i].gross_j),
						    "dynamic_j", json_real_or_null(q->energy[i].dynamic_j)));
	json_object_set_new(o, "energy_by_source", en);
	json_object_set_new(o, "attempts", json_integer(q->nattempts));
	json_object_set_new(o, "error_kind", json_string_or_null(q->error_kind));
	json_object_set_new(o, "error_message", json_string_or_null(q->error_message));
	json_object_set_new(o, "http_status", json_count_or_null(q->http_status));
	json_object_set_new(o, "correct", correct < 0 ? json_null() : json_boolean(correct));
	json_object_set_new(o, "answer", json_string_or_null(q->answer));
	json_object_set_new(o, "reference", json_string_or_null(q->reference));
	rc = json_dumpf(o, c->out, JSON_COMPACT | JSON_REAL_PRECISION(10));
	fputc('\n', c->out);
	json_decref(o);
	return rc;
}

static int write_row(const struct query_record *q, void *vctx)
{
	struct export_ctx *c = vctx;
	return c->jsonl ? write_jsonl_row(q, c) : write_csv_row(q, c);
}

/* Options and operand; 0, OPT_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct cmd_common *cc, const char **outpath, int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS, {"out", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	int ch, r;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "hf:o:", opts, NULL)) != -1) {
		r = cmd_common_option(cc, ch == 'f' ? CMD_OPT_FORMAT : ch, optarg);
		if (r == CMD_OPT_HELP) {
			usage(stdout);
			return OPT_HELP_SHOWN;
		}
		if (r == CMD_OPT_ERROR)
			return EXIT_USAGE;
		if (r == CMD_OPT_NOT_MINE && ch == 'o')
			*outpath = optarg;
		else if (r == CMD_OPT_NOT_MINE) {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cmd_one_run(cc, argc, argv, optind)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!cc->format) {
		fprintf(stderr, "ipw export: no format given (use --format csv or --format jsonl)\n");
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	const char *outpath = NULL;
	char err[IPW_ERRLEN];
	struct cmd_common cc;
	struct store st;
	struct run_record r;
	struct export_ctx c;
	int rc, opened = 0;

	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	cmd_common_init(&cc, "export", OUT_CSV | OUT_JSONL, 0);
	if ((rc = parse_args(&cc, &outpath, argc, argv)))
		return rc == OPT_HELP_SHOWN ? 0 : rc;
	c.jsonl = cc.format == OUT_JSONL;
	if ((rc = cmd_store_open(&cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_run_get(&cc, &st, argv[optind], &r)))
		goto out;
	rc = EXIT_INPUT;
	if (store_scores_latest(&st, r.id, add_score, &c.scores, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw export: %s\n", err);
		goto out;
	}
	if (c.scores.n)  /* qsort(NULL, 0, ...) is undefined behaviour (a run without scores) */
		qsort(c.scores.v, c.scores.n, sizeof(*c.scores.v), cmp_score);
	c.out = outpath ? fopen(outpath, "w") : stdout;
	if (!c.out) {
		fprintf(stderr, "ipw export: cannot write '%s': %m (choose another --out)\n", outpath);
		rc = EXIT_ENV;
		goto out;
	}
	if (!c.jsonl) {
		for (size_t i = 0; i < sizeof(csv_header) / sizeof(csv_header[0]); i++)
			fprintf(c.out, "%s%s", i ? "," : "", csv_header[i]);
		fputc('\n', c.out);
	}
	err[0] = 0;
	if (store_queries_iter(&st, r.id, write_row, &c, err, sizeof(err)) != 0 || ferror(c.out)) {
		fprintf(stderr, "ipw export: %s\n", err[0] ? err : "writing the export failed");
		rc = EXIT_ENV;
		goto out;
	}
	rc = 0;
out:
	if (c.out && c.out != stdout) {
		if (fclose(c.out) != 0 && rc == 0) {
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

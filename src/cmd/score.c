/*
 * cmd/score.c - 'ipw score RUN': scores (or re-scores with another grader) a
 * recorded run with the offline graders or an LLM judge, resumably, and
 * prints what it did. The work is src/score.c's; this parses options, loads
 * the run's dataset when it can, and sets up the judge.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../score.h"
#include "cmd.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw score RUN [--grader NAME] [--judge-url URL --judge-model NAME] [options]\n"
"Scores every ok query of a recorded run and appends one score per item (the latest\n"
"counts). Resumable: items whose latest score has the same grader and settings are\n"
"skipped unless --rescore.\n\n"
"  RUN                  a run id, a name only one run has, or 'last'\n"
"  --grader NAME        mcq | numeric | exact | regex | judge_reference | judge_pairwise\n"
"                       (default: each item's task grader)\n"
"  --tolerance R[,A]    numeric: relative (default 1e-6) and absolute (1e-9) tolerance\n"
"  --judge-url URL      OpenAI-compatible endpoint of the judge (needed for the judge tasks)\n"
"  --judge-model NAME   the judge model\n"
"  --judge-key-env VAR  environment variable holding the judge's API key\n"
"                       (default IPW_JUDGE_API_KEY; the key is never stored or printed)\n"
"  --judge-timeout S    per judge request (default 300)\n"
"  --judge-retries N    retries after 429, 5xx, timeouts (default 2)\n"
"  --judge-backoff S    first retry delay, doubled each retry (default 1)\n"
"  --pairwise-rule R    either (default: win or tie in either order) | both\n"
"  --reference-run RUN  judge_pairwise: compare with this run's answers to the same items\n"
"                       (default: the item's reference_response)\n"
"  --dataset PATH       the run's dataset (default: the path it recorded)\n"
"  --format F           its format (default: as recorded; see ipw profile --help)\n"
"  --rescore            score again items already scored with the same settings\n"
"  --store PATH         the store (default ./ipw.db)\n"
"  --quiet              no progress line\n");
}

static void on_progress(void *arg, long done, long total)
{
	int *tty = arg;
	if (*tty && (done % 16 == 0 || done == total)) {
		fprintf(stderr, "\r\033[Kscoring %ld/%ld", done, total);
		if (done == total)
			fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

enum {
	O_GRADER = 256, O_TOL, O_JURL, O_JMODEL, O_JKEY, O_JTIMEOUT, O_JRETRIES, O_JBACKOFF, O_RULE, O_REFRUN, O_DATASET,
	O_FORMAT, O_RESCORE, O_STORE, O_QUIET, O_HELP,
};

static const struct option longopts[] = {
	{"grader", 1, 0, O_GRADER}, {"tolerance", 1, 0, O_TOL}, {"judge-url", 1, 0, O_JURL},
	{"judge-model", 1, 0, O_JMODEL}, {"judge-key-env", 1, 0, O_JKEY}, {"judge-timeout", 1, 0, O_JTIMEOUT},
	{"judge-retries", 1, 0, O_JRETRIES}, {"judge-backoff", 1, 0, O_JBACKOFF}, {"pairwise-rule", 1, 0, O_RULE}, {"reference-run", 1, 0, O_REFRUN},
	{"dataset", 1, 0, O_DATASET}, {"format", 1, 0, O_FORMAT}, {"rescore", 0, 0, O_RESCORE},
	{"store", 1, 0, O_STORE}, {"quiet", 0, 0, O_QUIET}, {"help", 0, 0, O_HELP}, {0, 0, 0, 0},
};

static int parse_tolerance(const char *s, struct grade_settings *gs)
{
	char *end;
	double r = strtod(s, &end), a = gs->abs_tol;
	if (end == s || r < 0)
		return -1;
	if (*end == ',') {
		const char *p = end + 1;
		a = strtod(p, &end);
		if (end == p || a < 0)
			return -1;
	}
	if (*end)
		return -1;
	gs->rel_tol = r;
	gs->abs_tol = a;
	return 0;
}

/* Loads the run's dataset; NULL (with a warning) when it cannot be used. */
static struct dataset *load_items(const struct run_record *r, const char *path, const char *format)
{
	struct dataset *ds = xcalloc(1, sizeof(*ds));
	const char *p = path ? path : r->dataset_path;
	const char *f = format ? format : r->dataset_format;
	char err[IPW_ERRLEN];

	if (!p) {
		fprintf(stderr, "ipw score: run %s recorded no dataset; scoring from the stored queries\n", r->id);
		goto fail;
	}
	if (dataset_load_format(ds, p, f, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw score: warning: cannot load the run's dataset (%s); scoring from the stored "
			"queries (mcq options taken from the prompts; pass --dataset PATH to use the file)\n", err);
		goto fail;
	}
	if (r->dataset_sha256 && strcmp(ds->sha256, r->dataset_sha256)) {
		fprintf(stderr, "ipw score: warning: %s has changed since run %s (sha256 %.12s... then, %.12s... now)%s\n",
			p, r->id, r->dataset_sha256, ds->sha256,
			path ? "; using it because --dataset names it" : "; scoring from the stored queries instead");
		if (!path) {
			dataset_release(ds);
			goto fail;
		}
	}
	return ds;
fail:
	free(ds);
	return NULL;
}

int cmd_score(int argc, char **argv)
{
	struct score_opts o;
	struct judge_opts jo;
	struct judge judge;
	struct score_report rep;
	struct store st;
	struct run_record r, ref;
	struct dataset *ds = NULL;
	const char *store_path = NULL, *dataset = NULL, *format = NULL, *refrun = NULL;
	char err[IPW_ERRLEN] = "";
	int c, rc = EXIT_INPUT, opened = 0, judged = 0, tty = 0, quiet = 0;
	long long v;

	score_opts_init(&o);
	judge_opts_init(&jo);
	memset(&r, 0, sizeof(r));
	memset(&ref, 0, sizeof(ref));
	memset(&judge, 0, sizeof(judge));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *bad = NULL;
		char *end;
		switch (c) {
		case O_GRADER: o.grader = optarg; break;
		case O_TOL: if (parse_tolerance(optarg, &o.gs) < 0) bad = "--tolerance takes REL or REL,ABS (numbers >= 0)"; break;
		case O_JURL: jo.url = optarg; break;
		case O_JMODEL: jo.model = optarg; break;
		case O_JKEY: jo.key_env = optarg; break;
		case O_JTIMEOUT:
			jo.timeout_s = strtod(optarg, &end);
			if (end == optarg || *end || jo.timeout_s <= 0) bad = "--judge-timeout takes seconds > 0";
			break;
		case O_JRETRIES:
			v = strtoll(optarg, &end, 10);
			if (end == optarg || *end || v < 0 || v > 100) bad = "--judge-retries takes 0..100";
			else jo.max_attempts = (int)v + 1;
			break;
		case O_JBACKOFF:
			jo.backoff_s = strtod(optarg, &end);
			if (end == optarg || *end || jo.backoff_s < 0) bad = "--judge-backoff takes seconds >= 0";
			break;
		case O_RULE: if (pairwise_rule_parse(optarg, &o.rule) < 0) bad = "--pairwise-rule takes either or both"; break;
		case O_REFRUN: refrun = optarg; break;
		case O_DATASET: dataset = optarg; break;
		case O_FORMAT: format = optarg; break;
		case O_RESCORE: o.rescore = 1; break;
		case O_STORE: store_path = optarg; break;
		case O_QUIET: quiet = 1; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "ipw score: %s (got '%s')\n", bad, optarg);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "ipw score: %s\n", optind >= argc ? "name one run" : "name only one run");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.grader && !grader_find(o.grader) && strcmp(o.grader, "judge_reference") &&
	    strcmp(o.grader, "judge_pairwise")) {
		fprintf(stderr, "ipw score: unknown grader '%s' (use mcq, numeric, exact, regex, judge_reference "
			"or judge_pairwise)\n", o.grader);
		return EXIT_USAGE;
	}
	if ((jo.url != NULL) != (jo.model != NULL)) {
		fprintf(stderr, "ipw score: a judge needs both --judge-url and --judge-model\n");
		return EXIT_USAGE;
	}
	if (format && dataset_format_valid(format) < 0) {
		fprintf(stderr, "ipw score: unknown --format '%s' (use %s)\n", format, DATASET_FORMATS);
		return EXIT_USAGE;
	}
	if (store_open(&st, store_path, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw score: %s\n", err);
		goto out;
	}
	opened = 1;
	if (store_run_get(&st, argv[optind], &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw score: %s\n", err);
		goto out;
	}
	if (refrun) {
		if (store_run_get(&st, refrun, &ref, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw score: --reference-run: %s\n", err);
			goto out;
		}
		if (!strcmp(ref.id, r.id)) {
			fprintf(stderr, "ipw score: --reference-run names run %s itself (name another run over the "
				"same items)\n", r.id);
			rc = EXIT_USAGE;
			goto out;
		}
		o.reference_run = ref.id;
	}
	if (jo.url) {
		if (judge_init(&judge, &jo, &st, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw score: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
		judged = 1;
		o.judge = &judge;
	} else if (o.grader && (!strcmp(o.grader, "judge_reference") || !strcmp(o.grader, "judge_pairwise"))) {
		fprintf(stderr, "ipw score: --grader %s needs a judge: pass --judge-url URL and --judge-model NAME\n",
			o.grader);
		rc = EXIT_USAGE;
		goto out;
	}
	ds = load_items(&r, dataset, format);
	o.ds = ds;
	tty = !quiet && isatty(STDERR_FILENO);
	o.progress = on_progress;
	o.arg = &tty;
	if (score_run(&st, r.id, &o, &rep, err, sizeof(err)) < 0) {
		fprintf(stderr, "\nipw score: %s\nipw score: the scores written so far are kept; run the same "
			"command again to continue\n", err);
		rc = judged ? EXIT_ENV : EXIT_INPUT;
		goto out;
	}
	printf("run %s: %ld queries; scored %ld (%ld correct), unscored %ld, already scored %ld, "
	       "failed queries %ld\n", r.id, rep.queries, rep.scored, rep.correct, rep.unscored, rep.already,
	       rep.failed);
	if (judged)
		printf("judge %s: %ld requests, %ld judgements from the cache\n", judge.model, judge.n_requests,
		       judge.n_cached);
	if (rep.no_item)
		printf("%ld items were not in the dataset: scored from the stored queries\n", rep.no_item);
	if (rep.need_judge)
		printf("%ld items need a judge and were left unscored: pass --judge-url URL and --judge-model NAME\n",
		       rep.need_judge);
	if (rep.unscored)
		printf("%ld items could not be scored; the reasons are in the store's scores table\n", rep.unscored);
	printf("metrics: ipw show %s%s%s\n", r.id, store_path ? " --store " : "", store_path ? store_path : "");
	rc = fflush(stdout) ? EXIT_ENV : rep.unscored || rep.need_judge ? EXIT_PARTIAL : 0;
out:
	if (judged)
		judge_release(&judge);
	if (ds) {
		dataset_release(ds);
		free(ds);
	}
	run_record_release(&r);
	run_record_release(&ref);
	if (opened)
		store_close(&st);
	return rc;
}

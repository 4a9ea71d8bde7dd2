/*
 * cmd/score.c - 'ipw score RUN': scores (or re-scores with another grader) a
 * recorded run with the offline graders or an LLM judge, resumably, and
 * prints what it did. The work is src/score.c's; this parses options, loads
 * the run's dataset when it can, and sets up the judge.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../optable.h"
#include "../score.h"
#include "common.h"
#include "cmd.h"
#include "util.h"

/* What 'ipw score' parses into. */
struct score_args {
	struct score_opts o;
	struct judge_opts jo;
	struct cmd_common cc;      /* cc.store: --store */
	const char *dataset, *format, *refrun;
	int quiet;
};

static int tolerance_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int jretries_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int rule_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int dformat_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static const struct opt_hooks tolerance_hooks = {.parse = tolerance_parse, NULL};
static const struct opt_hooks jretries_hooks = {.parse = jretries_parse, NULL};
static const struct opt_hooks rule_hooks = {.parse = rule_parse, NULL};
static const struct opt_hooks dformat_hooks = {.parse = dformat_parse, NULL};

#define A(field) offsetof(struct score_args, field)
#define OPEN (OPT_BOUNDED | OPT_MIN_OPEN)
static const struct opt_def score_opts_table[] = {
	{"grader", 0, OPT_STRING, A(o.grader), "NAME", "mcq | numeric | exact | regex | judge_reference | judge_pairwise\n"
	 "(default: each item's task grader)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"tolerance", 0, OPT_STRING, OPT_NOFIELD, "R[,A]", "numeric: relative (default 1e-6) and absolute (1e-9) tolerance",
	 NULL, 0, 0, 0, NULL, NULL, &tolerance_hooks},
	{"judge-url", 0, OPT_STRING, A(jo.url), "URL", "OpenAI-compatible endpoint of the judge (needed for the judge tasks)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"judge-model", 0, OPT_STRING, A(jo.model), "NAME", "the judge model", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"judge-key-env", 0, OPT_STRING, A(jo.key_env), "VAR", "environment variable holding the judge's API key\n"
	 "(default IPW_JUDGE_API_KEY; the key is never stored or printed)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"judge-timeout", 0, OPT_DOUBLE, A(jo.timeout_s), "S", "per judge request (default 300)",
	 NULL, 0, 1e15, OPEN, NULL, "seconds > 0", NULL},
	{"judge-retries", 0, OPT_INT, A(jo.max_attempts), "N", "retries after 429, 5xx, timeouts (default 2)",
	 NULL, 0, 0, 0, NULL, NULL, &jretries_hooks},
	{"judge-backoff", 0, OPT_DOUBLE, A(jo.backoff_s), "S", "first retry delay, doubled each retry (default 1)",
	 NULL, 0, 1e15, OPT_BOUNDED, NULL, "seconds >= 0", NULL},
	{"pairwise-rule", 0, OPT_STRING, OPT_NOFIELD, "R", "either (default: win or tie in either order) | both",
	 NULL, 0, 0, 0, NULL, NULL, &rule_hooks},
	{"reference-run", 0, OPT_STRING, A(refrun), "RUN", "judge_pairwise: compare with this run's answers to the same items\n"
	 "(default: the item's reference_response)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"dataset", 0, OPT_STRING, A(dataset), "PATH", "the run's dataset (default: the path it recorded)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"format", 0, OPT_STRING, A(format), "F", "its format (default: as recorded; see ipw profile --help)",
	 NULL, 0, 0, 0, NULL, NULL, &dformat_hooks},
	{"rescore", 0, OPT_FLAG, A(o.rescore), NULL, "score again items already scored with the same settings",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"store", 0, OPT_STRING, A(cc.store), "PATH", "the store (default ./ipw.db)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"quiet", 0, OPT_FLAG, A(quiet), NULL, "no progress line", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(score_opts_table) / sizeof(score_opts_table[0]))

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw score RUN [--grader NAME] [--judge-url URL --judge-model NAME] [options]\n"
"Scores every ok query of a recorded run and appends one score per item (the latest\n"
"counts). Resumable: items whose latest score has the same grader and settings are\n"
"skipped unless --rescore.\n\n"
"  RUN                  a run id, a name only one run has, or 'last'\n");
	opt_usage(f, score_opts_table, NOPTS);
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

static int tolerance_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	if (parse_tolerance(arg, &((struct score_args *)t)->o.gs) < 0)
		return err_set(err, errlen, "--tolerance takes REL or REL,ABS (numbers >= 0)");
	return 0;
}

static int jretries_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	char *end;
	long long v = strtoll(arg, &end, 10);
	if (end == arg || *end || v < 0 || v > 100)
		return err_set(err, errlen, "--judge-retries takes 0..100");
	((struct score_args *)t)->jo.max_attempts = (int)v + 1;
	return 0;
}

static int rule_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	if (pairwise_rule_parse(arg, &((struct score_args *)t)->o.rule) < 0)
		return err_set(err, errlen, "--pairwise-rule takes either or both");
	return 0;
}

static int dformat_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	if (dataset_format_valid(arg) < 0)
		return err_set(err, errlen, "unknown --format (use %s)", DATASET_FORMATS);
	((struct score_args *)t)->format = arg;
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

static int is_judge_grader(const char *g)
{
	return g && (!strcmp(g, "judge_reference") || !strcmp(g, "judge_pairwise"));
}

/* Parses and checks the options; 0, OPT_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct score_args *a, int argc, char **argv, int *first)
{
	char err[IPW_ERRLEN] = "";
	int rc = opt_parse(score_opts_table, NOPTS, a, argc, argv, first, NULL, err, sizeof(err));
	if (rc == OPT_HELP) {
		usage(stdout);
		return OPT_HELP;
	}
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw score: %s (ipw score --help lists the options)\n", err);
		return EXIT_USAGE;
	}
	if (cmd_one_run(&a->cc, argc, argv, *first))
		return EXIT_USAGE;
	if (a->o.grader && !grader_find(a->o.grader) && !is_judge_grader(a->o.grader)) {
		fprintf(stderr, "ipw score: unknown grader '%s' (use mcq, numeric, exact, regex, judge_reference "
			"or judge_pairwise)\n", a->o.grader);
		return EXIT_USAGE;
	}
	if ((a->jo.url != NULL) != (a->jo.model != NULL)) {
		fprintf(stderr, "ipw score: a judge needs both --judge-url and --judge-model\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* --reference-run: another run over the same items; 0 or the exit status (said). */
static int get_reference(struct score_args *a, struct store *st, const struct run_record *r,
			 struct run_record *ref)
{
	char err[IPW_ERRLEN];
	if (!a->refrun)
		return 0;
	if (store_run_get(st, a->refrun, ref, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw score: --reference-run: %s\n", err);
		return EXIT_INPUT;
	}
	if (!strcmp(ref->id, r->id)) {
		fprintf(stderr, "ipw score: --reference-run names run %s itself (name another run over the "
			"same items)\n", r->id);
		return EXIT_USAGE;
	}
	a->o.reference_run = ref->id;
	return 0;
}

/* The judge, when asked for; 0 or EXIT_USAGE (said). *judged = 1 once set up. */
static int setup_judge(struct score_args *a, struct store *st, struct judge *judge, int *judged)
{
	char err[IPW_ERRLEN];
	if (a->jo.url) {
		if (judge_init(judge, &a->jo, st, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw score: %s\n", err);
			return EXIT_USAGE;
		}
		*judged = 1;
		a->o.judge = judge;
	} else if (is_judge_grader(a->o.grader)) {
		fprintf(stderr, "ipw score: --grader %s needs a judge: pass --judge-url URL and --judge-model NAME\n",
			a->o.grader);
		return EXIT_USAGE;
	}
	return 0;
}

/* What was done; returns the exit status. */
static int print_report(const struct score_args *a, const struct run_record *r, const struct score_report *rep,
			const struct judge *judge, int judged)
{
	printf("run %s: %ld queries; scored %ld (%ld correct), unscored %ld, already scored %ld, "
	       "failed queries %ld\n", r->id, rep->queries, rep->scored, rep->correct, rep->unscored, rep->already,
	       rep->failed);
	if (judged)
		printf("judge %s: %ld requests, %ld judgements from the cache\n", judge->model, judge->n_requests,
		       judge->n_cached);
	if (rep->no_item)
		printf("%ld items were not in the dataset: scored from the stored queries\n", rep->no_item);
	if (rep->need_judge)
		printf("%ld items need a judge and were left unscored: pass --judge-url URL and --judge-model NAME\n",
		       rep->need_judge);
	if (rep->ungraded)
		printf("%ld items are ungraded (no reference answer: the random dataset measures speed and energy, "
		       "not accuracy); no score was written for them\n", rep->ungraded);
	if (rep->unscored)
		printf("%ld items could not be scored; the reasons are in the store's scores table\n", rep->unscored);
	char *store = a->cc.store ? store_uri_shown(a->cc.store) : NULL;
	printf("metrics: ipw show %s%s%s\n", r->id, store ? " --store " : "", store ? store : "");
	free(store);
	return fflush(stdout) ? EXIT_ENV : rep->unscored || rep->need_judge ? EXIT_PARTIAL : 0;
}

int cmd_score(int argc, char **argv)
{
	struct score_args a;
	struct judge judge;
	struct score_report rep;
	struct store st;
	struct run_record r, ref;
	struct dataset *ds = NULL;
	char err[IPW_ERRLEN] = "";
	int rc, first = 0, opened = 0, judged = 0, tty = 0;

	memset(&a, 0, sizeof(a));
	score_opts_init(&a.o);
	judge_opts_init(&a.jo);
	cmd_common_init(&a.cc, "score", OUT_TEXT, OUT_TEXT);
	memset(&r, 0, sizeof(r));
	memset(&ref, 0, sizeof(ref));
	memset(&judge, 0, sizeof(judge));
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == OPT_HELP ? 0 : rc;
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_WRITE)))
		return rc;
	opened = 1;
	if ((rc = cmd_run_get(&a.cc, &st, argv[first], &r)) || (rc = get_reference(&a, &st, &r, &ref)) ||
	    (rc = setup_judge(&a, &st, &judge, &judged)))
		goto out;
	ds = load_items(&r, a.dataset, a.format);
	a.o.ds = ds;
	tty = !a.quiet && isatty(STDERR_FILENO);
	a.o.progress = on_progress;
	a.o.arg = &tty;
	if (score_run(&st, r.id, &a.o, &rep, err, sizeof(err)) < 0) {
		fprintf(stderr, "\nipw score: %s\nipw score: the scores written so far are kept; run the same "
			"command again to continue\n", err);
		rc = judged ? EXIT_ENV : EXIT_INPUT;
		goto out;
	}
	rc = print_report(&a, &r, &rep, &judge, judged);
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

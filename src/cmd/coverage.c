/*
 * cmd/coverage.c - 'ipw coverage RUN...': the share of items each run
 * answered right, best-of-N coverage over the set (items matched by id),
 * overall and per subject, and the items no run answers. Runs are merged by
 * item id with one store cursor each.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis.h"
#include "cmd.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

#define SHOW_UNCOVERED 20

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw coverage RUN... [--store PATH] [--json] [--intersect] [--uncovered FILE]\n"
		"  RUN              run ids, names only one run has, or 'last' (scored runs of the same items)\n"
		"  --store PATH     the store to read (default ./ipw.db)\n"
		"  --json           one JSON object instead of tables\n"
		"  --intersect      use only the items every run has (others are dropped and counted)\n"
		"  --uncovered FILE write every item no run answers right, one 'item_id<TAB>subject' a line\n");
}

struct uncovered_ctx {
	FILE *f;
	char *first[SHOW_UNCOVERED];
	int n;
};

static int on_uncovered(const char *item_id, const char *subject, void *p)
{
	struct uncovered_ctx *u = p;
	if (u->n < SHOW_UNCOVERED)
		u->first[u->n++] = xstrdup(item_id);
	if (u->f && fprintf(u->f, "%s\t%s\n", item_id, subject) < 0)
		return -1;
	return 0;
}

static json_t *counts_json(const struct coverage_counts *c, int best)
{
	json_t *o = json_object();
	json_object_set_new(o, "items", json_integer(c->items));
	json_object_set_new(o, "scored", json_integer(c->scored));
	json_object_set_new(o, "correct", json_integer(c->correct));
	if (!best)
		json_object_set_new(o, "failed", json_integer(c->failed));
	json_object_set_new(o, best ? "scored_by_none" : "unscored", json_integer(c->unscored));
	json_object_set_new(o, "coverage", json_real_or_null(coverage_value(c)));
	return o;
}

static const char *pct(char *buf, size_t n, const struct coverage_counts *c)
{
	double v = coverage_value(c);
	if (isfinite(v))
		snprintf(buf, n, "%.1f%%", 100 * v);
	else
		snprintf(buf, n, "-");
	return buf;
}

int cmd_coverage(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"intersect", no_argument, NULL, 'i'},
		{"uncovered", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *ufile = NULL;
	char err[IPW_ERRLEN], buf[32], **ids = NULL;
	struct store st;
	struct coverage_result cr;
	struct uncovered_ctx u;
	struct run_record *runs = NULL;
	size_t n = 0;
	int json = 0, intersect = 0, ch, rc = EXIT_INPUT, opened = 0, have = 0;

	memset(&u, 0, sizeof(u));
	memset(&cr, 0, sizeof(cr));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case 'i': intersect = 1; break;
		case 'u': ufile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ipw coverage: name at least one run\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	n = (size_t)(argc - optind);
	if (store_open(&st, path, STORE_READONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw coverage: %s\n", err);
		goto out;
	}
	opened = 1;
	runs = xcalloc(n, sizeof(*runs));
	ids = xcalloc(n + 1, sizeof(*ids));
	for (size_t i = 0; i < n; i++) {
		if (store_run_get(&st, argv[optind + (int)i], &runs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw coverage: %s\n", err);
			goto out;
		}
		ids[i] = xstrdup(runs[i].id);
	}
	if (ufile && !(u.f = fopen(ufile, "w"))) {
		fprintf(stderr, "ipw coverage: cannot write '%s': %m\n", ufile);
		rc = EXIT_ENV;
		goto out;
	}
	if (analysis_coverage(&st, (const char *const *)ids, n, intersect, on_uncovered, &u, &cr,
			      err, sizeof(err)) != 0) {
		fprintf(stderr, "ipw coverage: %s\n", err);
		goto out;
	}
	have = 1;
	if (u.f && fclose(u.f) != 0) {
		u.f = NULL;
		fprintf(stderr, "ipw coverage: writing '%s' failed\n", ufile);
		rc = EXIT_ENV;
		goto out;
	}
	u.f = NULL;
	if (json) {
		json_t *o = json_object(), *ra = json_array(), *sa = json_array(), *ua = json_array();
		json_object_set_new(o, "items", json_integer(cr.n_items));
		json_object_set_new(o, "dropped", json_integer(cr.n_dropped));
		for (size_t i = 0; i < n; i++) {
			json_t *r = counts_json(&cr.run[i], 0);
			json_object_set_new(r, "run", json_integer(strtoll(ids[i], NULL, 10)));
			json_object_set_new(r, "name", json_string(runs[i].name ? runs[i].name : ""));
			json_object_set_new(r, "model", runs[i].model ? json_string(runs[i].model) : json_null());
			json_array_append_new(ra, r);
		}
		json_object_set_new(o, "runs", ra);
		json_object_set_new(o, "best_of_n", counts_json(&cr.best, 1));
		for (size_t s = 0; s < cr.nsubj; s++) {
			json_t *so = json_object(), *rr = json_array();
			json_object_set_new(so, "subject", json_string(cr.subj[s].subject));
			for (size_t i = 0; i < n; i++)
				json_array_append_new(rr, counts_json(&cr.subj[s].run[i], 0));
			json_object_set_new(so, "runs", rr);
			json_object_set_new(so, "best_of_n", counts_json(&cr.subj[s].best, 1));
			json_array_append_new(sa, so);
		}
		json_object_set_new(o, "subjects", sa);
		json_object_set_new(o, "uncovered", json_integer(cr.n_uncovered));
		for (int i = 0; i < u.n; i++)
			json_array_append_new(ua, json_string(u.first[i]));
		json_object_set_new(o, "uncovered_first", ua);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		putchar('\n');
		json_decref(o);
	} else {
		printf("coverage over %lld items", cr.n_items);
		if (intersect)
			printf(" (%lld items not in every run dropped)", cr.n_dropped);
		printf("\n%-5s %-16s %-20s %9s %9s %9s %8s %9s\n", "run", "name", "model", "scored", "correct",
		       "coverage", "failed", "unscored");
		for (size_t i = 0; i < n; i++)
			printf("%-5s %-16s %-20s %9lld %9lld %9s %8lld %9lld\n", ids[i], runs[i].name ? runs[i].name : "-",
			       runs[i].model ? runs[i].model : "-", cr.run[i].scored, cr.run[i].correct,
			       pct(buf, sizeof(buf), &cr.run[i]), cr.run[i].failed, cr.run[i].unscored);
		printf("%-5s %-16s %-20s %9lld %9lld %9s %8s %9lld\n", "best", "best-of-N", "(any run right)",
		       cr.best.scored, cr.best.correct, pct(buf, sizeof(buf), &cr.best), "", cr.best.unscored);
		printf("\nper subject (coverage; items)\n%-24s %7s", "subject", "items");
		for (size_t i = 0; i < n; i++)
			printf(" %8s%s", "run ", ids[i]);
		printf(" %9s\n", "best-of-N");
		for (size_t s = 0; s < cr.nsubj; s++) {
			printf("%-24s %7lld", *cr.subj[s].subject ? cr.subj[s].subject : "(none)", cr.subj[s].best.items);
			for (size_t i = 0; i < n; i++)
				printf(" %*s", 8 + (int)strlen(ids[i]), pct(buf, sizeof(buf), &cr.subj[s].run[i]));
			printf(" %9s\n", pct(buf, sizeof(buf), &cr.subj[s].best));
		}
		printf("\nitems no run answers right (scored by at least one run): %lld\n", cr.n_uncovered);
		for (int i = 0; i < u.n; i++)
			printf("  %s\n", u.first[i]);
		if (cr.n_uncovered > u.n)
			printf("  ... (%s)\n", ufile ? "all of them are in the --uncovered file" :
			       "--uncovered FILE writes all of them");
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	if (u.f)
		fclose(u.f);
	for (int i = 0; i < u.n; i++)
		free(u.first[i]);
	if (have)
		coverage_result_release(&cr);
	for (size_t i = 0; runs && i < n; i++)
		run_record_release(&runs[i]);
	free(runs);
	if (ids)
		free_list(ids);
	if (opened)
		store_close(&st);
	return rc;
}

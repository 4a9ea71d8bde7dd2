/*
 * test_refsuite.c - the procedural `ref` suite: deterministic for a seed,
 * every family and level present, the prompt as item_prompt builds it, and
 * every reference answer graded correct by ipw's graders.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "grade.h"
#include "refsuite.h"

Test(refsuite, deterministic)
{
	struct refitem a, b, c;

	for (uint64_t i = 0; i < 200; i++) {
		refsuite_item(REFSUITE_EVAL_SEED, i, &a);
		refsuite_item(REFSUITE_EVAL_SEED, i, &b);
		cr_assert(!memcmp(&a, &b, sizeof(a)));
		refsuite_item(1, i, &c);
		cr_assert_str_neq(a.id, c.id);
	}
}

Test(refsuite, spec)
{
	size_t n = 0;
	char err[256];

	cr_assert_eq(refsuite_spec("ref", &n, err, sizeof(err)), 1);
	cr_assert_eq(n, REFSUITE_DEFAULT_N);
	cr_assert_eq(refsuite_spec("ref:30", &n, err, sizeof(err)), 1);
	cr_assert_eq(n, 30);
	cr_assert_eq(refsuite_spec("ref.jsonl", &n, err, sizeof(err)), 0);
	cr_assert_eq(refsuite_spec("data/x.jsonl", &n, err, sizeof(err)), 0);
	cr_assert_eq(refsuite_spec(NULL, &n, err, sizeof(err)), 0);
	cr_assert_eq(refsuite_spec("ref:0", &n, err, sizeof(err)), -1);
	cr_assert_eq(refsuite_spec("ref:x", &n, err, sizeof(err)), -1);
}

Test(refsuite, families_levels_and_grading)
{
	struct dataset ds;
	char err[256];
	int seen[REFSUITE_NFAMILIES][REFSUITE_NLEVELS + 1] = {{0}};

	cr_assert_eq(dataset_load(&ds, "ref", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ds.n, REFSUITE_DEFAULT_N);
	cr_assert_str_eq(ds.format, "ref");
	cr_assert_eq(strlen(ds.sha256), 64);
	for (size_t i = 0; i < ds.n; i++) {
		const struct item *it = &ds.items[i];
		struct refitem r;
		struct grade_result g;
		char want[2048], *given, *prompt;
		int f = -1;

		refsuite_item(REFSUITE_EVAL_SEED, i, &r);
		for (int k = 0; k < REFSUITE_NFAMILIES; k++)
			if (!strcmp(it->subject, refsuite_families[k]))
				f = k;
		cr_assert_geq(f, 0, "%s", it->subject);
		cr_assert(r.level >= 1 && r.level <= REFSUITE_NLEVELS);
		cr_assert(strstr(it->metadata, "\"level\":") != NULL);
		seen[f][r.level]++;
		/* The answer the reference models are trained to give is graded correct. */
		given = malloc(strlen(it->answer) + 16);
		sprintf(given, "Answer: %s", it->answer);
		cr_assert_eq(grade_item(it, given, NULL, &g), 0, "%s: %s", it->id, g.reason);
		cr_assert_eq(g.correct, 1, "%s: %s", it->id, g.reason);
		free(given);
		/* The trainer's prompt is the one ipw sends. */
		prompt = item_prompt(it);
		cr_assert_gt(refsuite_prompt(&r, want, sizeof(want)), 0);
		cr_assert_str_eq(prompt, want);
		free(prompt);
	}
	for (int f = 0; f < REFSUITE_NFAMILIES; f++)
		for (int l = 1; l <= REFSUITE_NLEVELS; l++)
			cr_assert_gt(seen[f][l], 0, "family %d level %d", f, l);
	dataset_release(&ds);
}

/*
 * bin_mkranks.c - writes the store tests/cli/paper_ranks.sh checks ipw ranks
 * on by hand (every query 1 s, every run on "Fake H200"):
 *
 *   run | name  | model | dataset  | items        | correct        | E (J) each
 *   1   | sep-a | sep-a | builtin  | s1..s3       | 1 1 1          | 10  (IPW 0.1)
 *   2   | sep-b | sep-b | builtin  | s1..s3       | 1 1 1          | 20  (0.05)
 *   3   | sep-c | sep-c | builtin  | s1..s3       | 1 1 1          | 40  (0.025)
 *   4   | tie-a | tie-a | builtin  | s1..s3       | 1 1 1          | 20  (0.05)
 *   5   | tie-b | tie-b | builtin  | s1..s3       | 1 1 1          | 20  (0.05)
 *   6   | a-x   | A     | x.jsonl  | x1..x3       | 1 1 0          | 10
 *   7   | b-x   | B     | x.jsonl  | x1..x3       | 0 0 0          | 10
 *   8   | c-x   | C     | x.jsonl  | x1..x3       | 1 1 1          | 10
 *   9   | a-y   | A     | y.jsonl  | y1..y5       | 1 1 0 0 0      | 10
 *   10  | b-y   | B     | y.jsonl  | y1..y5       | 1 1 1 1 1      | 10
 *   11  | c-y   | C     | y.jsonl  | y1..y5       | 0 0 0 0 0      | 10
 *
 * Usage: mkranks PATH
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis_fixture.h"

static int add(struct store *st, const char *name, const char *model, const char *dataset, const char *prefix,
	       int n, const int *ok, double e, char *err, size_t errlen)
{
	struct run_record r = fx_run(name, model);
	struct run_source src;
	int rc;

	fx_gpu_source(&r, &src);
	r.dataset_path = (char *)dataset;
	r.n_items = n;
	if ((rc = store_run_create(st, &r, err, errlen)) < 0)
		return rc;
	for (int i = 0; i < n && rc >= 0; i++) {
		char item[16];
		struct query_record q;
		snprintf(item, sizeof(item), "%s%d", prefix, i + 1);
		q = fx_query(i, item, prefix, e, 1, 100);
		if ((rc = store_query_insert(st, r.id, &q, err, errlen)) >= 0)
			rc = fx_score(st, r.id, item, ok[i], err, errlen);
	}
	free(r.id);
	return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
	static const int all3[3] = {1, 1, 1}, ax[3] = {1, 1, 0}, bx[3] = {0, 0, 0};
	static const int ay[5] = {1, 1, 0, 0, 0}, by[5] = {1, 1, 1, 1, 1}, cy[5] = {0, 0, 0, 0, 0};
	char err[IPW_ERRLEN];
	struct store st;
	int rc;

	(void)fixture_build;   /* the analysis store is not this one */
	if (argc != 2) {
		fprintf(stderr, "usage: mkranks PATH\n");
		return 2;
	}
	if (store_open(&st, argv[1], STORE_CREATE, err, sizeof(err)) < 0) {
		fprintf(stderr, "mkranks: %s\n", err);
		return 1;
	}
	rc = add(&st, "sep-a", "sep-a", "builtin", "s", 3, all3, 10, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "sep-b", "sep-b", "builtin", "s", 3, all3, 20, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "sep-c", "sep-c", "builtin", "s", 3, all3, 40, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "tie-a", "tie-a", "builtin", "s", 3, all3, 20, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "tie-b", "tie-b", "builtin", "s", 3, all3, 20, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "a-x", "A", "x.jsonl", "x", 3, ax, 10, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "b-x", "B", "x.jsonl", "x", 3, bx, 10, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "c-x", "C", "x.jsonl", "x", 3, all3, 10, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "a-y", "A", "y.jsonl", "y", 5, ay, 10, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "b-y", "B", "y.jsonl", "y", 5, by, 10, err, sizeof(err));
	if (rc >= 0)
		rc = add(&st, "c-y", "C", "y.jsonl", "y", 5, cy, 10, err, sizeof(err));
	store_close(&st);
	if (rc < 0) {
		fprintf(stderr, "mkranks: %s\n", err);
		return 1;
	}
	return 0;
}

/*
 * cmd/paper_runs.c - the run loading ipw trends and ipw localcloud share
 * (paper_runs.h).
 */
#include "paper_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "common_opts.h"

int paper_runs_open(struct paper_runs *p, const struct cmd_common *cc, const char *meta, char **refs, size_t n)
{
	char err[IPW_ERRLEN];
	int rc;

	memset(p, 0, sizeof(*p));
	if (meta_read(meta, &p->mf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: %s\n", cc->cmd, err);
		return EXIT_INPUT;
	}
	if ((rc = cmd_store_open(cc, &p->st, CMD_STORE_READ)))
		return rc;
	p->opened = 1;
	p->n = n;
	p->r = xcalloc(n + 1, sizeof(*p->r));
	p->have = xcalloc(n + 1, sizeof(*p->have));
	return cmd_runs_get(cc, &p->st, refs, n, &p->runs, &p->ids);
}

int paper_runs_aggregate(struct paper_runs *p, const struct cmd_common *cc, const size_t *which, size_t k,
			 struct agg_options *ao)
{
	char err[IPW_ERRLEN], **sel = xcalloc(k + 1, sizeof(*sel));
	int rc = EXIT_INPUT;

	for (size_t j = 0; j < k; j++)
		sel[j] = p->ids[which[j]];
	if (analysis_figure_ci(&p->st, sel, k, ao->ci, &ao->ci, NULL, err, sizeof(err)) < 0)
		goto say;
	p->ci = ao->ci;
	for (size_t j = 0; j < k; j++) {
		if (agg_run(&p->st, sel[j], AGG_LOAD_ITEMS, ao, &p->r[which[j]], err, sizeof(err)) < 0)
			goto say;
		p->have[which[j]] = 1;
	}
	rc = 0;
	goto out;
say:
	fprintf(stderr, "ipw %s: %s\n", cc->cmd, err);
out:
	free(sel);
	return rc;
}

void paper_runs_release(struct paper_runs *p)
{
	for (size_t i = 0; p->have && i < p->n; i++)
		if (p->have[i])
			agg_result_release(&p->r[i]);
	free(p->r);
	free(p->have);
	cmd_runs_free(p->runs, p->ids, p->n);
	meta_release(&p->mf);
	if (p->opened)
		store_close(&p->st);
	memset(p, 0, sizeof(*p));
}

const char *paper_ci_words(enum agg_ci ci)
{
	return ci == AGG_CI_DELTA ? "delta method" : "bootstrap over queries";
}

static int ci_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	int v;
	if (!strcmp(arg, "auto"))
		v = AGG_CI_AUTO;
	else if (!strcmp(arg, "bootstrap"))
		v = AGG_CI_BOOTSTRAP;
	else if (!strcmp(arg, "delta"))
		v = AGG_CI_DELTA;
	else
		return err_set(err, errlen, "--ci is 'auto', 'bootstrap' or 'delta'");
	memcpy((char *)t + d->offset, &v, sizeof(v));
	return 0;
}
_Static_assert(sizeof(enum agg_ci) == sizeof(int), "--ci is stored as an int");
const struct opt_hooks paper_ci_hooks = {ci_parse, NULL, NULL, NULL, NULL, NULL};

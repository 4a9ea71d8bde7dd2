/*
 * cmd/paper_runs.h - what the metadata-driven commands (ipw trends, ipw
 * localcloud) share: read --model-meta FILE, open the store, resolve the
 * runs, and aggregate a chosen set of them with one interval method for the
 * whole table. Errors are said on stderr as "ipw CMD: ..." and the exit
 * status returned, as common.h's functions do.
 */
#ifndef IPW_CMD_PAPER_RUNS_H
#define IPW_CMD_PAPER_RUNS_H

#include "aggregate.h"
#include "analysis/paper.h"
#include "common.h"
#include "optable.h"

struct paper_runs {
	struct meta_file mf;
	struct store st;
	struct run_record *runs;  /* n runs, in the order given */
	char **ids;
	size_t n;
	struct agg_result *r;     /* per run; aggregated only for the runs paper_runs_aggregate was given */
	int *have;                /* r[i] is filled */
	enum agg_ci ci;           /* the table's interval method (analysis_figure_ci) */
	int opened;
};

/* Reads meta, opens the store and resolves refs[0..n); 0 or an exit status (said). */
int paper_runs_open(struct paper_runs *p, const struct cmd_common *cc, const char *meta, char **refs, size_t n);
/*
 * Decides the interval method over runs which[0..k) from the one asked in
 * ao->ci (auto as compare; bootstrap or delta as given) into ao->ci and
 * p->ci and aggregates each into p->r; 0 or EXIT_INPUT (said).
 */
int paper_runs_aggregate(struct paper_runs *p, const struct cmd_common *cc, const size_t *which, size_t k,
			 struct agg_options *ao);
void paper_runs_release(struct paper_runs *p);

/*
 * --ci auto|bootstrap|delta, as compare, show and report take it: an enum
 * agg_ci (int-sized) at the option's offset. PAPER_OPTDEF_CI(type, field)
 * is the option's entry.
 */
extern const struct opt_hooks paper_ci_hooks;
#define PAPER_OPTDEF_CI(type, field) \
	{"ci", 0, OPT_STRING, offsetof(type, field), "METHOD", "intervals of the whole table: auto (default: " \
	 "bootstrap when every\nrun has up to 50000 scored queries, else delta for all), bootstrap or delta", NULL, \
	 0, 0, 0, NULL, NULL, &paper_ci_hooks}

/* "bootstrap over queries" or "delta method", for a table's closing line. */
const char *paper_ci_words(enum agg_ci ci);

#endif

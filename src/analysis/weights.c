/*
 * analysis/weights.c - subject weights read from a key/value file (kv.h) and
 * the subject-weighted accuracy, IPW and IPJ with intervals from a bootstrap
 * that resamples within each subject.
 */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kv.h"
#include "rng.h"
#include "stats.h"
#include "util.h"

/* ---- subject weights ---- */

void weights_free(struct weight_entry *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++)
		free(w[i].subject);
	free(w);
}

static const struct kv_spec weights_spec = {
	1, {NULL, NULL}, 0, 1, 1, "weight", "subject<TAB>weight' or 'subject,weight", "a number >= 0",
};

/*
 * The shipped template's marks left in a weights file: an entry still
 * commented out with no figure ("#Legal Occupations<TAB>") or the source
 * line's "(fill in)". 0 when none, else -1 with err saying which and how to
 * fill them (a file that cannot be opened is left to kv_read to report).
 */
static int template_check(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, first[160] = "";
	size_t cap = 0, lineno = 0, first_line = 0, empty = 0;
	int source = 0;
	ssize_t len;

	if (!f)
		return 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *tab;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!strncmp(line, "# source:", 9) && strstr(line, "(fill in)"))
			source = 1;
		if (line[0] != '#' || line[1] == ' ' || line[1] == '#' || !(tab = strchr(line, '\t')) ||
		    tab[strspn(tab, " \t")])
			continue;
		if (!empty++) {
			snprintf(first, sizeof(first), "%.*s", (int)(tab - line - 1), line + 1);
			first_line = lineno;
		}
	}
	free(line);
	fclose(f);
	if (empty)
		return err_set(err, errlen, "%s is the weights template with %zu categor%s still without a figure "
			       "(first: '%s', line %zu): remove the '#' before each and put its GDP in USD after the "
			       "TAB (or delete the line to leave the category out), and name the source on the "
			       "'# source:' line; docs/analysis.md \"GDP weights\" says how", path, empty,
			       empty == 1 ? "y" : "ies", first, first_line);
	if (source)
		return err_set(err, errlen, "%s: the '# source:' line still reads '(fill in)': name where the figures "
			       "come from (publisher, table, year), so every weighted number can be traced; "
			       "docs/analysis.md \"GDP weights\"", path);
	return 0;
}

int analysis_weights_read(const char *path, struct weight_entry **out, size_t *nout, char *err, size_t errlen)
{
	struct kv_table t;

	*out = NULL;
	*nout = 0;
	if (template_check(path, err, errlen) < 0)
		return -1;
	if (kv_read(path, &weights_spec, &t, err, errlen) < 0)
		return -1;
	if (t.n == 0) {
		kv_table_release(&t);
		return err_set(err, errlen, "%s: no subject weights found", path);
	}
	*out = xcalloc(t.n, sizeof(**out));
	for (size_t i = 0; i < t.n; i++) {
		(*out)[i].subject = t.e[i].key;   /* moved */
		(*out)[i].weight = t.e[i].v[0];
		t.e[i].key = NULL;
	}
	*nout = t.n;
	kv_table_release(&t);
	return 0;
}

/* Per-subject sums of the queries the weighted metrics use. */
struct wsub {
	double w;
	size_t *idx, n;      /* scored queries of the subject */
};

static double weight_of(const struct weight_entry *w, size_t nw, const char *s)
{
	for (size_t i = 0; i < nw; i++)
		if (!strcmp(w[i].subject, s))
			return w[i].weight;
	return NAN;
}

/* Weighted accuracy, IPW, IPJ from per-subject sums over counts cnt (NULL = 1 each). */
static void weighted_point(const struct run_data *d, const struct wsub *ws, size_t ns, const uint32_t *const *cnt,
			   double wtotal, double v[5])
{
	double wa = 0, wsum = 0, we_acc = 0, we_p = 0, we_e = 0, wesum = 0;
	for (size_t s = 0; s < ns; s++) {
		double n = 0, acc = 0, en = 0, eacc = 0, ep = 0, ee = 0;
		if (!(ws[s].w > 0) || ws[s].n == 0)
			continue;
		for (size_t j = 0; j < ws[s].n; j++) {
			size_t i = ws[s].idx[j];
			double c = cnt ? cnt[s][j] : 1, lat = d->latency_s[i], e = d->energy_j[i];
			if (c == 0)
				continue;
			n += c;
			acc += c * d->acc[i];
			if (isfinite(e) && e >= 0 && isfinite(lat) && lat > 0) {
				en += c;
				eacc += c * d->acc[i];
				ep += c * e / lat;
				ee += c * e;
			}
		}
		if (n > 0) {
			wa += ws[s].w * acc / n;
			wsum += ws[s].w;
		}
		if (en > 0) {
			we_acc += ws[s].w * eacc / en;
			we_p += ws[s].w * ep / en;
			we_e += ws[s].w * ee / en;
			wesum += ws[s].w;
		}
	}
	v[0] = wsum > 0 ? wa / wsum : NAN;
	v[1] = wesum > 0 && we_p > 0 ? we_acc / we_p : NAN;
	v[2] = wesum > 0 && we_e > 0 ? we_acc / we_e : NAN;
	v[3] = wsum > 0 ? wa : NAN;
	v[4] = wsum > 0 && wtotal > 0 ? wa / wtotal : NAN;
}

static char **list_push(char **l, size_t *n, const char *s)
{
	l = xrealloc(l, (*n + 2) * sizeof(*l));
	l[(*n)++] = xstrdup(s);
	l[*n] = NULL;
	return l;
}

/* Each subject's weight and scored queries; the subjects without a weight and the weighted ones absent. */
static struct wsub *subjects_of(const struct run_data *d, const struct weight_entry *w, size_t nw,
				struct weighted_result *out)
{
	size_t ns = d->nsubjects, nu = 0, na = 0;
	struct wsub *ws = xcalloc(ns ? ns : 1, sizeof(*ws));

	out->unweighted = xcalloc(1, sizeof(char *));
	out->absent = xcalloc(1, sizeof(char *));
	for (size_t s = 0; s < ns; s++) {
		ws[s].w = weight_of(w, nw, d->subjects[s]);
		if (isnan(ws[s].w))
			out->unweighted = list_push(out->unweighted, &nu, d->subjects[s]);
		ws[s].idx = xmalloc((d->n ? d->n : 1) * sizeof(size_t));
	}
	for (size_t i = 0; i < nw; i++) {
		int found = 0;
		for (size_t s = 0; s < ns && !found; s++)
			found = !strcmp(d->subjects[s], w[i].subject);
		if (!found)
			out->absent = list_push(out->absent, &na, w[i].subject);
	}
	for (size_t i = 0; i < d->n; i++) {
		size_t s = 0;
		if (d->failed[i] || (d->acc[i] != 0 && d->acc[i] != 1))
			continue;
		while (d->subjects[s] != d->subject[i])
			s++;
		ws[s].idx[ws[s].n++] = i;
	}
	for (size_t s = 0; s < ns; s++)
		if (ws[s].w > 0 && ws[s].n > 0)
			out->weight_used += ws[s].w;
	return ws;
}

/* Percentile bootstrap intervals, resampling within each subject so every subject keeps its size. */
static void weighted_bootstrap(const struct run_data *d, const struct wsub *ws, size_t ns,
			       const struct metrics_options *o, struct weighted_result *out)
{
	size_t b_n = (size_t)o->bootstrap;
	double *reps = xmalloc(5 * b_n * sizeof(double));
	uint32_t **cnt = xcalloc(ns ? ns : 1, sizeof(*cnt));
	struct metric_value *mv[5] = {&out->accuracy, &out->ipw, &out->ipj, &out->gdp_value, &out->gdp_share};
	struct rng r;

	rng_seed(&r, o->seed);
	for (size_t s = 0; s < ns; s++)
		cnt[s] = xcalloc(ws[s].n ? ws[s].n : 1, sizeof(uint32_t));
	for (size_t b = 0; b < b_n; b++) {
		double rv3[5];
		for (size_t s = 0; s < ns; s++) {
			memset(cnt[s], 0, (ws[s].n ? ws[s].n : 1) * sizeof(uint32_t));
			for (size_t j = 0; j < ws[s].n; j++)
				cnt[s][(size_t)rng_below(&r, ws[s].n)]++;
		}
		weighted_point(d, ws, ns, (const uint32_t *const *)cnt, out->weight_total, rv3);
		for (int k = 0; k < 5; k++)
			reps[(size_t)k * b_n + b] = rv3[k];
	}
	for (int k = 0; k < 5; k++)
		if (isfinite(mv[k]->value))
			stats_percentile_interval(&reps[(size_t)k * b_n], b_n, o->level, &mv[k]->ci_low, &mv[k]->ci_high);
	for (size_t s = 0; s < ns; s++)
		free(cnt[s]);
	free(cnt);
	free(reps);
}

int analysis_weighted(const struct run_data *d, const struct weight_entry *w, size_t nw,
		      const struct metrics_options *o, struct weighted_result *out, char *err, size_t errlen)
{
	struct metrics_options defs;
	size_t ns = d->nsubjects;
	struct wsub *ws;
	double v[5];

	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	memset(out, 0, sizeof(*out));
	ws = subjects_of(d, w, nw, out);
	for (size_t i = 0; i < nw; i++)
		out->weight_total += w[i].weight;
	weighted_point(d, ws, ns, NULL, out->weight_total, v);
	out->accuracy = (struct metric_value){v[0], NAN, NAN};
	out->ipw = (struct metric_value){v[1], NAN, NAN};
	out->ipj = (struct metric_value){v[2], NAN, NAN};
	out->gdp_value = (struct metric_value){v[3], NAN, NAN};
	out->gdp_share = (struct metric_value){v[4], NAN, NAN};
	if (o->bootstrap > 0)
		weighted_bootstrap(d, ws, ns, o, out);
	for (size_t s = 0; s < ns; s++)
		free(ws[s].idx);
	free(ws);
	return 0;
}

void weighted_result_release(struct weighted_result *r)
{
	if (r->unweighted)
		free_list(r->unweighted);
	if (r->absent)
		free_list(r->absent);
	memset(r, 0, sizeof(*r));
}

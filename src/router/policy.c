/*
 * router/policy.c - from a request's model name, text and limits to an
 * ordered list of tiers: the policy picks the first tier (rules, learned,
 * cascade, or a named tier), the fallback list follows, and the hard limits
 * (privacy, cost budget, latency) remove what they forbid. docs/router.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "util.h"

#define PREFIX "ipw-router"

/* The threshold for "share=X" (target local share) or "acc=X" (target accuracy) from the held-out curve. */
static int threshold_target(const struct learn_router *lr, const char *spec, double *thr, char *err, size_t errlen)
{
	int share = !strncmp(spec, "share=", 6);
	const char *num = spec + (share ? 6 : 4);
	char *end;
	double want = strtod(num, &end), best = NAN;
	json_t *curve = lr && lr->report ? json_object_get(lr->report, "curve") : NULL, *row;
	size_t i;
	if (end == num || *end || !(want >= 0 && want <= 1))
		return err_set(err, errlen, "'%s': the target is a fraction 0..1", spec);
	if (!json_is_array(curve) || json_array_size(curve) == 0)
		return err_set(err, errlen, "the router file has no held-out curve to set a target from");
	/* the curve is in increasing threshold: local share falls, accuracy rises */
	json_array_foreach(curve, i, row) {
		double t = json_number_value(json_object_get(row, "threshold"));
		double v = json_number_value(json_object_get(row, share ? "local_share" : "accuracy"));
		if (share ? v >= want : (v >= want && isnan(best)))
			best = t;
		if (share && v < want)
			break;
	}
	if (isnan(best))
		return err_set(err, errlen, "no threshold reaches %s on the held-out items", spec);
	*thr = best;
	return 0;
}

int router_policy_parse(const struct router_config *c, const struct learn_router *lr, const char *model,
			enum router_policy *pol, double *threshold, int *tier, char *err, size_t errlen)
{
	const char *rest, *name;
	*threshold = NAN;
	*tier = -1;
	if (c->rules.aliases && json_is_string(json_object_get(c->rules.aliases, model ? model : ""))) {
		*pol = POLICY_TIER;
		*tier = router_tier_find(c, json_string_value(json_object_get(c->rules.aliases, model)));
		return 0;
	}
	if (!model || strncmp(model, PREFIX, strlen(PREFIX)) || (model[strlen(PREFIX)] && model[strlen(PREFIX)] != ':'))
		return err_set(err, errlen, "model '%s' is not a router policy (GET /v1/models lists them)",
			       model ? model : "");
	rest = model + strlen(PREFIX);
	name = *rest ? rest + 1 : c->default_policy;
	if (!strncmp(name, "rules", 5) && !name[5]) {
		*pol = POLICY_RULES;
	} else if (!strncmp(name, "cascade", 7) && !name[7]) {
		*pol = POLICY_CASCADE;
	} else if (!strncmp(name, "tier:", 5)) {
		*pol = POLICY_TIER;
		if ((*tier = router_tier_find(c, name + 5)) < 0)
			return err_set(err, errlen, "no tier named '%s'", name + 5);
	} else if (!strncmp(name, "learned", 7) && (!name[7] || name[7] == ':')) {
		*pol = POLICY_LEARNED;
		if (!lr)
			return err_set(err, errlen, "no learned router is configured (\"learned\": {\"router\": FILE})");
		*threshold = isfinite(c->learned_threshold) ? c->learned_threshold : lr->threshold;
		if (name[7] == ':') {
			const char *spec = name + 8;
			char *end;
			if (!strncmp(spec, "share=", 6) || !strncmp(spec, "acc=", 4))
				return threshold_target(lr, spec, threshold, err, errlen);
			*threshold = strtod(spec, &end);
			if (end == spec || *end || !(*threshold >= 0 && *threshold <= 1))
				return err_set(err, errlen, "'%s': the threshold is a probability 0..1, share=X or acc=X",
					       model);
		}
	} else {
		return err_set(err, errlen, "unknown policy '%s' (rules, learned[:P|:share=X|:acc=X], cascade, "
			       "tier:NAME)", name);
	}
	return 0;
}

static int first_of(const struct router_config *c, int cloud)
{
	for (int i = 0; i < c->nfallback; i++)
		if (c->tiers[c->fallback[i]].cloud == cloud)
			return c->fallback[i];
	for (int i = 0; i < c->ntiers; i++)
		if (c->tiers[i].cloud == cloud)
			return i;
	return -1;
}

/*
 * Learned: the cheapest local tier whose predicted correctness clears the
 * threshold, else the cloud. Cheapest by J/token (the config's, else the
 * training run's), or with learned.by = cost by price (input + output USD per
 * 1M tokens; ties: the order given to train).
 */
static void decide_learned(const struct router_config *c, const struct learn_router *lr,
			   const struct router_request_info *ri, struct router_decision *d, int *first)
{
	int best = -1;
	double best_j = INFINITY, best_p = NAN, first_p = NAN;
	for (size_t k = 0; k < lr->nmodels; k++) {
		const struct learn_model *m = &lr->models[k];
		int t = -1;
		double p, j;
		for (int i = 0; i < c->ntiers && t < 0; i++)
			if (!c->tiers[i].cloud && (!strcmp(c->tiers[i].model, m->tier_model) ||
						    (c->tiers[i].profile_run && !strcmp(c->tiers[i].profile_run, m->run_id))))
				t = i;
		if (t < 0)
			continue;
		p = learn_predict(m, ri->text);
		if (isnan(first_p))
			first_p = p;
		if (c->learned_by_cost) {
			j = c->tiers[t].price_in + c->tiers[t].price_out;
		} else {
			j = isfinite(c->tiers[t].j_per_token) ? c->tiers[t].j_per_token : m->j_per_token;
			if (!isfinite(j))
				j = (double)k; /* unknown energy: the order given to train */
		}
		if (p >= d->threshold && j < best_j) {
			best = t;
			best_j = j;
			best_p = p;
		}
	}
	if (best >= 0) {
		*first = best;
		d->predicted = best_p;
		snprintf(d->reason, sizeof(d->reason), "learned: p=%.3f >= %.3f at %s%s", best_p, d->threshold,
			 c->tiers[best].name, c->learned_by_cost ? " (cheapest by price)" : "");
	} else {
		*first = first_of(c, 1);
		d->predicted = first_p;
		snprintf(d->reason, sizeof(d->reason), "learned: p=%.3f < %.3f", first_p, d->threshold);
	}
}

static void push(struct router_decision *d, int t)
{
	if (t < 0)
		return;
	for (int i = 0; i < d->n; i++)
		if (d->order[i] == t)
			return;
	d->order[d->n++] = t;
}

/* Why tier t may not serve ri (NULL: it may). */
static const char *forbidden(const struct router_config *c, const struct router_tier_live *live, int t,
			     const struct router_request_info *ri)
{
	const struct router_tier_live *l = &live[t];
	if (c->tiers[t].cloud && ri->local_only)
		return "local-only";
	if (c->tiers[t].cloud && ri->over_budget)
		return "budget";
	if (isfinite(ri->max_ttft_s) && isfinite(l->ttft_ewma_s) && l->ttft_ewma_s * (1 + l->inflight) > ri->max_ttft_s)
		return "latency";
	if (isfinite(ri->max_e2e_s) && isfinite(l->e2e_ewma_s) && l->e2e_ewma_s * (1 + l->inflight) > ri->max_e2e_s)
		return "latency";
	return NULL;
}

int router_decide(const struct router_config *c, const struct learn_router *lr,
		  const struct router_tier_live *live, const struct router_request_info *ri, struct router_decision *d,
		  char *err, size_t errlen)
{
	int first = -1;
	struct router_decision all;
	char skipped[128] = "";
	size_t sl = 0;

	d->n = 0;
	d->predicted = NAN;
	d->reason[0] = 0;
	d->first_skipped[0] = 0;
	if (d->policy != POLICY_LEARNED)
		d->threshold = NAN;
	switch (d->policy) {
	case POLICY_TIER:
		first = d->tier;
		snprintf(d->reason, sizeof(d->reason), "tier %s by name", c->tiers[first].name);
		break;
	case POLICY_RULES:
		if (ri->tier_header && router_tier_find(c, ri->tier_header) >= 0) {
			first = router_tier_find(c, ri->tier_header);
			snprintf(d->reason, sizeof(d->reason), "rules: header x-ipw-tier");
		} else if (c->rules.long_prompt_chars > 0 && (long long)ri->prompt_chars > c->rules.long_prompt_chars) {
			first = c->rules.long_tier;
			snprintf(d->reason, sizeof(d->reason), "rules: prompt %zu > %lld chars", ri->prompt_chars,
				 c->rules.long_prompt_chars);
		} else {
			first = c->rules.default_tier;
			snprintf(d->reason, sizeof(d->reason), "rules: default");
		}
		break;
	case POLICY_LEARNED:
		decide_learned(c, lr, ri, d, &first);
		break;
	case POLICY_CASCADE:
		first = first_of(c, 0);
		snprintf(d->reason, sizeof(d->reason), "cascade: local first");
		break;
	}
	all = *d;
	all.n = 0;
	push(&all, first);
	if (d->policy == POLICY_CASCADE)
		push(&all, first_of(c, 1));
	for (int i = 0; i < c->nfallback; i++)
		push(&all, c->fallback[i]);
	for (int i = 0; i < all.n; i++) {
		const char *why = forbidden(c, live, all.order[i], ri);
		if (!why) {
			d->order[d->n++] = all.order[i];
			continue;
		}
		if (i == 0)
			snprintf(d->first_skipped, sizeof(d->first_skipped), "%s", why);
		if (sl < sizeof(skipped) - 1)
			sl += (size_t)snprintf(skipped + sl, sizeof(skipped) - sl, "%s%s: %s", sl ? ", " : "",
					       c->tiers[all.order[i]].name, why);
	}
	if (skipped[0]) {
		size_t rl = strlen(d->reason);
		snprintf(d->reason + rl, sizeof(d->reason) - rl, "; skipped %s", skipped);
	}
	if (d->n == 0)
		return err_set(err, errlen, "no tier may serve this request (%s)", skipped);
	return 0;
}

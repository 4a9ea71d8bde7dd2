/*
 * router/config.c - reads the router's JSON configuration (docs/router.md
 * "Configuration"): tiers, fallback order, policies, limits. Every error names
 * the file and the field.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "router/router.h"
#include "util.h"

int router_tier_find(const struct router_config *c, const char *name)
{
	for (int i = 0; name && i < c->ntiers; i++)
		if (!strcmp(c->tiers[i].name, name))
			return i;
	return -1;
}

static char *opt_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

/* A number field: *out = its value, or dflt when absent; -1 when present and not a number. */
static int opt_num(json_t *o, const char *key, double dflt, double *out)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) ? 0 : -1;
}

static int tier_load(struct router_tier *t, json_t *o, int i, const char *path, char *err, size_t errlen)
{
	json_t *price = json_object_get(o, "price");
	double cloud = 0;
	if (!json_is_object(o))
		return err_set(err, errlen, "%s: tiers[%d] is not an object", path, i);
	t->name = opt_str(o, "name");
	t->url = opt_str(o, "url");
	t->model = opt_str(o, "model");
	t->key_env = opt_str(o, "api_key_env");
	t->profile_run = opt_str(o, "profile_run");
	if (!t->name || !t->url || !t->model)
		return err_set(err, errlen, "%s: tiers[%d] needs \"name\", \"url\" and \"model\" (strings)", path, i);
	for (const unsigned char *p = (const unsigned char *)t->name; *p || p == (const unsigned char *)t->name; p++)
		if (*p < 0x20 || *p == 0x7f) /* it goes into headers and metric labels */
			return err_set(err, errlen, "%s: tiers[%d].name must be non-empty, without control characters", path, i);
	if (json_object_get(o, "cloud") && !json_is_boolean(json_object_get(o, "cloud")))
		return err_set(err, errlen, "%s: tiers[%d].cloud must be true or false", path, i);
	cloud = json_is_true(json_object_get(o, "cloud"));
	t->cloud = cloud != 0;
	t->price_in = t->price_out = 0;
	if (price && (!json_is_object(price) || opt_num(price, "input", 0, &t->price_in) < 0 ||
		      opt_num(price, "output", 0, &t->price_out) < 0 || t->price_in < 0 || t->price_out < 0))
		return err_set(err, errlen, "%s: tiers[%d].price must be {\"input\": USD per 1M, \"output\": USD per 1M}",
			       path, i);
	if (opt_num(o, "joules_per_token", NAN, &t->j_per_token) < 0)
		return err_set(err, errlen, "%s: tiers[%d].joules_per_token must be a number", path, i);
	if (json_object_get(o, "measured") && !json_is_boolean(json_object_get(o, "measured")))
		return err_set(err, errlen, "%s: tiers[%d].measured must be true or false", path, i);
	t->measured = json_is_true(json_object_get(o, "measured"));
	if (t->measured && t->cloud)
		return err_set(err, errlen, "%s: tiers[%d] is a cloud tier: the router's telemetry cannot measure it "
			       "(\"measured\" is for local tiers on the router's machine)", path, i);
	if (opt_num(o, "timeout_s", 600, &t->timeout_s) < 0 || t->timeout_s <= 0)
		return err_set(err, errlen, "%s: tiers[%d].timeout_s must be a positive number", path, i);
	if (strncmp(t->url, "http://", 7) && strncmp(t->url, "https://", 8))
		return err_set(err, errlen, "%s: tiers[%d].url must start with http:// or https://", path, i);
	return 0;
}

static int tier_ref(const struct router_config *c, json_t *o, const char *key, int dflt, int *out, const char *path,
		    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_string(v) || (*out = router_tier_find(c, json_string_value(v))) < 0)
		return err_set(err, errlen, "%s: %s names no tier", path, key);
	return 0;
}

static int rules_load(struct router_config *c, json_t *o, const char *path, char *err, size_t errlen)
{
	double lp = 0;
	int first_local = 0;
	for (int i = 0; i < c->ntiers; i++)
		if (!c->tiers[i].cloud) {
			first_local = i;
			break;
		}
	if (o && !json_is_object(o))
		return err_set(err, errlen, "%s: \"rules\" must be an object", path);
	if (opt_num(o, "long_prompt_chars", 0, &lp) < 0 || lp < 0)
		return err_set(err, errlen, "%s: rules.long_prompt_chars must be a count", path);
	c->rules.long_prompt_chars = (long long)lp;
	if (tier_ref(c, o, "long_tier", -1, &c->rules.long_tier, path, err, errlen) < 0 ||
	    tier_ref(c, o, "default_tier", first_local, &c->rules.default_tier, path, err, errlen) < 0)
		return -1;
	if (c->rules.long_prompt_chars > 0 && c->rules.long_tier < 0)
		return err_set(err, errlen, "%s: rules.long_prompt_chars needs rules.long_tier", path);
	c->rules.aliases = json_object_get(o, "aliases");
	if (c->rules.aliases) {
		const char *k;
		json_t *v;
		if (!json_is_object(c->rules.aliases))
			return err_set(err, errlen, "%s: rules.aliases must be {\"alias\": \"tier\"}", path);
		json_object_foreach(c->rules.aliases, k, v)
			if (!json_is_string(v) || router_tier_find(c, json_string_value(v)) < 0)
				return err_set(err, errlen, "%s: rules.aliases.%s names no tier", path, k);
		json_incref(c->rules.aliases);
	}
	return 0;
}

static int fallback_load(struct router_config *c, json_t *fb, const char *path, char *err, size_t errlen)
{
	size_t i;
	json_t *v;
	c->nfallback = 0;
	if (!fb) { /* locals in order, then clouds */
		for (int k = 0; k < 2; k++)
			for (int t = 0; t < c->ntiers; t++)
				if (c->tiers[t].cloud == k)
					c->fallback[c->nfallback++] = t;
		return 0;
	}
	if (!json_is_array(fb))
		return err_set(err, errlen, "%s: \"fallback\" must be a list of tier names", path);
	json_array_foreach(fb, i, v) {
		int t = json_is_string(v) ? router_tier_find(c, json_string_value(v)) : -1;
		if (t < 0 || c->nfallback >= ROUTER_MAX_TIERS)
			return err_set(err, errlen, "%s: fallback[%zu] names no tier", path, i);
		c->fallback[c->nfallback++] = t;
	}
	return 0;
}

static int misc_load(struct router_config *c, json_t *root, const char *path, char *err, size_t errlen)
{
	json_t *learned = json_object_get(root, "learned"), *budget = json_object_get(root, "budget");
	json_t *cascade = json_object_get(root, "cascade");
	double v;
	if (opt_num(root, "port", 0, &v) < 0 || v < 0 || v > 65535)
		return err_set(err, errlen, "%s: \"port\" must be 0..65535", path);
	c->port = (int)v;
	if (opt_num(root, "retries", 1, &v) < 0 || v < 0 || v > 10)
		return err_set(err, errlen, "%s: \"retries\" must be 0..10", path);
	c->retries = (int)v;
	if (opt_num(root, "max_body_bytes", 1 << 20, &v) < 0 || v < 64)
		return err_set(err, errlen, "%s: \"max_body_bytes\" must be at least 64", path);
	c->max_body = (long long)v;
	{
		json_t *priv = json_object_get(root, "privacy");
		if ((priv && !json_is_object(priv)) || opt_num(priv, "max_sessions", 65536, &v) < 0 || v < 1 ||
		    v > 1e7)
			return err_set(err, errlen, "%s: \"privacy\" must be {\"max_sessions\": 1..10000000}", path);
		c->max_private_sessions = (int)v;
	}
	c->host = opt_str(root, "host");
	c->tokens_env = opt_str(root, "client_tokens_env");
	c->store = opt_str(root, "store");
	c->default_policy = opt_str(root, "policy");
	if (!c->default_policy)
		c->default_policy = xstrdup("rules");
	if (strcmp(c->default_policy, "rules") && strcmp(c->default_policy, "learned") &&
	    strcmp(c->default_policy, "cascade"))
		return err_set(err, errlen, "%s: \"policy\" must be rules, learned or cascade", path);
	if (learned) {
		c->learned_path = opt_str(learned, "router");
		const char *by = json_string_value(json_object_get(learned, "by"));
		if (!c->learned_path || opt_num(learned, "threshold", NAN, &c->learned_threshold) < 0 ||
		    (isfinite(c->learned_threshold) && (c->learned_threshold < 0 || c->learned_threshold > 1)))
			return err_set(err, errlen, "%s: \"learned\" must be {\"router\": FILE, \"threshold\": P (0..1), "
				       "\"by\": energy|cost}", path);
		if (json_object_get(learned, "by") && (!by || (strcmp(by, "energy") && strcmp(by, "cost"))))
			return err_set(err, errlen, "%s: learned.by must be \"energy\" or \"cost\"", path);
		c->learned_by_cost = by && !strcmp(by, "cost");
	} else if (!strcmp(c->default_policy, "learned")) {
		return err_set(err, errlen, "%s: policy learned needs \"learned\": {\"router\": FILE}", path);
	}
	if (budget && (opt_num(budget, "usd", 0, &c->budget.usd) < 0 ||
		       opt_num(budget, "window_s", 3600, &c->budget.window_s) < 0 || c->budget.window_s <= 0))
		return err_set(err, errlen, "%s: \"budget\" must be {\"usd\": X, \"window_s\": S, \"over\": local|refuse}",
			       path);
	if (budget && !json_is_object(budget))
		return err_set(err, errlen, "%s: \"budget\" must be {\"usd\": X, \"window_s\": S, \"over\": local|refuse}",
			       path);
	if (c->budget.usd < 0)
		return err_set(err, errlen, "%s: budget.usd must be >= 0 (0: no budget)", path);
	{
		json_t *over = json_object_get(budget, "over");
		const char *ov = json_string_value(over);
		if (over && (!ov || (strcmp(ov, "local") && strcmp(ov, "refuse"))))
			return err_set(err, errlen, "%s: budget.over must be \"local\" or \"refuse\"", path);
		c->budget.refuse = ov && !strcmp(ov, "refuse");
	}
	if (opt_num(budget, "max_clients", 4096, &v) < 0 || v < 1 || v > 1e6)
		return err_set(err, errlen, "%s: budget.max_clients must be 1..1000000", path);
	c->budget.max_clients = (int)v;
	if (opt_num(cascade, "min_chars", 1, &v) < 0)
		return err_set(err, errlen, "%s: cascade.min_chars must be a count", path);
	c->cascade_min_chars = (int)v;
	if (json_object_get(cascade, "pattern") && !json_is_string(json_object_get(cascade, "pattern")))
		return err_set(err, errlen, "%s: cascade.pattern must be a string (a PCRE2 pattern)", path);
	c->cascade_pattern = opt_str(cascade, "pattern");
	if (c->cascade_pattern) {
		int ec;
		PCRE2_SIZE eo;
		PCRE2_UCHAR msg[160];
		c->cascade_re = pcre2_compile((PCRE2_SPTR)c->cascade_pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		if (!c->cascade_re) {
			pcre2_get_error_message(ec, msg, sizeof(msg));
			return err_set(err, errlen, "%s: cascade.pattern is not a valid PCRE2 pattern: %s at offset %zu", path,
				       (const char *)msg, (size_t)eo);
		}
	}
	if (opt_num(cascade, "logprob_min", NAN, &c->cascade_logprob_min) < 0 || c->cascade_logprob_min > 0)
		return err_set(err, errlen, "%s: cascade.logprob_min must be a log-probability in nats (<= 0)", path);
	{
		const char *st = json_string_value(json_object_get(cascade, "logprob_stat"));
		if (json_object_get(cascade, "logprob_stat") && (!st || (strcmp(st, "mean") && strcmp(st, "min"))))
			return err_set(err, errlen, "%s: cascade.logprob_stat must be \"mean\" or \"min\"", path);
		c->cascade_logprob_use_min = st && !strcmp(st, "min");
	}
	return 0;
}

int router_config_load(struct router_config *c, const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *tiers;
	int rc = -1;
	size_t i;
	json_t *t;

	memset(c, 0, sizeof(*c));
	root = json_load_file(path, 0, &je);
	if (!root)
		return err_set(err, errlen, "%s:%d: %s", path, je.line, je.text);
	tiers = json_object_get(root, "tiers");
	if (!json_is_array(tiers) || json_array_size(tiers) == 0 || json_array_size(tiers) > ROUTER_MAX_TIERS) {
		err_set(err, errlen, "%s: \"tiers\" must be a list of 1..%d tiers", path, ROUTER_MAX_TIERS);
		goto out;
	}
	json_array_foreach(tiers, i, t) {
		c->ntiers = (int)i + 1;
		if (tier_load(&c->tiers[i], t, (int)i, path, err, errlen) < 0)
			goto out;
		if (router_tier_find(c, c->tiers[i].name) != (int)i) {
			err_set(err, errlen, "%s: two tiers are named '%s'", path, c->tiers[i].name);
			goto out;
		}
	}
	if (rules_load(c, json_object_get(root, "rules"), path, err, errlen) < 0 ||
	    fallback_load(c, json_object_get(root, "fallback"), path, err, errlen) < 0 ||
	    misc_load(c, root, path, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		router_config_release(c);
	return rc;
}

void router_config_release(struct router_config *c)
{
	for (int i = 0; i < c->ntiers; i++) {
		struct router_tier *t = &c->tiers[i];
		free(t->name);
		free(t->url);
		free(t->model);
		free(t->key_env);
		free(t->profile_run);
	}
	json_decref(c->rules.aliases);
	free(c->host);
	free(c->default_policy);
	free(c->learned_path);
	free(c->tokens_env);
	free(c->store);
	free(c->cascade_pattern);
	pcre2_code_free(c->cascade_re);
	memset(c, 0, sizeof(*c));
}
